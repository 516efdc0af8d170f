// The sweep folder: one mesa sweep per folder at a time (the run-directory lock, whose takeover of a dead holder's
// lock test/io/runlock.test.ts covers), and a damaged sweep.json is an error naming the file rather than a silent
// fresh start that would forget finished jobs.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RunDirError } from "../../src/core/errors.js";
import { acquireRunLock } from "../../src/io/rundir.js";
import { readSweepRecord, recordedRunDir, runDirPath } from "../../src/sweep/folder.js";
import { mesa, writeSpec } from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "mesa-sweep-folder-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("sweep folder", () => {
  it("is refused to a second mesa sweep while another process holds it, naming the holder", () => {
    const dir = join(root, "held");
    mkdirSync(dir, { recursive: true });
    const lock = acquireRunLock(dir, "mesa sweep held.yaml");
    try {
      const spec = writeSpec(root, "held", { command: "train", base: { env: "points-bug", ppo: { totalTimesteps: 1024, numEnvs: 8 } }, seeds: 1 });
      const r = mesa(root, "sweep", spec, "--workers", "1", "--out", dir);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`${dir} is in use: locked by PID ${process.pid}`);
      expect(r.stderr).toContain("mesa sweep held.yaml");
      expect(existsSync(join(dir, "sweep.json"))).toBe(false);
    } finally {
      lock.release();
    }
  });

  it("reports a damaged or foreign sweep.json instead of starting afresh", () => {
    expect(readSweepRecord(join(root, "nothing-here"))).toBeUndefined();
    writeFileSync(join(root, "sweep.json"), "{ not json");
    expect(() => readSweepRecord(root)).toThrow(RunDirError);
    writeFileSync(join(root, "sweep.json"), JSON.stringify({ format: "something-else" }));
    expect(() => readSweepRecord(root)).toThrow(/not a mesa sweep record \(format/);
  });

  it("records run directories relative to the folder when inside it", () => {
    expect(recordedRunDir("/a/sweep", "/a/sweep/runs/x")).toBe("runs/x");
    expect(recordedRunDir("/a/sweep", "/elsewhere/x")).toBe("/elsewhere/x");
    expect(runDirPath("/a/sweep", "runs/x")).toBe("/a/sweep/runs/x");
  });
});
