// Per-setting statistics of a sweep: for each setting (and each baseline policy) and metric, the number of
// finished seeds with a value, their mean, sample standard deviation and the Student-t 95% interval of the mean
// (src/rl/stats.ts). Failed jobs are counted apart, never averaged in.
import { meanInterval } from "../rl/stats.js";
import type { JobMetrics } from "./jobs.js";

export interface MetricSummary {
  /** seeds that finished with a value for this metric */
  n: number;
  mean: number | null;
  /** sample standard deviation (n − 1); null below two values */
  std: number | null;
  /** Student-t 95% interval of the mean; null below two values */
  ci95: [number, number] | null;
}

export interface SettingSummary {
  /** the setting's label ("ppo.entCoef=0.01"), or the baseline's ("policy=random env=coin-run") */
  setting: string;
  /** the swept values, by dotted path */
  settings: Record<string, unknown>;
  /** jobs of this setting */
  jobs: number;
  finished: number;
  failed: number;
  metrics: Record<string, MetricSummary>;
}

/** What summarize needs of a job's result. */
export interface SummarizedResult {
  setting: string;
  settings: Record<string, unknown>;
  status: string;
  metrics: JobMetrics | null;
}

/**
 * Statistics per setting, settings in the order they first appear. `range` gives the values a metric can take
 * (a rate's [0, 1]): its interval is clipped to them, as a t interval of a few seeds can leave them.
 */
export function summarize(results: readonly SummarizedResult[], metrics: readonly string[], range?: (metric: string) => readonly [number, number] | undefined): SettingSummary[] {
  const groups = new Map<string, SummarizedResult[]>();
  for (const r of results) {
    const group = groups.get(r.setting);
    if (group) group.push(r);
    else groups.set(r.setting, [r]);
  }
  return [...groups.values()].map((group) => {
    const finished = group.filter((r) => r.status === "finished");
    const out: SettingSummary = {
      setting: group[0]!.setting,
      settings: group[0]!.settings,
      jobs: group.length,
      finished: finished.length,
      failed: group.filter((r) => r.status === "failed").length,
      metrics: {},
    };
    for (const metric of metrics) {
      const values = finished.map((r) => r.metrics?.[metric]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
      out.metrics[metric] = describe(values, range?.(metric));
    }
    return out;
  });
}

/** n, mean, sample std and the 95% interval of the mean of `values` (clipped to `range` when given). */
export function describe(values: readonly number[], range?: readonly [number, number]): MetricSummary {
  const n = values.length;
  if (n === 0) return { n, mean: null, std: null, ci95: null };
  const estimate = meanInterval(values);
  if (n === 1) return { n, mean: estimate.value, std: null, ci95: null };
  let ss = 0;
  for (const v of values) ss += (v - estimate.value) ** 2;
  const [lo, hi] = estimate.ci95;
  const ci95: [number, number] = range ? [Math.max(range[0], lo), Math.min(range[1], hi)] : [lo, hi];
  return { n, mean: estimate.value, std: Math.sqrt(ss / (n - 1)), ci95 };
}
