// The `mesa` command line: builds the program from the command registry and turns typed errors into a
// message, a hint and an exit code (2 usage, 1 failure) — a stack trace only with --debug.
import { readFileSync } from "node:fs";
import { Command, CommanderError, type Option } from "commander";
import { MesaError } from "../core/errors.js";
import { commands } from "./commands.js";

export function packageVersion(): string {
  // built: dist/src/cli/main.js; from source (tests run the CLI in-process): src/cli/main.ts
  for (const up of ["../../../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), "utf8")) as { name?: string; version: string };
      if (pkg.name === "mesa-lab") return pkg.version;
    } catch {
      // not at this level
    }
  }
  return "unknown";
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("mesa")
    .description("Mesa Lab: a laboratory for learned optimization — environments where objectives come apart, base optimizers, mesa-optimizers and the tools to detect them")
    .version(packageVersion(), "-V, --version", "print the version")
    .option("--debug", "print stack traces of errors")
    .showSuggestionAfterError(true)
    .configureHelp({ optionDescription: describeOption })
    .exitOverride();
  for (const register of commands) register(program);
  for (const sub of program.commands) sub.exitOverride();
  return program;
}

/**
 * One way to show defaults in every command's help: "(default: 1e6)", never commander's JSON-quoted
 * `(default: "1e6")`. Options whose default depends on other flags say so in their description in the same form.
 */
export function describeOption(option: Option): string {
  const shown = option.defaultValue !== undefined && (option.required || option.optional) && !(Array.isArray(option.defaultValue) && option.defaultValue.length === 0);
  if (!shown) return option.description;
  const value = option.defaultValueDescription ?? (typeof option.defaultValue === "string" ? option.defaultValue : JSON.stringify(option.defaultValue));
  return `${option.description} (default: ${value})`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const debug = argv.includes("--debug");
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (err) {
    return reportError(err, debug);
  }
}

function reportError(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    // commander already printed its message (help, version, or a usage error)
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
    process.stderr.write("hint: run `mesa --help` or `mesa <command> --help` for usage\n");
    return 2;
  }
  if (err instanceof MesaError) {
    process.stderr.write(`error: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`error: ${e.message}\n`);
  process.stderr.write(debug && e.stack ? `${e.stack}\n` : "hint: this is unexpected; rerun with --debug for a stack trace and report it\n");
  return 1;
}
