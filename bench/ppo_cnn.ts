// `npm run bench -- ppo-cnn [--json] [--steps=16384] [--runs=3] [--threads=1,2] [--cases=maze-cheese:train,…]`:
// env steps per second of PPO training with the
// CNN policy (rollout + learning, the whole loop), ours vs PyTorch on the identical network, env and config, each
// side on one and two threads, several runs alternated ours/PyTorch, the headline at each side's best thread count
// (by median); beside it the same after each run's first update (`steady_*`: first calls, compilers and the shard
// worker's start excluded on both sides), which is what a long training run sees. Cases:
//   coin-run small    CleanRL's PPO defaults and the default network (16, 32, 128) on coin-run's `small` levels
//   maze-cheese train maze-cheese's default train levels with its tuned PPO settings and network
//   coin-run train    coin-run's default train levels (an 11-column window of a level up to 24 columns long) with
//                     its tuned settings and network
// The PyTorch peer (bench/peers/ppo_torch.py --model cnn) is CleanRL's loop on numpy ports of the three level
// distributions that reproduce ours level for level, step for step and observation for observation
// (test/rl/peer_env.test.ts), given the same hyperparameters from our resolved config.
import { formatNumber, formatTable, printJson } from "../src/cli/output.js";
import { ConfigError } from "../src/core/errors.js";
import { kernels } from "../src/core/kernels/index.js";
import { Rng } from "../src/core/rng.js";
import { getEnvDefinition, makeVecEnv } from "../src/envs/make.js";
import "../src/nn/models/cnn_policy.js";
import { createPolicy, defaultHidden } from "../src/nn/models/policy.js";
import { type PpoConfig, type PpoConfigInput, ppoConfig } from "../src/rl/config.js";
import { trainPPO } from "../src/rl/ppo.js";
import { convolutionsOf, median, runPeer, torchMissing } from "./peer.js";
import type { Benchmark } from "./registry.js";

interface Case {
  env: string;
  distribution: string;
}

const CASES: readonly Case[] = [
  { env: "coin-run", distribution: "small" },
  { env: "maze-cheese", distribution: "train" },
  { env: "coin-run", distribution: "train" },
];

const caseName = (c: Case): string => `${c.env} ${c.distribution}`;

/** The PPO settings and network of a case: CleanRL's defaults for `small`, the env's tuned ones for its default levels. */
function settings(c: Case, steps: number): { config: PpoConfig; hidden: number[] } {
  const training = c.distribution === "small" ? undefined : getEnvDefinition(c.env).training;
  const config = ppoConfig({ ...((training?.ppo ?? {}) as PpoConfigInput), seed: 1, totalTimesteps: steps, checkpointEvery: 0 });
  return { config, hidden: [...(training?.hidden ?? defaultHidden("cnn"))] };
}

interface Run {
  sps: number;
  /** env steps per CPU second of the process (all threads): the figure a queue for the cores does not inflate */
  cpu_sps: number;
  /**
   * env steps/s (and per CPU second) after the first update, when first calls (oneDNN's plans, V8's compiler, the
   * shard worker's start) are over: what a long training run sees; null with one update only
   */
  steady_sps: number | null;
  steady_cpu_sps: number | null;
}

async function runOurs(c: Case, steps: number): Promise<Run & { obsShape: number[] }> {
  const { config, hidden } = settings(c, steps);
  const venv = makeVecEnv(c.env, { n: config.numEnvs, distribution: c.distribution });
  const policy = createPolicy({ kind: "cnn", obsShape: venv.obsShape, numActions: venv.numActions, hidden }, new Rng(config.seed, "init"));
  const cpuSeconds = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  // wall and CPU seconds and env steps at the end of the first update and of the last one (same point as the peer's)
  let first: [number, number, number] | null = null;
  let last: [number, number, number] | null = null;
  const cpu0 = cpuSeconds();
  const r = await trainPPO(venv, policy, config, {
    onUpdate: (_metrics, { update, globalStep }) => {
      const mark: [number, number, number] = [performance.now() / 1000, cpuSeconds(), globalStep];
      if (update === 1) first = mark;
      last = mark;
    },
  });
  const cpu = cpuSeconds() - cpu0;
  // (assigned in the callback, which the compiler's flow analysis does not follow)
  const [f, l] = [first as [number, number, number] | null, last as [number, number, number] | null];
  const steady = (at: 0 | 1): number | null => (f !== null && l !== null && l[2] > f[2] ? (l[2] - f[2]) / (l[at] - f[at]) : null);
  return { sps: r.stepsPerSecond, cpu_sps: r.globalStep / cpu, steady_sps: steady(0), steady_cpu_sps: steady(1), obsShape: [...venv.obsShape] };
}

/** The peer's flags for a case: every hyperparameter taken from our resolved config, so both sides run the same. */
function peerArgs(c: Case, steps: number, threads: number): string[] {
  const { config: k, hidden } = settings(c, steps);
  if (k.rewardScale !== 1 || k.targetKl !== null) throw new Error(`bench ppo-cnn: ${caseName(c)} sets rewardScale or targetKl, which the CleanRL peer does not implement`);
  const flag = (b: boolean): string => (b ? "1" : "0");
  return [
    "--model", "cnn", "--env", c.env, "--distribution", c.distribution, "--cnn-hidden", hidden.join(","), "--seed", String(k.seed), "--threads", String(threads),
    "--total-timesteps", String(steps), "--num-envs", String(k.numEnvs), "--num-steps", String(k.numSteps),
    "--learning-rate", String(k.learningRate), "--anneal-lr", flag(k.annealLr), "--gamma", String(k.gamma), "--gae-lambda", String(k.gaeLambda),
    "--num-minibatches", String(k.numMinibatches), "--update-epochs", String(k.updateEpochs), "--norm-adv", flag(k.normAdv),
    "--clip-coef", String(k.clipCoef), "--clip-vloss", flag(k.clipVloss), "--ent-coef", String(k.entCoef), "--vf-coef", String(k.vfCoef),
    "--max-grad-norm", String(k.maxGradNorm),
  ];
}

const option = (args: readonly string[], name: string, fallback: number): number => Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);

/** Per thread count ("t1", "t2"): the runs' figures. */
type ByThreads = Record<string, number[]>;

/** Median, min and max of each thread count's runs, and the thread count with the best median. */
function summarize(runs: ByThreads): { median: Record<string, number>; min: Record<string, number>; max: Record<string, number>; best: number; threads: number } {
  const med: Record<string, number> = {};
  const min: Record<string, number> = {};
  const max: Record<string, number> = {};
  let best = Number.NaN;
  let threads = 0;
  for (const [key, values] of Object.entries(runs)) {
    med[key] = median(values);
    min[key] = Math.min(...values);
    max[key] = Math.max(...values);
    if (!(med[key]! <= best)) [best, threads] = [med[key]!, Number(key.slice(1))];
  }
  return { median: med, min, max, best, threads };
}

export const benchmark: Benchmark = {
  description: "CNN PPO env steps/s (rollout + learning): ours vs PyTorch on the identical network, env and config (coin-run small, maze-cheese train, coin-run train), 1 and 2 threads, median of several runs",
  async run({ json, args }) {
    const steps = option(args, "steps", 16_384);
    const runs = option(args, "runs", 3);
    if (!Number.isInteger(runs) || runs < 1) throw new ConfigError(`bench ppo-cnn: --runs must be a positive integer, got ${runs}`);
    if (!Number.isInteger(steps) || steps < 1) throw new ConfigError(`bench ppo-cnn: --steps must be a positive integer, got ${steps}`);
    const threadCounts = (args.find((a) => a.startsWith("--threads="))?.slice("--threads=".length) ?? "1,2").split(",").map(Number);
    if (threadCounts.some((t) => !Number.isInteger(t) || t < 1)) throw new ConfigError(`bench ppo-cnn: --threads must list positive integers (e.g. --threads=1,2), got ${args.find((a) => a.startsWith("--threads="))}`);
    // --cases=env:distribution,… keeps those cases (the first kept one gives the headline fields)
    const caseKey = (c: Case): string => `${c.env}:${c.distribution}`;
    const wanted = args.find((a) => a.startsWith("--cases="))?.slice("--cases=".length).split(",");
    const unknownCases = (wanted ?? []).filter((w) => !CASES.some((c) => caseKey(c) === w));
    if (unknownCases.length > 0) throw new ConfigError(`bench ppo-cnn: unknown case ${unknownCases.join(", ")} in --cases`, `choose from ${CASES.map(caseKey).join(", ")}`);
    const selected = wanted === undefined ? CASES : CASES.filter((c) => wanted.includes(caseKey(c)));
    const skipped = torchMissing() ?? null;
    const ours: Record<string, ByThreads> = {};
    const oursCpu: Record<string, ByThreads> = {};
    const torch: Record<string, ByThreads> = {};
    const torchCpu: Record<string, ByThreads> = {};
    const oursSteady: Record<string, ByThreads> = {};
    const torchSteady: Record<string, ByThreads> = {};
    const shapes: Record<string, number[]> = {};
    const push = (to: Record<string, ByThreads>, name: string, threads: number, v: number): void => {
      ((to[name] ??= {})[`t${threads}`] ??= []).push(v);
    };
    // runs alternate ours / PyTorch case by case, so a change in the machine's load falls on both sides
    for (let run = 0; run < runs; run++) {
      for (const threads of threadCounts) {
        kernels().setThreads(threads);
        for (const c of selected) {
          const name = caseName(c);
          const o = await runOurs(c, steps);
          shapes[name] = o.obsShape;
          push(ours, name, threads, o.sps);
          push(oursCpu, name, threads, o.cpu_sps);
          if (o.steady_sps !== null) push(oursSteady, name, threads, o.steady_sps);
          if (skipped === null) {
            const t = runPeer<{ sps: number; steps: number; cpu_seconds: number; steady_sps: number | null }>("ppo_torch.py", peerArgs(c, steps, threads));
            if ("skipped" in t) throw new Error(t.skipped);
            push(torch, name, threads, t.sps);
            push(torchCpu, name, threads, t.steps / t.cpu_seconds);
            if (t.steady_sps !== null) push(torchSteady, name, threads, t.steady_sps);
          }
        }
        if (!json) process.stderr.write(`run ${run + 1}/${runs}: measured ${threads} thread(s)\n`);
      }
    }
    const cases = selected.map((c) => {
      const name = caseName(c);
      const { config, hidden } = settings(c, steps);
      const o = summarize(ours[name]!);
      const t = torch[name] ? summarize(torch[name]) : null;
      // after the first update (see Run.steady_sps), each side at its best thread count by that figure
      const oSteady = oursSteady[name] ? summarize(oursSteady[name]) : null;
      const tSteady = torchSteady[name] ? summarize(torchSteady[name]) : null;
      const oBest = ours[name]![`t${o.threads}`]!;
      const tBest = t ? torch[name]![`t${t.threads}`]! : null;
      return {
        case: name,
        env: c.env,
        distribution: c.distribution,
        obs_shape: shapes[name],
        hidden,
        num_envs: config.numEnvs,
        num_steps: config.numSteps,
        learning_rate: config.learningRate,
        ours_sps: o.best,
        torch_sps: t?.best ?? null,
        ours_threads: o.threads,
        torch_threads: t?.threads ?? null,
        /** ours / PyTorch, medians at each side's best thread count */
        ratio: t ? o.best / t.best : null,
        /** run by run (run i of ours against run i of PyTorch, each at its best thread count): the spread of the ratio */
        ratio_runs: tBest ? oBest.map((v, i) => v / tBest[i]!) : null,
        ours_sps_by_threads: o.median,
        torch_sps_by_threads: t?.median ?? null,
        ours_sps_min_by_threads: o.min,
        ours_sps_max_by_threads: o.max,
        torch_sps_min_by_threads: t?.min ?? null,
        torch_sps_max_by_threads: t?.max ?? null,
        ours_sps_runs: ours[name],
        torch_sps_runs: torch[name] ?? null,
        ours_cpu_sps_runs: oursCpu[name],
        torch_cpu_sps_runs: torchCpu[name] ?? null,
        ours_steady_sps: oSteady?.best ?? null,
        torch_steady_sps: tSteady?.best ?? null,
        ours_steady_threads: oSteady?.threads ?? null,
        torch_steady_threads: tSteady?.threads ?? null,
        steady_ratio: oSteady && tSteady ? oSteady.best / tSteady.best : null,
        ours_steady_sps_runs: oursSteady[name] ?? null,
        torch_steady_sps_runs: torchSteady[name] ?? null,
      };
    });
    const head = cases[0]!;
    const result = {
      // the headline fields are the first case's (coin-run small unless --cases says otherwise); every case is under `cases`
      env: head.case,
      steps,
      runs,
      ours_sps: head.ours_sps,
      torch_sps: head.torch_sps,
      ours_threads: head.ours_threads,
      torch_threads: head.torch_threads,
      ratio: head.ratio,
      ours_sps_by_threads: head.ours_sps_by_threads,
      torch_sps_by_threads: head.torch_sps_by_threads,
      cases,
      ours_backend: kernels().name,
      /** what our convolutions ran on (blas: oneDNN when the system has it, MESA_ONEDNN=0 turns it off) */
      ours_convolutions: convolutionsOf(kernels()),
      skipped,
    };
    if (json) {
      printJson(result);
      return;
    }
    const f = (v: number | undefined | null): string => (v === undefined || v === null || Number.isNaN(v) ? "–" : formatNumber(Math.round(v)));
    const spread = (med: Record<string, number> | null, lo: Record<string, number> | null, hi: Record<string, number> | null, key: string): string =>
      med === null ? "–" : `${f(med[key])} (${f(lo?.[key])}–${f(hi?.[key])})`;
    const rows: string[][] = [];
    for (const c of cases) {
      rows.push([c.case, "ours", spread(c.ours_sps_by_threads, c.ours_sps_min_by_threads, c.ours_sps_max_by_threads, "t1"), spread(c.ours_sps_by_threads, c.ours_sps_min_by_threads, c.ours_sps_max_by_threads, "t2")]);
      if (c.torch_sps_by_threads) rows.push([c.case, "PyTorch", spread(c.torch_sps_by_threads, c.torch_sps_min_by_threads, c.torch_sps_max_by_threads, "t1"), spread(c.torch_sps_by_threads, c.torch_sps_min_by_threads, c.torch_sps_max_by_threads, "t2")]);
    }
    process.stdout.write(`${formatTable(["levels", "side", `steps/s t1, median of ${runs} (min–max)`, "steps/s t2"], rows)}\n`);
    for (const c of cases) {
      if (c.ratio === null) continue;
      const r = (c.ratio_runs ?? []).map((v) => formatNumber(v)).join(", ");
      process.stdout.write(`${c.case}: ours ${f(c.ours_sps)} (${c.ours_threads} thread(s)) vs PyTorch ${f(c.torch_sps)} (${c.torch_threads}): ours/PyTorch ${formatNumber(c.ratio)} (runs: ${r})\n`);
      if (c.steady_ratio !== null) {
        process.stdout.write(`${c.case} after the first update: ours ${f(c.ours_steady_sps)} (${c.ours_steady_threads}) vs PyTorch ${f(c.torch_steady_sps)} (${c.torch_steady_threads}): ${formatNumber(c.steady_ratio)}\n`);
      }
    }
    if (skipped !== null) process.stdout.write(`PyTorch skipped: ${skipped}\n`);
  },
};
