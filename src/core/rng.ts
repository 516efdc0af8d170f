// The one seeded random number generator of Mesa Lab: xoshiro128** (32-bit state words, fast in JS),
// seeded through a SplitMix32 hash of (seed, ...stream ids) so that streams keyed by different ids are
// independent. Same seed and ids → the same numbers on every machine.

const U32 = 0x1_0000_0000;

/** SplitMix32-style finalizer (Murmur3 fmix32 constants); maps a 32-bit value to a well-mixed 32-bit value. */
export function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Hashes a seed and a list of integer ids (env index, episode, stream name hash…) to one 32-bit key. */
export function hashKey(seed: number, ...ids: readonly number[]): number {
  // seeds up to 2^53 are folded in as two 32-bit halves
  let h = mix32((seed >>> 0) ^ 0x6a09e667);
  h = mix32(h ^ Math.floor(seed / U32));
  for (const id of ids) {
    h = mix32(h ^ (id >>> 0));
    h = mix32(h ^ Math.floor(id / U32));
  }
  return h;
}

/** Hashes a stream name (e.g. "rollout", "init") to a 32-bit id. FNV-1a. */
export function nameId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export type RngState = [number, number, number, number];

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** second normal from the last Box–Muller draw, or NaN */
  private spareNormal = Number.NaN;

  /** A generator for `seed`, optionally on an independent stream keyed by `ids` (numbers or names). */
  constructor(seed: number, ...ids: readonly (number | string)[]) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng seed must be a finite number, got ${seed}`);
    const key = hashKey(Math.floor(Math.abs(seed)), ...ids.map((id) => (typeof id === "string" ? nameId(id) : id)));
    let z = key;
    const next = (): number => {
      z = (z + 0x9e3779b9) >>> 0;
      return mix32(z);
    };
    this.s0 = next() | 0;
    this.s1 = next() | 0;
    this.s2 = next() | 0;
    this.s3 = next() | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** An independent child stream: same seed → same child, different ids → independent children. */
  fork(...ids: readonly (number | string)[]): Rng {
    return new Rng(this.uint32(), ...ids);
  }

  /** Next 32-bit unsigned integer (xoshiro128**). */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0; // unsigned only at the output
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.uint32() / U32;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling). */
  int(n: number): number {
    if (!(n >= 1) || n > U32 || !Number.isInteger(n)) throw new RangeError(`Rng.int(n) needs an integer 1 ≤ n ≤ 2^32, got ${n}`);
    const limit = U32 - (U32 % n);
    let x = this.uint32();
    while (x >= limit) x = this.uint32();
    return x % n;
  }

  /** Standard normal draw (Box–Muller, caching the second value). */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const v = this.spareNormal;
      this.spareNormal = Number.NaN;
      return v;
    }
    let u = this.float();
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fills `out` with N(mean, std²) draws. */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** Fills `out` with U(lo, hi) draws. */
  fillUniform<T extends Float32Array | Float64Array>(out: T, lo = 0, hi = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.float();
    return out;
  }

  /** Shuffles `a` in place (Fisher–Yates). */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** Samples an index from unnormalised non-negative weights. */
  categorical(weights: ArrayLike<number>, offset = 0, count = weights.length - offset): number {
    let total = 0;
    for (let i = 0; i < count; i++) total += weights[offset + i]!;
    let r = this.float() * total;
    for (let i = 0; i < count; i++) {
      r -= weights[offset + i]!;
      if (r < 0) return i;
    }
    return count - 1;
  }

  /** The full state, for checkpoints. */
  getState(): { s: RngState; spareNormal: number | null } {
    return { s: [this.s0, this.s1, this.s2, this.s3], spareNormal: Number.isNaN(this.spareNormal) ? null : this.spareNormal };
  }

  setState(state: { s: RngState; spareNormal: number | null }): this {
    [this.s0, this.s1, this.s2, this.s3] = state.s.map((x) => x | 0) as RngState;
    this.spareNormal = state.spareNormal ?? Number.NaN;
    return this;
  }
}

// Returns a signed int32: state words stay in V8's small-integer range (an unsigned result above 2^31 would be
// boxed as a double and make the generator ~3x slower).
function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
