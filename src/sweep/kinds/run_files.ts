// A job's files: its results read back from the run directory (JSON files with errors that name the file, the
// numbers of a nested result object as flat metrics), and killed attempts' directories marked as abandoned.
import { MesaError } from "../../core/errors.js";
import { readJsonObject } from "../../io/json.js";
import { RunDir } from "../../io/rundir.js";
import type { JobMetrics } from "../jobs.js";

/** A job's JSON results file as an object, or a RunDirError naming it. */
export function readJobJson(path: string): Record<string, unknown> {
  const hint = "the job did not finish writing its results; re-run the sweep to run it again";
  return readJsonObject(path, { missing: hint, damaged: hint });
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
