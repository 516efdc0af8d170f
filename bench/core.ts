// `npm run bench -- core [--json]`: the numeric core against PyTorch on the same machine and thread counts —
// matmul GFLOP/s (NN/NT/TN at 1024³ and 256×512×256, sizes written m×k×n), an MLP training step (batch 1024,
// 512-256-256-16, tanh, MSE, Adam), a small RL step (batch 2048, obs 162: PPO's own `--model mlp` policy — its
// actor and critic towers, 64-64 tanh — with a PPO-style loss and Adam) and one attention layer forward+backward
// (batch 256, seq 32, width 32, 4 heads).
// Each backend runs in its own child process (`--backend=NAME`), so JIT state, memory and BLAS threads never
// leak between them; the blas child and the PyTorch peer run with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE removed
// from their environment so OpenBLAS picks its best kernel for this CPU in both. Timings are the best of
// several rounds (other processes share this machine's cores).
import { spawnSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { formatNumber, formatTable, log, printJson } from "../src/cli/output.js";
import { getBackend, setBackend, backendUnavailable, type BackendName } from "../src/core/kernels/index.js";
import { Rng } from "../src/core/rng.js";
import { Tensor, intTensor } from "../src/core/tensor.js";
import { Attention } from "../src/nn/attention.js";
import { MLP } from "../src/nn/mlp.js";
import "../src/nn/models/mlp_policy.js";
import { createPolicy } from "../src/nn/models/policy.js";
import { Adam } from "../src/optim/adam.js";
import type { Benchmark } from "./registry.js";

/** one backend's (or PyTorch's) figures, keyed as in the JSON output */
export interface CoreFigures {
  matmul_gflops: Record<string, number>;
  /** one thread only: flops per CPU-second (process CPU time), robust to other processes sharing the cores */
  matmul_gflops_cpu?: Record<string, number>;
  [key: string]: number | Record<string, number> | undefined;
}

const BACKENDS: readonly BackendName[] = ["js", "wasm", "blas"];
/** [m, k, n] */
const MATMUL_SIZES: readonly (readonly [number, number, number])[] = [[1024, 1024, 1024], [256, 512, 256]];
const VARIANTS = [["nn", false, false], ["nt", false, true], ["tn", true, false]] as const;
const RL_ACTIONS = 15;
/** Matmuls above this many flops are left out for js (it runs ~1.5 GFLOP/s; 1024³ would take seconds per call). */
const JS_MAX_MATMUL_FLOPS = 2e8;

/**
 * Best over `rounds` of the mean wall time (ms) of `reps` calls after `warmup` calls, and likewise the best mean
 * CPU time of the whole process (all threads, so it only means "work done" for one-thread runs).
 */
export function timeBest(fn: () => void, options: { warmup: number; reps: number; rounds: number }): { wall: number; cpu: number } {
  for (let i = 0; i < options.warmup; i++) fn();
  let wall = Infinity;
  let cpu = Infinity;
  for (let r = 0; r < options.rounds; r++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < options.reps; i++) fn();
    wall = Math.min(wall, (performance.now() - t0) / options.reps);
    const used = process.cpuUsage(cpu0);
    cpu = Math.min(cpu, (used.user + used.system) / 1000 / options.reps);
  }
  return { wall, cpu };
}

/** Repetitions so one round takes ~`targetMs` given a rough per-call estimate. */
function repsFor(estimateMs: number, targetMs: number): number {
  return Math.max(1, Math.min(200, Math.round(targetMs / Math.max(estimateMs, 1e-3))));
}

function measureMatmul(name: BackendName, threadCounts: readonly number[], out: Record<string, CoreFigures>): void {
  const backend = getBackend(name);
  const rng = new Rng(1, "bench-core-matmul");
  for (const threads of threadCounts) {
    backend.setThreads(threads);
    const figures = (out[`t${threads}`] ??= { matmul_gflops: {} });
    for (const [m, k, n] of MATMUL_SIZES) {
      const flops = 2 * m * n * k;
      if (name === "js" && flops > JS_MAX_MATMUL_FLOPS) continue;
      const a = rng.fillUniform(new Float32Array(m * k), -1, 1) as Float32Array;
      const b = rng.fillUniform(new Float32Array(k * n), -1, 1) as Float32Array;
      const c = new Float32Array(m * n);
      for (const [variant, transA, transB] of VARIANTS) {
        const call = (): void => backend.matmul(a, b, c, { m, n, k, transA, transB });
        const t0 = performance.now();
        call();
        const reps = repsFor(performance.now() - t0, 300);
        const { wall, cpu } = timeBest(call, { warmup: 1, reps, rounds: 5 });
        figures.matmul_gflops[`${variant}_${m}x${k}x${n}`] = flops / wall / 1e6;
        if (threads === 1) (figures.matmul_gflops_cpu ??= {})[`${variant}_${m}x${k}x${n}`] = flops / cpu / 1e6;
      }
    }
  }
}

/** A training or fwd+bwd step to time. */
export type Step = () => void;

function mlpStep(): Step {
  const rng = new Rng(2, "bench-core-mlp");
  const model = new MLP([512, 256, 256, 16], rng, { activation: "tanh" });
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const x = new Tensor(rng.fillNormal(new Float32Array(1024 * 512)) as Float32Array, [1024, 512]);
  const y = new Tensor(rng.fillNormal(new Float32Array(1024 * 16)) as Float32Array, [1024, 16]);
  return () => {
    model.zeroGrad();
    const loss = model.forward(x).sub(y).square().mean();
    loss.backward();
    opt.step();
  };
}

/** The step PPO's update repeats, on the very policy class `mesa train --model mlp` trains. */
export function rlStep(): Step {
  const rng = new Rng(3, "bench-core-rl");
  const B = 2048;
  const policy = createPolicy({ kind: "mlp", obsShape: [162], numActions: RL_ACTIONS, hidden: [64, 64] }, rng);
  const opt = new Adam(policy.parameters(), { lr: 2.5e-4, eps: 1e-5 });
  const obs = new Tensor(rng.fillNormal(new Float32Array(B * 162)) as Float32Array, [B, 162]);
  const actions = intTensor(Int32Array.from({ length: B }, () => rng.int(RL_ACTIONS)));
  const advantages = new Tensor(rng.fillNormal(new Float32Array(B)) as Float32Array, [B]);
  const returns = new Tensor(rng.fillNormal(new Float32Array(B)) as Float32Array, [B, 1]);
  return () => {
    policy.zeroGrad();
    const { logits, value } = policy.forward(obs);
    const logp = logits.logSoftmax(-1); // [B, A]
    const policyLoss = logp.gather(actions).mul(advantages).mean().neg();
    const entropy = logp.exp().mul(logp).sum(-1).mean().neg();
    const valueLoss = value.sub(returns).square().mean();
    const loss = policyLoss.add(valueLoss.mul(0.5)).sub(entropy.mul(0.01));
    loss.backward();
    opt.step();
  };
}

function attentionStep(): Step {
  const rng = new Rng(4, "bench-core-attention");
  const layer = new Attention({ dModel: 32, nHeads: 4 }, rng);
  const x = new Tensor(rng.fillNormal(new Float32Array(256 * 32 * 32)) as Float32Array, [256, 32, 32]);
  return () => {
    layer.zeroGrad();
    layer.forward(x).square().mean().backward();
  };
}

/** `mlp_step_ms` → `mlp_step_cpu_ms`: the one-thread CPU time of the same step */
const cpuKey = (key: string): string => key.replace(/_ms$/, "_cpu_ms");

const STEPS: readonly [string, () => Step][] = [["mlp_step_ms", mlpStep], ["rl_step_ms", rlStep], ["attention_step_ms", attentionStep]];

function measureSteps(name: BackendName, threadCounts: readonly number[], out: Record<string, CoreFigures>): void {
  const backend = setBackend(name);
  for (const threads of threadCounts) {
    backend.setThreads(threads);
    const figures = (out[`t${threads}`] ??= { matmul_gflops: {} });
    for (const [key, make] of STEPS) {
      const step = make();
      const t0 = performance.now();
      step();
      const reps = repsFor(performance.now() - t0, name === "js" ? 1500 : 400);
      const { wall, cpu } = timeBest(step, { warmup: 1, reps, rounds: name === "js" ? 2 : 5 });
      figures[key] = wall;
      if (threads === 1) figures[cpuKey(key)] = cpu;
    }
  }
}

/** Merges per-thread-count figures into one entry: one-thread keys plain, two-thread keys with `_t2`. */
function mergeThreads(byThreads: Record<string, CoreFigures>): CoreFigures {
  const merged: CoreFigures = { matmul_gflops: {} };
  for (const [tag, figures] of Object.entries(byThreads)) {
    const suffix = tag === "t1" ? "" : `_${tag}`;
    for (const [key, value] of Object.entries(figures.matmul_gflops)) merged.matmul_gflops[`${key}_${tag}`] = value;
    for (const [key, value] of Object.entries(figures.matmul_gflops_cpu ?? {})) (merged.matmul_gflops_cpu ??= {})[`${key}_${tag}`] = value;
    for (const [key, value] of Object.entries(figures)) if (typeof value === "number") merged[`${key}${suffix}`] = value;
  }
  return merged;
}

/** Child mode: measure one backend in this process and print its figures as JSON. */
function runChild(name: BackendName): void {
  const reason = backendUnavailable(name);
  if (reason !== undefined) {
    printJson({ skipped: reason });
    return;
  }
  const threadCounts = name === "js" ? [1] : [1, 2];
  const byThreads: Record<string, CoreFigures> = {};
  measureMatmul(name, threadCounts, byThreads);
  measureSteps(name, threadCounts, byThreads);
  printJson(mergeThreads(byThreads));
}

/** The environment without the variables that pin OpenBLAS to a slower kernel. */
function blasEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

function runChildProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv): { figures?: CoreFigures; skipped?: string } {
  const r = spawnSync(command, args, { encoding: "utf8", env, maxBuffer: 1 << 24 });
  if (r.error) return { skipped: `${command} could not run: ${r.error.message}` };
  if (r.status !== 0) return { skipped: `${command} ${args.join(" ")} failed (exit ${r.status}): ${r.stderr.trim().split("\n").slice(-3).join(" | ")}` };
  const parsed = JSON.parse(r.stdout) as CoreFigures & { skipped?: string };
  return parsed.skipped !== undefined ? { skipped: parsed.skipped } : { figures: parsed };
}

function runAll(json: boolean): void {
  const result: Record<string, CoreFigures | Record<string, string>> = {};
  const skipped: Record<string, string> = {};
  const mainJs = process.argv[1]!;
  for (const name of BACKENDS) {
    if (!json) log(`[core] measuring ${name}…`);
    const env = name === "blas" ? blasEnv() : process.env;
    const r = runChildProcess(process.execPath, [mainJs, "core", `--backend=${name}`, "--json"], env);
    if (r.figures) result[name] = r.figures;
    else skipped[name] = r.skipped!;
  }
  if (!json) log("[core] measuring torch…");
  const peer = fileURLToPath(new URL("../../bench/peers/core_torch.py", import.meta.url));
  const torch = runChildProcess("/usr/bin/python3", [peer, "--json"], blasEnv());
  if (torch.figures) result.torch = torch.figures;
  else skipped.torch = torch.skipped!;
  if (Object.keys(skipped).length > 0) result.skipped = skipped;
  if (json) {
    printJson(result);
    return;
  }
  printTable(result as Record<string, CoreFigures>, skipped);
}

function printTable(result: Record<string, CoreFigures>, skipped: Record<string, string>): void {
  const columns = [...BACKENDS, "torch"].filter((name) => result[name] !== undefined);
  const ours = BACKENDS.filter((name) => result[name] !== undefined);
  const torch = result.torch;
  const rows: (string | number)[][] = [];
  const cell = (v: number | undefined): string => (v === undefined ? "-" : formatNumber(Number(v.toPrecision(4))));
  // speed relative to PyTorch: > 1 means faster than PyTorch
  const ratio = (ourValue: number | undefined, torchValue: number | undefined, higherIsBetter: boolean): string =>
    ourValue === undefined || torchValue === undefined ? "-" : `${(higherIsBetter ? ourValue / torchValue : torchValue / ourValue).toFixed(2)}×`;
  const matmulKeys: string[] = [];
  for (const tag of ["t1", "t2"]) {
    for (const [m, k, n] of MATMUL_SIZES) for (const [variant] of VARIANTS) matmulKeys.push(`${variant}_${m}x${k}x${n}_${tag}`);
  }
  const matmulRow = (label: string, pick: (f: CoreFigures) => number | undefined): void => {
    rows.push([label, ...columns.map((name) => cell(pick(result[name]!))), ...ours.map((name) => ratio(pick(result[name]!), torch && pick(torch), true))]);
  };
  const stepRow = (label: string, key: string): void => {
    const pick = (f: CoreFigures): number | undefined => f[key] as number | undefined;
    rows.push([label, ...columns.map((name) => cell(pick(result[name]!))), ...ours.map((name) => ratio(pick(result[name]!), torch && pick(torch), false))]);
  };
  for (const key of matmulKeys) matmulRow(`matmul ${key} GFLOP/s`, (f) => f.matmul_gflops[key]);
  for (const [key] of STEPS) for (const suffix of ["", "_t2"]) stepRow(`${key.replace(/_ms$/, "")}${suffix} ms`, `${key}${suffix}`);
  // one-thread figures per CPU-second: what a core does, whatever else shares the machine
  for (const key of matmulKeys.filter((k) => k.endsWith("_t1"))) matmulRow(`matmul ${key} GFLOP/CPU-s`, (f) => f.matmul_gflops_cpu?.[key]);
  for (const [key] of STEPS) stepRow(`${key.replace(/_ms$/, "")} CPU-ms`, cpuKey(key));
  process.stdout.write(`${formatTable(["figure", ...columns, ...ours.map((name) => `${name} vs torch`)], rows)}\n`);
  process.stdout.write(
    "(vs torch: speed relative to PyTorch at the same thread count, > 1× is faster; best of 5 rounds on a shared machine;\n" +
      " CPU rows: one thread, process CPU time, which other processes on the machine do not inflate)\n",
  );
  const [load1] = loadavg();
  if (load1 !== undefined && load1 > availableParallelism() * 0.75) {
    process.stdout.write(`note: the machine was busy (load average ${load1.toFixed(1)} on ${availableParallelism()} CPUs); two-thread figures especially are lower bounds\n`);
  }
  for (const [name, reason] of Object.entries(skipped)) process.stdout.write(`skipped ${name}: ${reason}\n`);
}

export const benchmark: Benchmark = {
  description: "matmul GFLOP/s and MLP / RL / attention step times on js, wasm, blas and PyTorch, 1 and 2 threads",
  async run({ json, args }) {
    const child = args.find((a) => a.startsWith("--backend="))?.slice("--backend=".length);
    if (child !== undefined) {
      if (!(BACKENDS as readonly string[]).includes(child)) throw new Error(`--backend must be one of ${BACKENDS.join(", ")}, got ${child}`);
      runChild(child as BackendName);
      return;
    }
    runAll(json);
  },
};
