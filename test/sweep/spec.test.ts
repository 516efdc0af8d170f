// Sweep specs: expansion into jobs (grid × random × seeds, stable keys, the command's own config validation) and
// every kind of bad spec rejected with a message naming the field and the fix — all before anything runs.
import { describe, expect, it } from "vitest";
import { ConfigError, MesaError, UsageError } from "../../src/core/errors.js";
import { exampleSpecs } from "../../src/sweep/examples.js";
import { type SweepSpecInput, canonicalJson, flatten, parseSweepSpec, planSweep, unflatten } from "../../src/sweep/spec.js";
import { parse as parseYaml } from "yaml";

const train = (extra: Partial<SweepSpecInput> = {}): SweepSpecInput => ({
  name: "t",
  command: "train",
  base: { env: "points-bug", ppo: { totalTimesteps: 4096, numEnvs: 8 } },
  ...extra,
});

async function plan(spec: unknown) {
  return planSweep(parseSweepSpec(spec, "spec.yaml"), "spec.yaml");
}

async function rejection(spec: unknown): Promise<MesaError> {
  try {
    await plan(spec);
  } catch (err) {
    expect(err).toBeInstanceOf(MesaError);
    return err as MesaError;
  }
  throw new Error("expected the spec to be rejected");
}

describe("sweep spec expansion", () => {
  it("crosses the grid (last field fastest) with the seeds, each job's config built as mesa train builds it", async () => {
    const p = await plan(train({ grid: { "ppo.entCoef": [0.01, 0.05], "envParams.coins": [1, 2] }, seeds: [3, 7] }));
    expect(p.jobs).toHaveLength(8);
    expect(p.jobs.map((j) => [j.setting, j.seed])).toEqual([
      ["ppo.entCoef=0.01 envParams.coins=1", 3],
      ["ppo.entCoef=0.01 envParams.coins=1", 7],
      ["ppo.entCoef=0.01 envParams.coins=2", 3],
      ["ppo.entCoef=0.01 envParams.coins=2", 7],
      ["ppo.entCoef=0.05 envParams.coins=1", 3],
      ["ppo.entCoef=0.05 envParams.coins=1", 7],
      ["ppo.entCoef=0.05 envParams.coins=2", 3],
      ["ppo.entCoef=0.05 envParams.coins=2", 7],
    ]);
    expect(p.jobs.map((j) => j.id)).toEqual(["j0001", "j0002", "j0003", "j0004", "j0005", "j0006", "j0007", "j0008"]);
    const config = p.jobs[5]!.config as { ppo: Record<string, unknown>; envParams: Record<string, unknown> };
    expect(config.ppo.seed).toBe(7);
    expect(config.ppo.entCoef).toBe(0.05);
    expect(config.envParams).toEqual({ coins: 1 });
    // points-bug's tuned settings (mesa train's starting point) under the spec's fields
    expect(config.ppo.numSteps).toBe(32);
    expect(config.ppo.learningRate).toBe(1e-3);
    expect(config.ppo.numEnvs).toBe(8);
    expect(p.sweptFields).toEqual(["ppo.entCoef", "envParams.coins"]);
    expect(new Set(p.jobs.map((j) => j.key)).size).toBe(8);
  });

  it("keeps a job's key when only its position changes, and changes it when anything that shapes the result does", async () => {
    const a = await plan(train({ grid: { "ppo.entCoef": [0.01, 0.05] }, seeds: 2 }));
    const b = await plan(train({ grid: { "ppo.entCoef": [0.05, 0.01, 0.1] }, seeds: [2, 1] }));
    const keyOf = (p: typeof a, entCoef: number, seed: number): string => p.jobs.find((j) => j.settings["ppo.entCoef"] === entCoef && j.seed === seed)!.key;
    expect(keyOf(b, 0.05, 1)).toBe(keyOf(a, 0.05, 1));
    expect(keyOf(b, 0.01, 2)).toBe(keyOf(a, 0.01, 2));
    const c = await plan(train({ base: { env: "points-bug", ppo: { totalTimesteps: 8192, numEnvs: 8 } }, grid: { "ppo.entCoef": [0.01] }, seeds: 1 }));
    expect(c.jobs[0]!.key).not.toBe(keyOf(a, 0.01, 1));
    const d = await plan(train({ grid: { "ppo.entCoef": [0.01] }, seeds: 1, options: { evaluate: [{ distribution: "deploy" }] } }));
    expect(d.jobs[0]!.key).not.toBe(keyOf(a, 0.01, 1));
  });

  it("draws random settings reproducibly from their seed, within their ranges, crossed with the grid", async () => {
    const spec = train({
      grid: { "ppo.numMinibatches": [2, 4] },
      random: { samples: 5, seed: 11, fields: { "ppo.learningRate": { logUniform: [1e-4, 1e-2] }, "ppo.entCoef": { uniform: [0, 0.1] }, "ppo.updateEpochs": { int: [1, 3] }, model: { choice: ["mlp"] } } },
    });
    const p = await plan(spec);
    const again = await plan(spec);
    expect(p.jobs).toHaveLength(10);
    expect(p.jobs.map((j) => j.key)).toEqual(again.jobs.map((j) => j.key));
    for (const job of p.jobs) {
      const s = job.settings as Record<string, number>;
      expect(s["ppo.learningRate"]).toBeGreaterThanOrEqual(1e-4);
      expect(s["ppo.learningRate"]).toBeLessThanOrEqual(1e-2);
      expect(s["ppo.entCoef"]).toBeGreaterThanOrEqual(0);
      expect(s["ppo.entCoef"]).toBeLessThanOrEqual(0.1);
      expect([1, 2, 3]).toContain(s["ppo.updateEpochs"]);
    }
    // the same five draws under each grid value
    const draws = (mb: number) => p.jobs.filter((j) => j.settings["ppo.numMinibatches"] === mb).map((j) => j.settings["ppo.learningRate"]);
    expect(draws(2)).toEqual(draws(4));
    expect(new Set(draws(2)).size).toBe(5);
    const other = await plan({ ...spec, random: { ...spec.random!, seed: 12 } });
    expect(other.jobs[0]!.settings["ppo.learningRate"]).not.toBe(p.jobs[0]!.settings["ppo.learningRate"]);
  });

  it("defaults the metrics to the command's main ones and accepts every metric a job records", async () => {
    const p = await plan(train({ options: { evaluate: [{ distribution: "deploy", episodes: 10 }] } }));
    expect(p.metrics).toEqual(["charts/episodic_return", "charts/intended_return", "eval/deploy/intended_return", "eval/deploy/misgeneralization_rate"]);
    const q = await plan(train({ metrics: ["losses/approx_kl", "charts/SPS"] }));
    expect(q.metrics).toEqual(["losses/approx_kl", "charts/SPS"]);
    const icl = await plan({ name: "i", command: "icl", base: { steps: 10 }, grid: { layers: [1, 2] } });
    expect(icl.metrics).toContain("vs_gdpp/prediction_cosine");
    const ex = await plan({ name: "e", command: "experiment", base: { values: [0, 0.1] }, seeds: [1, 2] });
    expect(ex.metrics).toEqual(["randomCoinFraction=0/misgeneralization_rate", "randomCoinFraction=0.1/misgeneralization_rate"]);
    expect((ex.jobs[1]!.config as { seed: number }).seed).toBe(2);
  });

  it("every example spec mesa sweep init writes is a valid sweep of a few jobs", async () => {
    for (const [command, text] of Object.entries(exampleSpecs)) {
      const p = await plan(parseYaml(text));
      expect(p.spec.command).toBe(command);
      expect(p.jobs.length).toBeGreaterThanOrEqual(3);
      expect(p.jobs.length).toBeLessThanOrEqual(8);
    }
  });

  it("flattens nested fields to dotted paths and back, and canonical JSON ignores key order", () => {
    const nested = { env: "coin-run", ppo: { entCoef: 0.1, numEnvs: 8 }, envParams: { width: 9 }, hidden: [64, 64] };
    expect(flatten(nested)).toEqual({ env: "coin-run", "ppo.entCoef": 0.1, "ppo.numEnvs": 8, "envParams.width": 9, hidden: [64, 64] });
    expect(unflatten(flatten(nested))).toEqual(nested);
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }));
  });
});

describe("bad sweep specs are rejected before anything runs, naming what is wrong", () => {
  it("an unknown field, with the closest real one", async () => {
    const e = await rejection(train({ grid: { "ppo.entcoef": [0.01, 0.1] } }));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain('grid.ppo.entcoef: train jobs have no field "ppo.entcoef"; did you mean "ppo.entCoef"?');
    const top = await rejection({ ...train(), seed: [1, 2] });
    expect(top.message).toContain('seed: unknown key (received [1,2]); did you mean "seeds"?');
    const below = await rejection(train({ base: { env: "points-bug", ppo: { totalTimesteps: 4096 } }, grid: { "ppo.numEnvs.x": [1] } }));
    expect(below.message).toContain('ppo.numEnvs is a single value; it has no field "x"');
  });

  it("an empty grid, an empty grid field and empty random fields", async () => {
    expect((await rejection(train({ grid: {} }))).message).toContain("grid is empty");
    const e = await rejection(train({ grid: { "ppo.entCoef": [] } }));
    expect(e.message).toContain("grid.ppo.entCoef has no values, so the grid has no jobs");
    expect(e.hint).toContain("at least one value");
    expect((await rejection(train({ random: { samples: 3, fields: {} } }))).message).toContain("random.fields is empty");
  });

  it("a field given twice, the seed set by hand, a duplicate seed or setting", async () => {
    expect((await rejection(train({ grid: { "ppo.numEnvs": [4, 8] } }))).message).toContain("grid.ppo.numEnvs and base.ppo.numEnvs both set ppo.numEnvs");
    expect((await rejection(train({ grid: { "ppo.seed": [1, 2] } }))).message).toContain("ppo.seed is set by the sweep's seeds");
    expect((await rejection(train({ seeds: [1, 1] }))).message).toContain("seeds lists a seed twice");
    expect((await rejection(train({ grid: { "ppo.entCoef": [0.1, 0.1] } }))).message).toContain("repeats an earlier job exactly");
  });

  it("a value the command itself rejects, named with the job and its setting", async () => {
    const bad = await rejection(train({ grid: { "ppo.entCoef": [0.01, -1] } }));
    expect(bad.message).toContain("job j0002 (ppo.entCoef=-1, seed 1)");
    expect(bad.message).toContain("ppo.entCoef: expected number >= 0, received -1");
    const small = await rejection(train({ base: { env: "points-bug", ppo: { totalTimesteps: 100, numEnvs: 8 } } }));
    expect(small.message).toContain("smaller than one batch");
    expect((await rejection(train({ base: { env: "coin-rn" } }))).message).toContain('unknown environment "coin-rn"');
    expect((await rejection(train({ grid: { "envParams.coinz": [1] } }))).message).toContain('points-bug has no parameter "coinz"');
    expect((await rejection(train({ options: { evaluate: [{ distribution: "moon" }] } }))).message).toContain('points-bug has no distribution "moon"');
    expect((await rejection({ name: "e", command: "experiment", base: { values: [0, 2] } })).message).toMatch(/randomCoinFraction/);
  });

  it("an unknown command, unknown options, unknown metrics and bad random ranges", async () => {
    const cmd = await rejection({ name: "x", command: "trian" });
    expect(cmd).toBeInstanceOf(UsageError);
    expect(cmd.hint).toContain("train, icl, experiment");
    expect((await rejection(train({ options: { evaluat: [] } }))).message).toContain('did you mean "evaluate"?');
    const metric = await rejection(train({ metrics: ["charts/episodic_retrun"] }));
    expect(metric.message).toContain('charts/episodic_retrun: did you mean "charts/episodic_return"?');
    expect((await rejection(train({ random: { samples: 2, fields: { "ppo.entCoef": { uniform: [0.2, 0.1] } } } }))).message).toContain("low < high");
    expect((await rejection(train({ name: "no spaces" }))).message).toContain("name");
  });
});
