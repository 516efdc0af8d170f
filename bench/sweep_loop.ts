// The sweep benchmark's baseline, run as its own process (`node [V8 flags] sweep_loop.js SPEC BLAS_THREADS
// [PART/PARTS]`): a sweep's jobs one after another in this one process through the same library calls the pool's
// processes make, then the baselines the sweep measures, and one JSON line with the loop's seconds and each job's
// time and CPU. Its own process so that every side starts from a fresh heap and JIT, and V8 flags can differ
// between sides. With PART/PARTS (e.g. 0/2) it runs only the jobs whose index is PART modulo PARTS, and only part 0
// runs the baselines: the benchmark starts PARTS such processes at once, the machine's own ceiling for that many
// jobs side by side with no pool around them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernels } from "../src/core/kernels/index.js";
import { type CpuUse, measureCpu } from "../src/sweep/pool.js";
import { planSweepFile } from "../src/sweep/spec.js";

export interface LoopFigures {
  /** from the first job's start to the end of the baselines */
  seconds: number;
  /** seconds from this process's start until the first job began (Node, module loading, planning) */
  start_seconds: number;
  baselines_seconds: number;
  blas_threads: number;
  v8_flags: string[];
  jobs: (CpuUse & { seconds: number })[];
  /** the jobs' first training metric, to check the pool computes the same bits */
  returns: (number | null)[];
}

const [specPath, threadsArg, partArg = "0/1"] = process.argv.slice(2);
if (specPath === undefined || threadsArg === undefined) throw new Error("usage: sweep_loop.js SPEC BLAS_THREADS [PART/PARTS]");
const [part, parts] = partArg.split("/").map(Number) as [number, number];
if (!(Number.isInteger(part) && Number.isInteger(parts) && parts >= 1 && part >= 0 && part < parts)) throw new Error(`sweep_loop.js: ${partArg} is not PART/PARTS with 0 ≤ PART < PARTS`);
const plan = await planSweepFile(specPath);
kernels().setThreads(Number(threadsArg));
const root = mkdtempSync(join(tmpdir(), "mesa-bench-sweep-loop-"));
try {
  const startSeconds = performance.now() / 1000;
  const t0 = performance.now();
  const jobs: LoopFigures["jobs"] = [];
  const returns: (number | null)[] = [];
  for (const job of plan.jobs.filter((_, i) => i % parts === part)) {
    const j0 = performance.now();
    const cpu = measureCpu(jobs.length === 0);
    const runDir = await plan.kind.run(job.config, plan.options, { runsRoot: root, onRunDir() {}, onProgress() {}, log() {} });
    returns.push(plan.kind.collect(runDir, job.config, plan.options)["charts/episodic_return"] ?? null);
    jobs.push({ ...cpu(), seconds: (performance.now() - j0) / 1000 });
  }
  const b0 = performance.now();
  if (part === 0) plan.kind.baselines?.(plan.jobs, plan.options);
  const end = performance.now();
  const figures: LoopFigures = {
    seconds: (end - t0) / 1000,
    start_seconds: startSeconds,
    baselines_seconds: (end - b0) / 1000,
    blas_threads: kernels().threads,
    v8_flags: process.execArgv,
    jobs,
    returns,
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
