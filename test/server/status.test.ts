// The dashboard shows a run killed with -9 (summary still "running", its lock naming a dead process) as
// interrupted, and a run whose lock holder lives, or that has no lock file at all, as its summary says.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RUN_LOCK_FILE } from "../../src/io/rundir.js";
import { runStatus } from "../../src/server/catalog.js";

const dir = mkdtempSync(join(tmpdir(), "mesa-status-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lock = (pid: number): void => writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify({ pid, host: hostname(), command: "mesa train", since: "x", procStart: null, bootId: null }));

describe("run status in the dashboard", () => {
  it("is interrupted for a running run whose lock holder is gone", () => {
    expect(runStatus("running", dir)).toBe("running"); // no lock file: a writer we know nothing about
    lock(process.pid);
    expect(runStatus("running", dir)).toBe("running");
    const dead = Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);
    lock(dead);
    expect(runStatus("running", dir)).toBe("interrupted");
    expect(runStatus("interrupted", dir)).toBe("interrupted");
    expect(runStatus("finished", dir)).toBe("finished");
    expect(runStatus(undefined, dir)).toBe("unknown");
  });
});
