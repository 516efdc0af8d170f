// Backend selection: MESA_BACKEND overrides, a bad name is a ConfigError, setBackend switches, and a process
// that used the two-thread wasm kernels still exits on its own.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../../../src/core/errors.js";

type IndexModule = typeof import("../../../src/core/kernels/index.js");

/** A fresh copy of the selection module (it caches its choice), with MESA_BACKEND set to `value`. */
async function freshIndex(value: string | undefined): Promise<IndexModule> {
  if (value === undefined) delete process.env.MESA_BACKEND;
  else process.env.MESA_BACKEND = value;
  vi.resetModules();
  return import("../../../src/core/kernels/index.js");
}

describe("kernel backend selection", () => {
  const saved = process.env.MESA_BACKEND;
  afterEach(() => {
    if (saved === undefined) delete process.env.MESA_BACKEND;
    else process.env.MESA_BACKEND = saved;
  });

  it("picks blas when a CBLAS loads, else wasm, and says why", async () => {
    const index = await freshIndex(undefined);
    const info = index.backendInfo();
    const blasReason = index.backendUnavailable("blas");
    expect(info.active).toBe(blasReason === undefined ? "blas" : "wasm");
    expect(info.reason).toMatch(blasReason === undefined ? /CBLAS was found/ : /no system CBLAS/);
    expect(info.backends.map((b) => b.name)).toEqual(["blas", "wasm", "js"]);
    expect(info.backends.find((b) => b.name === "js")).toMatchObject({ available: true, threads: 1 });
  });

  it("follows MESA_BACKEND and rejects names that are not backends", async () => {
    let index = await freshIndex("js");
    expect(index.kernels().name).toBe("js");
    expect(index.backendInfo().reason).toBe("MESA_BACKEND=js");
    index = await freshIndex("wasm");
    expect(index.kernels().name).toBe("wasm");
    index = await freshIndex("cuda");
    // (a fresh module graph has its own ConfigError class, so compare by name and exit code)
    expect(() => index.kernels()).toThrow(expect.objectContaining({ name: ConfigError.name, exitCode: 2 }));
    expect(() => index.kernels()).toThrow(/MESA_BACKEND=cuda is not a kernel backend/);
  });

  it("switches with setBackend", async () => {
    const index = await freshIndex(undefined);
    expect(index.setBackend("js").name).toBe("js");
    expect(index.kernels().name).toBe("js");
    expect(index.backendInfo().reason).toMatch(/setBackend/);
    expect(index.setBackend("wasm").name).toBe("wasm");
    expect(index.kernels().name).toBe("wasm");
  });
});

describe("wasm worker thread", () => {
  it("does not keep a process alive after a two-thread product", () => {
    const built = fileURLToPath(new URL("../../../dist/src/core/kernels/wasm.js", import.meta.url));
    expect(existsSync(built), "dist/ is missing: run `npm run build` (npm test does)").toBe(true);
    const script = `
      const { WasmBackend } = await import(${JSON.stringify(built)});
      const w = new WasmBackend({ threads: 2, parallelMinFlops: 0 });
      const n = 256, a = new Float32Array(n * n).fill(1), c = new Float32Array(n * n);
      for (let i = 0; i < 20; i++) w.matmul(a, a, c, { m: n, n, k: n, transA: false, transB: false });
      if (c[0] !== n) throw new Error("wrong result " + c[0]);
      console.log("ok", w.stats.parallelCalls);
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("ok 20");
  });
});
