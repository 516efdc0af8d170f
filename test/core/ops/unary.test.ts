import { describe, expect, it } from "vitest";
import * as un from "../../../src/core/ops/unary.js";
import { tensor } from "../../../src/core/tensor.js";
import { gradcheck, randInputs } from "../gradcheck.js";

describe("unary ops", () => {
  const cases: [string, (x: ReturnType<typeof tensor>) => ReturnType<typeof tensor>, number, number][] = [
    ["neg", un.neg, -2, 2],
    ["exp", un.exp, -2, 2],
    ["log", un.log, 0.5, 3],
    ["sqrt", un.sqrt, 0.5, 3],
    ["abs", un.abs, 0.2, 2],
    ["pow 3", (x) => un.pow(x, 3), -2, 2],
    ["pow -0.5", (x) => un.pow(x, -0.5), 0.5, 3],
    ["square", un.square, -2, 2],
    ["tanh", un.tanh, -2, 2],
    ["relu", un.relu, 0.1, 2],
    ["sigmoid", un.sigmoid, -4, 4],
    ["gelu", (x) => un.gelu(x), -3, 3],
    ["gelu tanh", (x) => un.gelu(x, "tanh"), -3, 3],
  ];
  for (const [name, f, lo, hi] of cases) {
    it(`${name} has a correct gradient`, () => {
      const [x] = randInputs([[3, 5]], 11, lo, hi);
      gradcheck((a) => f(a!), [x!], { eps: 1e-3 });
    });
  }

  it("computes known values", () => {
    expect(un.relu(tensor([-1, 2])).toArray()).toEqual([0, 2]);
    expect(un.sigmoid(tensor([0, -1000, 1000])).toArray()).toEqual([0.5, 0, 1]);
    // PyTorch: torch.nn.functional.gelu(torch.tensor([-1., 0.5, 2.]))
    const g = un.gelu(tensor([-1, 0.5, 2])).data;
    expect(g[0]).toBeCloseTo(-0.158655, 5);
    expect(g[1]).toBeCloseTo(0.345731, 5);
    expect(g[2]).toBeCloseTo(1.954500, 5);
    expect(un.erf(0.5)).toBeCloseTo(0.5204998778, 6);
  });
});

describe("fastTanh", () => {
  it("stays within 2.5e-7 of Math.tanh everywhere and is odd and saturating", () => {
    let maxErr = 0;
    for (let x = -12; x <= 12; x += 1e-3) maxErr = Math.max(maxErr, Math.abs(Math.fround(un.fastTanh(x)) - Math.tanh(x)));
    expect(maxErr).toBeLessThan(2.5e-7);
    expect(un.fastTanh(-0.3)).toBe(-un.fastTanh(0.3));
    expect(un.fastTanh(1e4)).toBeCloseTo(1, 6);
    expect(Number.isNaN(un.fastTanh(Number.NaN))).toBe(true);
  });
});

describe("fastExp", () => {
  it("is within 7e-8 relative of Math.exp over the float32 range, with exact edge cases", () => {
    let maxRel = 0;
    for (let x = -87; x < 88.7; x += 7.3e-4) maxRel = Math.max(maxRel, Math.abs(Math.fround(un.fastExp(x)) - Math.exp(x)) / Math.exp(x));
    expect(maxRel).toBeLessThan(7e-8);
    expect(un.fastExp(0)).toBe(1);
    expect(un.fastExp(-Infinity)).toBe(0);
    expect(un.fastExp(-200)).toBe(0);
    expect(un.fastExp(Infinity)).toBe(Infinity);
    expect(Math.fround(un.fastExp(89))).toBe(Infinity);
    expect(Number.isNaN(un.fastExp(Number.NaN))).toBe(true);
  });
});

describe("relu edge cases", () => {
  it("maps −∞ and negatives to +0, keeps NaN and +∞", () => {
    const y = un.relu(tensor([-Infinity, Number.NaN, Infinity, -0, -3, 2]));
    expect(y.data[0]).toBe(0);
    expect(Number.isNaN(y.data[1])).toBe(true);
    expect(y.data[2]).toBe(Infinity);
    expect(y.data[3]).toBe(0);
    expect(y.data[4]).toBe(0);
    expect(y.data[5]).toBe(2);
  });
});

describe("erf", () => {
  it("is within 1e-7 of reference values (Python math.erf) and odd", () => {
    const ref: [number, number][] = [[0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3.5, 0.9999992569016276], [6, 1]];
    for (const [x, e] of ref) {
      expect(Math.abs(un.erf(x) - e)).toBeLessThan(1e-7);
      expect(un.erf(-x)).toBe(-un.erf(x));
    }
    expect(Number.isNaN(un.erf(Number.NaN))).toBe(true);
  });
});
