// Runs the built `mesa` binary as a user would.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));

export function mesa(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("mesa binary", () => {
  it("prints help listing its commands", () => {
    const r = mesa("--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Usage: mesa");
    expect(r.stdout).toContain("demo");
  });

  it("prints its version", () => {
    const r = mesa("--version");
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("rejects an unknown command with exit code 2 and a hint, no stack trace", () => {
    const r = mesa("no-such-command");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command");
    expect(r.stderr).toContain("hint:");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("mesa inspect", () => {
  const fixture = fileURLToPath(new URL("../fixtures/torch_linear.safetensors", import.meta.url));

  it("prints a table of tensors with statistics and the metadata", () => {
    const r = mesa("inspect", fixture);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("2 tensors, 8 values");
    expect(r.stdout).toMatch(/^weight\s+F32\s+\[2, 3\]\s+6\s+-?\d/m);
    expect(r.stdout).toMatch(/^bias\s+F32\s+\[2\]\s+2\s+/m);
    expect(r.stdout).toContain("model: Linear(3, 2)");
  });

  it("prints exactly one JSON object with --json", () => {
    const r = mesa("inspect", fixture, "--json");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { tensorCount: number; metadata: Record<string, string>; tensors: { name: string; shape: number[]; numel: number; min: number; max: number }[] };
    expect(out.tensorCount).toBe(2);
    expect(out.metadata).toEqual({ format: "pt", model: "Linear(3, 2)" });
    const weight = out.tensors.find((t) => t.name === "weight")!;
    expect(weight).toMatchObject({ shape: [2, 3], numel: 6 });
    // nn.Linear(3, 2) initialises weights in U(-1/sqrt(3), 1/sqrt(3))
    expect(weight.min).toBeGreaterThanOrEqual(-1 / Math.sqrt(3));
    expect(weight.max).toBeLessThanOrEqual(1 / Math.sqrt(3));
  });

  it("fails clearly, with exit code 1 and no stack trace, on a file that is not safetensors", () => {
    const notTensors = fileURLToPath(new URL("../fixtures/expected.json", import.meta.url));
    const r = mesa("inspect", notTensors);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("expected.json");
    expect(r.stderr).toContain("not a safetensors file");
    expect(r.stderr).toContain("hint:");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const missing = mesa("inspect", "no/such/file.safetensors");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("no/such/file.safetensors: no such file");
  });
});
