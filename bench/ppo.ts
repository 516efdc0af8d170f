// `npm run bench -- ppo [--json] [--target=0.5] [--repeats=N]`: wall-clock for PPO to reach the same return on
// coin-run's train levels, ours vs CleanRL's ppo.py in PyTorch (bench/peers/ppo_torch.py, on a numpy port of the
// same environment — same levels, same physics, checked by test/rl/peer_env.test.ts) with the identical config:
// CleanRL defaults, 64 envs × 128 steps, 4 epochs × 4 minibatches, MLP 64-64 tanh, seed 1. Each side stops after
// the first update whose finished episodes average at least the target return. Also prints env steps/s.
// The machine is shared, so each side can be repeated and its best run taken (--repeats).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { printJson, formatTable, formatNumber } from "../src/cli/output.js";
import { kernels } from "../src/core/kernels/index.js";
import { Rng } from "../src/core/rng.js";
import { makeVecEnv } from "../src/envs/make.js";
import "../src/nn/models/mlp_policy.js";
import { createPolicy } from "../src/nn/models/policy.js";
import { ppoConfig } from "../src/rl/config.js";
import { trainPPO } from "../src/rl/ppo.js";
import type { Benchmark } from "./registry.js";

interface Figures {
  seconds: number;
  steps: number;
  sps: number;
  mean_return: number;
  reached: boolean;
  threads: number;
}

const MAX_STEPS = 3_000_000;

function torchEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

function runTorch(target: number, threads: number): Figures | { skipped: string } {
  const probe = spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8", env: torchEnv() });
  if (probe.error || probe.status !== 0) return { skipped: `/usr/bin/python3 cannot import torch (${probe.error?.message ?? probe.stderr.trim().split("\n").pop()}); install python3-torch` };
  const peer = fileURLToPath(new URL("../../bench/peers/ppo_torch.py", import.meta.url));
  const r = spawnSync("/usr/bin/python3", [peer, "--target-return", String(target), "--total-timesteps", String(MAX_STEPS), "--seed", "1", "--threads", String(threads)], {
    encoding: "utf8",
    env: torchEnv(),
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) return { skipped: `the PyTorch peer failed (exit ${r.status}): ${r.stderr.trim().split("\n").slice(-3).join(" | ")}` };
  return JSON.parse(r.stdout) as Figures;
}

async function runOurs(target: number): Promise<Figures> {
  const config = ppoConfig({ seed: 1, totalTimesteps: MAX_STEPS });
  const env = makeVecEnv("coin-run", { n: config.numEnvs, distribution: "train" });
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
  return { seconds: result.seconds, steps: result.globalStep, sps: result.stepsPerSecond, mean_return: meanReturn, reached, threads: kernels().threads };
}

const best = (runs: Figures[]): Figures => runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));

export const benchmark: Benchmark = {
  description: "PPO wall-clock to the same return on coin-run train levels: ours vs CleanRL-style PyTorch (identical env and config)",
  async run({ json, args }) {
    const target = Number(args.find((a) => a.startsWith("--target="))?.split("=")[1] ?? 0.5);
    const repeats = Number(args.find((a) => a.startsWith("--repeats="))?.split("=")[1] ?? 1);
    const ours: Figures[] = [];
    const torch: Figures[] = [];
    let skipped: string | null = null;
    for (let k = 0; k < repeats; k++) {
      ours.push(await runOurs(target));
      if (skipped === null) {
        const t = runTorch(target, kernels().threads);
        if ("skipped" in t) skipped = t.skipped;
        else torch.push(t);
      }
    }
    const o = best(ours);
    const t = torch.length > 0 ? best(torch) : null;
    const result = {
      target_return: target,
      ours_seconds: o.seconds,
      torch_seconds: t?.seconds ?? null,
      ratio: t ? o.seconds / t.seconds : null,
      ours_sps: o.sps,
      torch_sps: t?.sps ?? null,
      ours_steps: o.steps,
      torch_steps: t?.steps ?? null,
      ours_reached: o.reached,
      torch_reached: t?.reached ?? null,
      ours_backend: kernels().name,
      threads: o.threads,
      repeats,
      skipped,
    };
    if (json) {
      printJson(result);
      return;
    }
    const rows: (string | number)[][] = [["ours (" + kernels().name + ")", formatNumber(o.seconds), o.steps, Math.round(o.sps), formatNumber(o.mean_return), String(o.reached)]];
    if (t) rows.push(["PyTorch", formatNumber(t.seconds), t.steps, Math.round(t.sps), formatNumber(t.mean_return), String(t.reached)]);
    process.stdout.write(`${formatTable(["coin-run train, target return " + target, "seconds", "env steps", "steps/s", "return", "reached"], rows)}\n`);
    if (t) process.stdout.write(`ratio ours/PyTorch wall-clock: ${formatNumber(o.seconds / t.seconds)} (target ≤ 0.5); best of ${repeats}\n`);
    else process.stdout.write(`PyTorch skipped: ${skipped}\n`);
  },
};
