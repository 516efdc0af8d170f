// `mesa doctor [--json]`: what this machine gives Mesa Lab — Node version, the active kernel backend and why,
// every backend with the reason it is or is not available, thread counts, and whether WebAssembly SIMD and
// threads work (checked by running a product on one and two threads and comparing the results bit for bit).
import type { Command } from "commander";
import { availableParallelism } from "node:os";
import { BlasBackend } from "../core/kernels/blas.js";
import { MesaError } from "../core/errors.js";
import { backendInfo, backendStatuses, getBackend, type BackendInfo, type BackendName } from "../core/kernels/index.js";
import { WASM_PARALLEL_MIN_FLOPS, WasmBackend } from "../core/kernels/wasm.js";
import { Rng } from "../core/rng.js";
import { printJson } from "./output.js";

export interface DoctorReport {
  node: string;
  platform: string;
  cpus: number;
  /** MESA_BACKEND as set in the environment (null when unset) */
  mesaBackendEnv: string | null;
  /** the active backend (null when MESA_BACKEND names one that cannot run; `reason` then says why) */
  kernels: Omit<BackendInfo, "active"> & { active: BackendName | null };
  wasm: {
    simd: boolean;
    /** two threads computed a product and matched one thread bit for bit */
    threads: boolean;
    /** why SIMD or threads do not work (null when both do) */
    problem: string | null;
    /** products smaller than this many flops stay on one thread */
    parallelMinFlops: number;
  };
  blas: { library: string; config: string | null; threadsSettable: boolean } | null;
  /** environment variables that change how the system BLAS runs */
  blasEnv: Record<string, string>;
}

/** Runs a product big enough to be split on 1 and 2 threads; undefined when both agree and the worker helped. */
function checkWasmThreads(wasm: WasmBackend): string | undefined {
  const problem = wasm.startThreads();
  if (problem !== undefined) return problem;
  const rng = new Rng(0, "doctor");
  const [m, n, k] = [256, 256, 512]; // 2·m·n·k = 2^26 flops: at the two-thread threshold
  const a = rng.fillUniform(new Float32Array(m * k), -1, 1) as Float32Array;
  const b = rng.fillUniform(new Float32Array(k * n), -1, 1) as Float32Array;
  const one = new Float32Array(m * n);
  const two = new Float32Array(m * n);
  const threads = wasm.threads;
  try {
    wasm.setThreads(1);
    wasm.matmul(a, b, one, { m, n, k, transA: false, transB: false });
    wasm.setThreads(2);
    const before = wasm.stats.workerChunks;
    for (let attempt = 0; attempt < 50 && wasm.stats.workerChunks === before; attempt++) {
      wasm.matmul(a, b, two, { m, n, k, transA: false, transB: false });
      for (let i = 0; i < one.length; i++) if (one[i] !== two[i]) return "two threads gave a different result than one";
    }
    if (wasm.stats.workerChunks === before) return "the worker thread never took part in a product (machine busy?)";
  } finally {
    wasm.setThreads(threads);
  }
  return undefined;
}

export function doctorReport(): DoctorReport {
  let kernels: DoctorReport["kernels"];
  try {
    kernels = backendInfo();
  } catch (err) {
    // a bad MESA_BACKEND is exactly what doctor should explain, not die on
    if (!(err instanceof MesaError)) throw err;
    kernels = { active: null, reason: `${err.message}${err.hint ? ` (${err.hint})` : ""}`, backends: backendStatuses() };
  }
  let wasm: DoctorReport["wasm"];
  try {
    const backend = getBackend("wasm") as WasmBackend;
    const problem = checkWasmThreads(backend);
    wasm = { simd: true, threads: problem === undefined, problem: problem ?? null, parallelMinFlops: WASM_PARALLEL_MIN_FLOPS };
  } catch (err) {
    wasm = { simd: false, threads: false, problem: (err as Error).message, parallelMinFlops: WASM_PARALLEL_MIN_FLOPS };
  }
  let blas: DoctorReport["blas"] = null;
  if (kernels.backends.some((b) => b.name === "blas" && b.available)) {
    const backend = getBackend("blas") as BlasBackend;
    blas = { library: backend.library, config: backend.config ?? null, threadsSettable: backend.threadsSettable };
  }
  const blasEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && /^(OPENBLAS_|OMP_NUM_THREADS$|MKL_|BLIS_|MESA_BLAS_LIB$)/.test(key)) blasEnv[key] = value;
  }
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: availableParallelism(),
    mesaBackendEnv: process.env.MESA_BACKEND ?? null,
    kernels,
    wasm,
    blas,
    blasEnv,
  };
}

export function register(program: Command): void {
  program
    .command("doctor")
    .description("show the Node version, the active kernel backend and why, and whether WebAssembly SIMD, threads and a system BLAS work")
    .option("--json", "print one JSON object")
    .action((options: { json?: boolean }) => {
      const report = doctorReport();
      if (options.json) {
        printJson(report);
        return;
      }
      const lines = [
        `node ${report.node} on ${report.platform}, ${report.cpus} CPUs`,
        `active kernel backend: ${report.kernels.active ?? "none"} — ${report.kernels.reason}`,
        ...report.kernels.backends.map((b) =>
          `  ${b.name.padEnd(4)}  ${b.available ? `available, ${b.threads} thread${b.threads === 1 ? "" : "s"}` : "unavailable"} — ${b.detail}`),
        `wasm SIMD: ${report.wasm.simd ? "works" : "no"}; wasm threads: ${report.wasm.threads ? "work (2 threads match 1 bit for bit)" : "no"}` +
          (report.wasm.problem ? ` — ${report.wasm.problem}` : ""),
      ];
      if (report.blas) lines.push(`blas: ${report.blas.library}${report.blas.config ? ` (${report.blas.config})` : ""}${report.blas.threadsSettable ? "" : ", thread count not settable"}`);
      const env = Object.entries(report.blasEnv);
      if (env.length > 0) lines.push(`BLAS environment: ${env.map(([k, v]) => `${k}=${v}`).join(" ")}`);
      if (report.mesaBackendEnv) lines.push(`MESA_BACKEND=${report.mesaBackendEnv}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
