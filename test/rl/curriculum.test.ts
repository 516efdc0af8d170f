import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { Tensor, noGrad } from "../../src/core/tensor.js";
import { VecEnv } from "../../src/envs/engine.js";
import { getEnvDefinition } from "../../src/envs/make.js";
import { RunDir } from "../../src/io/rundir.js";
import "../../src/nn/models/mlp_policy.js";
import { type ActorCritic, createPolicy } from "../../src/nn/models/policy.js";
import { restorePpoCheckpoint, savePpoCheckpoint } from "../../src/rl/checkpoint.js";
import { ppoConfig } from "../../src/rl/config.js";
import { Curriculum, checkCurriculum } from "../../src/rl/curriculum.js";
import { bootstrapTruncations, type PpoMetrics, trainPPO } from "../../src/rl/ppo.js";
import { type RunConfigInput, loadRunPolicy, resumeRun, startRun, validateRunConfig } from "../../src/rl/run.js";
import { corridor } from "./corridor.js";

const root = mkdtempSync(join(tmpdir(), "mesa-curriculum-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// the corridor with its goal always on the right for the first half of the run, then its own levels (left or right)
const STAGES = [{ until: 0.5, envParams: { leftGoalFraction: 0 } }];
const config = ppoConfig({ numEnvs: 8, numSteps: 16, totalTimesteps: 8 * 16 * 6, numMinibatches: 2, seed: 4, checkpointEvery: 2 });

function setup(afterUpdate = 0): { curriculum: Curriculum; env: VecEnv; policy: ActorCritic } {
  const curriculum = new Curriculum(corridor, "train", {}, STAGES, config.numEnvs);
  const env = curriculum.envFor(curriculum.stageOf(afterUpdate, 6));
  const policy = createPolicy({ kind: "mlp", obsShape: env.obsShape, numActions: env.numActions, hidden: [8] }, new Rng(config.seed, "init"));
  return { curriculum, env, policy };
}

const weights = (p: ActorCritic): number[] => p.parameters().flatMap((t) => Array.from(t.data));

describe("curriculum", () => {
  it("maps updates to stages by the fraction of the run done, and keeps one env per stage", () => {
    const c = new Curriculum(corridor, "train", {}, [{ until: 0.25, envParams: { leftGoalFraction: 0 } }, { until: 0.5, envParams: { leftGoalFraction: 1 } }], 2);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((u) => c.stageOf(u, 8))).toEqual([0, 0, 1, 1, 2, 2, 2, 2]);
    expect(c.stageOf(0, 8)).toBe(0); // before the first update: the first update's stage
    expect(c.envFor(1)).toBe(c.envFor(1));
    expect(c.envFor(1).params.leftGoalFraction).toBe(1);
    expect(c.envFor(2).params.leftGoalFraction).toBe(0.5); // the run's own levels
    expect(() => c.envFor(3)).toThrow(RangeError);
  });

  it("trains each stage on its levels, then the run's own, and resumes across a stage boundary to identical weights", async () => {
    const a = setup();
    const stages: number[] = [];
    const leftGoals: number[] = [];
    await trainPPO(a.env, a.policy, config, {
      curriculum: a.curriculum,
      onUpdate: (m: PpoMetrics) => {
        stages.push(m["charts/curriculum_stage"]!);
        leftGoals.push(m["charts/event/left_end"] ?? 0);
      },
    });
    expect(stages).toEqual([0, 0, 0, 1, 1, 1]);

    // killed after the checkpoint at update 4 (in the last stage) …
    const b = setup();
    const run = RunDir.create(root, { env: "corridor", exp: "ppo", seed: 4, config });
    const killed = new Error("killed");
    let checkpoints = 0;
    await expect(
      trainPPO(b.env, b.policy, config, {
        curriculum: b.curriculum,
        onCheckpoint: (state, env) => {
          savePpoCheckpoint(run, b.policy, env, state);
          if (++checkpoints === 2) throw killed;
        },
      }),
    ).rejects.toBe(killed);
    // … and resumed: the env of the checkpointed update's stage is the one restored
    const c = setup(4);
    expect(c.env).toBe(c.curriculum.envFor(1));
    const resume = restorePpoCheckpoint(RunDir.open(run.path).latestCheckpoint()!.checkpoint, c.policy, c.env);
    expect(resume.update).toBe(4);
    await trainPPO(c.env, c.policy, config, { curriculum: c.curriculum, resume });
    expect(weights(c.policy)).toEqual(weights(a.policy));

    // a run without the curriculum ends elsewhere
    const plain = setup();
    const env = new VecEnv(corridor, { n: config.numEnvs, distribution: "train" });
    await trainPPO(env, plain.policy, config);
    expect(weights(plain.policy)).not.toEqual(weights(a.policy));
  });

  it("refuses stages out of order, unknown parameters and stages that change the observation", () => {
    const kc = getEnvDefinition("keys-chests");
    expect(() => checkCurriculum(corridor, "train", {}, [{ until: 0.5, envParams: {} }, { until: 0.5, envParams: {} }], "test")).toThrow(/curriculum\[1\]\.until is 0\.5, not after/);
    expect(() => checkCurriculum(corridor, "train", {}, [{ until: 0.5, envParams: { goals: 2 } }], "test")).toThrow(ConfigError);
    expect(() => checkCurriculum(kc, "train", {}, [{ until: 0.5, envParams: { mazeCells: 4, chests: 10 } }], "test")).toThrow(/change the observation \(5×7×7 vs the run's 5×11×11\)/);
    expect(() => checkCurriculum(kc, "train", {}, [{ until: 0.5, envParams: { levelCells: 3, chests: 8 } }], "test")).not.toThrow();
    expect(() => validateRunConfig({ env: "keys-chests", ppo: {}, curriculum: [{ until: 1, envParams: {} }] })).toThrow(ConfigError);
  });
});

describe("a run with a curriculum", () => {
  it("stopped in its second stage and resumed through resumeRun, ends with the uninterrupted run's weights", async () => {
    const input: RunConfigInput = {
      env: "keys-chests",
      model: "mlp",
      hidden: [8],
      envParams: { view: 21 },
      curriculum: [{ until: 0.5, envParams: { levelCells: 3, chests: 8 } }],
      ppo: { numEnvs: 2, numSteps: 8, numMinibatches: 2, updateEpochs: 1, totalTimesteps: 2 * 8 * 6, checkpointEvery: 1, seed: 3, bootstrapTruncated: true },
    };
    const whole = await startRun(join(root, "whole"), input);
    const stop = new AbortController();
    let updates = 0;
    const stopped = await startRun(join(root, "stopped"), input, { onUpdate: () => void (++updates === 4 && stop.abort()) }, { signal: stop.signal });
    expect(stopped.interrupted).toBe(true);
    expect(stopped.result.updates).toBe(4);
    const resumed = await resumeRun(stopped.run.path);
    expect(resumed.fromStep).toBe(4 * 16);
    expect(weights(loadRunPolicy(resumed.run.path).policy)).toEqual(weights(whole.policy));
    expect(loadRunPolicy(resumed.run.path).config.curriculum).toEqual(input.curriculum);
  });
});

describe("bootstrapTruncated", () => {
  it("adds γ·V(last observation) for copies the time limit cut off, and nothing for the others", () => {
    const env = new VecEnv(corridor, { n: 4, distribution: "train", params: { maxSteps: 3 } });
    const policy = createPolicy({ kind: "mlp", obsShape: env.obsShape, numActions: 2, hidden: [8] }, new Rng(1, "init"));
    env.reset(1);
    const obsSize = env.obsShape.reduce((a, b) => a * b, 1);
    const rewards = new Float32Array(4);
    const scratch = new Float32Array(4 * obsSize);
    // copy 0 walks left to the end of the corridor (terminated at step 3); copies 1–3 go back and forth (truncated at 3)
    for (const actions of [[0, 0, 1, 0], [0, 1, 0, 1]]) {
      env.step(new Int32Array(actions));
      rewards.fill(7);
      bootstrapTruncations(env, policy, 0.9, obsSize, rewards, scratch);
      expect(Array.from(rewards)).toEqual([0, 0, 0, 0]); // nothing finished yet: every entry cleared
    }
    env.step(new Int32Array([0, 0, 1, 0]));
    expect(Array.from(env.terminated)).toEqual([1, 0, 0, 0]);
    expect(Array.from(env.truncated)).toEqual([0, 1, 1, 1]);
    rewards.fill(7);
    bootstrapTruncations(env, policy, 0.9, obsSize, rewards, scratch);
    const values = noGrad(() => policy.forward(new Tensor(env.finalObs, [4, obsSize]))).value.data;
    expect(rewards[0]).toBe(0);
    for (let i = 1; i < 4; i++) {
      expect(rewards[i]).toBeCloseTo(0.9 * values[i]!, 6);
      expect(rewards[i]).not.toBe(0);
    }
  });
});
