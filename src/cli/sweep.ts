// `mesa sweep SPEC [--workers N] [--out DIR] [--queue redis://…]`: runs a sweep spec's jobs on a local worker pool
// (or a BullMQ queue on Redis for `mesa worker` processes), with an overall progress bar, and prints the
// per-setting summary (mean, std, 95% CI) beside the baselines. `mesa sweep init` writes an example spec;
// `mesa sweep status|results [DIR | --queue URL --name NAME]` follow and aggregate a sweep.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import { MesaError, UsageError } from "../core/errors.js";
import { acquireRunLock } from "../io/rundir.js";
import { writeFileAtomic } from "../io/atomic.js";
import { exampleSpecs } from "../sweep/examples.js";
import { type JobResult, type SweepRecord, readSweepRecord, sweepJson, writeSweepFolder } from "../sweep/folder.js";
import { type SweepProgress, runLocalSweep } from "../sweep/local.js";
import { defaultWorkers } from "../sweep/pool.js";
import { type SweepPlan, planSweepFile } from "../sweep/spec.js";
import { partialSummary } from "../sweep/record.js";
import type { MetricSummary, SettingSummary } from "../sweep/summary.js";
import { MAX_WORKERS, checkOutputDir, parseCount } from "./args.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";

/** `--queue URL`, or `--queue` alone for the URL in $MESA_QUEUE (keeps a password off command lines and `ps`). */
export const QUEUE_FLAG = ["--queue [url]", "the Redis queue: redis://host:6379, rediss://user:password@host:6380 for TLS; without a value, $MESA_QUEUE"] as const;

/** The queue URL a `--queue [url]` flag names, or undefined when the flag is absent. */
export function queueUrl(flag: string | boolean | undefined): string | undefined {
  if (flag === undefined || flag === false) return undefined;
  if (flag !== true) return flag;
  const url = process.env.MESA_QUEUE;
  if (url === undefined || url === "") throw new UsageError("--queue without a URL reads $MESA_QUEUE, which is not set", "export MESA_QUEUE=redis://host:6379 (or rediss://user:password@host:6380), or pass --queue URL");
  return url;
}

/** How to name the queue in advice: the URL, unless it holds a password (then $MESA_QUEUE). */
function queueArg(address: { url: string; secret: boolean }): string {
  return address.secret ? "--queue (with MESA_QUEUE set to the URL)" : `--queue ${address.url}`;
}

interface RunFlags {
  workers?: string;
  out?: string;
  queue?: string | boolean;
  wait: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const sweep = program
    .command("sweep")
    .description("run a sweep spec's jobs (settings × seeds) on a local worker pool or a Redis queue, and summarise them per setting");

  sweep
    .command("run <spec>", { isDefault: true })
    .description("run SPEC's jobs (`mesa sweep SPEC` for short): on a local pool, or on a queue with --queue")
    .option("--workers <n>", `pool processes (default: the core count, ${defaultWorkers()} here)`)
    .option("--out <dir>", "the sweep folder (default: sweeps/<name>)")
    .option(QUEUE_FLAG[0], "enqueue the jobs on Redis (redis://host:6379, rediss:// for TLS; alone: $MESA_QUEUE) for `mesa worker` processes, then follow them")
    .option("--no-wait", "with --queue: enqueue and exit instead of following the jobs")
    .option("--json", "print one JSON object: jobs, finished, failed, results, summary, baselines")
    .action(async (specPath: string, flags: RunFlags) => {
      // flags first, then the whole spec, then (queue) Redis: a bad spec or address fails before anything runs
      const workers = flags.workers !== undefined ? parseCount(flags.workers, "--workers", { max: MAX_WORKERS, example: "2" }) : undefined;
      const url = queueUrl(flags.queue);
      if (url !== undefined && workers !== undefined) throw new UsageError("--workers sets the local pool's size; with --queue each machine's `mesa worker --workers N` does", "drop --workers, or drop --queue to run here");
      if (url === undefined && !flags.wait) throw new UsageError("--no-wait applies to --queue only");
      const queueModule = url !== undefined ? await import("../sweep/queue.js") : undefined;
      const address = url !== undefined ? queueModule?.parseQueueUrl(url) : undefined;
      const plan = await planSweepFile(specPath);
      const out = flags.out ?? join("sweeps", plan.spec.name);
      checkOutputDir(out);
      if (queueModule !== undefined && address !== undefined) {
        await runOnQueue(queueModule, address, plan, out, flags);
        return;
      }
      const size = Math.min(workers ?? defaultWorkers(), plan.jobs.length);
      if (!flags.json) log(`sweep ${plan.spec.name}: ${plan.jobs.length} ${plan.kind.name} jobs (${plan.jobs.length / plan.seeds.length} settings × ${plan.seeds.length} seeds) on ${size} process${size === 1 ? "" : "es"} → ${out}`);
      const bar = progressBar("sweep", plan.jobs.length);
      const controller = new AbortController();
      const onSignal = (): void => controller.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      let record: SweepRecord;
      try {
        record = await runLocalSweep(plan, {
          out,
          workers: size,
          signal: controller.signal,
          onProgress: (p) => bar.update(p),
          onJobEnd: (r, p) => bar.jobEnded(r, p, plan.metrics),
          log: (m) => bar.log(m),
        });
      } finally {
        bar.stop();
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
      }
      report(out, record, flags.json ?? false);
    });

  sweep
    .command("init")
    .description("write a small commented example spec (tiny budgets, a few jobs: about a minute on two cores)")
    .option("--out <file>", "where to write it", "sweep.yaml")
    .option("--command <name>", `the example's command (${Object.keys(exampleSpecs).join(", ")})`, "train")
    .option("--force", "overwrite an existing file")
    .action((opts: { out: string; command: string; force?: boolean }) => {
      const text = exampleSpecs[opts.command];
      if (text === undefined) throw new UsageError(`--command: no example for "${opts.command}"`, `choose one of: ${Object.keys(exampleSpecs).join(", ")}`);
      if (existsSync(opts.out) && !opts.force) throw new UsageError(`${opts.out} exists`, "pass --force to overwrite it, or --out another file");
      writeFileAtomic(opts.out, text);
      log(`wrote ${opts.out}; run it with: mesa sweep ${opts.out}`);
    });

  sweep
    .command("status [dir]")
    .description("where a sweep stands: its folder, or --queue URL [--name NAME] for queued sweeps")
    .option(...QUEUE_FLAG)
    .option("--name <name>", "with --queue: the sweep (default: every sweep on the queue)")
    .option("--json", "print one JSON object")
    .action(async (dir: string | undefined, opts: { queue?: string | boolean; name?: string; json?: boolean }) => {
      const url = queueUrl(opts.queue);
      if (url !== undefined) {
        if (dir !== undefined) throw new UsageError("give a sweep folder or --queue, not both", "with --queue, name the sweep with --name");
        await queueStatus(url, opts.name, opts.json ?? false);
        return;
      }
      if (opts.name !== undefined) throw new UsageError("--name applies to --queue", "for a local sweep, pass its folder: mesa sweep status sweeps/NAME");
      const record = openRecord(dir);
      if (opts.json) {
        printJson({ ...sweepJson(dir!, record), summary: record.summary.length > 0 ? record.summary : await partialSummary(record) });
        return;
      }
      printStatus(dir!, record);
    });

  sweep
    .command("results [dir]")
    .description("the summary table of a sweep folder, or of a sweep on --queue URL --name NAME (its results written to --out)")
    .option(...QUEUE_FLAG)
    .option("--name <name>", "with --queue: the sweep")
    .option("--out <dir>", "with --queue: the sweep folder written here (default: sweeps/<name>)")
    .option("--json", "print one JSON object: jobs, finished, failed, results, summary, baselines")
    .action(async (dir: string | undefined, opts: { queue?: string | boolean; name?: string; out?: string; json?: boolean }) => {
      const url = queueUrl(opts.queue);
      if (url !== undefined) {
        if (dir !== undefined) throw new UsageError("give a sweep folder or --queue, not both", "with --queue, name the sweep with --name");
        if (opts.name === undefined) throw new UsageError("--queue needs --name: which sweep", "list them with `mesa sweep status --queue URL`");
        const q = await import("../sweep/queue.js");
        const address = q.parseQueueUrl(url);
        const redis = await q.connectRedis(address.url);
        try {
          const plan = await q.queuedPlan(redis, opts.name);
          const out = opts.out ?? join("sweeps", plan.spec.name);
          checkOutputDir(out);
          const record = await writeQueueFolder(q, redis, plan, address.display, out);
          report(out, record, opts.json ?? false);
        } finally {
          redis.disconnect();
        }
        return;
      }
      if (opts.name !== undefined || opts.out !== undefined) throw new UsageError("--name and --out apply to --queue", "for a local sweep, pass its folder: mesa sweep results sweeps/NAME");
      const record = openRecord(dir);
      if (record.summary.length === 0) record.summary = await partialSummary(record);
      report(dir!, record, opts.json ?? false, false);
    });
}

type QueueModule = typeof import("../sweep/queue.js");

async function runOnQueue(q: QueueModule, address: { url: string; display: string; secret: boolean }, plan: SweepPlan, out: string, flags: RunFlags): Promise<void> {
  const redis = await q.connectRedis(address.url);
  try {
    const enqueued = await q.enqueueSweep(redis, plan);
    log(
      `sweep ${plan.spec.name} on ${address.display}: ${enqueued.jobs} jobs — ${enqueued.added} enqueued, ${enqueued.finished} finished earlier, ${enqueued.retried} failed earlier and retried, ${enqueued.queued} already waiting or running`,
    );
    if (!flags.wait) {
      log(`start workers on any machine: mesa worker ${queueArg(address)}\nfollow: mesa sweep status ${queueArg(address)} --name ${plan.spec.name}\ncollect: mesa sweep results ${queueArg(address)} --name ${plan.spec.name}`);
      if (flags.json) printJson({ name: plan.spec.name, queue: address.display, ...enqueued });
      return;
    }
    log(`waiting for workers (mesa worker ${queueArg(address)}); Ctrl-C stops following, the jobs stay queued`);
    const bar = progressBar("sweep", plan.jobs.length);
    let following = true;
    const onSignal = (): void => {
      following = false;
    };
    process.once("SIGINT", onSignal);
    try {
      for (;;) {
        const counts = await q.queueCounts(redis, plan);
        bar.update({ total: plan.jobs.length, finished: counts.finished, failed: counts.failed, running: counts.running, skipped: enqueued.finished, done: counts.finished + counts.failed });
        if (counts.waiting + counts.running + counts.missing === 0 || !following) break;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    } finally {
      bar.stop();
      process.removeListener("SIGINT", onSignal);
    }
    const record = await writeQueueFolder(q, redis, plan, address.display, out);
    if (!following) log(`stopped following; the jobs stay on the queue: mesa sweep results ${queueArg(address)} --name ${plan.spec.name}`);
    report(out, record, flags.json ?? false);
  } finally {
    redis.disconnect();
  }
}

/** The queued sweep's record, with its returned run directories, written into the sweep folder `out` (locked). */
async function writeQueueFolder(q: QueueModule, redis: import("ioredis").Redis, plan: SweepPlan, display: string, out: string): Promise<SweepRecord> {
  mkdirSync(out, { recursive: true });
  // one mesa sweep per folder at a time (a dead holder's lock is taken over)
  const lock = acquireRunLock(out);
  try {
    const before = readSweepRecord(out);
    if (before !== undefined && (before.backend !== "redis" || before.name !== plan.spec.name)) {
      throw new UsageError(`${out} holds ${before.backend === "redis" ? "the queued" : "a local"} sweep "${before.name}"`, "pass another --out for the queued sweep's results");
    }
    const record = await q.queueRecord(redis, plan, { display, sweepDir: out, materialize: true });
    writeSweepFolder(out, record);
    return record;
  } finally {
    lock.release();
  }
}

async function queueStatus(url: string, name: string | undefined, json: boolean): Promise<void> {
  const q = await import("../sweep/queue.js");
  const address = q.parseQueueUrl(url);
  const redis = await q.connectRedis(address.url);
  try {
    const names = name !== undefined ? [name] : await q.queuedSweeps(redis);
    const rows: Record<string, unknown>[] = [];
    for (const n of names) {
      const plan = await q.queuedPlan(redis, n);
      rows.push({ name: n, command: plan.kind.name, jobs: plan.jobs.length, ...(await q.queueCounts(redis, plan)) });
    }
    if (json) {
      printJson({ queue: address.display, sweeps: rows });
      return;
    }
    if (rows.length === 0) {
      process.stdout.write(`no sweeps on ${address.display}\n`);
      return;
    }
    const cols = ["name", "command", "jobs", "waiting", "running", "finished", "failed"];
    process.stdout.write(`${formatTable(cols, rows.map((r) => cols.map((c) => r[c] as string | number)))}\n`);
  } finally {
    redis.disconnect();
  }
}

function openRecord(dir: string | undefined): SweepRecord {
  if (dir === undefined) throw new UsageError("which sweep? pass its folder", "e.g. mesa sweep status sweeps/NAME (or --queue URL for a queued sweep)");
  const record = readSweepRecord(dir);
  if (record === undefined) throw new UsageError(`${dir} has no sweep.json`, "pass the folder a `mesa sweep` wrote (sweeps/<name> by default)");
  return record;
}

function printStatus(dir: string, record: SweepRecord): void {
  const count = (s: string): number => record.results.filter((r) => r.status === s).length;
  process.stdout.write(
    `${record.name} (${record.command}, ${record.backend}): ${record.status} — ${record.results.length} jobs: ${count("finished")} finished, ${count("failed")} failed, ${count("running")} running, ${count("interrupted")} interrupted, ${count("pending")} pending\n`,
  );
  process.stdout.write(
    `${formatTable(
      ["job", "setting", "seed", "status", "attempts", "seconds", "run directory / error"],
      record.results.map((r) => [r.id, r.setting, r.seed, r.status, r.attempts, r.seconds === null ? "–" : formatNumber(r.seconds), r.status === "failed" ? firstLine(r.error) : (r.run_dir ?? "–")]),
    )}\n`,
  );
  log(`folder: ${dir}`);
}

/** The summary (and baselines) as a table, or the --json object; exits 1 when jobs failed. */
function report(dir: string, record: SweepRecord, json: boolean, failOnFailures = true): void {
  if (json) printJson(sweepJson(dir, record));
  else {
    const metrics = record.metrics;
    const header = ["setting", "seeds", ...metrics];
    const rows = (summaries: readonly SettingSummary[]): (string | number)[][] => summaries.map((s) => [s.setting, `${s.finished}/${s.jobs}`, ...metrics.map((m) => cell(s.metrics[m]))]);
    process.stdout.write(`${formatTable(header, rows(record.summary))}\n`);
    process.stdout.write("each cell: mean ± std [95% CI of the mean] over the finished seeds\n");
    if (record.baselines.length > 0) {
      const baselineMetrics = metrics.filter((m) => record.baselines.some((b) => b.metrics[m] !== undefined));
      process.stdout.write(`\nbaselines on the same evaluation levels and seeds:\n${formatTable(["policy", "seeds", ...baselineMetrics], record.baselines.map((s) => [s.setting, `${s.finished}/${s.jobs}`, ...baselineMetrics.map((m) => cell(s.metrics[m]))]))}\n`);
    }
    const failed = record.results.filter((r) => r.status === "failed");
    if (failed.length > 0) process.stdout.write(`\nfailed jobs (not in the summary):\n${failed.map((r) => `  ${r.id} ${r.setting} seed ${r.seed}: ${firstLine(r.error)}`).join("\n")}\n`);
    const open = record.results.filter((r) => r.status !== "finished" && r.status !== "failed").length;
    if (open > 0) process.stdout.write(`\n${open} jobs not done yet; the summary covers the finished ones\n`);
    log(`sweep folder: ${dir} (sweep.json, results.csv, runs/)`);
  }
  const failed = record.results.filter((r) => r.status === "failed").length;
  if (failOnFailures && failed > 0) {
    throw new MesaError(`${failed} of ${record.results.length} jobs failed (their errors are in ${join(dir, "sweep.json")})`, "fix the cause and run the same command again: finished jobs are skipped, failed ones run again");
  }
}

function cell(m: MetricSummary | undefined): string {
  if (m === undefined || m.mean === null) return "–";
  if (m.std === null || m.ci95 === null) return `${formatNumber(m.mean)} (n=1)`;
  return `${formatNumber(m.mean)} ± ${formatNumber(m.std)} [${formatNumber(m.ci95[0])}, ${formatNumber(m.ci95[1])}]`;
}

function firstLine(text: string | null): string {
  return (text ?? "").split("\n")[0]!;
}

/** The overall progress bar on stderr; without a terminal, one line per finished job instead. */
function progressBar(label: string, total: number): { update(p: SweepProgress): void; jobEnded(r: JobResult, p: SweepProgress, metrics: readonly string[]): void; log(m: string): void; stop(): void } {
  const tty = process.stderr.isTTY === true;
  const bar = new SingleBar({
    stream: process.stderr,
    format: `${label} {bar} {percentage}% | {finished}/{total_jobs} jobs finished, {failed} failed, {running} running | ETA {eta_formatted}`,
    hideCursor: true,
    etaBuffer: 50,
    barsize: 24,
  });
  let started = false;
  const payload = (p: SweepProgress): Record<string, number> => ({ finished: p.finished, failed: p.failed, running: p.running, total_jobs: p.total });
  return {
    update(p) {
      if (!tty) return;
      if (!started) {
        bar.start(total * 100, 0, payload(p));
        started = true;
      }
      bar.update(Math.round(p.done * 100), payload(p));
    },
    jobEnded(r, p, metrics) {
      if (tty) return;
      const shown = metrics
        .slice(0, 3)
        .map((m) => `${m} ${r.metrics?.[m] === null || r.metrics?.[m] === undefined ? "–" : formatNumber(r.metrics[m]!)}`)
        .join(", ");
      log(`[${p.finished + p.failed}/${p.total}] ${r.id} ${r.setting} seed ${r.seed} ${r.status}${r.seconds === null ? "" : ` in ${r.seconds.toFixed(1)} s`}${r.status === "finished" ? ` (${shown})` : `: ${firstLine(r.error)}`}`);
    },
    log(m) {
      if (started) bar.stop();
      started = false;
      log(m);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
