// `npm run bench -- wasm-threads`: where a second thread pays for the wasm matmul. Times the RL-sized training step
// (core's rl_step) on the wasm backend on one thread and on two threads at several parallel thresholds, plus the
// RL layer shapes and a 256×512×256 product alone, so WASM_PARALLEL_MIN_FLOPS can be chosen from measurements.
import { loadavg } from "node:os";
import { formatTable, printJson } from "../src/cli/output.js";
import { setBackend } from "../src/core/kernels/index.js";
import { WASM_PARALLEL_MIN_FLOPS, type WasmBackend } from "../src/core/kernels/wasm.js";
import type { MatmulArgs } from "../src/core/kernels/types.js";
import { Rng } from "../src/core/rng.js";
import { rlStep, timeBest } from "./core.js";
import type { Benchmark } from "./registry.js";

const THRESHOLDS = [1 << 21, 1 << 23, WASM_PARALLEL_MIN_FLOPS];
const PRODUCTS: readonly [string, MatmulArgs][] = [
  ["x·W1ᵀ 2048×162→64", { m: 2048, n: 64, k: 162, transA: false, transB: true }],
  ["gᵀx 64×2048→162 (dW1)", { m: 64, n: 162, k: 2048, transA: true, transB: false }],
  ["g·W1 2048×64→162 (dx)", { m: 2048, n: 162, k: 64, transA: false, transB: false }],
  ["256×512×256", { m: 256, n: 256, k: 512, transA: false, transB: false }],
];

export const benchmark: Benchmark = {
  description: "wasm matmul on one vs two threads at several parallel thresholds (RL step and its products)",
  async run({ json }) {
    const wasm = setBackend("wasm") as WasmBackend;
    const configs: [string, number, number][] = [["t1", 1, Infinity], ...THRESHOLDS.map((t): [string, number, number] => [`t2 ≥ ${t / 2 ** 20} MFLOP`, 2, t])];
    const set = (threads: number, minFlops: number): void => {
      wasm.setThreads(threads);
      wasm.parallelMinFlops = minFlops;
    };
    const results: Record<string, Record<string, number>> = {};
    const step = rlStep();
    for (const [name, threads, minFlops] of configs) {
      set(threads, minFlops);
      (results.rl_step_ms ??= {})[name] = timeBest(step, { warmup: 10, reps: 20, rounds: 5 }).wall;
    }
    const rng = new Rng(5, "bench-wasm-threads");
    for (const [label, args] of PRODUCTS) {
      const a = rng.fillUniform(new Float32Array(args.m * args.k), -1, 1) as Float32Array;
      const b = rng.fillUniform(new Float32Array(args.k * args.n), -1, 1) as Float32Array;
      const c = new Float32Array(args.m * args.n);
      for (const [name, threads, minFlops] of configs) {
        set(threads, minFlops);
        (results[`${label} µs`] ??= {})[name] = 1000 * timeBest(() => wasm.matmul(a, b, c, args), { warmup: 20, reps: 50, rounds: 7 }).wall;
      }
    }
    set(1, WASM_PARALLEL_MIN_FLOPS);
    if (json) {
      printJson({ default_parallel_min_flops: WASM_PARALLEL_MIN_FLOPS, load_average: loadavg()[0], results });
      return;
    }
    const names = configs.map(([n]) => n);
    process.stdout.write(`${formatTable(["figure (best of rounds)", ...names], Object.entries(results).map(([k, v]) => [k, ...names.map((n) => v[n]!)]))}\n`);
    process.stdout.write(`default threshold: ${WASM_PARALLEL_MIN_FLOPS / 2 ** 20} MFLOP; load average ${loadavg()[0]!.toFixed(1)} (noisy when other work runs)\n`);
  },
};
