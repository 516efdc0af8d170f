import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { sampleCategorical } from "../../src/rl/sample.js";

describe("sampleCategorical", () => {
  it("samples with the softmax frequencies and returns exact log-probabilities", () => {
    const logits = Float32Array.of(Math.log(0.1), Math.log(0.2), Math.log(0.7));
    const counts = [0, 0, 0];
    const actions = new Int32Array(1);
    const logprobs = new Float32Array(1);
    const rng = new Rng(5);
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      sampleCategorical(logits, 1, 3, rng, actions, logprobs);
      counts[actions[0]!]!++;
      expect(logprobs[0]).toBeCloseTo(Math.log([0.1, 0.2, 0.7][actions[0]!]!), 5);
    }
    expect(counts[0]! / n).toBeCloseTo(0.1, 2);
    expect(counts[1]! / n).toBeCloseTo(0.2, 2);
    expect(counts[2]! / n).toBeCloseTo(0.7, 2);
  });

  it("takes the argmax of each row when greedy, and is reproducible from the seed", () => {
    const logits = Float32Array.of(0, 5, 1, 9, 2, 3);
    const actions = new Int32Array(2);
    sampleCategorical(logits, 2, 3, new Rng(1), actions, undefined, true);
    expect(Array.from(actions)).toEqual([1, 0]);
    const draw = (seed: number): number[] => {
      const out = new Int32Array(64);
      sampleCategorical(new Float32Array(64 * 3), 64, 3, new Rng(seed), out);
      return Array.from(out);
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });
});
