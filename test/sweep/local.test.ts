// `mesa sweep` on the local pool, through the built binary as a user runs it (tiny budgets): the right runs and a
// correct aggregate, re-runs that skip finished jobs, a killed job process that takes only its job down (and is
// continued from its checkpoint), and Ctrl-C that leaves a folder the same command continues.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { JobResult, SweepRecord } from "../../src/sweep/folder.js";
import { trainingMetrics } from "../../src/sweep/kinds/train.js";
import { alive, bin, mesa as mesaIn, until, writeSpec as writeSpecIn } from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "mesa-sweep-local-"));
const started: ChildProcess[] = [];
afterAll(() => {
  for (const p of started) if (p.exitCode === null) p.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

const mesa = (...args: string[]) => mesaIn(root, ...args);
const writeSpec = (name: string, spec: Record<string, unknown>): string => writeSpecIn(root, name, spec);

function record(dir: string): SweepRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "sweep.json"), "utf8")) as SweepRecord;
  } catch {
    return undefined; // not written yet (or mid-rename)
  }
}

function lastMetrics(runDir: string): Record<string, number> {
  const lines = readFileSync(join(runDir, "metrics.jsonl"), "utf8").trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as Record<string, number>;
}

/** Polls the sweep folder until a running job has written a checkpoint; returns that job. */
function runningJobWithCheckpoint(dir: string, proc: ChildProcess): Promise<JobResult> {
  return until("a job to reach its first checkpoint", () => {
    if (proc.exitCode !== null) throw new Error("the sweep ended before a job could be caught mid-run");
    return (record(dir)?.results ?? []).find((r) => {
      if (r.status !== "running" || r.pid === null || r.run_dir === null) return false;
      const checkpoints = join(dir, r.run_dir, "checkpoints");
      return existsSync(checkpoints) && readdirSync(checkpoints).some((f) => f.endsWith(".safetensors"));
    });
  });
}

function exited(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (proc.exitCode !== null ? resolve(proc.exitCode) : proc.once("exit", (code) => resolve(code))));
}

/** A training long enough (24 updates, a checkpoint each) to be caught mid-run. */
const STEPS = 24_576;
const slowTraining = { env: "points-bug", ppo: { totalTimesteps: STEPS, numEnvs: 8, numSteps: 128, checkpointEvery: 1 } };

describe("mesa sweep (local pool)", () => {
  it("runs every job in its own run directory on two processes; the summary is the runs' own figures; a re-run skips them all", () => {
    const spec = writeSpec("small", {
      command: "train",
      base: { env: "points-bug", ppo: { totalTimesteps: 2048, numEnvs: 8 } },
      grid: { "ppo.entCoef": [0.01, 0.05] },
      seeds: 2,
      options: { evaluate: [{ distribution: "deploy", episodes: 20 }] },
      metrics: ["charts/episodic_return", "eval/deploy/misgeneralization_rate"],
    });
    const out = join(root, "small");
    const r = mesa("sweep", spec, "--workers", "2", "--out", out, "--json");
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as ReturnType<typeof record> & { sweep_dir: string };
    expect(result).toMatchObject({ jobs: 4, finished: 4, failed: 0 });
    expect(result!.results).toHaveLength(4);
    expect(new Set(result!.results.map((x) => x.pid)).size).toBe(2);
    expect(readdirSync(join(out, "runs"))).toHaveLength(4);

    // every job's metrics are what its run directory holds
    for (const job of result!.results) {
      const runDir = join(out, job.run_dir!);
      expect(JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8")).status).toBe("finished");
      expect(JSON.parse(readFileSync(join(runDir, "config.json"), "utf8")).ppo.seed).toBe(job.seed);
      expect(job.metrics!["charts/episodic_return"]).toBe(lastMetrics(runDir)["charts/episodic_return"] ?? null);
      // the train job's list of PPO metrics is every metric PPO logs
      expect(Object.keys(lastMetrics(runDir)).filter((k) => k !== "global_step").sort()).toEqual(trainingMetrics("points-bug").sort());
      const evaluation = JSON.parse(readFileSync(join(runDir, "evaluation-deploy.json"), "utf8")) as { misgeneralization_rate: number; episodes: number };
      expect(evaluation.episodes).toBe(20);
      expect(job.metrics!["eval/deploy/misgeneralization_rate"]).toBe(evaluation.misgeneralization_rate);
    }
    // and the summary is their mean with a t(1) interval
    expect(result!.summary.map((s) => s.setting)).toEqual(["ppo.entCoef=0.01", "ppo.entCoef=0.05"]);
    for (const s of result!.summary) {
      const values = result!.results.filter((x) => x.setting === s.setting).map((x) => x.metrics!["eval/deploy/misgeneralization_rate"]!);
      const m = s.metrics["eval/deploy/misgeneralization_rate"]!;
      const mean = (values[0]! + values[1]!) / 2;
      const std = Math.abs(values[0]! - values[1]!) / Math.SQRT2;
      expect(m.n).toBe(2);
      expect(m.mean).toBeCloseTo(mean, 12);
      expect(m.std).toBeCloseTo(std, 12);
      expect(m.ci95![0]).toBeCloseTo(Math.max(0, mean - (12.706 * std) / Math.SQRT2), 9);
    }
    expect(result!.baselines.map((b) => b.setting)).toEqual(["random", "observation-only intended", "scripted proxy", "scripted intended"].map((p) => `${p} (env=points-bug)`));
    for (const b of result!.baselines) expect(b.metrics["eval/deploy/misgeneralization_rate"]!.n).toBe(2); // one per seed's levels
    expect(readFileSync(join(out, "results.csv"), "utf8").trim().split("\n")).toHaveLength(5);
    expect(record(out)).toMatchObject({ status: "finished", backend: "local", jobs: 4, finished: 4 });

    const again = mesa("sweep", spec, "--workers", "2", "--out", out, "--json");
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain("4 of 4 jobs finished in an earlier run");
    const second = JSON.parse(again.stdout) as typeof result;
    expect(second!.results).toEqual(result!.results);
    expect(readdirSync(join(out, "runs"))).toHaveLength(4);

    // the table names the settings and the baselines
    const table = mesa("sweep", "results", out);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toContain("ppo.entCoef=0.05");
    expect(table.stdout).toContain("scripted proxy (env=points-bug)");
  });

  it("a job process killed with SIGKILL takes only its job down; the retry continues its run from the last checkpoint", async () => {
    const spec = writeSpec("crash", { command: "train", base: slowTraining, seeds: 2, retries: 1 });
    const out = join(root, "crash");
    const proc = spawn(process.execPath, [bin, "sweep", spec, "--workers", "2", "--out", out, "--json"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    started.push(proc);
    let stdout = "";
    let stderr = "";
    proc.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const victim = await runningJobWithCheckpoint(out, proc);
    process.kill(victim.pid!, "SIGKILL");
    expect(await exited(proc), stderr).toBe(0);
    const final = JSON.parse(stdout) as SweepRecord;
    expect(final).toMatchObject({ jobs: 2, finished: 2, failed: 0 });
    const job = final.results.find((r) => r.key === victim.key)!;
    expect(job.attempts).toBe(2);
    expect(job.run_dir).toBe(victim.run_dir); // continued, not started again
    expect(job.pid).not.toBe(victim.pid);
    expect(stderr).toMatch(/failed, retrying: the job's process \(pid \d+\) was killed by SIGKILL/);
    expect(stderr).toMatch(/continued .* from step \d+/);
    expect(lastMetrics(join(out, job.run_dir!)).global_step).toBe(STEPS);
    expect(readdirSync(join(out, "runs"))).toHaveLength(2);
  });

  it("Ctrl-C stops the sweep and records where it stood; the same command continues it", async () => {
    const spec = writeSpec("stop", { command: "train", base: slowTraining, seeds: 2 });
    const out = join(root, "stop");
    const proc = spawn(process.execPath, [bin, "sweep", spec, "--workers", "2", "--out", out], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    started.push(proc);
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const caught = await runningJobWithCheckpoint(out, proc);
    proc.kill("SIGINT");
    expect(await exited(proc), stderr).toBe(130);
    expect(stderr).toContain("sweep interrupted");
    expect(stderr).toContain("run the same command again to continue");
    const stopped = record(out)!;
    expect(stopped.status).toBe("interrupted");
    const interrupted = stopped.results.find((r) => r.key === caught.key)!;
    expect(interrupted.status).toBe("interrupted");
    for (const r of stopped.results) if (r.pid !== null) expect(alive(r.pid), `pool process ${r.pid} outlived the sweep`).toBe(false);

    const again = mesa("sweep", spec, "--workers", "2", "--out", out, "--json");
    expect(again.status, again.stderr).toBe(0);
    const final = JSON.parse(again.stdout) as SweepRecord;
    expect(final).toMatchObject({ jobs: 2, finished: 2, failed: 0 });
    const job = final.results.find((r) => r.key === caught.key)!;
    expect(job.run_dir).toBe(caught.run_dir);
    expect(job.attempts).toBe(2);
    expect(lastMetrics(join(out, job.run_dir!)).global_step).toBe(STEPS);
  });

  it("rejects a bad spec before creating anything, and writes the example spec", () => {
    const bad = writeSpec("bad", { command: "train", base: { env: "points-bug" }, grid: { "ppo.lr": [0.1] } });
    const out = join(root, "bad-out");
    const r = mesa("sweep", bad, "--out", out);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('train jobs have no field "ppo.lr"');
    expect(r.stderr).not.toContain("at ");
    expect(existsSync(out)).toBe(false);
    expect(mesa("sweep", join(root, "missing.yaml")).stderr).toContain("no such file");

    const init = mesa("sweep", "init", "--out", join(root, "example.yaml"));
    expect(init.status, init.stderr).toBe(0);
    expect(readFileSync(join(root, "example.yaml"), "utf8")).toContain("command: train");
    expect(mesa("sweep", "init", "--out", join(root, "example.yaml")).status).toBe(2); // no overwrite without --force
  });
});
