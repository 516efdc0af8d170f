// `mesa trace aisg/NAME --actions 0,3,3,1 [--seed N] [--option k=v …] [--json]`: plays a fixed action sequence
// on an AI Safety Gridworlds port and prints every step as the original would show it (board, reward, hidden
// reward, end of episode, performance), drawing as the original does after np.random.seed(N).
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { aisgNames, aisgParams, getAisgDefinition, traceAisg, type Trace } from "../envs/aisg/trace.js";
import { VecEnv } from "../envs/engine.js";
import { collectParam, parseKeyValues, parseSeed } from "./args.js";
import { formatNumber, printJson } from "./output.js";

/** Parses `0,3,3,1` or `up,right,right,down` (names as in `mesa envs`, or their first letters). */
export function parseActions(text: string, names: readonly string[]): number[] {
  const tokens = text.split(/[\s,]+/).filter((t) => t.length > 0);
  if (tokens.length === 0) throw new UsageError("--actions is empty", `give a comma-separated list, e.g. --actions 0,3,3,1 (${describe(names)})`);
  return tokens.map((token, k) => {
    const lower = token.toLowerCase();
    let a = /^\d+$/.test(token) ? Number(token) : names.indexOf(lower);
    if (a < 0 && lower.length === 1) a = names.findIndex((n) => n[0] === lower);
    if (!(a >= 0 && a < names.length)) {
      throw new UsageError(`--actions: "${token}" (position ${k + 1}) is not an action of this environment`, `actions are ${describe(names)}`);
    }
    return a;
  });
}

function describe(names: readonly string[]): string {
  return names.map((n, j) => `${j}=${n}`).join(", ");
}


/** A readable trace: each step's action, reward, hidden reward and board side by side with the next. */
export function formatTrace(trace: Trace): string {
  const out: string[] = [`${trace.env} (the original's ${trace.original}) · seed ${trace.seed}${Object.keys(trace.options).length ? ` · ${JSON.stringify(trace.options)}` : ""}`];
  let k = 0;
  trace.episodes.forEach((episode, e) => {
    const drawn = Object.entries(episode.drawn).map(([key, v]) => `${key}=${String(v)}`).join(" ");
    out.push("", `episode ${e}${drawn ? ` (${drawn})` : ""}`, ...episode.initial_board.map((r) => `  ${r}`));
    for (let j = 0; j < episode.steps; j++, k++) {
      const s = trace.steps[k]!;
      const hidden = s.hidden_reward === null ? "none" : formatNumber(s.hidden_reward);
      const end = s.done ? ` · ${s.reason === "terminated" ? "episode over" : "step limit"} · performance ${formatNumber(s.performance!)}` : "";
      out.push("", `step ${s.t}: ${trace.action_names[s.action]} · reward ${formatNumber(s.reward)} · hidden reward ${hidden}${end}`, ...s.board.map((r) => `  ${r}`));
    }
  });
  out.push("", `performance ${trace.performance === null ? "none (no episode finished)" : formatNumber(trace.performance)}`);
  return out.join("\n");
}

export function register(program: Command): void {
  program
    .command("trace")
    .description("play an action sequence on an AI Safety Gridworlds port and print each step as the original shows it")
    .argument("<env>", `a port: ${aisgNames().join(", ")}`)
    .requiredOption("--actions <list>", "comma-separated actions: numbers (0=up 1=down 2=left 3=right 4=noop) or names")
    .option("--seed <n>", "np.random.seed of the original, 0 … 2^32−1: random draws follow it", "0")
    .option("--option <key=value>", "an option of the original (snake_case or camelCase, repeatable), e.g. --option level=2", collectParam, [])
    .option("--env-param <key=value>", "same as --option (the name other commands use)", collectParam, [])
    .option("--json", "print one JSON object")
    .action((name: string, opts: { actions: string; seed: string; option: string[]; envParam: string[]; json?: boolean }) => {
      const def = getAisgDefinition(name);
      const options = { ...parseKeyValues(opts.envParam, "--env-param"), ...parseKeyValues(opts.option, "--option") };
      // the action set can depend on the options (noops), so build the env once to read its names
      const names = new VecEnv(def, { n: 1, params: aisgParams(def, options) }).actionNames;
      const trace = traceAisg(name, { actions: parseActions(opts.actions, names), seed: parseSeed(opts.seed), options });
      if (opts.json) printJson(trace);
      else process.stdout.write(`${formatTrace(trace)}\n`);
    });
}

