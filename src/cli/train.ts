// `mesa train --env coin-run --distribution train --steps 1e6 --seed 1 [--model mlp] [--out runs] [--resume RUN_DIR]`:
// trains a PPO agent into a run directory, with a progress bar (steps, SPS, return, intended return, ETA) on stderr.
// Every flag is checked before anything is written; Ctrl-C stops after the current update with a checkpoint.
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import {
  RUN_FLAGS,
  checkEnvName,
  checkModelName,
  checkOutputDir,
  collectParam,
  envParamOption,
  envParams,
  givenOnCommandLine,
  parseCount,
  parseInteger,
  parseKeepCheckpoints,
  parseKeyValues,
  parseNumber,
  parseSeed,
} from "./args.js";
import { interruptedError, interruptible } from "./interrupt.js";
import { environments } from "../envs/registry.js";
import { policyKinds } from "../nn/models/policy.js";
import { RunDir } from "../io/rundir.js";
import { DEFAULT_KEEP_CHECKPOINTS, type ResumeChanges, type RunConfig, type RunConfigInput, resumeRun, runConfigSchema, startRun, validateRunConfig } from "../rl/run.js";
import { SOLVE_BUDGETS } from "../rl/solve.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";
import { progressCallbacks } from "./progress.js";

export { progressCallbacks } from "./progress.js";

interface TrainOptions {
  env: string;
  distribution: string;
  steps?: string;
  seed: string;
  model?: string;
  hidden?: string;
  numEnvs?: string;
  lr?: string;
  entCoef?: string;
  checkpointEvery?: string;
  keepCheckpoints?: string;
  envParam: string[];
  param: string[];
  modelParam: string[];
  out: string;
  resume?: string;
  cleanrlDefaults?: boolean;
  /** false with --no-curriculum */
  curriculum: boolean;
  json?: boolean;
}

/** Hidden sizes or channel widths, comma-separated: each 1..4096. */
export function parseHidden(value: string, flag = "--hidden"): number[] {
  return value.split(",").map((s) => parseInteger(s, flag, { min: 1, max: 4096, example: "64,64" }));
}

/** Flags a resume cannot change (the run keeps its config.json), with the config value each must equal. */
function unchangeableOnResume(command: Command, opts: TrainOptions, config: RunConfig): string[] {
  const differs: string[] = [];
  const check = (key: keyof TrainOptions, flag: string, same: () => boolean, current: string): void => {
    if (givenOnCommandLine(command, key) && !same()) differs.push(`${flag} (the run has ${current})`);
  };
  check("env", "--env", () => opts.env === config.env, config.env);
  check("distribution", "--distribution", () => opts.distribution === config.distribution, config.distribution);
  check("seed", "--seed", () => parseSeed(opts.seed) === config.ppo.seed, String(config.ppo.seed));
  check("model", "--model", () => opts.model === config.model, config.model);
  check("modelParam", "--model-param", () => JSON.stringify(parseKeyValues(opts.modelParam, "--model-param")) === JSON.stringify(config.modelParams), JSON.stringify(config.modelParams));
  check("hidden", "--hidden", () => parseHidden(opts.hidden!).join(",") === (config.hidden ?? []).join(","), (config.hidden ?? []).join(","));
  check("numEnvs", "--num-envs", () => parseCount(opts.numEnvs!, "--num-envs") === config.ppo.numEnvs, String(config.ppo.numEnvs));
  check("lr", "--lr", () => parseNumber(opts.lr!, "--lr") === config.ppo.learningRate, String(config.ppo.learningRate));
  check("entCoef", "--ent-coef", () => parseNumber(opts.entCoef!, "--ent-coef") === config.ppo.entCoef, String(config.ppo.entCoef));
  check("cleanrlDefaults", "--cleanrl-defaults", () => false, "its own settings");
  check("curriculum", "--no-curriculum", () => config.curriculum.length === 0, `a curriculum of ${config.curriculum.length} stage(s)`);
  check("out", "--out", () => false, "its own directory");
  const given = envParams(opts);
  for (const [k, v] of Object.entries(given)) {
    if (JSON.stringify(config.envParams[k]) !== JSON.stringify(v)) differs.push(`--env-param ${k}=${JSON.stringify(v)} (the run has ${config.envParams[k] === undefined ? "the distribution's value" : JSON.stringify(config.envParams[k])})`);
  }
  return differs;
}

export function register(program: Command): void {
  const train = program
    .command("train")
    .description("train a PPO agent on an environment's level distribution, into a run directory")
    .option("--env <name>", `environment (${Object.keys(environments).join(", ")})`, "coin-run")
    .option("--distribution <name>", "level distribution to train on", "train")
    .option("--steps <n>", "total environment steps (default: the env's tuned budget, see mesa experiment solve; else 1e6; rounded down to whole PPO updates)")
    .option("--seed <n>", "seed of the run (0 … 2^32−1)", "1")
    .option("--model <kind>", `policy model (${policyKinds().map((k) => k.kind).join(", ")}; default: the env's tuned model, else mlp)`)
    .option("--hidden <sizes>", "hidden sizes, comma-separated, each 1 … 4096 (default: the env's tuned sizes with its tuned model, else the model's)")
    .option("--num-envs <n>", "parallel environment copies (default: 64)")
    .option("--lr <x>", "learning rate (default: the env's tuned setting, else 2.5e-4)")
    .option("--ent-coef <x>", "entropy bonus coefficient (default: the env's tuned setting, else 0.01)")
    .option("--cleanrl-defaults", "start from CleanRL's PPO defaults instead of the env's tuned settings (see mesa experiment solve)")
    .option("--no-curriculum", "train on the distribution's own levels from the start, without the env's tuned curriculum (see mesa envs)")
    .option("--checkpoint-every <n>", "checkpoint every n updates, 0 for only the last (default: 10)")
    .option("--keep-checkpoints <n>", `keep the newest n checkpoints, or all (default: ${DEFAULT_KEEP_CHECKPOINTS})`);
  envParamOption(train)
    .option("--model-param <key=value>", "model setting, e.g. the planner's iterations=30, gamma=0.9, backup=soft (repeatable)", collectParam, [] as string[])
    .option("--out <dir>", "directory the run directory is created in", "runs")
    .option("--resume <run_dir>", "continue a run from its newest checkpoint with its config.json; --steps, --checkpoint-every and --keep-checkpoints may change")
    .option("--json", "print one JSON object with the result")
    .action(async (opts: TrainOptions) => {
      const trained = opts.resume ? await resume(train, opts) : await start(opts);
      if (trained === undefined) return;
      const { run, result } = trained;
      const last = result.last;
      const ran = !trained.alreadyFinished;
      const summary = {
        run_dir: run.path,
        global_step: result.globalStep,
        steps_requested: trained.requested,
        seconds: ran ? result.seconds : null,
        sps: ran ? result.stepsPerSecond : null,
        episodic_return: last["charts/episodic_return"] ?? null,
        intended_return: last["charts/intended_return"] ?? null,
        ...(opts.resume ? { resumed_from_step: trained.fromStep, already_finished: trained.alreadyFinished } : {}),
      };
      if (opts.json) {
        printJson(summary);
        return;
      }
      process.stdout.write(
        `${formatTable(
          ["", "value"],
          [
            ["run directory", run.path],
            ["env steps", result.globalStep],
            ["wall-clock (s)", ran ? formatNumber(result.seconds) : "– (nothing to train)"],
            ["steps/s", ran ? Math.round(result.stepsPerSecond) : "–"],
            ["last episodic return", last["charts/episodic_return"] ?? "–"],
            ["last intended return", last["charts/intended_return"] ?? "–"],
          ],
        )}\nnext: mesa eval ${run.path} --distribution deploy\n`,
      );
    });
}

type TrainOutcome = Awaited<ReturnType<typeof startRun>> & { requested: number; fromStep?: number; alreadyFinished?: boolean };

/** A new run: every flag and the whole config checked before the run directory is made. */
async function start(opts: TrainOptions): Promise<TrainOutcome> {
  checkEnvName(opts.env);
  const model = opts.model ?? (opts.cleanrlDefaults ? undefined : SOLVE_BUDGETS[opts.env]?.run.model) ?? "mlp";
  checkModelName(model);
  // Each env's tuned PPO settings (the ones `mesa experiment solve` documents and measures) are the
  // starting point, so `mesa train --env X` learns X; flags override them.
  const tuned = opts.cleanrlDefaults ? {} : (SOLVE_BUDGETS[opts.env]?.run.ppo ?? {});
  const steps = opts.steps !== undefined ? parseCount(opts.steps, "--steps", { example: "1e6" }) : (tuned.totalTimesteps ?? 1_000_000);
  // the tuned network size goes with the tuned model (coin-run's CNN is narrower than the default one)
  const tunedRun = opts.cleanrlDefaults ? undefined : SOLVE_BUDGETS[opts.env]?.run;
  const tunedHidden = tunedRun?.hidden && tunedRun.model === model ? tunedRun.hidden : undefined;
  const ppo: Record<string, unknown> = { ...tuned, totalTimesteps: steps, seed: parseSeed(opts.seed) };
  if (opts.numEnvs !== undefined) ppo.numEnvs = parseInteger(opts.numEnvs, "--num-envs", { min: 1, max: 65_536, example: "64" });
  if (opts.lr !== undefined) ppo.learningRate = parseNumber(opts.lr, "--lr", { min: 0, exclusiveMin: true, example: "2.5e-4" });
  if (opts.entCoef !== undefined) ppo.entCoef = parseNumber(opts.entCoef, "--ent-coef", { min: 0, example: "0.01" });
  if (opts.checkpointEvery !== undefined) ppo.checkpointEvery = parseInteger(opts.checkpointEvery, "--checkpoint-every", { min: 0, example: "10" });
  // the tuned observation settings (e.g. keys-chests' egocentric view) and curriculum go with the tuned settings
  const tunedEnvParams = tunedRun?.envParams ?? {};
  const curriculum = opts.curriculum ? (tunedRun?.curriculum ?? []) : [];
  const input: RunConfigInput = {
    env: opts.env,
    distribution: opts.distribution,
    envParams: { ...tunedEnvParams, ...envParams(opts) },
    ...(curriculum.length > 0 ? { curriculum } : {}),
    model,
    modelParams: parseKeyValues(opts.modelParam, "--model-param"),
    ...(opts.hidden ? { hidden: parseHidden(opts.hidden) } : tunedHidden ? { hidden: [...tunedHidden] } : {}),
    ...(opts.keepCheckpoints !== undefined ? { keepCheckpoints: parseKeepCheckpoints(opts.keepCheckpoints) } : {}),
    ppo: ppo as RunConfigInput["ppo"],
  };
  const runOptions = { source: "mesa train options", labels: RUN_FLAGS };
  const { stepsNote } = validateRunConfig(input, runOptions);
  checkOutputDir(opts.out);
  if (stepsNote) log(`note: ${stepsNote}`);
  const progress = progressCallbacks(opts.env);
  try {
    return await interruptible("training", async (signal, interruption) => {
      const trained = await startRun(opts.out, input, progress, { ...runOptions, signal });
      progress.stop();
      if (trained.interrupted) throw stoppedError(interruption.signal, trained.run.path, trained.result.globalStep);
      return { ...trained, requested: steps };
    });
  } finally {
    progress.stop();
  }
}

/** A resume: only the budget and checkpointing may change; any other flag that differs from the run is refused. */
async function resume(command: Command, opts: TrainOptions): Promise<TrainOutcome> {
  const path = opts.resume!;
  // read the run (no lock yet) to compare flags with its config; resumeRun takes the lock
  const config = RunDir.open(path, runConfigSchema).config as RunConfig;
  const differs = unchangeableOnResume(command, opts, config);
  if (differs.length > 0) {
    throw new UsageError(
      `${differs.length === 1 ? "this flag" : "these flags"} cannot change when resuming ${path}: ${differs.join(", ")}`,
      "a resumed run keeps its config.json; --steps, --checkpoint-every and --keep-checkpoints may change. For other settings start a new run without --resume",
    );
  }
  const changes: ResumeChanges = {};
  if (opts.steps !== undefined) changes.totalTimesteps = parseCount(opts.steps, "--steps", { example: "2e6" });
  if (opts.checkpointEvery !== undefined) changes.checkpointEvery = parseInteger(opts.checkpointEvery, "--checkpoint-every", { min: 0, example: "10" });
  if (opts.keepCheckpoints !== undefined) changes.keepCheckpoints = parseKeepCheckpoints(opts.keepCheckpoints);
  const progress = progressCallbacks("resume");
  try {
    return await interruptible("training", async (signal, interruption) => {
      const trained = await resumeRun(path, progress, { signal, changes, source: "mesa train --resume options", labels: RUN_FLAGS, onNote: (text, kind) => log(`${kind}: ${text}`) });
      progress.stop();
      if (trained.alreadyFinished) {
        log(`${path} has already trained its whole budget (${trained.result.globalStep} env steps): nothing was run and nothing in it changed. To train longer: mesa train --resume ${path} --steps <more>`);
      }
      if (trained.interrupted) throw stoppedError(interruption.signal, trained.run.path, trained.result.globalStep);
      return { ...trained, requested: changes.totalTimesteps ?? config.ppo.totalTimesteps };
    });
  } finally {
    progress.stop();
  }
}

function stoppedError(signal: "SIGINT" | "SIGTERM" | undefined, runPath: string, step: number): Error {
  return interruptedError(signal, `training stopped at env step ${step}; a checkpoint was saved and ${runPath} is marked interrupted`, `continue with: mesa train --resume ${runPath}`);
}
