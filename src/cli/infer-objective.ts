// `mesa infer-objective RUN [--distribution deploy] [--levels 200] [--seed N] [--greedy] [--json]`: which of the
// environment's candidate objectives best explains what a trained policy (any model) does? Draws levels where
// the candidates imply different actions, runs the policy, and scores its actions as Boltzmann-rational under
// each candidate (src/interp/objective-inference.ts): posterior with bootstrap 95% intervals, fitted inverse
// temperature, and which candidate's goal the agent reaches first. The same inference on the env's scripted
// intended and proxy policies, its observation-only intended policy and a uniformly random policy is printed
// beside it, so a reader sees what a known answer and no answer look like.
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import type { AnyEnvDefinition, VecEnv } from "../envs/engine.js";
import { getEnvDefinition, paramsOn } from "../envs/make.js";
import type { EnvObjectives } from "../envs/objectives.js";
import { environments } from "../envs/registry.js";
import { scriptedActionSource } from "../envs/scripted.js";
import { type BehaviouralInference, type BehaviouralInferenceOptions, envObjectives, inferFromBehaviour } from "../interp/objective-report.js";
import { policyActions } from "../rl/evaluate.js";
import { loadRunPolicy } from "../rl/run.js";
import { MAX_LEVELS_AT_ONCE, parseCount, parseSeed } from "./args.js";
import { EVAL_SEED_OFFSET } from "./eval.js";
import { formatNumber, formatTable, printJson } from "./output.js";

type Act = (env: VecEnv, actions: Int32Array) => void;

/** The documented JSON of one inference: posterior (candidate → probability and CI), top, β, revealed preferences. */
export function inferenceJson(r: BehaviouralInference): Record<string, unknown> {
  const posterior: Record<string, { probability: number; ci95: [number, number]; top_frequency: number; beta: number; gain_per_action: number }> = {};
  for (const c of r.candidates) posterior[c.name] = { probability: c.probability, ci95: c.ci95, top_frequency: c.topFrequency, beta: c.beta, gain_per_action: c.gainPerAction };
  const firstReached: Record<string, { rate: number; ci95: [number, number] }> = {};
  for (const [k, e] of Object.entries(r.revealed.firstReached)) firstReached[k] = { rate: e.value, ci95: e.ci95 };
  return {
    top: r.top,
    posterior,
    first_reached: firstReached,
    reached_none: { rate: r.revealed.none.value, ci95: r.revealed.none.ci95 },
    episodes: r.episodes,
    actions: r.actions,
    levels_used: r.levels_used,
    episodes_used: r.episodes_used,
    levels_drawn: r.levels_drawn,
  };
}

/** The agent's inference with the scripted and random baselines beside it. */
export function inferWithBaselines(
  def: AnyEnvDefinition,
  objectives: EnvObjectives,
  agent: Act,
  options: BehaviouralInferenceOptions,
  agentDeterministic = false,
): { agent: BehaviouralInference; baselines: Record<string, BehaviouralInference> } {
  const baselines: Record<string, BehaviouralInference> = {};
  if (def.policies) {
    baselines["scripted intended"] = inferFromBehaviour(def, objectives, scriptedActionSource("intended"), options);
    baselines["scripted proxy"] = inferFromBehaviour(def, objectives, scriptedActionSource("proxy"), options);
    baselines["observation-only"] = inferFromBehaviour(def, objectives, scriptedActionSource("observation-only"), options);
  }
  baselines["random"] = inferFromBehaviour(def, objectives, scriptedActionSource("random", options.seed), options);
  // a greedy agent's repeated (state, action) pairs count once (InferenceOptions.deterministic); the baselines are read as always
  return { agent: inferFromBehaviour(def, objectives, agent, { ...options, deterministic: agentDeterministic }), baselines };
}

interface InferOptions {
  distribution?: string;
  levels: string;
  seed?: string;
  greedy?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("infer-objective")
    .description("infer which candidate objective best explains a trained policy's behaviour (any model), with baselines")
    .argument("<run_dir>", "run directory written by mesa train")
    .option("--distribution <name>", "where to draw disambiguating levels (default: deploy)")
    .option("--levels <n>", `disambiguating levels (one episode each), 1 … ${MAX_LEVELS_AT_ONCE}`, "200")
    .option("--seed <n>", `level seed (default: the run's seed + ${EVAL_SEED_OFFSET})`)
    .option("--greedy", "take the policy's most likely action instead of sampling (each state and action then counts once per episode: a repeat of a deterministic choice is not new evidence)")
    .option("--json", "print one JSON object")
    .action((runDir: string, opts: InferOptions) => {
      // every flag before any level is stepped
      const levels = parseCount(opts.levels, "--levels", { max: MAX_LEVELS_AT_ONCE, example: "200" });
      const explicitSeed = opts.seed !== undefined ? parseSeed(opts.seed) : undefined;
      const { config, policy, step } = loadRunPolicy(runDir);
      const def = getEnvDefinition(config.env);
      const objectives = envObjectives(def, environments);
      const distribution = opts.distribution ?? ("deploy" in def.distributions ? "deploy" : config.distribution);
      if (!(distribution in def.distributions)) throw new UsageError(`${config.env} has no distribution "${distribution}" (--distribution)`, `choose one of: ${Object.keys(def.distributions).join(", ")}`);
      const seed = explicitSeed ?? config.ppo.seed + EVAL_SEED_OFFSET;
      const options = { distribution, params: paramsOn(def, distribution, config.distribution, config.envParams), levels, seed };
      const { agent, baselines } = inferWithBaselines(def, objectives, policyActions(policy, new Rng(seed, "infer-objective/actions"), opts.greedy ?? false), options, opts.greedy ?? false);
      if (opts.json) {
        const b: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(baselines)) b[k] = inferenceJson(v);
        printJson({ ...inferenceJson(agent), run_dir: runDir, checkpoint_step: step, env: config.env, distribution, seed, baselines: b });
        return;
      }
      const columns: [string, BehaviouralInference][] = [["agent", agent], ...Object.entries(baselines)];
      const rows: (string | number)[][] = [];
      for (const c of objectives.candidates) {
        rows.push([`P(${c.name}) [95% CI]`, ...columns.map(([, r]) => {
          const p = r.candidates.find((x) => x.name === c.name)!;
          return `${formatNumber(p.probability)} [${formatNumber(p.ci95[0])}, ${formatNumber(p.ci95[1])}]`;
        })]);
      }
      for (const c of objectives.candidates) rows.push([`fitted β (${c.name})`, ...columns.map(([, r]) => formatNumber(r.candidates.find((x) => x.name === c.name)!.beta))]);
      for (const c of objectives.candidates) rows.push([`reached ${c.name} first`, ...columns.map(([, r]) => formatNumber(r.revealed.firstReached[c.name]!.value))]);
      rows.push(["reached no candidate's goal", ...columns.map(([, r]) => formatNumber(r.revealed.none.value))]);
      rows.push(["most probable", ...columns.map(([, r]) => r.top)]);
      process.stdout.write(`${formatTable([`${config.env} / ${distribution}: ${agent.levels_used} disambiguating levels`, ...columns.map(([k]) => k)], rows)}\n`);
      const best = agent.candidates.find((c) => c.name === agent.top)!;
      const gainNote = best.gainPerAction < 0.05 ? " — but it explains the actions barely better than chance (fitted β near 0), so no candidate fits" : "";
      process.stdout.write(`The agent's behaviour is best explained by "${agent.top}" (posterior ${formatNumber(best.probability)}, 95% CI [${formatNumber(best.ci95[0])}, ${formatNumber(best.ci95[1])}])${gainNote}.\n`);
    });
}
