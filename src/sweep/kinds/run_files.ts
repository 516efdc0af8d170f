// A job's files: its results read back from the run directory (JSON files with errors that name the file, the
// numbers of a nested result object as flat metrics), and killed attempts' directories marked as abandoned.
import { readFileSync } from "node:fs";
import { MesaError, RunDirError } from "../../core/errors.js";
import { RunDir } from "../../io/rundir.js";
import type { JobMetrics } from "../jobs.js";

/** The JSON object in `path`, or a RunDirError naming the file. */
export function readJsonObject(path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RunDirError(`${path}: ${code === "ENOENT" ? "missing" : `not readable JSON (${code ?? (err as Error).message})`}`, "the job did not finish writing its results; re-run the sweep to run it again");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new RunDirError(`${path}: expected a JSON object`, "the file was edited or damaged; re-run the job");
  return value as Record<string, unknown>;
}

/** Every finite number (and null) in a nested object, keyed by its slash-joined path (`ood/model_loss`). */
export function numericLeaves(value: Record<string, unknown>, prefix = ""): JobMetrics {
  const out: JobMetrics = {};
  for (const [key, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}/${key}` : key;
    if (typeof v === "number") out[path] = Number.isFinite(v) ? v : null;
    else if (v !== null && typeof v === "object" && !Array.isArray(v)) Object.assign(out, numericLeaves(v as Record<string, unknown>, path));
  }
  return out;
}

/**
 * Marks a killed attempt's run directory (still "running", or "interrupted") as failed, naming the directory that
 * replaced it — under the run's lock, so a run whose process is in fact still alive is left alone.
 */
export function abandonRun(path: string, replacement: string): void {
  try {
    const run = RunDir.open(path, undefined, { lock: `sweep: mark abandoned (replaced by ${replacement})` });
    try {
      const status = run.summary().status;
      if (status === "running" || status === "interrupted") run.updateSummary({ status: "failed", error: `abandoned: the sweep job was killed and ran again in ${replacement}` });
    } finally {
      run.release();
    }
  } catch (err) {
    if (!(err instanceof MesaError)) throw err;
  }
}
