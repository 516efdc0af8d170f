// The sweep folder: one mesa sweep per folder at a time (a stale lock is taken over), and a damaged sweep.json is
// an error naming the file rather than a silent fresh start that would forget finished jobs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RunDirError } from "../../src/core/errors.js";
import { lockSweepFolder, readSweepRecord, recordedRunDir, runDirPath } from "../../src/sweep/folder.js";

const root = mkdtempSync(join(tmpdir(), "mesa-sweep-folder-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("sweep folder", () => {
  it("lets one process hold a folder, names the holder to the next, and takes over a dead holder's lock", () => {
    const release = lockSweepFolder(root);
    expect(() => lockSweepFolder(root)).toThrow(new RegExp(`another mesa sweep \\(pid ${process.pid}\\) is running this sweep`));
    release();
    const again = lockSweepFolder(root);
    again();

    // a lock left by a process that no longer exists (pid 2^22 + 1 is above Linux's pid limit)
    writeFileSync(join(root, ".sweep.lock"), `${hostname()} ${2 ** 22 + 1}\n`);
    const taken = lockSweepFolder(root);
    expect(readFileSync(join(root, ".sweep.lock"), "utf8").trim()).toBe(`${hostname()} ${process.pid}`);
    taken();
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
