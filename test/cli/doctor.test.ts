// `mesa doctor`: reports the backends and stays useful when MESA_BACKEND is wrong.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));

function doctor(env: Record<string, string | undefined>): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [bin, "doctor", "--json"], { encoding: "utf8", env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout };
}

describe("mesa doctor", () => {
  it("prints the active backend, every backend's status and a working wasm", () => {
    const r = doctor({ MESA_BACKEND: "wasm" });
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.node).toBe(process.version);
    expect(report.kernels.active).toBe("wasm");
    expect(report.kernels.reason).toBe("MESA_BACKEND=wasm");
    expect(report.kernels.backends.map((b: { name: string }) => b.name)).toEqual(["blas", "wasm", "js"]);
    expect(report.wasm.simd).toBe(true);
    expect(typeof report.wasm.threads).toBe("boolean");
  });

  it("explains a MESA_BACKEND that names no backend instead of failing", () => {
    const r = doctor({ MESA_BACKEND: "cuda" });
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.kernels.active).toBeNull();
    expect(report.kernels.reason).toMatch(/MESA_BACKEND=cuda is not a kernel backend/);
  });
});
