// Run directories: layout and names, validation on open, metrics.jsonl with kill-truncated tails, checkpoints
// with the skip-damaged-newest policy. Every error must name the file at fault.
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { CheckpointError, ConfigError, RunDirError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { RunDir, listRuns, parseRunDirName, runDirName } from "../../src/io/rundir.js";
import type { TensorInput } from "../../src/io/safetensors.js";
import { thrown } from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "mesa-runs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const time = new Date("2026-01-02T03:04:05Z");
let counter = 0;
const newRun = (config: object = { learningRate: 2.5e-4 }): RunDir =>
  RunDir.create(join(root, `case${counter++}`), { env: "points-bug", exp: "ppo", seed: 3, config, time });

describe("run directory names", () => {
  it("is <env>__<exp>__<seed>__<unix seconds> and parses back", () => {
    const name = runDirName({ env: "points-bug", exp: "ppo.v2", seed: 7 }, time);
    expect(name).toBe(`points-bug__ppo.v2__7__${Date.UTC(2026, 0, 2, 3, 4, 5) / 1000}`);
    expect(parseRunDirName(name)).toEqual({ env: "points-bug", exp: "ppo.v2", seed: 7, time: 1767323045 });
    expect(parseRunDirName(`${name}-2`)?.seed).toBe(7);
    expect(parseRunDirName("notes.txt")).toBeUndefined();
    // a namespaced env (the AI Safety Gridworlds ports) gets a '.' for its '/'
    expect(runDirName({ env: "aisg/boat_race", exp: "ppo", seed: 1 }, time)).toMatch(/^aisg\.boat_race__ppo__1__/);
  });

  it("rejects names that would break the layout", () => {
    expect(() => runDirName({ env: "a/b", exp: "x/y", seed: 1 })).toThrow(RunDirError);
    expect(() => runDirName({ env: "a b", exp: "x", seed: 1 })).toThrow(RunDirError);
    expect(() => runDirName({ env: "a__b", exp: "x", seed: 1 })).toThrow(/"a__b"/);
    expect(() => runDirName({ env: "a", exp: "", seed: 1 })).toThrow(/exp name/);
    expect(() => runDirName({ env: "a", exp: "x", seed: -1 })).toThrow(/seed -1/);
  });
});

describe("RunDir.create and open", () => {
  it("creates config.json, empty metrics.jsonl, a running summary and checkpoints/", () => {
    const run = newRun({ learningRate: 0.001, numEnvs: 8 });
    expect(run.path).toMatch(/points-bug__ppo__3__1767323045$/);
    expect(JSON.parse(readFileSync(run.configPath, "utf8"))).toEqual({ learningRate: 0.001, numEnvs: 8 });
    expect(readFileSync(run.metricsPath, "utf8")).toBe("");
    expect(run.summary()).toEqual({ env: "points-bug", exp: "ppo", seed: 3, startedAt: "2026-01-02T03:04:05.000Z", status: "running" });
    expect(run.listCheckpoints()).toEqual([]);
    const again = RunDir.open(run.path);
    expect(again.config).toEqual({ learningRate: 0.001, numEnvs: 8 });
  });

  it("gives two runs created in the same second distinct directories, listed by listRuns", () => {
    const dir = join(root, "same-second");
    const a = RunDir.create(dir, { env: "e", exp: "x", seed: 1, config: {}, time });
    const b = RunDir.create(dir, { env: "e", exp: "x", seed: 1, config: {}, time });
    expect(a.path).not.toBe(b.path);
    expect(b.path.endsWith("-1")).toBe(true);
    writeFileSync(join(dir, "README.txt"), "not a run");
    expect(listRuns(dir).map((r) => r.path).sort()).toEqual([a.path, b.path].sort());
  });

  it("rejects a config that is not an object", () => {
    expect(() => RunDir.create(root, { env: "e", exp: "x", seed: 1, config: undefined })).toThrow(/must be an object/);
  });

  it("names the file when a run directory is missing, half-written or corrupt", () => {
    expect(thrown(() => RunDir.open(join(root, "nope"))).message).toMatch(/nope: no such run directory/);

    const run = newRun();
    rmSync(run.summaryPath);
    const missing = thrown(() => RunDir.open(run.path));
    expect(missing).toBeInstanceOf(RunDirError);
    expect(missing.message).toContain(`${run.summaryPath}: missing`);

    const run2 = newRun();
    writeFileSync(run2.configPath, '{"learningRate": 0.1');
    expect(thrown(() => RunDir.open(run2.path)).message).toContain(`${run2.configPath}: not valid JSON`);
    writeFileSync(run2.configPath, "[1, 2]");
    expect(thrown(() => RunDir.open(run2.path)).message).toContain(`${run2.configPath}: expected a JSON object`);

    const run3 = newRun();
    writeFileSync(run3.summaryPath, JSON.stringify({ env: "e", exp: "x", seed: -4, startedAt: "t", status: "paused" }));
    const bad = thrown(() => RunDir.open(run3.path));
    expect(bad.message).toContain(run3.summaryPath);
    expect(bad.message).toMatch(/seed/);
    expect(bad.message).toMatch(/status/);
  });

  it("validates config.json against a schema when given one", () => {
    const run = newRun({ learningRate: "fast" });
    const schema = z.object({ learningRate: z.number() });
    const err = thrown(() => RunDir.open(run.path, schema));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(run.configPath);
    expect(err.message).toMatch(/learningRate.*"fast"/);
    writeFileSync(run.configPath, JSON.stringify({ learningRate: 0.5 }));
    expect(RunDir.open(run.path, schema).config).toEqual({ learningRate: 0.5 });
  });

  it("updates the summary atomically and keeps it valid", () => {
    const run = newRun();
    run.updateSummary({ status: "finished", "charts/episodic_return": 9.5 });
    expect(RunDir.open(run.path).summary()).toMatchObject({ status: "finished", "charts/episodic_return": 9.5, seed: 3 });
    expect(() => run.updateSummary({ status: "paused" as never })).toThrow(RunDirError);
    expect(run.summary().status).toBe("finished");
  });
});

describe("metrics.jsonl", () => {
  it("appends one line per record with global_step and reads them back", () => {
    const run = newRun();
    run.appendMetrics({ global_step: 128, "charts/episodic_return": 1.5, "losses/value_loss": 0.25 });
    run.appendMetrics({ global_step: 256, "charts/SPS": 900, "losses/approx_kl": Number.NaN });
    const lines = readFileSync(run.metricsPath, "utf8").split("\n");
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0]!)).toEqual({ global_step: 128, "charts/episodic_return": 1.5, "losses/value_loss": 0.25 });
    expect(run.readMetrics()).toEqual({
      records: [
        { global_step: 128, "charts/episodic_return": 1.5, "losses/value_loss": 0.25 },
        { global_step: 256, "charts/SPS": 900, "losses/approx_kl": null },
      ],
      truncatedTail: false,
    });
  });

  it("rejects keys that are not namespaced and a bad global_step", () => {
    const run = newRun();
    expect(() => run.appendMetrics({ global_step: 1, episodic_return: 3 })).toThrow(/not namespaced/);
    expect(() => run.appendMetrics({ global_step: -1 })).toThrow(/global_step/);
    expect(() => run.appendMetrics({ global_step: 1.5 })).toThrow(/global_step/);
    expect(readFileSync(run.metricsPath, "utf8")).toBe("");
  });

  it("drops a final line cut short by a kill, and the next append from a reopened run repairs the file", () => {
    const run = newRun();
    run.appendMetrics({ global_step: 1, "charts/x": 1 });
    appendFileSync(run.metricsPath, '{"global_step":2,"charts/x":0.12'); // killed mid-write
    expect(run.readMetrics()).toEqual({ records: [{ global_step: 1, "charts/x": 1 }], truncatedTail: true });
    const resumed = RunDir.open(run.path);
    resumed.appendMetrics({ global_step: 2, "charts/x": 2 });
    expect(resumed.readMetrics()).toEqual({ records: [{ global_step: 1, "charts/x": 1 }, { global_step: 2, "charts/x": 2 }], truncatedTail: false });
  });

  it("keeps a complete final record that lost only its newline, and finishes it on the next append", () => {
    const run = newRun();
    appendFileSync(run.metricsPath, '{"global_step":5,"charts/x":5}');
    expect(run.readMetrics().records).toEqual([{ global_step: 5, "charts/x": 5 }]);
    const resumed = RunDir.open(run.path);
    resumed.appendMetrics({ global_step: 6, "charts/x": 6 });
    expect(resumed.readMetrics().records.map((r) => r.global_step)).toEqual([5, 6]);
  });

  it("reports any other corrupt line with the file name and line number", () => {
    const run = newRun();
    writeFileSync(run.metricsPath, '{"global_step":1}\n{"global_step":2, oops}\n{"global_step":3}\n');
    const err = thrown(() => run.readMetrics());
    expect(err).toBeInstanceOf(RunDirError);
    expect(err.message).toContain(`${run.metricsPath}:2: not valid JSON`);
    writeFileSync(run.metricsPath, '{"global_step":1}\n{"charts/x":2}\n');
    expect(thrown(() => run.readMetrics()).message).toContain(`${run.metricsPath}:2: global_step is undefined`);
    writeFileSync(run.metricsPath, '{"global_step":1,"charts/x":"high"}\n');
    expect(thrown(() => run.readMetrics()).message).toContain(`${run.metricsPath}:1: charts/x is "high", not a number`);
    // a corrupt last line that does end with a newline was not cut by a kill: it is an error too
    writeFileSync(run.metricsPath, '{"global_step":1}\n{"global_st\n');
    expect(thrown(() => run.readMetrics()).message).toContain(`${run.metricsPath}:2:`);
  });
});

describe("checkpoints", () => {
  const weights = (step: number): Record<string, TensorInput> => ({
    "policy.weight": { dtype: "F32", shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, step]) },
  });

  it("saves step-N.safetensors with step and state in the metadata, lists them by step and loads the latest", () => {
    const run = newRun();
    const rng = new Rng(5, "rollout");
    rng.uint32();
    run.saveCheckpoint(10, weights(10), { rng: rng.getState(), update: 1 });
    run.saveCheckpoint(200, weights(200), { rng: rng.getState(), update: 20 });
    run.saveCheckpoint(30, weights(30));
    mkdirSync(run.checkpointsPath, { recursive: true });
    writeFileSync(join(run.checkpointsPath, ".step-300.safetensors.123.0.tmp"), "partial"); // an interrupted atomic write
    expect(run.listCheckpoints().map((c) => c.step)).toEqual([10, 30, 200]);
    const latest = run.latestCheckpoint()!;
    expect(latest.skipped).toEqual([]);
    expect(latest.checkpoint.step).toBe(200);
    expect(latest.checkpoint.state).toEqual({ rng: rng.getState(), update: 20 });
    expect(latest.checkpoint.file.metadata).toMatchObject({ format: "pt", "mesa/step": "200" });
    expect(Array.from(latest.checkpoint.file.tensors.get("policy.weight")!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 200]);
    // the restored RNG continues the same stream
    const restored = new Rng(0).setState((latest.checkpoint.state as { rng: ReturnType<Rng["getState"]> }).rng);
    expect(restored.uint32()).toBe(rng.uint32());
  });

  it("returns undefined when a run has no checkpoints", () => {
    expect(newRun().latestCheckpoint()).toBeUndefined();
  });

  it("skips a damaged newest checkpoint when an older one is valid, and says which", () => {
    const run = newRun();
    run.saveCheckpoint(1, weights(1));
    const { path } = run.saveCheckpoint(2, weights(2));
    truncateSync(path, 40);
    const latest = run.latestCheckpoint()!;
    expect(latest.checkpoint.step).toBe(1);
    expect(latest.skipped).toHaveLength(1);
    expect(latest.skipped[0]!.path).toBe(path);
    expect(latest.skipped[0]!.error.message).toContain(path);
  });

  it("throws a CheckpointError naming the file when no checkpoint is readable", () => {
    const run = newRun();
    const { path } = run.saveCheckpoint(7, weights(7));
    writeFileSync(path, "garbage that is not a safetensors file");
    const err = thrown(() => run.latestCheckpoint());
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toContain(path);
  });

  it("rejects a checkpoint whose file name and recorded step disagree", () => {
    const run = newRun();
    const { path } = run.saveCheckpoint(4, weights(4));
    const renamed = join(run.checkpointsPath, "step-40.safetensors");
    writeFileSync(renamed, readFileSync(path));
    expect(() => run.loadCheckpoint({ step: 40, path: renamed })).toThrow(/mesa\/step is "4", but the file name says step 40/);
    expect(run.latestCheckpoint()!.checkpoint.step).toBe(4);
  });
});
