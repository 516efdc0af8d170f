// The sweep folder, a layout a dashboard can read without mesa:
//   <sweep>/sweep.json    the spec, the status, every job (setting, seed, status, run directory, metrics, error),
//                         the per-setting summary and the baselines — rewritten atomically after every job
//   <sweep>/results.csv   one row per job: swept fields, seed, status, every metric
//   <sweep>/runs/…        one run directory per job, as `mesa train` / `mesa icl` write them
// and run.lock (the run directories' lock) while a `mesa sweep` process runs it, so two cannot interleave writes.
import { existsSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { z } from "zod";
import { RunDirError } from "../core/errors.js";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.js";
import { readJsonValue } from "../io/json.js";
import type { JobMetrics } from "./jobs.js";
import type { SweepSpec } from "./spec.js";
import type { SettingSummary } from "./summary.js";

export const SWEEP_FORMAT = "mesa-sweep/1";

export type JobStatus = "pending" | "running" | "finished" | "failed" | "interrupted";

/** One job's entry in sweep.json (and the `results` of `mesa sweep --json`). */
export interface JobResult {
  /** j0001…, in the spec's expansion order */
  id: string;
  /** content hash of what determines the result; a re-run skips finished jobs by it */
  key: string;
  /** the setting's label and its swept values */
  setting: string;
  settings: Record<string, unknown>;
  seed: number;
  status: JobStatus;
  /** the job's run directory: relative to the sweep folder when inside it, else as the worker wrote it */
  run_dir: string | null;
  /** the machine that ran it */
  host: string | null;
  /** the process that runs (or last ran) it on that machine */
  pid: number | null;
  metrics: JobMetrics | null;
  /** seconds the job took in its process */
  seconds: number | null;
  /** times the job was started */
  attempts: number;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface SweepRecord {
  format: typeof SWEEP_FORMAT;
  name: string;
  command: string;
  description: string | null;
  /** where the jobs ran: a local pool, or a queue on Redis */
  backend: "local" | "redis";
  /** the queue's address without its password (redis backend) */
  queue: string | null;
  /** running; finished (every job finished or failed); interrupted (stopped with jobs left); queued (enqueued, not followed) */
  status: "running" | "finished" | "interrupted" | "queued";
  created_at: string;
  updated_at: string;
  spec: SweepSpec;
  /** pool processes (local backend) */
  workers: number | null;
  /** the metrics summarised per setting */
  metrics: string[];
  /** the swept fields (dotted paths) */
  swept_fields: string[];
  seeds: number[];
  jobs: number;
  finished: number;
  failed: number;
  results: JobResult[];
  summary: SettingSummary[];
  /** reference policies measured the way the jobs are (train jobs with evaluations) */
  baselines: SettingSummary[];
  /** results kept from earlier runs of this folder whose settings the spec no longer has */
  outside_spec: JobResult[];
}

const jobResultSchema = z.looseObject({
  id: z.string(),
  key: z.string(),
  setting: z.string(),
  seed: z.number(),
  status: z.enum(["pending", "running", "finished", "failed", "interrupted"]),
  run_dir: z.string().nullable(),
  metrics: z.record(z.string(), z.number().nullable()).nullable(),
  attempts: z.number().int().min(0),
});
const sweepRecordSchema = z.looseObject({
  format: z.literal(SWEEP_FORMAT),
  name: z.string(),
  command: z.string(),
  created_at: z.string(),
  results: z.array(jobResultSchema),
  outside_spec: z.array(jobResultSchema).default([]),
});

export function sweepJsonPath(dir: string): string {
  return join(dir, "sweep.json");
}

/** The sweep.json in `dir`, or undefined when there is none; a damaged one is an error naming the file. */
export function readSweepRecord(dir: string): SweepRecord | undefined {
  const path = sweepJsonPath(dir);
  if (!existsSync(path)) return undefined;
  const raw = readJsonValue(path, { missing: "", damaged: "restore it, or move the folder away to start the sweep afresh (finished run directories stay in runs/)" });
  const parsed = sweepRecordSchema.safeParse(raw);
  if (!parsed.success) {
    const problem = parsed.error.issues[0]!;
    throw new RunDirError(`${path}: not a mesa sweep record (${problem.path.join(".") || "(root)"}: ${problem.message})`, "pass another --out, or move the folder away");
  }
  return parsed.data as unknown as SweepRecord;
}

/** Counts, then sweep.json and results.csv, each written atomically. */
export function writeSweepFolder(dir: string, record: SweepRecord): void {
  record.jobs = record.results.length;
  record.finished = record.results.filter((r) => r.status === "finished").length;
  record.failed = record.results.filter((r) => r.status === "failed").length;
  record.updated_at = new Date().toISOString();
  writeJsonAtomic(sweepJsonPath(dir), record);
  writeFileAtomic(join(dir, "results.csv"), resultsCsv(record));
}

/** The object `mesa sweep … --json` prints. */
export function sweepJson(dir: string, record: SweepRecord): Record<string, unknown> {
  return {
    sweep_dir: dir,
    name: record.name,
    command: record.command,
    status: record.status,
    jobs: record.results.length,
    finished: record.results.filter((r) => r.status === "finished").length,
    failed: record.results.filter((r) => r.status === "failed").length,
    metrics: record.metrics,
    results: record.results,
    summary: record.summary,
    baselines: record.baselines,
  };
}

/** One row per job: id, setting, seed, status, swept fields, metrics (summarised ones first), seconds, run dir, error. */
export function resultsCsv(record: Pick<SweepRecord, "results" | "swept_fields" | "metrics">): string {
  const metricNames = [...record.metrics];
  for (const r of record.results) for (const m of Object.keys(r.metrics ?? {})) if (!metricNames.includes(m)) metricNames.push(m);
  const header = ["id", "setting", "seed", "status", ...record.swept_fields, ...metricNames, "seconds", "attempts", "host", "run_dir", "error"];
  const rows = record.results.map((r) => [r.id, r.setting, r.seed, r.status, ...record.swept_fields.map((f) => r.settings[f]), ...metricNames.map((m) => r.metrics?.[m]), r.seconds, r.attempts, r.host, r.run_dir, r.error]);
  return `${[header, ...rows].map((row) => row.map(csvCell).join(",")).join("\n")}\n`;
}

/** RFC 4180: quoted when it holds a comma, quote or line break; absent values are empty. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A run directory as sweep.json records it: relative to the sweep folder when inside it. */
export function recordedRunDir(sweepDir: string, runDir: string): string {
  const rel = relative(resolve(sweepDir), resolve(runDir));
  return rel.startsWith("..") || isAbsolute(rel) ? runDir : rel;
}

/** The path of a recorded run directory, from the current directory. */
export function runDirPath(sweepDir: string, recorded: string): string {
  return isAbsolute(recorded) ? recorded : join(sweepDir, recorded);
}

