// The library's public surface: re-exports only, listed where a module also holds internals (the tape's buffer
// pool, kernels' helpers, the strict JSON parser) so those stay private.
export * from "./core/errors.js";
export * from "./core/rng.js";
export * from "./core/config.js";
export * from "./io/atomic.js";
export {
  MAX_HEADER_BYTES, DTYPE_NAMES, isDtype, dtypeBytes, isFloatDtype, readSafetensors, writeSafetensors, loadSafetensorsFile,
  saveSafetensorsFile, toFloat32, fromFloat32, f16ToNumber, numberToF16,
  type Dtype, type DtypeArray, type TensorData, type SafetensorsEntry, type SafetensorsFile, type TensorInput,
} from "./io/safetensors.js";
export * from "./io/rundir.js";
export * from "./core/shape.js";
// tensors: the type, its constructors and grad mode (the tape's buffer pool and result plumbing stay internal)
export {
  Tensor, IntTensor, noGrad, isGradEnabled, tensor, scalar, zeros, ones, full, zerosLike, randn, rand, arange, intTensor, asTensor,
  DEBUG_NAN, type TensorLike,
} from "./core/tensor.js";
export * from "./core/kernels/index.js";
import "./core/ops/index.js"; // attaches the Tensor op methods
export { matmul, linear, type MatmulOptions } from "./core/ops/matmul.js";
export * from "./core/ops/elementwise.js";
export { neg, exp, log, sqrt, abs, pow, square, tanh, relu, sigmoid, gelu, erf } from "./core/ops/unary.js";
export { sum, mean, max, min, argmax } from "./core/ops/reduce.js";
export * from "./core/ops/softmax.js";
export * from "./core/ops/shape.js";
export * from "./core/ops/indexing.js";
export * from "./core/ops/norm.js";
export * from "./core/ops/conv.js";
export * from "./nn/module.js";
export * from "./nn/init.js";
export * from "./nn/activations.js";
export * from "./nn/linear.js";
export * from "./nn/mlp.js";
export * from "./nn/layers.js";
export * from "./nn/attention.js";
export * from "./nn/state.js";
export * from "./optim/state.js";
export * from "./optim/optimizer.js";
export * from "./optim/adam.js";
export * from "./optim/sgd.js";
export * from "./optim/clip.js";
export * from "./optim/schedules.js";
export * as envs from "./envs/index.js";
export * from "./nn/models/lsa.js";
export * from "./nn/models/icl_transformer.js";
export * as icl from "./icl/index.js";
export * from "./nn/models/policy.js";
export * from "./nn/models/mlp_policy.js";
export * from "./nn/models/cnn_policy.js";
export * from "./nn/value_iteration.js";
export * from "./nn/models/planner.js";
export * as rl from "./rl/index.js";
export * as interp from "./interp/index.js";
export * as organisms from "./organisms/index.js";
export * as sweep from "./sweep/index.js";
