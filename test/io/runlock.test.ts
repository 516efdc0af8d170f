// Run locks and failed writes: one writer per run directory (the holder named, stale locks from dead processes or
// reused PIDs taken over, no lock file ever half-written), atomic writes that leave nothing behind when they fail,
// checkpoint retention, and up-front checks of output targets.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IoError, RunDirError, RunLockedError } from "../../src/core/errors.js";
import { assertWritableDir, assertWritableFile, writeFileAtomic } from "../../src/io/atomic.js";
import { RUN_LOCK_FILE, RunDir, acquireRunLock, readRunLock } from "../../src/io/rundir.js";
import { thrown } from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "mesa-lock-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const newRun = (): RunDir => RunDir.create(join(root, `case${counter++}`), { env: "points-bug", exp: "ppo", seed: 1, config: {} });

/** The PID of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

describe("the run lock", () => {
  it("is a JSON file naming this process, refused to a second writer with a message naming the holder", () => {
    const run = newRun();
    const lock = JSON.parse(readFileSync(join(run.path, RUN_LOCK_FILE), "utf8")) as { pid: number; host: string; command: string };
    expect(lock.pid).toBe(process.pid);
    expect(lock.host).toBe(hostname());
    expect(run.locked).toBe(true);
    const err = thrown(() => RunDir.open(run.path, undefined, { lock: "second writer" }));
    expect(err).toBeInstanceOf(RunLockedError);
    expect(err.message).toContain(`PID ${process.pid}`);
    run.release();
    expect(existsSync(join(run.path, RUN_LOCK_FILE))).toBe(false);
    const again = RunDir.open(run.path, undefined, { lock: "second writer" });
    expect(again.locked).toBe(true);
    again.release();
  });

  it("refuses while another live process holds it, and takes it over once that process is killed", async () => {
    const run = newRun();
    run.release();
    // a child process takes the lock and waits
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", `import { acquireRunLock } from ${JSON.stringify(new URL("../../dist/src/io/rundir.js", import.meta.url).href)}; acquireRunLock(${JSON.stringify(run.path)}, "holder"); console.log("locked"); setInterval(() => {}, 1000);`],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => d.toString().includes("locked") && resolve());
      child.on("exit", (code) => reject(new Error(`lock holder exited early (${code})`)));
    });
    const refused = thrown(() => acquireRunLock(run.path, "me"));
    expect(refused).toBeInstanceOf(RunLockedError);
    expect(refused.message).toContain(`PID ${child.pid}`);
    expect(refused.message).toContain("`holder`");
    expect((refused as RunLockedError).hint).toContain(`kill ${child.pid}`);
    expect(readRunLock(run.path)?.state).toBe("alive");
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGKILL");
    await exited;
    expect(readRunLock(run.path)?.state).toBe("dead");
    const taken = acquireRunLock(run.path, "me");
    expect(JSON.parse(readFileSync(taken.path, "utf8")).pid).toBe(process.pid);
    taken.release();
  });

  it("treats a lock from a dead PID, or from a reused PID with another start time, as stale", () => {
    const run = newRun();
    run.release();
    const path = join(run.path, RUN_LOCK_FILE);
    writeFileSync(path, JSON.stringify({ pid: deadPid(), host: hostname(), command: "mesa train", since: "x", procStart: null, bootId: null }));
    expect(readRunLock(run.path)?.state).toBe("dead");
    acquireRunLock(run.path).release();
    // our own PID, but recorded with another process start time: the PID was reused, the holder is gone
    writeFileSync(path, JSON.stringify({ pid: process.pid, host: hostname(), command: "mesa train", since: "x", procStart: 1, bootId: null }));
    if (existsSync("/proc/self/stat")) {
      expect(readRunLock(run.path)?.state).toBe("dead");
      acquireRunLock(run.path).release();
    }
    // a damaged lock file is taken over too
    writeFileSync(path, "{ not json");
    acquireRunLock(run.path).release();
    // a holder on another host cannot be checked: refused, with the way out in the hint
    writeFileSync(path, JSON.stringify({ pid: 1234, host: "elsewhere", command: "mesa train", since: "x", procStart: null, bootId: null }));
    const err = thrown(() => acquireRunLock(run.path)) as RunLockedError;
    expect(err.message).toContain("host elsewhere");
    expect(err.hint).toContain(`delete ${path}`);
  });

  it("reports a run whose summary says running but whose holder is gone as killed", () => {
    const run = newRun();
    expect(run.activity()).toMatchObject({ status: "running", killed: false, holder: { pid: process.pid } });
    run.release();
    expect(run.activity()).toEqual({ status: "interrupted", killed: true });
    writeFileSync(join(run.path, RUN_LOCK_FILE), JSON.stringify({ pid: deadPid(), host: hostname(), command: "x", since: "x", procStart: null, bootId: null }));
    expect(run.activity()).toEqual({ status: "interrupted", killed: true });
  });

  it("marks a run still locked and running at process exit as interrupted", () => {
    const dir = join(root, "exit-hook");
    const script = `import { RunDir } from ${JSON.stringify(new URL("../../dist/src/io/rundir.js", import.meta.url).href)};
      const run = RunDir.create(${JSON.stringify(dir)}, { env: "e", exp: "x", seed: 1, config: {} }); console.log(run.path); process.exit(3);`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(r.status).toBe(3);
    const path = r.stdout.trim();
    expect(JSON.parse(readFileSync(join(path, "summary.json"), "utf8")).status).toBe("interrupted");
    expect(existsSync(join(path, RUN_LOCK_FILE))).toBe(false);
  });

  it("removes temp files a killed writer left when the lock is taken, and names a file passed as a run directory", () => {
    const run = newRun();
    run.release();
    const stray = join(run.checkpointsPath, ".step-8.safetensors.4242.0.tmp");
    writeFileSync(stray, "half a checkpoint");
    RunDir.open(run.path, undefined, { lock: true }).release();
    expect(existsSync(stray)).toBe(false);
    const err = thrown(() => RunDir.open(run.configPath));
    expect(err).toBeInstanceOf(RunDirError);
    expect(err.message).toMatch(/is a file, not a run directory/);
  });
});

describe("checkpoint retention", () => {
  it("keeps the newest N checkpoints, or all with null", () => {
    const run = newRun();
    const w = { w: { dtype: "F32" as const, shape: [1], data: new Float32Array([1]) } };
    for (const step of [10, 20, 30, 40, 50]) run.saveCheckpoint(step, w);
    expect(run.pruneCheckpoints(null)).toEqual([]);
    expect(run.pruneCheckpoints(2).length).toBe(3);
    expect(run.listCheckpoints().map((c) => c.step)).toEqual([40, 50]);
    expect(() => run.pruneCheckpoints(0)).toThrow(RunDirError);
    run.release();
  });
});

describe("atomic writes that fail", () => {
  it("leave no temp file behind when the rename fails, and say what is wrong", () => {
    const dir = join(root, "target-is-a-folder");
    mkdirSync(join(dir, "inner"), { recursive: true });
    const err = thrown(() => writeFileAtomic(join(dir, "inner"), "data"));
    expect(err).toBeInstanceOf(IoError);
    expect(err.message).toMatch(/inner is a folder/);
    expect(readdirSync(dir)).toEqual(["inner"]);
  });

  it("refuse an unwritable target before any work, creating nothing", () => {
    const dir = join(root, "checks");
    mkdirSync(dir);
    writeFileSync(join(dir, "file"), "x");
    expect(() => assertWritableDir(join(dir, "new", "deeper"))).not.toThrow();
    expect(existsSync(join(dir, "new"))).toBe(false);
    expect(thrown(() => assertWritableDir(join(dir, "file"), "--out f")).message).toBe("--out f is a file, not a folder");
    expect(thrown(() => assertWritableDir(join(dir, "file", "sub"))).message).toMatch(/is a file, so no folder can be made under it/);
    expect(thrown(() => assertWritableFile(dir, "--out d")).message).toBe("--out d is a folder, not a file");
    expect(() => assertWritableFile(join(dir, "new.png"))).not.toThrow();
  });
});
