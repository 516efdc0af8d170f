import { describe, expect, it } from "vitest";
import { adamStep, adamStepScalar, simdAvailable, tanhGradColSumsSimd, tanhGradSimd, tanhSimd } from "../../../src/core/ops/simd.js";
import { addColumnSums } from "../../../src/core/ops/reduce.js";
import { fastTanh, tanhArray } from "../../../src/core/ops/unary.js";
import { Rng } from "../../../src/core/rng.js";

const SPECIAL = [0, -0, 1e-30, -1e-30, 1e-7, -3e-4, 4e-4, 0.5, -0.5, 1, -2, 3.7, 7.9, -7.91, 8, 20, -20, 1e30, Infinity, -Infinity];

/**
 * max |got − Math.tanh| with NaN passing through and ±0 keeping their sign; also checks the relative error is
 * below 1e-6 wherever tanh is not tiny (denormal-range results are only held to the absolute bound)
 */
function checkTanh(x: Float32Array, got: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (Number.isNaN(v)) {
      expect(got[i]).toBeNaN();
      continue;
    }
    if (v === 0) expect(Object.is(got[i], v)).toBe(true);
    const want = Math.tanh(v);
    worst = Math.max(worst, Math.abs(got[i]! - want));
    if (Math.abs(want) > 1e-30) expect(Math.abs(got[i]! - want) / Math.abs(want)).toBeLessThan(1e-6);
  }
  return worst;
}

describe("WebAssembly SIMD tanh", () => {
  it("runs under Node 20 (the fast path is not silently lost)", () => {
    expect(simdAvailable()).toBe(true);
  });

  for (const n of [1, 3, 4, 5, 17, 8191, 8192, 8193, 20001]) {
    it(`matches Math.tanh within 4e-7 on ${n} elements, in place and not, with special values`, () => {
      const x = new Float32Array(n);
      new Rng(n).fillUniform(x, -9, 9);
      for (let i = 0; i < Math.min(n, SPECIAL.length); i++) x[(i * 7919) % n] = SPECIAL[i]!;
      if (n > 40) x[n - 1] = NaN;
      const out = new Float32Array(n).fill(123);
      expect(tanhSimd(x, out, n)).toBe(true);
      expect(checkTanh(x, out)).toBeLessThan(4e-7);
      const inPlace = x.slice();
      tanhArray(inPlace, inPlace, n);
      expect(inPlace).toEqual(out);
    });
  }

  it("writes only the first n elements", () => {
    const x = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    const out = new Float32Array(6).fill(9);
    tanhSimd(x, out, 3);
    expect(Array.from(out.subarray(3))).toEqual([9, 9, 9]);
    expect(out[2]).toBeCloseTo(Math.tanh(0.3), 6);
  });

  it("the scalar fallback is accurate too", () => {
    const x = new Float32Array(5000);
    new Rng(3).fillUniform(x, -9, 9);
    x.set(SPECIAL);
    expect(checkTanh(x, x.map(fastTanh))).toBeLessThan(2.5e-7);
  });

  for (const n of [1, 2, 3, 8191, 8192, 8193, 20001]) {
    it(`the tanh gradient g·(1 − y²) has the bits of the scalar JS expression on ${n} elements, into g, y or apart`, () => {
      const rng = new Rng(100 + n);
      const g = rng.fillUniform(new Float32Array(n), -3, 3) as Float32Array;
      const y = rng.fillUniform(new Float32Array(n), -1, 1) as Float32Array;
      g[0] = n > 1 ? NaN : g[0]!;
      y[n - 1] = n > 2 ? 1 : y[n - 1]!;
      const want = new Float32Array(n);
      for (let i = 0; i < n; i++) want[i] = g[i]! * (1 - y[i]! * y[i]!);
      const apart = new Float32Array(n).fill(7);
      expect(tanhGradSimd(g, y, apart, n)).toBe(true);
      expect(apart).toEqual(want);
      const intoY = y.slice();
      tanhGradSimd(g, intoY, intoY, n);
      expect(intoY).toEqual(want);
      const intoG = g.slice();
      tanhGradSimd(intoG, y, intoG, n);
      expect(intoG).toEqual(want);
    });
  }

  for (const n of [1, 3, 8192, 8195, 20001]) {
    it(`the Adam update has the bits of the float32 scalar loop on ${n} parameters, and is a float32 Adam step`, () => {
      const rng = new Rng(200 + n);
      const P = rng.fillUniform(new Float32Array(n), -1, 1) as Float32Array;
      const G = rng.fillUniform(new Float32Array(n), -1e-3, 1e-3) as Float32Array;
      const M = rng.fillUniform(new Float32Array(n), -1e-3, 1e-3) as Float32Array;
      const V = rng.fillUniform(new Float32Array(n), 0, 1e-6) as Float32Array;
      G[0] = 0;
      const [b1, b2, eps, t] = [0.9, 0.999, 1e-5, 7];
      const stepSize = 2.5e-4 / (1 - Math.pow(b1, t));
      const bc2Sqrt = Math.sqrt(1 - Math.pow(b2, t));
      const [p2, m2, v2] = [P.slice(), M.slice(), V.slice()];
      const [p3, m3, v3] = [P.slice(), M.slice(), V.slice()];
      adamStepScalar(p2, G, m2, v2, n, b1, b2, stepSize, bc2Sqrt, eps);
      adamStep(P, G, M, V, n, b1, b2, stepSize, bc2Sqrt, eps);
      expect(P).toEqual(p2);
      expect(M).toEqual(m2);
      expect(V).toEqual(v2);
      // and it is Adam: a float64 evaluation of the same formula agrees to float32 rounding
      for (let j = 0; j < n; j++) {
        const g = G[j]!;
        const mj = b1 * m3[j]! + (1 - b1) * g;
        const vj = b2 * v3[j]! + (1 - b2) * g * g;
        const upd = (stepSize * mj) / (Math.sqrt(vj) / bc2Sqrt + eps);
        const pj = p3[j]! - upd;
        // bounds scaled by the terms' sizes (the sums may cancel)
        expect(Math.abs(M[j]! - mj)).toBeLessThanOrEqual(1e-6 * (b1 * Math.abs(m3[j]!) + (1 - b1) * Math.abs(g)) + 1e-30);
        expect(Math.abs(V[j]! - vj)).toBeLessThanOrEqual(1e-6 * vj + 1e-30);
        expect(Math.abs(P[j]! - pj)).toBeLessThanOrEqual(1e-6 * (Math.abs(p3[j]!) + Math.abs(upd)) + 1e-30);
      }
    });
  }

  for (const [rows, cols] of [[1, 2], [3, 64], [2048, 64], [1000, 256], [5, 4096], [33, 10]] as const) {
    it(`tanh gradient with column sums on [${rows}, ${cols}]: same bits as tanhGradSimd + addColumnSums`, () => {
      const rng = new Rng(rows * 7 + cols);
      const n = rows * cols;
      const g = rng.fillUniform(new Float32Array(n), -3, 3) as Float32Array;
      const y = rng.fillUniform(new Float32Array(n), -1, 1) as Float32Array;
      const wantDz = new Float32Array(n);
      tanhGradSimd(g, y, wantDz, n);
      const wantSums = rng.fillUniform(new Float32Array(cols), -1, 1) as Float32Array;
      const sums = wantSums.slice();
      addColumnSums(wantDz, rows, cols, wantSums);
      const dz = y.slice(); // in place into y, as the fused layer does
      expect(tanhGradColSumsSimd(g, y, dz, rows, cols, sums)).toBe(true);
      expect(dz).toEqual(wantDz);
      expect(sums).toEqual(wantSums);
    });
  }

  it("column sums decline odd and too-wide rows (the caller falls back)", () => {
    const a = new Float32Array(15 * 4), s = new Float32Array(15);
    expect(tanhGradColSumsSimd(a, a, a, 4, 15, s)).toBe(false);
    const b = new Float32Array(8194), s2 = new Float32Array(8194);
    expect(tanhGradColSumsSimd(b, b, b, 1, 8194, s2)).toBe(false);
  });
});
