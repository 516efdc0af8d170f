// `npm run bench -- sweep [--json]`: what the sweep machinery costs and gains.
//  1. Throughput of the local pool on this machine: the same 8 training jobs (points-bug, its tuned PPO settings,
//     65,536 env steps, seeds 1–8) run one after another in one process through the library (at 1 and at 2 BLAS
//     threads; the faster is the baseline), one after another as `mesa train` processes, and on the pool with 1 and
//     2 processes — two rounds, interleaved, the fastest of each kept. Target: the 2-process pool at ≥ 1.8× the
//     baseline's jobs per minute.
//  2. Queue overhead per job: 16 tiny jobs through BullMQ on a local redis-server (one worker, one job at a time)
//     against the same jobs on a one-process local pool; on each side the wall-clock beyond the jobs' own seconds,
//     per job, and the difference. Target: < 50 ms.
// Every side runs with OPENBLAS_CORETYPE removed (it roughly halves OpenBLAS here); the load average is printed
// with the figures, since other work on the machine slows both sides.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { formatNumber, formatTable, printJson } from "../src/cli/output.js";
import { kernels } from "../src/core/kernels/index.js";
import { runLocalSweep } from "../src/sweep/local.js";
import { enqueueSweep, queueCounts, queueRecord, runQueueWorker } from "../src/sweep/queue.js";
import { type SweepPlan, type SweepSpecInput, parseSweepSpec, planSweep } from "../src/sweep/spec.js";
import { redisServerInstalled, startLocalRedis } from "./redis_server.js";
import type { Benchmark } from "./registry.js";

const JOBS = 8;
const STEPS = 65_536;
const QUEUE_JOBS = 16;
const ROUNDS = 2;

function trainingSpec(name: string, steps: number, seeds: number): SweepSpecInput {
  return { name, command: "train", base: { env: "points-bug", ppo: { totalTimesteps: steps, checkpointEvery: 0 } }, seeds };
}

async function plan(spec: SweepSpecInput): Promise<SweepPlan> {
  return planSweep(parseSweepSpec(spec), "bench spec");
}

/** The jobs one after another in this process, through the same library calls the pool's processes make. */
async function sequential(p: SweepPlan, dir: string, threads: number): Promise<{ seconds: number; returns: (number | null)[] }> {
  const backend = kernels();
  const before = backend.threads;
  backend.setThreads(threads);
  try {
    const t0 = performance.now();
    const returns: (number | null)[] = [];
    for (const job of p.jobs) {
      const runDir = await p.kind.run(job.config, p.options, { runsRoot: dir, onRunDir() {}, onProgress() {}, log() {} });
      returns.push(p.kind.collect(runDir, job.config, p.options)["charts/episodic_return"] ?? null);
    }
    return { seconds: (performance.now() - t0) / 1000, returns };
  } finally {
    backend.setThreads(before);
  }
}

async function pool(p: SweepPlan, dir: string, workers: number): Promise<{ seconds: number; returns: (number | null)[]; jobSeconds: number }> {
  const t0 = performance.now();
  const record = await runLocalSweep(p, { out: dir, workers });
  const seconds = (performance.now() - t0) / 1000;
  if (record.failed > 0) throw new Error(`pool run failed: ${record.results.find((r) => r.status === "failed")?.error}`);
  return { seconds, returns: record.results.map((r) => r.metrics?.["charts/episodic_return"] ?? null), jobSeconds: record.results.reduce((s, r) => s + (r.seconds ?? 0), 0) };
}

/** Each job as its own `mesa train` process, one after another (what a shell loop does). */
function cliLoop(dir: string): { seconds: number } {
  const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));
  const t0 = performance.now();
  for (let seed = 1; seed <= JOBS; seed++) {
    const r = spawnSync(process.execPath, [bin, "train", "--env", "points-bug", "--steps", String(STEPS), "--seed", String(seed), "--checkpoint-every", "0", "--out", dir, "--json"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`mesa train failed: ${r.stderr}`);
  }
  return { seconds: (performance.now() - t0) / 1000 };
}

/**
 * The plan's jobs through the queue: enqueue, one in-process worker (one job at a time), until the last completes.
 * Returns the wall-clock and the jobs' own seconds (measured in their processes, as the local pool reports them).
 */
async function throughQueue(url: string, p: SweepPlan, dir: string): Promise<{ seconds: number; jobSeconds: number }> {
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const stop = new AbortController();
  const t0 = performance.now();
  await enqueueSweep(redis, p);
  const worker = runQueueWorker({ url, concurrency: 1, out: dir, maxReturnBytes: 64 << 20, lockMs: 30_000, stalledMs: 30_000, maxStalled: 2, untilEmpty: false, signal: stop.signal, log() {} });
  let seconds = Number.NaN;
  for (;;) {
    const counts = await queueCounts(redis, p);
    if (counts.failed > 0) throw new Error("a queued job failed");
    if (counts.finished === p.jobs.length) {
      seconds = (performance.now() - t0) / 1000;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  stop.abort();
  await worker;
  const record = await queueRecord(redis, p, { display: url, sweepDir: dir, materialize: false });
  redis.disconnect();
  return { seconds, jobSeconds: record.results.reduce((s, r) => s + (r.seconds ?? 0), 0) };
}

type QueueFigures =
  | {
      jobs: number;
      local_pool_seconds: number;
      queue_seconds: number;
      /** per job, wall-clock beyond the jobs' own seconds: on the 1-process pool, and through the queue */
      pool_overhead_ms_per_job: number;
      queue_path_overhead_ms_per_job: number;
      /** what the queue adds per job: the difference of the two */
      overhead_ms_per_job: number;
    }
  | { skipped: string };

interface Figures {
  cores: number;
  backend: string;
  jobs: number;
  steps_per_job: number;
  rounds: number;
  load_average: { before: number; middle: number; after: number };
  sequential_in_process_seconds: { threads_1: number; threads_2: number };
  sequential_mesa_train_processes_seconds: number;
  pool_1_process_seconds: number;
  pool_2_processes_seconds: number;
  jobs_per_minute: { sequential_best: number; mesa_train_loop: number; pool_1: number; pool_2: number };
  pool_2_vs_sequential: number;
  pool_2_vs_mesa_train_loop: number;
  /** the 1-process pool's wall-clock beyond its jobs' own seconds, per job (process start, IPC, sweep.json writes) */
  pool_overhead_ms_per_job: number;
  same_results_in_pool_and_in_process: boolean;
  queue: QueueFigures;
}

const load = (): number => Number(loadavg()[0]!.toFixed(2));

async function measure(): Promise<Figures> {
  const root = mkdtempSync(join(tmpdir(), "mesa-bench-sweep-"));
  try {
    const loadBefore = load();
    const p = await plan(trainingSpec("bench-throughput", STEPS, JOBS));
    // warm-up: module loading and JIT for the in-process side
    await sequential(await plan(trainingSpec("bench-warmup", 4096, 1)), join(root, "warmup"), 1);
    // ROUNDS rounds, the sides interleaved, the fastest of each side kept: load from other work comes and goes
    const fastest = <T extends { seconds: number }>(a: T | undefined, b: T): T => (a === undefined || b.seconds < a.seconds ? b : a);
    let seq1, seq2, pool1, pool2;
    for (let round = 0; round < ROUNDS; round++) {
      seq1 = fastest(seq1, await sequential(p, join(root, `seq1-${round}`), 1));
      pool2 = fastest(pool2, await pool(p, join(root, `pool2-${round}`), 2));
      seq2 = fastest(seq2, await sequential(p, join(root, `seq2-${round}`), Math.min(2, availableParallelism())));
      pool1 = fastest(pool1, await pool(p, join(root, `pool1-${round}`), 1));
    }
    if (!seq1 || !seq2 || !pool1 || !pool2) throw new Error("no rounds ran");
    const cli = cliLoop(join(root, "cli"));
    const best = Math.min(seq1.seconds, seq2.seconds);
    const perMinute = (seconds: number): number => (60 * JOBS) / seconds;
    const loadMid = load();
    return {
      cores: availableParallelism(),
      backend: kernels().name,
      jobs: JOBS,
      steps_per_job: STEPS,
      rounds: ROUNDS,
      load_average: { before: loadBefore, middle: loadMid, after: Number.NaN },
      sequential_in_process_seconds: { threads_1: seq1.seconds, threads_2: seq2.seconds },
      sequential_mesa_train_processes_seconds: cli.seconds,
      pool_1_process_seconds: pool1.seconds,
      pool_2_processes_seconds: pool2.seconds,
      jobs_per_minute: { sequential_best: perMinute(best), mesa_train_loop: perMinute(cli.seconds), pool_1: perMinute(pool1.seconds), pool_2: perMinute(pool2.seconds) },
      pool_2_vs_sequential: best / pool2.seconds,
      pool_2_vs_mesa_train_loop: cli.seconds / pool2.seconds,
      pool_overhead_ms_per_job: (1000 * (pool1.seconds - pool1.jobSeconds)) / JOBS,
      same_results_in_pool_and_in_process: JSON.stringify(seq1.returns) === JSON.stringify(pool2.returns),
      queue: await measureQueue(root),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * 16 tiny jobs on a 1-process pool and through the queue, twice each interleaved. Each side's overhead is its
 * wall-clock minus the jobs' own seconds (so the jobs' compute, which load from other work stretches, cancels);
 * the smaller overhead of each side is kept.
 */
async function measureQueue(root: string): Promise<QueueFigures> {
  if (!redisServerInstalled()) return { skipped: "redis-server is not installed (Debian: apt-get install redis-server)" };
  const redis = await startLocalRedis();
  try {
    const tiny = await plan({ ...trainingSpec("bench-queue", 2048, QUEUE_JOBS), base: { env: "points-bug", ppo: { totalTimesteps: 2048, numEnvs: 8, checkpointEvery: 0 } } });
    const overhead = (r: { seconds: number; jobSeconds: number }): number => (1000 * (r.seconds - r.jobSeconds)) / QUEUE_JOBS;
    let local: { seconds: number; jobSeconds: number } | undefined;
    let queued: { seconds: number; jobSeconds: number } | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const l = await pool(tiny, join(root, `qlocal${round}`), 1);
      if (local === undefined || overhead(l) < overhead(local)) local = l;
      const renamed = await plan({ ...tiny.spec, name: `bench-queue-${round}` });
      const q = await throughQueue(redis.url, renamed, join(root, `qworker${round}`));
      if (queued === undefined || overhead(q) < overhead(queued)) queued = q;
    }
    return {
      jobs: QUEUE_JOBS,
      local_pool_seconds: local!.seconds,
      queue_seconds: queued!.seconds,
      pool_overhead_ms_per_job: overhead(local!),
      queue_path_overhead_ms_per_job: overhead(queued!),
      overhead_ms_per_job: overhead(queued!) - overhead(local!),
    };
  } finally {
    await redis.stop();
  }
}

function printTable(f: Figures): void {
  const [s1, s2] = [f.sequential_in_process_seconds.threads_1, f.sequential_in_process_seconds.threads_2];
  const perMinute = (seconds: number): string => formatNumber((60 * f.jobs) / seconds);
  const rows: (string | number)[][] = [
    ["one after another, in one process (1 BLAS thread)", formatNumber(s1), perMinute(s1)],
    ["one after another, in one process (2 BLAS threads)", formatNumber(s2), perMinute(s2)],
    ["one after another, a `mesa train` process each", formatNumber(f.sequential_mesa_train_processes_seconds), perMinute(f.sequential_mesa_train_processes_seconds)],
    ["mesa sweep, pool of 1 process", formatNumber(f.pool_1_process_seconds), perMinute(f.pool_1_process_seconds)],
    ["mesa sweep, pool of 2 processes", formatNumber(f.pool_2_processes_seconds), perMinute(f.pool_2_processes_seconds)],
  ];
  process.stdout.write(`${f.jobs} jobs: points-bug, tuned PPO, ${f.steps_per_job} env steps each, seeds 1-${f.jobs}; backend ${f.backend}, ${f.cores} cores; fastest of ${f.rounds} interleaved rounds (the mesa train loop: one)\n`);
  process.stdout.write(`${formatTable(["how", "seconds", "jobs/min"], rows)}\n`);
  process.stdout.write(`pool of 2 vs the faster in-process loop: ${formatNumber(f.pool_2_vs_sequential)}× the throughput (target ≥ 1.8); vs a mesa train loop: ${formatNumber(f.pool_2_vs_mesa_train_loop)}×\n`);
  process.stdout.write(`pool overhead (1 process, wall-clock beyond the jobs' own seconds): ${formatNumber(f.pool_overhead_ms_per_job)} ms per job; same results in the pool as in process: ${f.same_results_in_pool_and_in_process ? "yes" : "no"}\n`);
  const q = f.queue;
  if ("skipped" in q) process.stdout.write(`queue: skipped — ${q.skipped}\n`);
  else
    process.stdout.write(
      `queue: ${q.jobs} jobs of 2048 steps, one worker: beyond the jobs' own seconds, ${formatNumber(q.queue_path_overhead_ms_per_job)} ms per job through BullMQ (${formatNumber(q.queue_seconds)} s in all) vs ${formatNumber(q.pool_overhead_ms_per_job)} ms on a 1-process pool (${formatNumber(q.local_pool_seconds)} s) → the queue adds ${formatNumber(q.overhead_ms_per_job)} ms per job (target < 50)\n`,
    );
  process.stdout.write(`load average (1 min): ${f.load_average.before} before, ${f.load_average.middle} midway, ${f.load_average.after} after — other work on the machine slows every side\n`);
}

export const benchmark: Benchmark = {
  description: "sweeps: local pool throughput vs one job after another, and BullMQ queue overhead per job",
  async run({ json }) {
    let figures: Figures;
    if (process.env.OPENBLAS_CORETYPE !== undefined || process.env.OPENBLAS_L2_SIZE !== undefined) {
      // measured in a process without the machine's OpenBLAS core override, so the in-process side and the pool
      // (whose processes inherit the environment) run the same OpenBLAS
      const env = { ...process.env };
      delete env.OPENBLAS_CORETYPE;
      delete env.OPENBLAS_L2_SIZE;
      const main = fileURLToPath(new URL("./main.js", import.meta.url));
      const r = spawnSync(process.execPath, [main, "sweep", "--json"], { env, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 16 << 20 });
      if (r.status !== 0) throw new Error(`the sweep benchmark exited with ${r.status}`);
      figures = JSON.parse(r.stdout) as Figures;
    } else figures = await measure();
    figures.load_average.after = load();
    if (json) printJson(figures);
    else printTable(figures);
  },
};
