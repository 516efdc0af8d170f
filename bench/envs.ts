// `npm run bench -- envs [--json] [--seconds=S]`: environment steps per second for every registered environment
// at n = 1, 64, 1024, 4096 copies, with pre-generated random actions and observations written, on one thread
// and on all cores (worker_threads, one engine per worker, each on its own env indices). Best of 3 repeats.
import { availableParallelism } from "node:os";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { Rng } from "../src/core/rng.js";
import { environments } from "../src/envs/registry.js";
import { makeVecEnv } from "../src/envs/make.js";
import { formatTable, printJson } from "../src/cli/output.js";
import type { Benchmark } from "./registry.js";

const SIZES = [1, 64, 1024, 4096] as const;
const REPEATS = 3;
/** distinct pre-generated action batches cycled through (random actions without an Rng call per step) */
const ACTION_BATCHES = 64;

interface Job {
  env: string;
  n: number;
  indexOffset: number;
  seconds: number;
}

interface Result {
  /** env steps (copies × batch steps) */
  steps: number;
  seconds: number;
}

/** Steps one engine for about `seconds` with random actions; returns the steps done and the time taken. */
function measure(job: Job): Result {
  const env = makeVecEnv(job.env, { n: job.n, indexOffset: job.indexOffset });
  env.reset(1);
  const rng = new Rng(7, job.indexOffset);
  const all = new Int32Array(ACTION_BATCHES * job.n);
  for (let k = 0; k < all.length; k++) all[k] = rng.int(env.numActions);
  const batches = Array.from({ length: ACTION_BATCHES }, (_, k) => all.subarray(k * job.n, (k + 1) * job.n));
  // warm up the JIT, then time whole chunks of steps so the clock is read rarely
  for (let t = 0; t < 2000 / Math.sqrt(job.n); t++) env.step(batches[t % ACTION_BATCHES]!);
  const chunk = Math.max(1, Math.round(8192 / job.n));
  let batchSteps = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let c = 0; c < chunk; c++) env.step(batches[batchSteps++ % ACTION_BATCHES]!);
    elapsed = (performance.now() - start) / 1000;
  } while (elapsed < job.seconds);
  return { steps: batchSteps * job.n, seconds: elapsed };
}

function singleThread(env: string, n: number, seconds: number): number {
  let best = 0;
  for (let r = 0; r < REPEATS; r++) {
    const { steps, seconds: s } = measure({ env, n, indexOffset: 0, seconds });
    best = Math.max(best, steps / s);
  }
  return best;
}

/** All workers step their own engine at once; aggregate = total steps / the slowest worker's time. */
async function allCores(workers: Worker[], env: string, n: number, seconds: number): Promise<number> {
  let best = 0;
  for (let r = 0; r < REPEATS; r++) {
    const results = await Promise.all(
      workers.map(
        (w, k) =>
          new Promise<Result>((resolve, reject) => {
            w.once("message", resolve);
            w.once("error", reject);
            w.postMessage({ env, n, indexOffset: k * n, seconds } satisfies Job);
          }),
      ),
    );
    const steps = results.reduce((a, b) => a + b.steps, 0);
    const slowest = Math.max(...results.map((x) => x.seconds));
    best = Math.max(best, steps / slowest);
  }
  return best;
}

export const benchmark: Benchmark = {
  description: "environment steps/s per env at n = 1, 64, 1024, 4096 (random actions, observations written), one thread and all cores",
  async run({ json, args }) {
    const flag = args.find((a) => a.startsWith("--seconds="));
    const seconds = flag ? Number(flag.slice("--seconds=".length)) : 0.5;
    if (!(seconds > 0)) throw new RangeError(`--seconds= must be a positive number, got ${flag}`);
    const cores = availableParallelism();
    const workers = Array.from({ length: cores }, () => new Worker(new URL(import.meta.url), { workerData: { envBenchWorker: true } }));
    const out: Record<string, Record<string, { single_thread: number; all_cores: number }>> = {};
    const rows: (string | number)[][] = [];
    try {
      // the AI Safety Gridworlds ports have their own benchmark beside the original (`npm run bench -- aisg`)
      for (const env of Object.keys(environments).filter((name) => !name.startsWith("aisg/"))) {
        out[env] = {};
        for (const n of SIZES) {
          const single = singleThread(env, n, seconds);
          const all = await allCores(workers, env, n, seconds);
          out[env]![String(n)] = { single_thread: Math.round(single), all_cores: Math.round(all) };
          rows.push([env, n, (single / 1e6).toFixed(2), (all / 1e6).toFixed(2), (all / single).toFixed(2)]);
          if (!json) process.stderr.write(`  ${env} n=${n}: ${(single / 1e6).toFixed(2)}M / ${(all / 1e6).toFixed(2)}M steps/s\n`);
        }
      }
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    if (json) {
      printJson(out);
      return;
    }
    process.stdout.write(`${formatTable(["env", "n", "single thread M steps/s", `all ${cores} cores M steps/s`, "speed-up"], rows)}\n`);
    process.stdout.write(`best of ${REPEATS} runs of ${seconds}s each; figures are noisy when other work shares the cores\n`);
  },
};

// worker side: answer each job with a measurement
if (!isMainThread && (workerData as { envBenchWorker?: boolean } | undefined)?.envBenchWorker) {
  parentPort!.on("message", (job: Job) => parentPort!.postMessage(measure(job)));
}
