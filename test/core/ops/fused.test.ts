import { describe, expect, it } from "vitest";
import { ConfigError, ShapeError } from "../../../src/core/errors.js";
import { type FusedActivation, linearAct } from "../../../src/core/ops/fused.js";
import { fillRows, linear } from "../../../src/core/ops/matmul.js";
import { relu, sigmoid, tanh } from "../../../src/core/ops/unary.js";
import { Rng } from "../../../src/core/rng.js";
import { type Tensor, noGrad, tensor } from "../../../src/core/tensor.js";
import { gradcheck, randInputs } from "../gradcheck.js";

const UNFUSED: Record<FusedActivation, (x: Tensor) => Tensor> = { tanh, relu, sigmoid };

/** x [rows, inF], w [outF, inF], b [outF] as fresh leaves requiring grad, values in [−2, 2) */
function leaves(rows: number, inF: number, outF: number, seed: number): [Tensor, Tensor, Tensor] {
  const [x, w, b] = randInputs([[rows, inF], [outF, inF], [outF]], seed, -2, 2);
  return [x!.requireGrad(), w!.requireGrad(), b!.requireGrad()];
}

describe("linearAct", () => {
  for (const act of ["tanh", "relu", "sigmoid"] as const) {
    for (const transient of [false, true]) {
      it(`${act}${transient ? " (transient)" : ""}: values and gradients bit-identical to linear + ${act}`, () => {
        // odd sizes, and x used twice so its gradient accumulates into an existing buffer
        const [x1, w1, b1] = leaves(37, 13, 9, 3);
        const [x2, w2, b2] = leaves(37, 13, 9, 3);
        const seed = tensor(new Rng(9).fillUniform(new Float32Array(37 * 9), -1, 1) as Float32Array, [37, 9]);
        const fused = linearAct(x1, w1, b1, act, { transient });
        const expected = UNFUSED[act](linear(x2, w2, b2));
        expect(fused.data).toEqual(expected.data);
        expect(fused.shape).toEqual([37, 9]);
        fused.mul(seed).sum().add(x1.sum()).backward();
        expected.mul(seed).sum().add(x2.sum()).backward();
        for (const [a, b] of [[x1, x2], [w1, w2], [b1, b2]] as const) expect(a.grad!.data).toEqual(b.grad!.data);
      });
    }
    it(`${act}: finite-difference gradients for x, weight and bias`, () => {
      // (relu: a small step, so no difference quotient straddles the kink at 0)
      gradcheck((x, w, b) => linearAct(x, w, b, act), randInputs([[5, 4], [3, 4], [3]], 11), act === "relu" ? { eps: 1e-3, atol: 5e-3 } : {});
    });
  }

  it("without bias, with batch dims, and with retainGraph (a non-final backward keeps the output intact)", () => {
    const [x, w] = randInputs([[2, 3, 6], [4, 6]], 5);
    const xf = x!.clone().requireGrad(), wf = w!.clone().requireGrad();
    const xu = x!.clone().requireGrad(), wu = w!.clone().requireGrad();
    const fused = linearAct(xf, wf, null, "tanh", { transient: true });
    const expected = tanh(linear(xu, wu));
    expect(fused.shape).toEqual([2, 3, 4]);
    expect(fused.data).toEqual(expected.data);
    const before = fused.data.slice();
    const lf = fused.square().sum();
    lf.backward(undefined, { retainGraph: true });
    expect(fused.data).toEqual(before);
    lf.backward();
    const lu = expected.square().sum();
    lu.backward(undefined, { retainGraph: true });
    lu.backward();
    expect(xf.grad!.data).toEqual(xu.grad!.data);
    expect(wf.grad!.data).toEqual(wu.grad!.data);
  });

  it("records nothing under noGrad and gives the same values", () => {
    const [x, w, b] = leaves(6, 5, 4, 8);
    const y = noGrad(() => linearAct(x, w, b, "relu"));
    expect(y.requiresGrad).toBe(false);
    expect(y.data).toEqual(relu(linear(x, w, b)).data);
  });

  it("rejects mismatched shapes and unknown activations", () => {
    const [x, w, b] = leaves(6, 5, 4, 8);
    expect(() => linearAct(x, tensor(new Float32Array(12), [4, 3]), b, "tanh")).toThrow(ShapeError);
    expect(() => linearAct(x, w, tensor(new Float32Array(3), [3]), "tanh")).toThrow(ShapeError);
    expect(() => linearAct(x, w, b, "gelu" as FusedActivation)).toThrow(ConfigError);
  });
});

describe("fillRows", () => {
  for (const [rows, cols] of [[0, 3], [1, 1], [1, 5], [2, 3], [3, 3], [7, 2], [2048, 15], [33, 64]] as const) {
    it(`repeats a row ${rows} times (${cols} columns) and leaves the rest of the buffer alone`, () => {
      const row = Float32Array.from({ length: cols }, (_, j) => j + 0.5);
      const out = new Float32Array(rows * cols + 3).fill(-1);
      fillRows(out, row, rows, cols);
      for (let r = 0; r < rows; r++) expect(Array.from(out.subarray(r * cols, (r + 1) * cols))).toEqual(Array.from(row));
      expect(Array.from(out.subarray(rows * cols))).toEqual([-1, -1, -1]);
    });
  }
});
