// A sweep on this machine: the plan's jobs on a pool of N processes, each job into its own run directory under
// <sweep>/runs, sweep.json rewritten after every change. Re-running the same spec into the same folder skips
// finished jobs and continues killed ones from their last checkpoint (train); failed jobs run again.
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { MesaError } from "../core/errors.js";
import { acquireRunLock } from "../io/rundir.js";
import { type JobResult, type SweepRecord, readSweepRecord, recordedRunDir, runDirPath, writeSweepFolder } from "./folder.js";
import { type JobOutcome, WorkerPool } from "./pool.js";
import { finishRecord, initialRecord } from "./record.js";
import type { SweepPlan } from "./spec.js";

/** A sweep stopped before its jobs were done (SIGINT/SIGTERM); the folder records where it stood. */
export class SweepInterrupted extends MesaError {
  override readonly exitCode = 130;
}

/** Where a sweep stands, for progress bars. */
export interface SweepProgress {
  total: number;
  finished: number;
  failed: number;
  running: number;
  /** jobs finished by an earlier run of the folder */
  skipped: number;
  /** finished + failed + the running jobs' fractions */
  done: number;
}

export interface LocalSweepOptions {
  /** the sweep folder */
  out: string;
  /** pool processes */
  workers: number;
  /** stops the sweep: running jobs are killed and recorded as interrupted (to be continued by a re-run) */
  signal?: AbortSignal;
  onProgress?(progress: SweepProgress): void;
  /** a job finished or failed */
  onJobEnd?(result: JobResult, progress: SweepProgress): void;
  /** every attempt's outcome as the pool reported it, with its process start and CPU times (benchmarks) */
  onOutcome?(result: JobResult, outcome: JobOutcome): void;
  log?(message: string): void;
}

export async function runLocalSweep(plan: SweepPlan, options: LocalSweepOptions): Promise<SweepRecord> {
  const dir = options.out;
  mkdirSync(join(dir, "runs"), { recursive: true });
  // one mesa sweep per folder at a time (a dead holder's lock is taken over)
  const lock = acquireRunLock(dir);
  try {
    const previous = readSweepRecord(dir);
    if (previous !== undefined && previous.name !== plan.spec.name) {
      throw new MesaError(`${dir} holds the sweep "${previous.name}", not "${plan.spec.name}"`, "pass another --out (each sweep has its own folder)");
    }
    const record = initialRecord(plan, { backend: "local", workers: options.workers, sweepDir: dir, ...(previous ? { previous } : {}) });
    const todo = record.results.filter((r) => r.status !== "finished");
    const skipped = record.results.length - todo.length;
    if (skipped > 0) options.log?.(`${skipped} of ${record.results.length} jobs finished in an earlier run of ${dir}; skipping them`);
    writeSweepFolder(dir, record);

    const fractions = new Map<string, number>();
    const progress = (): SweepProgress => {
      const finished = record.results.filter((r) => r.status === "finished").length;
      const failed = record.results.filter((r) => r.status === "failed").length;
      let partial = 0;
      for (const f of fractions.values()) partial += f;
      return { total: record.results.length, finished, failed, running: fractions.size, skipped, done: finished + failed + partial };
    };
    options.onProgress?.(progress());

    const byKey = new Map(plan.jobs.map((j) => [j.key, j]));
    const pool = new WorkerPool(Math.max(1, Math.min(options.workers, todo.length)));
    let stopped = false;
    const stop = (): void => {
      stopped = true;
      pool.kill("SIGTERM");
    };
    options.signal?.addEventListener("abort", stop, { once: true });
    try {
      await Promise.all(
        todo.map(async (result) => {
          const job = byKey.get(result.key)!;
          for (let tries = 1; ; tries++) {
            if (stopped) return;
            let outcome: JobOutcome;
            try {
              outcome = await pool.run(
                {
                  kind: plan.kind.name,
                  config: job.config,
                  options: plan.options,
                  runsRoot: join(dir, "runs"),
                  ...(result.run_dir !== null ? { previousRunDir: runDirPath(dir, result.run_dir) } : {}),
                },
                {
                  onStart(pid) {
                    Object.assign(result, { status: "running", attempts: result.attempts + 1, host: hostname(), pid, started_at: new Date().toISOString(), finished_at: null, error: null });
                    fractions.set(result.key, 0);
                    writeSweepFolder(dir, record);
                    options.onProgress?.(progress());
                  },
                  onRunDir(path) {
                    result.run_dir = recordedRunDir(dir, path);
                    writeSweepFolder(dir, record);
                  },
                  onProgress(fraction) {
                    fractions.set(result.key, fraction);
                    options.onProgress?.(progress());
                  },
                  onLog(message) {
                    options.log?.(`${result.id}: ${message}`);
                  },
                },
              );
            } catch (err) {
              if (stopped) return; // the pool closed under us
              throw err;
            }
            fractions.delete(result.key);
            options.onOutcome?.(result, outcome);
            if (stopped) {
              // killed by the stop: recorded as interrupted, continued by the next run
              Object.assign(result, { status: "interrupted", seconds: null, ...(outcome.runDir ? { run_dir: recordedRunDir(dir, outcome.runDir) } : {}) });
              writeSweepFolder(dir, record);
              return;
            }
            const finishedAt = new Date().toISOString();
            if (outcome.ok) {
              Object.assign(result, { status: "finished", run_dir: recordedRunDir(dir, outcome.runDir), metrics: outcome.metrics, seconds: outcome.seconds, error: null, finished_at: finishedAt });
            } else {
              Object.assign(result, { status: "failed", error: outcome.error, seconds: outcome.seconds, finished_at: finishedAt, ...(outcome.runDir ? { run_dir: recordedRunDir(dir, outcome.runDir) } : {}) });
            }
            writeSweepFolder(dir, record);
            // a failed job runs again while it has retries left (a crashed train job continues from its checkpoint)
            const retry = !outcome.ok && tries <= plan.spec.retries;
            if (retry) {
              options.log?.(`${result.id} (${result.setting}, seed ${result.seed}) failed, retrying: ${outcome.ok ? "" : outcome.error.split("\n")[0]}`);
              continue;
            }
            options.onJobEnd?.(result, progress());
            options.onProgress?.(progress());
            return;
          }
        }),
      );
    } finally {
      options.signal?.removeEventListener("abort", stop);
      if (stopped) pool.kill("SIGKILL");
      await pool.close();
    }

    if (stopped) {
      for (const r of record.results) if (r.status === "running") r.status = "interrupted";
      record.status = "interrupted";
      writeSweepFolder(dir, record);
      const left = record.results.filter((r) => r.status !== "finished").length;
      throw new SweepInterrupted(`sweep interrupted: ${record.results.length - left} of ${record.results.length} jobs finished, ${left} left (recorded in ${join(dir, "sweep.json")})`, "run the same command again to continue: finished jobs are skipped, killed train jobs continue from their last checkpoint");
    }
    finishRecord(record, plan);
    record.status = "finished";
    writeSweepFolder(dir, record);
    return record;
  } finally {
    lock.release();
  }
}
