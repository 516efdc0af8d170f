// Results: whatever a run or results folder holds beyond its metrics. Known kinds get their own view (the
// misgeneralization sweep of `mesa experiment`, the ICL comparison of `mesa icl`, the validity table of
// `mesa validate`); everything else is shown generically — every image, every JSON file as tables of its
// records and heatmaps of its numeric matrices — so results of newer commands appear without a new view.
import { useEffect, useRef, useState } from "preact/hooks";
import { fileUrl, getJson, metricsStore, type Artifact, type ResultsInfo, type RunInfo, type SweepResult } from "./api.js";
import { Chart, PALETTE } from "./chart.js";
import { fmt, navigate, runLabel, useMetricsVersion, useRoute, useRuns } from "./state.js";

/** JSON files larger than this are linked, not parsed in the page. */
const MAX_JSON_BYTES = 4 << 20;

type Entry = { kind: "results"; info: ResultsInfo } | { kind: "run"; info: RunInfo };

export function ResultsView() {
  const { data } = useRuns();
  const { params } = useRoute();
  const entries: Entry[] = [
    ...(data?.results ?? []).map((info) => ({ kind: "results" as const, info })),
    ...(data?.runs ?? []).filter((r) => r.artifacts.some((a) => a.kind !== "episode") || isIcl(r)).map((info) => ({ kind: "run" as const, info })),
  ];
  const id = params.get("entry") ?? entries[0]?.info.id;
  const entry = entries.find((e) => e.info.id === id);
  return (
    <section class="view split results-view">
      <aside class="entry-picker">
        <ul>
          {entries.map((e) => (
            <li key={`${e.kind}:${e.info.id}`} class={e.info.id === id ? "selected" : ""}>
              <a href={`#/results?entry=${encodeURIComponent(e.info.id)}`} data-entry={e.info.id}>
                {e.kind === "run" ? runLabel(e.info) : e.info.name}
              </a>
              <div class="muted small">
                {e.kind === "results" ? `${e.info.runs.length} runs · ` : ""}
                {e.info.artifacts.length} files
              </div>
            </li>
          ))}
        </ul>
        {data && entries.length === 0 && <p class="empty">No results yet: `mesa experiment`, `mesa icl` and `mesa eval` write them into the runs folder.</p>}
      </aside>
      <div class="entry">{entry ? <EntryView entry={entry} runs={data?.runs ?? []} /> : data && <p class="muted">Pick a result on the left.</p>}</div>
    </section>
  );
}

function isIcl(r: RunInfo): boolean {
  return typeof r.summary?.["model_loss"] === "number" && typeof r.summary?.["baseline"] === "string";
}

function EntryView({ entry, runs }: { entry: Entry; runs: RunInfo[] }) {
  const artifacts = entry.info.artifacts.filter((a) => a.kind !== "episode");
  const jsons = artifacts.filter((a) => a.kind === "json");
  const images = artifacts.filter((a) => a.kind === "image");
  const texts = artifacts.filter((a) => a.kind === "text");
  const episodes = entry.info.artifacts.filter((a) => a.kind === "episode").length;
  return (
    <div>
      <h2>{entry.kind === "run" ? runLabel(entry.info) : entry.info.name}</h2>
      <p class="muted small">{entry.info.id || "(runs folder)"}</p>
      {entry.kind === "run" && isIcl(entry.info) && <IclView run={entry.info} />}
      {entry.kind === "run" && episodes > 0 && (
        <p>
          <a href={`#/episodes?run=${encodeURIComponent(entry.info.id)}`}>{episodes} recorded episodes → replay</a>
        </p>
      )}
      {jsons.map((a) => (
        <JsonArtifact key={a.path} artifact={a} runs={runs} images={images.filter((i) => belongsTo(i, a))} />
      ))}
      <Gallery images={images.filter((i) => !jsons.some((a) => belongsTo(i, a)))} />
      {texts.map((a) => (
        <TextArtifact key={a.path} artifact={a} />
      ))}
      {entry.kind === "results" && entry.info.runs.length > 0 && (
        <p>
          <button onClick={() => navigate("curves", { runs: entry.info.runs })}>Curves of its {entry.info.runs.length} runs</button>
        </p>
      )}
    </div>
  );
}

/** `probe-x-layers.png` belongs to `probe-x.json`: the pictures a command wrote beside its result file. */
function belongsTo(image: Artifact, json: Artifact): boolean {
  const stem = json.name.slice(0, -".json".length);
  return image.name.startsWith(`${stem}.`) || image.name.startsWith(`${stem}-`);
}

function Gallery({ images }: { images: Artifact[] }) {
  if (images.length === 0) return null;
  return (
    <div class="gallery">
      {images.map((a) => (
        <figure key={a.path}>
          <a href={fileUrl(a.path)} target="_blank" rel="noreferrer">
            <img src={fileUrl(a.path)} alt={a.name} loading="lazy" />
          </a>
          <figcaption>{a.name}</figcaption>
        </figure>
      ))}
    </div>
  );
}

function useJson(artifact: Artifact): { value: unknown; error: string | null } {
  const [state, setState] = useState<{ value: unknown; error: string | null }>({ value: undefined, error: null });
  useEffect(() => {
    if (artifact.bytes > MAX_JSON_BYTES) {
      setState({ value: undefined, error: `${(artifact.bytes / 1e6).toFixed(1)} MB: too large to show here; open the file` });
      return;
    }
    let stale = false;
    getJson<unknown>(fileUrl(artifact.path))
      .then((value) => !stale && setState({ value, error: null }))
      .catch((err: unknown) => !stale && setState({ value: undefined, error: (err as Error).message }));
    return () => {
      stale = true;
    };
  }, [artifact.path, artifact.mtimeMs]);
  return state;
}

function JsonArtifact({ artifact, runs, images }: { artifact: Artifact; runs: RunInfo[]; images: Artifact[] }) {
  const { value, error } = useJson(artifact);
  return (
    <div class="artifact" data-artifact={artifact.name}>
      <h3>
        {artifact.name}{" "}
        <a class="muted small" href={fileUrl(artifact.path)} target="_blank" rel="noreferrer">
          raw
        </a>
      </h3>
      {error && <p class="error">{error}</p>}
      <Gallery images={images} />
      {value !== undefined && (isSweep(value) ? <SweepView sweep={value} artifact={artifact} runs={runs} /> : isValidity(value) ? <ValidityView report={value} /> : <GenericJson value={value} path="" depth={0} />)}
    </div>
  );
}

function TextArtifact({ artifact }: { artifact: Artifact }) {
  const [text, setText] = useState<string | null>(null);
  useEffect(() => {
    void fetch(fileUrl(artifact.path))
      .then((r) => r.text())
      .then((t) => setText(t.length > 200_000 ? `${t.slice(0, 200_000)}\n… (cut; open the file for the rest)` : t));
  }, [artifact.path, artifact.mtimeMs]);
  return (
    <div class="artifact">
      <h3>{artifact.name}</h3>
      <pre class="text">{text ?? "loading…"}</pre>
    </div>
  );
}

// ---- mesa experiment misgeneralization: results.json ----

type Sweep = SweepResult;

function isSweep(v: unknown): v is Sweep {
  const s = v as Sweep;
  return typeof s === "object" && s !== null && typeof s.param === "string" && Array.isArray(s.points) && s.points.every((p) => typeof p?.misgeneralization_rate === "number");
}

/** A run path written by the experiment (relative to where it ran) → the run id here, by its trailing folders. */
function matchRun(path: string, runs: RunInfo[]): RunInfo | undefined {
  const parts = path.split(/[\\/]/).filter(Boolean);
  for (let k = Math.min(3, parts.length); k >= 1; k--) {
    const tail = parts.slice(-k).join("/");
    const hits = runs.filter((r) => r.id === tail || r.id.endsWith(`/${tail}`));
    if (hits.length === 1) return hits[0];
  }
  return undefined;
}

function SweepView({ sweep, artifact, runs }: { sweep: Sweep; artifact: Artifact; runs: RunInfo[] }) {
  const xs = sweep.points.map((p) => p.value);
  const ci = (c: [number, number]): string => `[${fmt(c[0])}, ${fmt(c[1])}]`;
  const extra = Object.entries(sweep).filter(([k]) => !["env", "param", "seeds", "steps", "steps_requested", "episodes", "points", "plot", "results", "baselines"].includes(k));
  const baselines = Object.entries(sweep.baselines ?? {});
  // steps run are whole PPO updates; say so when that is fewer than asked for (results.json before this field: none)
  const requested = typeof sweep.steps_requested === "number" && sweep.steps_requested !== sweep.steps ? ` (${fmt(sweep.steps_requested)} requested, rounded down to whole updates)` : "";
  return (
    <div class="sweep">
      <p>
        <b>{sweep.env}</b>: deploy episodes as the training levels' <code>{sweep.param}</code> varies — {sweep.seeds} seed(s) per value, {fmt(sweep.steps)} env steps each{requested}, {fmt(sweep.episodes)} deploy episodes per agent; means with 95% intervals over seeds.
      </p>
      <table class="data">
        <thead>
          <tr>
            <th>{sweep.param}</th>
            <th class="num">misgeneralization (deploy)</th>
            <th>95% CI</th>
            <th class="num">intended goal (deploy)</th>
            <th>95% CI</th>
            <th class="num">train return</th>
            <th>per-seed rates</th>
            <th>runs</th>
          </tr>
        </thead>
        <tbody>
          {sweep.points.map((p) => (
            <tr key={p.value}>
              <td>{fmt(p.value)}</td>
              <td class="num">{fmt(p.misgeneralization_rate)}</td>
              <td>{ci(p.misgeneralization_ci95)}</td>
              <td class="num">{fmt(p.intended_goal_rate)}</td>
              <td>{ci(p.intended_goal_ci95)}</td>
              <td class="num">{fmt(p.train_return)}</td>
              <td class="small">{p.rates.map(fmt).join(", ")}</td>
              <td class="small">
                {p.runs.map((path, k) => {
                  const r = matchRun(path, runs);
                  return r ? (
                    <a key={path} href={`#/curves?runs=${encodeURIComponent(r.id)}`} title={r.id}>
                      s{k + 1}{" "}
                    </a>
                  ) : (
                    <span key={path} title={`${path} (not in this runs folder)`}>
                      s{k + 1}?{" "}
                    </span>
                  );
                })}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Chart
        title={`${sweep.env}: deploy outcome vs ${sweep.param}`}
        xLabel={sweep.param}
        yLabel="fraction of episodes"
        xKind="value"
        series={[
          { label: "misgeneralized", color: PALETTE[1]!, xs, ys: sweep.points.map((p) => p.misgeneralization_rate), band: { lo: sweep.points.map((p) => p.misgeneralization_ci95[0]), hi: sweep.points.map((p) => p.misgeneralization_ci95[1]) }, points: true },
          { label: "intended goal", color: PALETTE[0]!, xs, ys: sweep.points.map((p) => p.intended_goal_rate), band: { lo: sweep.points.map((p) => p.intended_goal_ci95[0]), hi: sweep.points.map((p) => p.intended_goal_ci95[1]) }, points: true },
        ]}
      />
      {baselines.length > 0 && (
        <table class="baselines">
          <caption>baselines on the same deploy levels (no learning)</caption>
          <thead>
            <tr>
              <th>policy</th>
              <th class="num">misgeneralization</th>
              <th>95% CI</th>
              <th class="num">intended goal</th>
              <th>95% CI</th>
            </tr>
          </thead>
          <tbody>
            {baselines.map(([kind, b]) => (
              <tr key={kind}>
                <td>{kind}</td>
                <td class="num">{fmt(b.proxy_rate)}</td>
                <td>{ci(b.proxy_rate_ci95)}</td>
                <td class="num">{fmt(b.intended_goal_rate)}</td>
                <td>{ci(b.intended_goal_ci95)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {extra.length > 0 && <GenericJson value={Object.fromEntries(extra)} path={artifact.name} depth={0} />}
    </div>
  );
}

// ---- mesa validate --json ----

interface ValidityCheck {
  name: string;
  measured: number | null;
  threshold: number | null;
  comparison?: string;
  detail?: string;
  pass: boolean;
}
interface ValidityDistribution {
  role?: string | null;
  pass: boolean;
  checks: ValidityCheck[];
  policies?: Record<string, Record<string, unknown>>;
}
/** `mesa validate --json`: envs.<env> holds `applicable`, `pass` and one entry per level distribution. */
interface ValidityReport {
  pass: boolean;
  episodes?: number;
  envs: Record<string, Record<string, unknown>>;
}

const isValidityDistribution = (v: unknown): v is ValidityDistribution => isRecord(v) && Array.isArray(v["checks"]) && typeof v["pass"] === "boolean";

function isValidity(v: unknown): v is ValidityReport {
  if (!isRecord(v) || typeof v["pass"] !== "boolean" || !isRecord(v["envs"])) return false;
  return Object.values(v["envs"]).every((e) => isRecord(e) && Object.values(e).some(isValidityDistribution));
}

function ValidityView({ report }: { report: ValidityReport }) {
  return (
    <div class="validity">
      <p>
        Validity harness{report.episodes ? ` (${fmt(report.episodes)} episodes per policy and distribution)` : ""}:{" "}
        <span class={`badge ${report.pass ? "finished" : "failed"}`}>{report.pass ? "all checks pass" : "some checks fail"}</span>
      </p>
      {Object.entries(report.envs).map(([env, e]) => {
        if (e["applicable"] === false) return <p key={env}>{env}: not applicable (no scripted and observation-only policies)</p>;
        return Object.entries(e)
          .filter((entry): entry is [string, ValidityDistribution] => isValidityDistribution(entry[1]))
          .map(([dist, r]) => (
            <div key={`${env}/${dist}`}>
              <h4>
                {env} / {dist} {r.role ? <span class="muted">({r.role})</span> : null} <span class={`badge ${r.pass ? "finished" : "failed"}`}>{r.pass ? "pass" : "fail"}</span>
              </h4>
              {r.checks.length > 0 && (
                <table class="data">
                  <thead>
                    <tr>
                      <th>check</th>
                      <th class="num">measured</th>
                      <th class="num">threshold</th>
                      <th>pass</th>
                      <th>what it means</th>
                    </tr>
                  </thead>
                  <tbody>
                    {r.checks.map((c) => (
                      <tr key={c.name} class={c.pass ? "" : "fail"}>
                        <td>{c.name}</td>
                        <td class="num">{fmt(c.measured)}</td>
                        <td class="num">
                          {c.comparison ?? ""} {fmt(c.threshold)}
                        </td>
                        <td>{c.pass ? "✓" : "✗"}</td>
                        <td class="small">{c.detail ?? ""}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              {r.policies && <RecordsTable rows={Object.entries(r.policies).map(([name, p]) => ({ policy: name, ...p }))} />}
            </div>
          ));
      })}
    </div>
  );
}

// ---- mesa icl: the comparison with gradient descent ----

function IclView({ run }: { run: RunInfo }) {
  useMetricsVersion();
  useEffect(() => {
    void metricsStore.watch([run.id]);
  }, [run.id]);
  const s = run.summary ?? {};
  const m = metricsStore.get(run.id);
  const vsGdpp = s["vs_gdpp"] as Record<string, number> | null | undefined;
  const ood = s["ood"] as Record<string, number> | undefined;
  const row = (name: string, key: string) => (
    <tr key={key}>
      <td>{name}</td>
      <td class="num">{fmt(s[key])}</td>
      <td class="num">{vsGdpp ? fmt(vsGdpp[key]) : "–"}</td>
      <td class="num">{ood ? fmt(ood[key]) : "–"}</td>
    </tr>
  );
  const series = [
    ["losses/train_loss", "train loss", PALETTE[0]!],
    ["eval/model_loss", `${String(s["model"] ?? "model")} eval loss`, PALETTE[1]!],
    ["eval/gd_loss", `${String(s["baseline"] ?? "GD")} (baseline)`, PALETTE[2]!],
  ].flatMap(([key, label, color]) => {
    const ys = m?.values.get(key!);
    return m && ys ? [{ label: label!, color: color!, xs: m.steps, ys, dash: key === "eval/gd_loss" }] : [];
  });
  return (
    <div class="icl">
      <p>
        In-context linear regression: a trained {String(s["layers"] ?? "?")}-layer {String(s["model"] ?? "")} against {String(s["baseline"] ?? "gradient descent")} (η = {fmt(s["gd_eta"])}) on fresh tasks (d = {fmt(s["d"])}, N = {fmt(s["n"])}).
      </p>
      <table class="data">
        <thead>
          <tr>
            <th>vs baseline</th>
            <th class="num">GD ({String(s["baseline"] ?? "")})</th>
            <th class="num">GD++</th>
            <th class="num">OOD (inputs ×2) vs GD</th>
          </tr>
        </thead>
        <tbody>
          {row("model test loss", "model_loss")}
          {row("baseline test loss", "baseline_loss")}
          {row("relative gap", "relative_gap")}
          {row("prediction cosine", "prediction_cosine")}
          {row("sensitivity cosine ∂ŷ/∂x_q", "sensitivity_cosine")}
        </tbody>
      </table>
      <p class="small muted">
        least squares {fmt(s["least_squares_loss"])} · ridge {fmt(s["ridge_loss"])} · interpolated model {fmt(s["interpolated_loss"])} · {String(s["loss"] ?? "")}
      </p>
      {series.length > 0 && <Chart title="ICL loss curves" yLabel="query MSE" series={series} />}
    </div>
  );
}

// ---- anything else ----

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isScalar = (v: unknown): boolean => v === null || ["number", "string", "boolean"].includes(typeof v);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
/** A numeric matrix (≥ 2 × 2, rectangular) worth drawing as a heatmap. */
export function asMatrix(v: unknown): number[][] | null {
  if (!Array.isArray(v) || v.length < 2) return null;
  const w = Array.isArray(v[0]) ? v[0].length : -1;
  if (w < 2) return null;
  for (const row of v) if (!Array.isArray(row) || row.length !== w || !row.every((x) => typeof x === "number" || x === null)) return null;
  return v as number[][];
}

export function GenericJson({ value, path, depth }: { value: unknown; path: string; depth: number }) {
  const matrix = asMatrix(value);
  if (matrix) return <Heatmap matrix={matrix} title={path} />;
  if (isScalar(value)) return <span>{fmt(value)}</span>;
  if (Array.isArray(value)) {
    if (value.length > 0 && value.every(isRecord)) {
      const rows = value as Record<string, unknown>[];
      const deep = rows.some((r) => Object.values(r).some((v) => !isShortScalarList(v)));
      return (
        <>
          <RecordsTable rows={rows} />
          {deep && depth < 6 && (
            <details class="nested">
              <summary class="small">each row in full ({rows.length})</summary>
              {rows.slice(0, 50).map((r, i) => (
                <div key={i}>
                  <h4>{`${path}[${i}]`}</h4>
                  <GenericJson value={Object.fromEntries(Object.entries(r).filter(([, v]) => !isShortScalarList(v)))} path={`${path}[${i}]`} depth={depth + 1} />
                </div>
              ))}
            </details>
          )}
        </>
      );
    }
    if (value.every(isScalar)) return <span class="small">{value.slice(0, 200).map(fmt).join(", ")}{value.length > 200 ? ` … (${value.length})` : ""}</span>;
    return (
      <div class="nested">
        {value.slice(0, 50).map((v, i) => (
          <div key={i}>
            <GenericJson value={v} path={`${path}[${i}]`} depth={depth + 1} />
          </div>
        ))}
      </div>
    );
  }
  if (!isRecord(value)) return null;
  // a flat per-cell array beside its grid's shape (mesa probe's per_cell_accuracy with cell_grid) is a map
  const grid = gridShape(value);
  const maps = grid ? Object.entries(value).filter(([, v]) => Array.isArray(v) && v.length === grid.height * grid.width && v.every((x) => typeof x === "number" || x === null)) : [];
  const rest = Object.entries(value).filter(([k]) => !maps.some(([m]) => m === k));
  const scalars = rest.filter(([, v]) => isScalar(v) || (Array.isArray(v) && v.length <= 8 && v.every((x) => typeof x === "number")));
  const nested = rest.filter(([k]) => !scalars.some(([s]) => s === k));
  return (
    <div class="generic">
      {scalars.length > 0 && (
        <table class="data kv">
          <tbody>
            {scalars.map(([k, v]) => (
              <tr key={k}>
                <th>{k}</th>
                <td>{Array.isArray(v) ? `[${v.map(fmt).join(", ")}]` : fmt(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {grid &&
        maps.map(([k, v]) => (
          <Heatmap key={k} title={path ? `${path}.${k}` : k} matrix={Array.from({ length: grid.height }, (_, y) => (v as number[]).slice(y * grid.width, (y + 1) * grid.width))} />
        ))}
      {depth < 6 &&
        nested.map(([k, v]) => (
          <div key={k} class="nested">
            <h4>{path ? `${path}.${k}` : k}</h4>
            <GenericJson value={v as Json} path={path ? `${path}.${k}` : k} depth={depth + 1} />
          </div>
        ))}
    </div>
  );
}

/** The grid shape an object declares for its flat per-cell arrays: `cell_grid` / `grid` with height and width. */
function gridShape(value: Record<string, unknown>): { height: number; width: number } | null {
  for (const key of ["cell_grid", "grid", "level"]) {
    const g = value[key];
    if (isRecord(g) && typeof g["height"] === "number" && typeof g["width"] === "number" && g["height"] * g["width"] >= 4) return { height: g["height"], width: g["width"] };
  }
  return null;
}

/** A scalar, or a short list of scalars (a CI, a shape): fits in a table cell. */
const isShortScalarList = (v: unknown): boolean => isScalar(v) || (Array.isArray(v) && v.length <= 8 && v.every(isScalar));

function RecordsTable({ rows }: { rows: Record<string, unknown>[] }) {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((c) => rows.some((r) => r[c] !== undefined) && rows.every((r) => r[c] === undefined || isShortScalarList(r[c])));
  return (
    <table class="data">
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c}>{c}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.slice(0, 500).map((r, i) => (
          <tr key={i}>
            {columns.map((c) => {
              const v = r[c];
              return <td key={c}>{Array.isArray(v) ? `[${v.map(fmt).join(", ")}]` : fmt(v)}</td>;
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A matrix as coloured cells: diverging blue–white–red around 0 when it has both signs, else white to blue. */
export function Heatmap({ matrix, title }: { matrix: number[][]; title: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<string>("");
  const rows = matrix.length;
  const cols = matrix[0]!.length;
  const flat = matrix.flat().filter((x): x is number => typeof x === "number" && Number.isFinite(x));
  const lo = Math.min(...flat);
  const hi = Math.max(...flat);
  const diverging = lo < 0 && hi > 0;
  const scale = diverging ? Math.max(-lo, hi) : hi - lo;
  const cell = Math.max(4, Math.min(28, Math.floor(420 / Math.max(rows, cols))));
  useEffect(() => {
    const c = canvas.current;
    const g = c?.getContext("2d");
    if (!c || !g) return;
    c.width = cols * cell;
    c.height = rows * cell;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < cols; x++) {
        const v = matrix[y]![x];
        g.fillStyle = v === null || v === undefined || !Number.isFinite(v) ? "#ccc" : colorOf(v, lo, scale, diverging);
        g.fillRect(x * cell, y * cell, cell, cell);
      }
    }
  }, [matrix]);
  return (
    <figure class="heatmap">
      <canvas
        ref={canvas}
        onMouseMove={(e) => {
          const box = (e.currentTarget as HTMLCanvasElement).getBoundingClientRect();
          const x = Math.floor((e.clientX - box.left) / cell);
          const y = Math.floor((e.clientY - box.top) / cell);
          const v = matrix[y]?.[x];
          setHover(v === undefined ? "" : `[${y}, ${x}] = ${fmt(v)}`);
        }}
        onMouseLeave={() => setHover("")}
      />
      <figcaption>
        {title} · {rows}×{cols} · {diverging ? `blue ${fmt(-scale)} … white 0 … red ${fmt(scale)}` : scale === 0 ? `every cell ${fmt(lo)}` : `white ${fmt(lo)} … blue ${fmt(hi)}`} <span class="hover">{hover}</span>
      </figcaption>
    </figure>
  );
}

function colorOf(v: number, lo: number, scale: number, diverging: boolean): string {
  if (diverging) {
    const t = Math.max(-1, Math.min(1, v / scale));
    const fadeTo = (a: number): number => Math.round(255 - (255 - a) * Math.abs(t));
    return t >= 0 ? `rgb(${fadeTo(200)}, ${fadeTo(40)}, ${fadeTo(40)})` : `rgb(${fadeTo(40)}, ${fadeTo(90)}, ${fadeTo(200)})`;
  }
  // a constant map (every cell 1, say) is drawn mid-scale, not blank; the caption gives its value
  const t = scale === 0 ? 0.6 : Math.max(0, Math.min(1, (v - lo) / scale));
  return `rgb(${Math.round(255 - 215 * t)}, ${Math.round(255 - 165 * t)}, ${Math.round(255 - 55 * t)})`;
}
