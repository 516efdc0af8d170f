// `npm run bench -- icl [--json] [--repeats=N]`: wall time of the 1-layer ICL reproduction (the `mesa icl`
// defaults: LSA, d = 10, N = 10, 2000 Adam steps on 1024 fresh tasks each) beside the same training in PyTorch
// (bench/peers/icl_torch.py: same model, init, tasks, loss, Adam and clip). Both time the training loop only,
// each repeated and the best taken (the machine is shared, so single runs are noisy); the ratio is ours/PyTorch.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { printJson } from "../src/cli/output.js";
import { iclConfig, trainIcl } from "../src/icl/train.js";
import type { Benchmark } from "./registry.js";

interface Figures {
  seconds: number;
  /** CPU seconds of the whole process (all threads) during training: robust to other jobs' load */
  cpu_seconds: number;
  model_loss: number;
  gd_loss: number;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function torchEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

function runTorch(steps: number, batch: number, clip: number): Figures | { skipped: string } {
  const probe = spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8", env: torchEnv() });
  if (probe.error || probe.status !== 0) return { skipped: `/usr/bin/python3 cannot import torch (${probe.error?.message ?? probe.stderr.trim().split("\n").pop()}); install python3-torch` };
  const peer = fileURLToPath(new URL("../../bench/peers/icl_torch.py", import.meta.url));
  const r = spawnSync("/usr/bin/python3", [peer, "--steps", String(steps), "--batch", String(batch), "--clip", String(clip)], { encoding: "utf8", env: torchEnv() });
  if (r.status !== 0) return { skipped: `the PyTorch peer failed (exit ${r.status}): ${r.stderr.trim().split("\n").slice(-3).join(" | ")}` };
  return JSON.parse(r.stdout) as Figures;
}

export const benchmark: Benchmark = {
  description: "1-layer LSA in-context regression training (mesa icl defaults) vs the same training in PyTorch",
  async run({ json, args }) {
    const repeats = Number(args.find((a) => a.startsWith("--repeats="))?.split("=")[1] ?? 3);
    const config = iclConfig({});
    const ours: Figures[] = [];
    const torch: Figures[] = [];
    let skipped: string | null = null;
    for (let i = 0; i < repeats; i++) {
      let cpu = 0;
      const r = await trainIcl({ ...config, testTasks: 10_000 }, {
        onStep: (step) => {
          if (step === 1) cpu = cpuSeconds();
          if (step === config.steps) cpu = cpuSeconds() - cpu;
        },
      });
      ours.push({ seconds: r.trainSeconds, cpu_seconds: cpu, model_loss: r.vsGd.modelLoss, gd_loss: r.vsGd.baselineLoss });
      if (skipped === null) {
        const t = runTorch(config.steps, config.batch, config.clip);
        if ("skipped" in t) skipped = t.skipped;
        else torch.push(t);
      }
    }
    const best = (xs: Figures[]): Figures | null => (xs.length === 0 ? null : xs.reduce((a, b) => (b.seconds < a.seconds ? b : a)));
    const o = best(ours)!;
    const t = best(torch);
    const result = {
      steps: config.steps,
      batch: config.batch,
      repeats,
      ours_seconds: o.seconds,
      ours_all_seconds: ours.map((f) => f.seconds),
      ours_cpu_seconds: Math.min(...ours.map((f) => f.cpu_seconds)),
      ours_model_loss: o.model_loss,
      ours_gd_loss: o.gd_loss,
      torch_seconds: t?.seconds ?? null,
      torch_all_seconds: torch.map((f) => f.seconds),
      torch_cpu_seconds: torch.length > 0 ? Math.min(...torch.map((f) => f.cpu_seconds)) : null,
      torch_model_loss: t?.model_loss ?? null,
      torch_gd_loss: t?.gd_loss ?? null,
      ratio: t ? o.seconds / t.seconds : null,
      cpu_ratio: torch.length > 0 ? Math.min(...ours.map((f) => f.cpu_seconds)) / Math.min(...torch.map((f) => f.cpu_seconds)) : null,
      skipped,
    };
    if (json) {
      printJson(result);
      return;
    }
    process.stdout.write(`training loop, ${config.steps} steps × ${config.batch} tasks, best of ${repeats} (shared machine: repeats vary)\n`);
    process.stdout.write(`  ours     ${o.seconds.toFixed(2)} s wall, ${result.ours_cpu_seconds.toFixed(2)} s CPU   (wall of each: ${result.ours_all_seconds.map((s) => s.toFixed(2)).join(", ")})   test MSE ${o.model_loss.toFixed(4)} vs one-step GD ${o.gd_loss.toFixed(4)}\n`);
    if (t) {
      process.stdout.write(`  PyTorch  ${t.seconds.toFixed(2)} s wall, ${result.torch_cpu_seconds!.toFixed(2)} s CPU   (wall of each: ${result.torch_all_seconds.map((s) => s.toFixed(2)).join(", ")})   test MSE ${t.model_loss.toFixed(4)} vs one-step GD ${t.gd_loss.toFixed(4)}\n`);
      process.stdout.write(`  ratio ours/PyTorch: wall ${result.ratio!.toFixed(2)}× (target ≤ 0.5×), CPU ${result.cpu_ratio!.toFixed(2)}×\n`);
    } else process.stdout.write(`  PyTorch  skipped: ${skipped}\n`);
  },
};
