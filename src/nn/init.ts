// Weight initialisers, all drawing from a passed-in Rng: PyTorch's default Linear/Conv init (uniform ±1/√fan_in),
// orthogonal (PPO's layer_init: orthogonal weights with a gain, zero bias), normal and constant.
import type { Rng } from "../core/rng.js";

/** U(-bound, bound) into `out`. */
export function uniformInit(out: Float32Array, rng: Rng, bound: number): Float32Array {
  rng.fillUniform(out, -bound, bound);
  return out;
}

/** PyTorch's default for Linear/Conv weights and biases: U(±1/√fanIn) (kaiming_uniform with a=√5). */
export function defaultInit(out: Float32Array, rng: Rng, fanIn: number): Float32Array {
  return uniformInit(out, rng, fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0);
}

/**
 * A (rows × cols) matrix with orthonormal rows or columns (whichever are fewer) times `gain`, as
 * torch.nn.init.orthogonal_: QR of a Gaussian matrix (modified Gram–Schmidt in float64, run twice for accuracy),
 * signs fixed so R has a positive diagonal.
 */
export function orthogonalInit(out: Float32Array, rng: Rng, rows: number, cols: number, gain = 1): Float32Array {
  const tall = rows >= cols;
  const n = tall ? rows : cols; // length of each vector
  const m = tall ? cols : rows; // number of orthonormal vectors
  const v = new Float64Array(m * n);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  for (let j = 0; j < m; j++) {
    const vj = j * n;
    for (let pass = 0; pass < 2; pass++) {
      for (let q = 0; q < j; q++) {
        const vq = q * n;
        let d = 0;
        for (let i = 0; i < n; i++) d += v[vq + i]! * v[vj + i]!;
        for (let i = 0; i < n; i++) v[vj + i]! -= d * v[vq + i]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += v[vj + i]! * v[vj + i]!;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < n; i++) v[vj + i]! /= norm;
  }
  // vector j is column j of a tall matrix, or row j of a wide one
  for (let j = 0; j < m; j++) {
    for (let i = 0; i < n; i++) {
      const val = gain * v[j * n + i]!;
      if (tall) out[i * cols + j] = val;
      else out[j * cols + i] = val;
    }
  }
  return out;
}
