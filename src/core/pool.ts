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

/** Gives a buffer from acquireBuffer (or any whole Float32Array nobody else references) back for reuse. */
export function releaseBuffer(a: Float32Array): void {
  if (a.length < POOL_MIN_ELEMENTS || a.byteOffset !== 0 || a.length * 4 !== a.buffer.byteLength || pooledBytes + a.byteLength > POOL_MAX_BYTES || pooled.has(a)) return;
  let list = bufferPool.get(a.length);
  if (list === undefined) bufferPool.set(a.length, (list = []));
  list.push(a);
  pooled.add(a);
  pooledBytes += a.byteLength;
}

