// `npm run bench -- nn [--json]`: nn layers the core benchmark does not cover — a conv block (Conv2d, relu, max
// pool, Conv2d), causal multi-head attention and a Linear-GELU-Linear-LayerNorm block — forward+backward, against
// the same layers in PyTorch (bench/peers/nn_torch.py). Both sides run on one thread and are timed in CPU time
// (process.cpuUsage / time.process_time), which other processes on this shared machine disturb far less than
// wall time; figures are the best of several rounds. Ours runs on the active kernel backend (MESA_BACKEND), in a
// child process that, like the PyTorch peer, has OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE removed from its environment.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { formatNumber, formatTable, log, printJson } from "../src/cli/output.js";
import { kernels } from "../src/core/kernels/index.js";
import { maxPool2d } from "../src/core/ops/conv.js";
import { Rng } from "../src/core/rng.js";
import { Tensor } from "../src/core/tensor.js";
import { Attention } from "../src/nn/attention.js";
import { Conv2d, LayerNorm } from "../src/nn/layers.js";
import { Linear } from "../src/nn/linear.js";
import type { Benchmark } from "./registry.js";

type Step = () => void;

function randn(rng: Rng, shape: number[]): Tensor {
  const t = new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  rng.fillNormal(t.data);
  return t;
}

/** batch 256 of 8×16×16: Conv2d(8→32, 3, pad 1) → relu → maxPool 2 → Conv2d(32→32, 3, pad 1) → mean square */
function convBlock(): Step {
  const rng = new Rng(1, "bench-nn-conv");
  const c1 = new Conv2d(8, 32, 3, rng, { padding: 1 });
  const c2 = new Conv2d(32, 32, 3, rng, { padding: 1 });
  const x = randn(rng, [256, 8, 16, 16]);
  return () => {
    c1.zeroGrad();
    c2.zeroGrad();
    c2.forward(maxPool2d(c1.forward(x).relu(), 2)).square().mean().backward();
  };
}

/** batch 256, 32 positions, width 32, 4 heads, causal mask */
function causalAttention(): Step {
  const rng = new Rng(2, "bench-nn-attention");
  const layer = new Attention({ dModel: 32, nHeads: 4, mask: "causal" }, rng);
  const x = randn(rng, [256, 32, 32]);
  return () => {
    layer.zeroGrad();
    layer.forward(x).square().mean().backward();
  };
}

/** 4096 rows: Linear(128→512) → GELU → Linear(512→128) → LayerNorm(128) → mean square */
function lnGeluBlock(): Step {
  const rng = new Rng(3, "bench-nn-ln-gelu");
  const up = new Linear(128, 512, rng);
  const down = new Linear(512, 128, rng);
  const ln = new LayerNorm(128);
  const x = randn(rng, [4096, 128]);
  return () => {
    up.zeroGrad();
    down.zeroGrad();
    ln.zeroGrad();
    ln.forward(down.forward(up.forward(x).gelu())).square().mean().backward();
  };
}

const STEPS: readonly [string, () => Step][] = [["conv_block_ms", convBlock], ["attention_causal_ms", causalAttention], ["ln_gelu_block_ms", lnGeluBlock]];

/** Best over rounds of the mean CPU time (ms) per call. */
function cpuBest(step: Step): number {
  step();
  const c0 = process.cpuUsage();
  step();
  const c1 = process.cpuUsage(c0);
  const once = (c1.user + c1.system) / 1000;
  const reps = Math.max(1, Math.min(50, Math.round(300 / Math.max(once, 0.1))));
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t = process.cpuUsage();
    for (let i = 0; i < reps; i++) step();
    const c = process.cpuUsage(t);
    best = Math.min(best, (c.user + c.system) / 1000 / reps);
  }
  return best;
}

/** The environment without the variables that pin OpenBLAS to a slower kernel. */
export function blasEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

/** Runs a child that prints one JSON object of figures (or {"skipped": why}). */
export function runJson(command: string, args: readonly string[]): { figures?: Record<string, number | string>; skipped?: string } {
  const r = spawnSync(command, args, { encoding: "utf8", env: blasEnv(), maxBuffer: 1 << 20 });
  if (r.error) return { skipped: `${command} could not run: ${r.error.message}` };
  if (r.status !== 0) return { skipped: `${command} ${args.join(" ")} failed (exit ${r.status}): ${r.stderr.trim().split("\n").slice(-2).join(" | ")}` };
  const parsed = JSON.parse(r.stdout) as Record<string, number | string> & { skipped?: string };
  return parsed.skipped !== undefined ? { skipped: String(parsed.skipped) } : { figures: parsed };
}

/** Child mode: measure every step on the active backend at one thread and print the figures as JSON. */
function runChild(): void {
  const backend = kernels();
  backend.setThreads(1);
  const figures: Record<string, number | string> = { backend: backend.name };
  for (const [key, make] of STEPS) figures[key] = cpuBest(make());
  printJson(figures);
}

export const benchmark: Benchmark = {
  description: "conv block, causal attention and LayerNorm-GELU block fwd+bwd in CPU ms on one thread, vs PyTorch",
  async run({ json, args }) {
    if (args.includes("--child")) {
      runChild();
      return;
    }
    if (!json) log("[nn] measuring mesa…");
    const ours = runJson(process.execPath, [process.argv[1]!, "nn", "--child", "--json"]);
    if (!ours.figures) throw new Error(`the nn benchmark child failed: ${ours.skipped}`);
    if (!json) log("[nn] measuring torch…");
    const torch = runJson("/usr/bin/python3", [fileURLToPath(new URL("../../bench/peers/nn_torch.py", import.meta.url))]);
    const backend = String(ours.figures["backend"]);
    if (json) {
      printJson({ mesa: ours.figures, ...(torch.figures ? { torch: torch.figures } : { skipped: { torch: torch.skipped } }) });
      return;
    }
    const cell = (v: number): string => formatNumber(Number(v.toPrecision(4)));
    const rows = STEPS.map(([key]) => {
      const o = ours.figures![key] as number;
      const t = torch.figures?.[key] as number | undefined;
      return [key.replace(/_ms$/, " CPU ms"), cell(o), t === undefined ? "-" : cell(t), t === undefined ? "-" : `${(t / o).toFixed(2)}×`];
    });
    process.stdout.write(`${formatTable(["figure (1 thread)", `mesa (${backend})`, "torch", "speed vs torch"], rows)}\n`);
    if (torch.skipped) process.stdout.write(`skipped torch: ${torch.skipped}\n`);
  },
};
