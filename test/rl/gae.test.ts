import { describe, expect, it } from "vitest";
import { computeGae } from "../../src/rl/gae.js";

describe("computeGae", () => {
  it("matches a hand-computed example with an episode end in the middle", () => {
    // one env, 3 steps, γ = 0.9, λ = 0.5; the episode ends at step 1, so step 2 starts a new one.
    // δ2 = 1 + 0.9·4·1 − 3 = 1.6            A2 = 1.6
    // δ1 = 0 + 0 − 2 = −2                   A1 = −2            (no bootstrap, no carry across the end)
    // δ0 = 2 + 0.9·2 − 1 = 2.8              A0 = 2.8 + 0.45·(−2) = 1.9
    const advantages = new Float32Array(3);
    const returns = new Float32Array(3);
    computeGae(
      {
        rewards: Float32Array.of(2, 0, 1),
        values: Float32Array.of(1, 2, 3),
        dones: Float32Array.of(0, 1, 0),
        nextValues: Float32Array.of(4),
        numSteps: 3,
        numEnvs: 1,
        gamma: 0.9,
        gaeLambda: 0.5,
      },
      advantages,
      returns,
    );
    expect(Array.from(advantages)).toEqual([1.9, -2, 1.6].map(Math.fround));
    expect(Array.from(returns)).toEqual([2.9, 0, 4.6].map(Math.fround));
  });

  it("keeps copies independent in the time-major layout and reduces to discounted returns at λ = 1, V = 0", () => {
    // 2 envs × 3 steps, layout [t][e]; env 0 never ends, env 1 ends at the last step.
    const advantages = new Float32Array(6);
    const returns = new Float32Array(6);
    computeGae(
      {
        rewards: Float32Array.of(1, 1, 1, 1, 1, 1),
        values: new Float32Array(6),
        dones: Float32Array.of(0, 0, 0, 0, 0, 1),
        nextValues: Float32Array.of(10, 10),
        numSteps: 3,
        numEnvs: 2,
        gamma: 0.5,
        gaeLambda: 1,
      },
      advantages,
      returns,
    );
    // env 0: G2 = 1 + 0.5·10 = 6, G1 = 1 + 3 = 4, G0 = 1 + 2 = 3; env 1: G2 = 1, G1 = 1.5, G0 = 1.75
    expect(Array.from(returns)).toEqual([3, 1.75, 4, 1.5, 6, 1]);
    expect(Array.from(advantages)).toEqual([3, 1.75, 4, 1.5, 6, 1]);
  });
});
