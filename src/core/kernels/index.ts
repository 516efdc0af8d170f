// Chooses the kernel backend every tensor op runs on: `blas` when a system CBLAS loads, else `wasm`, else `js`;
// MESA_BACKEND=js|wasm|blas overrides. Backends are loaded lazily and once; backendInfo() says which one is
// active, why, and what else is available (shown by `mesa doctor`).
import { ConfigError } from "../errors.js";
import { setResidentMemory } from "../pool.js";
import { BlasBackend, type Lapack } from "./blas.js";
import { JsBackend } from "./js.js";
import type { BackendName, KernelBackend } from "./types.js";
import { WasmBackend } from "./wasm.js";

export type { Lapack } from "./blas.js";
export type { BackendName, Conv2dArgs, Conv2dGrads, KernelBackend, MatmulArgs } from "./types.js";

export const BACKEND_NAMES: readonly BackendName[] = ["blas", "wasm", "js"];

/** Whether a backend can run here, and if not, why. */
export interface BackendStatus {
  name: BackendName;
  available: boolean;
  /** why it is unavailable, or what it runs on when available */
  detail: string;
  /** threads it computes large kernels on (available backends only) */
  threads?: number;
}

export interface BackendInfo {
  active: BackendName;
  /** why this backend is the active one */
  reason: string;
  backends: BackendStatus[];
}

const loaded = new Map<BackendName, KernelBackend | Error>();
let active: { backend: KernelBackend; reason: string } | undefined;

function load(name: BackendName): KernelBackend | Error {
  let b = loaded.get(name);
  if (b === undefined) {
    try {
      if (name === "blas") {
        const blas = BlasBackend.load();
        // convolutions: the wasm kernels when they load (one instance shared with the wasm backend), else js
        const wasm = load("wasm");
        if (!(wasm instanceof Error)) {
          blas.convolutionBackend = wasm;
          if (wasm instanceof WasmBackend) blas.hostFor(wasm); // tells the wasm worker, before anything starts it, how to load the same GEMM
        }
        b = blas;
      } else {
        if (name === "js") b = new JsBackend();
        else {
          const wasm = new WasmBackend();
          // transient activations live in its memory from now on, whichever backend is active
          setResidentMemory(wasm);
          b = wasm;
        }
      }
    } catch (err) {
      b = err instanceof Error ? err : new Error(String(err));
    }
    loaded.set(name, b);
  }
  return b;
}

function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

/** The backend named `name`, or a ConfigError saying why it cannot run here (`source` names who asked). */
export function getBackend(name: BackendName, source = `backend "${name}"`): KernelBackend {
  const b = load(name);
  if (b instanceof Error) {
    throw new ConfigError(
      `${source} asks for the ${name} kernel backend, but it is unavailable: ${b.message}`,
      name === "blas"
        ? "install a CBLAS (Debian/Ubuntu: apt-get install libopenblas0-pthread), or choose MESA_BACKEND=wasm"
        : "run `npm run build` to build the WebAssembly kernels, or choose MESA_BACKEND=js",
    );
  }
  return b;
}

/** Why a backend cannot run here, or undefined when it can. */
export function backendUnavailable(name: BackendName): string | undefined {
  const b = load(name);
  return b instanceof Error ? b.message : undefined;
}

/** The active kernel backend (chosen on first use). */
export function kernels(): KernelBackend {
  if (active !== undefined) return active.backend;
  const requested = typeof process === "undefined" ? undefined : process.env.MESA_BACKEND?.trim();
  if (requested) {
    if (!isBackendName(requested)) {
      throw new ConfigError(`MESA_BACKEND=${requested} is not a kernel backend`, `use one of ${BACKEND_NAMES.join(", ")}, or unset it`);
    }
    active = { backend: getBackend(requested, `MESA_BACKEND=${requested}`), reason: `MESA_BACKEND=${requested}` };
    return active.backend;
  }
  const blas = load("blas");
  if (!(blas instanceof Error)) {
    active = { backend: blas, reason: `a system CBLAS was found (${(blas as BlasBackend).library})` };
    return blas;
  }
  const wasm = load("wasm");
  if (!(wasm instanceof Error)) {
    active = { backend: wasm, reason: `no system CBLAS (${blas.message}); WebAssembly SIMD is the default` };
    return wasm;
  }
  active = { backend: load("js") as KernelBackend, reason: `no system CBLAS and no WebAssembly kernels (${wasm.message})` };
  return active.backend;
}

/**
 * The active backend's float64 LAPACK solves, when it is a BLAS library that has them (OpenBLAS does); undefined
 * under the wasm and js backends, whose callers then solve in TypeScript.
 */
export function lapack(): Lapack | undefined {
  const b = kernels();
  return b instanceof BlasBackend ? b.lapack : undefined;
}

/** Makes `name` the active backend (tests, benchmarks); throws a ConfigError when it is unavailable. */
export function setBackend(name: BackendName): KernelBackend {
  const backend = getBackend(name, `setBackend("${name}")`);
  active = { backend, reason: `set by setBackend("${name}")` };
  return backend;
}

/** Which backend is active and why, and the status of every backend. */
export function backendInfo(): BackendInfo {
  const current = kernels();
  return { active: current.name, reason: active!.reason, backends: backendStatuses() };
}

/** Whether each backend can run here (loading each one, without choosing the active one). */
export function backendStatuses(): BackendStatus[] {
  return BACKEND_NAMES.map((name): BackendStatus => {
    const b = load(name);
    if (b instanceof Error) return { name, available: false, detail: b.message };
    const detail =
      b instanceof BlasBackend ? `${b.library}${b.config ? ` (${b.config})` : ""}; ${b.oneDnnStatus}`
      : b instanceof WasmBackend ? "WebAssembly SIMD (f32x4), worker thread for large products"
      : "plain TypeScript reference";
    return { name, available: true, detail, threads: b.threads };
  });
}
