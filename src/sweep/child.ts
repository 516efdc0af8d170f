// A pool process: runs one sweep job at a time for its parent (the local pool or a queue worker), by calling the
// command's library code, and reports the run directory, progress and the collected metrics over IPC. A job that
// crashes this process takes only itself down; the parent records it and starts a fresh process.
import { parseConfig } from "../core/config.js";
import { kernels } from "../core/kernels/index.js";
import { ConfigError, MesaError } from "../core/errors.js";
import { loadJobKind } from "./jobs.js";
import { type ChildMessage, type ParentMessage, measureCpu } from "./pool.js";

/** At most this many progress messages per second. */
const PROGRESS_EVERY_MS = 250;

let jobsRun = 0;

let threadShareApplied = false;

/** The kernels' threads: this process's share of the cores (MESA_POOL_THREADS, set by the pool), before its first job. */
function applyThreadShare(): void {
  if (threadShareApplied) return;
  const raw = process.env.MESA_POOL_THREADS;
  if (raw !== undefined && raw.trim() !== "") {
    const threads = Number(raw);
    if (!Number.isInteger(threads) || threads < 1) throw new ConfigError(`MESA_POOL_THREADS=${raw} is not a thread count`, "set it to a positive integer (kernel threads per pool process), or unset it");
    kernels().setThreads(threads);
  }
  threadShareApplied = true;
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function runJob(job: Extract<ParentMessage, { type: "run" }>["job"]): Promise<void> {
  const t0 = performance.now();
  const cpu = measureCpu(jobsRun++ === 0);
  let runDir: string | undefined;
  let lastProgress = 0;
  try {
    applyThreadShare();
    const kind = await loadJobKind(job.kind);
    // checked again here: a queue worker may run another version of mesa than the machine that enqueued the job
    const options = parseConfig(kind.optionsSchema, job.options, `options of ${kind.name} job`);
    const config = kind.buildConfig(job.config as Record<string, unknown>, options, `config of ${kind.name} job`);
    runDir = await kind.run(config, options, {
      runsRoot: job.runsRoot,
      ...(job.previousRunDir !== undefined ? { previousRunDir: job.previousRunDir } : {}),
      onRunDir(path) {
        runDir = path;
        send({ type: "run-dir", path });
      },
      onProgress(fraction) {
        const now = performance.now();
        if (fraction < 1 && now - lastProgress < PROGRESS_EVERY_MS) return;
        lastProgress = now;
        send({ type: "progress", fraction });
      },
      log(message) {
        send({ type: "log", message });
      },
    });
    const metrics = kind.collect(runDir, config, options);
    send({ type: "done", runDir, metrics, seconds: (performance.now() - t0) / 1000, cpu: cpu() });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    send({
      type: "failed",
      error: { name: e.name, message: e.message, ...(err instanceof MesaError && err.hint ? { hint: err.hint } : {}), ...(err instanceof MesaError ? {} : { stack: e.stack ?? "" }) },
      ...(runDir !== undefined ? { runDir } : {}),
      seconds: (performance.now() - t0) / 1000,
      cpu: cpu(),
    });
  }
}

// the parent is gone (killed, or closed the pool): stop at the next chance rather than run on unobserved
process.on("disconnect", () => process.exit(0));
process.on("message", (message: ParentMessage) => {
  if (message.type === "run") void runJob(message.job);
});
send({ type: "ready" });
