// Fault injection: a training run is killed with SIGKILL at random points (as a child process, ≥ 20 times —
// before its first checkpoint, mid-update, mid-checkpoint, mid-append), stopped once with SIGTERM, and raced by a
// second resume while it trains. Every resume continues from the newest whole checkpoint; at the end the final
// checkpoint is byte-identical to an uninterrupted run's and metrics.jsonl has strictly increasing steps with
// the same values (wall-clock SPS aside). Tiny budget: points-bug, 4 envs × 32 steps per update.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { RUN_LOCK_FILE, RunDir } from "../../src/io/rundir.js";
import { runMesa } from "../cli/run_mesa.js";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "mesa-faults-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const UPDATES = 160;
const STEPS = 128 * UPDATES;
const KILLS = 20;
const TRAIN = ["train", "--env", "points-bug", "--num-envs", "4", "--steps", String(STEPS), "--seed", "3", "--json"];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; exit: Promise<Exit>; stderr: () => string } {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<Exit>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, exit, stderr: () => stderr };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once `pid` holds the lock of the (single) run under `dir`, with the run's path. */
async function lockedBy(dir: string, pid: number, exited: () => boolean): Promise<string | undefined> {
  for (let waited = 0; waited < 120_000 && !exited(); waited += 3) {
    const runs = existsSync(dir) ? readdirSync(dir) : [];
    if (runs.length === 1) {
      try {
        const lock = JSON.parse(readFileSync(join(dir, runs[0]!, RUN_LOCK_FILE), "utf8")) as { pid: number };
        if (lock.pid === pid) return join(dir, runs[0]!);
      } catch {
        // not locked (yet)
      }
    }
    await sleep(3);
  }
  return undefined;
}

/** A small seeded generator, so a failure can be replayed (the seed is in the test name). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function metricSteps(runDir: string): number[] {
  return RunDir.open(runDir).readMetrics().records.map((r) => r.global_step);
}

function strictlyIncreasing(xs: number[]): boolean {
  return xs.every((x, i) => i === 0 || x > xs[i - 1]!);
}

const SEED = 20_240_612;

describe("mesa train under faults", () => {
  it(`survives ${KILLS} SIGKILLs at random points, a SIGTERM and a racing resume, and ends byte-identical (seed ${SEED})`, async () => {
    const random = mulberry32(SEED);
    // the uninterrupted reference, also as a child process
    const whole = await start([...TRAIN, "--checkpoint-every", "1", "--out", join(root, "whole")]).exit;
    expect(whole.code, whole.stderr).toBe(0);
    const wholeDir = (JSON.parse(whole.stdout) as { run_dir: string }).run_dir;

    const dir = join(root, "killed");
    // 1. killed before its first checkpoint (checkpoints only every 1000 updates): the summary still says
    //    "running", but the dead holder's lock shows it is not, and the resume starts again from step 0
    const first = start([...TRAIN, "--checkpoint-every", "1000", "--out", dir]);
    let firstExited = false;
    void first.exit.then(() => (firstExited = true));
    const runDir = await lockedBy(dir, first.child.pid!, () => firstExited);
    expect(runDir, "the first child never took the lock").toBeDefined();
    first.child.kill("SIGKILL");
    expect((await first.exit).signal).toBe("SIGKILL");
    const run = RunDir.open(runDir!);
    expect(run.listCheckpoints()).toEqual([]);
    expect(run.summary().status).toBe("running");
    expect(run.activity()).toEqual({ status: "interrupted", killed: true });

    let kills = 1;
    let sigterms = 0;
    let raced = false;
    let resumes = 0;
    let restartedFromZero = false;
    while (kills < KILLS || sigterms === 0 || !raced) {
      expect(resumes++, "the run finished before every fault was injected; raise UPDATES").toBeLessThan(3 * KILLS);
      const extra = resumes === 1 ? ["--checkpoint-every", "1"] : [];
      const child = start(["train", "--resume", runDir!, "--json", ...extra]);
      let exited = false;
      void child.exit.then(() => (exited = true));
      const held = await lockedBy(dir, child.child.pid!, () => exited);
      if (held === undefined) {
        const e = await child.exit;
        throw new Error(`resume ${resumes} ended before training (code ${e.code}): ${e.stderr}`);
      }
      if (resumes === 1) {
        // the first resume finds no checkpoint and says it starts again from step 0, before it trains
        for (let waited = 0; waited < 60_000 && !exited && !/starts again from step 0/.test(child.stderr()); waited += 3) await sleep(3);
        expect(child.stderr()).toMatch(/note: the run has no checkpoint yet: it starts again from step 0/);
        restartedFromZero = true;
      }
      if (!raced && kills >= KILLS / 2) {
        // 2. a second resume while this one trains is refused, naming the holder, and changes nothing. The holder is
        //    paused meanwhile (a stopped process still holds its lock), so any change to the metrics would be the
        //    second one's: the holder itself rewrites them when it resumes, which made a "no fewer lines" check racy
        child.child.kill("SIGSTOP");
        try {
          const before = metricSteps(runDir!);
          const second = await runMesa("train", "--resume", runDir!, "--json");
          expect(second.status).toBe(1);
          expect(second.stderr).toContain(`locked by PID ${child.child.pid}`);
          expect(metricSteps(runDir!)).toEqual(before);
        } finally {
          child.child.kill("SIGCONT");
        }
        raced = true;
      }
      await sleep(Math.floor(random() * 120));
      if (kills >= KILLS * 0.75 && sigterms === 0) {
        // 3. SIGTERM: the update finishes, a checkpoint is written, the run says "interrupted", the lock is released
        child.child.kill("SIGTERM");
        const e = await child.exit;
        expect(e.code, `${e.stderr}\n(a run that finished before the SIGTERM landed: raise UPDATES)`).toBe(143);
        expect(e.stderr).toMatch(/interrupted by SIGTERM: training stopped at env step (\d+); a checkpoint was saved/);
        const step = Number(/env step (\d+)/.exec(e.stderr)![1]);
        expect(RunDir.open(runDir!).summary().status).toBe("interrupted");
        expect(RunDir.open(runDir!).listCheckpoints().at(-1)?.step).toBe(step);
        expect(existsSync(join(runDir!, RUN_LOCK_FILE))).toBe(false);
        sigterms++;
        continue;
      }
      child.child.kill("SIGKILL");
      const e = await child.exit;
      if (e.signal !== "SIGKILL") {
        expect(e.code, e.stderr).toBe(0); // it finished before the kill landed
        throw new Error("the run finished before every fault was injected; raise UPDATES");
      }
      kills++;
      // whatever the kill interrupted, every checkpoint on disk is whole and the metrics read back in order
      const now = RunDir.open(runDir!);
      for (const c of now.listCheckpoints()) expect(() => now.loadCheckpoint(c), c.path).not.toThrow();
      expect(strictlyIncreasing(metricSteps(runDir!))).toBe(true);
    }
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    expect(restartedFromZero).toBe(true);

    const last = await start(["train", "--resume", runDir!, "--json"]).exit;
    expect(last.code, last.stderr).toBe(0);
    expect((JSON.parse(last.stdout) as { global_step: number }).global_step).toBe(STEPS);

    const finalOf = (d: string): Buffer => readFileSync(join(d, "checkpoints", `step-${STEPS}.safetensors`));
    expect(finalOf(runDir!).equals(finalOf(wholeDir))).toBe(true);
    const withoutSps = (d: string): unknown[] =>
      RunDir.open(d)
        .readMetrics()
        .records.map(({ "charts/SPS": _sps, ...rest }) => rest);
    const steps = metricSteps(runDir!);
    expect(strictlyIncreasing(steps)).toBe(true);
    expect(steps).toHaveLength(UPDATES);
    expect(withoutSps(runDir!)).toEqual(withoutSps(wholeDir));
    expect(RunDir.open(runDir!).summary().status).toBe("finished");
    expect(readdirSync(join(runDir!, "checkpoints")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});
