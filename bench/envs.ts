// `npm run bench -- envs [--json] [--seconds=0.5] [--threads=1,2]`: environment steps per second for every
// registered environment at n = 1, 64, 1024, 4096 copies (pre-generated random actions, observations written) at
// 1 and 2 threads — 1: this process; T > 1: T worker threads stepping at once, one engine each on its own env
// indices, the aggregate being all steps over the slowest worker's time — best of 3 repeats, each environment's
// headline at its best thread count. Then the comparison: coin-run's `small` levels against the numpy port of
// them that the PyTorch PPO peer trains on (bench/peers/envs_numpy.py, checked step by step against ours by
// test/rl/peer_env.test.ts; T > 1: T processes at once), the two sides interleaved at each thread count and each
// taken at its best. Progress goes to stderr, also with --json.
import { loadavg } from "node:os";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { Rng } from "../src/core/rng.js";
import { environments } from "../src/envs/registry.js";
import { makeVecEnv } from "../src/envs/make.js";
import { formatTable, printJson } from "../src/cli/output.js";
import { pythonModuleMissing, runPeer } from "./peer.js";
import type { Benchmark } from "./registry.js";

const SIZES = [1, 64, 1024, 4096] as const;
/** the comparison with the numpy port: its per-copy Python resets make n = 4096 a long wait for little news */
const PEER_SIZES = [1, 64, 1024] as const;
/** the comparison's headline: PPO's 64 copies */
const HEADLINE_N = 64;
const REPEATS = 3;
/** distinct pre-generated action batches cycled through (random actions without an Rng call per step) */
const ACTION_BATCHES = 64;

interface Job {
  env: string;
  distribution: string;
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
  const env = makeVecEnv(job.env, { n: job.n, indexOffset: job.indexOffset, distribution: job.distribution });
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

/** Best steps/s over REPEATS: in this process at one thread, else `threads` workers stepping at once. */
async function stepsPerSecond(workers: readonly Worker[], threads: number, job: Omit<Job, "indexOffset">): Promise<number> {
  let best = 0;
  for (let r = 0; r < REPEATS; r++) {
    if (threads === 1) {
      const { steps, seconds } = measure({ ...job, indexOffset: 0 });
      best = Math.max(best, steps / seconds);
      continue;
    }
    const results = await Promise.all(
      workers.slice(0, threads).map(
        (w, k) =>
          new Promise<Result>((resolve, reject) => {
            // the error listener goes when the answer comes, or every job would leave one behind on the worker
            w.once("error", reject);
            w.once("message", (result: Result) => {
              w.off("error", reject);
              resolve(result);
            });
            w.postMessage({ ...job, indexOffset: k * job.n } satisfies Job);
          }),
      ),
    );
    const steps = results.reduce((a, b) => a + b.steps, 0);
    best = Math.max(best, steps / Math.max(...results.map((x) => x.seconds)));
  }
  return best;
}

/** One side at every thread count, and its best. */
interface ByThreads {
  sps_by_threads: Record<string, number>;
  best_threads: number;
  sps: number;
}

function byThreads(figures: ReadonlyMap<number, number>): ByThreads {
  let bestThreads = 0;
  let bestSps = -1;
  for (const [t, sps] of figures) if (sps > bestSps) [bestThreads, bestSps] = [t, sps];
  return { sps_by_threads: Object.fromEntries([...figures].map(([t, sps]) => [String(t), Math.round(sps)])), best_threads: bestThreads, sps: Math.round(bestSps) };
}

function parseThreads(args: readonly string[]): number[] {
  const flag = args.find((a) => a.startsWith("--threads="))?.slice("--threads=".length) ?? "1,2";
  const counts = flag.split(",").map(Number);
  if (counts.length === 0 || counts.some((t) => !Number.isInteger(t) || t < 1 || t > 64)) throw new RangeError(`--threads= must list thread counts between 1 and 64, e.g. 1,2; got ${flag}`);
  return counts;
}

export const benchmark: Benchmark = {
  description: "environment steps/s per env at n = 1, 64, 1024, 4096 on 1 and 2 threads; coin-run small vs its numpy port",
  async run({ json, args }) {
    const flag = args.find((a) => a.startsWith("--seconds="));
    const seconds = flag ? Number(flag.slice("--seconds=".length)) : 0.5;
    if (!(seconds > 0)) throw new RangeError(`--seconds= must be a positive number, got ${flag}`);
    const threadCounts = parseThreads(args);
    const loadStart = loadavg()[0]!;
    const workers = Array.from({ length: Math.max(...threadCounts) > 1 ? Math.max(...threadCounts) : 0 }, () => new Worker(new URL(import.meta.url), { workerData: { envBenchWorker: true } }));
    const envs: Record<string, Record<string, ByThreads>> = {};
    const rows: (string | number)[][] = [];
    const mSteps = (sps: number): string => (sps / 1e6).toFixed(2);
    const skipped = pythonModuleMissing("numpy", "python3-numpy") ?? null;
    const peer: Record<string, { ours: ByThreads; numpy: ByThreads | null; sps_ratio: number | null }> = {};
    const peerRows: (string | number)[][] = [];
    try {
      // the AI Safety Gridworlds ports have their own benchmark beside the original (`npm run bench -- aisg`)
      for (const env of Object.keys(environments).filter((name) => !name.startsWith("aisg/"))) {
        envs[env] = {};
        for (const n of SIZES) {
          const figures = new Map<number, number>();
          for (const t of threadCounts) figures.set(t, await stepsPerSecond(workers, t, { env, distribution: "train", n, seconds }));
          const f = (envs[env]![String(n)] = byThreads(figures));
          rows.push([env, n, ...threadCounts.map((t) => mSteps(figures.get(t)!)), f.best_threads]);
          process.stderr.write(`  ${env} n=${n}: ${threadCounts.map((t) => `${mSteps(figures.get(t)!)}M (${t})`).join(" / ")} steps/s\n`);
        }
      }
      // coin-run small vs the numpy port, interleaved at each thread count
      for (const n of PEER_SIZES) {
        const ours = new Map<number, number>();
        const numpy = new Map<number, number>();
        for (const t of threadCounts) {
          ours.set(t, await stepsPerSecond(workers, t, { env: "coin-run", distribution: "small", n, seconds }));
          if (skipped === null) {
            const r = runPeer<{ sps: number }>("envs_numpy.py", ["--n", String(n), "--processes", String(t), "--seconds", String(seconds), "--repeats", String(REPEATS)]);
            if ("skipped" in r) throw new Error(r.skipped);
            numpy.set(t, r.sps);
          }
        }
        const o = byThreads(ours);
        const p = skipped === null ? byThreads(numpy) : null;
        peer[String(n)] = { ours: o, numpy: p, sps_ratio: p ? o.sps / p.sps : null };
        peerRows.push([n, ...threadCounts.map((t) => mSteps(ours.get(t)!)), ...threadCounts.map((t) => (p ? mSteps(numpy.get(t)!) : "–")), p ? `${(o.sps / p.sps).toFixed(1)}×` : "–"]);
        process.stderr.write(`  coin-run small n=${n}: ours ${mSteps(o.sps)}M (${o.best_threads}), numpy ${p ? `${mSteps(p.sps)}M (${p.best_threads})` : "skipped"}\n`);
      }
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    const head = peer[String(HEADLINE_N)]!;
    const result = {
      seconds,
      repeats: REPEATS,
      threads: threadCounts,
      load_average: [loadStart, loadavg()[0]!],
      envs,
      // the comparison: coin-run small at PPO's 64 copies, each side at its best thread count; all sizes under `peer`
      comparison: "coin-run small, ours vs the numpy port (bench/peers/envs_numpy.py)",
      headline_n: HEADLINE_N,
      ours_sps: head.ours.sps,
      numpy_sps: head.numpy?.sps ?? null,
      ours_threads: head.ours.best_threads,
      numpy_threads: head.numpy?.best_threads ?? null,
      sps_ratio: head.sps_ratio,
      peer,
      skipped,
    };
    if (json) {
      printJson(result);
      return;
    }
    process.stdout.write(`${formatTable(["env", "n", ...threadCounts.map((t) => `${t} thread${t > 1 ? "s" : ""} M steps/s`), "best threads"], rows)}\n`);
    process.stdout.write(`\ncoin-run small, ours vs the numpy port the PyTorch PPO peer steps (numpy: T processes for T threads)\n`);
    process.stdout.write(`${formatTable(["n", ...threadCounts.map((t) => `ours ${t}`), ...threadCounts.map((t) => `numpy ${t}`), "best vs best"], peerRows)}\n`);
    if (skipped !== null) process.stdout.write(`numpy skipped: ${skipped}\n`);
    process.stdout.write(`M steps/s, best of ${REPEATS} runs of ${seconds}s each; load average ${loadStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} (figures are noisy when other work shares the cores)\n`);
  },
};

// worker side: answer each job with a measurement
if (!isMainThread && (workerData as { envBenchWorker?: boolean } | undefined)?.envBenchWorker) {
  parentPort!.on("message", (job: Job) => parentPort!.postMessage(measure(job)));
}
