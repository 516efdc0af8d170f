// The `js` kernel backend: plain TypeScript, the reference every other backend is tested against. It
// accumulates each output in float64 (more accurate than any f32 kernel) and is written for clarity first,
// with loop orders that keep the inner loop contiguous (~1–2 GFLOP/s).
import { resolveMatmul } from "./args.js";
import { conv2dBackwardReference, conv2dReference, maxPool2dBackwardReference, maxPool2dReference } from "./conv_js.js";
import { jsDensePasses } from "./conv_dense.js";
import { jsGatedGrid } from "./gated_grid.js";
import type { Conv2dArgs, Conv2dGrads, KernelBackend, MatmulArgs, Pool2dArgs } from "./types.js";

export class JsBackend implements KernelBackend {
  readonly name = "js" as const;
  readonly threads = 1;
  readonly densePasses = jsDensePasses;
  readonly gatedGrid = jsGatedGrid;

  /** Plain TypeScript has one thread; any request is accepted and ignored. */
  setThreads(_threads: number): void {}

  matmul(a: Float32Array, b: Float32Array, c: Float32Array, args: MatmulArgs): void {
    const { m, n, k, transA, transB, batch, strideA, strideB, strideC, accumulate } = resolveMatmul(a, b, c, args);
    const row = new Float64Array(n); // one output row, accumulated in float64
    const aRow = new Float64Array(k); // row i of op(A), gathered once per row
    // Batch items run in order, so overlapping outputs (strideC = 0) behave like a loop over the batch.
    for (let t = 0; t < batch; t++) {
      const ao = t * strideA;
      const bo = t * strideB;
      const co = t * strideC;
      for (let i = 0; i < m; i++) {
        for (let p = 0; p < k; p++) aRow[p] = transA ? a[ao + p * m + i]! : a[ao + i * k + p]!;
        if (!transB) {
          // row i of C = Σ_p op(A)[i,p] · B[p,:], contiguous over j
          row.fill(0);
          for (let p = 0; p < k; p++) {
            const aip = aRow[p]!;
            const bp = bo + p * n;
            for (let j = 0; j < n; j++) row[j] = row[j]! + aip * b[bp + j]!;
          }
        } else {
          // B stored n×k: C[i,j] = dot(op(A) row i, B row j), contiguous over p
          for (let j = 0; j < n; j++) {
            const bj = bo + j * k;
            let s = 0;
            for (let p = 0; p < k; p++) s += aRow[p]! * b[bj + p]!;
            row[j] = s;
          }
        }
        const ci = co + i * n;
        if (accumulate) for (let j = 0; j < n; j++) c[ci + j] = c[ci + j]! + row[j]!;
        else for (let j = 0; j < n; j++) c[ci + j] = row[j]!;
      }
    }
  }

  conv2d(x: Float32Array, weight: Float32Array, bias: Float32Array | null, residual: Float32Array | null, y: Float32Array, args: Conv2dArgs): void {
    conv2dReference(x, weight, bias, residual, y, args);
  }

  conv2dBackward(x: Float32Array, weight: Float32Array, y: Float32Array, gy: Float32Array, grads: Conv2dGrads, args: Conv2dArgs): void {
    conv2dBackwardReference(x, weight, y, gy, grads, args);
  }

  maxPool2d(x: Float32Array, y: Float32Array, argmax: Int32Array, args: Pool2dArgs): void {
    maxPool2dReference(x, y, argmax, args);
  }

  maxPool2dBackward(gy: Float32Array, argmax: Int32Array, gx: Float32Array, len: number): void {
    maxPool2dBackwardReference(gy, argmax, gx, len);
  }
}
