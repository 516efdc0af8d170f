// `mesa train --env coin-run --distribution train --steps 1e6 --seed 1 [--model mlp] [--out runs] [--resume RUN_DIR]`:
// trains a PPO agent into a run directory, with a progress bar (steps, SPS, return, intended return, ETA) on stderr.
import type { Command } from "commander";
import { SingleBar } from "cli-progress";
import { UsageError } from "../core/errors.js";
import { checkEnvName, checkModelName, parseCount, parseKeyValues, parseSeed } from "./args.js";
import { environments } from "../envs/registry.js";
import { policyKinds } from "../nn/models/policy.js";
import type { PpoCallbacks } from "../rl/ppo.js";
import { type RunConfigInput, resumeRun, startRun } from "../rl/run.js";
import { SOLVE_BUDGETS } from "../rl/solve.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";

/** A progress bar on stderr (a line every 10% when stderr is not a terminal), as PPO callbacks. */
export function progressCallbacks(label: string): PpoCallbacks & { stop(): void } {
  const tty = process.stderr.isTTY === true;
  const bar = new SingleBar({
    stream: process.stderr,
    format: `${label} {bar} {percentage}% | {value}/{total} steps | {sps} SPS | return {ret} | intended {intended} | ETA {eta_formatted}`,
    hideCursor: true,
    etaBuffer: 20,
    barsize: 24,
  });
  let started = false;
  let nextTenth = 1;
  const fmt = (x: number | null | undefined): string => (x === null || x === undefined ? "–" : x.toFixed(3));
  return {
    onUpdate(metrics, info) {
      const payload = { sps: metrics["charts/SPS"] ?? 0, ret: fmt(metrics["charts/episodic_return"]), intended: fmt(metrics["charts/intended_return"]) };
      if (tty) {
        if (!started) {
          bar.start(info.totalTimesteps, info.globalStep, payload);
          started = true;
        }
        bar.update(info.globalStep, payload);
      } else if (info.update >= (nextTenth * info.numIterations) / 10 || info.update === info.numIterations) {
        while (info.update >= (nextTenth * info.numIterations) / 10) nextTenth++;
        log(`${label} ${info.globalStep}/${info.totalTimesteps} steps | ${payload.sps} SPS | return ${payload.ret} | intended ${payload.intended}`);
      }
      // let the terminal redraw between updates
      return new Promise((resolve) => setImmediate(resolve));
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

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
  envParam: string[];
  modelParam: string[];
  out: string;
  resume?: string;
  cleanrlDefaults?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("train")
    .description("train a PPO agent on an environment's level distribution, into a run directory")
    .option("--env <name>", `environment (${Object.keys(environments).join(", ")})`, "coin-run")
    .option("--distribution <name>", "level distribution to train on", "train")
    .option("--steps <n>", "total environment steps (default: the env's tuned budget, see mesa experiment solve; else 1e6)")
    .option("--seed <n>", "seed of the run", "1")
    .option("--model <kind>", `policy model (${policyKinds().map((k) => k.kind).join(", ")}; default: the env's tuned model, else mlp)`)
    .option("--hidden <sizes>", "hidden sizes, comma-separated (default: the env's tuned sizes with its tuned model, else the model's)")
    .option("--num-envs <n>", "parallel environment copies (default 64)")
    .option("--lr <x>", "learning rate (default: the env's tuned setting, else 2.5e-4)")
    .option("--ent-coef <x>", "entropy bonus coefficient (default: the env's tuned setting, else 0.01)")
    .option("--cleanrl-defaults", "start from CleanRL's PPO defaults instead of the env's tuned settings (see mesa experiment solve)")
    .option("--checkpoint-every <n>", "checkpoint every n updates (default 10)")
    .option("--env-param <key=value>", "environment parameter override (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--model-param <key=value>", "model setting, e.g. the planner's iterations=30, gamma=0.9, backup=soft (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--out <dir>", "directory the run directory is created in", "runs")
    .option("--resume <run_dir>", "continue a run from its newest checkpoint (its config.json is used)")
    .option("--json", "print one JSON object with the result")
    .action(async (opts: TrainOptions) => {
      const progress = progressCallbacks(opts.resume ? "resume" : opts.env);
      let trained;
      try {
        if (opts.resume) {
          trained = await resumeRun(opts.resume, progress);
          for (const s of trained.skipped) log(`warning: skipped a damaged checkpoint: ${s}`);
        } else {
          checkEnvName(opts.env);
          const model = opts.model ?? (opts.cleanrlDefaults ? undefined : SOLVE_BUDGETS[opts.env]?.run.model) ?? "mlp";
          checkModelName(model);
          const num = (v: string | undefined, flag: string): number | undefined => {
            if (v === undefined) return undefined;
            const x = Number(v);
            if (!Number.isFinite(x)) throw new UsageError(`${flag} must be a number, got "${v}"`);
            return x;
          };
          // Each env's tuned PPO settings (the ones `mesa experiment solve` documents and measures) are the
          // starting point, so `mesa train --env X` learns X; flags override them.
          const tuned = opts.cleanrlDefaults ? {} : (SOLVE_BUDGETS[opts.env]?.run.ppo ?? {});
          const steps = opts.steps !== undefined ? parseCount(opts.steps, "--steps") : (tuned.totalTimesteps ?? 1_000_000);
          const ppo: Record<string, unknown> = { ...tuned, totalTimesteps: steps, seed: parseSeed(opts.seed) };
          // the tuned network size goes with the tuned model (coin-run's CNN is narrower than the default one)
          const tunedRun = opts.cleanrlDefaults ? undefined : SOLVE_BUDGETS[opts.env]?.run;
          const tunedHidden = tunedRun?.hidden && tunedRun.model === model ? tunedRun.hidden : undefined;
          const extra = { numEnvs: num(opts.numEnvs, "--num-envs"), learningRate: num(opts.lr, "--lr"), entCoef: num(opts.entCoef, "--ent-coef"), checkpointEvery: num(opts.checkpointEvery, "--checkpoint-every") };
          for (const [k, v] of Object.entries(extra)) if (v !== undefined) ppo[k] = v;
          const input: RunConfigInput = {
            env: opts.env,
            distribution: opts.distribution,
            envParams: parseKeyValues(opts.envParam, "--env-param"),
            model,
            modelParams: parseKeyValues(opts.modelParam, "--model-param"),
            ...(opts.hidden ? { hidden: opts.hidden.split(",").map((s) => parseCount(s.trim(), "--hidden")) } : tunedHidden ? { hidden: [...tunedHidden] } : {}),
            ppo: ppo as RunConfigInput["ppo"],
          };
          trained = await startRun(opts.out, input, progress);
        }
      } finally {
        progress.stop();
      }
      const { run, result } = trained;
      const last = result.last;
      const summary = {
        run_dir: run.path,
        global_step: result.globalStep,
        seconds: result.seconds,
        sps: result.stepsPerSecond,
        episodic_return: last["charts/episodic_return"] ?? null,
        intended_return: last["charts/intended_return"] ?? null,
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
            ["wall-clock (s)", formatNumber(result.seconds)],
            ["steps/s", Math.round(result.stepsPerSecond)],
            ["last episodic return", last["charts/episodic_return"] ?? "–"],
            ["last intended return", last["charts/intended_return"] ?? "–"],
          ],
        )}\nnext: mesa eval ${run.path} --distribution deploy\n`,
      );
    });
}
