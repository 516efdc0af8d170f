// Talking to `mesa serve`: JSON GETs with the server's error messages kept, and one live store of metrics per
// run fed by a single EventSource for all watched runs (browsers allow only ~6 connections per host).
import type { EpisodeResponse, EpisodeSummary, LiveEvent, MetricsResponse, RunsResponse } from "../../src/server/types.js";

export type { Artifact, EpisodeRecordJson, EpisodeResponse, EpisodeSummary, EnvStyle, ResultsInfo, RunInfo, RunsResponse, SweepResult } from "../../src/server/types.js";

/** URL-encodes a run id as one path segment (ids contain "/"). */
export const runUrl = (id: string): string => `api/runs/${encodeURIComponent(id)}`;
/** URL of a file of the runs folder. */
export const fileUrl = (path: string): string => `api/files/${path.split("/").map(encodeURIComponent).join("/")}`;

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(`${url}: the server answered ${res.status} with something that is not JSON`, res.status);
  }
  if (!res.ok) {
    const e = body as { error?: string; hint?: string };
    throw new ApiError(e.error ?? `${url}: HTTP ${res.status}`, res.status, e.hint);
  }
  return body as T;
}

export const fetchRuns = (): Promise<RunsResponse> => getJson<RunsResponse>("api/runs");
export const fetchEpisodes = (run: string): Promise<{ episodes: EpisodeSummary[]; problems: string[] }> => getJson(`${runUrl(run)}/episodes`);
export const fetchEpisode = (run: string, name: string): Promise<EpisodeResponse> => getJson(`${runUrl(run)}/episodes/${encodeURIComponent(name)}`);

/** Metrics of one run as columns, growing as the live stream delivers lines. */
export interface RunMetrics {
  steps: number[];
  values: Map<string, (number | null)[]>;
  keys: string[];
  offset: number;
  problems: string[];
  /** bumps on every change, so views can tell that data moved */
  version: number;
  error: string | null;
  /** the history was thinned to every `stride`-th of `total` records (lines arriving live are all kept) */
  stride: number;
  total: number;
}

/** Points per run loaded for charts; longer histories are thinned by the server (every k-th record). */
const MAX_POINTS = 5000;

type Listener = () => void;

/** Metrics of the runs the page shows, loaded once and kept current by one server-sent-event stream. */
class MetricsStore {
  private readonly runs = new Map<string, RunMetrics>();
  private readonly loading = new Map<string, Promise<void>>();
  private readonly listeners = new Set<Listener>();
  private watched: string[] = [];
  private source: EventSource | null = null;
  private notifyQueued = false;
  /** status of the live connection, shown in the header */
  live: "off" | "connecting" | "open" | "error" = "off";

  get(run: string): RunMetrics | undefined {
    return this.runs.get(run);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Loads these runs' metrics and keeps them live; runs no longer asked for stop streaming. */
  async watch(runs: string[]): Promise<void> {
    const wanted = [...new Set(runs)].sort();
    if (wanted.join("\n") === this.watched.join("\n")) return;
    this.watched = wanted;
    await Promise.all(wanted.map((r) => this.load(r)));
    if (wanted.join("\n") === this.watched.join("\n")) this.reconnect();
  }

  private load(run: string): Promise<void> {
    if (this.runs.has(run)) return Promise.resolve();
    let p = this.loading.get(run);
    if (!p) {
      p = getJson<MetricsResponse>(`${runUrl(run)}/metrics?max_points=${MAX_POINTS}`)
        .then((m) => {
          this.runs.set(run, { steps: m.steps, values: new Map(Object.entries(m.values)), keys: m.keys, offset: m.offset, problems: m.problems, version: 1, error: null, stride: m.stride, total: m.total });
        })
        .catch((err: unknown) => {
          this.runs.set(run, { steps: [], values: new Map(), keys: [], offset: 0, problems: [], version: 1, error: (err as Error).message, stride: 1, total: 0 });
        })
        .finally(() => {
          this.loading.delete(run);
          this.notify();
        });
      this.loading.set(run, p);
    }
    return p;
  }

  private reconnect(): void {
    this.source?.close();
    this.source = null;
    const cursors = this.watched.filter((r) => this.runs.get(r)?.error === null).map((r) => `run=${encodeURIComponent(`${encodeURIComponent(r)}@${this.runs.get(r)!.offset}`)}`);
    if (cursors.length === 0) {
      this.live = "off";
      this.notify();
      return;
    }
    const source = new EventSource(`api/live?${cursors.join("&")}`);
    this.source = source;
    this.live = "connecting";
    source.onopen = () => {
      this.live = "open";
      this.notify();
    };
    source.onerror = () => {
      this.live = "error"; // EventSource retries by itself and resumes from the last event id
      this.notify();
    };
    const handle = (e: MessageEvent<string>): void => this.apply(JSON.parse(e.data) as LiveEvent);
    for (const type of ["metrics", "reset", "summary", "problem"]) source.addEventListener(type, handle as EventListener);
  }

  private apply(event: LiveEvent): void {
    const m = this.runs.get(event.run);
    if (!m) return;
    if (event.type === "metrics") {
      if (event.records.length > 0 && event.offset <= m.offset) return; // already have these lines
      for (const r of event.records) {
        const index = m.steps.length;
        m.steps.push(r.global_step);
        for (const [k, v] of Object.entries(r)) {
          if (k === "global_step") continue;
          let column = m.values.get(k);
          if (!column) {
            column = new Array<number | null>(index).fill(null);
            m.values.set(k, column);
            m.keys.push(k);
          }
          column.push(typeof v === "number" ? v : null);
        }
        for (const column of m.values.values()) if (column.length < m.steps.length) column.push(null);
        m.total++;
      }
      m.offset = event.offset;
    } else if (event.type === "reset") {
      // the file was replaced: reload it whole, then stream from its new end
      this.runs.delete(event.run);
      void this.load(event.run).then(() => this.reconnect());
      return;
    } else if (event.type === "problem") {
      m.problems.push(event.message);
    } else if (event.type === "summary") {
      summaryListeners.forEach((l) => l(event.run, event.status));
    }
    m.version++;
    this.notify();
  }

  /** Listeners hear at most one change per animation frame, however fast lines arrive. */
  notify(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    requestAnimationFrame(() => {
      this.notifyQueued = false;
      for (const l of this.listeners) l();
    });
  }
}

export const metricsStore = new MetricsStore();

/** Hears run status changes (running → finished) from the live stream. */
export const summaryListeners = new Set<(run: string, status: string) => void>();
