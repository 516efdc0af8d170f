// Episode replay: recorded episodes (mesa eval, mesa demo) animated on a canvas with play / pause / step, the
// base reward and intended score ticking, events marked on a timeline; two players side by side so a train
// episode and a deploy episode can be watched together.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { fetchEpisode, fetchEpisodes, fileUrl, type EnvStyle, type EpisodeRecordJson, type EpisodeResponse, type EpisodeSummary } from "./api.js";
import { fmt, navigate, runLabel, useRoute, useRuns } from "./state.js";

const FLOOR = "rgb(236, 234, 224)";
const GRID_LINE = "rgb(214, 211, 198)";
const EVENT_COLORS = ["#e15759", "#f28e2b", "#59a14f", "#4e79a7", "#b07aa1", "#edc948", "#76b7b2", "#9c755f"];

/** The grid after each step: frame 0 is the start, frame t the state after step t. */
export function episodeFrames(r: EpisodeRecordJson): { tiles: string[]; agent: [number, number] }[] {
  const tiles = r.initial.map((row) => row.padEnd(r.width, ".")).join("").split("");
  const frames = [{ tiles: tiles.slice(), agent: r.start }];
  for (const step of r.steps) {
    for (const [y, x, ch] of step.changes) tiles[y * r.width + x] = ch;
    frames.push({ tiles: tiles.slice(), agent: step.agent });
  }
  return frames;
}

function rgb(c: [number, number, number]): string {
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** A stable colour for a tile of an environment this version does not know. */
function fallbackColor(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360}, 55%, 50%)`;
}

function drawFrame(canvas: HTMLCanvasElement, r: EpisodeRecordJson, style: EnvStyle | null, frame: { tiles: string[]; agent: [number, number] }): void {
  const cell = Math.max(8, Math.min(40, Math.floor(360 / Math.max(r.width, r.height * 0.6))));
  const dpr = window.devicePixelRatio || 1;
  canvas.width = r.width * cell * dpr;
  canvas.height = r.height * cell * dpr;
  canvas.style.width = `${r.width * cell}px`;
  canvas.style.height = `${r.height * cell}px`;
  const g = canvas.getContext("2d");
  if (!g) return;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.fillStyle = FLOOR;
  g.fillRect(0, 0, r.width * cell, r.height * cell);
  g.strokeStyle = GRID_LINE;
  g.lineWidth = 1;
  for (let y = 0; y < r.height; y++) {
    for (let x = 0; x < r.width; x++) {
      g.strokeRect(x * cell + 0.5, y * cell + 0.5, cell - 1, cell - 1);
      const ch = frame.tiles[y * r.width + x]!;
      if (ch === ".") continue;
      const known = style?.tiles[ch];
      const name = known?.name ?? r.legend[ch] ?? ch;
      g.fillStyle = known ? rgb(known.color) : fallbackColor(name);
      const shape = known?.shape ?? (name === "wall" ? "block" : "disc");
      if (shape === "block") g.fillRect(x * cell, y * cell, cell, cell);
      else {
        g.beginPath();
        g.arc(x * cell + cell / 2, y * cell + cell / 2, cell * 0.32, 0, Math.PI * 2);
        g.fill();
      }
    }
  }
  const [ay, ax] = frame.agent;
  g.fillStyle = style ? rgb(style.agent.color) : "#222";
  g.beginPath();
  g.arc(ax * cell + cell / 2, ay * cell + cell / 2, cell * 0.4, 0, Math.PI * 2);
  g.fill();
  g.strokeStyle = "#fff";
  g.lineWidth = 2;
  g.stroke();
}

export function Player({ run, episodes, initial, side }: { run: string; episodes: EpisodeSummary[]; initial: string | undefined; side: string }) {
  const [name, setName] = useState(initial ?? episodes[0]?.name);
  const [loaded, setLoaded] = useState<EpisodeResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [t, setT] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(4);
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => setName(initial ?? episodes[0]?.name), [run, initial]);
  useEffect(() => {
    if (name === undefined) return;
    let stale = false;
    setLoaded(null);
    setError(null);
    setT(0);
    setPlaying(false);
    fetchEpisode(run, name)
      .then((e) => !stale && setLoaded(e))
      .catch((err: unknown) => !stale && setError((err as Error).message));
    return () => {
      stale = true;
    };
  }, [run, name]);

  const record = loaded?.record;
  const frames = useMemo(() => (record ? episodeFrames(record) : []), [record]);
  const last = Math.max(0, frames.length - 1);

  useEffect(() => {
    if (record && canvas.current && frames[t]) drawFrame(canvas.current, record, loaded!.style, frames[t]!);
  }, [record, t, frames]);

  useEffect(() => {
    if (!playing) return;
    const timer = window.setInterval(() => {
      setT((x) => {
        if (x >= last) {
          setPlaying(false);
          return x;
        }
        return x + 1;
      });
    }, 1000 / speed);
    return () => window.clearInterval(timer);
  }, [playing, speed, last]);

  const sums = useMemo(() => {
    const base = [0];
    const intended = [0];
    for (const s of record?.steps ?? []) {
      base.push(base[base.length - 1]! + s.reward);
      intended.push(intended[intended.length - 1]! + s.intended);
    }
    return { base, intended };
  }, [record]);
  const eventNames = useMemo(() => [...new Set((record?.steps ?? []).flatMap((s) => Object.keys(s.events)))].sort(), [record]);
  const step = t > 0 ? record?.steps[t - 1] : undefined;
  const summary = episodes.find((e) => e.name === name);

  return (
    <div class="player" data-side={side}>
      <div class="player-head">
        <select class="episode-pick" value={name} onChange={(e) => setName((e.target as HTMLSelectElement).value)}>
          {episodes.map((e) => (
            <option key={e.name} value={e.name}>
              {e.name} — {e.distribution}, base {fmt(e.baseReturn)}, intended {fmt(e.intendedReturn)}
            </option>
          ))}
        </select>
      </div>
      {error && <p class="error">{error}</p>}
      {record && (
        <>
          <div class="outcome">
            <b>{record.env}</b> · {record.distribution} levels · seed {record.seed}, episode {record.episode} ·{" "}
            {record.pursuedProxy ? <span class="tag proxy">pursued the proxy</span> : <span class="tag">did not pursue the proxy</span>}{" "}
            {record.intendedGoalReached ? <span class="tag intended">intended goal reached</span> : <span class="tag">intended goal missed</span>}
          </div>
          <canvas ref={canvas} class="grid" data-frame={t} />
          <div class="controls">
            <button class="first" title="first frame" onClick={() => setT(0)}>
              |◀
            </button>
            <button class="back" title="step back" onClick={() => setT((x) => Math.max(0, x - 1))}>
              ◀
            </button>
            <button
              class="play"
              title={playing ? "pause" : "play"}
              onClick={() => {
                if (!playing && t >= last) setT(0);
                setPlaying(!playing);
              }}
            >
              {playing ? "⏸ pause" : "▶ play"}
            </button>
            <button class="step" title="step forward" onClick={() => setT((x) => Math.min(last, x + 1))}>
              ▶|
            </button>
            <select class="speed" value={speed} onChange={(e) => setSpeed(Number((e.target as HTMLSelectElement).value))} title="steps per second">
              {[1, 2, 4, 8, 16].map((s) => (
                <option key={s} value={s}>
                  {s} steps/s
                </option>
              ))}
            </select>
            <input class="scrub" type="range" min={0} max={last} value={t} onInput={(e) => setT(Number((e.target as HTMLInputElement).value))} />
          </div>
          <div class="readout">
            <span class="t">
              step <b>{t}</b> / {last}
            </span>
            <span>action: {step ? (record.actions[step.action] ?? step.action) : "–"}</span>
            <span class="base">
              base reward <b>{fmt(sums.base[t])}</b>
              {step && step.reward !== 0 && <em> ({step.reward > 0 ? "+" : ""}{fmt(step.reward)})</em>}
            </span>
            <span class="intended">
              intended score <b>{fmt(sums.intended[t])}</b>
              {step && step.intended !== 0 && <em> ({step.intended > 0 ? "+" : ""}{fmt(step.intended)})</em>}
            </span>
            <span class="events-now">{step && Object.keys(step.events).length > 0 ? Object.entries(step.events).map(([k, v]) => `${k}×${v}`).join(" ") : ""}</span>
          </div>
          <Timeline record={record} t={t} eventNames={eventNames} onSeek={setT} />
          <div class="legend">
            {Object.entries(record.legend).map(([ch, n]) => {
              const c = ch === loaded!.style?.agent.char ? loaded!.style!.agent.color : loaded!.style?.tiles[ch]?.color;
              return ch === "." ? null : (
                <span key={ch}>
                  <span class="swatch" style={{ background: c ? rgb(c) : fallbackColor(n) }} /> {n}
                </span>
              );
            })}
          </div>
          {summary?.gif && (
            <a class="muted small" href={fileUrl(summary.gif)} target="_blank" rel="noreferrer">
              the run's GIF of this episode
            </a>
          )}
        </>
      )}
    </div>
  );
}

function Timeline({ record, t, eventNames, onSeek }: { record: EpisodeRecordJson; t: number; eventNames: string[]; onSeek: (t: number) => void }) {
  const n = Math.max(1, record.steps.length);
  const x = (step: number): string => `${(step / n) * 100}%`;
  return (
    <div class="timeline-wrap">
      <div
        class="timeline"
        onClick={(e) => {
          const box = (e.currentTarget as HTMLElement).getBoundingClientRect();
          onSeek(Math.round(((e.clientX - box.left) / box.width) * n));
        }}
        title="events over the episode; click to jump"
      >
        {record.steps.map((s, k) =>
          Object.keys(s.events).map((ev) => <span key={`${k}-${ev}`} class="mark" style={{ left: x(k + 1), background: EVENT_COLORS[eventNames.indexOf(ev) % EVENT_COLORS.length] }} title={`step ${k + 1}: ${ev}`} />),
        )}
        {record.steps.map((s, k) => (s.reward !== s.intended ? <span key={`d${k}`} class="mark diff" style={{ left: x(k + 1) }} title={`step ${k + 1}: reward ${s.reward} ≠ intended ${s.intended}`} /> : null))}
        <span class="cursor" style={{ left: x(t) }} />
      </div>
      <div class="timeline-legend small">
        {eventNames.map((ev, i) => (
          <span key={ev}>
            <span class="swatch" style={{ background: EVENT_COLORS[i % EVENT_COLORS.length] }} /> {ev}
          </span>
        ))}
        <span>
          <span class="swatch diff" /> reward ≠ intended
        </span>
      </div>
    </div>
  );
}

export function EpisodesView() {
  const { data } = useRuns();
  const { params } = useRoute();
  const withEpisodes = (data?.runs ?? []).filter((r) => r.artifacts.some((a) => a.kind === "episode"));
  const run = params.get("run") ?? withEpisodes[0]?.id;
  const [episodes, setEpisodes] = useState<EpisodeSummary[] | null>(null);
  const [problems, setProblems] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (run === undefined) return;
    let stale = false;
    setEpisodes(null);
    setError(null);
    fetchEpisodes(run)
      .then((r) => {
        if (stale) return;
        setEpisodes(r.episodes);
        setProblems(r.problems);
      })
      .catch((err: unknown) => !stale && setError((err as Error).message));
    return () => {
      stale = true;
    };
  }, [run]);

  const first = (distribution: string): string | undefined => episodes?.find((e) => e.distribution === distribution)?.name;
  const left = params.get("left") ?? first("train") ?? episodes?.[0]?.name;
  const right = params.get("right") ?? first("deploy") ?? episodes?.find((e) => e.name !== left)?.name ?? left;

  return (
    <section class="view episodes-view">
      <div class="toolbar">
        <label>
          run{" "}
          <select class="run-pick" value={run} onChange={(e) => navigate("episodes", { run: (e.target as HTMLSelectElement).value })}>
            {withEpisodes.map((r) => (
              <option key={r.id} value={r.id}>
                {runLabel(r)} — {r.name}
              </option>
            ))}
            {run !== undefined && !withEpisodes.some((r) => r.id === run) && <option value={run}>{run}</option>}
          </select>
        </label>
        <span class="muted">Left: a train episode; right: a deploy episode (pick any in each).</span>
      </div>
      {data && withEpisodes.length === 0 && (
        <p class="empty">
          No recorded episodes yet. <code>npx mesa eval RUN --distribution deploy</code> records a few into the run's <code>episodes/</code> folder.
        </p>
      )}
      {error && <p class="error">{error}</p>}
      {problems.map((p) => (
        <p class="warning" key={p}>
          {p}
        </p>
      ))}
      {run !== undefined && episodes && episodes.length > 0 && (
        <div class="players">
          <Player run={run} episodes={episodes} initial={left} side="left" />
          <Player run={run} episodes={episodes} initial={right} side="right" />
        </div>
      )}
    </section>
  );
}
