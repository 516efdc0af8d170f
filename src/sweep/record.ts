// The sweep record (sweep.json) built from a plan: one entry per job — carried over from an earlier run of the
// same folder when that job already finished (re-runs skip it) — and, once jobs are done, the per-setting summary
// and the baselines.
import { existsSync } from "node:fs";
import { SWEEP_FORMAT, type JobResult, type SweepRecord, runDirPath } from "./folder.js";
import type { SweepPlan } from "./spec.js";
import { jobKinds, loadJobKind } from "./jobs.js";
import { type SettingSummary, summarize } from "./summary.js";

export interface RecordOptions {
  backend: SweepRecord["backend"];
  queue?: string | null;
  workers?: number | null;
  /** the folder's earlier sweep.json */
  previous?: SweepRecord;
  /** the sweep folder (to check that carried-over run directories still exist) */
  sweepDir: string;
}

/** A job's entry before it runs. */
export function pendingResult(job: SweepPlan["jobs"][number], attempts = 0, runDir: string | null = null): JobResult {
  return {
    id: job.id,
    key: job.key,
    setting: job.setting,
    settings: job.settings,
    seed: job.seed,
    status: "pending",
    run_dir: runDir,
    host: null,
    pid: null,
    metrics: null,
    seconds: null,
    attempts,
    error: null,
    started_at: null,
    finished_at: null,
  };
}

/**
 * The record for `plan`: finished jobs of the earlier record (matched by key, their run directory present) are
 * kept as they are; every other job is pending, remembering a killed attempt's run directory so it can continue.
 * Earlier results whose settings the spec no longer has move to `outside_spec` (kept, never averaged in).
 */
export function initialRecord(plan: SweepPlan, options: RecordOptions): SweepRecord {
  const earlier = new Map<string, JobResult>();
  for (const r of [...(options.previous?.outside_spec ?? []), ...(options.previous?.results ?? [])]) earlier.set(r.key, r);
  const results = plan.jobs.map((job): JobResult => {
    const before = earlier.get(job.key);
    earlier.delete(job.key);
    if (before?.status === "finished" && before.run_dir !== null && existsSync(runDirPath(options.sweepDir, before.run_dir))) {
      return { ...before, id: job.id, setting: job.setting, settings: job.settings };
    }
    return pendingResult(job, before?.attempts ?? 0, before?.run_dir ?? null);
  });
  const now = new Date().toISOString();
  return {
    format: SWEEP_FORMAT,
    name: plan.spec.name,
    command: plan.spec.command,
    description: plan.spec.description ?? null,
    backend: options.backend,
    queue: options.queue ?? null,
    status: "running",
    created_at: options.previous?.created_at ?? now,
    updated_at: now,
    spec: plan.spec,
    workers: options.workers ?? null,
    metrics: plan.metrics,
    swept_fields: plan.sweptFields,
    seeds: plan.seeds,
    jobs: results.length,
    finished: 0,
    failed: 0,
    results,
    summary: [],
    baselines: [],
    outside_spec: [...earlier.values()],
  };
}

/** Fills the summary and, when the command has them, the baselines (measured here, on the jobs' levels). */
export function finishRecord(record: SweepRecord, plan: SweepPlan): void {
  const range = plan.kind.metricRange?.bind(plan.kind);
  record.summary = summarize(record.results, plan.metrics, range);
  const rows = plan.kind.baselines?.(plan.jobs, plan.options) ?? [];
  const baselineMetrics = plan.metrics.filter((m) => rows.some((row) => m in row.metrics));
  record.baselines = summarize(
    rows.map((row) => ({ setting: `${row.policy} (${row.group})`, settings: { policy: row.policy }, status: "finished", metrics: row.metrics })),
    baselineMetrics,
    range,
  );
}

/** The per-setting summary of the jobs finished so far (a sweep still running, or interrupted). */
export async function partialSummary(record: SweepRecord): Promise<SettingSummary[]> {
  const kind = record.command in jobKinds ? await loadJobKind(record.command) : undefined;
  return summarize(record.results, record.metrics, kind?.metricRange?.bind(kind));
}
