// `npm run bench -- sweep [--json] [--rounds=N] [--size=init|heavy]`: what the sweep machinery costs and gains.
//  1. Throughput of the local pool, at two job sizes: the train example `mesa sweep init` writes (6 jobs: PPO on
//     points-bug, 300,000 steps, each agent evaluated on 500 deploy episodes, baselines), and a heavier one
//     (4 jobs of 1,000,000 steps, the env's tuned budget). The baseline runs the same jobs, and the same baselines,
//     one after another in one fresh process (bench/sweep_loop.ts) at its best settings: 1 and 2 BLAS threads,
//     each with V8's default (collector helper threads on the idle core) and with the pool's flags
//     (--single-threaded-gc); the fastest is the baseline, timed from its first job's start (its process start is
//     not counted). The pool is `runLocalSweep` as `mesa sweep` runs it, timed whole (processes' start included).
//     A control beside them: two loop processes started at once, half the jobs each, no pool (the machine's own
//     ceiling for two jobs side by side: whatever the cores' sharing costs, no pool can win back).
//     Sides interleaved, --rounds=N rounds (default 2), fastest and median kept; per-job phases printed: process
//     start, first job (JIT warm-up) and later jobs, CPU of the job's thread and of V8's helper threads.
//     Target: the pool of 2 at ≥ 1.8× the baseline's jobs per minute.
//  2. Queue overhead per job: 16 tiny jobs through BullMQ on a local redis-server (one worker, one job at a time)
//     against the same jobs on a one-process local pool; on each side the wall-clock beyond the jobs' own seconds,
//     per job, and the difference. Target: < 50 ms.
// Every side runs with OPENBLAS_CORETYPE removed (it roughly halves OpenBLAS here); the load average is printed
// with the figures, since other work on the machine slows every side.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { parse as parseYaml } from "yaml";
import { formatNumber, formatTable, printJson } from "../src/cli/output.js";
import { kernels } from "../src/core/kernels/index.js";
import { UsageError } from "../src/core/errors.js";
import { exampleSpecs } from "../src/sweep/examples.js";
import { runLocalSweep } from "../src/sweep/local.js";
import { type JobOutcome, childExecArgv } from "../src/sweep/pool.js";
import { enqueueSweep, queueCounts, queueRecord, runQueueWorker } from "../src/sweep/queue.js";
import { type SweepPlan, type SweepSpecInput, parseSweepSpec, planSweep } from "../src/sweep/spec.js";
import { redisServerInstalled, startLocalRedis } from "./redis_server.js";
import type { LoopFigures } from "./sweep_loop.js";
import type { Benchmark } from "./registry.js";

const QUEUE_JOBS = 16;
const DEFAULT_ROUNDS = 2;
const QUEUE_ROUNDS = 2;

/** The train example of `mesa sweep init`, as a user gets it. */
function initSpec(): SweepSpecInput {
  return { ...(parseYaml(exampleSpecs.train!) as SweepSpecInput), name: "bench-init" };
}

/** The job sizes measured: the init example, and the same sweep at the env's full tuned budget, 2 seeds. */
const SIZES: Record<string, { describe: string; spec: () => SweepSpecInput }> = {
  init: { describe: "the `mesa sweep init` train example: 6 jobs of 300,000 steps on points-bug + 500 deploy episodes each, baselines", spec: initSpec },
  heavy: {
    describe: "the same sweep at points-bug's tuned budget: 4 jobs of 1,000,000 steps + 500 deploy episodes each, baselines",
    spec: () => {
      const spec = initSpec() as SweepSpecInput & { base: { ppo: Record<string, unknown> } };
      return { ...spec, name: "bench-heavy", base: { ...spec.base, ppo: { ...spec.base.ppo, totalTimesteps: 1_000_000 } }, seeds: 2 };
    },
  },
};

async function plan(spec: SweepSpecInput): Promise<SweepPlan> {
  return planSweep(parseSweepSpec(spec), "bench spec");
}

/** Per-job times of one side: wall seconds, CPU of the job's thread and of the rest of its process. */
interface JobTimes {
  first: boolean;
  seconds: number;
  thread: number | null;
  process: number;
}

/** One measured run of a side. */
interface SideRun {
  seconds: number;
  jobs: JobTimes[];
  /** process start until the first job could run, per process */
  start_seconds: number[];
  /** the jobs' episodic returns, to compare sides' bits */
  returns: (number | null)[];
}

const LOOP_SCRIPT = fileURLToPath(new URL("./sweep_loop.js", import.meta.url));

/** The jobs one after another in a fresh process (bench/sweep_loop.ts). */
function loop(specPath: string, blasThreads: number, v8Flags: readonly string[]): SideRun {
  const r = spawnSync(process.execPath, [...v8Flags, LOOP_SCRIPT, specPath, String(blasThreads)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`the in-process loop (${[...v8Flags, blasThreads].join(" ")}) exited with ${r.status}`);
  const f = JSON.parse(r.stdout) as LoopFigures;
  return { seconds: f.seconds, jobs: f.jobs, start_seconds: [f.start_seconds], returns: f.returns };
}

/**
 * The machine's ceiling for `parts` jobs side by side: `parts` loop processes started at once, each running every
 * parts-th job (bench/sweep_loop.ts PART/PARTS, part 0 also the baselines), timed whole from their spawn to the last
 * one's exit like the pool (process start included). No pool, no IPC, no bookkeeping: what is lost here against
 * the one-process loop is lost to the cores' sharing (caches, memory bandwidth, clocks), which no pool can win back.
 */
async function split(specPath: string, parts: number, blasThreads: number, v8Flags: readonly string[]): Promise<SideRun> {
  const t0 = performance.now();
  const outputs = await Promise.all(
    Array.from({ length: parts }, (_, part) =>
      new Promise<LoopFigures>((resolve, reject) => {
        const child = spawn(process.execPath, [...v8Flags, LOOP_SCRIPT, specPath, String(blasThreads), `${part}/${parts}`], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out) as LoopFigures) : reject(new Error(`loop part ${part}/${parts} exited with ${code}`))));
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  // the jobs' returns back in the plan's order (part p ran jobs p, p + parts, …)
  const returns: (number | null)[] = [];
  outputs.forEach((f, part) => f.returns.forEach((r, k) => (returns[part + k * parts] = r)));
  return { seconds, jobs: outputs.flatMap((f) => f.jobs), start_seconds: outputs.map((f) => f.start_seconds), returns };
}

/** The sweep on the local pool, as `mesa sweep --workers N` runs it; nodeFlags replaces the pool's V8 flags. */
async function pool(p: SweepPlan, dir: string, workers: number, nodeFlags?: string): Promise<SideRun> {
  const saved = process.env.MESA_POOL_NODE_FLAGS;
  if (nodeFlags !== undefined) process.env.MESA_POOL_NODE_FLAGS = nodeFlags;
  const outcomes: JobOutcome[] = [];
  try {
    const t0 = performance.now();
    const record = await runLocalSweep(p, { out: dir, workers, onOutcome: (_result, outcome) => outcomes.push(outcome) });
    const seconds = (performance.now() - t0) / 1000;
    if (record.failed > 0) throw new Error(`pool run failed: ${record.results.find((r) => r.status === "failed")?.error}`);
    return {
      seconds,
      jobs: outcomes.map((o) => ({ first: o.cpu?.first ?? false, seconds: o.seconds, thread: o.cpu?.thread ?? null, process: o.cpu?.process ?? Number.NaN })),
      start_seconds: outcomes.flatMap((o) => (o.startSeconds !== undefined ? [o.startSeconds] : [])),
      returns: record.results.map((r) => r.metrics?.["charts/episodic_return"] ?? null),
    };
  } finally {
    if (saved === undefined) delete process.env.MESA_POOL_NODE_FLAGS;
    else process.env.MESA_POOL_NODE_FLAGS = saved;
  }
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** A side's figures over its rounds: the fastest and median wall-clock, and the fastest round's per-job phases. */
interface SideFigures {
  label: string;
  /** pool processes (0: the in-process loop) */
  workers: number;
  blas_threads: number | null;
  v8_flags: string[];
  seconds: { fastest: number; median: number; rounds: number[] };
  jobs_per_minute: number;
  /** process start until it could run jobs, mean over processes (the loop: Node, imports and planning) */
  start_seconds: number;
  /** the first job of a process (JIT warm-up) and the later ones: wall and CPU seconds, means */
  first_job: PhaseFigures;
  later_jobs: PhaseFigures;
  /** pool only: process-seconds not spent starting or running jobs (IPC, bookkeeping, the tail, the final summary and baselines), per job */
  idle_seconds_per_job: number | null;
  returns: (number | null)[];
}

interface PhaseFigures {
  n: number;
  seconds: number;
  /** CPU of the job's own thread */
  thread_cpu: number | null;
  /** CPU of the process's other threads (V8's collector and compiler helpers, BLAS threads) */
  helper_cpu: number | null;
}

function phase(jobs: readonly JobTimes[]): PhaseFigures {
  const threads = jobs.map((j) => j.thread).filter((t): t is number => t !== null);
  const known = threads.length === jobs.length && jobs.length > 0;
  return {
    n: jobs.length,
    seconds: mean(jobs.map((j) => j.seconds)),
    thread_cpu: known ? mean(threads) : null,
    helper_cpu: known ? mean(jobs.map((j) => j.process - j.thread!)) : null,
  };
}

function sideFigures(label: string, workers: number, blasThreads: number | null, v8Flags: readonly string[], runs: readonly SideRun[], jobs: number): SideFigures {
  const fastest = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const rounds = runs.map((r) => r.seconds);
  const busy = fastest.start_seconds.reduce((a, b) => a + b, 0) + fastest.jobs.reduce((a, j) => a + j.seconds, 0);
  return {
    label,
    workers,
    blas_threads: blasThreads,
    v8_flags: [...v8Flags],
    seconds: { fastest: fastest.seconds, median: median(rounds), rounds },
    jobs_per_minute: (60 * jobs) / fastest.seconds,
    start_seconds: mean(fastest.start_seconds),
    first_job: phase(fastest.jobs.filter((j) => j.first)),
    later_jobs: phase(fastest.jobs.filter((j) => !j.first)),
    idle_seconds_per_job: workers === 0 ? null : (workers * fastest.seconds - busy) / jobs,
    returns: fastest.returns,
  };
}

interface SizeFigures {
  size: string;
  describe: string;
  jobs: number;
  sides: SideFigures[];
  /** the fastest in-process loop: the baseline */
  baseline: string;
  /** two independent loop processes, half the jobs each (no pool), vs the baseline: the machine's ceiling */
  two_processes_vs_baseline: number;
  two_processes_vs_baseline_median: number;
  /** the pool of 2 (the product's defaults) vs the baseline, fastest rounds and medians */
  pool_2_vs_baseline: number;
  pool_2_vs_baseline_median: number;
  same_results_in_pool_and_in_process: boolean;
}

/** One size: every side `rounds` times, interleaved. */
async function measureSize(size: string, rounds: number, root: string): Promise<SizeFigures> {
  const { describe, spec } = SIZES[size]!;
  const p = await plan(spec());
  const specPath = join(root, `${size}.json`);
  writeFileSync(specPath, JSON.stringify(p.spec));
  const cores = availableParallelism();
  const poolFlags = childExecArgv(cores, [], {});
  const loops = [1, Math.min(2, cores)].flatMap((threads) => [
    { key: `loop-${threads}`, threads, flags: [] as string[] },
    { key: `loop-${threads}-pool-flags`, threads, flags: poolFlags },
  ]);
  const runs = new Map<string, SideRun[]>();
  const add = (key: string, run: SideRun): void => {
    runs.set(key, [...(runs.get(key) ?? []), run]);
    // a line per side as it ends (stderr), so a long run under load shows where it stands
    const cpu = run.jobs.reduce((a, j) => a + j.process, 0);
    process.stderr.write(`[bench sweep] ${size} ${key}: ${run.seconds.toFixed(2)} s, ${cpu.toFixed(2)} CPU-s in its jobs, load ${loadavg()[0]!.toFixed(1)}\n`);
  };
  for (let round = 0; round < rounds; round++) {
    // loops and pools alternate, so load from other work falls on both
    add(loops[0]!.key, loop(specPath, loops[0]!.threads, loops[0]!.flags));
    add("pool-2", await pool(p, join(root, `${size}-pool2-${round}`), 2));
    add(loops[1]!.key, loop(specPath, loops[1]!.threads, loops[1]!.flags));
    add("pool-2-v8-defaults", await pool(p, join(root, `${size}-pool2d-${round}`), 2, ""));
    add(loops[2]!.key, loop(specPath, loops[2]!.threads, loops[2]!.flags));
    add("pool-1", await pool(p, join(root, `${size}-pool1-${round}`), 1));
    add(loops[3]!.key, loop(specPath, loops[3]!.threads, loops[3]!.flags));
    add("split-2", await split(specPath, 2, 1, poolFlags));
  }
  const n = p.jobs.length;
  const sides: SideFigures[] = [
    ...loops.map((l) => sideFigures(`one after another in one process, ${l.threads} BLAS thread${l.threads > 1 ? "s" : ""}${l.flags.length ? `, ${l.flags.join(" ")}` : ", V8 defaults"}`, 0, l.threads, l.flags, runs.get(l.key)!, n)),
    sideFigures(`mesa sweep, pool of 1 process (${childExecArgv(1, [], {}).join(" ") || "V8 defaults"})`, 1, null, childExecArgv(1, [], {}), runs.get("pool-1")!, n),
    sideFigures("mesa sweep, pool of 2 processes, V8 defaults (before the fix)", 2, null, [], runs.get("pool-2-v8-defaults")!, n),
    sideFigures(`no pool: 2 loop processes at once, half the jobs each, 1 BLAS thread, ${poolFlags.join(" ") || "V8 defaults"}`, 2, 1, poolFlags, runs.get("split-2")!, n),
    sideFigures(`mesa sweep, pool of 2 processes (${childExecArgv(2, [], {}).join(" ") || "V8 defaults"})`, 2, null, childExecArgv(2, [], {}), runs.get("pool-2")!, n),
  ];
  const loopSides = sides.filter((s) => s.workers === 0);
  const best = loopSides.reduce((a, b) => (b.seconds.fastest < a.seconds.fastest ? b : a));
  const bestMedian = Math.min(...loopSides.map((s) => s.seconds.median));
  const pool2 = sides[sides.length - 1]!;
  const split2 = sides[sides.length - 2]!;
  return {
    size,
    describe,
    jobs: n,
    sides,
    baseline: best.label,
    two_processes_vs_baseline: best.seconds.fastest / split2.seconds.fastest,
    two_processes_vs_baseline_median: bestMedian / split2.seconds.median,
    pool_2_vs_baseline: best.seconds.fastest / pool2.seconds.fastest,
    pool_2_vs_baseline_median: bestMedian / pool2.seconds.median,
    same_results_in_pool_and_in_process: JSON.stringify(loopSides[0]!.returns) === JSON.stringify(pool2.returns) && JSON.stringify(loopSides[0]!.returns) === JSON.stringify(split2.returns),
  };
}

interface Figures {
  cores: number;
  backend: string;
  rounds: number;
  load_average: { before: number; middle: number; after: number };
  sizes: SizeFigures[];
  queue: QueueFigures;
}

const load = (): number => Number(loadavg()[0]!.toFixed(2));

/** `--name=value` (bench/main.ts takes every bare word for a benchmark's name) */
function option(args: readonly string[], name: string): string | undefined {
  const found = args.find((a) => a.startsWith(`${name}=`));
  return found?.slice(name.length + 1);
}

async function measure(args: readonly string[]): Promise<Figures> {
  const rounds = Number(option(args, "--rounds") ?? DEFAULT_ROUNDS);
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds=${option(args, "--rounds")}: expected a positive integer`, "e.g. --rounds=3");
  const sizeArg = option(args, "--size");
  if (sizeArg !== undefined && !(sizeArg in SIZES)) throw new UsageError(`--size=${sizeArg}: no such size`, `choose one of: ${Object.keys(SIZES).join(", ")}`);
  const root = mkdtempSync(join(tmpdir(), "mesa-bench-sweep-"));
  try {
    const loadBefore = load();
    const sizes: SizeFigures[] = [];
    for (const size of sizeArg !== undefined ? [sizeArg] : Object.keys(SIZES)) sizes.push(await measureSize(size, rounds, root));
    const loadMid = load();
    return { cores: availableParallelism(), backend: kernels().name, rounds, load_average: { before: loadBefore, middle: loadMid, after: Number.NaN }, sizes, queue: await measureQueue(root) };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** A tiny sweep for the queue's overhead: 16 jobs of 2048 steps. */
function tinySpec(name: string): SweepSpecInput {
  return { name, command: "train", base: { env: "points-bug", ppo: { totalTimesteps: 2048, numEnvs: 8, checkpointEvery: 0 } }, seeds: QUEUE_JOBS };
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

/**
 * 16 tiny jobs on a 1-process pool and through the queue, twice each interleaved. Each side's overhead is its
 * wall-clock minus the jobs' own seconds (so the jobs' compute, which load from other work stretches, cancels);
 * the smaller overhead of each side is kept.
 */
async function measureQueue(root: string): Promise<QueueFigures> {
  if (!redisServerInstalled()) return { skipped: "redis-server is not installed (Debian: apt-get install redis-server)" };
  const redis = await startLocalRedis();
  try {
    const tiny = await plan(tinySpec("bench-queue"));
    const overhead = (r: { seconds: number; jobSeconds: number }): number => (1000 * (r.seconds - r.jobSeconds)) / QUEUE_JOBS;
    let local: { seconds: number; jobSeconds: number } | undefined;
    let queued: { seconds: number; jobSeconds: number } | undefined;
    for (let round = 0; round < QUEUE_ROUNDS; round++) {
      const run = await pool(tiny, join(root, `qlocal${round}`), 1);
      const l = { seconds: run.seconds, jobSeconds: run.jobs.reduce((a, j) => a + j.seconds, 0) };
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
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const n = (x: number | null): string => (x === null || Number.isNaN(x) ? "-" : formatNumber(x));
  out(`backend ${f.backend}, ${f.cores} cores; every side ${f.rounds} time(s), interleaved; fastest round shown, median beside it`);
  for (const size of f.sizes) {
    out(`\n${size.describe}`);
    const rows = size.sides.map((s) => [s.label, n(s.seconds.fastest), n(s.seconds.median), formatNumber(s.jobs_per_minute)]);
    out(formatTable(["how", "seconds", "median", "jobs/min"], rows));
    out(`per job (fastest round; CPU seconds: the job's thread + V8/BLAS helper threads):`);
    const phases = size.sides.map((s) => [
      s.label,
      n(s.start_seconds),
      `${n(s.first_job.seconds)} (${n(s.first_job.thread_cpu)} + ${n(s.first_job.helper_cpu)})`,
      `${n(s.later_jobs.seconds)} (${n(s.later_jobs.thread_cpu)} + ${n(s.later_jobs.helper_cpu)})`,
      n(s.idle_seconds_per_job),
    ]);
    out(formatTable(["how", "process start s", "first job s (cpu)", "later jobs s (cpu)", "pool idle s/job"], phases));
    out(`pool of 2 vs the fastest in-process loop (${size.baseline}): ${formatNumber(size.pool_2_vs_baseline)}× the throughput (medians: ${formatNumber(size.pool_2_vs_baseline_median)}×; target ≥ 1.8); same results in the pool as in process: ${size.same_results_in_pool_and_in_process ? "yes" : "no"}`);
    out(`the machine's ceiling, 2 loop processes at once without a pool: ${formatNumber(size.two_processes_vs_baseline)}× (medians ${formatNumber(size.two_processes_vs_baseline_median)}×); the pool reaches ${formatNumber((100 * size.pool_2_vs_baseline) / size.two_processes_vs_baseline)}% of it`);
  }
  const q = f.queue;
  if ("skipped" in q) out(`\nqueue: skipped — ${q.skipped}`);
  else
    out(
      `\nqueue: ${q.jobs} jobs of 2048 steps, one worker: beyond the jobs' own seconds, ${formatNumber(q.queue_path_overhead_ms_per_job)} ms per job through BullMQ (${formatNumber(q.queue_seconds)} s in all) vs ${formatNumber(q.pool_overhead_ms_per_job)} ms on a 1-process pool (${formatNumber(q.local_pool_seconds)} s) → the queue adds ${formatNumber(q.overhead_ms_per_job)} ms per job (target < 50)`,
    );
  out(`load average (1 min): ${f.load_average.before} before, ${f.load_average.middle} midway, ${f.load_average.after} after — other work on the machine slows every side`);
}

export const benchmark: Benchmark = {
  description: "sweeps: local pool throughput vs one job after another, and BullMQ queue overhead per job",
  async run({ json, args }) {
    let figures: Figures;
    if (process.env.OPENBLAS_CORETYPE !== undefined || process.env.OPENBLAS_L2_SIZE !== undefined) {
      // measured in a process without the machine's OpenBLAS core override, so the in-process side and the pool
      // (whose processes inherit the environment) run the same OpenBLAS
      const env = { ...process.env };
      delete env.OPENBLAS_CORETYPE;
      delete env.OPENBLAS_L2_SIZE;
      const main = fileURLToPath(new URL("./main.js", import.meta.url));
      const r = spawnSync(process.execPath, [main, "sweep", "--json", ...args.filter((a) => a !== "--json" && a !== "sweep")], { env, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 16 << 20 });
      if (r.status !== 0) throw new Error(`the sweep benchmark exited with ${r.status}`);
      figures = JSON.parse(r.stdout) as Figures;
    } else figures = await measure(args);
    figures.load_average.after = load();
    if (json) printJson(figures);
    else printTable(figures);
  },
};
