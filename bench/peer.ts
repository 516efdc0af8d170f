// What every comparative benchmark shares: the environment both sides run in (OPENBLAS_CORETYPE and
// OPENBLAS_L2_SIZE removed — this machine pins OpenBLAS to a slower kernel through them — in our own process
// before any BLAS loads, and in every child), and running a PyTorch peer script with Debian's /usr/bin/python3,
// skipped with a clear message when torch is missing.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { BlasBackend } from "../src/core/kernels/blas.js";
import type { KernelBackend } from "../src/core/kernels/types.js";

/** Variables that distort one side; removed for both sides. */
const DISTORTING = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"] as const;

/** Removes the distorting variables from this process (call before the first kernel loads: bench/main.ts does). */
export function cleanOwnEnvironment(): void {
  for (const name of DISTORTING) delete process.env[name];
}

/** This process's environment without the distorting variables, for child processes. */
export function peerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of DISTORTING) delete env[name];
  return env;
}

/** The Python that has Debian's torch and numpy (pyenv shims on PATH may not). */
export const PYTHON = "/usr/bin/python3";

/** Why `module` cannot be imported by the peers' Python (and which Debian package to install), or undefined when it can. */
export function pythonModuleMissing(module: string, debianPackage: string): string | undefined {
  const probe = spawnSync(PYTHON, ["-c", `import ${module}`], { encoding: "utf8", env: peerEnv() });
  if (probe.error || probe.status !== 0) {
    return `${PYTHON} cannot import ${module} (${probe.error?.message ?? probe.stderr.trim().split("\n").pop()}); install ${debianPackage} (Debian)`;
  }
  return undefined;
}

/** Why torch cannot be used here, or undefined when it can. */
export function torchMissing(): string | undefined {
  return pythonModuleMissing("torch", "python3-torch");
}

/** Runs bench/peers/<script> with args and parses its one JSON line; a failure becomes { skipped }. */
export function runPeer<T>(script: string, args: readonly string[]): T | { skipped: string } {
  const path = fileURLToPath(new URL(`../../bench/peers/${script}`, import.meta.url));
  const r = spawnSync(PYTHON, [path, ...args], { encoding: "utf8", env: peerEnv(), maxBuffer: 64 << 20 });
  if (r.error) return { skipped: `${script} could not run: ${r.error.message}` };
  if (r.status !== 0) return { skipped: `the PyTorch peer ${script} failed (exit ${r.status}): ${r.stderr.trim().split("\n").slice(-3).join(" | ")}` };
  return JSON.parse(r.stdout) as T;
}

/** Median of a list of numbers (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Linear-interpolated quantile q ∈ [0, 1] (NaN when empty). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** What a backend's convolutions run on (blas: oneDNN when the system has it; MESA_ONEDNN=0 turns it off). */
export function convolutionsOf(k: KernelBackend): string {
  return k instanceof BlasBackend ? k.oneDnnStatus : `convolutions: the ${k.name} kernels`;
}
