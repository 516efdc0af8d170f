// Tensors and the tape autograd: a Tensor is a contiguous Float32Array plus a shape; ops record themselves on
// the tape (parents + a backward rule) when grad is enabled and an input requires grad; backward() replays the
// tape in reverse creation order. Index tensors (actions, token ids) are IntTensor (Int32Array + shape).
/**
 * The API in ten lines (every method also exists as a function: `matmul(a, b)`, `add(a, 2)`…):
 *   const x = tensor([[1, 2], [3, 4]]);                  // Float32 [2, 2]; also tensor(float32Array, shape)
 *   const w = randn([3, 2], rng).requireGrad();          // a leaf that collects .grad (zeros/ones/full/rand too)
 *   const y = x.matmul(w, { transB: true }).tanh();      // [2, 3]; batched matmul broadcasts a 2-D weight
 *   const loss = y.sub(1).pow(2).mean();                 // broadcasting binary ops; numbers act as scalars
 *   loss.backward(); w.grad;                              // Tensor [3, 2]; leaf grads add up until zeroGrad
 *   noGrad(() => policy.forward(obs));                    // no tape recorded inside
 *   logp.gather(actions);                                 // logp [B, A], actions IntTensor [B] → [B]
 *   x.sum(-1, true); x.mean(); x.max(1); x.logSoftmax(-1); // axis (or axes) and keepDim
 *   x.reshape([4, -1]); x.transpose(0, 1); x.slice(1, 0, 2); concat([a, b], 0); where(mask, a, b);
 *   x.data; x.shape; x.item(); x.toArray();               // raw Float32Array, shape, scalar value, nested arrays
 */
import { AutogradError, DTypeError, NonFiniteError, ShapeError } from "./errors.js";
import { acquireBuffer, acquireResident, isResident, releaseBuffer } from "./pool.js";
import { type Shape, shapeStr, sizeOf } from "./shape.js";

export { acquireBuffer, releaseBuffer };

/** Set MESA_DEBUG_NAN=1 to check every op's output (and every gradient) for NaN/inf; read once, free when off. */
export const DEBUG_NAN: boolean =
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.["MESA_DEBUG_NAN"] === "1";

let gradEnabled = true;
let nextId = 0;

/** Accumulates into the parents' grads; `final` is true when the graph is freed afterwards (scratch may be recycled). */
export type BackwardFn = (grad: Float32Array, final: boolean) => void;
export type TensorLike = Tensor | number;

export class Tensor {
  readonly data: Float32Array;
  readonly shape: Shape;
  /** whether gradients flow to this tensor (leaves: set with requireGrad(); op results: inherited) */
  requiresGrad = false;
  /** the accumulated gradient (leaves, and non-leaves that called retainGrad()) */
  grad: Tensor | null = null;
  /** @internal creation order on the tape */
  readonly _id: number;
  /** @internal name of the op that produced this tensor ("leaf" otherwise) */
  _op = "leaf";
  /** @internal */
  _parents: readonly Tensor[] | null = null;
  /** @internal accumulates this tensor's grad into its parents' grads */
  _backward: BackwardFn | null = null;
  /** @internal */
  _retainGrad = false;
  /** @internal set when backward() freed this op result's backward rule (no retainGraph): a second pass must fail */
  _graphFreed = false;

  constructor(data: Float32Array, shape: Shape) {
    if (!(data instanceof Float32Array)) {
      throw new DTypeError(`Tensor data must be a Float32Array, got ${(data as object)?.constructor?.name ?? typeof data}`, "use IntTensor for integer indices");
    }
    if (sizeOf(shape) !== data.length) {
      throw new ShapeError(`Tensor: shape ${shapeStr(shape)} holds ${sizeOf(shape)} elements but data has ${data.length}`);
    }
    this.data = data;
    this.shape = shape;
    this._id = nextId++;
  }

  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return this.data.length;
  }
  get isLeaf(): boolean {
    return this._backward === null;
  }

  /** Marks a leaf as requiring grad (parameters); returns this. */
  requireGrad(flag = true): this {
    if (!this.isLeaf) throw new AutogradError(`requireGrad() is for leaf tensors; this one was made by ${this._op}`, "call detach() first to make a new leaf");
    this.requiresGrad = flag;
    return this;
  }

  /** Keeps .grad on this non-leaf after backward() (for saliency and attribution). */
  retainGrad(): this {
    this._retainGrad = true;
    return this;
  }

  /** A leaf sharing this tensor's data, cut from the tape. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /** A leaf with a copy of the data. */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  item(): number {
    if (this.data.length !== 1) throw new ShapeError(`item(): tensor of shape ${shapeStr(this.shape)} has ${this.data.length} elements, not 1`);
    return this.data[0]!;
  }

  /** Nested JS arrays (a number for a 0-d tensor). */
  toArray(): unknown {
    const rec = (d: number, off: number): unknown => {
      if (d === this.shape.length) return this.data[off]!;
      const n = this.shape[d]!;
      const step = sizeOf(this.shape.slice(d + 1));
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) out[i] = rec(d + 1, off + i * step);
      return out;
    };
    return rec(0, 0);
  }

  toString(): string {
    return `Tensor(${shapeStr(this.shape)}${this.requiresGrad ? ", requiresGrad" : ""})`;
  }

  /** Backpropagates from this tensor: a scalar by default, or any shape given its upstream `grad`. */
  backward(grad?: Tensor | Float32Array, options: { retainGraph?: boolean } = {}): void {
    runBackward(this, grad, options.retainGraph ?? false);
  }

  // The op methods (add, matmul, reshape…) are attached by the op families in src/core/ops/ (defineTensorMethods),
  // each beside the function of the same name, so this module imports no op.
}

/**
 * Attaches op methods to Tensor (`x.add(b)` for `add(x, b)`). Each op family in src/core/ops/ calls it once for
 * its own ops and declares their signatures on the Tensor interface beside them; src/core/ops/index.ts loads
 * every family. A name defined twice is a bug in the op families, so it throws.
 */
export function defineTensorMethods(methods: Partial<Tensor> & ThisType<Tensor>): void {
  for (const [name, fn] of Object.entries(methods)) {
    if (Object.prototype.hasOwnProperty.call(Tensor.prototype, name)) throw new Error(`Tensor.${name} is defined by two op families`);
    Object.defineProperty(Tensor.prototype, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }
}

/** Integer tensor for indices (actions, token ids, labels): an Int32Array plus a shape. No gradients. */
export class IntTensor {
  readonly data: Int32Array;
  readonly shape: Shape;
  constructor(data: Int32Array, shape?: Shape) {
    if (!(data instanceof Int32Array)) {
      throw new DTypeError(`IntTensor data must be an Int32Array, got ${(data as object)?.constructor?.name ?? typeof data}`);
    }
    this.shape = shape ?? [data.length];
    if (sizeOf(this.shape) !== data.length) {
      throw new ShapeError(`IntTensor: shape ${shapeStr(this.shape)} holds ${sizeOf(this.shape)} elements but data has ${data.length}`);
    }
    this.data = data;
  }
  get size(): number {
    return this.data.length;
  }
  toString(): string {
    return `IntTensor(${shapeStr(this.shape)})`;
  }
}

/** Runs `fn` without recording ops on the tape (inference, rollouts, target computation). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** True when an op over `inputs` must record a backward rule. Ops use it to skip saving things for backward. */
export function needsGrad(a: Tensor, b?: Tensor, c?: Tensor): boolean {
  return gradEnabled && (a.requiresGrad || (b !== undefined && b.requiresGrad) || (c !== undefined && c.requiresGrad));
}

/**
 * Wraps an op's output: records `backward` on the tape when an input requires grad (and grad is enabled) and,
 * in debug mode, checks the output for NaN/inf. A backward rule must not keep its `grad` argument after it
 * returns: that buffer is recycled (see acquireBuffer).
 */
export function makeResult(op: string, data: Float32Array, shape: Shape, parents: readonly Tensor[], backward: BackwardFn | null): Tensor {
  const t = new Tensor(data, shape);
  // only the op that first makes a NaN/inf is blamed: non-finite values passed through from an input (e.g. −∞
  // logits used as an action mask) are not this op's doing
  if (DEBUG_NAN && !parents.some((p) => !allFinite(p.data))) checkFinite(op, data, "output");
  if (backward !== null && gradEnabled) {
    for (const p of parents) {
      if (p.requiresGrad) {
        t.requiresGrad = true;
        t._op = op;
        t._parents = parents;
        t._backward = backward;
        break;
      }
    }
  }
  return t;
}

/** The grad buffer of `t`, allocated as zeros on first use; backward rules accumulate into it. */
export function gradBuffer(t: Tensor): Float32Array {
  if (t.grad === null) t.grad = new Tensor(t.isLeaf ? new Float32Array(t.data.length) : nonLeafGrad(t, true), t.shape);
  return t.grad.data;
}

/**
 * For a backward rule that overwrites a parent's whole gradient in one go (a GEMM with accumulate off): when the
 * parent has no gradient yet, allocates it without zeroing (pooled for non-leaves) and returns it — the rule must
 * then write every element; returns null when a gradient exists already and must be accumulated into.
 * Saves a zero-fill and a read of every element against gradBuffer + accumulate.
 */
export function freshGradBuffer(t: Tensor): Float32Array | null {
  if (t.grad !== null) return null;
  t.grad = new Tensor(t.isLeaf ? new Float32Array(t.data.length) : nonLeafGrad(t, false), t.shape);
  return t.grad.data;
}

/** A non-leaf's gradient buffer: pooled, and beside its data in the kernels' memory when the data lives there. */
function nonLeafGrad(t: Tensor, zero: boolean): Float32Array {
  return isResident(t.data) ? acquireResident(t.data.length, zero) : acquireBuffer(t.data.length, zero);
}

function allFinite(data: Float32Array): boolean {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) return false;
  }
  return true;
}

export function checkFinite(op: string, data: Float32Array, what: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      throw new NonFiniteError(`${op}: ${what} has ${Number.isNaN(v) ? "NaN" : "inf"} at flat index ${i} (MESA_DEBUG_NAN=1)`, "the op's inputs are printed by re-running with smaller steps; check learning rate, log/div of 0, or exp overflow");
    }
  }
}

function runBackward(root: Tensor, grad: Tensor | Float32Array | undefined, retainGraph: boolean): void {
  if (!root.requiresGrad) {
    throw new AutogradError(
      `backward() on a tensor that does not require grad (made by ${root._op}, shape ${shapeStr(root.shape)})`,
      "mark the parameters with requireGrad() (Module parameters are), and do not compute the loss inside noGrad()",
    );
  }
  if (root._graphFreed) throw graphFreedError(root);
  let seed: Float32Array;
  if (grad === undefined) {
    if (root.data.length !== 1) {
      throw new AutogradError(`backward() without a gradient needs a scalar, but the tensor has shape ${shapeStr(root.shape)}`, "reduce it first (e.g. .mean()) or pass the upstream gradient");
    }
    seed = new Float32Array([1]);
  } else {
    seed = grad instanceof Tensor ? grad.data : grad;
    if (seed.length !== root.data.length) {
      throw new ShapeError(`backward(): gradient has ${seed.length} elements but the tensor has shape ${shapeStr(root.shape)}`);
    }
  }
  // collect the recorded subgraph; creation order is a topological order, so replay by descending id
  const nodes: Tensor[] = [];
  const seen = new Set<number>();
  const stack: Tensor[] = [root];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t._id)) continue;
    seen.add(t._id);
    if (t._graphFreed) throw graphFreedError(t);
    if (t._backward === null) continue;
    nodes.push(t);
    for (const p of t._parents!) if (p.requiresGrad && !seen.has(p._id)) stack.push(p);
  }
  nodes.sort((a, b) => b._id - a._id);
  // a root without a gradient yet takes the seed as it is (a bulk copy: a JS loop adding it into zeros cost ~2 ns
  // per element, a seventh of a conv layer's forward + backward in `bench conv`); else the seed is added
  const fresh = freshGradBuffer(root);
  if (fresh !== null) fresh.set(seed);
  else {
    const g = root.grad!.data;
    for (let i = 0; i < g.length; i++) g[i]! += seed[i]!;
  }
  for (const t of nodes) {
    if (t.grad === null) continue;
    if (DEBUG_NAN) checkFinite(`${t._op} (backward)`, t.grad.data, "gradient");
    const g = t.grad.data;
    t._backward!(g, !retainGraph);
    // (a backward rule may hand the buffer on to its input, setting t.grad to null: then it is not recycled)
    if (t.grad !== null && !t._retainGrad) {
      t.grad = null;
      releaseBuffer(g);
    }
    if (!retainGraph) {
      t._backward = null;
      t._parents = null;
      t._graphFreed = true;
    }
  }
}

/** backward() through a graph an earlier backward() freed: PyTorch's rule, so gradients are never silently lost. */
function graphFreedError(t: Tensor): AutogradError {
  return new AutogradError(
    `backward() through a graph that was already freed: the ${t._op} result (shape ${shapeStr(t.shape)}) was backpropagated through before`,
    "pass { retainGraph: true } to the first backward() to call it again, or recompute the forward pass",
  );
}

// ---- constructors ----

type Nested = number | readonly Nested[];

/** A tensor from nested arrays, a number (0-d), or a flat array/Float32Array with an explicit shape. */
export function tensor(values: Nested | Float32Array | ArrayLike<number>, shape?: Shape): Tensor {
  if (values instanceof Float32Array) return new Tensor(values, shape ?? [values.length]);
  if (typeof values === "number") return new Tensor(new Float32Array([values]), shape ?? []);
  if (shape !== undefined) return new Tensor(Float32Array.from(values as ArrayLike<number>), shape);
  const dims: number[] = [];
  let v: Nested = values as Nested;
  while (Array.isArray(v)) {
    dims.push(v.length);
    v = (v as readonly Nested[])[0] as Nested;
  }
  const flat = (values as unknown as unknown[]).flat(Infinity) as number[];
  return new Tensor(Float32Array.from(flat), dims);
}

export function scalar(v: number): Tensor {
  return new Tensor(new Float32Array([v]), []);
}
export function zeros(shape: Shape): Tensor {
  return new Tensor(new Float32Array(sizeOf(shape)), shape);
}
export function ones(shape: Shape): Tensor {
  return full(shape, 1);
}
export function full(shape: Shape, value: number): Tensor {
  return new Tensor(new Float32Array(sizeOf(shape)).fill(value), shape);
}
export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape);
}
/** N(mean, std²) draws from `rng`. */
export function randn(shape: Shape, rng: { fillNormal(out: Float32Array, mean?: number, std?: number): unknown }, std = 1, mean = 0): Tensor {
  const d = new Float32Array(sizeOf(shape));
  rng.fillNormal(d, mean, std);
  return new Tensor(d, shape);
}
/** U(lo, hi) draws from `rng`. */
export function rand(shape: Shape, rng: { fillUniform(out: Float32Array, lo?: number, hi?: number): unknown }, lo = 0, hi = 1): Tensor {
  const d = new Float32Array(sizeOf(shape));
  rng.fillUniform(d, lo, hi);
  return new Tensor(d, shape);
}
/** 0, 1, …, n-1 as floats. */
export function arange(n: number): Tensor {
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = i;
  return new Tensor(d, [n]);
}
/** An IntTensor from numbers (checked to be integers) or an Int32Array. */
export function intTensor(values: Int32Array | readonly number[], shape?: Shape): IntTensor {
  if (values instanceof Int32Array) return new IntTensor(values, shape);
  for (const v of values) {
    if (!Number.isInteger(v)) throw new DTypeError(`intTensor: ${v} is not an integer`, "indices must be whole numbers");
  }
  return new IntTensor(Int32Array.from(values), shape);
}

/** Numbers become 0-d tensors; tensors pass through. */
export function asTensor(x: TensorLike): Tensor {
  if (typeof x === "number") return scalar(x);
  if (!(x instanceof Tensor)) {
    const v: unknown = x;
    throw new DTypeError(
      `expected a float Tensor or a number, got ${v instanceof IntTensor ? "an IntTensor" : ((v as object | null)?.constructor?.name ?? typeof v)}`,
      v instanceof IntTensor ? "index tensors are for gather/indexSelect/embedding; convert with tensor(Float32Array.from(ids.data), ids.shape)" : undefined,
    );
  }
  return x;
}
