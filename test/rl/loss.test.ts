import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ppoLoss } from "../../src/rl/loss.js";

// The same minibatch as test/rl/fixtures/ppo_loss_torch.py; ratios land on both sides of the clip range.
const logits = Float32Array.of(0.5, -0.2, 0.1, 1.0, 0.0, -1.0, 0.3, 0.3, 0.3, -0.5, 2.0, 0.1, 0.0, 0.7, -0.4, 1.5, -1.2, 0.2);
const newValues = Float32Array.of(0.4, -0.3, 1.2, 0.05, 2.0, -1.0);
const batch = {
  actions: Int32Array.of(0, 2, 1, 1, 0, 2),
  logprobs: Float32Array.of(-1.2, -1.0, -1.0986, -0.9, -1.5, -2.9),
  advantages: Float32Array.of(1.0, -0.5, 0.3, 2.0, -1.5, 0.8),
  returns: Float32Array.of(1.0, 0.0, 1.0, 0.5, 1.0, -0.5),
  values: Float32Array.of(0.5, -0.5, 1.1, 0.4, 1.5, -1.1),
};

interface Reference {
  pgLoss: number;
  vLoss: number;
  entropy: number;
  oldApproxKl: number;
  approxKl: number;
  clipfrac: number;
  loss: number;
  gradLogits: number[];
  gradValues: number[];
}
const reference = JSON.parse(readFileSync(new URL("./fixtures/ppo_loss_torch.json", import.meta.url), "utf8")) as Record<string, Reference>;

describe("ppoLoss", () => {
  for (const normAdv of [true, false]) {
    for (const clipVloss of [true, false]) {
      it(`matches CleanRL's PyTorch loss and gradients (normAdv ${normAdv}, clipVloss ${clipVloss})`, () => {
        const ref = reference[`${normAdv ? "True" : "False"}-${clipVloss ? "True" : "False"}`]!;
        const gradLogits = new Float32Array(18);
        const gradValues = new Float32Array(6);
        const stats = ppoLoss(logits, newValues, batch, 6, 3, { clipCoef: 0.2, clipVloss, entCoef: 0.01, vfCoef: 0.5, normAdv }, gradLogits, gradValues);
        // inputs are float32 here, float64 in the reference: agreement to ~1e-6 relative
        for (const key of ["pgLoss", "vLoss", "entropy", "oldApproxKl", "approxKl", "clipfrac", "loss"] as const) {
          expect(stats[key], key).toBeCloseTo(ref[key], 5);
        }
        ref.gradLogits.forEach((g, i) => expect(gradLogits[i], `gradLogits[${i}]`).toBeCloseTo(g, 6));
        ref.gradValues.forEach((g, i) => expect(gradValues[i], `gradValues[${i}]`).toBeCloseTo(g, 6));
      });
    }
  }

  it("has the gradient of its own loss (central finite differences away from clip boundaries)", () => {
    const coefs = { clipCoef: 0.2, clipVloss: true, entCoef: 0.05, vfCoef: 0.5, normAdv: true };
    // sample 1 of the fixture sits exactly on the value clip boundary (|v − v_old| = 0.2): move every value off it
    const values = newValues.map((v) => v + 0.013);
    const gradLogits = new Float32Array(18);
    const gradValues = new Float32Array(6);
    ppoLoss(logits, values, batch, 6, 3, coefs, gradLogits, gradValues);
    const scratchL = new Float32Array(18);
    const scratchV = new Float32Array(6);
    const lossAt = (l: Float32Array, v: Float32Array): number => ppoLoss(l, v, batch, 6, 3, coefs, scratchL, scratchV).loss;
    const h = 1e-3;
    for (let k = 0; k < 18; k++) {
      const plus = logits.slice();
      const minus = logits.slice();
      plus[k]! += h;
      minus[k]! -= h;
      expect(gradLogits[k]).toBeCloseTo((lossAt(plus, values) - lossAt(minus, values)) / (2 * h), 4);
    }
    for (let k = 0; k < 6; k++) {
      const plus = values.slice();
      const minus = values.slice();
      plus[k]! += h;
      minus[k]! -= h;
      expect(gradValues[k]).toBeCloseTo((lossAt(logits, plus) - lossAt(logits, minus)) / (2 * h), 4);
    }
  });
});
