import { describe, expect, it } from "vitest";
import { DTypeError, ShapeError } from "../../../src/core/errors.js";
import { embedding, gather, indexSelect } from "../../../src/core/ops/indexing.js";
import { intTensor, tensor } from "../../../src/core/tensor.js";
import { gradcheck, randInputs } from "../gradcheck.js";

describe("indexing", () => {
  it("gather picks one entry per row (log-prob of the taken action) or k per row", () => {
    const logp = tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]);
    expect(gather(logp, intTensor([2, 0])).toArray()).toEqual([0.30000001192092896, 0.4000000059604645]);
    expect(gather(logp, intTensor([0, 0, 1, 2], [2, 2])).shape).toEqual([2, 2]);
  });

  it("have correct gradients, with repeated indices accumulating", () => {
    const [x] = randInputs([[4, 3]], 16);
    gradcheck((t) => gather(t!, intTensor([2, 0, 0, 1])), [x!]);
    gradcheck((t) => gather(t!, intTensor([1, 1, 0, 2, 2, 2, 0, 0], [4, 2])), [x!]);
    gradcheck((t) => indexSelect(t!, 0, intTensor([3, 1, 3])), [x!]);
    gradcheck((t) => indexSelect(t!, 1, intTensor([2, 2])), [x!]);
    gradcheck((t) => embedding(t!, intTensor([0, 3, 3, 1], [2, 2])), [x!]);
  });

  it("reject out-of-range and non-integer indices with typed errors", () => {
    const x = tensor([[1, 2]]);
    expect(() => gather(x, intTensor([2]))).toThrow(ShapeError);
    expect(() => gather(x, new Float32Array([0]) as never)).toThrow(DTypeError);
    expect(() => intTensor([0.5])).toThrow(DTypeError);
  });
});
