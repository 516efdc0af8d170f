// Tasks, baselines, the GD construction and the fused LSA kernel: each checked against an independent oracle
// (closed forms, finite differences, the paper's algebra).
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { etaScale, gdPredict, gdppPredict, minimizeScalar, ridgePredict, tuneGd, tuneGdpp } from "../../src/icl/baselines.js";
import { cosine, compare, gdPredictor, interpolateProducts, lsaPredictor } from "../../src/icl/compare.js";
import { gdLayerFactors, gdLayerProducts, gdStackProducts, productsFromFactors } from "../../src/icl/construction.js";
import { LsaKernel, zeroProducts, type LsaLayerProducts } from "../../src/icl/lsa_kernel.js";
import { meanSquaredError, sampleTasks, taskConfig } from "../../src/icl/tasks.js";

describe("in-context regression tasks", () => {
  it("lays out [batch, N+1, d+1] tokens with y = wᵀx, a zero query slot and inputs in range", () => {
    const cfg = taskConfig({ d: 3, n: 5, xRange: 0.5 });
    const t = sampleTasks(cfg, 64, new Rng(1));
    expect(t.tokens.length).toBe(64 * 6 * 4);
    for (let b = 0; b < 64; b++) {
      for (let i = 0; i <= 5; i++) {
        const row = (b * 6 + i) * 4;
        let y = 0;
        for (let k = 0; k < 3; k++) {
          const x = t.tokens[row + k]!;
          expect(Math.abs(x)).toBeLessThanOrEqual(0.5);
          y += t.weights![b * 3 + k]! * x;
        }
        if (i < 5) expect(t.tokens[row + 3]).toBeCloseTo(y, 12);
        else {
          expect(t.tokens[row + 3]).toBe(0);
          expect(t.targets[b]).toBeCloseTo(y, 12);
        }
      }
    }
  });

  it("is reproducible from the seed, scales inputs for OOD, adds noise and builds nonlinear targets", () => {
    const cfg = taskConfig({ d: 4, n: 6 });
    expect(sampleTasks(cfg, 8, new Rng(5)).tokens).toEqual(sampleTasks(cfg, 8, new Rng(5)).tokens);
    // refilling last batch's buffers gives exactly what fresh buffers would
    const r1 = new Rng(6);
    const r2 = new Rng(6);
    const first = sampleTasks(cfg, 8, r1);
    sampleTasks(cfg, 8, r2);
    const again = sampleTasks(cfg, 8, r1, first);
    expect(again.tokens).toBe(first.tokens);
    expect(Array.from(again.tokens)).toEqual(Array.from(sampleTasks(cfg, 8, r2).tokens));
    const scaled = sampleTasks(taskConfig({ d: 4, n: 6, inputScale: 2 }), 8, new Rng(5));
    const plain = sampleTasks(cfg, 8, new Rng(5));
    expect(scaled.tokens[0]).toBeCloseTo(2 * plain.tokens[0]!, 12);
    const noisy = sampleTasks(taskConfig({ d: 4, n: 6, noise: 0.5 }), 2000, new Rng(2));
    const clean = gdPredict(noisy, []); // w = 0 predicts 0; residual of the linear map is the noise
    let resid = 0;
    for (let b = 0; b < 2000; b++) {
      let y = 0;
      for (let k = 0; k < 4; k++) y += noisy.weights![b * 4 + k]! * noisy.tokens[(b * 7 + 6) * 5 + k]!;
      resid += (noisy.targets[b]! - y) ** 2;
    }
    expect(clean.predictions[0]).toBe(0);
    expect(resid / 2000).toBeGreaterThan(0.2);
    expect(resid / 2000).toBeLessThan(0.3);
    const nl = sampleTasks(taskConfig({ d: 4, n: 6, nonlinear: true, hidden: 20 }), 500, new Rng(3));
    expect(nl.weights).toBeNull();
    const v = meanSquaredError(new Float64Array(500), nl.targets);
    expect(v).toBeGreaterThan(0.3); // E f² = d/3 ≈ 1.33 with α ~ N(0, 2/r)
    expect(v).toBeLessThan(4);
  });

  it("rejects bad configs with the field's name", () => {
    expect(() => taskConfig({ d: 0 })).toThrow(/d:/);
    expect(() => taskConfig({ n: 2.5 })).toThrow(/n:/);
  });
});

describe("baselines", () => {
  const cfg = taskConfig({ d: 5, n: 8 });
  const tasks = sampleTasks(cfg, 200, new Rng(11));

  it("GD from w₀ = 0 matches the closed form w_K = Σ_k (I − ηC)^k η b, b = (1/N) Xᵀy", () => {
    const eta = 0.7;
    const r = gdPredict(tasks, [eta, eta, eta]);
    for (let bIdx = 0; bIdx < 5; bIdx++) {
      const { c, b, q } = stats(tasks, bIdx);
      // w = η b + (I − ηC) η b + (I − ηC)² η b
      let term = b.map((v) => eta * v);
      const w = term.slice();
      for (let k = 1; k < 3; k++) {
        term = term.map((_, i) => term[i]! - eta * dot(c[i]!, term));
        for (let i = 0; i < 5; i++) w[i]! += term[i]!;
      }
      for (let i = 0; i < 5; i++) expect(r.sensitivity[bIdx * 5 + i]).toBeCloseTo(w[i]!, 10);
      expect(r.predictions[bIdx]).toBeCloseTo(dot(w, q), 10);
    }
  });

  it("GD++ with γ = 0 is GD, and ridge with λ → 0 solves N ≥ d noiseless tasks exactly", () => {
    const a = gdPredict(tasks, [0.5, 0.9]);
    const b = gdppPredict(tasks, [0.5, 0.9], [0, 0]);
    for (let i = 0; i < 200; i++) expect(b.predictions[i]).toBeCloseTo(a.predictions[i]!, 10);
    const ls = ridgePredict(tasks, 0);
    expect(meanSquaredError(ls.predictions, tasks.targets)).toBeLessThan(1e-12);
    // N < d: minimum-norm solution interpolates the context
    const few = sampleTasks(taskConfig({ d: 6, n: 3 }), 10, new Rng(4));
    const mn = ridgePredict(few, 0);
    for (let bIdx = 0; bIdx < 10; bIdx++) {
      for (let i = 0; i < 3; i++) {
        let p = 0;
        for (let k = 0; k < 6; k++) p += mn.sensitivity[bIdx * 6 + k]! * few.tokens[(bIdx * 4 + i) * 7 + k]!;
        expect(p).toBeCloseTo(few.tokens[(bIdx * 4 + i) * 7 + 6]!, 8);
      }
    }
  });

  it("GD++ sensitivity equals finite differences of its prediction in x_q", () => {
    const etas = [0.8, 0.6];
    const gammas = [0.3, 0.2];
    const r = gdppPredict(tasks, etas, gammas);
    const h = 1e-6;
    for (let k = 0; k < 5; k++) {
      const plus = { ...tasks, tokens: Float64Array.from(tasks.tokens) };
      plus.tokens[(0 * 9 + 8) * 6 + k]! += h;
      const fd = (gdppPredict(plus, etas, gammas).predictions[0]! - r.predictions[0]!) / h;
      expect(r.sensitivity[k]).toBeCloseTo(fd, 4);
    }
  });

  it("line search finds the analytic optimum of one-step GD, η* = Σ y·p / Σ p² (p = prediction at η = 1)", () => {
    const p = gdPredict(tasks, [1]).predictions;
    let num = 0;
    let den = 0;
    for (let i = 0; i < 200; i++) {
      num += tasks.targets[i]! * p[i]!;
      den += p[i]! * p[i]!;
    }
    const tuned = tuneGd(tasks, 1);
    expect(tuned.eta).toBeCloseTo(num / den, 5);
    const quad = minimizeScalar((x) => (x - 0.3) ** 2 + 1, -2, 5);
    expect(quad.x).toBeCloseTo(0.3, 6);
    expect(quad.value).toBeCloseTo(1, 10);
    expect(etaScale(tasks)).toBeGreaterThan(0);
  });

  it("tuned GD++ beats tuned GD with several steps, and more GD steps beat one", () => {
    const tune = sampleTasks(taskConfig({ d: 5, n: 8 }), 400, new Rng(12));
    const one = tuneGd(tune, 1);
    const three = tuneGd(tune, 3);
    const pp = tuneGdpp(tune, 3);
    expect(three.tuneLoss).toBeLessThan(one.tuneLoss);
    expect(pp.tuneLoss).toBeLessThan(three.tuneLoss);
  });
});

describe("the construction: LSA weights that do one GD step", () => {
  const d = 6;
  const n = 9;
  const tasks = sampleTasks(taskConfig({ d, n }), 100, new Rng(21));

  it("one constructed layer predicts exactly one GD step, K layers exactly K steps, GD++ layers GD++", () => {
    const eta = 1.3;
    const k1 = new LsaKernel(1, n, d);
    const pred = k1.predict([gdLayerProducts(d, eta)], tasks.tokens, 100);
    const gd = gdPredict(tasks, [eta]).predictions;
    for (let b = 0; b < 100; b++) expect(pred[b]).toBeCloseTo(gd[b]!, 12);
    const k3 = new LsaKernel(3, n, d);
    const pred3 = k3.predict(gdStackProducts(d, [eta, eta, eta]), tasks.tokens, 100);
    const gd3 = gdPredict(tasks, [eta, eta, eta]).predictions;
    for (let b = 0; b < 100; b++) expect(pred3[b]).toBeCloseTo(gd3[b]!, 11);
    const pp = k3.predict(gdStackProducts(d, [0.9, 0.7, 0.5], [0.4, 0.3, 0.2]), tasks.tokens, 100);
    const ppRef = gdppPredict(tasks, [0.9, 0.7, 0.5], [0.4, 0.3, 0.2]).predictions;
    for (let b = 0; b < 100; b++) expect(pp[b]).toBeCloseTo(ppRef[b]!, 11);
  });

  it("the factor form W_Q, W_K, W_V, W_O multiplies out to the products", () => {
    const f = gdLayerFactors(d, 0.8, 0.1);
    const p = productsFromFactors(f, d + 1);
    const want = gdLayerProducts(d, 0.8, 0.1);
    expect(Array.from(p.kq)).toEqual(Array.from(want.kq));
    expect(Array.from(p.pv)).toEqual(Array.from(want.pv));
  });

  it("the constructed model's comparison with GD is perfect, and interpolating with itself changes nothing", () => {
    const con = [gdLayerProducts(d, 1.1)];
    const c = compare(lsaPredictor("lsa", con, n, d), gdPredictor(1, 1.1), tasks);
    expect(c.predictionCosine).toBeCloseTo(1, 12);
    expect(c.sensitivityCosine).toBeCloseTo(1, 12);
    expect(c.predictionMsd).toBeLessThan(1e-20);
    expect(c.modelLoss).toBeCloseTo(c.baselineLoss, 12);
    // a rescaled copy (c·W_KQ, W_PV/c) is the same function; the gauge fix undoes the scale
    const scaled = [{ kq: con[0]!.kq.map((v) => -3 * v), pv: con[0]!.pv.map((v) => v / -3) }];
    const mid = interpolateProducts(scaled, con);
    for (let i = 0; i < mid[0]!.kq.length; i++) {
      expect(mid[0]!.kq[i]).toBeCloseTo(con[0]!.kq[i]!, 12);
      expect(mid[0]!.pv[i]).toBeCloseTo(con[0]!.pv[i]!, 12);
    }
    expect(cosine([1, 0], [0, 1])).toBe(0);
  });
});

describe("fused LSA kernel gradients", () => {
  it("match central finite differences for 1–3 layers, products and query input", () => {
    for (const layers of [1, 2, 3]) {
      const d = 3;
      const n = 4;
      const tasks = sampleTasks(taskConfig({ d, n }), 5, new Rng(30 + layers));
      const rng = new Rng(7, layers);
      const products: LsaLayerProducts[] = zeroProducts(d + 1, layers).map((p) => ({
        kq: rng.fillNormal(p.kq, 0, 0.4) as Float64Array,
        pv: rng.fillNormal(p.pv, 0, 0.4) as Float64Array,
      }));
      const kernel = new LsaKernel(layers, n, d);
      const grads = zeroProducts(d + 1, layers);
      kernel.lossAndGrad(products, tasks.tokens, tasks.targets, 5, grads);
      const lossAt = (): number => meanSquaredError(kernel.predict(products, tasks.tokens, 5), tasks.targets);
      const h = 1e-6;
      for (let l = 0; l < layers; l++) {
        for (const key of ["kq", "pv"] as const) {
          for (const idx of [0, 5, 10, 15]) {
            const arr = products[l]![key];
            const old = arr[idx]!;
            arr[idx] = old + h;
            const up = lossAt();
            arr[idx] = old - h;
            const down = lossAt();
            arr[idx] = old;
            expect(grads[l]![key][idx]).toBeCloseTo((up - down) / (2 * h), 5);
          }
        }
      }
      const s = kernel.querySensitivity(products, tasks.tokens, 5);
      for (let k = 0; k < d + 1; k++) {
        const tok = Float64Array.from(tasks.tokens);
        const idx = (0 * (n + 1) + n) * (d + 1) + k;
        tok[idx]! += h;
        const up = kernel.predict(products, tok, 5)[0]!;
        tok[idx]! -= 2 * h;
        const down = kernel.predict(products, tok, 5)[0]!;
        expect(s.sensitivity[k]).toBeCloseTo((up - down) / (2 * h), 6);
      }
      // residuals(): the last stream's query y-slot is −ŷ, and the input stream is the tokens
      const res = kernel.residuals(products, tasks.tokens, 5);
      expect(res[0]).toEqual(tasks.tokens);
      expect(-res[layers]![n * (d + 1) + d]!).toBeCloseTo(s.predictions[0]!, 12);
    }
  });
});

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function stats(tasks: ReturnType<typeof sampleTasks>, b: number): { c: number[][]; b: number[]; q: number[] } {
  const { d, n, tokens } = tasks;
  const dim = d + 1;
  const x = (i: number, k: number): number => tokens[(b * (n + 1) + i) * dim + k]!;
  const c = Array.from({ length: d }, (_, a) => Array.from({ length: d }, (_, k) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += x(i, a) * x(i, k);
    return s / n;
  }));
  const bv = Array.from({ length: d }, (_, a) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += x(i, a) * x(i, d);
    return s / n;
  });
  const q = Array.from({ length: d }, (_, k) => x(n, k));
  return { c, b: bv, q };
}

describe("weight structure", () => {
  it("reads the construction back exactly, whatever the gauge", async () => {
    const { layerStructure } = await import("../../src/icl/compare.js");
    const con = [gdLayerProducts(4, 0.9, 0.2)];
    const scaled = [{ kq: con[0]!.kq.map((v) => 2 * v), pv: con[0]!.pv.map((v) => v / 2) }];
    const [w] = layerStructure(scaled, con);
    expect(w!.kqDiagMean).toBeCloseTo(1, 12);
    expect(w!.kqOffDiagRms).toBe(0);
    expect(w!.kqYRms).toBe(0);
    expect(w!.pvYY).toBeCloseTo(-0.9, 12);
    expect(w!.pvDiagMean).toBeCloseTo(-0.2, 12);
    expect(w!.pvOtherRms).toBe(0);
  });
});
