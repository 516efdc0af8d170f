// Probes recover planted linear signals (regression, binary, classes, cells on a spatial map) and report chance
// on noise; folds keep groups whole; the numeric helpers match closed forms.
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { lapack } from "../../src/core/kernels/index.js";
import { cholesky, choleskySolve, lbfgs, solveSpd } from "../../src/interp/linalg.js";
import { auroc, rSquared } from "../../src/interp/metrics.js";
import { crossValidateProbe, groupFolds, trainProbe } from "../../src/interp/probe.js";
import { ConfigError } from "../../src/core/errors.js";

function gaussian(n: number, d: number, seed: number): Float32Array {
  return new Rng(seed, "x").fillNormal(new Float32Array(n * d)) as Float32Array;
}

describe("linear algebra", () => {
  it("Cholesky solves a symmetric positive-definite system", () => {
    const A = Float64Array.from([4, 2, 0.6, 2, 5, 1, 0.6, 1, 3]);
    const x = [1, -2, 0.5];
    const b = Float64Array.from([0, 1, 2].map((i) => x.reduce((s, xj, j) => s + A[i * 3 + j]! * xj, 0)));
    expect(cholesky(A, 3)).toBe(true);
    choleskySolve(A, 3, b, 1);
    b.forEach((v, i) => expect(v).toBeCloseTo(x[i]!, 10));
    expect(cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toBe(false);
  });

  it("the row-wise solve, LAPACK's (when the BLAS library has it) and solveSpd agree on many right-hand sides", () => {
    const n = 37;
    const K = 5;
    const M = gaussian(n, n, 11);
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = i === j ? n : 0;
      for (let k = 0; k < n; k++) s += M[i * n + k]! * M[j * n + k]!;
      A[i * n + j] = s;
    }
    const X = Float64Array.from(gaussian(n, K, 12));
    const B = new Float64Array(n * K);
    for (let i = 0; i < n; i++) for (let c = 0; c < K; c++) for (let k = 0; k < n; k++) B[i * K + c]! += A[i * n + k]! * X[k * K + c]!;
    const viaJs = B.slice();
    const L = A.slice();
    expect(cholesky(L, n)).toBe(true);
    choleskySolve(L, n, viaJs, K);
    const viaSolve = B.slice();
    expect(solveSpd(A.slice(), n, viaSolve, K)).toBe(true);
    for (let i = 0; i < n * K; i++) {
      expect(viaJs[i]).toBeCloseTo(X[i]!, 9);
      expect(viaSolve[i]).toBeCloseTo(X[i]!, 9);
    }
    expect(solveSpd(Float64Array.from([1, 2, 2, 1]), 2, new Float64Array(2), 1)).toBe(false);
    const native = lapack();
    if (native !== undefined) {
      const viaLapack = B.slice();
      const F = A.slice();
      expect(native.choleskySolve(F, n, viaLapack, K)).toBe(true);
      for (let i = 0; i < n * K; i++) expect(viaLapack[i]).toBeCloseTo(X[i]!, 9);
      // the factor lands in the lower triangle, as cholesky() leaves it
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) expect(F[i * n + j]).toBeCloseTo(L[i * n + j]!, 9);
      expect(native.choleskySolve(Float64Array.from([1, 2, 2, 1]), 2, new Float64Array(2), 1)).toBe(false);
    }
  });

  it("L-BFGS minimises the Rosenbrock function", () => {
    const r = lbfgs((p, g) => {
      const [x, y] = [p[0]!, p[1]!];
      g[0] = -2 * (1 - x) - 400 * x * (y - x * x);
      g[1] = 200 * (y - x * x);
      return (1 - x) ** 2 + 100 * (y - x * x) ** 2;
    }, Float64Array.from([-1.2, 1]), { maxIterations: 500, gradTolerance: 1e-10, valueTolerance: 0 });
    expect(r.x[0]).toBeCloseTo(1, 4);
    expect(r.x[1]).toBeCloseTo(1, 4);
  });

  it("AUROC and R² on known cases", () => {
    expect(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
    expect(auroc([1, 1, 1, 1], [0, 1, 0, 1])).toBe(0.5);
    expect(rSquared([1, 2, 3], [1, 2, 3])).toBe(1);
    expect(rSquared([2, 2, 2], [1, 2, 3])).toBe(0);
  });
});

describe("group folds", () => {
  it("never splits a group across folds and balances fold sizes", () => {
    const groups = Array.from({ length: 200 }, (_, i) => Math.floor(i / 4));
    const fold = groupFolds(200, 5, groups, 3);
    for (let g = 0; g < 50; g++) expect(new Set([0, 1, 2, 3].map((k) => fold[g * 4 + k])).size).toBe(1);
    const sizes = [0, 1, 2, 3, 4].map((f) => fold.filter((x) => x === f).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(4);
    expect(() => groupFolds(8, 5, [0, 0, 1, 1, 2, 2, 3, 3], 0)).toThrow(/at least 5 groups/);
  });
});

describe("probes", () => {
  const n = 400;
  const d = 30;
  const X = gaussian(n, d, 1);
  const w = new Rng(2, "w").fillNormal(new Float64Array(d));
  const signal = Float64Array.from({ length: n }, (_, i) => w.reduce((s, wj, j) => s + wj * X[i * d + j]!, 0));
  const noise = new Rng(3, "noise").fillNormal(new Float64Array(n));
  const groups = Array.from({ length: n }, (_, i) => Math.floor(i / 2));

  it("ridge recovers a planted linear signal and reports R² ≈ 0 on noise", () => {
    const y = signal.map((s, i) => s + 0.1 * noise[i]!);
    const r = crossValidateProbe({ data: X, n, d }, y, { task: "regression", groups });
    expect(r.method).toBe("ridge");
    expect(r.r2!).toBeGreaterThan(0.99);
    const pure = crossValidateProbe({ data: X, n, d }, noise, { task: "regression", groups });
    expect(pure.r2!).toBeLessThan(0.05);
    expect(pure.r2!).toBeGreaterThan(-0.2);
  });

  it("ridge in the dual (more features than samples) recovers a planted signal in a low-dimensional subspace", () => {
    // 600 features that are noisy mixtures of 5 latent factors; the target is linear in the factors
    const dd = 600;
    const m = 150;
    const Z = gaussian(m, 5, 4);
    const A = gaussian(5, dd, 8);
    const eps = gaussian(m, dd, 10);
    const Xw = new Float32Array(m * dd);
    for (let i = 0; i < m; i++) for (let j = 0; j < dd; j++) {
      let s = 0.3 * eps[i * dd + j]!;
      for (let k = 0; k < 5; k++) s += Z[i * 5 + k]! * A[k * dd + j]!;
      Xw[i * dd + j] = s;
    }
    const y = Float64Array.from({ length: m }, (_, i) => Z[i * 5]! - 2 * Z[i * 5 + 3]!);
    const r = crossValidateProbe({ data: Xw, n: m, d: dd }, y, { task: "regression" });
    expect(r.r2!).toBeGreaterThan(0.95);
    // through one Gram matrix per outer fold (the default here, d > n/2) or every fit on its own rows: the same
    // ridge solutions, so the same strengths chosen and the same held-out predictions to rounding
    const perFit = crossValidateProbe({ data: Xw, n: m, d: dd }, y, { task: "regression", gram: "never" });
    expect(r.alphas_chosen).toEqual(perFit.alphas_chosen);
    r.predictions.forEach((v, i) => expect(v).toBeCloseTo(perFit.predictions[i]!, 3));
    // a ridge classifier (one-hot targets, several outputs) on the same features, both ways
    const cls = Float64Array.from({ length: m }, (_, i) => Math.max(0, Math.min(3, Math.floor(Z[i * 5 + 1]! + 2))));
    const viaGram = crossValidateProbe({ data: Xw, n: m, d: dd }, cls, { task: "multiclass", maxSoftmaxWeights: 10 });
    const viaFits = crossValidateProbe({ data: Xw, n: m, d: dd }, cls, { task: "multiclass", maxSoftmaxWeights: 10, gram: "never" });
    expect(viaGram.method).toBe("ridge-classifier");
    expect(viaGram.alphas_chosen).toEqual(viaFits.alphas_chosen);
    expect(viaGram.accuracy).toBeCloseTo(viaFits.accuracy!, 2);
    expect(viaGram.accuracy!).toBeGreaterThan(viaGram.chance! + 0.2);
  });

  it("logistic recovers a planted boundary (accuracy, AUROC) and scores chance on noise labels", () => {
    const y = signal.map((s) => (s > 0 ? 1 : 0));
    const r = crossValidateProbe({ data: X, n, d }, y, { task: "binary", groups });
    expect(r.accuracy!).toBeGreaterThan(0.9);
    expect(r.auroc!).toBeGreaterThan(0.97);
    const coin = Float64Array.from(noise, (v) => (v > 0 ? 1 : 0));
    const c = crossValidateProbe({ data: X, n, d }, coin, { task: "binary", groups });
    expect(c.auroc!).toBeGreaterThan(0.35);
    expect(c.auroc!).toBeLessThan(0.65);
    expect(Math.abs(c.accuracy! - 0.5)).toBeLessThan(0.12);
  });

  it("softmax recovers planted classes; a trained probe predicts new samples", () => {
    const W = new Rng(5, "W").fillNormal(new Float64Array(d * 3));
    const y = Float64Array.from({ length: n }, (_, i) => {
      const z = [0, 1, 2].map((k) => W.slice(k * d, (k + 1) * d).reduce((s, wj, j) => s + wj * X[i * d + j]!, 0));
      return [10, 20, 30][z.indexOf(Math.max(...z))]!;
    });
    const r = crossValidateProbe({ data: X, n, d }, y, { task: "multiclass", groups });
    expect(r.accuracy!).toBeGreaterThan(0.85);
    expect(r.chance!).toBeLessThan(0.5);
    const rc = crossValidateProbe({ data: X, n, d }, y, { task: "multiclass", groups, maxSoftmaxWeights: 10 });
    expect(rc.method).toBe("ridge-classifier");
    expect(rc.accuracy!).toBeGreaterThan(0.75);
    const probe = trainProbe({ data: X, n, d }, y, { task: "multiclass" });
    const fresh = gaussian(50, d, 9);
    const pred = probe.predict(fresh, 50);
    for (const v of pred) expect([10, 20, 30]).toContain(v);
  });

  it("a spatial probe finds a marked cell on a map with distractors; chance on shuffled cells", () => {
    const C = 4;
    const h = 5;
    const wd = 5;
    const m = 300;
    const rng = new Rng(6);
    const data = new Float32Array(m * C * h * wd);
    const cell = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      for (let k = 0; k < C * h * wd; k++) data[i * C * h * wd + k] = rng.normal();
      cell[i] = rng.int(h * wd);
      data[i * C * h * wd + 2 * h * wd + cell[i]!]! += 4; // channel 2 marks the cell
    }
    const features = { data, n: m, d: C * h * wd, spatial: [C, h, wd] as const };
    const grid = { height: h, width: wd };
    const r = crossValidateProbe(features, cell, { task: "multiclass", cellGrid: grid });
    expect(r.layout).toBe("spatial");
    expect(r.accuracy!).toBeGreaterThan(0.9);
    expect(r.per_cell_accuracy).toHaveLength(25);
    const shuffled = new Rng(7).shuffle(Float64Array.from(cell));
    const s = crossValidateProbe(features, shuffled, { task: "multiclass", cellGrid: grid });
    expect(s.accuracy!).toBeLessThan(0.15);
  });
});

describe("the MLP probe (an upper-bound control: is a label there at all, read nonlinearly?)", () => {
  const n = 400;
  const d = 10;
  const X = gaussian(n, d, 21);
  const groups = Array.from({ length: n }, (_, i) => Math.floor(i / 4));
  const fast = { groups, folds: 4, innerFolds: 2, alphas: [1e-4, 1e-2], mlpHidden: 16 } as const;
  // XOR of two features' signs: no hyperplane separates it, a small tanh network does
  const xor = Float64Array.from({ length: n }, (_, i) => (X[i * d]! * X[i * d + 1]! > 0 ? 1 : 0));

  it("recovers a planted XOR that the linear probe cannot (binary and as classes)", () => {
    const linear = crossValidateProbe({ data: X, n, d }, xor, { task: "binary", ...fast });
    const mlp = crossValidateProbe({ data: X, n, d }, xor, { task: "binary", probe: "mlp", ...fast });
    expect(linear.method).toBe("logistic");
    expect(linear.accuracy!).toBeLessThan(0.65);
    expect(mlp.method).toBe("mlp-logistic");
    expect(mlp.probe).toBe("mlp");
    expect(mlp.accuracy!).toBeGreaterThan(0.85);
    expect(mlp.auroc!).toBeGreaterThan(0.9);
    // four classes: the XOR bit and the sign of a third feature (labels are arbitrary values, not 0…K−1)
    const classes = Float64Array.from(xor, (b, i) => 10 * (2 * b + (X[i * d + 2]! > 0 ? 1 : 0)) + 7);
    const lin4 = crossValidateProbe({ data: X, n, d }, classes, { task: "multiclass", ...fast });
    const mlp4 = crossValidateProbe({ data: X, n, d }, classes, { task: "multiclass", probe: "mlp", ...fast });
    expect(mlp4.method).toBe("mlp-softmax");
    expect(lin4.accuracy!).toBeLessThan(0.6);
    expect(mlp4.accuracy!).toBeGreaterThan(0.8);
    for (const v of mlp4.predictions) expect([7, 17, 27, 37]).toContain(v);
  });

  it("regresses a product of two features (linear R² ≈ 0) on the target's own scale", () => {
    const y = Float64Array.from({ length: n }, (_, i) => 50 + 20 * X[i * d]! * X[i * d + 1]!);
    const linear = crossValidateProbe({ data: X, n, d }, y, { task: "regression", ...fast });
    const mlp = crossValidateProbe({ data: X, n, d }, y, { task: "regression", probe: "mlp", ...fast });
    expect(linear.r2!).toBeLessThan(0.1);
    expect(mlp.method).toBe("mlp-regression");
    expect(mlp.r2!).toBeGreaterThan(0.8);
  });

  it("scores chance on noise labels", () => {
    const coin = Float64Array.from(new Rng(22, "coin").fillNormal(new Float64Array(n)), (v) => (v > 0 ? 1 : 0));
    const r = crossValidateProbe({ data: X, n, d }, coin, { task: "binary", probe: "mlp", ...fast });
    expect(Math.abs(r.accuracy! - 0.5)).toBeLessThan(0.12);
    expect(r.auroc!).toBeGreaterThan(0.35);
    expect(r.auroc!).toBeLessThan(0.65);
    const dice = Float64Array.from({ length: n }, () => 0).map((_, i) => new Rng(23, "dice", i).int(4));
    const m = crossValidateProbe({ data: X, n, d }, dice, { task: "multiclass", probe: "mlp", ...fast });
    expect(m.accuracy!).toBeLessThan(m.chance! + 0.1);
  });

  it("keeps episodes whole: a label it could memorise per episode scores chance on held-out episodes", () => {
    // every sample of an episode has the same features (the episode's signature, plus a little noise) and the
    // episode's random label: a probe that saw the episode in training recalls it, one that did not can only guess
    const sig = gaussian(n / 4, d, 24);
    const jitter = gaussian(n, d, 25);
    const Xg = Float32Array.from({ length: n * d }, (_, k) => sig[Math.floor(k / d / 4) * d + (k % d)]! + 0.05 * jitter[k]!);
    const label = Float64Array.from({ length: n }, (_, i) => new Rng(26, "episode", groups[i]!).int(2));
    const heldOutEpisodes = crossValidateProbe({ data: Xg, n, d }, label, { task: "binary", probe: "mlp", ...fast, alphas: [1e-4] });
    const { groups: _g, ...noGroups } = fast;
    const heldOutSamples = crossValidateProbe({ data: Xg, n, d }, label, { task: "binary", probe: "mlp", ...noGroups, alphas: [1e-4] });
    expect(heldOutSamples.accuracy!).toBeGreaterThan(0.9);
    expect(Math.abs(heldOutEpisodes.accuracy! - 0.5)).toBeLessThan(0.15);
    expect(heldOutEpisodes.groups).toBe(n / 4);
  });

  it("is deterministic, fits from the same seeded start whatever the strengths' order, and refuses a spatial layout", () => {
    const a = crossValidateProbe({ data: X, n, d }, xor, { task: "binary", probe: "mlp", ...fast });
    const b = crossValidateProbe({ data: X, n, d }, xor, { task: "binary", probe: "mlp", ...fast, alphas: [1e-2, 1e-4] });
    expect(Array.from(b.predictions)).toEqual(Array.from(a.predictions));
    expect(b.alphas_chosen).toEqual(a.alphas_chosen);
    const cells = { data: X, n, d, spatial: [10, 1, 1] as const };
    expect(() => crossValidateProbe(cells, xor, { task: "multiclass", probe: "mlp", layout: "spatial", cellGrid: { height: 1, width: 1 }, ...fast })).toThrow(ConfigError);
    expect(() => crossValidateProbe({ data: X, n, d }, xor, { task: "binary", probe: "mlp", ...fast, mlpHidden: 0 })).toThrow(/positive whole number of hidden units/);
    // the fitted probe predicts new samples with the network it chose
    const probe = trainProbe({ data: X, n, d }, xor, { task: "binary", probe: "mlp", alphas: [1e-4], mlpHidden: 16 });
    expect(probe.method).toBe("mlp-logistic");
    const fresh = gaussian(200, d, 27);
    const truth = Array.from({ length: 200 }, (_, i) => (fresh[i * d]! * fresh[i * d + 1]! > 0 ? 1 : 0));
    const hits = Array.from(probe.predict(fresh, 200)).filter((v, i) => v === truth[i]).length;
    expect(hits / 200).toBeGreaterThan(0.75); // a linear read scores ~0.5 on XOR
  });
});
