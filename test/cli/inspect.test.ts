// Statistics `mesa inspect` prints, checked against values computed by hand.
import { describe, expect, it } from "vitest";
import { tensorStats } from "../../src/cli/inspect.js";
import { fromFloat32 } from "../../src/io/safetensors.js";

describe("tensorStats", () => {
  it("gives mean, population std, min and max of the finite values and counts the rest", () => {
    const s = tensorStats("w", { dtype: "F32", shape: [5], data: new Float32Array([1, 2, 3, Number.NaN, -Infinity]) });
    expect(s).toEqual({ name: "w", dtype: "F32", shape: [5], numel: 5, mean: 2, std: Math.sqrt(2 / 3), min: 1, max: 3, nonFinite: 2 });
  });

  it("decodes half precision and stays finite for float64 values near the top of the range", () => {
    const h = tensorStats("h", { dtype: "F16", shape: [2], data: fromFloat32([0.5, -1.5], "F16") });
    expect([h.mean, h.std, h.min, h.max]).toEqual([-0.5, 1, -1.5, 0.5]);
    const big = tensorStats("big", { dtype: "F64", shape: [2], data: new Float64Array([1e308, -1e308]) });
    expect(big.mean).toBe(0);
    expect(big.std).toBeCloseTo(1e308, -300);
  });

  it("gives no statistics for integer tensors or tensors without finite values", () => {
    expect(tensorStats("i", { dtype: "I32", shape: [2], data: new Int32Array([1, 2]) }).mean).toBeNull();
    expect(tensorStats("e", { dtype: "F32", shape: [0], data: new Float32Array(0) })).toMatchObject({ mean: null, nonFinite: 0 });
    expect(tensorStats("n", { dtype: "F32", shape: [1], data: new Float32Array([Number.NaN]) })).toMatchObject({ mean: null, nonFinite: 1 });
  });
});
