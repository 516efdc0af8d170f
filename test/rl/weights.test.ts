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
