// Elementwise SIMD kernels for small-MLP training, compiled by asc into dist/wasm/elementwise.wasm and loaded by
// src/core/ops/simd.ts (which documents their accuracy and bit-identity with the scalar fallbacks).
// f32x4 tanh in place over n floats at ptr (lanes up to the next multiple of 4 are computed too, so the buffer
// must extend that far), and the tanh gradient g·(1 − y²) in float64 lanes, written over g
export function tanhInPlace(ptr: usize, n: i32): void {
  const hi = f32x4.splat(7.90531110763549805);
  const lo = f32x4.splat(-7.90531110763549805);
  const a1 = f32x4.splat(-2.76076847742355e-16 as f32);
  const a3 = f32x4.splat(2.00018790482477e-13 as f32);
  const a5 = f32x4.splat(-8.60467152213735e-11 as f32);
  const a7 = f32x4.splat(5.12229709037114e-8 as f32);
  const a9 = f32x4.splat(1.48572235717979e-5 as f32);
  const a11 = f32x4.splat(6.37261928875436e-4 as f32);
  const a13 = f32x4.splat(4.89352455891786e-3 as f32);
  const b0 = f32x4.splat(1.19825839466702e-6 as f32);
  const b2 = f32x4.splat(1.18534705686654e-4 as f32);
  const b4 = f32x4.splat(2.268434632439e-3 as f32);
  const b6 = f32x4.splat(4.89352518554385e-3 as f32);
  const end = ptr + ((<usize>n) << 2);
  for (let p = ptr; p < end; p += 16) {
    const x = v128.load(p);
    const c = f32x4.pmax(f32x4.pmin(x, hi), lo);
    const x2 = f32x4.mul(c, c);
    let q = f32x4.add(f32x4.mul(a1, x2), a3);
    q = f32x4.add(f32x4.mul(q, x2), a5);
    q = f32x4.add(f32x4.mul(q, x2), a7);
    q = f32x4.add(f32x4.mul(q, x2), a9);
    q = f32x4.add(f32x4.mul(q, x2), a11);
    q = f32x4.add(f32x4.mul(q, x2), a13);
    let d = f32x4.add(f32x4.mul(b0, x2), b2);
    d = f32x4.add(f32x4.mul(d, x2), b4);
    d = f32x4.add(f32x4.mul(d, x2), b6);
    v128.store(p, f32x4.div(f32x4.mul(q, c), d));
  }
}

// g[i] = g[i]·(1 − y[i]²) for n floats (computed in pairs, so an odd n touches one more): float64 arithmetic
// rounded once to float32, the same bits as the scalar JS expression
export function tanhGrad(g: usize, y: usize, n: i32): void {
  const one = f64x2.splat(1.0);
  const end = g + ((<usize>n) << 2);
  for (; g < end; g += 8, y += 8) {
    const gv = f64x2.promote_low_f32x4(v128.load64_zero(g));
    const yv = f64x2.promote_low_f32x4(v128.load64_zero(y));
    v128.store64_lane(g, f32x4.demote_f64x2_zero(f64x2.mul(gv, f64x2.sub(one, f64x2.mul(yv, yv)))), 0);
  }
}

// One Adam step without weight decay over n parameters, four float32 lanes at a time (lanes up to the next
// multiple of 4 are computed too): m ← b1·m + (1 − b1)·g; v ← b2·v + ((1 − b2)·g)·g; p ← p − (s·m)/(√v/c + eps),
// every operation rounded to float32 as PyTorch's float32 Adam does (1 − b1, 1 − b2 formed in float64 first)
export function adam(p: usize, g: usize, m: usize, v: usize, n: i32, b1: f32, b2: f32, c1: f32, c2: f32, stepSize: f32, bc2Sqrt: f32, eps: f32): void {
  const vb1 = f32x4.splat(b1);
  const vb2 = f32x4.splat(b2);
  const vc1 = f32x4.splat(c1);
  const vc2 = f32x4.splat(c2);
  const vs = f32x4.splat(stepSize);
  const vbc = f32x4.splat(bc2Sqrt);
  const veps = f32x4.splat(eps);
  const end = p + ((<usize>n) << 2);
  for (; p < end; p += 16, g += 16, m += 16, v += 16) {
    const gv = v128.load(g);
    const mj = f32x4.add(f32x4.mul(vb1, v128.load(m)), f32x4.mul(vc1, gv));
    const vj = f32x4.add(f32x4.mul(vb2, v128.load(v)), f32x4.mul(f32x4.mul(vc2, gv), gv));
    v128.store(m, mj);
    v128.store(v, vj);
    const upd = f32x4.div(f32x4.mul(vs, mj), f32x4.add(f32x4.div(f32x4.sqrt(vj), vbc), veps));
    v128.store(p, f32x4.sub(v128.load(p), upd));
  }
}

// tanhGrad over whole rows of an even width cols, also adding each column's sum of the (float32-rounded) results
// into float64 accumulators at acc: row order per column, the same bits as a separate column-sum pass in float64
export function tanhGradColSums(g: usize, y: usize, n: i32, cols: i32, acc: usize): void {
  const one = f64x2.splat(1.0);
  const end = g + ((<usize>n) << 2);
  const rowBytes = (<usize>cols) << 2;
  while (g < end) {
    const rowEnd = g + rowBytes;
    for (let a = acc; g < rowEnd; g += 8, y += 8, a += 16) {
      const gv = f64x2.promote_low_f32x4(v128.load64_zero(g));
      const yv = f64x2.promote_low_f32x4(v128.load64_zero(y));
      const d = f32x4.demote_f64x2_zero(f64x2.mul(gv, f64x2.sub(one, f64x2.mul(yv, yv))));
      v128.store64_lane(g, d, 0);
      v128.store(a, f64x2.add(v128.load(a), f64x2.promote_low_f32x4(d)));
    }
  }
}
