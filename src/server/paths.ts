// Confines every file the dashboard server reads to the runs folder: relative paths only, no `..`, no hidden
// files, and no symlink whose target leaves the folder (checked on the resolved real path).
import { realpathSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { isAbsolute, join, sep } from "node:path";
import { MesaError } from "../core/errors.js";

/** An error with the HTTP status the API answers with; the message says what was wrong. */
export class HttpError extends MesaError {
  constructor(
    readonly status: number,
    message: string,
    hint?: string,
  ) {
    super(message, hint);
  }
}

/** The real path of the runs folder (symlinks resolved), so containment checks compare like with like. */
export function realRoot(root: string): string {
  return realpathSync(root);
}

/** True when `real` is `rootReal` itself or lies under it. */
export function isInside(rootReal: string, real: string): boolean {
  return real === rootReal || real.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
}

/**
 * Splits a client-supplied relative path (`/`-separated, already URL-decoded) into checked segments.
 * Rejects absolute paths, `..` and `.` segments, empty segments, backslashes, NUL and hidden names.
 */
export function checkRelativePath(rel: string): string[] {
  if (rel.includes("\0")) throw new HttpError(400, "the path contains a NUL byte");
  if (rel.includes("\\")) throw new HttpError(400, `the path ${JSON.stringify(rel)} contains a backslash`, "use / between folder names");
  if (rel.startsWith("/") || isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) {
    throw new HttpError(403, `absolute paths are not served: ${JSON.stringify(rel)}`, "ask for a path relative to the runs folder");
  }
  const segments = rel.split("/");
  for (const s of segments) {
    if (s === "..") throw new HttpError(403, `the path ${JSON.stringify(rel)} climbs out with ".."`, "ask for a path inside the runs folder");
    if (s === "" || s === ".") throw new HttpError(400, `the path ${JSON.stringify(rel)} has an empty or "." segment`);
    if (s.startsWith(".")) throw new HttpError(403, `hidden files are not served: ${JSON.stringify(rel)}`);
  }
  return segments;
}

/**
 * Resolves a relative path under the runs folder to its real path. 404 when it does not exist, 403 when a
 * symlink on the way leads outside the folder.
 */
export async function resolveInside(rootReal: string, rel: string): Promise<string> {
  const segments = checkRelativePath(rel);
  let real: string;
  try {
    real = await realpath(join(rootReal, ...segments));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new HttpError(404, `no such file in the runs folder: ${rel}`);
    throw new HttpError(500, `cannot resolve ${rel} (${code ?? (err as Error).message})`);
  }
  if (!isInside(rootReal, real)) throw new HttpError(403, `${rel} leads outside the runs folder (a symlink)`, "only files inside the runs folder are served");
  return real;
}
