// Batched row-major GEMM in WebAssembly SIMD (f32x4), compiled by asc into dist/wasm/matmul.wasm.
// Goto/BLIS structure: B is packed into kc×NR column panels, A into MR×kc row panels (the packing routines
// read A and B in their stored orientation, so NN/NT/TN/TT are all first-class and nothing is transposed
// in memory), and a register-blocked MR×NR micro-kernel runs over the packed panels.
//
// Determinism: every element of C is computed by the same sequence of f32 multiplies and adds whichever
// tile, row range or column range it falls in (kc blocks always start at 0; edge tiles run the full
// micro-kernel on zero-padded panels), so splitting rows/columns/batch items across threads never changes
// a result. The k reduction is never split.
//
// Memory is imported and shared: all pointers are byte offsets chosen by the host (src/core/kernels/wasm.ts),
// including a per-thread scratch area of scratchBytes() bytes. The module keeps no state of its own.

/** rows of the register tile */
const MR: i32 = 6;
/** columns of the register tile (two f32x4 vectors) */
const NR: i32 = 8;
/** depth of one packed block (a kc×NR panel of B stays in L1) */
const KC: i32 = 256;
/** rows of A packed per block (MC×KC floats stay in L2) */
const MC: i32 = 120;
/** columns of B packed per block (KC×NC floats stay in L2) */
const NC: i32 = 1024;

const PACKED_A_BYTES: usize = <usize>(MC * KC) << 2;
const PACKED_B_BYTES: usize = <usize>(KC * NC) << 2;
const TILE_BYTES: usize = <usize>(MR * NR) << 2;

/** Bytes of scratch one thread needs (packed A block, packed B block, one edge tile). */
export function scratchBytes(): i32 {
  return <i32>(PACKED_A_BYTES + PACKED_B_BYTES + TILE_BYTES);
}

/** Register tile width and height, so the host splits work on tile boundaries. */
export function tileRows(): i32 {
  return MR;
}
export function tileCols(): i32 {
  return NR;
}

/**
 * For batch items [batchStart, batchEnd): C_b[rowStart:rowEnd, colStart:colEnd] = op(A_b)·op(B_b) (+ C_b).
 * a, b, c: byte offsets of the first matrices; strides in elements. flags: bit0 transA, bit1 transB,
 * bit2 accumulate. scratch: byte offset of this thread's scratch area.
 */
export function gemmBatch(
  a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, flags: i32,
  batchStart: i32, batchEnd: i32, strideA: i32, strideB: i32, strideC: i32,
  rowStart: i32, rowEnd: i32, colStart: i32, colEnd: i32, scratch: usize,
): void {
  for (let i = batchStart; i < batchEnd; i++) {
    gemm(
      a + (<usize>i * <usize>strideA << 2), b + (<usize>i * <usize>strideB << 2), c + (<usize>i * <usize>strideC << 2),
      m, n, k, flags, rowStart, rowEnd, colStart, colEnd, scratch,
    );
  }
}

// Control block of a parallel product (byte offsets from `ctrl`), shared by the host and its worker. Work is
// cut into chunks along one dimension (batch items, rows or columns, never k); each thread claims chunks with a
// compare-and-swap on WORD = (job sequence << 16) | next chunk, so a late or preempted thread costs nothing but
// its own chunk, and a claim can never land on the next job.
const C_WORD: usize = 0;
const C_DONE: usize = 4;
const C_CHUNKS: usize = 8;
const C_AXIS: usize = 12; // 0 batch items, 1 rows, 2 columns
const C_UNIT: usize = 16; // chunk length along the axis
const C_ARGS: usize = 32; // a, b, c, m, n, k, flags, batch, strideA, strideB, strideC (11 × i32)
/** Bytes of the control block. */
export function controlBytes(): i32 {
  return <i32>C_ARGS + 11 * 4;
}

/** Claims and runs chunks of the posted product until none are left; returns how many this thread ran. */
export function work(ctrl: usize, scratch: usize): i32 {
  let ran = 0;
  while (true) {
    const word = atomic.load<i32>(ctrl + C_WORD);
    const chunk = word & 0xffff;
    if (chunk >= atomic.load<i32>(ctrl + C_CHUNKS)) break;
    // the arguments are read before the claim; a successful claim proves they belong to this job
    const a = load<u32>(ctrl + C_ARGS);
    const b = load<u32>(ctrl + C_ARGS + 4);
    const c = load<u32>(ctrl + C_ARGS + 8);
    const m = load<i32>(ctrl + C_ARGS + 12);
    const n = load<i32>(ctrl + C_ARGS + 16);
    const k = load<i32>(ctrl + C_ARGS + 20);
    const flags = load<i32>(ctrl + C_ARGS + 24);
    const batch = load<i32>(ctrl + C_ARGS + 28);
    const strideA = load<i32>(ctrl + C_ARGS + 32);
    const strideB = load<i32>(ctrl + C_ARGS + 36);
    const strideC = load<i32>(ctrl + C_ARGS + 40);
    const axis = load<i32>(ctrl + C_AXIS);
    const unit = load<i32>(ctrl + C_UNIT);
    if (atomic.cmpxchg<i32>(ctrl + C_WORD, word, word + 1) != word) continue;
    const start = chunk * unit;
    let b0 = 0, b1 = batch, r0 = 0, r1 = m, c0 = 0, c1 = n;
    if (axis == 0) { b0 = start; b1 = min(batch, start + unit); }
    else if (axis == 1) { r0 = start; r1 = min(m, start + unit); }
    else { c0 = start; c1 = min(n, start + unit); }
    gemmBatch(a, b, c, m, n, k, flags, b0, b1, strideA, strideB, strideC, r0, r1, c0, c1, scratch);
    atomic.add<i32>(ctrl + C_DONE, 1);
    ran++;
  }
  return ran;
}

function gemm(
  a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, flags: i32,
  rowStart: i32, rowEnd: i32, colStart: i32, colEnd: i32, scratch: usize,
): void {
  const transA = (flags & 1) != 0;
  const transB = (flags & 2) != 0;
  const accumulate = (flags & 4) != 0;
  if (rowEnd <= rowStart || colEnd <= colStart) return;
  if (k == 0) {
    if (!accumulate) {
      for (let i = rowStart; i < rowEnd; i++) {
        memory.fill(c + ((<usize>i * <usize>n + <usize>colStart) << 2), 0, <usize>(colEnd - colStart) << 2);
      }
    }
    return;
  }
  const packedA = scratch;
  const packedB = scratch + PACKED_A_BYTES;
  const tile = packedB + PACKED_B_BYTES;
  const ldc = <usize>n << 2;
  for (let jc = colStart; jc < colEnd; jc += NC) {
    const nc = min(NC, colEnd - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const overwrite = pc == 0 && !accumulate;
      if (transB) packBTransposed(b, k, pc, kc, jc, nc, packedB);
      else packB(b, n, pc, kc, jc, nc, packedB);
      for (let ic = rowStart; ic < rowEnd; ic += MC) {
        const mc = min(MC, rowEnd - ic);
        if (transA) packATransposed(a, m, pc, kc, ic, mc, packedA);
        else packA(a, k, pc, kc, ic, mc, packedA);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const bp = packedB + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const ap = packedA + (<usize>(ir * kc) << 2);
            const cp = c + <usize>(ic + ir) * ldc + (<usize>(jc + jr) << 2);
            if (mr == MR && nr == NR) {
              microKernel(ap, bp, kc, cp, ldc, overwrite);
            } else {
              microKernel(ap, bp, kc, tile, <usize>NR << 2, true);
              writeEdge(tile, cp, ldc, mr, nr, overwrite);
            }
          }
        }
      }
    }
  }
}

/** MR×NR register tile: C[0:MR, 0:NR] (=|+=) Σ_p Ap[p]ᵀ·Bp[p] over kc packed columns. */
// @ts-ignore: decorator
@inline
function microKernel(ap: usize, bp: usize, kc: i32, c: usize, ldc: usize, overwrite: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  // Two k-steps per iteration (measured: ~30 → ~43 GFLOP/s on Zen 5 under V8); the A values are loaded as
  // vectors and broadcast with lane shuffles, which V8 turns into pshufd (cheaper here than load32_splat).
  let p = 0;
  for (; p + 2 <= kc; p += 2) {
    {
      const b0 = v128.load(bp), b1 = v128.load(bp, 16);
      const a03 = v128.load(ap), a45 = v128.load64_zero(ap, 16);
      let av = i32x4.shuffle(a03, a03, 0, 0, 0, 0);
      c00 = f32x4.add(c00, f32x4.mul(av, b0)); c01 = f32x4.add(c01, f32x4.mul(av, b1));
      av = i32x4.shuffle(a03, a03, 1, 1, 1, 1);
      c10 = f32x4.add(c10, f32x4.mul(av, b0)); c11 = f32x4.add(c11, f32x4.mul(av, b1));
      av = i32x4.shuffle(a03, a03, 2, 2, 2, 2);
      c20 = f32x4.add(c20, f32x4.mul(av, b0)); c21 = f32x4.add(c21, f32x4.mul(av, b1));
      av = i32x4.shuffle(a03, a03, 3, 3, 3, 3);
      c30 = f32x4.add(c30, f32x4.mul(av, b0)); c31 = f32x4.add(c31, f32x4.mul(av, b1));
      av = i32x4.shuffle(a45, a45, 0, 0, 0, 0);
      c40 = f32x4.add(c40, f32x4.mul(av, b0)); c41 = f32x4.add(c41, f32x4.mul(av, b1));
      av = i32x4.shuffle(a45, a45, 1, 1, 1, 1);
      c50 = f32x4.add(c50, f32x4.mul(av, b0)); c51 = f32x4.add(c51, f32x4.mul(av, b1));
    }
    {
      const b0 = v128.load(bp, 32), b1 = v128.load(bp, 48);
      const a03 = v128.load(ap, 24), a45 = v128.load64_zero(ap, 40);
      let av = i32x4.shuffle(a03, a03, 0, 0, 0, 0);
      c00 = f32x4.add(c00, f32x4.mul(av, b0)); c01 = f32x4.add(c01, f32x4.mul(av, b1));
      av = i32x4.shuffle(a03, a03, 1, 1, 1, 1);
      c10 = f32x4.add(c10, f32x4.mul(av, b0)); c11 = f32x4.add(c11, f32x4.mul(av, b1));
      av = i32x4.shuffle(a03, a03, 2, 2, 2, 2);
      c20 = f32x4.add(c20, f32x4.mul(av, b0)); c21 = f32x4.add(c21, f32x4.mul(av, b1));
      av = i32x4.shuffle(a03, a03, 3, 3, 3, 3);
      c30 = f32x4.add(c30, f32x4.mul(av, b0)); c31 = f32x4.add(c31, f32x4.mul(av, b1));
      av = i32x4.shuffle(a45, a45, 0, 0, 0, 0);
      c40 = f32x4.add(c40, f32x4.mul(av, b0)); c41 = f32x4.add(c41, f32x4.mul(av, b1));
      av = i32x4.shuffle(a45, a45, 1, 1, 1, 1);
      c50 = f32x4.add(c50, f32x4.mul(av, b0)); c51 = f32x4.add(c51, f32x4.mul(av, b1));
    }
    ap += <usize>(2 * MR) << 2;
    bp += <usize>(2 * NR) << 2;
  }
  if (p < kc) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16);
    const a03 = v128.load(ap), a45 = v128.load64_zero(ap, 16);
    let av = i32x4.shuffle(a03, a03, 0, 0, 0, 0);
    c00 = f32x4.add(c00, f32x4.mul(av, b0)); c01 = f32x4.add(c01, f32x4.mul(av, b1));
    av = i32x4.shuffle(a03, a03, 1, 1, 1, 1);
    c10 = f32x4.add(c10, f32x4.mul(av, b0)); c11 = f32x4.add(c11, f32x4.mul(av, b1));
    av = i32x4.shuffle(a03, a03, 2, 2, 2, 2);
    c20 = f32x4.add(c20, f32x4.mul(av, b0)); c21 = f32x4.add(c21, f32x4.mul(av, b1));
    av = i32x4.shuffle(a03, a03, 3, 3, 3, 3);
    c30 = f32x4.add(c30, f32x4.mul(av, b0)); c31 = f32x4.add(c31, f32x4.mul(av, b1));
    av = i32x4.shuffle(a45, a45, 0, 0, 0, 0);
    c40 = f32x4.add(c40, f32x4.mul(av, b0)); c41 = f32x4.add(c41, f32x4.mul(av, b1));
    av = i32x4.shuffle(a45, a45, 1, 1, 1, 1);
    c50 = f32x4.add(c50, f32x4.mul(av, b0)); c51 = f32x4.add(c51, f32x4.mul(av, b1));
  }
  if (overwrite) {
    v128.store(c, c00); v128.store(c, c01, 16); c += ldc;
    v128.store(c, c10); v128.store(c, c11, 16); c += ldc;
    v128.store(c, c20); v128.store(c, c21, 16); c += ldc;
    v128.store(c, c30); v128.store(c, c31, 16); c += ldc;
    v128.store(c, c40); v128.store(c, c41, 16); c += ldc;
    v128.store(c, c50); v128.store(c, c51, 16);
  } else {
    v128.store(c, f32x4.add(v128.load(c), c00)); v128.store(c, f32x4.add(v128.load(c, 16), c01), 16); c += ldc;
    v128.store(c, f32x4.add(v128.load(c), c10)); v128.store(c, f32x4.add(v128.load(c, 16), c11), 16); c += ldc;
    v128.store(c, f32x4.add(v128.load(c), c20)); v128.store(c, f32x4.add(v128.load(c, 16), c21), 16); c += ldc;
    v128.store(c, f32x4.add(v128.load(c), c30)); v128.store(c, f32x4.add(v128.load(c, 16), c31), 16); c += ldc;
    v128.store(c, f32x4.add(v128.load(c), c40)); v128.store(c, f32x4.add(v128.load(c, 16), c41), 16); c += ldc;
    v128.store(c, f32x4.add(v128.load(c), c50)); v128.store(c, f32x4.add(v128.load(c, 16), c51), 16);
  }
}

/** Copies the valid mr×nr corner of an edge tile into C (the same f32 add as the full tile's store). */
function writeEdge(tile: usize, c: usize, ldc: usize, mr: i32, nr: i32, overwrite: bool): void {
  for (let i = 0; i < mr; i++) {
    const src = tile + (<usize>(i * NR) << 2);
    const dst = c + <usize>i * ldc;
    for (let j = 0; j < nr; j++) {
      const off = <usize>j << 2;
      const v = load<f32>(src + off);
      store<f32>(dst + off, overwrite ? v : load<f32>(dst + off) + v);
    }
  }
}

/** Packs A[ic:ic+mc, pc:pc+kc] (A stored m×k, row-major) into MR-row panels, zero-padding the last. */
function packA(a: usize, k: i32, pc: i32, kc: i32, ic: i32, mc: i32, out: usize): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    const panel = out + (<usize>(ir * kc) << 2);
    for (let r = 0; r < mr; r++) {
      let src = a + ((<usize>(ic + ir + r) * <usize>k + <usize>pc) << 2);
      let dst = panel + (<usize>r << 2);
      for (let p = 0; p < kc; p++) {
        store<f32>(dst, load<f32>(src));
        src += 4;
        dst += <usize>MR << 2;
      }
    }
    for (let r = mr; r < MR; r++) {
      let dst = panel + (<usize>r << 2);
      for (let p = 0; p < kc; p++) {
        store<f32>(dst, 0);
        dst += <usize>MR << 2;
      }
    }
  }
}

/** Packs op(A)[ic:ic+mc, pc:pc+kc] where A is stored k×m (transA): each packed row of MR is contiguous. */
function packATransposed(a: usize, m: i32, pc: i32, kc: i32, ic: i32, mc: i32, out: usize): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    let dst = out + (<usize>(ir * kc) << 2);
    let src = a + ((<usize>pc * <usize>m + <usize>(ic + ir)) << 2);
    const lda = <usize>m << 2;
    if (mr == MR) {
      for (let p = 0; p < kc; p++) {
        // MR = 6: one 16-byte and one 8-byte copy per packed row
        v128.store(dst, v128.load(src));
        store<u64>(dst, load<u64>(src, 16), 16);
        src += lda;
        dst += <usize>MR << 2;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) {
          store<f32>(dst + (<usize>r << 2), r < mr ? load<f32>(src + (<usize>r << 2)) : 0);
        }
        src += lda;
        dst += <usize>MR << 2;
      }
    }
  }
}

/** Packs B[pc:pc+kc, jc:jc+nc] (B stored k×n, row-major) into NR-column panels, zero-padding the last. */
function packB(b: usize, n: i32, pc: i32, kc: i32, jc: i32, nc: i32, out: usize): void {
  const ldb = <usize>n << 2;
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    let dst = out + (<usize>(jr * kc) << 2);
    let src = b + ((<usize>pc * <usize>n + <usize>(jc + jr)) << 2);
    if (nr == NR) {
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        src += ldb;
        dst += <usize>NR << 2;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let j = 0; j < NR; j++) {
          store<f32>(dst + (<usize>j << 2), j < nr ? load<f32>(src + (<usize>j << 2)) : 0);
        }
        src += ldb;
        dst += <usize>NR << 2;
      }
    }
  }
}

/** Packs op(B)[pc:pc+kc, jc:jc+nc] where B is stored n×k (transB): column j of op(B) is row j of B. */
function packBTransposed(b: usize, k: i32, pc: i32, kc: i32, jc: i32, nc: i32, out: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    const panel = out + (<usize>(jr * kc) << 2);
    for (let j = 0; j < nr; j++) {
      let src = b + ((<usize>(jc + jr + j) * <usize>k + <usize>pc) << 2);
      let dst = panel + (<usize>j << 2);
      // four k-steps at a time: one 16-byte load, four strided stores
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const v = v128.load(src);
        store<f32>(dst, f32x4.extract_lane(v, 0));
        store<f32>(dst, f32x4.extract_lane(v, 1), NR << 2);
        store<f32>(dst, f32x4.extract_lane(v, 2), NR << 3);
        store<f32>(dst, f32x4.extract_lane(v, 3), (NR << 3) + (NR << 2));
        src += 16;
        dst += <usize>NR << 4;
      }
      for (; p < kc; p++) {
        store<f32>(dst, load<f32>(src));
        src += 4;
        dst += <usize>NR << 2;
      }
    }
    for (let j = nr; j < NR; j++) {
      let dst = panel + (<usize>j << 2);
      for (let p = 0; p < kc; p++) {
        store<f32>(dst, 0);
        dst += <usize>NR << 2;
      }
    }
  }
}
