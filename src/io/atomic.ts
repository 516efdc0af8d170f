// Atomic file writes, and the checks that let a command refuse an unwritable target before it does any work.
// A write goes to a temp file in the same directory, is fsynced, then renamed over the target, so a killed
// process leaves either the old file or the new one, never a half-written one; a write that fails at any
// point removes its temp file. Filesystem errors become IoErrors that say what is wrong in words (read-only
// filesystem, permission denied, a folder where a file was expected, disk full) and name the path.
import { accessSync, closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { IoError } from "../core/errors.js";

let counter = 0;

/** The temp file a write of `path` uses (hidden, next to it, unique per process and write). */
function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${counter++}.tmp`);
}

/**
 * Writes `data` to `path` atomically (temp file + fsync + rename). Creates the parent directory. On any failure
 * the temp file is removed and an IoError names `path` and the reason.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw fsError(err, dir, "create the folder");
  }
  const tmp = tempPathFor(path);
  let fd: number;
  try {
    fd = openSync(tmp, "wx");
  } catch (err) {
    throw fsError(err, path, "write");
  }
  try {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw fsError(err, path, "write");
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw fsError(err, path, "write");
  }
  syncDirectory(dir);
}

/** Writes JSON (2-space indented, trailing newline) atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** fsyncs a directory so a rename in it survives a power cut (best effort: not every platform allows it). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Windows and some filesystems cannot open or fsync a directory; the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** True for temp files left by writeFileAtomic (when a process was killed between write and rename). */
export function isAtomicTempFile(name: string): boolean {
  return /^\..+\.\d+\.\d+\.tmp$/.test(name);
}

/**
 * An IoError for a failed filesystem call on `path`, in words: what is wrong and how to fix it.
 * `action` says what was being done ("write", "create the folder", "read").
 */
export function fsError(err: unknown, path: string, action: string, label = path): IoError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "EROFS":
      return new IoError(`${label}: read-only filesystem, cannot ${action}`, "choose a folder on a writable filesystem");
    case "EACCES":
    case "EPERM":
      return new IoError(`${label}: permission denied, cannot ${action}`, "choose a folder you can write to, or change its permissions");
    case "EISDIR":
      return new IoError(`${label} is a folder, cannot ${action} a file there`, "give a file path (inside that folder, or elsewhere) instead");
    case "ENOTDIR":
      return new IoError(`${label}: part of the path is a file, not a folder; cannot ${action}`, "check the path for a file name used as a folder");
    case "ENOSPC":
    case "EDQUOT":
      return new IoError(`${label}: no space left on the device, cannot ${action}`, "free some disk space or choose another folder");
    case "ENOENT":
      return new IoError(`${label}: no such file or folder, cannot ${action}`, "check the path");
    case "ENAMETOOLONG":
      return new IoError(`${label}: the path is too long`, "choose a shorter path");
    default:
      return new IoError(`${label}: cannot ${action} (${code ?? (err instanceof Error ? err.message : String(err))})`, "check the path and that the disk is writable");
  }
}

/** The nearest existing ancestor of `path` (itself when it exists). */
function nearestExisting(path: string): string {
  let p = resolve(path);
  for (;;) {
    try {
      statSync(p);
      return p;
    } catch {
      const up = dirname(p);
      if (up === p) return p;
      p = up;
    }
  }
}

/** Throws an IoError unless `dir` could be written: checked on the nearest existing ancestor, creating nothing. */
function checkDirWritable(dir: string, label: string, hint: string | undefined): void {
  const existing = nearestExisting(dir);
  const st = statSync(existing);
  if (!st.isDirectory()) {
    throw new IoError(
      existing === resolve(dir) ? `${label} is a file, not a folder` : `${label}: ${existing} is a file, so no folder can be made under it`,
      hint ?? "give a folder path",
    );
  }
  try {
    accessSync(existing, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // "--out /ro/runs: /ro is on a read-only filesystem" when the folder is still to be made under `existing`
    const where = existing === resolve(dir) ? label : `${label}: ${existing}`;
    if (code === "EROFS") throw new IoError(`${where} is on a read-only filesystem`, hint ?? "choose a folder on a writable filesystem");
    throw new IoError(`${where} is not writable (${code === "EACCES" || code === "EPERM" ? "permission denied" : code})`, hint ?? "choose a folder you can write to");
  }
}

/**
 * Checks, before any work, that output folder `dir` exists or can be created and is writable, creating nothing.
 * `label` names it in the user's words (`--out runs`); `hint` replaces the default advice.
 */
export function assertWritableDir(dir: string, label = dir, hint?: string): void {
  checkDirWritable(dir, label, hint);
}

/** Checks, before any work, that the file `path` can be written: not a folder, its folder writable. */
export function assertWritableFile(path: string, label = path, hint?: string): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    st = undefined;
  }
  if (st?.isDirectory()) throw new IoError(`${label} is a folder, not a file`, hint ?? `give a file path, e.g. ${join(path, "out.png")}`);
  checkDirWritable(dirname(resolve(path)), label, hint);
}
