// The dashboard server behind `mesa serve`: a read-only JSON API over a runs folder, a live stream of metrics
// (server-sent events) and the built web app. Node's own `http`: the API is a handful of GET routes, and one
// shared reader per metrics file keeps a hundred live clients as cheap as one.
import { createReadStream, existsSync, watch, type FSWatcher } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { MesaError, RunDirError } from "../core/errors.js";
import { environments } from "../envs/registry.js";
import { Catalog, runStatus } from "./catalog.js";
import { MetricsFile, type MetricsUpdate } from "./metrics.js";
import { HttpError, isInside, realRoot, resolveInside } from "./paths.js";
import type { EnvStyle, EpisodeRecordJson, EpisodeResponse, EpisodeSummary, LiveEvent, MetricsResponse, RunInfo, RunsResponse } from "./types.js";

export interface ServeOptions {
  /** the runs folder (read only) */
  runs: string;
  /** default 6006; 0 picks a free port */
  port?: number;
  /** default 127.0.0.1: only this machine can connect */
  host?: string;
  /** folder of the built web app (default: dist/web of this package) */
  webRoot?: string;
  /** how often live streams look for appended metrics, ms (default 250) */
  pollMs?: number;
}

export interface DashboardServer {
  url: string;
  port: number;
  host: string;
  server: Server;
  close(): Promise<void>;
}

/** Where the build puts the web app: dist/web (this file runs from dist/src/server, or from src/server in tests). */
export function defaultWebRoot(): string {
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(here.includes(`${sep}dist${sep}src${sep}`) ? "../../web/" : "../../dist/web/", import.meta.url));
}

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".jsonl": "text/plain; charset=utf-8",
  ".png": "image/png",
  ".gif": "image/gif",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".md": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".csv": "text/plain; charset=utf-8",
  ".tsv": "text/plain; charset=utf-8",
  ".yaml": "text/plain; charset=utf-8",
  ".yml": "text/plain; charset=utf-8",
  ".log": "text/plain; charset=utf-8",
  // a run's HTML report is shown as text: it comes from the runs folder, not from us
  ".html-artifact": "text/plain; charset=utf-8",
};

/** Validates the fields of an episode record the replay needs; extra fields (newer formats) pass through. */
const episodeSchema = z.looseObject({
  format: z.string().startsWith("mesa-episode/"),
  env: z.string(),
  distribution: z.string(),
  height: z.number().int().min(1),
  width: z.number().int().min(1),
  actions: z.array(z.string()),
  legend: z.record(z.string(), z.string()),
  initial: z.array(z.string()),
  start: z.tuple([z.number().int(), z.number().int()]),
  steps: z.array(
    z.looseObject({
      action: z.number().int(),
      agent: z.tuple([z.number().int(), z.number().int()]),
      reward: z.number(),
      intended: z.number(),
      events: z.record(z.string(), z.number()),
      changes: z.array(z.tuple([z.number().int(), z.number().int(), z.string()])),
      terminated: z.boolean(),
      truncated: z.boolean(),
    }),
  ),
  baseReturn: z.number(),
  intendedReturn: z.number(),
  length: z.number().int(),
  events: z.record(z.string(), z.number()),
  pursuedProxy: z.boolean(),
  intendedGoalReached: z.boolean(),
});

/** Live streams send a comment this often so proxies and browsers keep idle connections open. */
const HEARTBEAT_MS = 15_000;

/** Starts the dashboard server; resolves once it listens. */
export async function startServer(options: ServeOptions): Promise<DashboardServer> {
  if (!existsSync(options.runs)) throw new MesaError(`the runs folder ${options.runs} does not exist`, "pass --runs DIR with a folder that holds run directories (mesa train writes them to runs/)");
  const st = await stat(options.runs);
  if (!st.isDirectory()) throw new MesaError(`--runs ${options.runs} is a file, not a folder`, "pass the folder that holds the run directories");
  const rootReal = realRoot(options.runs);
  const webDir = options.webRoot ?? defaultWebRoot();
  if (!existsSync(join(webDir, "index.html"))) {
    throw new MesaError(`the dashboard's web app is not built (${join(webDir, "index.html")} is missing)`, "run `npm run build` (or `npm install`) in the mesa-lab folder");
  }
  const webRoot = realRoot(webDir);
  const app = new Dashboard(rootReal, webRoot, options.pollMs ?? 250);
  const server = createServer((req, res) => {
    app.handle(req, res).catch((err: unknown) => sendError(res, err));
  });
  // SSE connections stay open: no request timeout for them, and keep-alive for the rest
  server.requestTimeout = 0;
  server.keepAliveTimeout = 5_000;
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 6006;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off("listening", onListening);
      if (err.code === "EADDRINUSE") reject(new MesaError(`port ${port} on ${host} is already in use`, `pass another --port (or --port 0 for any free one); is another mesa serve running?`));
      else if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND") reject(new MesaError(`cannot listen on host ${host}: it is not an address of this machine`, "use --host 127.0.0.1 (the default) or an address of this machine"));
      else if (err.code === "EACCES") reject(new MesaError(`not allowed to listen on port ${port}`, "ports below 1024 need privileges: use --port 6006"));
      else reject(err);
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
    port: address.port,
    host: address.address,
    server,
    close: async () => {
      app.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A run being watched by live clients: its metrics reader and the last seen summary.json. */
interface Watch {
  metrics: MetricsFile;
  summaryPath: string;
  summaryMtime: number;
  summaryListeners: Set<(event: LiveEvent) => void>;
  /** live streams holding this watch, counted from before their first await so polling never drops it under them */
  clients: number;
  /** last API use, ms: a reader nobody streams is kept a while for the next /metrics call, then dropped */
  usedMs: number;
  /** wakes the reader as soon as the run's folder changes (polling stays as the fallback) */
  watcher: FSWatcher | null;
}

/** How long a run's metrics stay parsed in memory after the last API call when no live client follows it. */
const IDLE_WATCH_MS = 60_000;

class Dashboard {
  private readonly catalog: Catalog;
  private readonly watches = new Map<string, Watch>();
  private readonly timer: NodeJS.Timeout;
  private readonly streams = new Set<ServerResponse>();
  private polling = false;

  constructor(
    private readonly rootReal: string,
    private readonly webRoot: string,
    pollMs: number,
  ) {
    this.catalog = new Catalog(rootReal);
    this.timer = setInterval(() => void this.poll(), pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const w of this.watches.values()) w.watcher?.close();
    for (const res of this.streams) res.end();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      throw new HttpError(405, `${req.method} is not allowed: the dashboard is read-only`);
    }
    const rawUrl = req.url ?? "/";
    const url = new URL(rawUrl, "http://localhost");
    // the path as sent (WHATWG URL parsing would silently resolve ".." segments), split before decoding so an
    // encoded "/" (%2F) stays inside its segment: run ids contain slashes
    const rawPath = rawUrl.split("?")[0]!.split("#")[0]!;
    const parts = rawPath.split("/").slice(1).map((s) => {
      let decoded: string;
      try {
        decoded = decodeURIComponent(s);
      } catch {
        throw new HttpError(400, `malformed URL encoding in ${JSON.stringify(s)}`);
      }
      if (decoded === ".." || decoded === ".") throw new HttpError(403, `the path ${JSON.stringify(rawPath)} has a "${decoded}" segment`, "ask for a path inside the runs folder");
      return decoded;
    });
    if (parts[0] !== "api") return this.serveStatic(parts.join("/"), res);
    const route = parts.slice(1);
    if (route[0] === "runs" && route.length === 1) return sendJson(res, await this.catalog.scan());
    if (route[0] === "files" && route.length >= 2) return this.serveFile(route.slice(1).join("/"), res);
    if (route[0] === "live" && route.length === 1) return this.live(req, res, url.searchParams.getAll("run").flatMap((s) => s.split(",")).filter((s) => s !== ""));
    if (route[0] === "runs" && route.length >= 2) {
      const id = route[1]!;
      const rest = route.slice(2);
      if (rest.length === 0) return sendJson(res, await this.run(id));
      if (rest[0] === "metrics" && rest.length === 1) return sendJson(res, await this.metrics(id, url.searchParams));
      if (rest[0] === "stream" && rest.length === 1) return this.live(req, res, [`${encodeURIComponent(id)}@${url.searchParams.get("offset") ?? ""}`]);
      if (rest[0] === "episodes" && rest.length === 1) return sendJson(res, await this.episodes(id));
      if (rest[0] === "episodes" && rest.length === 2) return sendJson(res, await this.episode(id, rest[1]!));
    }
    throw new HttpError(404, `no API route ${url.pathname}`, "routes: /api/runs, /api/runs/:id, /api/runs/:id/metrics?keys=…&from=…&max_points=…, /api/runs/:id/episodes, /api/runs/:id/episodes/:name, /api/runs/:id/stream, /api/live?run=…, /api/files/<path>");
  }

  /** A run's real directory; 404 with a message when the id names no run directory. */
  private async runDir(id: string): Promise<string> {
    const real = id === "" ? this.rootReal : await resolveInside(this.rootReal, id).catch((err: unknown) => {
      if (err instanceof HttpError && err.status === 404) throw new HttpError(404, `no run "${id}" in the runs folder`, "GET /api/runs lists the runs");
      throw err;
    });
    if (!existsSync(join(real, "summary.json")) && !existsSync(join(real, "metrics.jsonl"))) {
      throw new HttpError(404, `"${id}" is not a run directory (it has neither summary.json nor metrics.jsonl)`, "GET /api/runs lists the runs");
    }
    return real;
  }

  private async run(id: string): Promise<RunInfo & { config: unknown }> {
    const real = await this.runDir(id);
    const listing: RunsResponse = await this.catalog.scan();
    const info = listing.runs.find((r) => r.id === id);
    if (!info) throw new HttpError(404, `no run "${id}" in the runs folder`, "GET /api/runs lists the runs");
    let config: unknown = null;
    try {
      config = JSON.parse(await readFile(join(real, "config.json"), "utf8"));
    } catch {
      // a run without a readable config still has metrics to show
    }
    return { ...info, config };
  }

  private watch(real: string): Watch {
    let w = this.watches.get(real);
    if (!w) {
      w = { metrics: new MetricsFile(join(real, "metrics.jsonl")), summaryPath: join(real, "summary.json"), summaryMtime: -1, summaryListeners: new Set(), clients: 0, usedMs: 0, watcher: null };
      this.watches.set(real, w);
    }
    w.usedMs = Date.now();
    return w;
  }

  private async metrics(id: string, params: URLSearchParams): Promise<MetricsResponse> {
    const real = await this.runDir(id);
    const w = this.watch(real);
    await w.metrics.refresh();
    const all = [...w.metrics.keys];
    const keysParam = params.get("keys");
    const keys = keysParam === null || keysParam === "" ? all : keysParam.split(",");
    const unknown = keys.filter((k) => !w.metrics.keys.has(k));
    if (keysParam && unknown.length > 0 && w.metrics.records.length > 0) {
      throw new HttpError(400, `run "${id}" has no metric ${unknown.map((k) => JSON.stringify(k)).join(", ")}`, `its metrics: ${all.join(", ")}`);
    }
    const fromParam = params.get("from");
    let from = 0;
    if (fromParam !== null) {
      from = Number(fromParam);
      if (!Number.isFinite(from)) throw new HttpError(400, `from must be a global_step number, got ${JSON.stringify(fromParam)}`, "e.g. ?from=100000");
    }
    const selected = from > 0 ? w.metrics.records.filter((r) => r.global_step >= from) : w.metrics.records;
    // thin long runs for charts as TensorBoard does: every k-th record (and the last), at most max_points
    const maxParam = params.get("max_points");
    let stride = 1;
    if (maxParam !== null) {
      const max = Number(maxParam);
      if (!Number.isSafeInteger(max) || max < 2) throw new HttpError(400, `max_points must be an integer ≥ 2, got ${JSON.stringify(maxParam)}`, "e.g. ?max_points=5000, or leave it out for every record");
      stride = Math.max(1, Math.ceil(selected.length / max));
    }
    const records = stride === 1 ? selected : selected.filter((_, i) => i % stride === 0 || i === selected.length - 1);
    const values: Record<string, (number | null)[]> = {};
    for (const k of keys) values[k] = records.map((r) => (typeof r[k] === "number" ? r[k] : null));
    return { run: id, keys: all, steps: records.map((r) => r.global_step), values, total: selected.length, stride, offset: w.metrics.offset, problems: [...w.metrics.problems] };
  }

  private async episodes(id: string): Promise<{ run: string; episodes: EpisodeSummary[]; problems: string[] }> {
    await this.runDir(id);
    const prefix = id === "" ? "episodes" : `${id}/episodes`;
    let names: string[];
    try {
      names = await readdir(await resolveInside(this.rootReal, prefix));
    } catch {
      return { run: id, episodes: [], problems: [] }; // no episodes recorded (yet)
    }
    const present = new Set(names);
    const out: EpisodeSummary[] = [];
    const problems: string[] = [];
    for (const file of names.filter((n) => n.endsWith(".json") && !n.startsWith(".")).sort(naturalOrder)) {
      const stem = file.slice(0, -".json".length);
      try {
        const record = await readEpisode(await resolveInside(this.rootReal, `${prefix}/${file}`));
        out.push({
          name: stem,
          path: `${prefix}/${file}`,
          env: record.env,
          distribution: record.distribution,
          length: record.length,
          baseReturn: record.baseReturn,
          intendedReturn: record.intendedReturn,
          pursuedProxy: record.pursuedProxy,
          intendedGoalReached: record.intendedGoalReached,
          events: record.events,
          gif: present.has(`${stem}.gif`) ? `${prefix}/${stem}.gif` : null,
          png: present.has(`${stem}.png`) ? `${prefix}/${stem}.png` : null,
        });
      } catch (err) {
        problems.push(`episodes/${file}: ${(err as Error).message}`);
      }
    }
    return { run: id, episodes: out, problems };
  }

  private async episode(id: string, name: string): Promise<EpisodeResponse> {
    const real = await this.runDir(id);
    const file = name.endsWith(".json") ? name : `${name}.json`;
    const path = await resolveInside(this.rootReal, `${id === "" ? "" : `${id}/`}episodes/${file}`).catch((err: unknown) => {
      if (err instanceof HttpError && err.status === 404) throw new HttpError(404, `run "${id}" has no episode "${name}"`, `GET /api/runs/${encodeURIComponent(id)}/episodes lists them`);
      throw err;
    });
    if (!isInside(real, path)) throw new HttpError(403, `episode "${name}" is not inside run "${id}"`);
    const record = await readEpisode(path).catch((err: unknown) => {
      throw new HttpError(422, `episodes/${file} is not a valid episode record: ${(err as Error).message}`, "it was edited or written by another tool; re-record it with mesa eval");
    });
    return { run: id, name: file.slice(0, -5), record, style: envStyle(record.env) };
  }

  private async serveFile(rel: string, res: ServerResponse): Promise<void> {
    const real = await resolveInside(this.rootReal, rel);
    const st = await stat(real);
    if (!st.isFile()) throw new HttpError(404, `${rel} is a folder, not a file`, "GET /api/runs lists every file the dashboard shows");
    const ext = extname(real).toLowerCase();
    const type = MIME[ext === ".html" ? ".html-artifact" : ext] ?? "application/octet-stream";
    res.writeHead(200, {
      "Content-Type": type,
      "Content-Length": st.size,
      "Cache-Control": "no-cache",
      "X-Content-Type-Options": "nosniff",
      // files come from the runs folder, not from us: an SVG opened on its own runs no script
      "Content-Security-Policy": "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox",
    });
    await pipeFile(real, res);
  }

  private async serveStatic(pathname: string, res: ServerResponse): Promise<void> {
    let rel = pathname.replace(/\/+$/, "");
    if (rel === "" || !rel.includes(".")) rel = "index.html"; // the app's own routes live in the hash
    let real: string;
    try {
      real = await resolveInside(this.webRoot, rel);
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) throw new HttpError(404, `no file /${pathname} in the dashboard`, "open / for the dashboard; the API is under /api/");
      throw err;
    }
    const st = await stat(real);
    if (!st.isFile()) throw new HttpError(404, `no file /${pathname} in the dashboard`);
    const hashed = rel.startsWith("assets/");
    res.writeHead(200, {
      "Content-Type": MIME[extname(real).toLowerCase()] ?? "application/octet-stream",
      "Content-Length": st.size,
      "Cache-Control": hashed ? "public, max-age=31536000, immutable" : "no-cache",
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'",
    });
    await pipeFile(real, res);
  }

  /**
   * The live stream: server-sent events for each requested run (`<encoded id>@<offset>`): first the metrics
   * after `offset` (all of them without one), then every record as it is appended, status changes and resets.
   * Each event's id is the cursor of every run, so a reconnecting EventSource (Last-Event-ID) resumes exactly.
   */
  private async live(req: IncomingMessage, res: ServerResponse, cursors: string[]): Promise<void> {
    if (cursors.length === 0) throw new HttpError(400, "the live stream needs at least one run", "GET /api/live?run=<url-encoded run id>@<offset from /metrics> (repeat run= for several)");
    if (cursors.length > 64) throw new HttpError(400, `at most 64 runs per live stream, got ${cursors.length}`);
    const resume = parseCursor(String(req.headers["last-event-id"] ?? ""));
    const runs: { id: string; real: string; watch: Watch; offset: number | null }[] = [];
    const release = (): void => {
      for (const r of runs) r.watch.clients--;
    };
    try {
      for (const c of cursors) {
        const { id, offset } = splitCursor(c);
        const real = await this.runDir(id);
        const watch = this.watch(real);
        watch.clients++;
        watch.watcher ??= watchFolder(real, () => void watch.metrics.refresh());
        runs.push({ id, real, watch, offset: resume.get(id) ?? offset });
      }
      for (const r of runs) {
        await r.watch.metrics.refresh();
        if (r.watch.summaryMtime === -1) r.watch.summaryMtime = await stat(r.watch.summaryPath).then((s) => s.mtimeMs, () => 0);
      }
    } catch (err) {
      release();
      throw err;
    }
    if (res.destroyed) {
      release();
      return;
    }
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    res.write("retry: 1000\n\n");
    const offsets = new Map<string, number>();
    const send = (event: LiveEvent): void => {
      if (event.type === "metrics") offsets.set(event.run, event.offset);
      if (event.type === "reset") offsets.set(event.run, 0);
      const id = [...offsets].map(([run, off]) => `${encodeURIComponent(run)}@${off}`).join(",");
      res.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    const unsubscribe: (() => void)[] = [];
    // catch up and subscribe with no await in between, so no line can slip past
    for (const r of runs) {
      const m = r.watch.metrics;
      const from = r.offset === null ? 0 : r.offset > m.offset ? -1 : m.firstAfter(r.offset);
      if (from < 0) {
        // the client knows more than the file holds: it was replaced or cut
        send({ type: "reset", run: r.id });
      } else {
        const records = m.records.slice(from);
        offsets.set(r.id, m.offset);
        send({ type: "metrics", run: r.id, records, offset: m.offset });
      }
      unsubscribe.push(
        m.subscribe((u: MetricsUpdate) => {
          if (u.reset) send({ type: "reset", run: r.id });
          if (u.records.length > 0) send({ type: "metrics", run: r.id, records: u.records, offset: u.offset });
          for (const message of u.problems) send({ type: "problem", run: r.id, message });
        }),
      );
      const onSummary = (e: LiveEvent): void => send(e);
      r.watch.summaryListeners.add(onSummary);
      unsubscribe.push(() => r.watch.summaryListeners.delete(onSummary));
    }
    this.streams.add(res);
    const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      for (const u of unsubscribe) u();
      release();
      this.streams.delete(res);
    };
    req.on("close", close);
    res.on("error", close);
  }

  /** Reads appended metrics and changed summaries of every watched run that has live clients. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const now = Date.now();
      for (const [real, w] of this.watches) {
        if (w.clients === 0) {
          // nobody streams it: stop watching the folder; keep the parsed metrics a while for API calls
          w.watcher?.close();
          w.watcher = null;
          if (now - w.usedMs > IDLE_WATCH_MS) this.watches.delete(real);
          continue;
        }
        await w.metrics.refresh();
        await this.checkSummary(w);
      }
    } finally {
      this.polling = false;
    }
  }

  private async checkSummary(w: Watch): Promise<void> {
    let mtime: number;
    try {
      mtime = (await stat(w.summaryPath)).mtimeMs;
    } catch {
      return;
    }
    if (mtime === w.summaryMtime) return;
    w.summaryMtime = mtime;
    let summary: Record<string, unknown> | null = null;
    try {
      summary = JSON.parse(await readFile(w.summaryPath, "utf8")) as Record<string, unknown>;
    } catch {
      return; // mid-replace: the next look sees the new file
    }
    const status = runStatus(summary?.status, join(w.summaryPath, ".."));
    const id = relativeId(this.rootReal, join(w.summaryPath, ".."));
    for (const l of w.summaryListeners) l({ type: "summary", run: id, status, summary });
  }
}

/**
 * Calls `onChange` when something in `dir` changes (the folder, not the file: a resume replaces metrics.jsonl by
 * rename). Returns null where the platform cannot watch (inotify limits, network filesystems): polling covers it.
 */
function watchFolder(dir: string, onChange: () => void): FSWatcher | null {
  try {
    const w = watch(dir, { persistent: false }, (_event, name) => {
      if (name === null || name === "metrics.jsonl") onChange();
    });
    w.on("error", () => w.close());
    return w;
  } catch {
    return null;
  }
}

/** Orders names like deploy-2 before deploy-10. */
function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

function relativeId(rootReal: string, real: string): string {
  return real === rootReal ? "" : real.slice(rootReal.length + 1).split("\\").join("/");
}

function splitCursor(cursor: string): { id: string; offset: number | null } {
  const at = cursor.lastIndexOf("@");
  const rawId = at < 0 ? cursor : cursor.slice(0, at);
  const rawOffset = at < 0 ? "" : cursor.slice(at + 1);
  let id: string;
  try {
    id = decodeURIComponent(rawId);
  } catch {
    throw new HttpError(400, `malformed run id ${JSON.stringify(rawId)} in the live stream request`);
  }
  if (rawOffset === "") return { id, offset: null };
  const offset = Number(rawOffset);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new HttpError(400, `offset must be a non-negative byte count, got ${JSON.stringify(rawOffset)}`, "use the offset returned by /api/runs/:id/metrics");
  return { id, offset };
}

function parseCursor(header: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of header.split(",")) {
    if (part === "") continue;
    try {
      const { id, offset } = splitCursor(part);
      if (offset !== null) out.set(id, offset);
    } catch {
      // a stale or foreign Last-Event-ID: start from the request's own cursors
    }
  }
  return out;
}

async function readEpisode(path: string): Promise<EpisodeRecordJson> {
  const raw = JSON.parse(await readFile(path, "utf8")) as unknown;
  const parsed = episodeSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RunDirError(`${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data as unknown as EpisodeRecordJson;
}

/** The colours an environment's PNG/GIF renders use, so the replay looks like the run's pictures. */
export function envStyle(env: string): EnvStyle | null {
  const def = environments[env];
  if (!def) return null;
  const tiles: EnvStyle["tiles"] = {};
  for (const t of def.tiles) tiles[t.char] = { name: t.name, color: [...t.color] as [number, number, number], shape: t.shape };
  return { tiles, agent: { char: def.agent.char, color: [...def.agent.color] as [number, number, number] } };
}

function pipeFile(path: string, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.req.method === "HEAD") {
      res.end();
      resolve();
      return;
    }
    const stream = createReadStream(path);
    stream.on("error", reject);
    res.on("close", () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(res);
  });
}

function sendJson(res: ServerResponse, value: unknown, status = 200): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff" });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

function sendError(res: ServerResponse, err: unknown): void {
  const status = err instanceof HttpError ? err.status : 500;
  const message = err instanceof Error ? err.message : String(err);
  const hint = err instanceof MesaError ? err.hint : undefined;
  if (status === 500 && !(err instanceof MesaError)) process.stderr.write(`mesa serve: ${err instanceof Error && err.stack ? err.stack : message}\n`);
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, { error: message, ...(hint ? { hint } : {}), status }, status);
}
