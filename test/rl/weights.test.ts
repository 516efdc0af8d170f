// The MLP finding: first-layer input columns of the goal channel stay exactly at their initial values for every
// cell where the goal never appeared in training.
import { mkdtempSync, rmSync } from "node:fs";
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
