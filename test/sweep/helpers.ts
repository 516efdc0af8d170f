// Shared by the sweep tests: the built `mesa` binary run as a user runs it, spec files, and process checks.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";

export const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));

/** Runs `mesa ARGS` in `cwd` to completion. */
export function mesa(cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Writes `<dir>/<name>.yaml` holding the spec (with its name) and returns its path. */
export function writeSpec(dir: string, name: string, spec: Record<string, unknown>): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, stringify({ name, ...spec }));
  return path;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `probe` every 50 ms until it returns a value, or fails after `timeoutMs`. */
export async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
