import { describe, expect, it } from "vitest";
import { ShapeError } from "../../../src/core/errors.js";
import { gemm, linear, matmul } from "../../../src/core/ops/matmul.js";
import { Rng } from "../../../src/core/rng.js";
import { tensor } from "../../../src/core/tensor.js";
import { gradcheck, randInputs } from "../gradcheck.js";

/** float64 reference: C = op(A)·op(B) for one matrix */
function refGemm(A: Float32Array, B: Float32Array, m: number, n: number, k: number, tA: boolean, tB: boolean): Float64Array {
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (tA ? A[p * m + i]! : A[i * k + p]!) * (tB ? B[j * k + p]! : B[p * n + j]!);
      C[i * n + j] = s;
    }
  return C;
}

describe("gemm", () => {
  const rng = new Rng(5);
  const sizes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [17, 4, 33], [8, 16, 16], [2, 1, 9]];
  for (const [m, n, k] of sizes)
    for (const tA of [false, true])
      for (const tB of [false, true]) {
        it(`matches a float64 reference for ${m}×${n}×${k} transA=${tA} transB=${tB}, batched and accumulating`, () => {
          const batch = 3;
          const A = rng.fillUniform(new Float32Array(batch * m * k), -1, 1) as Float32Array;
          const B = rng.fillUniform(new Float32Array(k * n), -1, 1) as Float32Array;
          const C = new Float32Array(batch * m * n).fill(0.5);
          gemm(A, B, C, { m, n, k, transA: tA, transB: tB, batch, strideB: 0, accumulate: true });
          for (let b = 0; b < batch; b++) {
            const ref = refGemm(A.subarray(b * m * k), B, m, n, k, tA, tB);
            for (let i = 0; i < m * n; i++) expect(C[b * m * n + i]).toBeCloseTo(ref[i]! + 0.5, 5);
          }
        });
      }
});

describe("matmul", () => {
  it("multiplies 2-D matrices", () => {
    const c = matmul(tensor([[1, 2], [3, 4]]), tensor([[5, 6], [7, 8]]));
    expect(c.toArray()).toEqual([[19, 22], [43, 50]]);
  });

  it("has correct gradients for every transpose variant", () => {
    for (const tA of [false, true])
      for (const tB of [false, true]) {
        const [a, b] = randInputs([tA ? [4, 3] : [3, 4], tB ? [5, 4] : [4, 5]], 2);
        gradcheck((x, y) => matmul(x!, y!, { transA: tA, transB: tB }), [a!, b!]);
      }
  });

  it("has correct gradients when batched, with a broadcast 2-D weight and with partial batch broadcasting", () => {
    const [a, w] = randInputs([[2, 3, 4], [4, 5]], 3);
    gradcheck((x, y) => matmul(x!, y!), [a!, w!]);
    const [p, q] = randInputs([[2, 3, 4], [2, 5, 4]], 4);
    gradcheck((x, y) => matmul(x!, y!, { transB: true }), [p!, q!]);
    const [r, s] = randInputs([[2, 1, 4, 3], [3, 4, 2]], 5);
    gradcheck((x, y) => matmul(x!, y!, { transA: true }), [r!, s!]);
    const [u, v] = randInputs([[3, 4], [2, 4, 3]], 6);
    gradcheck((x, y) => matmul(x!, y!), [u!, v!]);
  });

  it("names the op and both shapes on a mismatch", () => {
    expect(() => matmul(tensor([[1, 2, 3]]), tensor([[1, 2]]))).toThrow(ShapeError);
    expect(() => matmul(tensor([[1, 2, 3]]), tensor([[1, 2]]))).toThrow(/matmul: inner dims differ: \[1, 3\].*\[1, 2\]/);
  });
});

describe("linear", () => {
  it("computes x·Wᵀ + b with a PyTorch-layout weight", () => {
    const y = linear(tensor([[1, 2]]), tensor([[1, 0], [0, 1], [1, 1]]), tensor([10, 20, 30]));
    expect(y.toArray()).toEqual([[11, 22, 33]]);
  });

  it("has correct gradients for input, weight and bias", () => {
    const [x, w, b] = randInputs([[2, 3, 4], [5, 4], [5]], 8);
    gradcheck((p, q, r) => linear(p!, q!, r!), [x!, w!, b!]);
    gradcheck((p, q) => linear(p!, q!), [x!, w!]);
  });

  it("rejects a weight that does not fit", () => {
    expect(() => linear(tensor([[1, 2]]), tensor([[1, 2, 3]]))).toThrow(/linear: input \[1, 2\] does not end in in_features=3/);
  });
});
