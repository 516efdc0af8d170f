// What the runs folder holds, found by walking it: run directories (summary.json / metrics.jsonl, however deep —
// `mesa experiment` nests its runs) and results folders (any other folder with files: results.json, plots,
// sweep tables). Every file the dashboard can show is listed as an artifact; symlinks leaving the folder are
// skipped, never followed.
import type { Dirent } from "node:fs";
import { open, readdir, readFile, realpath, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { parseRunDirName, readRunLock } from "../io/rundir.js";
import { isInside } from "./paths.js";
import type { Artifact, ArtifactKind, ResultsInfo, RunInfo, RunsResponse } from "./types.js";

/** Files every run has, shown by their own views rather than as artifacts. */
const RUN_FILES = new Set(["config.json", "summary.json", "metrics.jsonl"]);
/** Folders whose contents are not for people to look at (weights). */
const SKIPPED_DIRS = new Set(["checkpoints", "node_modules"]);
const IMAGE_EXT = new Set([".png", ".svg", ".gif", ".jpg", ".jpeg", ".webp"]);
const TEXT_EXT = new Set([".md", ".txt", ".csv", ".tsv", ".yaml", ".yml", ".log", ".html"]);
/** How deep the walk goes below the runs folder, and how many folders it visits at most. */
const MAX_DEPTH = 8;
const MAX_DIRS = 20_000;
/** The tail of metrics.jsonl read for a run's last record. */
const TAIL_BYTES = 64 * 1024;

interface TailCache {
  size: number;
  mtimeMs: number;
  last: Record<string, number | null> | null;
}

export class Catalog {
  private readonly tails = new Map<string, TailCache>();

  constructor(
    /** the runs folder's real path */
    readonly rootReal: string,
  ) {}

  /** Walks the runs folder. Runs are listed newest first. */
  async scan(): Promise<RunsResponse> {
    const runs: RunInfo[] = [];
    const results: ResultsInfo[] = [];
    const visited = new Set<string>();
    let dirs = 0;

    // inRun: a folder inside a run (episodes/, plots/): its files belong to the run, unless it holds runs itself
    const visit = async (real: string, rel: string, depth: number, parent: string | null, inRun: boolean): Promise<{ artifacts: Artifact[]; runIds: string[] }> => {
      if (visited.has(real) || dirs >= MAX_DIRS) return { artifacts: [], runIds: [] };
      visited.add(real);
      dirs++;
      let entries: Dirent[];
      try {
        entries = await readdir(real, { withFileTypes: true });
      } catch {
        return { artifacts: [], runIds: [] };
      }
      const files: { name: string; real: string }[] = [];
      const subdirs: { name: string; real: string }[] = [];
      for (const e of entries) {
        if (e.name.startsWith(".")) continue;
        let target = join(real, e.name);
        let isDir = e.isDirectory();
        let isFile = e.isFile();
        if (e.isSymbolicLink()) {
          try {
            target = await realpath(target);
            if (!isInside(this.rootReal, target)) continue; // leaves the runs folder: never followed
            const st = await stat(target);
            isDir = st.isDirectory();
            isFile = st.isFile();
          } catch {
            continue; // dangling
          }
        }
        if (isDir && !SKIPPED_DIRS.has(e.name)) subdirs.push({ name: e.name, real: target });
        else if (isFile) files.push({ name: e.name, real: target });
      }
      const isRun = files.some((f) => f.name === "summary.json" || f.name === "metrics.jsonl");
      const childRel = (name: string): string => (rel === "" ? name : `${rel}/${name}`);

      if (isRun) {
        const artifacts = await this.artifacts(files.filter((f) => !RUN_FILES.has(f.name)), rel);
        const runIds: string[] = [rel];
        for (const d of subdirs) {
          if (depth >= MAX_DEPTH) break;
          const inner = await visit(d.real, childRel(d.name), depth + 1, rel, true);
          runIds.push(...inner.runIds);
          artifacts.push(...inner.artifacts.map((a) => ({ ...a, name: `${d.name}/${a.name}` })));
        }
        runs.push(await this.runInfo(real, rel, files, artifacts, parent));
        return { artifacts: [], runIds };
      }

      const own = await this.artifacts(files, rel);
      const runIds: string[] = [];
      // a folder with files of its own is the parent of the runs below it; a plain folder passes its parent on
      const here = own.length > 0 && !inRun ? rel : parent;
      for (const d of subdirs) {
        if (depth >= MAX_DEPTH) break;
        const inner = await visit(d.real, childRel(d.name), depth + 1, here, inRun);
        runIds.push(...inner.runIds);
        own.push(...inner.artifacts.map((a) => ({ ...a, name: `${d.name}/${a.name}` })));
      }
      if (inRun && runIds.length === 0) return { artifacts: own, runIds };
      if (own.length > 0) {
        const updatedMs = Math.max(0, ...own.map((a) => a.mtimeMs));
        results.push({ id: rel, name: rel === "" ? "(runs folder)" : basename(rel), artifacts: own, runs: runIds, updatedMs, parent });
      }
      return { artifacts: [], runIds };
    };

    await visit(this.rootReal, "", 0, null, false);
    runs.sort((a, b) => b.updatedMs - a.updatedMs || (a.id < b.id ? -1 : 1));
    results.sort((a, b) => b.updatedMs - a.updatedMs || (a.id < b.id ? -1 : 1));
    return { root: this.rootReal, runs, results };
  }

  private async artifacts(files: { name: string; real: string }[], rel: string): Promise<Artifact[]> {
    const out: Artifact[] = [];
    const inEpisodes = basename(rel) === "episodes";
    for (const f of files) {
      const kind = artifactKind(f.name, inEpisodes);
      if (kind === null) continue;
      try {
        const st = await stat(f.real);
        out.push({ path: rel === "" ? f.name : `${rel}/${f.name}`, name: f.name, kind, bytes: st.size, mtimeMs: st.mtimeMs });
      } catch {
        // vanished while listing
      }
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  private async runInfo(real: string, rel: string, files: { name: string; real: string }[], artifacts: Artifact[], parent: string | null): Promise<RunInfo> {
    const name = rel === "" ? basename(this.rootReal) : basename(rel);
    const problems: string[] = [];
    const fromName = parseRunDirName(name);
    const summary = await readJsonObject(join(real, "summary.json"), "summary.json", problems, files.some((f) => f.name === "summary.json"));
    const config = await readJsonObject(join(real, "config.json"), "config.json", problems, files.some((f) => f.name === "config.json"));
    const text = (v: unknown): string | null => (typeof v === "string" ? v : null);
    const status = summary?.status;
    let updatedMs = 0;
    for (const f of ["summary.json", "metrics.jsonl"]) {
      try {
        updatedMs = Math.max(updatedMs, (await stat(join(real, f))).mtimeMs);
      } catch {
        // absent
      }
    }
    const seed = typeof summary?.seed === "number" ? summary.seed : (fromName?.seed ?? null);
    return {
      id: rel,
      name,
      env: text(summary?.env) ?? text(config?.env) ?? fromName?.env ?? null,
      exp: text(summary?.exp) ?? fromName?.exp ?? null,
      seed,
      distribution: text(config?.distribution),
      model: text(config?.model),
      status: runStatus(status, real),
      startedAt: text(summary?.startedAt),
      last: await this.lastRecord(join(real, "metrics.jsonl")),
      updatedMs,
      summary,
      artifacts,
      parent,
      problems,
    };
  }

  /** The last complete line of metrics.jsonl, read from its tail (cached until the file changes). */
  private async lastRecord(path: string): Promise<Record<string, number | null> | null> {
    let size: number;
    let mtimeMs: number;
    try {
      const st = await stat(path);
      size = st.size;
      mtimeMs = st.mtimeMs;
    } catch {
      return null;
    }
    const cached = this.tails.get(path);
    if (cached && cached.size === size && cached.mtimeMs === mtimeMs) return cached.last;
    const start = Math.max(0, size - TAIL_BYTES);
    const buffer = Buffer.alloc(size - start);
    const handle = await open(path, "r");
    try {
      await handle.read(buffer, 0, buffer.length, start);
    } finally {
      await handle.close();
    }
    const lines = buffer.toString("utf8").split("\n");
    lines.pop(); // after the last newline: empty, or a line still being written
    let last: Record<string, number | null> | null = null;
    for (let i = lines.length - 1; i >= 0 && last === null; i--) {
      try {
        const v = JSON.parse(lines[i]!) as unknown;
        if (v !== null && typeof v === "object" && !Array.isArray(v)) last = v as Record<string, number | null>;
      } catch {
        // a damaged line (or the cut first line of the tail): look further back
      }
    }
    this.tails.set(path, { size, mtimeMs, last });
    return last;
  }
}

function artifactKind(name: string, inEpisodes: boolean): ArtifactKind | null {
  const ext = extname(name).toLowerCase();
  if (IMAGE_EXT.has(ext)) return "image";
  if (ext === ".json") return inEpisodes ? "episode" : "json";
  if (TEXT_EXT.has(ext)) return "text";
  return null;
}

async function readJsonObject(path: string, label: string, problems: string[], exists: boolean): Promise<Record<string, unknown> | null> {
  if (!exists) return null;
  try {
    const v = JSON.parse(await readFile(path, "utf8")) as unknown;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
    problems.push(`${label} is not a JSON object`);
  } catch (err) {
    problems.push(`${label}: ${(err as Error).message}`);
  }
  return null;
}

/**
 * The status to show: summary.json's, except that a run which says "running" while its lock file names a process
 * that is gone was killed (kill -9, a crash, a reboot) and is shown as interrupted.
 */
export function runStatus(summaryStatus: unknown, runDir: string): RunInfo["status"] {
  if (summaryStatus === "running") return readRunLock(runDir)?.state === "dead" ? "interrupted" : "running";
  return summaryStatus === "finished" || summaryStatus === "failed" || summaryStatus === "interrupted" ? summaryStatus : "unknown";
}
