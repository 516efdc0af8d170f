// The JSON shapes of the dashboard API (`mesa serve`), shared by the server and the web app (type-only imports).
import type { EpisodeRecord } from "../envs/engine.js";

/** What kind of file an artifact is, so the dashboard knows how to show it. */
export type ArtifactKind = "image" | "episode" | "json" | "text";

export interface Artifact {
  /** path relative to the runs folder, `/`-separated: what `/api/files/<path>` serves */
  path: string;
  /** path relative to the entry (run or results folder) that holds it */
  name: string;
  kind: ArtifactKind;
  bytes: number;
  /** last modification, ms since the epoch */
  mtimeMs: number;
}

/** A run directory: config.json, summary.json, metrics.jsonl (written by `mesa train`, `mesa icl`, …). */
export interface RunInfo {
  /** path relative to the runs folder, `/`-separated; URL-encode it as one path segment in API calls */
  id: string;
  /** the directory's own name */
  name: string;
  env: string | null;
  exp: string | null;
  seed: number | null;
  /** the level distribution it trained on (config.json `distribution`), when it has one */
  distribution: string | null;
  model: string | null;
  /** summary.json `status`: running, finished, failed or interrupted (also a "running" run whose lock holder is
   *  gone: killed); `unknown` when the run has no summary */
  status: "running" | "finished" | "failed" | "interrupted" | "unknown";
  startedAt: string | null;
  /** the last complete record of metrics.jsonl, or null before the first */
  last: Record<string, number | null> | null;
  /** newest modification of metrics.jsonl or summary.json, ms since the epoch */
  updatedMs: number;
  /** summary.json as written (final figures of the run) */
  summary: Record<string, unknown> | null;
  /** files other than config, summary, metrics and checkpoints: episodes, plots, tables */
  artifacts: Artifact[];
  /** the run folder or results folder it sits in (relative id), or null at the top */
  parent: string | null;
  /** problems reading it (a damaged summary, an unreadable metrics line), shown to the user */
  problems: string[];
}

/** A folder that is not a run but holds results (e.g. `mesa experiment`'s results.json and plot, a sweep). */
export interface ResultsInfo {
  id: string;
  name: string;
  artifacts: Artifact[];
  /** ids of the runs found inside it */
  runs: string[];
  updatedMs: number;
  parent: string | null;
}

export interface RunsResponse {
  /** the runs folder, as an absolute path on the server */
  root: string;
  runs: RunInfo[];
  results: ResultsInfo[];
}

export interface MetricsResponse {
  run: string;
  /** every metric key the file holds (not only the ones returned) */
  keys: string[];
  /** global_step of each returned record */
  steps: number[];
  /** one column per returned key, aligned with `steps` (null where a record lacks the key or it was NaN) */
  values: Record<string, (number | null)[]>;
  /** records at or after `from` in the file; with `max_points`, every `stride`-th of them (and the last) is returned */
  total: number;
  stride: number;
  /** bytes of metrics.jsonl read so far: pass it to the live stream (`?run=<id>@<offset>`) to get what follows */
  offset: number;
  problems: string[];
}

/** One recorded episode in a run's listing. */
export interface EpisodeSummary {
  /** file name without `.json`, e.g. `deploy-0` */
  name: string;
  path: string;
  env: string;
  distribution: string;
  length: number;
  baseReturn: number;
  intendedReturn: number;
  pursuedProxy: boolean;
  intendedGoalReached: boolean;
  events: Record<string, number>;
  /** the run's GIF and PNG strip of the same episode, when present */
  gif: string | null;
  png: string | null;
}

/** How to draw an environment's tiles: the colours of its PNG/GIF renders. */
export interface EnvStyle {
  /** tile char → name, colour and shape; '.' is the floor */
  tiles: Record<string, { name: string; color: [number, number, number]; shape: "block" | "disc" }>;
  agent: { char: string; color: [number, number, number] };
}

export interface EpisodeResponse {
  run: string;
  name: string;
  /** the episode record (format mesa-episode/1) */
  record: EpisodeRecordJson;
  /** null when the environment is not registered in this version: the app then picks colours itself */
  style: EnvStyle | null;
}

/** An episode record (format mesa-episode/1) as the JSON file holds it. */
export type EpisodeRecordJson = EpisodeRecord;

/** `mesa experiment misgeneralization`'s results.json. */
export type { SweepPoint, SweepResult } from "../rl/experiment.js";

/** Events of the live stream (`/api/live`, `/api/runs/:id/stream`), as server-sent events. */
export type LiveEvent =
  /** new complete lines of a run's metrics.jsonl, in order; `offset` is the byte offset after them */
  | { type: "metrics"; run: string; records: ({ global_step: number } & Record<string, number | null>)[]; offset: number }
  /** metrics.jsonl was replaced or cut (a resume trimmed it): reload the run's metrics from scratch */
  | { type: "reset"; run: string }
  /** summary.json changed (status, final figures) */
  | { type: "summary"; run: string; status: RunInfo["status"]; summary: Record<string, unknown> | null }
  /** a line that is not a valid record (reported, not dropped silently) */
  | { type: "problem"; run: string; message: string };
