// The runs table: every run in the folder with env, distribution, seed, status and last metrics; filter,
// select several and open them side by side in Curves or Episodes.
import { useState } from "preact/hooks";
import type { RunInfo } from "./api.js";
import { ago, fmt, navigate, useRuns } from "./state.js";

const RETURN = "charts/episodic_return";
const INTENDED = "charts/intended_return";

export function matchesFilter(r: RunInfo, text: string, status: string): boolean {
  if (status !== "" && r.status !== status) return false;
  if (text === "") return true;
  const hay = `${r.id} ${r.env ?? ""} ${r.exp ?? ""} ${r.distribution ?? ""} ${r.model ?? ""} seed${r.seed ?? ""}`.toLowerCase();
  return text.toLowerCase().split(/\s+/).every((word) => hay.includes(word));
}

export function StatusBadge({ status, updatedMs }: { status: RunInfo["status"]; updatedMs: number }) {
  return (
    <span class={`badge ${status}`} title={`last write ${ago(updatedMs)}`}>
      {status}
    </span>
  );
}

export function RunsView() {
  const { data, error } = useRuns();
  const [text, setText] = useState("");
  const [status, setStatus] = useState("");
  const [selected, setSelected] = useState<string[]>([]);
  const runs = (data?.runs ?? []).filter((r) => matchesFilter(r, text, status));
  const toggle = (id: string): void => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id]));
  const counts = { running: 0, finished: 0, failed: 0, interrupted: 0, unknown: 0 };
  for (const r of data?.runs ?? []) counts[r.status]++;

  return (
    <section class="view runs-view">
      <div class="toolbar">
        <input type="search" class="filter" placeholder="filter: env, exp, seed, distribution…" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        <select class="status-filter" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
          <option value="">any status</option>
          <option value="running">running ({counts.running})</option>
          <option value="finished">finished ({counts.finished})</option>
          <option value="failed">failed ({counts.failed})</option>
          <option value="interrupted">interrupted ({counts.interrupted})</option>
        </select>
        <button class="compare" disabled={selected.length === 0} onClick={() => navigate("curves", { runs: selected })}>
          Compare curves ({selected.length})
        </button>
        <span class="muted">{data ? `${runs.length} of ${data.runs.length} runs in ${data.root}` : "loading…"}</span>
      </div>
      {error && <p class="error">Cannot list runs: {error}</p>}
      {data && data.runs.length === 0 && (
        <p class="empty">
          No runs in <code>{data.root}</code> yet. Train one with <code>npx mesa train --env coin-run --steps 2e5</code>; it appears here and its curves update live.
        </p>
      )}
      {runs.length > 0 && (
        <table class="runs-table">
          <thead>
            <tr>
              <th />
              <th>run</th>
              <th>env</th>
              <th>distribution</th>
              <th>seed</th>
              <th>status</th>
              <th class="num">step</th>
              <th class="num">base return</th>
              <th class="num">intended return</th>
              <th class="num">gap</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => {
              const base = r.last?.[RETURN];
              const intended = r.last?.[INTENDED];
              const gap = typeof base === "number" && typeof intended === "number" ? base - intended : null;
              const hasEpisodes = r.artifacts.some((a) => a.kind === "episode");
              return (
                <tr key={r.id} class={selected.includes(r.id) ? "selected" : ""} data-run={r.id}>
                  <td>
                    <input type="checkbox" checked={selected.includes(r.id)} onChange={() => toggle(r.id)} aria-label={`select ${r.name}`} />
                  </td>
                  <td class="run-name" title={r.id}>
                    <a href={`#/curves?runs=${encodeURIComponent(r.id)}`}>{r.name}</a>
                    {r.parent !== null && <div class="muted small">in {r.parent || "(runs folder)"}</div>}
                    {r.problems.length > 0 && <div class="error small">{r.problems.join("; ")}</div>}
                  </td>
                  <td>{r.env ?? "–"}</td>
                  <td>{r.distribution ?? "–"}</td>
                  <td>{r.seed ?? "–"}</td>
                  <td>
                    <StatusBadge status={r.status} updatedMs={r.updatedMs} />
                    <div class="muted small">{ago(r.updatedMs)}</div>
                  </td>
                  <td class="num">{fmt(r.last?.global_step ?? null)}</td>
                  <td class="num">{fmt(base ?? null)}</td>
                  <td class="num">{fmt(intended ?? null)}</td>
                  <td class={`num ${gap !== null && Math.abs(gap) > 1e-9 ? "gap" : ""}`}>{fmt(gap)}</td>
                  <td class="links">
                    <a href={`#/curves?runs=${encodeURIComponent(r.id)}`}>curves</a>
                    {hasEpisodes && <a href={`#/episodes?run=${encodeURIComponent(r.id)}`}>episodes</a>}
                    {r.artifacts.some((a) => a.kind !== "episode") && <a href={`#/results?entry=${encodeURIComponent(r.id)}`}>results</a>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
