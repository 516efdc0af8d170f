// Reading the JSON files mesa writes (run summaries, experiment records, job results) with errors that name the
// file and say what to do, and the "this folder was started with these settings" record that lets a resumed
// experiment refuse to mix results made with other settings.
import { existsSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError, RunDirError } from "../core/errors.js";
import { writeJsonAtomic } from "./atomic.js";

/** What to tell the user when the file is missing and when it is not the JSON object expected. */
export interface JsonFileHints {
  missing: string;
  damaged: string;
}

/** The parsed JSON in `path` (any value), or a RunDirError naming the file: missing, unreadable or not JSON. */
export function readJsonValue(path: string, hints: JsonFileHints): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new RunDirError(`${path}: missing`, hints.missing);
    throw new RunDirError(`${path}: cannot read (${code ?? (err as Error).message})`, hints.damaged);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RunDirError(`${path}: not valid JSON (${(err as Error).message})`, hints.damaged);
  }
}

/** The JSON object in `path`, or a RunDirError naming the file and what it holds instead. */
export function readJsonObject(path: string, hints: JsonFileHints): Record<string, unknown> {
  const value = readJsonValue(path, hints);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new RunDirError(`${path}: expected a JSON object, got ${Array.isArray(value) ? "an array" : JSON.stringify(value)}`, hints.damaged);
  }
  return value as Record<string, unknown>;
}

/**
 * Records the settings an output folder's experiment runs with in `file` (atomically), after checking them
 * against the ones recorded by an earlier run of the same folder: a resumed experiment must be the same experiment,
 * or its results would not be comparable. Only `keys` are compared (others, such as a growing seed count, may
 * change); a difference is a ConfigError naming the fields that differ.
 */
export function recordFolderSettings(file: string, settings: Record<string, unknown>, keys: readonly string[], what: string): void {
  if (existsSync(file)) {
    const before = readJsonObject(file, { missing: "", damaged: `the folder's record of its settings is damaged; delete ${file} only if you know the folder's results were made with the settings you pass, or use another --out` });
    const differs = keys.filter((k) => JSON.stringify(before[k] ?? null) !== JSON.stringify(settings[k] ?? null));
    if (differs.length > 0) {
      throw new ConfigError(`${dirname(file)} holds ${what} with other settings (${differs.map((k) => `${k}: ${JSON.stringify(before[k] ?? null)} there, ${JSON.stringify(settings[k] ?? null)} now`).join("; ")})`, "pass another --out, or the same settings to continue it");
    }
  }
  writeJsonAtomic(file, settings);
}
