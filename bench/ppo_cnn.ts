// `npm run bench -- ppo-cnn [--json] [--steps=16384]`: env steps per second of PPO training with the CNN policy
// (rollout + learning, the whole loop), ours vs PyTorch, each side on one and two threads, headline at each
// side's best. The identical comparison runs on coin-run's `small` distribution, the level the PyTorch peer's
// numpy port reproduces step for step (bench/peers/ppo_torch.py --model cnn: the same IMPALA network, init and
// config). Ours is also timed on the default train levels of coin-run and maze-cheese (their tuned PPO settings),
// where no PyTorch port of the environment exists.
import { formatNumber, formatTable, printJson } from "../src/cli/output.js";
import { kernels } from "../src/core/kernels/index.js";
import { Rng } from "../src/core/rng.js";
import { getEnvDefinition, makeVecEnv } from "../src/envs/make.js";
import "../src/nn/models/cnn_policy.js";
import { createPolicy } from "../src/nn/models/policy.js";
import { type PpoConfigInput, ppoConfig } from "../src/rl/config.js";
import { trainPPO } from "../src/rl/ppo.js";
import { runPeer, torchMissing } from "./peer.js";
import type { Benchmark } from "./registry.js";

interface Run {
  env: string;
  distribution: string;
  obs_shape: number[];
  steps: number;
  seconds: number;
  /** CPU seconds of our process over the run (all threads): on a shared machine, the figure the queue does not inflate */
  cpu_seconds: number;
  sps: number;
}

/** The PPO settings of a run: the env's tuned ones for its default levels, CleanRL's for the peer's level. */
function settings(env: string, distribution: string): PpoConfigInput {
  if (distribution === "small") return {};
  return { ...(getEnvDefinition(env).training?.ppo ?? {}) } as PpoConfigInput;
}

async function runOurs(env: string, distribution: string, steps: number): Promise<Run> {
  const config = ppoConfig({ ...settings(env, distribution), seed: 1, totalTimesteps: steps, checkpointEvery: 0 });
  const venv = makeVecEnv(env, { n: config.numEnvs, distribution });
  const policy = createPolicy({ kind: "cnn", obsShape: venv.obsShape, numActions: venv.numActions }, new Rng(config.seed, "init"));
  const cpu = process.cpuUsage();
  const r = await trainPPO(venv, policy, config, {});
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  return { env, distribution, obs_shape: [...venv.obsShape], steps: r.globalStep, seconds: r.seconds, cpu_seconds: cpuSeconds, sps: r.stepsPerSecond };
}

const option = (args: readonly string[], name: string, fallback: number): number => Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);

/** The best of the per-thread figures: [figure, threads]. */
function best(byThreads: Record<string, number>): [number, number] {
  let out: [number, number] = [Number.NaN, 0];
  for (const [key, v] of Object.entries(byThreads)) if (!(v <= out[0])) out = [v, Number(key.slice(1))];
  return out;
}

export const benchmark: Benchmark = {
  description: "CNN PPO env steps/s (rollout + learning): ours vs PyTorch on the identical network, env and config, 1 and 2 threads",
  async run({ json, args }) {
    const steps = option(args, "steps", 16_384);
    const skipped = torchMissing() ?? null;
    const ours: Record<string, number> = {};
    const torch: Record<string, number> = {};
    // env steps per CPU second of each side's process (on two threads both threads' CPU time counts)
    const oursCpu: Record<string, number> = {};
    const torchCpu: Record<string, number> = {};
    const defaults: Record<string, Record<string, number>> = {};
    const runs: Run[] = [];
    for (const threads of [1, 2]) {
      kernels().setThreads(threads);
      const small = await runOurs("coin-run", "small", steps);
      runs.push(small);
      ours[`t${threads}`] = small.sps;
      oursCpu[`t${threads}`] = small.steps / small.cpu_seconds;
      if (skipped === null) {
        const t = runPeer<{ sps: number; steps: number; cpu_seconds: number }>("ppo_torch.py", ["--model", "cnn", "--total-timesteps", String(steps), "--threads", String(threads), "--seed", "1"]);
        if ("skipped" in t) throw new Error(t.skipped);
        torch[`t${threads}`] = t.sps;
        torchCpu[`t${threads}`] = t.steps / t.cpu_seconds;
      }
      for (const env of ["coin-run", "maze-cheese"]) {
        const r = await runOurs(env, "train", steps);
        runs.push(r);
        (defaults[env] ??= {})[`t${threads}`] = r.sps;
      }
      if (!json) process.stderr.write(`measured ${threads} thread(s)\n`);
    }
    const [oursSps, oursThreads] = best(ours);
    const [torchSps, torchThreads] = skipped === null ? best(torch) : [null, null];
    const result = {
      env: "coin-run (small: the peer's level)",
      steps,
      ours_sps: oursSps,
      torch_sps: torchSps,
      ours_threads: oursThreads,
      torch_threads: torchThreads,
      ratio: torchSps === null ? null : oursSps / torchSps,
      ours_sps_by_threads: ours,
      torch_sps_by_threads: skipped === null ? torch : null,
      ours_cpu_sps_by_threads: oursCpu,
      torch_cpu_sps_by_threads: skipped === null ? torchCpu : null,
      ours_default_levels: Object.fromEntries(Object.entries(defaults).map(([env, byThreads]) => {
        const [sps, threads] = best(byThreads);
        return [env, { sps, threads, by_threads: byThreads }];
      })),
      runs,
      ours_backend: kernels().name,
      skipped,
    };
    if (json) {
      printJson(result);
      return;
    }
    const f = (v: number | undefined | null): string => (v === undefined || v === null ? "–" : formatNumber(Math.round(v)));
    const rows = [["coin-run small", "ours", f(ours.t1), f(ours.t2)], ["coin-run small", "PyTorch", f(torch.t1), f(torch.t2)]];
    for (const [env, byThreads] of Object.entries(defaults)) rows.push([`${env} train`, "ours", f(byThreads.t1), f(byThreads.t2)]);
    process.stdout.write(`${formatTable(["levels", "side", "steps/s t1", "steps/s t2"], rows)}\n`);
    if (torchSps !== null) process.stdout.write(`steps per CPU second, 1 thread: ours ${f(oursCpu.t1)} vs PyTorch ${f(torchCpu.t1)}\n`);
    if (torchSps !== null) process.stdout.write(`best: ours ${f(oursSps)} (${oursThreads} thread(s)) vs PyTorch ${f(torchSps)} (${torchThreads}): ours/PyTorch ${formatNumber(oursSps / torchSps)}\n`);
    else process.stdout.write(`PyTorch skipped: ${skipped}\n`);
  },
};
