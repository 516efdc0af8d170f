import { describe, expect, it } from "vitest";
import { ShapeError } from "../../../src/core/errors.js";
import { concat, expand, permute, reshape, slice, stack, transpose } from "../../../src/core/ops/shape.js";
import { tensor } from "../../../src/core/tensor.js";
import { gradcheck, randInputs } from "../gradcheck.js";

describe("shape ops", () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  it("move data as expected", () => {
    expect(reshape(x, [3, -1]).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(transpose(x).toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(slice(x, 1, 1).toArray()).toEqual([[2, 3], [5, 6]]);
    expect(slice(x, 1, -1).toArray()).toEqual([[3], [6]]);
    expect(concat([x, x], 0).shape).toEqual([4, 3]);
    expect(concat([x, tensor([[7], [8]])], 1).toArray()).toEqual([[1, 2, 3, 7], [4, 5, 6, 8]]);
    expect(stack([x, x], 1).shape).toEqual([2, 2, 3]);
    expect(expand(tensor([[1], [2]]), [2, 2]).toArray()).toEqual([[1, 1], [2, 2]]);
    expect(permute(tensor(new Float32Array(24).map((_, i) => i), [2, 3, 4]), [2, 0, 1]).data[1]).toBe(4);
  });

  it("have correct gradients", () => {
    const [a, b] = randInputs([[2, 3, 4], [2, 2, 4]], 14);
    gradcheck((t) => reshape(t!, [6, -1]), [a!]);
    gradcheck((t) => transpose(t!, 0, 2), [a!]);
    gradcheck((t) => permute(t!, [1, 2, 0]), [a!]);
    gradcheck((t) => slice(t!, 1, 1, 3), [a!]);
    gradcheck((t, u) => concat([t!, u!], 1), [a!, b!]);
    gradcheck((t, u) => stack([t!, t!.mul(u!.slice(1, 0, 1))], 0), [a!, b!]);
    const [c] = randInputs([[3, 1]], 15);
    gradcheck((t) => expand(t!, [2, 3, 4]), [c!]);
  });

  it("name the op and the shapes on bad input", () => {
    expect(() => reshape(x, [4, 2])).toThrow(/reshape: \[2, 3\] \(6 elements\) cannot become \[4, 2\]/);
    expect(() => concat([x, tensor([[1, 2]])], 0)).toThrow(ShapeError);
  });
});

describe("permute against a naive index mapping", () => {
  it("matches for shapes with size-1 dims, 1–5 dims and every permutation tried", () => {
    const shapes = [[5], [1, 4], [3, 1, 2], [2, 3, 4], [1, 2, 1, 3], [2, 3, 2, 2, 3], [4, 1, 1, 1]];
    const perms = (n: number): number[][] => (n <= 1 ? [[0]] : perms(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)])));
    for (const shape of shapes) {
      const size = shape.reduce((a, b) => a * b, 1);
      const x = tensor(new Float32Array(size).map((_, i) => i), shape);
      const inStrides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
      for (const perm of perms(shape.length)) {
        const y = permute(x, perm);
        const outShape = perm.map((p) => shape[p]!);
        expect(y.shape).toEqual(outShape);
        for (let flat = 0; flat < size; flat++) {
          let rem = flat;
          let src = 0;
          for (let d = outShape.length - 1; d >= 0; d--) {
            const i = rem % outShape[d]!;
            rem = Math.floor(rem / outShape[d]!);
            src += i * inStrides[perm[d]!]!;
          }
          expect(y.data[flat]).toBe(src);
        }
      }
    }
  });
});
