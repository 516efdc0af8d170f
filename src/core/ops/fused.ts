// Fused layer ops for the hot path of small policy/value MLPs: act(x·Wᵀ + b) as one tape node. The activation
// runs in place on the GEMM output and its derivative is taken from that output, so a hidden layer costs one
// output buffer instead of two, and backward writes the pre-activation gradient once instead of zero-filling
// and accumulating into a separate buffer. Same arithmetic as linear() followed by the activation op, so the
// values and gradients are bit-identical to the unfused ops.
import { ConfigError, ShapeError } from "../errors.js";
import { shapeStr } from "../shape.js";
import { type Tensor, acquireBuffer, freshGradBuffer, gradBuffer, makeResult, needsGrad, releaseBuffer } from "../tensor.js";
import { fillRows, gemm } from "./matmul.js";
import { addColumnSums } from "./reduce.js";
import { tanhGradColSumsSimd } from "./simd.js";
import { fastExp, tanhArray, tanhGradArray } from "./unary.js";

/** Activations linearAct can fuse: each has a derivative computable from its output alone. */
export type FusedActivation = "tanh" | "relu" | "sigmoid";

export const FUSED_ACTIVATIONS: readonly FusedActivation[] = ["tanh", "relu", "sigmoid"];

export interface LinearActOptions {
  /**
   * The output feeds only later ops of the same graph and nobody else keeps it (an MLP's hidden layer without
   * hooks): its buffer comes from the pool and goes back to it once backward() has freed the graph. Never set
   * this for a tensor the caller may hold on to after backward().
   */
  transient?: boolean;
}

/** Applies the activation in place (same formulas as the tanh/relu/sigmoid ops). */
function activateInPlace(a: Float32Array, n: number, act: FusedActivation): void {
  if (act === "tanh") {
    tanhArray(a, a, n);
  } else if (act === "relu") {
    for (let i = 0; i < n; i++) {
      const v = a[i]!;
      a[i] = v === -Infinity ? 0 : v * +(v > 0) + 0;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = a[i]!;
      if (v >= 0) a[i] = 1 / (1 + fastExp(-v));
      else { const e = fastExp(v); a[i] = e / (1 + e); }
    }
  }
}

/**
 * dz = g · act'(z) from the output y = act(z), written to `dz` (which may be `y` itself). The expressions match
 * the unfused backward rules (which add them to a zeroed buffer), so the values are identical.
 */
function activationGrad(g: Float32Array, y: Float32Array, dz: Float32Array, n: number, act: FusedActivation): void {
  if (act === "tanh") {
    tanhGradArray(g, y, dz, n);
  } else if (act === "relu") {
    // relu's backward tests the input (z > 0), and z > 0 exactly when y > 0
    for (let i = 0; i < n; i++) dz[i] = g[i]! * +(y[i]! > 0);
  } else {
    for (let i = 0; i < n; i++) { const v = y[i]!; dz[i] = g[i]! * v * (1 - v); }
  }
}

/** act(x·Wᵀ + b) with a PyTorch-layout weight [out, in]: x [..., in] → [..., out], one tape node. */
export function linearAct(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, act: FusedActivation, options: LinearActOptions = {}): Tensor {
  if (weight.ndim !== 2) throw new ShapeError(`linearAct: weight must be [out, in], got ${shapeStr(weight.shape)}`);
  const outF = weight.shape[0]!;
  const inF = weight.shape[1]!;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inF) {
    throw new ShapeError(`linearAct: input ${shapeStr(x.shape)} does not end in in_features=${inF} of weight ${shapeStr(weight.shape)}`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF)) {
    throw new ShapeError(`linearAct: bias ${shapeStr(bias.shape)} does not match out_features=${outF} of weight ${shapeStr(weight.shape)}`);
  }
  if (!FUSED_ACTIVATIONS.includes(act)) throw new ConfigError(`linearAct: cannot fuse activation "${String(act)}"`, `use one of ${FUSED_ACTIVATIONS.join(", ")}`);
  const transient = options.transient ?? false;
  const rows = x.size / inF;
  const n = rows * outF;
  const out = transient ? acquireBuffer(n, false) : new Float32Array(n);
  if (bias) fillRows(out, bias.data, rows, outF);
  gemm(x.data, weight.data, out, { m: rows, n: outF, k: inF, transA: false, transB: true, accumulate: !!bias });
  activateInPlace(out, n, act);
  const parents = bias ? [x, weight, bias] : [x, weight];
  return makeResult(`linear+${act}`, out, [...x.shape.slice(0, -1), outF], parents, !needsGrad(x, weight, bias ?? undefined) ? null : (g, final) => {
    // once the graph is freed a transient output is dead: its buffer takes dz and then goes back to the pool
    const inPlace = final && transient;
    const dz = inPlace ? out : acquireBuffer(n, false);
    // tanh with a bias: the bias gradient's column sums are taken in the same SIMD sweep as dz
    const biasDone = act === "tanh" && !!bias && bias.requiresGrad && tanhGradColSumsSimd(g, out, dz, rows, outF, gradBuffer(bias));
    if (!biasDone) activationGrad(g, out, dz, n, act);
    if (x.requiresGrad) {
      const fresh = freshGradBuffer(x);
      gemm(dz, weight.data, fresh ?? x.grad!.data, { m: rows, n: inF, k: outF, transA: false, transB: false, accumulate: fresh === null });
    }
    if (weight.requiresGrad) {
      const fresh = freshGradBuffer(weight);
      gemm(dz, x.data, fresh ?? weight.grad!.data, { m: outF, n: inF, k: rows, transA: true, transB: false, accumulate: fresh === null });
    }
    if (!biasDone && bias && bias.requiresGrad) addColumnSums(dz, rows, outF, gradBuffer(bias));
    releaseBuffer(dz);
  });
}
