// Live curves: any metric of metrics.jsonl over steps, the selected runs overlaid, updated as the runs write.
// The first chart puts base return (solid) and intended return (dashed) together, so their gap is visible.
import { useEffect, useState } from "preact/hooks";
import { metricsStore, type RunInfo } from "./api.js";
import { Chart, PALETTE, type Series } from "./chart.js";
import { matchesFilter, StatusBadge } from "./runs.js";
import { listParam, navigate, runLabel, useMetricsVersion, useRoute, useRuns } from "./state.js";

const RETURN = "charts/episodic_return";
const INTENDED = "charts/intended_return";

export function CurvesView() {
  const { data } = useRuns();
  const { params } = useRoute();
  const [filter, setFilter] = useState("");
  useMetricsVersion();
  const allRuns = data?.runs ?? [];
  let selected = listParam(params, "runs");
  // nothing chosen yet: show the newest run rather than an empty page
  if (selected.length === 0 && allRuns.length > 0 && !params.has("none")) selected = [allRuns[0]!.id];
  const picked = listParam(params, "metrics");

  useEffect(() => {
    void metricsStore.watch(selected);
  }, [selected.join("\n")]);

  const color = (id: string): string => PALETTE[selected.indexOf(id) % PALETTE.length]!;
  const setRuns = (ids: string[]): void => navigate("curves", { runs: ids, metrics: picked, none: ids.length === 0 ? "1" : undefined }, true);
  const toggleRun = (id: string): void => setRuns(selected.includes(id) ? selected.filter((x) => x !== id) : [...selected, id]);
  const toggleMetric = (k: string): void => navigate("curves", { runs: selected, metrics: picked.includes(k) ? picked.filter((x) => x !== k) : [...picked, k] }, true);

  const byId = new Map(allRuns.map((r) => [r.id, r] as const));
  const keys = new Set<string>();
  for (const id of selected) for (const k of metricsStore.get(id)?.keys ?? []) keys.add(k);
  const hasReturns = keys.has(RETURN) || keys.has(INTENDED);
  // with no pick, chart the first metric when the runs have no returns (e.g. mesa icl's losses)
  const metrics = picked.length > 0 ? picked.filter((k) => keys.has(k)) : hasReturns ? [] : [...keys].slice(0, 1);
  const label = (id: string): string => (byId.get(id) ? runLabel(byId.get(id)!) : id);

  const seriesFor = (key: string, dash = false, suffix = ""): Series[] =>
    selected.flatMap((id) => {
      const m = metricsStore.get(id);
      const ys = m?.values.get(key);
      if (!m || !ys) return [];
      return [{ label: `${label(id)}${suffix}`, color: color(id), dash, xs: m.steps, ys }];
    });

  const returnSeries = [...seriesFor(RETURN, false, " · base"), ...seriesFor(INTENDED, true, " · intended")];
  const problems = selected.flatMap((id) => (metricsStore.get(id)?.problems ?? []).map((p) => `${label(id)}: ${p}`));
  const errors = selected.flatMap((id) => {
    const e = metricsStore.get(id)?.error;
    return e ? [`${label(id)}: ${e}`] : [];
  });
  const namespaces = new Map<string, string[]>();
  for (const k of [...keys].sort()) {
    const ns = k.includes("/") ? k.slice(0, k.indexOf("/")) : "";
    namespaces.set(ns, [...(namespaces.get(ns) ?? []), k]);
  }

  return (
    <section class="view split curves-view">
      <aside class="run-picker">
        <input type="search" class="filter" placeholder="filter runs…" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        <ul>
          {allRuns
            .filter((r) => selected.includes(r.id) || matchesFilter(r, filter, ""))
            .map((r: RunInfo) => (
              <li key={r.id} class={selected.includes(r.id) ? "selected" : ""}>
                <label title={r.id}>
                  <input type="checkbox" checked={selected.includes(r.id)} onChange={() => toggleRun(r.id)} data-run={r.id} />
                  {selected.includes(r.id) && <span class="swatch" style={{ background: color(r.id) }} />}
                  <span class="run-label">{runLabel(r)}</span>
                  <StatusBadge status={r.status} updatedMs={r.updatedMs} />
                  <div class="muted small">{r.name}</div>
                </label>
              </li>
            ))}
        </ul>
      </aside>
      <div class="charts">
        <div class="toolbar">
          <span class={`live ${metricsStore.live}`} title="live connection to the server">
            live: {metricsStore.live}
          </span>
          {selected.length === 0 && <span class="muted">Select runs on the left to plot them.</span>}
        </div>
        {errors.map((e) => (
          <p class="error" key={e}>
            {e}
          </p>
        ))}
        {problems.length > 0 && (
          <details class="warning">
            <summary>{problems.length} line(s) of metrics.jsonl could not be read and are not plotted</summary>
            <ul>
              {problems.slice(0, 50).map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          </details>
        )}
        {selected.map((id) => {
          const m = metricsStore.get(id);
          return m && m.stride > 1 ? (
            <p class="muted small" key={`thin-${id}`}>
              {label(id)}: {m.total.toLocaleString("en-US")} records; the history shows every {m.stride}th (and the last), new lines all.
            </p>
          ) : null;
        })}
        {hasReturns && <Chart title="Base return (solid) and intended return (dashed)" yLabel="return per episode" series={returnSeries} />}
        {metrics.map((k) => (
          <Chart key={k} title={k} series={seriesFor(k)} />
        ))}
        {keys.size > 0 && (
          <details class="metric-picker" open={picked.length === 0 && !hasReturns}>
            <summary>Metrics ({keys.size}): pick any to chart</summary>
            {[...namespaces].map(([ns, ks]) => (
              <fieldset key={ns}>
                <legend>{ns || "other"}</legend>
                {ks.map((k) => (
                  <label key={k}>
                    <input type="checkbox" checked={metrics.includes(k)} onChange={() => toggleMetric(k)} data-metric={k} />
                    {k.slice(ns.length + (ns ? 1 : 0))}
                  </label>
                ))}
              </fieldset>
            ))}
          </details>
        )}
      </div>
    </section>
  );
}
