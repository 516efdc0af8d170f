// `mesa validate [ENV] [--distribution NAME] [--episodes N] [--env-param k=v] [--json]`: the validity harness (rl/validate.ts).
// For every environment and distribution it prints the reference policies' figures and the checks; an
// environment without reference policies is listed as not applicable. A failed check exits 1 naming the
// check, its measured value and its threshold.
import type { Command } from "commander";
import { MesaError } from "../core/errors.js";
import { getEnvDefinition } from "../envs/make.js";
import { type ValidityReport, validate } from "../rl/validate.js";
import { UsageError } from "../core/errors.js";
import { collectParam, parseCount, parseKeyValues, parseSeed } from "./args.js";
import { formatNumber, formatTable, printJson } from "./output.js";

/** A validity check failed: exit code 1, the failing checks in the message. */
export class ValidityError extends MesaError {}

interface ValidateOptions {
  distribution?: string;
  episodes: string;
  seed: string;
  envParam: string[];
  json?: boolean;
}

const ci = (c: [number, number]): string => `[${formatNumber(c[0])}, ${formatNumber(c[1])}]`;

export function register(program: Command): void {
  program
    .command("validate")
    .description("validity harness: do train levels confound intended and proxy, deploy levels separate them, and can an observation-only policy reach the intended goal?")
    .argument("[env]", "environment (default: all)")
    .option("--distribution <name>", "only this level distribution")
    .option("--episodes <n>", "episodes per policy and distribution", "1000")
    .option("--seed <n>", "level seed", "7")
    .option("--env-param <key=value>", "environment parameter for every distribution of ENV, e.g. maxCells=4 (repeatable)", collectParam, [] as string[])
    .option("--json", "print one JSON object: pass, envs.<env>.<distribution>.{pass, checks, policies}")
    .action((env: string | undefined, opts: ValidateOptions) => {
      if (env !== undefined) getEnvDefinition(env); // unknown names: ConfigError listing the valid ones
      const params = parseKeyValues(opts.envParam, "--env-param");
      if (Object.keys(params).length > 0 && env === undefined) throw new UsageError("--env-param needs one environment", "name it: mesa validate maze-cheese --env-param maxCells=4");
      const report = validate({
        ...(env !== undefined ? { envs: [env] } : {}),
        ...(opts.distribution !== undefined ? { distribution: opts.distribution } : {}),
        episodes: parseCount(opts.episodes, "--episodes"),
        seed: parseSeed(opts.seed),
        ...(Object.keys(params).length > 0 ? { params } : {}),
      });
      if (opts.json) printJson(reportJson(report));
      else process.stdout.write(formatReport(report));
      const failed = failures(report);
      if (failed.length > 0) {
        throw new ValidityError(`${failed.length} validity check${failed.length === 1 ? "" : "s"} failed:\n${failed.join("\n")}`, "the environment's effect could be an artifact of its design; see the table above");
      }
    });
}

/** `--json` shape: { pass, episodes, seed, envs: { <env>: { applicable, pass, <distribution>: {...} } } } */
export function reportJson(report: ValidityReport): Record<string, unknown> {
  const envs: Record<string, unknown> = {};
  for (const [name, e] of Object.entries(report.envs)) envs[name] = { applicable: e.applicable, pass: e.pass, ...e.distributions };
  return { pass: report.pass, episodes: report.episodes, seed: report.seed, envs };
}

function failures(report: ValidityReport): string[] {
  const out: string[] = [];
  for (const [name, e] of Object.entries(report.envs)) {
    for (const [d, v] of Object.entries(e.distributions)) {
      for (const c of v.checks) if (!c.pass) out.push(`  ${name}/${d}: check ${c.name}: measured ${formatNumber(c.measured)}, threshold ${c.comparison} ${formatNumber(c.threshold)} (${c.detail})`);
    }
  }
  return out;
}

function formatReport(report: ValidityReport): string {
  const blocks: string[] = [];
  for (const [name, e] of Object.entries(report.envs)) {
    if (!e.applicable) {
      blocks.push(`${name}: not applicable (declares no scripted intended/proxy and observation-only policies)`);
      continue;
    }
    for (const [d, v] of Object.entries(e.distributions)) {
      const head = `${name} / ${d} (${v.role ?? "no role: figures only"}) — ${v.pass ? "PASS" : "FAIL"}, ${report.episodes} episodes per policy`;
      const table = formatTable(
        ["policy", "base return (95% CI)", "intended return (95% CI)", "proxy rate (95% CI)", "intended goal (95% CI)"],
        Object.entries(v.policies).map(([k, p]) => [
          k,
          `${formatNumber(p.base_return)} ${ci(p.base_return_ci95)}`,
          `${formatNumber(p.intended_return)} ${ci(p.intended_return_ci95)}`,
          `${formatNumber(p.proxy_rate)} ${ci(p.proxy_rate_ci95)}`,
          `${formatNumber(p.intended_goal_rate)} ${ci(p.intended_goal_ci95)}`,
        ]),
      );
      const checks = v.checks.map((c) => `  ${c.pass ? "pass" : "FAIL"}  ${c.name}: ${c.detail}`).join("\n");
      blocks.push(`${head}\n${table}${checks ? `\n${checks}` : ""}`);
    }
  }
  blocks.push(report.pass ? "All validity checks passed." : "Some validity checks FAILED (listed below).");
  return `${blocks.join("\n\n")}\n`;
}
