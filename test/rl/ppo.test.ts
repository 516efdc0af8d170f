import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { VecEnv } from "../../src/envs/engine.js";
import { RunDir } from "../../src/io/rundir.js";
import "../../src/nn/models/mlp_policy.js";
import { type ActorCritic, createPolicy } from "../../src/nn/models/policy.js";
import { loadPolicyWeights, restorePpoCheckpoint, savePpoCheckpoint } from "../../src/rl/checkpoint.js";
import { ppoConfig, type PpoConfigInput } from "../../src/rl/config.js";
import { evaluate, policyActions } from "../../src/rl/evaluate.js";
import { type PpoMetrics, trainPPO } from "../../src/rl/ppo.js";
import { corridor } from "./corridor.js";

const root = mkdtempSync(join(tmpdir(), "mesa-ppo-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function setup(overrides: PpoConfigInput): { env: VecEnv; policy: ActorCritic; config: ReturnType<typeof ppoConfig> } {
  const config = ppoConfig({ numEnvs: 8, numSteps: 32, totalTimesteps: 8 * 32 * 6, numMinibatches: 4, ...overrides });
  const env = new VecEnv(corridor, { n: config.numEnvs, distribution: "train" });
  const policy = createPolicy({ kind: "mlp", obsShape: env.obsShape, numActions: env.numActions, hidden: [16, 16] }, new Rng(config.seed, "init"));
  return { env, policy, config };
}

function weights(policy: ActorCritic): number[] {
  return policy.parameters().flatMap((p) => Array.from(p.data));
}

describe("trainPPO", () => {
  it("solves a tiny env within a small budget and logs CleanRL's metrics", async () => {
    const { env, policy, config } = setup({ totalTimesteps: 8 * 32 * 40, learningRate: 2.5e-3, seed: 3 });
    const before = evaluate(corridor, policyActions(policy, new Rng(9), true), { episodes: 200, seed: 1000 });
    const history: PpoMetrics[] = [];
    await trainPPO(env, policy, config, { onUpdate: (m) => void history.push(m) });
    const after = evaluate(corridor, policyActions(policy, new Rng(9), true), { episodes: 200, seed: 1000 });
    // a fixed untrained policy reaches the goal about half the time; the trained one always, in 3 steps
    expect(before.intended_goal_rate).toBeLessThan(0.8);
    expect(after.intended_goal_rate).toBe(1);
    expect(after.episode_length).toBe(3);
    const last = history.at(-1)!;
    for (const key of ["charts/episodic_return", "charts/intended_return", "charts/SPS", "charts/learning_rate", "losses/value_loss", "losses/policy_loss", "losses/entropy", "losses/old_approx_kl", "losses/approx_kl", "losses/clipfrac", "losses/explained_variance", "charts/event/goal"]) {
      expect(last, key).toHaveProperty([key]);
    }
    expect(history[0]!["charts/learning_rate"]).toBeCloseTo(2.5e-3, 12);
    expect(last["charts/learning_rate"]).toBeLessThan(1e-4); // annealed towards 0
    expect(last["charts/episodic_return"]).toBeGreaterThan(0.9);
  });

  it("resumes from a checkpoint to bit-identical final weights", async () => {
    // uninterrupted run
    const a = setup({ seed: 5, checkpointEvery: 2 });
    await trainPPO(a.env, a.policy, a.config);

    // the same run, killed right after its checkpoint at update 2 …
    const b = setup({ seed: 5, checkpointEvery: 2 });
    const run = RunDir.create(root, { env: "corridor", exp: "ppo", seed: 5, config: b.config });
    const killed = new Error("killed");
    await expect(
      trainPPO(b.env, b.policy, b.config, {
        onCheckpoint: (state) => {
          savePpoCheckpoint(run, b.policy, b.env, state);
          throw killed;
        },
      }),
    ).rejects.toBe(killed);

    // … then resumed in a fresh process-like setup from the run directory
    const c = setup({ seed: 5, checkpointEvery: 2 });
    const latest = RunDir.open(run.path).latestCheckpoint()!;
    expect(latest.checkpoint.step).toBe(2 * 8 * 32);
    const resume = restorePpoCheckpoint(latest.checkpoint, c.policy, c.env);
    expect(resume.update).toBe(2);
    await trainPPO(c.env, c.policy, c.config, { resume });
    expect(weights(c.policy)).toEqual(weights(a.policy));
    expect(weights(c.policy)).not.toEqual(weights(setup({ seed: 5 }).policy));
  });

  it("round-trips weights through a checkpoint file", async () => {
    const a = setup({ seed: 7, totalTimesteps: 8 * 32 });
    const run = RunDir.create(root, { env: "corridor", exp: "ppo", seed: 7, config: a.config });
    await trainPPO(a.env, a.policy, a.config, { onCheckpoint: (s) => void savePpoCheckpoint(run, a.policy, a.env, s) });
    const fresh = setup({ seed: 8 }).policy;
    expect(weights(fresh)).not.toEqual(weights(a.policy));
    loadPolicyWeights(RunDir.open(run.path).latestCheckpoint()!.checkpoint, fresh);
    expect(weights(fresh)).toEqual(weights(a.policy));
    expect(Object.keys(a.policy.stateDict()).sort()).toEqual(["policy.layers.0.bias", "policy.layers.0.weight", "policy.layers.1.bias", "policy.layers.1.weight", "policy.layers.2.bias", "policy.layers.2.weight", "value.layers.0.bias", "value.layers.0.weight", "value.layers.1.bias", "value.layers.1.weight", "value.layers.2.bias", "value.layers.2.weight"]);
  });
});

describe("trainPPO divergence", () => {
  it("stops with the update number and a hint when the loss turns NaN, keeping the last good checkpoint", async () => {
    // the corridor, except that from its 40th episode on a copy's goal pays NaN (a broken reward function)
    const broken = { ...corridor, name: "broken-corridor", stepEnv: (env: VecEnv, s: unknown, i: number, action: number, p: never) => {
      corridor.stepEnv(env as never, s as never, i, action, p);
      if (env.episode[i]! >= 40 && env.reward[i] !== 0) env.reward[i] = Number.NaN;
    } };
    const config = ppoConfig({ numEnvs: 8, numSteps: 32, totalTimesteps: 8 * 32 * 40, checkpointEvery: 1, seed: 2 });
    const env = new VecEnv(broken as never, { n: 8, distribution: "train" });
    const policy = createPolicy({ kind: "mlp", obsShape: env.obsShape, numActions: env.numActions, hidden: [16, 16] }, new Rng(2, "init"));
    const run = RunDir.create(root, { env: "corridor", exp: "nan", seed: 2, config });
    const error = await trainPPO(env, policy, config, { onCheckpoint: (s) => void savePpoCheckpoint(run, policy, env, s) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe("DivergenceError");
    const update = Number(/at update (\d+)/.exec((error as Error).message)?.[1]);
    expect(update).toBeGreaterThan(1);
    expect((error as { hint?: string }).hint).toMatch(/learningRate|resume/);
    // every checkpoint on disk predates the bad update and loads
    const latest = RunDir.open(run.path).latestCheckpoint()!;
    expect(latest.skipped).toEqual([]);
    expect(latest.checkpoint.step).toBe((update - 1) * 8 * 32);
    const fresh = createPolicy({ kind: "mlp", obsShape: env.obsShape, numActions: env.numActions, hidden: [16, 16] }, new Rng(3, "init"));
    loadPolicyWeights(latest.checkpoint, fresh);
    expect(fresh.parameters().every((p) => p.data.every(Number.isFinite))).toBe(true);
  });
});
