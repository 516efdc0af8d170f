// Recycled large buffers, behind the tape, the ops' scratch space and the kernels' temporaries. A fresh
// multi-megabyte Float32Array costs page faults on every use (glibc hands big blocks back to the kernel on free):
// ~1.5 ns per element, more than a relu. Buffers whose lifetime the core controls — intermediate gradients during
// backward() and ops' scratch space (im2col columns) — are recycled by size instead. Op outputs are pooled only
// where the caller declares them transient (nothing outside the graph keeps them: an MLP's or a CNN trunk's inner
// activations without hooks); other outputs may be kept by callers. From 4096 elements (16 KB) up: the gradients
// of a PPO loss over [2048, 15] logits (120 KB) cost ~2 ns per element fresh, and 40% less recycled.
const POOL_MIN_ELEMENTS = 1 << 12;
const POOL_MAX_BYTES = 256 * 1024 * 1024;
const bufferPool = new Map<number, Float32Array[]>();
let pooledBytes = 0;
/** buffers now in the pool: a second release of one is ignored (two owners would then share one buffer) */
const pooled = new WeakSet<Float32Array>();

/** A Float32Array of n elements, recycled when one is free; zeroed only when `zero` is set. */
export function acquireBuffer(n: number, zero: boolean): Float32Array {
  const a = n >= POOL_MIN_ELEMENTS ? bufferPool.get(n)?.pop() : undefined;
  if (a === undefined) return new Float32Array(n);
  pooledBytes -= a.byteLength;
  pooled.delete(a);
  return zero ? a.fill(0) : a;
}

/** Gives a buffer from acquireBuffer or acquireResident (or any whole Float32Array nobody else references) back for reuse. */
export function releaseBuffer(a: Float32Array): void {
  if (residentMemory !== undefined && residentMemory.release(a)) return;
  if (a.length < POOL_MIN_ELEMENTS || a.byteOffset !== 0 || a.length * 4 !== a.buffer.byteLength || pooledBytes + a.byteLength > POOL_MAX_BYTES || pooled.has(a)) return;
  let list = bufferPool.get(a.length);
  if (list === undefined) bufferPool.set(a.length, (list = []));
  list.push(a);
  pooled.add(a);
  pooledBytes += a.byteLength;
}


/**
 * Memory a kernel backend computes in (the wasm backend's heap): transient activations and their gradients
 * placed there are read and written in place by its kernels, with no copy into or out of its memory per call.
 * Blocks must come back through release (releaseBuffer does it); one dropped without release is reclaimed when
 * the garbage collector frees its view.
 */
export interface ResidentMemory {
  /** a view of n floats in the backend's memory (zeroed when asked), or undefined when its budget is spent */
  acquire(n: number, zero: boolean): Float32Array | undefined;
  /** the same for n int32 indices (contents undefined) */
  acquireIndices(n: number): Int32Array | undefined;
  /** takes back a view that acquire or acquireIndices gave; false for any other array */
  release(a: Float32Array | Int32Array): boolean;
  /** whether `a` is a view that acquire gave and that has not been released */
  owns(a: Float32Array): boolean;
}

let residentMemory: ResidentMemory | undefined;

/** Sets (or clears) the memory transient activations live in (the kernel registry does, when wasm loads). */
export function setResidentMemory(memory: ResidentMemory | undefined): void {
  residentMemory = memory;
}

/** A buffer for a transient activation or its gradient: in the resident memory when there is one, else pooled. */
export function acquireResident(n: number, zero: boolean): Float32Array {
  return (n >= POOL_MIN_ELEMENTS ? residentMemory?.acquire(n, zero) : undefined) ?? acquireBuffer(n, zero);
}

/** n int32 indices kept beside a transient activation (a max-pool's argmax): resident when possible. */
export function acquireResidentIndices(n: number): Int32Array {
  return (n >= POOL_MIN_ELEMENTS ? residentMemory?.acquireIndices(n) : undefined) ?? new Int32Array(n);
}

/** Gives back indices from acquireResidentIndices (ordinary arrays are left to the garbage collector). */
export function releaseIndices(a: Int32Array): void {
  residentMemory?.release(a);
}

/** Whether `a` lives in the resident memory (its gradient then goes there too). */
export function isResident(a: Float32Array): boolean {
  return residentMemory !== undefined && residentMemory.owns(a);
}
