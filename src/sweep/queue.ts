// Sweeps across machines: the jobs go into a BullMQ queue on Redis; `mesa worker` processes on any number of
// machines pull them, run each in their local pool (a job crash never takes the worker down, and the worker's
// event loop stays free to renew its BullMQ locks), and return the metrics, plus the run directory's files or a
// copy in a shared `--artifacts` folder. A worker that dies mid-job loses its lock; BullMQ's stalled-job check puts
// the job back for another worker, and only the attempt that holds the lock can complete it, so every job's
// result is recorded once. Job ids are `<sweep>.<job key>`: enqueuing the same sweep again adds nothing twice
// and skips finished jobs; failed jobs are retried.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import { type Job, Queue, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { MesaError, UsageError } from "../core/errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { type JobResult, type SweepRecord, recordedRunDir } from "./folder.js";
import { type JobMetrics, jobKinds } from "./jobs.js";
import { type JobOutcome, WorkerPool } from "./pool.js";
import { finishRecord, initialRecord, partialSummary, pendingResult } from "./record.js";
import { SWEEP_NAME_RE, type SweepPlan, parseSweepSpec, planSweep } from "./spec.js";

/** The BullMQ queue every sweep's jobs go to, and the key prefix of everything mesa keeps in Redis. */
export const QUEUE_NAME = "sweep-jobs";
export const KEY_PREFIX = "mesa";

/** What a job carries through the queue. */
export interface QueueJobData {
  sweep: string;
  id: string;
  key: string;
  setting: string;
  settings: Record<string, unknown>;
  seed: number;
  kind: string;
  config: unknown;
  options: unknown;
}

/** A file of a run directory returned through the queue. */
export interface ReturnedFile {
  /** path inside the run directory */
  path: string;
  encoding: "utf8" | "base64";
  data: string;
}

/** What a worker returns for a finished job (BullMQ stores it as the job's return value). */
export interface QueueJobReturn {
  host: string;
  worker: string;
  /** the run directory on the worker's machine */
  run_dir: string;
  /** its copy in the shared --artifacts folder, when the worker had one */
  artifact_dir: string | null;
  metrics: JobMetrics;
  seconds: number;
  /** the run directory's files (newest checkpoint only), when no --artifacts folder took them */
  files: ReturnedFile[];
  /** files left out to stay under the size limit */
  omitted: string[];
}

/** The job's progress as workers report it: where it runs, so a retry on the same machine can continue it. */
interface QueueJobProgress {
  host: string;
  pid?: number;
  runDir?: string;
  fraction: number;
}

/** A queue address checked for form, with the password hidden for display (`secret`: it has one). */
export function parseQueueUrl(url: string, flag = "--queue"): { url: string; display: string; secret: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${flag} "${url}" is not a URL`, "write redis://host:6379 (or rediss://user:password@host:6380 for TLS)");
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new UsageError(`${flag} "${url}" is not a Redis URL (${parsed.protocol}//)`, "write redis://host:6379, or rediss://… for a TLS connection");
  }
  if (parsed.hostname === "") throw new UsageError(`${flag} "${url}" names no host`, "write redis://host:6379");
  const display = new URL(url);
  const secret = display.password !== "";
  if (secret) display.password = "***";
  return { url, display: display.toString(), secret };
}

/**
 * Connects to Redis and checks it answers (PING), failing within `timeoutMs` with an error that names the address
 * and the likely fix. Once connected, the connection reconnects on its own (workers run for days).
 */
export async function connectRedis(url: string, timeoutMs = 5000): Promise<Redis> {
  const { display } = parseQueueUrl(url);
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null, connectTimeout: timeoutMs, retryStrategy: () => null, enableOfflineQueue: false });
  // the socket's own error (ECONNREFUSED, ENOTFOUND, TLS…) says more than connect()'s "Connection is closed"
  let socketError: NodeJS.ErrnoException | undefined;
  redis.on("error", (err: NodeJS.ErrnoException) => (socketError ??= err));
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const e = socketError ?? (err as NodeJS.ErrnoException);
    const text = `${e.code ?? ""} ${e.message}`;
    if (/NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(text)) {
      throw new MesaError(`Redis at ${display} refused the credentials (${e.message})`, "put the user and password in the URL: redis://user:password@host:6379 (rediss:// for TLS)");
    }
    const hint = /ENOTFOUND|EAI_AGAIN/.test(text)
      ? "check the host name in --queue"
      : /certificate|SSL|TLS|EPROTO/i.test(text)
        ? "for a server with TLS use rediss://; for one without, redis://"
        : "start redis-server there (or check host, port and firewall); nothing was enqueued";
    throw new MesaError(`cannot reach Redis at ${display} (${e.code ?? e.message})`, hint);
  }
  redis.options.retryStrategy = (times: number) => Math.min(200 * times, 5000);
  return redis;
}

function sweepKey(name: string): string {
  return `${KEY_PREFIX}:sweep:${name}`;
}

/** What mesa keeps in Redis per sweep, beside BullMQ's jobs: the spec and the job list, for status and results. */
interface SweepMeta {
  name: string;
  spec: unknown;
  created_at: string;
  updated_at: string;
}

function jobId(sweep: string, key: string): string {
  return `${sweep}.${key}`;
}

export interface EnqueueSummary {
  jobs: number;
  /** new in the queue */
  added: number;
  /** finished in an earlier enqueue: skipped */
  finished: number;
  /** failed earlier: put back in the queue */
  retried: number;
  /** waiting or running from an earlier enqueue: left as they are */
  queued: number;
}

/** Enqueues the plan's jobs (idempotently; see the file comment). */
export async function enqueueSweep(redis: Redis, plan: SweepPlan): Promise<EnqueueSummary> {
  const queue = new Queue<QueueJobData, QueueJobReturn>(QUEUE_NAME, { connection: redis, prefix: KEY_PREFIX });
  try {
    const now = new Date().toISOString();
    const old = await redis.get(sweepKey(plan.spec.name));
    const meta: SweepMeta = { name: plan.spec.name, spec: plan.spec, created_at: old ? (JSON.parse(old) as SweepMeta).created_at : now, updated_at: now };
    await redis.multi().set(sweepKey(plan.spec.name), JSON.stringify(meta)).sadd(`${KEY_PREFIX}:sweeps`, plan.spec.name).exec();
    const summary: EnqueueSummary = { jobs: plan.jobs.length, added: 0, finished: 0, retried: 0, queued: 0 };
    const fresh: { name: string; data: QueueJobData; opts: { jobId: string; attempts: number; removeOnComplete: false; removeOnFail: false } }[] = [];
    const states = await Promise.all(plan.jobs.map((job) => queue.getJobState(jobId(plan.spec.name, job.key))));
    for (const [i, job] of plan.jobs.entries()) {
      const id = jobId(plan.spec.name, job.key);
      const state = states[i]!;
      if (state === "completed") summary.finished++;
      else if (state === "failed") {
        await (await queue.getJob(id))!.retry("failed");
        summary.retried++;
      } else if (state === "unknown") {
        fresh.push({
          name: plan.kind.name,
          data: { sweep: plan.spec.name, id: job.id, key: job.key, setting: job.setting, settings: job.settings, seed: job.seed, kind: plan.kind.name, config: job.config, options: plan.options },
          opts: { jobId: id, attempts: plan.spec.retries + 1, removeOnComplete: false, removeOnFail: false },
        });
      } else summary.queued++;
    }
    for (let i = 0; i < fresh.length; i += 500) await queue.addBulk(fresh.slice(i, i + 500));
    summary.added = fresh.length;
    return summary;
  } finally {
    await queue.close();
  }
}

/** The plan of a sweep known to the queue (re-expanded from its stored spec). */
export async function queuedPlan(redis: Redis, name: string): Promise<SweepPlan> {
  const text = await redis.get(sweepKey(name));
  if (text === null) {
    const known = await redis.smembers(`${KEY_PREFIX}:sweeps`);
    throw new UsageError(`the queue has no sweep "${name}"`, known.length > 0 ? `sweeps on this queue: ${known.sort().join(", ")}` : "enqueue one with `mesa sweep SPEC --queue URL`");
  }
  const meta = JSON.parse(text) as SweepMeta;
  return planSweep(parseSweepSpec(meta.spec, `the queued spec of ${name}`), `the queued spec of ${name}`);
}

/** Names of the sweeps on the queue. */
export async function queuedSweeps(redis: Redis): Promise<string[]> {
  return (await redis.smembers(`${KEY_PREFIX}:sweeps`)).sort();
}

/**
 * The sweep's record from the queue: every job's state, and finished jobs' metrics. With `sweepDir`, run
 * directories returned through the queue are written under `<sweepDir>/runs/` (once), so the folder holds them.
 */
export async function queueRecord(redis: Redis, plan: SweepPlan, options: { display: string; sweepDir: string; materialize: boolean }): Promise<SweepRecord> {
  const queue = new Queue<QueueJobData, QueueJobReturn>(QUEUE_NAME, { connection: redis, prefix: KEY_PREFIX });
  try {
    const record = initialRecord(plan, { backend: "redis", queue: options.display, sweepDir: options.sweepDir });
    const jobs = await Promise.all(plan.jobs.map((job) => queue.getJob(jobId(plan.spec.name, job.key))));
    const states = await Promise.all(jobs.map((job) => (job ? job.getState() : Promise.resolve("unknown"))));
    record.results = plan.jobs.map((planned, i): JobResult => {
      const job = jobs[i];
      const result = pendingResult(planned);
      if (!job) return { ...result, error: "not in the queue: enqueue the sweep again" };
      const progress = (typeof job.progress === "object" ? job.progress : null) as QueueJobProgress | null;
      Object.assign(result, {
        attempts: job.attemptsStarted,
        host: progress?.host ?? null,
        pid: progress?.pid ?? null,
        run_dir: progress?.runDir ?? null,
        started_at: job.processedOn ? new Date(job.processedOn).toISOString() : null,
      });
      const state = states[i];
      if (state === "completed" && job.returnvalue) {
        const value = job.returnvalue;
        const runDir = options.materialize ? materializeRun(options.sweepDir, planned.key, value) : (value.artifact_dir ?? value.run_dir);
        Object.assign(result, {
          status: "finished",
          host: value.host,
          run_dir: recordedRunDir(options.sweepDir, runDir),
          metrics: value.metrics,
          seconds: value.seconds,
          finished_at: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
        });
      } else if (state === "failed") {
        Object.assign(result, { status: "failed", error: job.failedReason, finished_at: job.finishedOn ? new Date(job.finishedOn).toISOString() : null });
      } else if (state === "active") result.status = "running";
      return result;
    });
    const done = record.results.every((r) => r.status === "finished" || r.status === "failed");
    if (done) {
      finishRecord(record, plan);
      record.status = "finished";
    } else {
      record.summary = await partialSummary(record);
      record.status = "queued";
    }
    return record;
  } finally {
    await queue.close();
  }
}

/** The file that names the job a run directory copied into a shared folder belongs to. */
const JOB_MARK = ".mesa-job";

/**
 * The place for job `key`'s run directory `name` under `root`: `name` itself, or `name-1`, `name-2`… when a run
 * of another job took it (two machines can start runs of the same env and seed in the same second). `taken`:
 * the job's copy is already there.
 */
function runTarget(root: string, name: string, key: string): { path: string; taken: boolean } {
  for (let k = 0; ; k++) {
    const path = join(root, k === 0 ? name : `${name}-${k}`);
    if (!existsSync(path)) return { path, taken: false };
    let owner: string | undefined;
    try {
      owner = readFileSync(join(path, JOB_MARK), "utf8");
    } catch {
      owner = undefined; // not a copy of ours (or one being written): look further
    }
    if (owner === key) return { path, taken: true };
  }
}

/** Writes a job's returned files under `<sweepDir>/runs/` (once); returns the run directory. */
function materializeRun(sweepDir: string, key: string, value: QueueJobReturn): string {
  if (value.files.length === 0) return value.artifact_dir ?? value.run_dir;
  const { path: target, taken } = runTarget(join(sweepDir, "runs"), basename(value.run_dir), key);
  if (taken) return target;
  for (const file of value.files) {
    const path = join(target, file.path);
    if (!path.startsWith(`${target}/`)) throw new MesaError(`a worker returned a file outside its run directory: ${file.path}`, "the queue's data is damaged or was written by something other than mesa");
    writeFileAtomic(path, file.encoding === "base64" ? Buffer.from(file.data, "base64") : file.data);
  }
  writeFileAtomic(join(target, JOB_MARK), key); // last: a copy cut short is written again next time
  return target;
}

/** Files of a run directory to return through the queue: everything but older checkpoints, within `maxBytes`. */
export function runFiles(runDir: string, maxBytes: number): { files: ReturnedFile[]; omitted: string[] } {
  const all: { path: string; size: number }[] = [];
  const walk = (dir: string): void => {
    const names = readdirSync(dir);
    // of each folder's step-N.safetensors checkpoints only the newest travels
    const steps = names.map((n) => /^step-(\d+)\.safetensors$/.exec(n)).filter((m): m is RegExpExecArray => m !== null);
    const newest = steps.length > 0 ? Math.max(...steps.map((m) => Number(m[1]))) : -1;
    for (const name of names) {
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (!name.startsWith(".")) {
        const step = /^step-(\d+)\.safetensors$/.exec(name);
        if (step && Number(step[1]) !== newest) continue;
        all.push({ path: relative(runDir, path), size: stat.size });
      }
    }
  };
  walk(runDir);
  // small files first: summaries, configs and metrics always fit before pictures and checkpoints
  all.sort((a, b) => a.size - b.size);
  const files: ReturnedFile[] = [];
  const omitted: string[] = [];
  let bytes = 0;
  for (const f of all) {
    if (bytes + f.size > maxBytes) {
      omitted.push(f.path);
      continue;
    }
    bytes += f.size;
    const data = readFileSync(join(runDir, f.path));
    const text = /\.(json|jsonl|csv|svg|txt|md)$/.test(f.path);
    files.push({ path: f.path, encoding: text ? "utf8" : "base64", data: text ? data.toString("utf8") : data.toString("base64") });
  }
  return { files, omitted };
}

export interface QueueWorkerOptions {
  url: string;
  /** jobs at once (pool processes) */
  concurrency: number;
  /** where run directories are written: <out>/<sweep>/runs/ */
  out: string;
  /** a folder shared by every machine: finished run directories are copied to <artifacts>/<sweep>/runs/ */
  artifacts?: string;
  /** returned run files at most (bytes) when there is no artifacts folder */
  maxReturnBytes: number;
  /** BullMQ lock duration: a job whose worker has not renewed its lock for this long is stalled */
  lockMs: number;
  /** how often this worker looks for stalled jobs */
  stalledMs: number;
  /** times a job may stall before it fails */
  maxStalled: number;
  /** exit once the queue has nothing waiting, delayed or running */
  untilEmpty: boolean;
  /** first abort: finish running jobs and exit; the pool is killed if `signal` aborts again via `force` */
  signal?: AbortSignal;
  force?: AbortSignal;
  log(message: string): void;
}

/** Runs a worker until the signal (or, with untilEmpty, until the queue is empty). Returns the jobs it completed. */
export async function runQueueWorker(options: QueueWorkerOptions): Promise<{ completed: number; failed: number }> {
  const redis = await connectRedis(options.url);
  const pool = new WorkerPool(options.concurrency);
  // absolute, so a retry by another worker process on this machine finds a killed attempt's run directory
  const out = resolve(options.out);
  const artifacts = options.artifacts !== undefined ? resolve(options.artifacts) : undefined;
  const name = `${hostname()}:${process.pid}`;
  let completed = 0;
  let failed = 0;

  const processor = async (job: Job<QueueJobData, QueueJobReturn>): Promise<QueueJobReturn> => {
    const data = job.data;
    // the queue is shared: a job's sweep name becomes a folder name here, so it is checked like a spec's
    if (typeof data.sweep !== "string" || !SWEEP_NAME_RE.test(data.sweep)) throw new UnrecoverableError(`job ${job.id} names no valid sweep (${JSON.stringify(data.sweep)}); it was not enqueued by mesa sweep`);
    if (!(data.kind in jobKinds)) throw new UnrecoverableError(`this worker's mesa cannot run "${data.kind}" jobs (it knows ${Object.keys(jobKinds).join(", ")}); update mesa on this machine`);
    const sweepDir = join(out, data.sweep);
    const before = (typeof job.progress === "object" ? job.progress : null) as QueueJobProgress | null;
    // a retry on the machine of a killed attempt continues its run directory (train: from its last checkpoint)
    const previousRunDir = before?.host === hostname() && before.runDir !== undefined && existsSync(before.runDir) ? before.runDir : undefined;
    let progress: QueueJobProgress = { host: hostname(), fraction: 0 };
    const report = (next: QueueJobProgress): void => {
      progress = next;
      job.updateProgress({ ...next }).catch(() => {}); // best effort: the lock, not the progress, decides
    };
    const outcome: JobOutcome = await pool.run(
      { kind: data.kind, config: data.config, options: data.options, runsRoot: join(sweepDir, "runs"), ...(previousRunDir ? { previousRunDir } : {}) },
      {
        onStart: (pid) => {
          report({ ...progress, pid });
          options.log(`${data.sweep} ${data.id} (${data.setting}, seed ${data.seed}) started, attempt ${job.attemptsStarted}, pid ${pid}`);
        },
        onRunDir: (path) => report({ ...progress, runDir: path }),
        onProgress: (fraction) => report({ ...progress, fraction }),
        onLog: (message) => options.log(`${data.sweep} ${data.id}: ${message}`),
      },
    );
    if (!outcome.ok) throw new Error(outcome.error);
    let artifactDir: string | null = null;
    let files: ReturnedFile[] = [];
    let omitted: string[] = [];
    if (artifacts !== undefined) artifactDir = copyToArtifacts(outcome.runDir, join(artifacts, data.sweep, "runs"), data.key);
    else ({ files, omitted } = runFiles(outcome.runDir, options.maxReturnBytes));
    if (omitted.length > 0) options.log(`${data.sweep} ${data.id}: ${omitted.length} files over the ${options.maxReturnBytes}-byte limit stay on ${hostname()} in ${outcome.runDir}`);
    return { host: hostname(), worker: name, run_dir: outcome.runDir, artifact_dir: artifactDir, metrics: outcome.metrics, seconds: outcome.seconds, files, omitted };
  };

  const worker = new Worker<QueueJobData, QueueJobReturn>(QUEUE_NAME, processor, {
    connection: redis,
    prefix: KEY_PREFIX,
    concurrency: options.concurrency,
    lockDuration: options.lockMs,
    stalledInterval: options.stalledMs,
    maxStalledCount: options.maxStalled,
    name,
  });
  worker.on("completed", (job) => {
    completed++;
    options.log(`${job.data.sweep} ${job.data.id} finished in ${job.returnvalue.seconds.toFixed(1)} s`);
  });
  worker.on("failed", (job, err) => {
    failed++;
    if (job) options.log(`${job.data.sweep} ${job.data.id} failed (attempt ${job.attemptsStarted} of ${job.opts.attempts ?? 1}): ${err.message.split("\n")[0]}`);
  });
  worker.on("error", (err) => options.log(`queue error: ${err.message}`));
  options.log(`worker ${name}: ${options.concurrency} job${options.concurrency === 1 ? "" : "s"} at a time from ${parseQueueUrl(options.url).display}; run directories in ${join(out, "<sweep>", "runs")}${artifacts ? `, copied to ${join(artifacts, "<sweep>", "runs")}` : ""}`);

  await new Promise<void>((resolve) => {
    let idleChecks: NodeJS.Timeout | undefined;
    const stop = (): void => {
      if (idleChecks) clearInterval(idleChecks);
      resolve();
    };
    options.signal?.addEventListener("abort", stop, { once: true });
    if (options.signal?.aborted) stop();
    if (options.untilEmpty) {
      const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: KEY_PREFIX });
      idleChecks = setInterval(() => {
        queue
          .getJobCounts("wait", "active", "delayed", "prioritized", "waiting-children")
          .then((counts) => {
            if (Object.values(counts).every((n) => n === 0)) {
              void queue.close();
              stop();
            }
          })
          .catch(() => {});
      }, 1000);
    }
  });
  const onForce = (): void => pool.kill("SIGKILL");
  options.force?.addEventListener("abort", onForce, { once: true });
  await worker.close(options.force?.aborted ?? false);
  await pool.close();
  redis.disconnect();
  return { completed, failed };
}

/** Copies a finished run directory into the shared folder: to a temporary name, then renamed into its place. */
function copyToArtifacts(runDir: string, root: string, key: string): string {
  mkdirSync(root, { recursive: true });
  const tmp = join(root, `.${basename(runDir)}.${hostname()}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  cpSync(runDir, tmp, { recursive: true });
  writeFileAtomic(join(tmp, JOB_MARK), key);
  for (;;) {
    const { path, taken } = runTarget(root, basename(runDir), key);
    if (taken) {
      rmSync(tmp, { recursive: true, force: true });
      return path;
    }
    try {
      renameSync(tmp, path);
      return path;
    } catch (err) {
      // another machine renamed its copy into that place first: look again
      if (!["ENOTEMPTY", "EEXIST"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
    }
  }
}

/** Per-state counts of a sweep's jobs on the queue. */
export async function queueCounts(redis: Redis, plan: SweepPlan): Promise<Record<"waiting" | "running" | "finished" | "failed" | "missing", number>> {
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: KEY_PREFIX });
  try {
    const states = await Promise.all(plan.jobs.map((job) => queue.getJobState(jobId(plan.spec.name, job.key))));
    const counts = { waiting: 0, running: 0, finished: 0, failed: 0, missing: 0 };
    for (const s of states) {
      if (s === "completed") counts.finished++;
      else if (s === "failed") counts.failed++;
      else if (s === "active") counts.running++;
      else if (s === "unknown") counts.missing++;
      else counts.waiting++;
    }
    return counts;
  } finally {
    await queue.close();
  }
}
