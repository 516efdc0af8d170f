// Run directories: `runs/<env>__<exp>__<seed>__<unix seconds>/` holding config.json, metrics.jsonl, summary.json
// and checkpoints/. Every file is written atomically except metrics.jsonl, which is appended one line per record;
// a kill can leave only its last line truncated, which reading tolerates and the next append repairs.
//
// One writer at a time: a process that writes a run's training state (config, metrics, summary, checkpoints —
// `mesa train`, `train --resume`, `demo`, `experiment`, `icl`) holds the run's lock, `run.lock`, a JSON file
// with its PID, host and command line, created atomically (hard link of a complete temp file) so it is never
// half-written. A second writer is refused with a message naming the holder. A lock whose process is gone
// (killed with -9, machine rebooted, PID reused by another program) is stale and taken over. A run whose
// summary says "running" but whose lock has no live holder was killed: `runActivity()` reports it as
// "interrupted". Recordings under episodes/ are written atomically by evaluations without the lock (they never
// touch training state). Use `RunDir.create` / `RunDir.open(path, schema, { lock })` and `run.release()`;
// every lock still held when the process exits is released (and its run marked "interrupted" when its summary
// still says "running").
import { closeSync, existsSync, fstatSync, ftruncateSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { basename, join } from "node:path";
import { z } from "zod";
import { parseConfig } from "../core/config.js";
import { CheckpointError, RunDirError, RunLockedError } from "../core/errors.js";
import { fsError, isAtomicTempFile, writeFileAtomic, writeJsonAtomic } from "./atomic.js";
import { readJsonObject, readJsonValue } from "./json.js";
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
  /** `running` until the trainer says otherwise; `interrupted` after SIGINT/SIGTERM (resume continues it) */
  status: z.enum(["running", "finished", "failed", "interrupted"]),
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


// ── the run lock ──

/** The lock file's name inside a run directory. */
export const RUN_LOCK_FILE = "run.lock";

/** Who holds a run's lock (the lock file's JSON). */
export interface RunLockHolder {
  pid: number;
  host: string;
  /** the holder's command line, e.g. `mesa train --resume runs/…` */
  command: string;
  /** ISO time the lock was taken */
  since: string;
  /** Linux: the process's start time (clock ticks after boot), to tell the holder from a later process with its PID */
  procStart: number | null;
  /** Linux: the boot's id; a lock from an earlier boot is stale whatever its PID */
  bootId: string | null;
}

function readOptional(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat (starttime), or null off Linux or when the process is gone. */
function procStartOf(pid: number): number | null {
  const stat = readOptional(`/proc/${pid}/stat`);
  if (stat === null) return null;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 (state) on
  const start = Number(fields[19]);
  return Number.isFinite(start) ? start : null;
}

const BOOT_ID = readOptional("/proc/sys/kernel/random/boot_id");

function commandLine(): string {
  const args = process.argv.slice(2).map((a) => (/^[\w./=,:@%+-]+$/.test(a) ? a : JSON.stringify(a)));
  const line = ["mesa", ...args].join(" ");
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

function parseHolder(text: string): RunLockHolder | undefined {
  try {
    const h = JSON.parse(text) as Partial<RunLockHolder>;
    if (typeof h.pid === "number" && Number.isSafeInteger(h.pid) && h.pid > 0 && typeof h.host === "string") {
      return { pid: h.pid, host: h.host, command: String(h.command ?? "?"), since: String(h.since ?? "?"), procStart: typeof h.procStart === "number" ? h.procStart : null, bootId: typeof h.bootId === "string" ? h.bootId : null };
    }
  } catch {
    // not JSON: a damaged lock
  }
  return undefined;
}

/**
 * Whether the lock's holder is still running: "alive", "dead", or "unknown" for a holder on another host (its
 * PID cannot be checked from here).
 */
export function holderState(holder: RunLockHolder): "alive" | "dead" | "unknown" {
  if (holder.host !== hostname()) return "unknown";
  if (holder.bootId !== null && BOOT_ID !== null && holder.bootId !== BOOT_ID) return "dead"; // rebooted since
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return "dead";
    // EPERM: a process we may not signal exists with that PID
  }
  if (holder.procStart !== null) {
    const now = procStartOf(holder.pid);
    if (now !== null && now !== holder.procStart) return "dead"; // the PID now belongs to another process
  }
  return "alive";
}

function describeHolder(h: RunLockHolder): string {
  return `PID ${h.pid} on ${h.host === hostname() ? "this host" : `host ${h.host}`} (\`${h.command}\`, since ${h.since})`;
}

/** Every lock this process holds, released when it exits. */
const heldLocks = new Set<RunLock>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const lock of [...heldLocks]) {
      try {
        lock.onAbandon?.();
      } catch {
        // best effort at exit: the lock is released below either way
      }
      lock.release();
    }
  });
}

/** A held run lock. `release()` removes the lock file if it is still ours. */
export class RunLock {
  /** called when the process exits still holding the lock (the run's summary is marked interrupted) */
  onAbandon: (() => void) | undefined;

  constructor(
    /** the lock file */
    readonly path: string,
    readonly holder: RunLockHolder,
    private readonly text: string,
  ) {
    heldLocks.add(this);
    installExitHook();
  }

  get held(): boolean {
    return heldLocks.has(this);
  }

  release(): void {
    if (!heldLocks.delete(this)) return;
    if (readOptional(this.path) === this.text.trim()) rmSync(this.path, { force: true });
  }
}

let lockCounter = 0;
let buildCounter = 0;

/** Removes run directories a killed process left half-built (`.<name>.<pid>.<n>.building`, its PID gone). */
function removeAbandonedBuilds(root: string): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^\..+\.(\d+)\.\d+\.building$/.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code !== "ESRCH";
    }
    if (!alive) rmSync(join(root, name), { recursive: true, force: true });
  }
}

/** Creates the lock file with `text` unless it exists; the file appears complete or not at all. */
function createLockFile(path: string, text: string, label: string): boolean {
  const tmp = join(path, "..", `.${RUN_LOCK_FILE}.${process.pid}.${lockCounter++}.tmp`);
  try {
    writeFileSync(tmp, text, { flag: "wx" });
  } catch (err) {
    throw fsError(err, label, "lock the run");
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EOPNOTSUPP") throw fsError(err, label, "lock the run");
    // no hard links on this filesystem: exclusive create (the file can be seen empty for a moment)
    try {
      writeFileSync(path, text, { flag: "wx" });
      return true;
    } catch (err2) {
      if ((err2 as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw fsError(err2, label, "lock the run");
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Takes the lock of the run directory `dir` for this process, or throws RunLockedError naming the live holder.
 * A stale lock (its process is gone) is taken over. `command` describes the holder (default: this command line).
 */
export function acquireRunLock(dir: string, command = commandLine()): RunLock {
  const path = join(dir, RUN_LOCK_FILE);
  const holder: RunLockHolder = { pid: process.pid, host: hostname(), command, since: new Date().toISOString(), procStart: procStartOf(process.pid), bootId: BOOT_ID };
  const text = `${JSON.stringify(holder)}\n`;
  for (let attempt = 0; attempt < 20; attempt++) {
    if (createLockFile(path, text, dir)) return new RunLock(path, holder, text);
    const seen = readOptional(path);
    if (seen === null) continue; // released in between: try again
    const other = parseHolder(seen);
    if (other !== undefined) {
      if (other.pid === process.pid && other.host === holder.host && other.procStart === holder.procStart) {
        throw new RunLockedError(`${dir} is already locked by this process: ${describeHolder(other)}`, "release the run (run.release()) before opening it again for writing");
      }
      const state = holderState(other);
      if (state !== "dead") {
        throw new RunLockedError(
          `${dir} is in use: locked by ${describeHolder(other)}`,
          state === "alive"
            ? `wait for it to finish or stop it (kill ${other.pid}); evaluating it with \`mesa eval\` works meanwhile`
            : `if that process is no longer running, delete ${path} and try again`,
        );
      }
    }
    // stale (or damaged): move it aside atomically, and put it back if it turns out to be a fresh lock after all
    const aside = `${path}.stale.${process.pid}.${lockCounter++}`;
    try {
      renameSync(path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw fsError(err, dir, "take over the stale lock");
    }
    if (readOptional(aside) !== seen) {
      try {
        linkSync(aside, path); // someone's fresh lock: restore it (unless yet another appeared meanwhile)
      } catch {
        // EEXIST: a newer lock holds the run; ours goes away
      }
    }
    rmSync(aside, { force: true });
  }
  throw new RunLockedError(`${dir}: could not take the run lock (other processes keep taking it)`, "try again when the other commands have started");
}

/** The run's lock holder, if the lock file exists and is readable, with whether it is alive. */
export function readRunLock(dir: string): { holder: RunLockHolder; state: "alive" | "dead" | "unknown" } | undefined {
  const text = readOptional(join(dir, RUN_LOCK_FILE));
  const holder = text === null ? undefined : parseHolder(text);
  return holder ? { holder, state: holderState(holder) } : undefined;
}

/** A run's status as a reader should report it: summary.json's, except "running" without a live holder is "interrupted". */
export interface RunActivity {
  status: RunSummary["status"];
  /** the live (or unverifiable, on another host) lock holder */
  holder?: RunLockHolder;
  /** summary.json says "running" but no live process holds the lock: the run was killed */
  killed: boolean;
}

export class RunDir {
  /** set once the tail of metrics.jsonl has been checked for a truncated line left by a kill */
  private metricsTailChecked = false;
  /** this process's lock on the run, while it writes it */
  private runLock: RunLock | undefined;

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
   * (status `running`) and checkpoints/, and takes its lock (release it with `release()`). Two runs created in
   * the same second get `-1`, `-2`… suffixes.
   */
  static create(root: string, id: RunIdentity & { config: unknown; time?: Date; command?: string }): RunDir {
    if (id.config === null || typeof id.config !== "object" || Array.isArray(id.config)) {
      throw new RunDirError(`the config of a new run must be an object, got ${JSON.stringify(id.config)}`, "pass the parsed training config");
    }
    const time = id.time ?? new Date();
    const name = runDirName(id, time);
    try {
      mkdirSync(root, { recursive: true });
    } catch (err) {
      throw fsError(err, root, "create the runs folder");
    }
    removeAbandonedBuilds(root);
    // built under a hidden temp name and renamed into place, so a kill never leaves a half-made run directory
    const building = join(root, `.${name}.${process.pid}.${buildCounter++}.building`);
    try {
      mkdirSync(building);
      mkdirSync(join(building, "checkpoints"));
      writeJsonAtomic(join(building, "config.json"), id.config);
      writeFileAtomic(join(building, "metrics.jsonl"), "");
      const summary: RunSummary = { env: id.env, exp: id.exp, seed: id.seed, startedAt: time.toISOString(), status: "running" };
      writeJsonAtomic(join(building, "summary.json"), summary);
    } catch (err) {
      rmSync(building, { recursive: true, force: true });
      throw err instanceof RunDirError || (err as { hint?: unknown }).hint !== undefined ? err : fsError(err, root, "create the run directory");
    }
    let path = join(root, name);
    for (let k = 1; ; k++) {
      try {
        if (existsSync(path)) throw Object.assign(new Error("exists"), { code: "EEXIST" });
        renameSync(building, path);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "EEXIST" && code !== "ENOTEMPTY") {
          rmSync(building, { recursive: true, force: true });
          throw fsError(err, path, "create the run directory");
        }
        path = join(root, `${name}-${k}`); // another run took the name in the same second
      }
    }
    const run = new RunDir(path, id.config);
    // a kill between the rename and the lock leaves a whole run whose holder is gone: reported as interrupted
    run.runLock = acquireRunLock(path, id.command);
    run.runLock.onAbandon = () => run.markAbandoned();
    run.metricsTailChecked = true;
    return run;
  }

  /**
   * Opens an existing run: config.json and summary.json must be present and valid (config checked against
   * `configSchema` when given). metrics.jsonl and checkpoints/ are read on demand. With `lock` (a description
   * of the writer, or true for this command line) the run's lock is taken first: a run another live process
   * writes is refused (RunLockedError), and temp files left by killed writers are removed.
   */
  static open<S extends z.ZodType>(path: string, configSchema?: S, options: { lock?: string | true } = {}): RunDir {
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new RunDirError(`${path}: no such run directory`, "pass a directory under runs/ (see `ls runs`)");
    }
    if (!st.isDirectory()) throw new RunDirError(`${path} is a file, not a run directory`, "pass the run's folder (runs/<env>__<exp>__<seed>__<time>), not a file in it");
    const lock = options.lock === undefined ? undefined : acquireRunLock(path, options.lock === true ? undefined : options.lock);
    try {
      const configPath = join(path, "config.json");
      const rawConfig = readJsonObject(configPath, { ...RUN_FILE_HINTS, damaged: "restore config.json from the run's launch config" });
      const config = configSchema ? parseConfig(configSchema, rawConfig, configPath) : rawConfig;
      const run = new RunDir(path, config);
      run.summary(); // validates summary.json
      if (lock) {
        run.runLock = lock;
        lock.onAbandon = () => run.markAbandoned();
        run.removeTempFiles();
      }
      return run;
    } catch (err) {
      lock?.release();
      throw err;
    }
  }

  /** True while this process holds the run's lock. */
  get locked(): boolean {
    return this.runLock?.held ?? false;
  }

  /** Releases this process's lock on the run (no-op when not held). */
  release(): void {
    this.runLock?.release();
    this.runLock = undefined;
  }

  /** At exit with the lock still held: a summary still "running" becomes "interrupted". */
  private markAbandoned(): void {
    if (this.summary().status === "running") this.updateSummary({ status: "interrupted" });
  }

  /** Removes temp files of atomic writes a killed writer left in the run folder and checkpoints/ (lock held). */
  private removeTempFiles(): void {
    for (const dir of [this.path, this.checkpointsPath]) {
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir)) if (isAtomicTempFile(name)) rmSync(join(dir, name), { force: true });
    }
  }

  /** The run's status as a reader should see it: "running" with no live lock holder means it was killed. */
  activity(): RunActivity {
    const status = this.summary().status;
    const lock = readRunLock(this.path);
    const live = lock !== undefined && lock.state !== "dead" ? lock.holder : undefined;
    if (status === "running" && live === undefined) return { status: "interrupted", killed: true };
    return live ? { status, holder: live, killed: false } : { status, killed: false };
  }

  /** The run's summary.json, validated. */
  summary(): RunSummary {
    const raw = readJsonValue(this.summaryPath, RUN_FILE_HINTS);
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
    let fd: number;
    try {
      fd = openSync(this.metricsPath, "a");
    } catch (err) {
      throw fsError(err, this.metricsPath, "append to");
    }
    try {
      const bytes = Buffer.from(`${JSON.stringify(line)}\n`, "utf8");
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (err) {
      throw fsError(err, this.metricsPath, "append to");
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

  /**
   * Deletes all but the newest `keep` checkpoints (by step); `null` keeps every one. Returns the deleted paths.
   * Call it after a new checkpoint is written, so the newest — the one a resume or an eval needs — always stays.
   */
  pruneCheckpoints(keep: number | null): string[] {
    if (keep === null) return [];
    if (!Number.isSafeInteger(keep) || keep < 1) throw new RunDirError(`keepCheckpoints must be a positive integer or null (keep all), got ${keep}`, "keep at least the newest checkpoint");
    const all = this.listCheckpoints();
    const deleted: string[] = [];
    for (const c of all.slice(0, Math.max(0, all.length - keep))) {
      rmSync(c.path, { force: true });
      deleted.push(c.path);
    }
    return deleted;
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

/** Hints for run-directory files (config.json, summary.json) that are missing or damaged. */
const RUN_FILE_HINTS = { missing: "the run directory is incomplete or was not created by mesa", damaged: "the file is damaged; restore it or start a new run" };

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
