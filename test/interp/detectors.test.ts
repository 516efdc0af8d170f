import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { anomalyScores, fitReferenceGaussian, meanDifference, principalDirections, projectionScores } from "../../src/interp/detectors.js";
import { auroc } from "../../src/interp/metrics.js";

/** n rows of d standard normals, plus `shift` along `direction` for rows flagged in `planted`. */
function sample(n: number, d: number, rng: Rng, planted: (i: number) => boolean, shift: number, direction: number[]): Float32Array {
  const X = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) X[i * d + j] = rng.normal() + (planted(i) ? shift * direction[j]! : 0);
  return X;
}

describe("unsupervised detectors", () => {
  const d = 16;
  const direction = Array.from({ length: d }, (_, j) => (j === 3 ? 1 : 0));
  const rng = new Rng(4);
  const reference = sample(500, d, rng, () => false, 0, direction);
  const test = sample(400, d, rng, (i) => i % 2 === 1, 6, direction);
  const labels = Array.from({ length: 400 }, (_, i) => i % 2);

  it("anomaly scores separate rows shifted off the reference distribution and are chance on unshifted ones", () => {
    const g = fitReferenceGaussian(reference, 500, d);
    expect(auroc(anomalyScores(g, test, 400), labels)).toBeGreaterThan(0.95);
    const same = sample(400, d, rng, () => false, 0, direction);
    expect(Math.abs(auroc(anomalyScores(g, same, 400), labels) - 0.5)).toBeLessThan(0.1);
  });

  it("the top principal direction of a mixture is the planted shift", () => {
    const { directions } = principalDirections(test, 400, d, 1);
    expect(Math.abs(directions[3]!)).toBeGreaterThan(0.95);
  });

  it("a contrast direction projects the planted rows above the others", () => {
    const shifted = sample(200, d, rng, () => true, 6, direction);
    const dir = meanDifference(reference, 500, shifted, 200, d);
    expect(auroc(projectionScores(test, 400, d, dir), labels)).toBeGreaterThan(0.95);
  });
});
