// `mesa worker --queue redis://host:6379 [--workers N] [--out DIR] [--artifacts DIR]`: pulls sweep jobs from a
// Redis queue and runs them on this machine's pool until stopped (or, with --until-empty, until the queue is
// empty). Ctrl-C once: finish the running jobs, then exit; twice: stop now (the jobs go back to the queue).
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { defaultWorkers } from "../sweep/pool.js";
import { MAX_WORKERS, checkOutputDir, parseCount } from "./args.js";
import { QUEUE_FLAG, queueUrl } from "./sweep.js";
import { log, printJson } from "./output.js";

interface WorkerFlags {
  queue?: string | boolean;
  workers?: string;
  out: string;
  artifacts?: string;
  maxReturnMb: string;
  lockMs: string;
  stalledMs: string;
  maxStalled: string;
  untilEmpty?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("worker")
    .description("run sweep jobs from a Redis queue (mesa sweep SPEC --queue URL enqueues them), on this machine's pool")
    .option(QUEUE_FLAG[0], `${QUEUE_FLAG[1]} (also when --queue is absent)`)
    .option("--workers <n>", `jobs at once (default: the core count, ${defaultWorkers()} here)`)
    .option("--out <dir>", "run directories go to DIR/<sweep>/runs/", "sweeps")
    .option("--artifacts <dir>", "a folder every machine shares: finished run directories are copied to DIR/<sweep>/runs/ instead of returned through Redis")
    .option("--max-return-mb <n>", "without --artifacts: return at most this much of each run directory through Redis (newest checkpoint only)", "64")
    .option("--lock-ms <n>", "BullMQ lock duration: a job whose worker stops renewing its lock (killed, cut off) goes back to the queue after this long", "30000")
    .option("--stalled-ms <n>", "how often this worker looks for such stalled jobs", "30000")
    .option("--max-stalled <n>", "times a job may stall before it counts as failed", "2")
    .option("--until-empty", "exit once nothing is waiting or running on the queue")
    .option("--json", "print one JSON object at exit: jobs completed and failed")
    .action(async (flags: WorkerFlags) => {
      const url = queueUrl(flags.queue ?? (process.env.MESA_QUEUE ? true : undefined));
      if (url === undefined) throw new UsageError("mesa worker needs --queue URL (or $MESA_QUEUE)", "e.g. mesa worker --queue redis://127.0.0.1:6379");
      const q = await import("../sweep/queue.js");
      q.parseQueueUrl(url);
      checkOutputDir(flags.out);
      if (flags.artifacts !== undefined) checkOutputDir(flags.artifacts, "--artifacts");
      const stop = new AbortController();
      const force = new AbortController();
      const onSignal = (): void => {
        if (!stop.signal.aborted) {
          log("finishing the running jobs, then exiting (again to stop now: the jobs go back to the queue)");
          stop.abort();
        } else force.abort();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        const result = await q.runQueueWorker({
          url,
          concurrency: flags.workers !== undefined ? parseCount(flags.workers, "--workers", { max: MAX_WORKERS, example: "2" }) : defaultWorkers(),
          out: flags.out,
          ...(flags.artifacts !== undefined ? { artifacts: flags.artifacts } : {}),
          maxReturnBytes: parseCount(flags.maxReturnMb, "--max-return-mb") * 2 ** 20,
          lockMs: parseCount(flags.lockMs, "--lock-ms"),
          stalledMs: parseCount(flags.stalledMs, "--stalled-ms"),
          maxStalled: parseCount(flags.maxStalled, "--max-stalled"),
          untilEmpty: flags.untilEmpty ?? false,
          signal: stop.signal,
          force: force.signal,
          log,
        });
        if (flags.json) printJson(result);
        else log(`worker done: ${result.completed} jobs completed, ${result.failed} failed attempts`);
      } finally {
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
      }
    });
}
