// The MLP finding: first-layer input columns of the goal channel stay exactly at their initial values for every
// cell where the goal never appeared in training.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startRun, type RunConfig } from "../../src/rl/run.js";
import { untrainedChannelColumns } from "../../src/rl/weights.js";

const root = mkdtempSync(join(tmpdir(), "mesa-weights-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("untrained goal-channel columns of an MLP", () => {
  const train = (randomCoinFraction: number) =>
    startRun(root, {
      env: "coin-run",
      distribution: "small",
      envParams: { randomCoinFraction },
      model: "mlp",
      ppo: { seed: 2, totalTimesteps: 4096, numEnvs: 16, numSteps: 32, checkpointEvery: 0 },
    });

  it("leaves every coin column but the end cell's at init when the coin never moves, and moves others when it does", async () => {
    const fixed = await train(0);
    const cols = untrainedChannelColumns(fixed.run.config as RunConfig, fixed.policy, "coin")!;
    // the small level is 5×12: the coin always sits at row 3, column 11
    expect(cols.cells).toBe(60);
    expect(cols.actor_unchanged).toBe(59);
    expect(cols.critic_unchanged).toBe(59);
    expect(cols.actor_unchanged_cells).not.toContain(3 * 12 + 11);
    const moved = await train(0.5);
    const some = untrainedChannelColumns(moved.run.config as RunConfig, moved.policy, "coin")!;
    expect(some.actor_unchanged).toBeLessThan(59);
  });
});

describe("misgeneralization sweep on a windowed environment", () => {
  it("trains, evaluates on deploy beside the baselines, and reports the MLP goal-channel finding", async () => {
    const { misgeneralizationSweep } = await import("../../src/rl/experiment.js");
    const result = await misgeneralizationSweep({
      env: "coin-run",
      param: "randomCoinFraction",
      values: [0],
      seeds: 1,
      steps: 512,
      episodes: 8,
      out: join(root, "sweep"),
      base: { model: "mlp", ppo: { numEnvs: 8, numSteps: 32 } },
    });
    if (result === undefined) throw new Error("the sweep reported an interruption nobody asked for");
    expect(result.points[0]!.rates).toHaveLength(1);
    expect(Object.keys(result.baselines).sort()).toEqual(["observation-only", "proxy", "random"]);
    expect(result.baselines.proxy!.proxy_rate).toBeGreaterThan(0.5);
    expect(result.points[0]!.goal_columns_untrained).toBeGreaterThan(0);
  });
});

describe("a misgeneralization sweep run again", () => {
  const options = (out: string, signal?: AbortSignal) => ({
    env: "coin-run",
    param: "randomCoinFraction",
    values: [0],
    seeds: 2,
    steps: 512,
    episodes: 8,
    out: join(root, out),
    base: { model: "mlp" as const, ppo: { numEnvs: 8, numSteps: 32 } },
    ...(signal ? { signal } : {}),
  });

  it("continues an interrupted training from its checkpoint, keeps finished ones, and ends where an uninterrupted sweep ends", async () => {
    const { misgeneralizationSweep } = await import("../../src/rl/experiment.js");
    const whole = await misgeneralizationSweep(options("whole"));
    // stop the second seed's training after its first update (of two)
    const stop = new AbortController();
    let updates = 0;
    const stopped = await misgeneralizationSweep({
      ...options("resumed", stop.signal),
      progress: () => ({
        onUpdate() {
          if (++updates === 3) stop.abort();
        },
      }),
    });
    expect(stopped).toBeUndefined();
    const runs = join(root, "resumed", "runs");
    expect(readdirSync(runs)).toHaveLength(2);
    const resumed = await misgeneralizationSweep(options("resumed"));
    // no training was started again: the same two run directories, and the same agents as the uninterrupted sweep
    expect(readdirSync(runs)).toHaveLength(2);
    expect(resumed!.points[0]!.rates).toEqual(whole!.points[0]!.rates);
    expect(resumed!.points[0]!.train_return).toBe(whole!.points[0]!.train_return);
    // run a third time: everything is loaded as it is
    const again = await misgeneralizationSweep(options("resumed"));
    expect(again!.points[0]!.runs).toEqual(resumed!.points[0]!.runs);
  });

  it("refuses to mix trainings with other settings into the same folder", async () => {
    const { misgeneralizationSweep } = await import("../../src/rl/experiment.js");
    await misgeneralizationSweep({ ...options("mixed"), seeds: 1 });
    await expect(misgeneralizationSweep({ ...options("mixed"), seeds: 1, steps: 768 })).rejects.toThrow(/already holds the training "randomCoinFraction=0 seed 1".*other settings/);
  });
});
