// `npm run bench -- ppo [--json] [--target=0.9] [--seeds=3] [--cap=500000]`: wall-clock for PPO to reach the same
// return on coin-run's train levels, ours vs CleanRL's ppo.py in PyTorch (bench/peers/ppo_torch.py, on a numpy
// port of the same environment — same levels, same physics, checked by test/rl/peer_env.test.ts) with the
// identical config: CleanRL defaults, 64 envs × 128 steps, 4 epochs × 4 minibatches, MLP 64-64 tanh. Each side
// trains seeds 1..N and stops a seed after the first update whose finished episodes average at least the target
// return (or at the step cap). The coin is a sparse reward: when learning takes off depends on early lucky coins,
// so one seed says more about luck than speed; times and steps are summed over the seeds, on both sides.
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


function torchEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

function runTorch(target: number, threads: number, seed: number, cap: number): Figures | { skipped: string } {
  const probe = spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8", env: torchEnv() });
  if (probe.error || probe.status !== 0) return { skipped: `/usr/bin/python3 cannot import torch (${probe.error?.message ?? probe.stderr.trim().split("\n").pop()}); install python3-torch` };
  const peer = fileURLToPath(new URL("../../bench/peers/ppo_torch.py", import.meta.url));
  const r = spawnSync("/usr/bin/python3", [peer, "--target-return", String(target), "--total-timesteps", String(cap), "--seed", String(seed), "--threads", String(threads)], {
    encoding: "utf8",
    env: torchEnv(),
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) return { skipped: `the PyTorch peer failed (exit ${r.status}): ${r.stderr.trim().split("\n").slice(-3).join(" | ")}` };
  return JSON.parse(r.stdout) as Figures;
}

async function runOurs(target: number, seed: number, cap: number): Promise<Figures> {
  const config = ppoConfig({ seed, totalTimesteps: cap });
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
  return { seconds: result.seconds, steps: result.globalStep, sps: result.stepsPerSecond, mean_return: meanReturn, reached, threads: kernels().threads };
}

function total(runs: readonly Figures[]): { seconds: number; steps: number; sps: number; reached: number } {
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const steps = runs.reduce((a, r) => a + r.steps, 0);
  return { seconds, steps, sps: steps / seconds, reached: runs.filter((r) => r.reached).length };
}

const option = (args: readonly string[], name: string, fallback: number): number => Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);

export const benchmark: Benchmark = {
  description: "PPO wall-clock to the same return on coin-run train levels: ours vs CleanRL-style PyTorch (identical env and config)",
  async run({ json, args }) {
    const target = option(args, "target", 0.9);
    const seeds = option(args, "seeds", 3);
    const cap = option(args, "cap", 500_000);
    const ours: Figures[] = [];
    const torch: Figures[] = [];
    let skipped: string | null = null;
    for (let seed = 1; seed <= seeds; seed++) {
      ours.push(await runOurs(target, seed, cap));
      if (skipped === null) {
        const t = runTorch(target, kernels().threads, seed, cap);
        if ("skipped" in t) skipped = t.skipped;
        else torch.push(t);
      }
      if (!json) process.stderr.write(`seed ${seed}: ours ${ours.at(-1)!.steps} steps ${ours.at(-1)!.seconds.toFixed(1)} s` + (torch.length === seed ? `, PyTorch ${torch.at(-1)!.steps} steps ${torch.at(-1)!.seconds.toFixed(1)} s` : "") + "\n");
    }
    const o = total(ours);
    const t = torch.length > 0 ? total(torch) : null;
    const result = {
      target_return: target,
      seeds,
      step_cap: cap,
      ours_seconds: o.seconds,
      torch_seconds: t?.seconds ?? null,
      ratio: t ? o.seconds / t.seconds : null,
      ours_sps: o.sps,
      torch_sps: t?.sps ?? null,
      sps_ratio: t ? t.sps / o.sps : null,
      ours_steps: o.steps,
      torch_steps: t?.steps ?? null,
      ours_reached: o.reached,
      torch_reached: t?.reached ?? null,
      per_seed: { ours, torch },
      ours_backend: kernels().name,
      threads: kernels().threads,
      skipped,
    };
    if (json) {
      printJson(result);
      return;
    }
    const rows: (string | number)[][] = [[`ours (${kernels().name})`, formatNumber(o.seconds), o.steps, Math.round(o.sps), `${o.reached}/${seeds}`]];
    if (t) rows.push(["PyTorch", formatNumber(t.seconds), t.steps, Math.round(t.sps), `${t.reached}/${seeds}`]);
    process.stdout.write(`${formatTable([`coin-run train, return ${target}, seeds 1..${seeds}`, "seconds", "env steps", "steps/s", "reached"], rows)}\n`);
    if (t) process.stdout.write(`ratio ours/PyTorch wall-clock: ${formatNumber(o.seconds / t.seconds)} (target ≤ 0.5); at equal steps (steps/s ratio): ${formatNumber(t.sps / o.sps)}\n`);
    else process.stdout.write(`PyTorch skipped: ${skipped}\n`);
  },
};
