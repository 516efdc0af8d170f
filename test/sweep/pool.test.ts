// The pool's process settings (V8 flags and kernel threads by pool size), what a job reports about its time, and
// the train kind writing its evaluation files under the run's lock.
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RunLockedError } from "../../src/core/errors.js";
import { RunDir } from "../../src/io/rundir.js";
import { runConfigSchema } from "../../src/rl/run.js";
import { trainJob, trainOptionsSchema } from "../../src/sweep/kinds/train.js";
import { WorkerPool, childEnvironment, childExecArgv } from "../../src/sweep/pool.js";

const root = mkdtempSync(join(tmpdir(), "mesa-sweep-pool-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const cores = availableParallelism();
const tinyTraining = { env: "points-bug", ppo: { totalTimesteps: 1024, numEnvs: 8, numSteps: 128, seed: 1 } };

describe("pool process settings", () => {
  it("collects garbage on the job's thread only when the pool fills the cores; the parent's flags stay; MESA_POOL_NODE_FLAGS replaces the added ones", () => {
    expect(childExecArgv(cores, [], {})).toEqual(["--single-threaded-gc"]);
    expect(childExecArgv(cores + 1, ["--max-old-space-size=4096"], {})).toEqual(["--max-old-space-size=4096", "--single-threaded-gc"]);
    if (cores > 1) expect(childExecArgv(cores - 1, [], {})).toEqual([]);
    expect(childExecArgv(cores, [], { MESA_POOL_NODE_FLAGS: "" })).toEqual([]);
    expect(childExecArgv(cores, ["--stack-size=2000"], { MESA_POOL_NODE_FLAGS: "--single-threaded --stack-size=2000" })).toEqual(["--stack-size=2000", "--single-threaded"]);
  });

  it("gives each process its share of the cores for BLAS and the kernels, unless the user set a count", () => {
    const share = String(Math.max(1, Math.floor(cores / cores)));
    expect(childEnvironment(cores, {})).toMatchObject({ OPENBLAS_NUM_THREADS: share, MESA_POOL_THREADS: share });
    expect(childEnvironment(1, {})).toMatchObject({ OPENBLAS_NUM_THREADS: String(cores), MESA_POOL_THREADS: String(cores) });
    expect(childEnvironment(cores, { OPENBLAS_NUM_THREADS: "3" })).toMatchObject({ OPENBLAS_NUM_THREADS: "3", MESA_POOL_THREADS: "3" });
    expect(childEnvironment(cores, { MESA_POOL_THREADS: "2" })).toMatchObject({ OPENBLAS_NUM_THREADS: share, MESA_POOL_THREADS: "2" });
  });

  it("reports each job's CPU and its process's start; a bad MESA_POOL_THREADS fails the job with a message naming it", async () => {
    const options = trainOptionsSchema.parse({});
    const job = (dir: string) => ({ kind: "train", config: tinyTraining, options, runsRoot: join(root, dir) });
    const pool = new WorkerPool(1, childEnvironment(1));
    try {
      const first = await pool.run(job("cpu-a"));
      const second = await pool.run(job("cpu-b"));
      expect(first.ok && second.ok, JSON.stringify([first, second])).toBe(true);
      expect(first.startSeconds).toBeGreaterThan(0);
      expect(second.startSeconds).toBeUndefined(); // the same process: started once
      expect(first.cpu?.first).toBe(true);
      expect(second.cpu?.first).toBe(false);
      expect(second.cpu!.process).toBeGreaterThan(0);
      if (second.cpu!.thread !== null) expect(second.cpu!.thread).toBeLessThanOrEqual(second.cpu!.process + 0.02);
    } finally {
      await pool.close();
    }
    const bad = new WorkerPool(1, { ...childEnvironment(1), MESA_POOL_THREADS: "two" });
    try {
      const outcome = await bad.run(job("bad-threads"));
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) {
        expect(outcome.crashed).toBe(false);
        expect(outcome.error).toMatch(/MESA_POOL_THREADS=two is not a thread count/);
      }
      expect(existsSync(join(root, "bad-threads"))).toBe(false); // refused before the run directory was made
    } finally {
      await bad.close();
    }
  }, 60_000);
});

describe("train jobs", () => {
  it("write their evaluation files under the run's lock: a run another holder has locked is refused, not written", async () => {
    const options = trainOptionsSchema.parse({ evaluate: [{ distribution: "deploy", episodes: 4 }] });
    const config = trainJob.buildConfig(tinyTraining, options, "test job");
    const context = { runsRoot: join(root, "runs"), onRunDir() {}, onProgress() {}, log() {} };
    const runDir = await trainJob.run(config, trainOptionsSchema.parse({}), context);
    // the trained run is taken by another holder (here this process, as `mesa train --resume` would take it)
    const holder = RunDir.open(runDir, runConfigSchema, { lock: "another holder" });
    try {
      await expect(trainJob.run(config, options, { ...context, previousRunDir: runDir })).rejects.toThrow(RunLockedError);
      expect(readdirSync(runDir).filter((f) => f.startsWith("evaluation-"))).toEqual([]);
    } finally {
      holder.release();
    }
    // free again: the evaluation is written, and the lock is released afterwards
    await trainJob.run(config, options, { ...context, previousRunDir: runDir });
    expect(existsSync(join(runDir, "evaluation-deploy.json"))).toBe(true);
    expect(existsSync(join(runDir, "run.lock"))).toBe(false);
  }, 60_000);
});
