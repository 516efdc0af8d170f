// `npm run bench -- ppo [--json] [--target=0.9] [--seeds=10] [--cap=500000] [--threads=1,2]`: PPO learning on
// coin-run's `small` levels (the level bench/peers/ppo_torch.py ports to numpy, checked step by step by
// test/rl/peer_env.test.ts), ours vs CleanRL's ppo.py in PyTorch with the identical config: CleanRL defaults,
// 64 envs × 128 steps, 4 epochs × 4 minibatches, MLP 64-64 tanh. Each side trains seeds 1..N at each thread count
// and stops a seed after the first update whose finished episodes average at least the target return, or at the
// step cap (a failure). The coin is a sparse reward, so when learning takes off depends on early lucky coins:
// the figures are the median and interquartile range of env steps to the target over the solved seeds, failures
// counted apart, steps/s at equal steps (all steps over all seconds) and wall-clock per solved run — never a sum
// that mixes failed runs in. The headline takes each side at its best thread count.
import { formatNumber, formatTable, printJson } from "../src/cli/output.js";
import { kernels } from "../src/core/kernels/index.js";
import { Rng } from "../src/core/rng.js";
import { makeVecEnv } from "../src/envs/make.js";
import "../src/nn/models/mlp_policy.js";
import { createPolicy } from "../src/nn/models/policy.js";
import { ppoConfig } from "../src/rl/config.js";
import { trainPPO } from "../src/rl/ppo.js";
import { median, quantile, runPeer, torchMissing } from "./peer.js";
import type { Benchmark } from "./registry.js";

interface SeedRun {
  seed: number;
  seconds: number;
  steps: number;
  sps: number;
  mean_return: number;
  reached: boolean;
}

/** One side at one thread count, summarised as the rules ask. */
interface Summary {
  threads: number;
  seeds: number;
  solved: number;
  failures: number;
  median_steps: number | null;
  steps_q25: number | null;
  steps_q75: number | null;
  /** env steps per second over every run (solved or not): the comparison at equal steps */
  sps: number;
  /** mean wall-clock seconds of the solved runs */
  seconds_per_solved_run: number | null;
  runs: SeedRun[];
}

function summarise(threads: number, runs: SeedRun[]): Summary {
  const solved = runs.filter((r) => r.reached);
  const steps = solved.map((r) => r.steps);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  return {
    threads,
    seeds: runs.length,
    solved: solved.length,
    failures: runs.length - solved.length,
    median_steps: steps.length ? median(steps) : null,
    steps_q25: steps.length ? quantile(steps, 0.25) : null,
    steps_q75: steps.length ? quantile(steps, 0.75) : null,
    sps: runs.reduce((a, r) => a + r.steps, 0) / seconds,
    seconds_per_solved_run: solved.length ? solved.reduce((a, r) => a + r.seconds, 0) / solved.length : null,
    runs,
  };
}

async function runOurs(target: number, seed: number, cap: number): Promise<SeedRun> {
  const config = ppoConfig({ seed, totalTimesteps: cap, checkpointEvery: 0 });
  const env = makeVecEnv("coin-run", { n: config.numEnvs, distribution: "small" });
  const policy = createPolicy({ kind: "mlp", obsShape: env.obsShape, numActions: env.numActions }, new Rng(config.seed, "init"));
  let meanReturn = Number.NaN;
  let reached = false;
  const result = await trainPPO(env, policy, config, {
    onUpdate(m) {
      const r = m["charts/episodic_return"];
      if (r === null || r === undefined) return;
      meanReturn = r;
      if (r >= target) {
        reached = true;
        return "stop";
      }
    },
  });
  return { seed, seconds: result.seconds, steps: result.globalStep, sps: result.stepsPerSecond, mean_return: meanReturn, reached };
}

const option = (args: readonly string[], name: string, fallback: string): string => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback;

/** The summary with the most steps/s (the side's best thread count). */
function best(summaries: readonly Summary[]): Summary | null {
  return summaries.reduce<Summary | null>((b, s) => (b === null || s.sps > b.sps ? s : b), null);
}

export const benchmark: Benchmark = {
  description: "PPO learning on coin-run's small levels, ours vs CleanRL-style PyTorch: steps to the target over seeds, steps/s at equal steps",
  async run({ json, args }) {
    const target = Number(option(args, "target", "0.9"));
    const seeds = Number(option(args, "seeds", "10"));
    const cap = Number(option(args, "cap", "500000"));
    const threadCounts = option(args, "threads", "1,2").split(",").map(Number);
    const skipped = torchMissing() ?? null;
    const ours: Summary[] = [];
    const torch: Summary[] = [];
    for (const threads of threadCounts) {
      kernels().setThreads(threads);
      const o: SeedRun[] = [];
      const t: SeedRun[] = [];
      for (let seed = 1; seed <= seeds; seed++) {
        // interleaved seed by seed, so both sides see the same machine load
        o.push(await runOurs(target, seed, cap));
        if (skipped === null) {
          const r = runPeer<Omit<SeedRun, "seed">>("ppo_torch.py", ["--target-return", String(target), "--total-timesteps", String(cap), "--seed", String(seed), "--threads", String(threads)]);
          if ("skipped" in r) throw new Error(r.skipped);
          t.push({ seed, ...r });
        }
        if (!json) process.stderr.write(`t${threads} seed ${seed}: ours ${o.at(-1)!.steps} steps ${o.at(-1)!.seconds.toFixed(1)} s${t.length === seed ? `, PyTorch ${t.at(-1)!.steps} steps ${t.at(-1)!.seconds.toFixed(1)} s` : ""}\n`);
      }
      ours.push(summarise(threads, o));
      if (skipped === null) torch.push(summarise(threads, t));
    }
    const ob = best(ours)!;
    const tb = best(torch);
    const result = {
      levels: "coin-run small (the peer's numpy port)",
      target_return: target,
      seeds,
      step_cap: cap,
      ours_sps: ob.sps,
      torch_sps: tb?.sps ?? null,
      ours_threads: ob.threads,
      torch_threads: tb?.threads ?? null,
      sps_ratio: tb ? ob.sps / tb.sps : null,
      ours_median_steps: ob.median_steps,
      torch_median_steps: tb?.median_steps ?? null,
      ours_steps_iqr: [ob.steps_q25, ob.steps_q75],
      torch_steps_iqr: tb ? [tb.steps_q25, tb.steps_q75] : null,
      ours_failures: ob.failures,
      torch_failures: tb?.failures ?? null,
      ours_seconds_per_solved_run: ob.seconds_per_solved_run,
      torch_seconds_per_solved_run: tb?.seconds_per_solved_run ?? null,
      ours_by_threads: ours,
      torch_by_threads: skipped === null ? torch : null,
      ours_backend: kernels().name,
      skipped,
    };
    if (json) {
      printJson(result);
      return;
    }
    const f = (v: number | null | undefined): string => (v === null || v === undefined ? "–" : formatNumber(v));
    const rows = [...ours.map((s) => ["ours", s] as const), ...torch.map((s) => ["PyTorch", s] as const)].map(([side, s]) => [
      side, s.threads, `${s.solved}/${s.seeds}`, f(s.median_steps), `${f(s.steps_q25)}–${f(s.steps_q75)}`, Math.round(s.sps), f(s.seconds_per_solved_run),
    ]);
    process.stdout.write(`${formatTable([`coin-run small, return ${target}`, "threads", "solved", "median steps", "IQR", "steps/s", "s per solved run"], rows)}\n`);
    if (tb) process.stdout.write(`best thread counts: ours ${Math.round(ob.sps)} steps/s (${ob.threads}) vs PyTorch ${Math.round(tb.sps)} (${tb.threads}): ratio ${formatNumber(ob.sps / tb.sps)}\n`);
    else process.stdout.write(`PyTorch skipped: ${skipped}\n`);
  },
};
