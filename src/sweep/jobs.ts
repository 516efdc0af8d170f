// What a sweep can run: each command registers once as a job kind — how to build one job's config from the spec's
// fields and a seed, how to run it into a run directory, and how to collect its metrics from that directory. The
// pool, the queue and the summaries only see this interface; adding a command is one file and one registry line.
import type { z } from "zod";
import { UsageError } from "../core/errors.js";

/** One job's metrics: namespaced names to numbers (null when the run produced no value, e.g. no finished episode). */
export type JobMetrics = Record<string, number | null>;

/** What a running job can tell the pool. */
export interface JobContext {
  /** the folder the job's run directory is created in */
  runsRoot: string;
  /** a run directory an earlier, killed attempt of this job left: continue it when the kind can */
  previousRunDir?: string;
  /** called as soon as the run directory exists, so a killed attempt can be found and continued */
  onRunDir(path: string): void;
  /** fraction of the job done, in [0, 1] */
  onProgress(fraction: number): void;
  /** a line for the sweep's log (warnings) */
  log(message: string): void;
}

export interface JobKind<Config = unknown, Options = unknown> {
  /** the command's name, as in the spec's `command` field */
  readonly name: string;
  /** one line on what a job does */
  readonly description: string;
  /** the schema of one job's config: the spec's `base`, `grid` and `random` fields are dotted paths into it */
  readonly configSchema: z.ZodType;
  /** the dotted config path the sweep's `seeds` set (the spec may not set it itself) */
  readonly seedPath: string;
  /** the schema of the spec's `options` block for this command */
  readonly optionsSchema: z.ZodType<Options>;
  /**
   * One job's full config from the spec's fields (nested, seed already set at `seedPath`), validated as the
   * command would validate it; throws a ConfigError naming `source` and what is wrong.
   */
  buildConfig(fields: Record<string, unknown>, options: Options, source: string): Config;
  /** the metrics a job with this config produces (to check the spec's `metrics` before anything runs) */
  metricNames(config: Config, options: Options): string[];
  /** the values a metric can take (rates: [0, 1]), so its interval is clipped to them; undefined: unbounded */
  metricRange?(metric: string): readonly [number, number] | undefined;
  /** the metrics summarised when the spec names none (the sweep takes them from every job's config) */
  defaultMetrics(config: Config, options: Options): string[];
  /** runs the job; returns its run directory */
  run(config: Config, options: Options, context: JobContext): Promise<string>;
  /** the job's metrics, read back from its run directory */
  collect(runDir: string, config: Config, options: Options): JobMetrics;
  /**
   * Reference policies measured the way the jobs' agents are (e.g. random and scripted policies on the same
   * evaluation levels), one row per policy, group and seed; the summary shows them beside the jobs.
   */
  baselines?(jobs: readonly { config: Config; seed: number }[], options: Options): BaselineRow[];
}

/** One baseline measurement: a reference policy on the levels of one group of jobs and one seed. */
export interface BaselineRow {
  /** "random", "scripted intended", … */
  policy: string;
  /** what the jobs it compares with share ("env=coin-run") */
  group: string;
  seed: number;
  metrics: JobMetrics;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJobKind = JobKind<any, any>;

/**
 * Lets the process's event loop run (between training updates): the pool's messages go out and a lost parent is
 * noticed, so a job whose worker was killed stops within one update instead of running on unobserved.
 */
export function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The job kinds: one line per command. Loaded on demand so `mesa --help` stays fast. */
export const jobKinds: Readonly<Record<string, () => Promise<AnyJobKind>>> = {
  train: () => import("./kinds/train.js").then((m) => m.trainJob),
  icl: () => import("./kinds/icl.js").then((m) => m.iclJob),
  experiment: () => import("./kinds/experiment.js").then((m) => m.experimentJob),
};

/** The job kind of `command`, or a UsageError listing the commands a sweep can run. */
export async function loadJobKind(command: string, where = "command"): Promise<AnyJobKind> {
  const load = jobKinds[command];
  if (load === undefined) {
    throw new UsageError(`${where}: a sweep cannot run "${command}"`, `use one of: ${Object.keys(jobKinds).join(", ")}`);
  }
  return load();
}
