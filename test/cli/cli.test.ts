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
