// What the convolution kernel tests share: one forward + backward of a case with every gradient starting from the
// same random values, and the tolerance against the float64 js reference.
import { expect } from "vitest";
import type { Rng } from "../../../src/core/rng.js";
import { type Conv2dArgs, type Conv2dGrads, windowOutputSize } from "../../../src/core/kernels/types.js";

/** The fusions a case runs with beyond Conv2dArgs: whether a bias and a residual are passed. */
export interface CaseInputs {
  bias: boolean;
  residual: boolean;
}

/**
 * Runs `conv` and `backward` on random inputs drawn from `rng` by `random`; `place` puts an activation-sized array
 * where the run keeps it (resident wasm memory in the residency tests). Returns the output and every gradient.
 */
export function runConvCase(
  a: Conv2dArgs, f: CaseInputs, rng: Rng, random: (rng: Rng, n: number) => Float32Array,
  conv: (x: Float32Array, w: Float32Array, b: Float32Array | null, r: Float32Array | null, y: Float32Array) => void,
  backward: (x: Float32Array, w: Float32Array, y: Float32Array, gy: Float32Array, grads: Conv2dGrads & { x: Float32Array; weight: Float32Array }) => void,
  place = (v: Float32Array): Float32Array => v,
) {
  const [ho, wo] = windowOutputSize(a);
  const outLen = a.n * a.o * ho * wo;
  const x = place(random(rng, a.n * a.c * a.h * a.w));
  const w = random(rng, a.o * a.c * a.kh * a.kw);
  const b = f.bias ? random(rng, a.o) : null;
  const r = f.residual ? place(random(rng, outLen)) : null;
  const gy = place(random(rng, outLen));
  const grads = { x: place(random(rng, x.length)), weight: random(rng, w.length), bias: f.bias ? random(rng, a.o) : null, residual: f.residual ? place(random(rng, outLen)) : null };
  const y = place(new Float32Array(outLen).fill(Number.NaN)); // every element must be written
  conv(x, w, b, r, y);
  backward(x, w, y, gy, grads);
  return { y, ...grads };
}

/** Every element within 2e-5 (absolute and relative) of the reference's. */
export function expectClose(actual: Float32Array | null, expected: Float32Array | null, what: string): void {
  expect(actual === null).toBe(expected === null);
  if (actual === null || expected === null) return;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    if (Math.abs(actual[i]! - e) > 2e-5 + 2e-5 * Math.abs(e)) throw new Error(`${what}[${i}]: ${actual[i]} vs reference ${e}`);
  }
}

/** The same float bits element for element (−0 and NaN payloads count). */
export function expectSameBits(a: Float32Array, b: Float32Array, what: string): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  expect(ua.length, what).toBe(ub.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) throw new Error(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

type CaseResult = ReturnType<typeof runConvCase>;

/**
 * `one` within expectClose of the reference `want` for the output and every gradient, and each of `same` (labelled
 * runs of the same case: resident operands, two threads) with `one`'s very bits.
 */
export function expectCaseAgrees(want: CaseResult, one: CaseResult, same: Record<string, CaseResult>, tag: string): void {
  for (const key of ["y", "x", "weight", "bias", "residual"] as const) {
    expectClose(one[key], want[key], `${tag} ${key}`);
    const p = one[key];
    for (const [label, other] of Object.entries(same)) {
      const q = other[key];
      if (p !== null && q !== null) expectSameBits(p, q, `${tag} ${key} ${label}`);
    }
  }
}
