// `npm run bench -- conv [--json] [--envs=coin-run,maze-cheese] [--batch=2048] [--rounds=3]`: forward + backward
// of every convolution layer of the CNN policy (its shapes on each env's default level, at PPO's minibatch size),
// ours vs PyTorch (bench/peers/conv_torch.py, the IMPALA block written as a PyTorch user writes it), each side on
// one and two threads. The target: ours within 1.5× of PyTorch on one thread.
// Robust to a side's outliers: `--rounds` rounds, each measuring every layer on both sides and thread counts (ours
// and PyTorch alternated, the order swapped every round, PyTorch in a fresh process each round); a layer's figure
// is the median of its round medians, the rounds' spread (max / min) is reported, and a layer whose spread exceeds
// 1.5× on either side is listed as unstable. CPU milliseconds per step are reported beside the wall time (on one
// thread they are what a loaded machine cannot inflate by preemption).
// Ours runs the path the policy runs: activations, their gradients and the residual live in the kernels' own
// memory (transient, as the trunk's inner activations are), so the convolution reads and writes them in place;
// the first convolution reads the observation (an ordinary array) and takes no input gradient, on both sides;
// the last stage's residual convolution carries the trunk's final ReLU (fused in ours, a separate op in PyTorch).
import { formatNumber, formatTable, printJson } from "../src/cli/output.js";
import { ConfigError } from "../src/core/errors.js";
import { conv2d } from "../src/core/ops/conv.js";
import { kernels } from "../src/core/kernels/index.js";
import { Rng } from "../src/core/rng.js";
import { acquireResident } from "../src/core/pool.js";
import { type Tensor, releaseBuffer, tensor } from "../src/core/tensor.js";
import { makeVecEnv } from "../src/envs/make.js";
import { pooledSize } from "../src/nn/models/cnn_policy.js";
import { createPolicy } from "../src/nn/models/policy.js";
import { convolutionsOf, median, runPeer, torchMissing } from "./peer.js";
import type { Benchmark } from "./registry.js";

/** One convolution of the policy: 3×3, padding 1, bias, with the fusions it runs with. */
interface LayerSpec {
  name: string;
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  relu_in: boolean;
  relu: boolean;
  residual: boolean;
  /** whether the layer's input needs a gradient (not the first layer: it reads the observation) */
  input_grad: boolean;
}

/** The policy's convolutions on `env`'s observations, at batch size n. */
function policyLayers(env: string, n: number): LayerSpec[] {
  const venv = makeVecEnv(env, { n: 1 });
  const [c0, h0, w0] = venv.obsShape as [number, number, number];
  const policy = createPolicy({ kind: "cnn", obsShape: [c0, h0, w0], numActions: venv.numActions }, new Rng(1));
  const stages = policy.spec.hidden.slice(0, -1);
  const layers: LayerSpec[] = [];
  let [c, h, w] = [c0, h0, w0];
  stages.forEach((o, s) => {
    const at = `${env} stages.${s}`;
    const last = s === stages.length - 1;
    layers.push({ name: `${at}.conv`, n, c, h, w, o, relu_in: false, relu: false, residual: false, input_grad: s > 0 });
    [h, w] = [pooledSize(h), pooledSize(w)];
    layers.push({ name: `${at}.block.conv0`, n, c: o, h, w, o, relu_in: true, relu: true, residual: false, input_grad: true });
    layers.push({ name: `${at}.block.conv1`, n, c: o, h, w, o, relu_in: false, relu: last, residual: true, input_grad: true });
    c = o;
  });
  return layers;
}

/** `values` copied into the kernels' memory (a transient activation's buffer; an ordinary array without wasm). */
function resident(values: Float32Array): Float32Array {
  const out = acquireResident(values.length, false);
  out.set(values);
  return out;
}

/** Median wall and CPU milliseconds of one step (a round's figure for one layer and thread count). */
interface StepTimes {
  ms: number;
  cpu_ms: number;
}

/**
 * Median ms (wall and CPU) of one forward + backward through our conv2d op (tape included), over ≥ 0.4 s and ≥ 5 runs, with the
 * buffers where the policy has them: input, residual, output and their gradients resident (the output transient,
 * its buffer back to the pool when backward frees the graph; the gradients of input and residual fresh and zeroed
 * each step, as backward gives a non-leaf activation).
 */
function oursMs(spec: LayerSpec): StepTimes {
  const rng = new Rng(0, spec.name);
  const rand = (len: number): Float32Array => rng.fillUniform(new Float32Array(len), -1, 1) as Float32Array;
  const inShape = [spec.n, spec.c, spec.h, spec.w];
  const outShape = [spec.n, spec.o, spec.h, spec.w];
  const outLen = spec.n * spec.o * spec.h * spec.w;
  const x = spec.input_grad ? tensor(resident(rand(spec.n * spec.c * spec.h * spec.w)), inShape).requireGrad() : tensor(rand(spec.n * spec.c * spec.h * spec.w), inShape);
  const weight = tensor(rand(spec.o * spec.c * 9), [spec.o, spec.c, 3, 3]).requireGrad();
  const bias = tensor(rand(spec.o), [spec.o]).requireGrad();
  const residual = spec.residual ? tensor(resident(rand(outLen)), outShape).requireGrad() : null;
  const gy = rand(outLen);
  const freshGrad = (t: Tensor | null): void => {
    if (t !== null && t.requiresGrad) t.grad = tensor(acquireResident(t.data.length, true), t.shape);
  };
  const dropGrad = (t: Tensor | null): void => {
    if (t !== null && t.grad !== null) releaseBuffer(t.grad.data);
  };
  const step = (): void => {
    weight.grad = bias.grad = null;
    freshGrad(x);
    freshGrad(residual);
    conv2d(x, weight, bias, { padding: 1, reluInput: spec.relu_in, relu: spec.relu, residual, transient: true }).backward(gy);
    dropGrad(x);
    dropGrad(residual);
    x.grad = null;
    if (residual) residual.grad = null;
  };
  for (let i = 0; i < 3; i++) step();
  const times: number[] = [];
  const cpu: number[] = [];
  const start = performance.now();
  while (times.length < 5 || performance.now() - start < 400) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    step();
    const c = process.cpuUsage(c0);
    times.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { ms: median(times), cpu_ms: median(cpu) };
}

/** A layer's figures over rounds for one side and thread count: the median of the round medians and their spread. */
function overRounds(rounds: readonly StepTimes[]): { ms: number; cpu_ms: number; spread: number; rounds_ms: number[] } {
  const ms = rounds.map((r) => r.ms);
  return { ms: median(ms), cpu_ms: median(rounds.map((r) => r.cpu_ms)), spread: Math.max(...ms) / Math.min(...ms), rounds_ms: ms };
}

/** A round's spread above which a layer's figure is called unstable. */
const UNSTABLE_SPREAD = 1.5;

const option = (args: readonly string[], name: string, fallback: string): string => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback;

export const benchmark: Benchmark = {
  description: "conv2d forward + backward for the CNN policy's layer shapes: ours vs PyTorch, one and two threads",
  async run({ json, args }) {
    const envs = option(args, "envs", "coin-run,maze-cheese").split(",");
    const batch = Number(option(args, "batch", "2048"));
    const roundCount = Number(option(args, "rounds", "3"));
    if (!Number.isInteger(roundCount) || roundCount < 1) throw new ConfigError(`bench conv: --rounds must be a positive integer, got ${option(args, "rounds", "3")}`, "pass e.g. --rounds=3");
    const layers = envs.flatMap((env) => policyLayers(env, batch));
    const skipped = torchMissing() ?? null;
    // per layer, per side, per thread count: one StepTimes per round
    const ours: Record<string, Record<string, StepTimes[]>> = {};
    const torch: Record<string, Record<string, StepTimes[]>> = {};
    const measureOurs = (threads: number): void => {
      kernels().setThreads(threads);
      for (const spec of layers) ((ours[spec.name] ??= {})[`t${threads}`] ??= []).push(oursMs(spec));
    };
    const measureTorch = (threads: number): void => {
      if (skipped !== null) return;
      const r = runPeer<{ layers: Record<string, Record<string, number>> }>("conv_torch.py", [JSON.stringify(layers), String(threads)]);
      if ("skipped" in r) throw new Error(r.skipped);
      for (const [name, byThreads] of Object.entries(r.layers)) {
        ((torch[name] ??= {})[`t${threads}`] ??= []).push({ ms: byThreads[`t${threads}`]!, cpu_ms: byThreads[`t${threads}_cpu`]! });
      }
    };
    for (let round = 0; round < roundCount; round++) {
      for (const threads of [1, 2]) {
        // alternated, the order swapped every round, so a slow spell of the machine does not fall on one side
        if (round % 2 === 0) {
          measureOurs(threads);
          measureTorch(threads);
        } else {
          measureTorch(threads);
          measureOurs(threads);
        }
        if (!json) process.stderr.write(`round ${round + 1}/${roundCount}: measured ${layers.length} layers on ${threads} thread(s)\n`);
      }
    }
    const rows = layers.map((spec) => {
      const o1 = overRounds(ours[spec.name]!.t1!), o2 = overRounds(ours[spec.name]!.t2!);
      const t = torch[spec.name];
      const t1 = t ? overRounds(t.t1!) : null, t2 = t ? overRounds(t.t2!) : null;
      const oursBest = Math.min(o1.ms, o2.ms);
      const torchBest = t1 && t2 ? Math.min(t1.ms, t2.ms) : null;
      return {
        layer: spec.name,
        shape: `[${spec.n}, ${spec.c}, ${spec.h}, ${spec.w}] → ${spec.o}`,
        fusion: [spec.relu_in ? "relu(x)" : "", spec.residual ? "+res" : "", spec.relu ? "relu" : "", spec.input_grad ? "" : "no dx"].filter(Boolean).join(" ") || "bias",
        ours_ms: o1.ms,
        torch_ms: t1?.ms ?? null,
        /** ours / PyTorch on one thread (the target: ≤ 1.5) */
        ratio: t1 ? o1.ms / t1.ms : null,
        ours_ms_t1: o1.ms,
        ours_ms_t2: o2.ms,
        torch_ms_t1: t1?.ms ?? null,
        torch_ms_t2: t2?.ms ?? null,
        /** CPU ms per step on one thread (both sides' processes) and their ratio */
        ours_cpu_ms_t1: o1.cpu_ms,
        torch_cpu_ms_t1: t1?.cpu_ms ?? null,
        ratio_cpu: t1 ? o1.cpu_ms / t1.cpu_ms : null,
        ours_best_ms: oursBest,
        torch_best_ms: torchBest,
        /** ours / PyTorch, each at its best thread count */
        ratio_best: torchBest === null ? null : oursBest / torchBest,
        /** max / min of the round medians, per side and thread count */
        spread: { ours_t1: o1.spread, ours_t2: o2.spread, torch_t1: t1?.spread ?? null, torch_t2: t2?.spread ?? null },
        rounds_ms: { ours_t1: o1.rounds_ms, ours_t2: o2.rounds_ms, torch_t1: t1?.rounds_ms ?? null, torch_t2: t2?.rounds_ms ?? null },
      };
    });
    const unstable = rows
      .filter((r) => Object.values(r.spread).some((v) => v !== null && v > UNSTABLE_SPREAD))
      .map((r) => ({ layer: r.layer, spread: r.spread }));
    const within = rows.filter((r) => r.ratio !== null && r.ratio <= 1.5).length;
    const withinBest = rows.filter((r) => r.ratio_best !== null && r.ratio_best <= 1.5).length;
    const result = {
      batch,
      rounds: roundCount,
      ours_backend: kernels().name,
      /** what our convolutions ran on (blas: oneDNN when the system has it, MESA_ONEDNN=0 turns it off) */
      ours_convolutions: convolutionsOf(kernels()),
      layers: rows,
      /** layers within 1.5× of PyTorch with each side at its best thread count */
      within_1_5x_best: skipped === null ? withinBest : null,
      /** layers whose round medians spread more than 1.5× on a side (figures to read with care) */
      unstable,
      /** layers within 1.5× of PyTorch on one thread, of all layers */
      within_1_5x_t1: skipped === null ? within : null,
      layer_count: rows.length,
      skipped,
    };
    if (json) {
      printJson(result);
      return;
    }
    const f = (v: number | null): string => (v === null ? "–" : formatNumber(v));
    process.stdout.write(`${formatTable(
      ["layer", "input → out channels", "fused", "ours t1 ms", "torch t1 ms", "ours/torch t1", "CPU ratio t1", "ours t2", "torch t2", "ours/torch best"],
      rows.map((r) => [r.layer, r.shape, r.fusion, f(r.ours_ms), f(r.torch_ms), f(r.ratio), f(r.ratio_cpu), f(r.ours_ms_t2), f(r.torch_ms_t2), f(r.ratio_best)]),
    )}\n`);
    process.stdout.write(`ours: ${result.ours_backend} backend, ${result.ours_convolutions}\n`);
    if (skipped === null) {
      process.stdout.write(`${within} of ${rows.length} layers within 1.5× of PyTorch on one thread; ${withinBest} with each side at its best thread count (medians of ${roundCount} rounds)\n`);
      for (const u of unstable) {
        const sides = Object.entries(u.spread).filter(([, v]) => v !== null && v > UNSTABLE_SPREAD).map(([k, v]) => `${k} ${formatNumber(v!)}×`).join(", ");
        process.stdout.write(`unstable: ${u.layer} (round medians spread ${sides})\n`);
      }
    }
    if (skipped !== null) process.stdout.write(`PyTorch skipped: ${skipped}\n`);
  },
};
