// Loaded before every test file: the op families that attach Tensor's methods (x.add(b), x.mean()…), as the
// package entry loads them for users — a test that imports one op module still has every method.
import "../src/core/ops/index.js";
