// The worker pool: up to N child processes (src/sweep/child.ts), each running one job at a time through the
// command's library code. Child processes rather than worker threads, and kept alive between jobs rather than one
// per job: a job that crashes (out of memory, a native fault, SIGKILL) ends only its own process — the pool
// records the failure with the process's last words and starts a fresh one — and a kept process pays Node's
// start-up and module loading once instead of per job (measured in `npm run bench -- sweep`).
import { type ChildProcess, fork } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import type { JobMetrics } from "./jobs.js";

/** What the pool runs: a job kind, its validated config and options, and where its run directory goes. */
export interface PoolJob {
  kind: string;
  config: unknown;
  options: unknown;
  runsRoot: string;
  /** a run directory a killed attempt of this job left, to continue from */
  previousRunDir?: string;
}

export type ParentMessage = { type: "run"; job: PoolJob };

/** Where a job's time went in its process: CPU seconds of its own thread and of the whole process. */
export interface CpuUse {
  /** the process's first job (it pays the JIT's warm-up) */
  first: boolean;
  /** the job's JavaScript thread (null where the system does not tell it) */
  thread: number | null;
  /** every thread of the process: the job's, V8's collector and compiler helpers, BLAS threads */
  process: number;
}
/** CPU seconds of the calling thread, where the system tells it (Linux: /proc/thread-self/stat), else null. */
function threadCpuSeconds(): number | null {
  try {
    // the fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100 per second)
    const fields = readFileSync("/proc/thread-self/stat", "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

function processCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Starts measuring a job's CPU use on the calling thread and in the whole process; call the result at its end. */
export function measureCpu(first: boolean): () => CpuUse {
  const thread0 = threadCpuSeconds();
  const process0 = processCpuSeconds();
  return () => {
    const thread1 = threadCpuSeconds();
    return { first, thread: thread0 === null || thread1 === null ? null : thread1 - thread0, process: processCpuSeconds() - process0 };
  };
}

export type ChildMessage =
  | { type: "ready" }
  | { type: "run-dir"; path: string }
  | { type: "progress"; fraction: number }
  | { type: "log"; message: string }
  | { type: "done"; runDir: string; metrics: JobMetrics; seconds: number; cpu: CpuUse }
  | { type: "failed"; error: { name: string; message: string; hint?: string; stack?: string }; runDir?: string; seconds: number; cpu: CpuUse };

/** Where a job's time went, for the sweep's benchmark and diagnostics. */
interface OutcomeTimes {
  /** seconds from fork to the process's readiness (Node's start, module loading), on the process's first job only */
  startSeconds?: number;
  /** the job's CPU use, as its process measured it (absent when the process died) */
  cpu?: CpuUse;
}

export type JobOutcome =
  | ({ ok: true; pid: number; runDir: string; metrics: JobMetrics; seconds: number } & OutcomeTimes)
  | ({
      ok: false;
      pid: number;
      /** what went wrong, in one message (with the hint, and the process's last stderr lines when it died) */
      error: string;
      /** the job's process died (signal or exit) rather than reporting an error */
      crashed: boolean;
      runDir?: string;
      seconds: number;
    } & OutcomeTimes);

export interface JobHandlers {
  onStart?(pid: number): void;
  onRunDir?(path: string): void;
  onProgress?(fraction: number): void;
  onLog?(message: string): void;
}

/** The child entry: next to this module when compiled, else the build's copy (tests run the TypeScript sources). */
function childScript(): string {
  for (const url of [new URL("./child.js", import.meta.url), new URL("../../dist/src/sweep/child.js", import.meta.url)]) {
    const path = fileURLToPath(url);
    if (existsSync(path)) return path;
  }
  throw new Error("the sweep pool's child script (dist/src/sweep/child.js) is missing; run `npm run build`");
}

/** The pool's default size: one process per core. */
export function defaultWorkers(): number {
  return availableParallelism();
}

/**
 * The environment of pool processes: the kernels of each limited to its share of the cores, so N processes × their
 * BLAS threads (and the WebAssembly kernels' worker thread) do not oversubscribe the machine. BLAS libraries read
 * their variables when they load; the process applies MESA_POOL_THREADS to every backend before its first job
 * (src/sweep/child.ts). A count the user set stands: MESA_POOL_THREADS, else OPENBLAS_NUM_THREADS, else the share.
 */
export function childEnvironment(size: number, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const share = String(Math.max(1, Math.floor(availableParallelism() / size)));
  const env = { ...base };
  for (const key of ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"]) env[key] ??= share;
  env.MESA_POOL_THREADS ??= base.OPENBLAS_NUM_THREADS ?? share;
  return env;
}

/**
 * The Node flags of pool processes: the parent's, plus `--single-threaded-gc` when the pool fills every core.
 * V8 collects garbage on helper threads beside the JavaScript thread. One process alone gets that done on an idle
 * core; when every core runs a job, the helpers only compete with the other jobs, and parallel collection on busy
 * cores costs more CPU than collecting on the job's own thread. Measured per thread from /proc (points-bug PPO,
 * 65,536 steps, machine under load): while a training update allocated a fresh tape of tensors, the helpers took
 * 0.9–1.0 CPU-seconds per job beside 1.2–1.4 on the job's thread, and 0.0–0.15 with this flag, the job's own thread
 * unchanged; since the tensor buffers are pooled, they take ~0.1 either way. The JIT's background compilation is
 * kept (`--single-threaded` moves it onto the job's thread and cost each process's first job ~0.8 s more).
 * `MESA_POOL_NODE_FLAGS` replaces the added flags (empty: none).
 */
export function childExecArgv(size: number, base: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env.MESA_POOL_NODE_FLAGS;
  const added = override !== undefined ? override.split(/\s+/).filter(Boolean) : size >= availableParallelism() ? ["--single-threaded-gc"] : [];
  return [...base, ...added.filter((flag) => !base.includes(flag))];
}

const STDERR_TAIL = 4096;

interface Slot {
  child: ChildProcess;
  ready: Promise<void>;
  /** the last bytes the process wrote to stderr (shown when it dies) */
  stderr: string;
  /** seconds from fork to ready, until the process's first job reports it */
  startSeconds?: number;
  /** the running job's message handler and crash handler */
  current?: { onMessage(m: ChildMessage): void; onExit(code: number | null, signal: NodeJS.Signals | null): void };
}

export class WorkerPool {
  private readonly idle: Slot[] = [];
  private readonly live = new Set<Slot>();
  private readonly waiting: (() => void)[] = [];
  private closed = false;
  private readonly script = childScript();

  constructor(
    /** processes at most */
    readonly size: number,
    private readonly env: NodeJS.ProcessEnv = childEnvironment(size),
    private readonly execArgv: readonly string[] = childExecArgv(size),
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a pool needs at least one process, got ${size}`);
  }

  /** Runs `job` in a pool process (waiting for a free one); never rejects for the job's own failures. */
  async run(job: PoolJob, handlers: JobHandlers = {}): Promise<JobOutcome> {
    const slot = await this.acquire();
    const pid = slot.child.pid ?? -1;
    const t0 = performance.now();
    const times: OutcomeTimes = slot.startSeconds !== undefined ? { startSeconds: slot.startSeconds } : {};
    slot.startSeconds = undefined;
    return new Promise<JobOutcome>((resolve) => {
      let runDir: string | undefined;
      const finish = (outcome: JobOutcome, reusable: boolean): void => {
        slot.current = undefined;
        if (reusable) this.release(slot);
        resolve(outcome);
      };
      slot.stderr = "";
      slot.current = {
        onMessage: (m) => {
          if (m.type === "run-dir") {
            runDir = m.path;
            handlers.onRunDir?.(m.path);
          } else if (m.type === "progress") handlers.onProgress?.(m.fraction);
          else if (m.type === "log") handlers.onLog?.(m.message);
          else if (m.type === "done") finish({ ok: true, pid, runDir: m.runDir, metrics: m.metrics, seconds: m.seconds, ...times, cpu: m.cpu }, true);
          else if (m.type === "failed") {
            const error = [m.error.message, m.error.hint ? `(hint: ${m.error.hint})` : "", m.error.stack ? `\n${m.error.stack}` : ""].filter(Boolean).join(" ");
            finish({ ok: false, pid, error, crashed: false, ...(m.runDir ?? runDir ? { runDir: (m.runDir ?? runDir)! } : {}), seconds: m.seconds, ...times, cpu: m.cpu }, true);
          }
        },
        onExit: (code, signal) => {
          const tail = slot.stderr.trim().split("\n").slice(-6).join("\n");
          const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
          finish({ ok: false, pid, error: `the job's process (pid ${pid}) ${how}${tail ? `; its last output:\n${tail}` : ""}`, crashed: true, ...(runDir ? { runDir } : {}), seconds: (performance.now() - t0) / 1000, ...times }, false);
        },
      };
      handlers.onStart?.(pid);
      slot.child.send({ type: "run", job } satisfies ParentMessage);
    });
  }

  /** Ends idle processes and waits for them; running jobs keep their processes until they finish. */
  async close(): Promise<void> {
    this.closed = true;
    const exits = [...this.live].map((slot) => new Promise<void>((resolve) => (slot.child.exitCode !== null || slot.child.signalCode !== null ? resolve() : slot.child.once("exit", () => resolve()))));
    for (const slot of this.idle.splice(0)) if (slot.child.connected) slot.child.disconnect();
    await Promise.all(exits);
  }

  /** Kills every process now (their jobs end as crashed). */
  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    this.closed = true;
    for (const slot of this.live) slot.child.kill(signal);
  }

  /** Process ids of the pool's processes. */
  pids(): number[] {
    return [...this.live].map((s) => s.child.pid ?? -1);
  }

  private async acquire(): Promise<Slot> {
    for (;;) {
      if (this.closed) throw new Error("the worker pool is closed");
      const slot = this.idle.pop();
      if (slot) return slot;
      if (this.live.size < this.size) {
        const fresh = this.spawn();
        await fresh.ready;
        return fresh;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(slot: Slot): void {
    if (!this.live.has(slot)) return;
    if (this.closed) {
      if (slot.child.connected) slot.child.disconnect();
      return;
    }
    this.idle.push(slot);
    this.waiting.shift()?.();
  }

  private spawn(): Slot {
    const forkedAt = performance.now();
    const child = fork(this.script, [], { env: this.env, execArgv: [...this.execArgv], stdio: ["ignore", "pipe", "pipe", "ipc"] });
    let markReady!: () => void;
    let failStart!: (err: Error) => void;
    const slot: Slot = { child, stderr: "", ready: new Promise<void>((resolve, reject) => ((markReady = resolve), (failStart = reject))) };
    this.live.add(slot);
    const keepTail = (chunk: Buffer): void => {
      slot.stderr = (slot.stderr + chunk.toString("utf8")).slice(-STDERR_TAIL);
    };
    child.stderr?.on("data", keepTail);
    child.stdout?.on("data", keepTail);
    child.on("message", (m: ChildMessage) => {
      if (m.type === "ready") {
        slot.startSeconds = (performance.now() - forkedAt) / 1000;
        markReady();
      }
      else slot.current?.onMessage(m);
    });
    child.on("error", (err) => failStart(err));
    child.on("exit", (code, signal) => {
      this.live.delete(slot);
      const idleAt = this.idle.indexOf(slot);
      if (idleAt >= 0) this.idle.splice(idleAt, 1);
      failStart(new Error(`a pool process exited while starting (${signal ?? `code ${code}`}): ${slot.stderr.trim().slice(-500)}`));
      slot.current?.onExit(code, signal);
      // a free place in the pool: whoever waits may start a fresh process
      this.waiting.shift()?.();
    });
    return slot;
  }
}
