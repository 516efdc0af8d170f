// Run directories: `runs/<env>__<exp>__<seed>__<unix seconds>/` holding config.json, metrics.jsonl, summary.json
// and checkpoints/. Every file is written atomically except metrics.jsonl, which is appended one line per record;
// a kill can leave only its last line truncated, which reading tolerates and the next append repairs.
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { z } from "zod";
import { parseConfig } from "../core/config.js";
import { CheckpointError, RunDirError } from "../core/errors.js";
import { writeFileAtomic, writeJsonAtomic } from "./atomic.js";
import { loadSafetensorsFile, saveSafetensorsFile, type SafetensorsFile, type TensorInput } from "./safetensors.js";

/** Environment and experiment names become path parts: letters, digits, '.', '_' and '-', and no "__". */
const NAME_RE = /^[A-Za-z0-9._-]+$/;
/** A metric key is `namespace/name` (CleanRL style: `charts/episodic_return`, `losses/value_loss`). */
const METRIC_KEY_RE = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_./-]+$/;
const CHECKPOINT_RE = /^step-(\d+)\.safetensors$/;
/** Metadata keys our checkpoints carry inside the safetensors header. */
export const CHECKPOINT_STEP_KEY = "mesa/step";
export const CHECKPOINT_STATE_KEY = "mesa/state";

export const RunSummarySchema = z.looseObject({
  /** environment id, e.g. `points-bug` */
  env: z.string(),
  /** experiment name, e.g. `ppo` */
  exp: z.string(),
  /** the run's seed */
  seed: z.number().int().nonnegative(),
  /** ISO time the run was created */
  startedAt: z.string(),
  /** `running` until the trainer says otherwise */
  status: z.enum(["running", "finished", "failed"]),
});
export type RunSummary = z.infer<typeof RunSummarySchema>;

/** One line of metrics.jsonl: the step it belongs to plus namespaced scalar metrics (null for NaN/inf). */
export type MetricRecord = { global_step: number } & Record<string, number | null>;

export interface RunIdentity {
  env: string;
  exp: string;
  seed: number;
}

export interface Checkpoint {
  step: number;
  path: string;
}

export interface LoadedCheckpoint extends Checkpoint {
  file: SafetensorsFile;
  /** the JSON state saved alongside the tensors (RNG state, optimizer step…), or undefined */
  state: unknown;
}

/**
 * The directory name of a run: `<env>__<exp>__<seed>__<unix seconds>`. A namespaced env name (`aisg/boat_race`)
 * is written with a '.' for the '/' (the run's config and summary keep the real name).
 */
export function runDirName(id: RunIdentity, time: Date = new Date()): string {
  const env = id.env.replaceAll("/", ".");
  for (const [what, name] of [["env", env], ["exp", id.exp]] as const) {
    if (!NAME_RE.test(name) || name.includes("__")) {
      throw new RunDirError(`${what} name ${JSON.stringify(name)} cannot be part of a run directory name`, "use letters, digits, '.', '_' and '-' (no \"__\")");
    }
  }
  if (!Number.isSafeInteger(id.seed) || id.seed < 0) throw new RunDirError(`seed ${id.seed} is not a non-negative integer`, "pass an integer seed");
  return `${env}__${id.exp}__${id.seed}__${Math.floor(time.getTime() / 1000)}`;
}

/** Parses a run directory name back into its parts, or returns undefined when it is not one. */
export function parseRunDirName(name: string): (RunIdentity & { time: number }) | undefined {
  const m = /^([A-Za-z0-9._-]+?)__([A-Za-z0-9._-]+?)__(\d+)__(\d+)(?:-\d+)?$/.exec(name);
  if (m === null) return undefined;
  return { env: m[1]!, exp: m[2]!, seed: Number(m[3]), time: Number(m[4]) };
}

export class RunDir {
  /** set once the tail of metrics.jsonl has been checked for a truncated line left by a kill */
  private metricsTailChecked = false;

  private constructor(
    /** the run directory */
    readonly path: string,
    /** the parsed config.json */
    readonly config: unknown,
  ) {}

  get configPath(): string {
    return join(this.path, "config.json");
  }
  get metricsPath(): string {
    return join(this.path, "metrics.jsonl");
  }
  get summaryPath(): string {
    return join(this.path, "summary.json");
  }
  get checkpointsPath(): string {
    return join(this.path, "checkpoints");
  }

  /**
   * Creates `root/<env>__<exp>__<seed>__<time>/` with config.json, an empty metrics.jsonl, summary.json
   * (status `running`) and checkpoints/. Two runs created in the same second get `-1`, `-2`… suffixes.
   */
  static create(root: string, id: RunIdentity & { config: unknown; time?: Date }): RunDir {
    if (id.config === null || typeof id.config !== "object" || Array.isArray(id.config)) {
      throw new RunDirError(`the config of a new run must be an object, got ${JSON.stringify(id.config)}`, "pass the parsed training config");
    }
    const time = id.time ?? new Date();
    const name = runDirName(id, time);
    mkdirSync(root, { recursive: true });
    let path = join(root, name);
    for (let k = 1; ; k++) {
      try {
        mkdirSync(path); // not recursive: fails if another run took the name
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new RunDirError(`${path}: cannot create (${(err as Error).message})`, "check the runs directory is writable");
        path = join(root, `${name}-${k}`);
      }
    }
    const run = new RunDir(path, id.config);
    mkdirSync(run.checkpointsPath);
    writeJsonAtomic(run.configPath, id.config);
    writeFileAtomic(run.metricsPath, "");
    const summary: RunSummary = { env: id.env, exp: id.exp, seed: id.seed, startedAt: time.toISOString(), status: "running" };
    writeJsonAtomic(run.summaryPath, summary);
    run.metricsTailChecked = true;
    return run;
  }

  /**
   * Opens an existing run: config.json and summary.json must be present and valid (config checked against
   * `configSchema` when given). metrics.jsonl and checkpoints/ are read on demand.
   */
  static open<S extends z.ZodType>(path: string, configSchema?: S): RunDir {
    if (!existsSync(path) || !statSync(path).isDirectory()) {
      throw new RunDirError(`${path}: no such run directory`, "pass a directory under runs/ (see `ls runs`)");
    }
    const configPath = join(path, "config.json");
    const rawConfig = readJsonFile(configPath);
    if (rawConfig === null || typeof rawConfig !== "object" || Array.isArray(rawConfig)) {
      throw new RunDirError(`${configPath}: expected a JSON object, got ${Array.isArray(rawConfig) ? "an array" : JSON.stringify(rawConfig)}`, "restore config.json from the run's launch config");
    }
    const config = configSchema ? parseConfig(configSchema, rawConfig, configPath) : rawConfig;
    const run = new RunDir(path, config);
    run.summary(); // validates summary.json
    return run;
  }

  /** The run's summary.json, validated. */
  summary(): RunSummary {
    const raw = readJsonFile(this.summaryPath);
    const parsed = RunSummarySchema.safeParse(raw);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
      throw new RunDirError(`${this.summaryPath}: invalid summary (${problems})`, "the file was edited or damaged; restore env, exp, seed, startedAt and status");
    }
    return parsed.data;
  }

  /** Merges `fields` into summary.json (atomically). */
  updateSummary(fields: Partial<RunSummary> & Record<string, unknown>): RunSummary {
    const next = { ...this.summary(), ...fields };
    const parsed = RunSummarySchema.safeParse(next);
    if (!parsed.success) throw new RunDirError(`${this.summaryPath}: refusing to write an invalid summary (${parsed.error.issues[0]?.message})`, "keep env, exp, seed, startedAt and status valid");
    writeJsonAtomic(this.summaryPath, parsed.data);
    return parsed.data;
  }

  /**
   * Appends one record to metrics.jsonl as a single write of one line. Keys other than `global_step` must be
   * namespaced (`charts/episodic_return`); NaN and infinities are stored as null (JSON has no such numbers).
   */
  appendMetrics(record: { global_step: number } & Record<string, number | null>): void {
    const step = record.global_step;
    if (!Number.isSafeInteger(step) || step < 0) throw new RunDirError(`${this.metricsPath}: global_step must be a non-negative integer, got ${step}`, "pass the number of environment steps so far");
    const line: Record<string, number | null> = { global_step: step };
    for (const [key, value] of Object.entries(record)) {
      if (key === "global_step") continue;
      if (!METRIC_KEY_RE.test(key)) throw new RunDirError(`${this.metricsPath}: metric key ${JSON.stringify(key)} is not namespaced`, "name metrics like charts/episodic_return or losses/value_loss");
      if (value !== null && typeof value !== "number") throw new RunDirError(`${this.metricsPath}: metric ${key} is ${JSON.stringify(value)}, not a number`, "log scalars only");
      line[key] = value === null || Number.isFinite(value) ? value : null;
    }
    this.repairMetricsTail();
    const fd = openSync(this.metricsPath, "a");
    try {
      const bytes = Buffer.from(`${JSON.stringify(line)}\n`, "utf8");
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * A kill mid-append leaves a final line without its newline. Before appending after it: cut it off when it is
   * not a valid record (what readMetrics drops), or finish it with its newline when it is (what readMetrics keeps).
   */
  private repairMetricsTail(): void {
    if (this.metricsTailChecked) return;
    this.metricsTailChecked = true;
    if (!existsSync(this.metricsPath)) return;
    const fd = openSync(this.metricsPath, "r+");
    try {
      const size = fstatSync(fd).size;
      // scan back from the end for the last newline, in chunks
      const chunk = Buffer.alloc(4096);
      let lineStart = 0;
      for (let end = size; end > 0; ) {
        const start = Math.max(0, end - chunk.length);
        const n = readSync(fd, chunk, 0, end - start, start);
        const at = chunk.subarray(0, n).lastIndexOf(0x0a);
        if (at >= 0) {
          lineStart = start + at + 1;
          break;
        }
        end = start;
      }
      if (lineStart === size) return;
      const tail = Buffer.alloc(size - lineStart);
      readSync(fd, tail, 0, tail.length, lineStart);
      if (typeof checkMetricLine(tail.toString("utf8")) === "string") ftruncateSync(fd, lineStart);
      else writeSync(fd, "\n", size);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Reads metrics.jsonl. A final line cut short by a kill is dropped (`truncatedTail` says so); any other line
   * that is not a valid record is an error naming the file and line number.
   */
  readMetrics(): { records: MetricRecord[]; truncatedTail: boolean } {
    let text: string;
    try {
      text = readFileSync(this.metricsPath, "utf8");
    } catch (err) {
      throw new RunDirError(`${this.metricsPath}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, "the run directory is incomplete; was it created by mesa?");
    }
    const lines = text.split("\n");
    const endsCleanly = lines[lines.length - 1] === "";
    if (endsCleanly) lines.pop();
    const records: MetricRecord[] = [];
    let truncatedTail = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const isLast = i === lines.length - 1;
      const problem = checkMetricLine(line);
      if (typeof problem !== "string") {
        records.push(problem);
        continue;
      }
      if (isLast && !endsCleanly) {
        truncatedTail = true; // the writer was killed mid-line
        continue;
      }
      throw new RunDirError(`${this.metricsPath}:${i + 1}: ${problem}`, "the line was edited or damaged; delete or fix it");
    }
    return { records, truncatedTail };
  }

  /** Writes `checkpoints/step-<step>.safetensors` atomically; `state` (JSON) rides in the safetensors metadata. */
  saveCheckpoint(
    step: number,
    tensors: ReadonlyMap<string, TensorInput> | Readonly<Record<string, TensorInput>>,
    state?: unknown,
    metadata: Readonly<Record<string, string>> = {},
  ): Checkpoint {
    if (!Number.isSafeInteger(step) || step < 0) throw new CheckpointError(`checkpoint step must be a non-negative integer, got ${step}`, "pass global_step");
    const path = join(this.checkpointsPath, `step-${step}.safetensors`);
    const meta: Record<string, string> = { format: "pt", ...metadata, [CHECKPOINT_STEP_KEY]: String(step) };
    if (state !== undefined) meta[CHECKPOINT_STATE_KEY] = JSON.stringify(state);
    saveSafetensorsFile(path, tensors, meta);
    return { step, path };
  }

  /** Checkpoints on disk, by step ascending (temp files of interrupted writes are ignored). */
  listCheckpoints(): Checkpoint[] {
    if (!existsSync(this.checkpointsPath)) return [];
    const out: Checkpoint[] = [];
    for (const name of readdirSync(this.checkpointsPath)) {
      const m = CHECKPOINT_RE.exec(name);
      if (m) out.push({ step: Number(m[1]), path: join(this.checkpointsPath, name) });
    }
    return out.sort((a, b) => a.step - b.step);
  }

  /** Loads and checks one checkpoint; a damaged one is a CheckpointError naming the file. */
  loadCheckpoint(checkpoint: Checkpoint): LoadedCheckpoint {
    const file = loadSafetensorsFile(checkpoint.path);
    const recorded = file.metadata[CHECKPOINT_STEP_KEY];
    if (recorded !== String(checkpoint.step)) {
      throw new CheckpointError(`${checkpoint.path}: metadata ${CHECKPOINT_STEP_KEY} is ${JSON.stringify(recorded)}, but the file name says step ${checkpoint.step}`, "the file was renamed or is not a mesa checkpoint");
    }
    let state: unknown;
    const rawState = file.metadata[CHECKPOINT_STATE_KEY];
    if (rawState !== undefined) {
      try {
        state = JSON.parse(rawState);
      } catch {
        throw new CheckpointError(`${checkpoint.path}: metadata ${CHECKPOINT_STATE_KEY} is not valid JSON`, "the checkpoint is damaged; use an earlier one");
      }
    }
    return { ...checkpoint, file, state };
  }

  /**
   * The newest checkpoint that loads. Policy: a damaged newer checkpoint is skipped when an older valid one
   * exists (each skipped file and its error is returned so the caller can warn); when none is valid the error
   * of the newest is thrown. Returns undefined when there are no checkpoints at all.
   */
  latestCheckpoint(): { checkpoint: LoadedCheckpoint; skipped: { path: string; error: CheckpointError }[] } | undefined {
    const all = this.listCheckpoints().reverse();
    const skipped: { path: string; error: CheckpointError }[] = [];
    for (const c of all) {
      try {
        return { checkpoint: this.loadCheckpoint(c), skipped };
      } catch (err) {
        if (!(err instanceof CheckpointError)) throw err;
        skipped.push({ path: c.path, error: err });
      }
    }
    if (skipped.length === 0) return undefined;
    const first = skipped[0]!.error;
    throw new CheckpointError(
      `${basename(this.path)}: none of its ${skipped.length} checkpoint${skipped.length === 1 ? " is" : "s are"} readable; newest: ${first.message}`,
      "start the run again without --resume, or restore a checkpoint file",
    );
  }
}

/** Lists the run directories under `root` (newest first), skipping entries that are not run directories. */
export function listRuns(root: string): { path: string; name: string; id: RunIdentity & { time: number } }[] {
  if (!existsSync(root)) return [];
  const out: { path: string; name: string; id: RunIdentity & { time: number } }[] = [];
  for (const name of readdirSync(root)) {
    const id = parseRunDirName(name);
    const path = join(root, name);
    if (id && statSync(path).isDirectory()) out.push({ path, name, id });
  }
  return out.sort((a, b) => b.id.time - a.id.time || (a.name < b.name ? -1 : 1));
}

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RunDirError(code === "ENOENT" ? `${path}: missing` : `${path}: cannot read (${code ?? (err as Error).message})`, "the run directory is incomplete or was not created by mesa");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RunDirError(`${path}: not valid JSON (${(err as Error).message})`, "the file is damaged; restore it or start a new run");
  }
}

/** A parsed metrics record, or a string saying what is wrong with the line (also used by the dashboard's reader). */
export function checkMetricLine(line: string): MetricRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return `not valid JSON: ${line.length > 60 ? `${line.slice(0, 57)}...` : line}`;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "not a JSON object";
  const record = value as Record<string, unknown>;
  const step = record.global_step;
  if (typeof step !== "number" || !Number.isSafeInteger(step) || step < 0) return `global_step is ${JSON.stringify(step)}, not a non-negative integer`;
  for (const [key, v] of Object.entries(record)) {
    if (key !== "global_step" && v !== null && typeof v !== "number") return `${key} is ${JSON.stringify(v)}, not a number`;
  }
  return record as MetricRecord;
}
