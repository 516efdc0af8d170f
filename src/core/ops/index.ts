// The op families that attach Tensor methods (x.add(b), x.matmul(w)…): importing this module loads all of them.
// tensor.ts imports no op; src/index.ts and nn/module.ts (every model) import this, so the methods exist wherever
// tensors are used.
import "./elementwise.js";
import "./unary.js";
import "./reduce.js";
import "./softmax.js";
import "./shape.js";
import "./indexing.js";
import "./matmul.js";
