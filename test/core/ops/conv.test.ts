import { describe, expect, it } from "vitest";
import { ShapeError } from "../../../src/core/errors.js";
import { avgPool2d, conv2d, conv2dMaxPool, maxPool2d } from "../../../src/core/ops/conv.js";
import { tensor } from "../../../src/core/tensor.js";
import { gradcheck, randInputs } from "../gradcheck.js";

/** direct float64 convolution */
function refConv(x: Float32Array, [N, C, H, W]: number[], w: Float32Array, [O, , kh, kw]: number[], b: Float32Array | null, s: number, p: number): number[] {
  const Ho = Math.floor((H! + 2 * p - kh!) / s) + 1;
  const Wo = Math.floor((W! + 2 * p - kw!) / s) + 1;
  const out: number[] = [];
  for (let n = 0; n < N!; n++)
    for (let o = 0; o < O!; o++)
      for (let oh = 0; oh < Ho; oh++)
        for (let ow = 0; ow < Wo; ow++) {
          let acc = b ? b[o]! : 0;
          for (let c = 0; c < C!; c++)
            for (let i = 0; i < kh!; i++)
              for (let j = 0; j < kw!; j++) {
                const ih = oh * s - p + i, iw = ow * s - p + j;
                if (ih >= 0 && ih < H! && iw >= 0 && iw < W!) acc += x[((n * C! + c) * H! + ih) * W! + iw]! * w[((o * C! + c) * kh! + i) * kw! + j]!;
              }
          out.push(acc);
        }
  return out;
}

describe("conv2d", () => {
  for (const [stride, padding] of [[1, 0], [2, 1], [1, 2]] as const) {
    it(`matches a direct convolution (stride ${stride}, padding ${padding})`, () => {
      const [x, w, b] = randInputs([[2, 3, 7, 6], [4, 3, 3, 2], [4]], 30 + stride + padding);
      const y = conv2d(x!, w!, b!, { stride, padding });
      const ref = refConv(x!.data, [2, 3, 7, 6], w!.data, [4, 3, 3, 2], b!.data, stride, padding);
      expect(y.size).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) expect(y.data[i]).toBeCloseTo(ref[i]!, 5);
    });
  }

  it("has correct input, filter and bias gradients", () => {
    const [x, w, b] = randInputs([[2, 2, 5, 4], [3, 2, 3, 3], [3]], 33);
    gradcheck((p, q, r) => conv2d(p!, q!, r!, { stride: [2, 1], padding: 1 }), [x!, w!, b!]);
    gradcheck((p, q) => conv2d(p!, q!), [x!, w!]);
  });

  it("fused input ReLU, output ReLU and residual: finite differences, and the same values and gradients as the unfused ops", () => {
    const [x, w, b, r] = randInputs([[2, 3, 5, 4], [3, 3, 3, 3], [3], [2, 3, 5, 4]], 35);
    // inputs kept ≥ 0.1 away from the input ReLU's kink, so a finite difference never straddles it (the output
    // ReLU's kink cannot be avoided that way: it is checked against the unfused composition below)
    x!.data.forEach((v, i) => (x!.data[i] = Math.sign(v) * (0.1 + Math.abs(v))));
    gradcheck((p, q, bb, rr) => conv2d(p!, q!, bb!, { padding: 1, reluInput: true, residual: rr! }), [x!, w!, b!, r!]);
    const weights = tensor(Float32Array.from({ length: x!.size }, (_, i) => Math.sin(i)), x!.shape);
    const grads = (fused: boolean): Float32Array[] => {
      const [p, q, bb, rr] = [x!, w!, b!, r!].map((t) => tensor(t.data.slice(), t.shape).requireGrad());
      const y = fused
        ? conv2d(p!, q!, bb!, { padding: 1, reluInput: true, relu: true, residual: rr! })
        : conv2d(p!.relu(), q!, bb!, { padding: 1 }).add(rr!).relu();
      y.mul(weights).sum().backward();
      return [y.data, p!.grad!.data, q!.grad!.data, bb!.grad!.data, rr!.grad!.data];
    };
    const [fused, plain] = [grads(true), grads(false)];
    for (let t = 0; t < fused.length; t++) {
      for (let i = 0; i < fused[t]!.length; i++) expect(fused[t]![i]).toBeCloseTo(plain[t]![i]!, 5);
    }
    expect(() => conv2d(x!, w!, b!, { padding: 1, residual: x!.slice(1, 0, 2) })).toThrow(/residual \[2, 2, 5, 4\] must have the output's shape \[2, 3, 5, 4\]/);
  });

  it("names both shapes on a channel mismatch", () => {
    expect(() => conv2d(tensor(new Float32Array(16), [1, 1, 4, 4]), tensor(new Float32Array(8), [1, 2, 2, 2]))).toThrow(ShapeError);
    expect(() => conv2d(tensor(new Float32Array(16), [1, 1, 4, 4]), tensor(new Float32Array(8), [1, 2, 2, 2]))).toThrow(/has 1 channels but weight \[1, 2, 2, 2\] expects 2/);
  });
});

describe("pooling", () => {
  const x = tensor(new Float32Array(16).map((_, i) => i), [1, 1, 4, 4]);
  it("max and average pool windows", () => {
    expect(maxPool2d(x, 2).toArray()).toEqual([[[[5, 7], [13, 15]]]]);
    expect(avgPool2d(x, 2).toArray()).toEqual([[[[2.5, 4.5], [10.5, 12.5]]]]);
    expect(maxPool2d(x, 3, { stride: 1, padding: 1 }).shape).toEqual([1, 1, 4, 4]);
  });

  it("have correct gradients", () => {
    const [a] = randInputs([[2, 2, 5, 5]], 34);
    gradcheck((t) => maxPool2d(t!, 2), [a!], { eps: 1e-3 });
    gradcheck((t) => maxPool2d(t!, 3, { stride: 2, padding: 1 }), [a!], { eps: 1e-3 });
    gradcheck((t) => avgPool2d(t!, [2, 3], { stride: 1, padding: 1 }), [a!]);
  });
});

describe("conv2dMaxPool", () => {
  it("gives maxPool2d(conv2d(…))'s output to the bit and its gradients (fused or not), and passes finite differences", () => {
    const [x, w, b] = randInputs([[3, 2, 7, 6], [5, 2, 3, 3], [5]], 37); // (seed 36 puts a pooling tie within a finite-difference step, fused or not)
    const weights = tensor(Float32Array.from({ length: 3 * 5 * 4 * 3 }, (_, i) => Math.cos(i)), [3, 5, 4, 3]);
    const run = (fused: boolean): Float32Array[] => {
      const [p, q, bb] = [x!, w!, b!].map((t) => tensor(t.data.slice(), t.shape).requireGrad());
      const y = fused ? conv2dMaxPool(p!, q!, bb!, { padding: 1 }, 3, { stride: 2, padding: 1 }) : maxPool2d(conv2d(p!, q!, bb!, { padding: 1 }), 3, { stride: 2, padding: 1 });
      y.mul(weights).sum().backward();
      return [y.data, p!.grad!.data, q!.grad!.data, bb!.grad!.data];
    };
    const [fused, plain] = [run(true), run(false)];
    expect(Buffer.from(fused[0]!.buffer).equals(Buffer.from(plain[0]!.buffer))).toBe(true);
    for (let t = 1; t < fused.length; t++) {
      for (let i = 0; i < fused[t]!.length; i++) expect(fused[t]![i]).toBeCloseTo(plain[t]![i]!, 5);
    }
    gradcheck((p, q, bb) => conv2dMaxPool(p!, q!, bb!, { padding: 1 }, 3, { stride: 2, padding: 1 }), [x!, w!, b!], { eps: 1e-3 });
    gradcheck((p, q) => conv2dMaxPool(p!, q!, null, { stride: [1, 2] }, 2), [x!, w!], { eps: 1e-3 });
    expect(() => conv2dMaxPool(x!, w!, b!, { padding: 1 }, 3, { padding: 2 })).toThrow(/padding 2×2 must be at most half the kernel 3×3/);
  });

  it("propagates a NaN or ∞ in its inputs as maxPool2d(conv2d(…)) does", () => {
    const [x, w, b] = randInputs([[2, 3, 9, 9], [4, 3, 3, 3], [4]], 38);
    for (const [t, at, v] of [[x!, 40, Number.NaN], [w!, 5, Number.NaN], [b!, 1, Number.NaN], [x!, 100, Number.POSITIVE_INFINITY]] as const) {
      const saved = t.data[at]!;
      t.data[at] = v;
      const fused = conv2dMaxPool(x!, w!, b!, { padding: 1 }, 3, { stride: 2, padding: 1 }).data;
      const plain = maxPool2d(conv2d(x!, w!, b!, { padding: 1 }), 3, { stride: 2, padding: 1 }).data;
      expect(fused.some((y) => Number.isNaN(y) || !Number.isFinite(y))).toBe(true);
      expect(Array.from(fused)).toEqual(Array.from(plain));
      t.data[at] = saved;
    }
  });
});

describe("maxPool2d with non-finite values", () => {
  it("propagates NaN and handles ±∞ like PyTorch", () => {
    const x = tensor([Number.NaN, 1, -Infinity, 2, Infinity, 3, -Infinity, -Infinity, 5, 6, 7, 8], [1, 3, 2, 2]);
    const y = maxPool2d(x, 2).data;
    expect(Number.isNaN(y[0])).toBe(true);
    expect(y[1]).toBe(Infinity);
    expect(y[2]).toBe(8);
    expect(maxPool2d(tensor([-Infinity, -Infinity, -Infinity, -1], [1, 1, 2, 2]), 2).data[0]).toBe(-1);
  });
});

describe("conv2d where whole kernel columns fall in the padding", () => {
  it("matches a direct convolution and has correct gradients", () => {
    const [x, w] = randInputs([[2, 2, 3, 1], [3, 2, 3, 5]], 40);
    const y = conv2d(x!, w!, null, { padding: 2, stride: [1, 2] });
    const Ho = 3 + 4 - 3 + 1;
    expect(y.shape).toEqual([2, 3, Ho, 1]);
    // direct reference with explicit zero padding
    for (let n = 0; n < 2; n++)
      for (let o = 0; o < 3; o++)
        for (let oh = 0; oh < Ho; oh++) {
          let acc = 0;
          for (let c = 0; c < 2; c++)
            for (let i = 0; i < 3; i++)
              for (let j = 0; j < 5; j++) {
                const ih = oh - 2 + i, iw = j - 2;
                if (ih >= 0 && ih < 3 && iw === 0) acc += x!.data[(n * 2 + c) * 3 + ih]! * w!.data[((o * 2 + c) * 3 + i) * 5 + j]!;
              }
          expect(y.data[(n * 3 + o) * Ho + oh]).toBeCloseTo(acc, 5);
        }
    gradcheck((p, q) => conv2d(p!, q!, null, { padding: 2, stride: [1, 2] }), [x!, w!]);
  });
});
