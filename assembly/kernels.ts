// The compute kernels of the `wasm` backend, compiled by asc into dist/wasm/kernels.wasm: a batched row-major
// GEMM in WebAssembly SIMD (f32x4) and the 2-D convolution built on it (im2col per image into a per-thread
// buffer, one GEMM per image, NCHW in and out, bias + residual + ReLU fused in the epilogue).
//
// GEMM:
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
const C_AXIS: usize = 12; // 0 batch items, 1 rows, 2 columns; 3–5 convolution; 6 max-pool planes
const C_UNIT: usize = 16; // chunk length along the axis
const C_ARGS: usize = 32; // a, b, c, m, n, k, flags, batch, strideA, strideB, strideC (11 × i32)
/**
 * Jobs on axes from this one up are the host's (convolution blocks with the host's GEMM, run by JavaScript on
 * both threads, src/core/kernels/wasm.ts): work() leaves them alone.
 */
const AXIS_HOST: i32 = 8;
/** Bytes of the control block: the arguments, then one word the host uses (whether the worker has the host's GEMM). */
export function controlBytes(): i32 {
  return <i32>C_ARGS + 12 * 4;
}

/**
 * Claims and runs chunks of the posted job until none are left; returns how many this thread ran. `thread` (0 the
 * caller, 1 the worker) picks this thread's im2col buffer for convolution jobs.
 */
export function work(ctrl: usize, scratch: usize, thread: i32): i32 {
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
    if (axis >= AXIS_HOST) break;
    if (atomic.cmpxchg<i32>(ctrl + C_WORD, word, word + 1) != word) continue;
    const start = chunk * unit;
    if (axis == 6) {
      // max-pool planes [start, end): a x, b y, c argmax, m planes, n H, k W, flags kh | kw << 8 | sh << 16 |
      // sw << 24, batch ph | pw << 16, strideA Ho, strideB Wo; argmax made flat indices into the whole input
      const end = min(m, start + unit);
      const HW = n * k, HoWo = strideA * strideB;
      const a0 = <usize>c + (<usize>(start * HoWo) << 2), a1 = <usize>c + (<usize>(end * HoWo) << 2);
      maxPool(<usize>a + (<usize>(start * HW) << 2), <usize>b + (<usize>(start * HoWo) << 2), a0, end - start, n, k,
        flags & 0xff, (flags >> 8) & 0xff, (flags >> 16) & 0xff, (flags >> 24) & 0xff, batch & 0xffff, batch >>> 16, strideA, strideB);
      const off = i32x4.splat(start * HW);
      let q = a0;
      for (; q + 16 <= a1; q += 16) v128.store(q, i32x4.add(v128.load(q), off));
      for (; q < a1; q += 4) store<i32>(q, load<i32>(q) + start * HW);
      atomic.add<i32>(ctrl + C_DONE, 1);
      ran++;
      continue;
    }
    if (axis >= 3) {
      // convolution jobs: a is the descriptor; chunks are image ranges (3 forward, 4 input gradient) or
      // filter-gradient column ranges (5)
      if (axis == 3) convForward(a, start, min(batch, start + unit), scratch, thread);
      else if (axis == 4) convBackwardData(a, start, min(batch, start + unit), scratch, thread);
      else convBackwardFilter(a, start, min(batch, start + unit), scratch, thread);
      atomic.add<i32>(ctrl + C_DONE, 1);
      ran++;
      continue;
    }
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

// ---------------------------------------------------------------------------------------------------------------
// 2-D convolution, NCHW input [N, C, H, W], OIHW filter [O, C, kh, kw], NCHW output [N, O, Ho, Wo]:
//   y = relu?(conv(relu?(x), w) + bias + residual)
// Images are processed in blocks of NB (chosen by the host so a block's columns stay in L2). Forward, per block:
// im2col of the (optionally rectified) images into cols [K = C·kh·kw, NB·L] (L = Ho·Wo), one GEMM
// w[O, K]·cols → t[O, NB·L], and one epilogue pass that adds bias and residual, rectifies and writes each
// [O, L] image slice to its NCHW place (the only reorder, fused into a pass that happens anyway). Backward: the
// prologue makes gz = gy ⊙ (y > 0) when the output was rectified, adds gz to the residual gradient and takes the
// bias gradient (float64 row sums); per block, t = gz gathered to [O, NB·L]; the input gradient is
// col2im(wᵀ·t) (masked by x > 0 when the input was rectified); the filter gradient Σ_blocks t·colsᵀ is cut into
// column ranges of K (each range im2cols only its own rows), so every element sums the blocks in the same order
// whatever the thread count.
//
// The host writes a descriptor of i32 slots (byte offsets and sizes); each thread's work area (its columns, then
// its t) is at area + thread·areaBytes.
const D_X: usize = 0;
const D_W: usize = 4;
const D_BIAS: usize = 8;
const D_RES: usize = 12;
const D_Y: usize = 16;
const D_GZ: usize = 20;
const D_GX: usize = 24;
const D_GW: usize = 28;
const D_GB: usize = 32;
const D_GRES: usize = 36;
const D_AREA: usize = 40;
const D_AREA_BYTES: usize = 44;
const D_N: usize = 48;
const D_C: usize = 52;
const D_H: usize = 56;
const D_W_: usize = 60;
const D_O: usize = 64;
const D_KH: usize = 68;
const D_KW: usize = 72;
const D_SH: usize = 76;
const D_SW: usize = 80;
const D_PH: usize = 84;
const D_PW: usize = 88;
const D_HO: usize = 92;
const D_WO: usize = 96;
const D_FLAGS: usize = 100;
const D_NB: usize = 104;
/** byte offset of the gather table of small-image convolutions (see convTable), 16 zero bytes just before it */
const D_TAB: usize = 108;
/** flags: bias present, input rectified, output rectified, residual present */
const F_BIAS: i32 = 1;
const F_RELU_IN: i32 = 2;
const F_RELU_OUT: i32 = 4;
const F_RES: i32 = 8;

/** Zeroes `bytes` bytes at `at`: one bulk memory.fill (the host's TypedArray fill on shared memory is ~40× slower). */
export function zeroFill(at: usize, bytes: usize): void {
  memory.fill(at, 0, bytes);
}

/** Bytes of a convolution descriptor. */
export function convDescriptorBytes(): i32 {
  return <i32>D_TAB + 4;
}

/**
 * Outputs narrower than this many columns im2col and col2im through a gather table (one entry per column of an
 * image's cols: where it reads), as their rows are too short for the run-by-run copies to pay — except "same"
 * convolutions (stride 1, output the input's size), whose bulk shifted copy beats the table at every width
 * (maze-cheese's 5×5 block, 32 channels, batch 512 fwd+bwd: 36 ms against 98).
 */
const TABLE_MAX_WO: i32 = 8;

/** Whether this call's im2col and col2im go through the gather table. */
// @ts-ignore: decorator
@inline
function usesTable(d: usize): bool {
  return dget(d, D_WO) < TABLE_MAX_WO && !isSame(d);
}

/**
 * Bytes of the table area of a call with output width wo: the gather table (K·L i32 entries) when it may use one,
 * and room for a "same" convolution's column masks (kw·L i32 entries, see convTable); 0 when it needs neither.
 */
export function convTableBytes(k: i32, l: i32, wo: i32, kw: i32, same: bool): i32 {
  return max(wo < TABLE_MAX_WO ? k * l * 4 : 0, same ? kw * l * 4 : 0);
}

/** Whether this call is a "same" convolution: stride 1, output the size of the input. */
// @ts-ignore: decorator
@inline
function isSame(d: usize): bool {
  return dget(d, D_SH) == 1 && dget(d, D_SW) == 1 && dget(d, D_HO) == dget(d, D_H) && dget(d, D_WO) == dget(d, D_W_);
}

/**
 * Builds the gather table when this call uses one: entry r·L + l is the byte offset within an image of the input
 * element that cols row r (= (c·kh + i)·kw + j) reads for output position l, or −1 where the window reads padding.
 */
export function convTable(d: usize): void {
  if (isSame(d)) {
    // a "same" convolution's column masks instead: entry j·L + l is all ones where tap column j of output position
    // l reads inside the image's row (its column ow + j − pw lies in [0, W)), 0 where the shifted copy wrapped
    const W = dget(d, D_W_), kw = dget(d, D_KW), pw = dget(d, D_PW), L = dget(d, D_HO) * W;
    let m = <usize>dget(d, D_TAB);
    for (let j = 0; j < kw; j++) {
      for (let l = 0; l < L; l++, m += 4) {
        const iw = l % W + j - pw;
        store<i32>(m, iw >= 0 && iw < W ? -1 : 0);
      }
    }
    return;
  }
  if (!usesTable(d)) return;
  const C = dget(d, D_C), H = dget(d, D_H), W = dget(d, D_W_), kh = dget(d, D_KH), kw = dget(d, D_KW);
  const sh = dget(d, D_SH), sw = dget(d, D_SW), ph = dget(d, D_PH), pw = dget(d, D_PW);
  const Ho = dget(d, D_HO), Wo = dget(d, D_WO);
  let q = <usize>dget(d, D_TAB);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        for (let oh = 0; oh < Ho; oh++) {
          const ih = oh * sh - ph + i;
          for (let ow = 0; ow < Wo; ow++, q += 4) {
            const iw = ow * sw - pw + j;
            store<i32>(q, ih >= 0 && ih < H && iw >= 0 && iw < W ? ((c * H + ih) * W + iw) << 2 : -1);
          }
        }
      }
    }
  }
}

/** im2colBlock through the gather table: padding reads the 16 zero bytes just before the table. */
function im2colTable(d: usize, n0: i32, count: i32, r0: i32, r1: i32, cols: usize): void {
  const L = dget(d, D_HO) * dget(d, D_WO);
  const imageBytes = <usize>(dget(d, D_C) * dget(d, D_H) * dget(d, D_W_)) << 2;
  const reluIn = (dget(d, D_FLAGS) & F_RELU_IN) != 0;
  const tab = <usize>dget(d, D_TAB);
  const zero = tab - 16;
  const x0 = <usize>dget(d, D_X) + <usize>n0 * imageBytes;
  let o = cols + (<usize>(r0 * count * L) << 2);
  for (let r = r0; r < r1; r++) {
    const row = tab + (<usize>(r * L) << 2);
    const rowEnd = row + (<usize>L << 2);
    let x = x0;
    for (let img = 0; img < count; img++, x += imageBytes) {
      if (reluIn) {
        for (let t = row; t < rowEnd; t += 4, o += 4) {
          const off = load<i32>(t);
          store<f32>(o, max(load<f32>(select<usize>(zero, x + <usize>off, off < 0)), 0));
        }
      } else {
        for (let t = row; t < rowEnd; t += 4, o += 4) {
          const off = load<i32>(t);
          store<f32>(o, load<f32>(select<usize>(zero, x + <usize>off, off < 0)));
        }
      }
    }
  }
}

/** col2imBlock through the gather table: padding entries add into `trash` (this thread's own 16 bytes). */
function col2imTable(d: usize, n0: i32, count: i32, cols: usize, trash: usize): void {
  const K = dget(d, D_C) * dget(d, D_KH) * dget(d, D_KW);
  const L = dget(d, D_HO) * dget(d, D_WO);
  const imageBytes = <usize>(dget(d, D_C) * dget(d, D_H) * dget(d, D_W_)) << 2;
  const reluIn = (dget(d, D_FLAGS) & F_RELU_IN) != 0;
  const tab = <usize>dget(d, D_TAB);
  const zero = tab - 16;
  const x0 = <usize>dget(d, D_X) + <usize>n0 * imageBytes;
  const gx0 = <usize>dget(d, D_GX) + <usize>n0 * imageBytes;
  let o = cols;
  for (let r = 0; r < K; r++) {
    const row = tab + (<usize>(r * L) << 2);
    const rowEnd = row + (<usize>L << 2);
    let gx = gx0;
    let x = x0;
    for (let img = 0; img < count; img++, gx += imageBytes, x += imageBytes) {
      if (reluIn) {
        for (let t = row; t < rowEnd; t += 4, o += 4) {
          const off = load<i32>(t);
          const pad = off < 0;
          const at = select<usize>(trash, gx + <usize>off, pad);
          const keep = load<f32>(select<usize>(zero, x + <usize>off, pad)) > 0;
          store<f32>(at, load<f32>(at) + select<f32>(load<f32>(o), 0, keep));
        }
      } else {
        for (let t = row; t < rowEnd; t += 4, o += 4) {
          const off = load<i32>(t);
          const at = select<usize>(trash, gx + <usize>off, off < 0);
          store<f32>(at, load<f32>(at) + load<f32>(o));
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function dget(d: usize, slot: usize): i32 {
  return load<i32>(d + slot);
}

/** The first output column ow ≥ 0 with ow·stride − pad + offset ≥ 0. */
// @ts-ignore: decorator
@inline
function insideLo(offset: i32, pad: i32, stride: i32): i32 {
  const t = pad - offset;
  return t <= 0 ? 0 : (t + stride - 1) / stride;
}

/** One past the last output column (≤ outSize) with ow·stride − pad + offset ≤ size − 1. */
// @ts-ignore: decorator
@inline
function insideHi(offset: i32, pad: i32, stride: i32, size: i32, outSize: i32): i32 {
  const t = size - 1 + pad - offset;
  return t < 0 ? 0 : min(outSize, t / stride + 1);
}

/** Copies (rectifying when relu) `count` floats from src, `step` bytes apart, to consecutive floats at dst. */
// @ts-ignore: decorator
@inline
function gatherRun(dst: usize, src: usize, count: i32, step: usize, relu: bool): void {
  const end = dst + (<usize>count << 2);
  if (step == 4) {
    if (relu) {
      const zero = f32x4.splat(0);
      for (; dst + 16 <= end; dst += 16, src += 16) v128.store(dst, f32x4.max(v128.load(src), zero));
      for (; dst < end; dst += 4, src += 4) store<f32>(dst, max(load<f32>(src), 0));
    } else {
      for (; dst + 16 <= end; dst += 16, src += 16) v128.store(dst, v128.load(src));
      for (; dst < end; dst += 4, src += 4) store<f32>(dst, load<f32>(src));
    }
  } else if (relu) {
    for (; dst < end; dst += 4, src += step) store<f32>(dst, max(load<f32>(src), 0));
  } else {
    for (; dst < end; dst += 4, src += step) store<f32>(dst, load<f32>(src));
  }
}

/** Row r = (c·kh + i)·kw + j of a "same" convolution's cols reads its plane shifted by s = (i − ph)·W + (j − pw). */
// @ts-ignore: decorator
@inline
function sameShift(r: i32, khw: i32, kw: i32, ph: i32, pw: i32, W: i32): i32 {
  const rem = r % khw;
  const i = rem / kw;
  return (i - ph) * W + (rem - i * kw - pw);
}

/** A "same" convolution's cols row shifted by s reads its plane over [lo, hi): lo in bytes. */
// @ts-ignore: decorator
@inline
function sameLoBytes(shift: i32, L: i32): usize {
  return <usize>min(L, max(0, -shift)) << 2;
}

/** hi in bytes (see sameLoBytes): positions l with l + s < L, never below lo. */
// @ts-ignore: decorator
@inline
function sameHiBytes(shift: i32, L: i32): usize {
  return <usize>max(min(L, max(0, -shift)), min(L, L - shift)) << 2;
}

/**
 * im2colBlock of a "same" convolution: row r = (c, i, j) of an image's cols is plane c shifted by
 * s = (i − ph)·W + (j − pw): over [lo, hi), the positions l whose source l + s lies in the plane, the copy masked
 * by tap column j's mask (zero where the shift wrapped around a row edge); zeros before lo and from hi. One
 * f32x4 pass per image slice, no per-row work (the slices are L floats, not 16-byte aligned: scalar ends).
 */
function im2colSame(d: usize, n0: i32, count: i32, r0: i32, r1: i32, cols: usize): void {
  const C = dget(d, D_C), H = dget(d, D_H), W = dget(d, D_W_), kh = dget(d, D_KH), kw = dget(d, D_KW);
  const ph = dget(d, D_PH), pw = dget(d, D_PW);
  const reluIn = (dget(d, D_FLAGS) & F_RELU_IN) != 0;
  const L = H * W;
  const khw = kh * kw;
  const imageBytes = <usize>(C * L) << 2;
  const lB = <usize>L << 2;
  const x = <usize>dget(d, D_X) + <usize>n0 * imageBytes;
  const tab = <usize>dget(d, D_TAB);
  const zero = f32x4.splat(0);
  for (let r = r0; r < r1; r++) {
    const c = r / khw;
    const shift = sameShift(r, khw, kw, ph, pw, W);
    const loB = sameLoBytes(shift, L);
    const hiB = sameHiBytes(shift, L);
    const mask = tab + (<usize>(r % kw * L) << 2); // tap column j = r mod kw
    let o = cols + (<usize>(r * count * L) << 2);
    // src + 4·l reads plane element l + shift (only for l in [lo, hi))
    let src = x + (<usize>(c * L) << 2) + (<usize>shift << 2);
    for (let img = 0; img < count; img++, o += lB, src += imageBytes) {
      let p: usize = 0;
      for (; p + 16 <= loB; p += 16) v128.store(o + p, zero);
      for (; p < loB; p += 4) store<f32>(o + p, 0);
      if (reluIn) {
        for (; p + 16 <= hiB; p += 16) v128.store(o + p, v128.and(f32x4.max(v128.load(src + p), zero), v128.load(mask + p)));
        for (; p < hiB; p += 4) store<i32>(o + p, reinterpret<i32>(max<f32>(load<f32>(src + p), 0)) & load<i32>(mask + p));
      } else {
        for (; p + 16 <= hiB; p += 16) v128.store(o + p, v128.and(v128.load(src + p), v128.load(mask + p)));
        for (; p < hiB; p += 4) store<i32>(o + p, load<i32>(src + p) & load<i32>(mask + p));
      }
      for (; p + 16 <= lB; p += 16) v128.store(o + p, zero);
      for (; p < lB; p += 4) store<f32>(o + p, 0);
    }
  }
}

/**
 * col2imBlock of a "same" convolution, the adjoint of im2colSame: gx's plane c (shifted by s) += cols row
 * (c, i, j) over [lo, hi), masked by tap column j's mask (and by x > 0 when the input was rectified); rows and
 * images in the same order as the general path, so the sums round alike.
 */
function col2imSame(d: usize, n0: i32, count: i32, cols: usize): void {
  const C = dget(d, D_C), H = dget(d, D_H), W = dget(d, D_W_), kh = dget(d, D_KH), kw = dget(d, D_KW);
  const ph = dget(d, D_PH), pw = dget(d, D_PW);
  const reluIn = (dget(d, D_FLAGS) & F_RELU_IN) != 0;
  const L = H * W;
  const K = C * kh * kw;
  const khw = kh * kw;
  const imageBytes = <usize>(C * L) << 2;
  const lB = <usize>L << 2;
  const at0 = <usize>n0 * imageBytes;
  const x = <usize>dget(d, D_X) + at0, gx = <usize>dget(d, D_GX) + at0;
  const tab = <usize>dget(d, D_TAB);
  const zero = f32x4.splat(0);
  for (let r = 0; r < K; r++) {
    const c = r / khw;
    const shift = sameShift(r, khw, kw, ph, pw, W);
    const loB = sameLoBytes(shift, L);
    const hiB = sameHiBytes(shift, L);
    const mask = tab + (<usize>(r % kw * L) << 2); // tap column j = r mod kw
    let src = cols + (<usize>(r * count * L) << 2);
    const planeShift = (<usize>(c * L) << 2) + (<usize>shift << 2);
    let dst = gx + planeShift;
    let xs = x + planeShift;
    for (let img = 0; img < count; img++, src += lB, dst += imageBytes, xs += imageBytes) {
      let p = loB;
      if (reluIn) {
        for (; p + 16 <= hiB; p += 16) {
          const v = v128.and(v128.and(v128.load(src + p), v128.load(mask + p)), f32x4.gt(v128.load(xs + p), zero));
          v128.store(dst + p, f32x4.add(v128.load(dst + p), v));
        }
        for (; p < hiB; p += 4) {
          const v = reinterpret<f32>(load<i32>(src + p) & load<i32>(mask + p));
          store<f32>(dst + p, load<f32>(dst + p) + select<f32>(v, 0, load<f32>(xs + p) > 0));
        }
      } else {
        for (; p + 16 <= hiB; p += 16) v128.store(dst + p, f32x4.add(v128.load(dst + p), v128.and(v128.load(src + p), v128.load(mask + p))));
        for (; p < hiB; p += 4) store<f32>(dst + p, load<f32>(dst + p) + reinterpret<f32>(load<i32>(src + p) & load<i32>(mask + p)));
      }
    }
  }
}

/**
 * cols[r, j·L + oh·Wo + ow] for rows r in [r0, r1) (r = (c·kh + i)·kw + j') and images n0 + j, j < count:
 * x[n0 + j, c, oh·sh − ph + i, ow·sw − pw + j'] (0 outside the image), rectified when the input is.
 */
function im2colBlock(d: usize, n0: i32, count: i32, r0: i32, r1: i32, cols: usize): void {
  if (isSame(d)) {
    im2colSame(d, n0, count, r0, r1, cols);
    return;
  }
  if (usesTable(d)) {
    im2colTable(d, n0, count, r0, r1, cols);
    return;
  }
  const C = dget(d, D_C), H = dget(d, D_H), W = dget(d, D_W_), kh = dget(d, D_KH), kw = dget(d, D_KW);
  const sh = dget(d, D_SH), sw = dget(d, D_SW), ph = dget(d, D_PH), pw = dget(d, D_PW);
  const Ho = dget(d, D_HO), Wo = dget(d, D_WO);
  const reluIn = (dget(d, D_FLAGS) & F_RELU_IN) != 0;
  const x = <usize>dget(d, D_X);
  const L = Ho * Wo;
  const khw = kh * kw;
  const imageBytes = <usize>(C * H * W) << 2;
  const rowBytes = <usize>Wo << 2;
  const step = <usize>sw << 2;
  // "same" convolutions (stride 1, output the size of the input): each row of cols is the image plane shifted by
  // (i − ph)·W + (j − pw), so one masked bulk copy (the column mask zeroes where the shift wrapped around a row edge)
  if (isSame(d)) {
    im2colSame(d, n0, count, r0, r1, cols);
    return;
  }
  for (let r = r0; r < r1; r++) {
    const c = r / khw;
    const rem = r - c * khw;
    const i = rem / kw;
    const j = rem - i * kw;
    const owLo = insideLo(j, pw, sw);
    const owHi = max(owLo, insideHi(j, pw, sw, W, Wo));
    const ohLo = insideLo(i, ph, sh);
    const ohHi = max(ohLo, insideHi(i, ph, sh, H, Ho));
    const run = owHi - owLo;
    let o = cols + (<usize>(r * count * L) << 2);
    let plane = x + <usize>n0 * imageBytes + (<usize>(c * H * W) << 2);
    for (let img = 0; img < count; img++, plane += imageBytes) {
      // rows of the window above and below the image are zero; inside, zero margins around a copied run
      if (ohLo > 0) memory.fill(o, 0, <usize>ohLo * rowBytes);
      let src = plane + (<usize>((ohLo * sh - ph + i) * W + owLo * sw - pw + j) << 2);
      let dst = o + <usize>ohLo * rowBytes;
      for (let oh = ohLo; oh < ohHi; oh++, dst += rowBytes, src += <usize>(sh * W) << 2) {
        for (let ow = 0; ow < owLo; ow++) store<f32>(dst + (<usize>ow << 2), 0);
        if (run > 0) gatherRun(dst + (<usize>owLo << 2), src, run, step, reluIn);
        for (let ow = owHi; ow < Wo; ow++) store<f32>(dst + (<usize>ow << 2), 0);
      }
      if (ohHi < Ho) memory.fill(dst, 0, <usize>(Ho - ohHi) * rowBytes);
      o += <usize>L << 2;
    }
  }
}

/** gx[n0 + j] += the adjoint of im2colBlock applied to cols (all K rows), masked by x > 0 when the input is rectified. */
function col2imBlock(d: usize, n0: i32, count: i32, cols: usize, trash: usize): void {
  if (isSame(d)) {
    col2imSame(d, n0, count, cols);
    return;
  }
  if (usesTable(d)) {
    col2imTable(d, n0, count, cols, trash);
    return;
  }
  const C = dget(d, D_C), H = dget(d, D_H), W = dget(d, D_W_), kh = dget(d, D_KH), kw = dget(d, D_KW);
  const sh = dget(d, D_SH), sw = dget(d, D_SW), ph = dget(d, D_PH), pw = dget(d, D_PW);
  const Ho = dget(d, D_HO), Wo = dget(d, D_WO);
  const reluIn = (dget(d, D_FLAGS) & F_RELU_IN) != 0;
  const x = <usize>dget(d, D_X), gx = <usize>dget(d, D_GX);
  const L = Ho * Wo;
  const K = C * kh * kw;
  const khw = kh * kw;
  const imageBytes = <usize>(C * H * W) << 2;
  const step = <usize>sw << 2;
  for (let r = 0; r < K; r++) {
    const c = r / khw;
    const rem = r - c * khw;
    const i = rem / kw;
    const j = rem - i * kw;
    const owLo = insideLo(j, pw, sw);
    const owHi = max(owLo, insideHi(j, pw, sw, W, Wo));
    const ohLo = insideLo(i, ph, sh);
    const ohHi = max(ohLo, insideHi(i, ph, sh, H, Ho));
    if (owLo >= owHi || ohLo >= ohHi) continue;
    let o = cols + (<usize>(r * count * L) << 2);
    for (let img = 0; img < count; img++, o += <usize>L << 2) {
      const planeOff = <usize>(n0 + img) * imageBytes + (<usize>(c * H * W) << 2);
      for (let oh = ohLo; oh < ohHi; oh++) {
        const rowOff = planeOff + (<usize>((oh * sh - ph + i) * W + owLo * sw - pw + j) << 2);
        let dst = gx + rowOff;
        let src = o + (<usize>(oh * Wo + owLo) << 2);
        const end = o + (<usize>(oh * Wo + owHi) << 2);
        if (reluIn) {
          let xs = x + rowOff;
          for (; src < end; src += 4, dst += step, xs += step) {
            store<f32>(dst, load<f32>(dst) + select<f32>(load<f32>(src), 0, load<f32>(xs) > 0));
          }
        } else if (step == 4) {
          for (; src + 16 <= end; src += 16, dst += 16) v128.store(dst, f32x4.add(v128.load(dst), v128.load(src)));
          for (; src < end; src += 4, dst += 4) store<f32>(dst, load<f32>(dst) + load<f32>(src));
        } else {
          for (; src < end; src += 4, dst += step) store<f32>(dst, load<f32>(dst) + load<f32>(src));
        }
      }
    }
  }
}

/** t[o, j·L + l] = gz[n0 + j, o, l] for j < count: one block of the output gradient in the GEMM's layout. */
function gatherGrad(d: usize, n0: i32, count: i32, t: usize): void {
  const O = dget(d, D_O), L = dget(d, D_HO) * dget(d, D_WO);
  const gz = <usize>dget(d, D_GZ);
  const sliceBytes = <usize>L << 2;
  for (let o = 0; o < O; o++) {
    let dst = t + (<usize>(o * count * L) << 2);
    let src = gz + (<usize>((n0 * O + o) * L) << 2);
    for (let img = 0; img < count; img++, dst += sliceBytes, src += <usize>(O * L) << 2) gatherRun(dst, src, L, 4, false);
  }
}

/** Forward for blocks [b0, b1). */
export function convForward(d: usize, b0: i32, b1: i32, scratch: usize, thread: i32): void {
  const N = dget(d, D_N), C = dget(d, D_C), O = dget(d, D_O), NB = dget(d, D_NB);
  const K = C * dget(d, D_KH) * dget(d, D_KW);
  const L = dget(d, D_HO) * dget(d, D_WO);
  const area = <usize>dget(d, D_AREA) + <usize>thread * <usize>dget(d, D_AREA_BYTES);
  const cols = area;
  const t = area + (<usize>(K * NB * L) << 2);
  const w = <usize>dget(d, D_W);
  for (let blk = b0; blk < b1; blk++) {
    const n0 = blk * NB;
    const count = min(NB, N - n0);
    im2colBlock(d, n0, count, 0, K, cols);
    gemm(w, cols, t, O, count * L, K, 0, 0, O, 0, count * L, scratch);
    convEpilogue(d, n0, count, t);
  }
}

/**
 * The forward epilogue of one block: y[n0 + j, o, :] = relu?((t[o, j·L : (j+1)·L] + bias[o]) + residual), for
 * j < count. Exported so a host with its own GEMM (the blas backend) can run im2col → GEMM → epilogue itself.
 */
export function convEpilogue(d: usize, n0: i32, count: i32, t: usize): void {
  const O = dget(d, D_O);
  const L = dget(d, D_HO) * dget(d, D_WO);
  const flags = dget(d, D_FLAGS);
  const bias = <usize>dget(d, D_BIAS), res = <usize>dget(d, D_RES), y = <usize>dget(d, D_Y);
  const hasBias = (flags & F_BIAS) != 0, hasRes = (flags & F_RES) != 0, reluOut = (flags & F_RELU_OUT) != 0;
  const zero = f32x4.splat(0);
  const sliceBytes = <usize>L << 2;
  for (let o = 0; o < O; o++) {
    const bv = hasBias ? load<f32>(bias + (<usize>o << 2)) : <f32>0;
    const b4 = f32x4.splat(bv);
    let src = t + (<usize>(o * count * L) << 2);
    for (let img = 0; img < count; img++) {
      const at = (<usize>((n0 + img) * O + o) * L) << 2;
      let dst = y + at;
      let rp = res + at;
      const end = src + sliceBytes;
      for (; src + 16 <= end; src += 16, dst += 16, rp += 16) {
        let v = f32x4.add(v128.load(src), b4);
        if (hasRes) v = f32x4.add(v, v128.load(rp));
        if (reluOut) v = f32x4.max(v, zero);
        v128.store(dst, v);
      }
      for (; src < end; src += 4, dst += 4, rp += 4) {
        let v = load<f32>(src) + bv;
        if (hasRes) v += load<f32>(rp);
        if (reluOut) v = max(v, 0);
        store<f32>(dst, v);
      }
    }
  }
}

/** im2col of images [n0, n0 + count) into cols [K, count·L] (all K rows): for a host with its own GEMM. */
export function convIm2col(d: usize, n0: i32, count: i32, cols: usize): void {
  im2colBlock(d, n0, count, 0, dget(d, D_C) * dget(d, D_KH) * dget(d, D_KW), cols);
}

/**
 * gx[n0 + j] += col2im(cols) for j < count (masked by x > 0 when the input was rectified): for a host with its own
 * GEMM; `thread` picks the work area whose last 16 bytes take padding entries.
 */
export function convCol2im(d: usize, n0: i32, count: i32, cols: usize, thread: i32): void {
  col2imBlock(d, n0, count, cols, trashOf(d, thread));
}

/** 16 bytes at the end of a thread's work area that padding entries of col2imTable add into. */
// @ts-ignore: decorator
@inline
function trashOf(d: usize, thread: i32): usize {
  return <usize>dget(d, D_AREA) + <usize>(thread + 1) * <usize>dget(d, D_AREA_BYTES) - 16;
}

/** t[O, count·L] = the output gradient of images [n0, n0 + count): for a host with its own GEMM. */
export function convGatherGrad(d: usize, n0: i32, count: i32, t: usize): void {
  gatherGrad(d, n0, count, t);
}

/** Input gradient for blocks [b0, b1): gx += col2im(wᵀ·gz) (masked by x > 0 when the input was rectified). */
export function convBackwardData(d: usize, b0: i32, b1: i32, scratch: usize, thread: i32): void {
  const N = dget(d, D_N), C = dget(d, D_C), O = dget(d, D_O), NB = dget(d, D_NB);
  const K = C * dget(d, D_KH) * dget(d, D_KW);
  const L = dget(d, D_HO) * dget(d, D_WO);
  const area = <usize>dget(d, D_AREA) + <usize>thread * <usize>dget(d, D_AREA_BYTES);
  const cols = area;
  const t = area + (<usize>(K * NB * L) << 2);
  const w = <usize>dget(d, D_W);
  for (let blk = b0; blk < b1; blk++) {
    const n0 = blk * NB;
    const count = min(NB, N - n0);
    gatherGrad(d, n0, count, t);
    gemm(w, t, cols, K, count * L, O, 1, 0, K, 0, count * L, scratch);
    col2imBlock(d, n0, count, cols, trashOf(d, thread));
  }
}

/** Filter gradient columns [k0, k1) of gw[O, K]: += Σ_blocks t[O, NB·L]·cols[k0:k1, NB·L]ᵀ, blocks in order. */
export function convBackwardFilter(d: usize, k0: i32, k1: i32, scratch: usize, thread: i32): void {
  const N = dget(d, D_N), C = dget(d, D_C), O = dget(d, D_O), NB = dget(d, D_NB);
  const K = C * dget(d, D_KH) * dget(d, D_KW);
  const L = dget(d, D_HO) * dget(d, D_WO);
  const area = <usize>dget(d, D_AREA) + <usize>thread * <usize>dget(d, D_AREA_BYTES);
  const cols = area;
  const t = area + (<usize>(K * NB * L) << 2);
  const gw = <usize>dget(d, D_GW);
  for (let n0 = 0; n0 < N; n0 += NB) {
    const count = min(NB, N - n0);
    im2colBlock(d, n0, count, k0, k1, cols);
    gatherGrad(d, n0, count, t);
    gemm(t, cols, gw, O, K, count * L, 2 | 4, 0, O, k0, k1, scratch);
  }
}

/** Before the gradient kernels: gradPrologue over the call's output gradient, in place (gz holds gy). */
export function convBackwardPrologue(d: usize): void {
  const gz = <usize>dget(d, D_GZ);
  gradPrologue(gz, gz, <usize>dget(d, D_Y), <usize>dget(d, D_GRES), <usize>dget(d, D_GB),
    dget(d, D_N), dget(d, D_O), dget(d, D_HO) * dget(d, D_WO), (dget(d, D_FLAGS) & F_RELU_OUT) != 0);
}

/**
 * The first gradient pass of a convolution with output [N, O, L], in one pass over the output gradient gy:
 * gz = gy ⊙ (y > 0) when the output was rectified (gz may be gy itself; otherwise gz is gy and stays untouched),
 * gres += gz (when gres ≠ 0), and gb += per-channel sums of gz in float64 (when gb ≠ 0; four lanes of partial
 * sums per channel, each over images then positions in order, added at the end: one dependent add per element
 * made the sum latency-bound, ~1 ns per element). Exported for the dense small-image path (conv_dense.ts).
 */
export function gradPrologue(gy: usize, gz: usize, y: usize, gres: usize, gb: usize, N: i32, O: i32, L: i32, reluOut: bool): void {
  if (!reluOut && gres == 0 && gb == 0) return;
  const lB = <usize>L << 2;
  const zero = f32x4.splat(0);
  for (let o = 0; o < O; o++) {
    let accLo = f64x2.splat(0);
    let accHi = f64x2.splat(0);
    let tail: f64 = 0;
    for (let n = 0; n < N; n++) {
      const at = <usize>((n * O + o) * L) << 2;
      const g = gy + at, zp = gz + at, yp = y + at, rp = gres + at;
      let p: usize = 0;
      for (; p + 16 <= lB; p += 16) {
        let v = v128.load(g + p);
        if (reluOut) {
          v = v128.and(v, f32x4.gt(v128.load(yp + p), zero));
          v128.store(zp + p, v);
        }
        if (gres != 0) v128.store(rp + p, f32x4.add(v128.load(rp + p), v));
        accLo = f64x2.add(accLo, f64x2.promote_low_f32x4(v));
        accHi = f64x2.add(accHi, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
      }
      for (; p < lB; p += 4) {
        let v = load<f32>(g + p);
        if (reluOut) {
          if (!(load<f32>(yp + p) > 0)) v = 0;
          store<f32>(zp + p, v);
        }
        if (gres != 0) store<f32>(rp + p, load<f32>(rp + p) + v);
        tail += <f64>v;
      }
    }
    if (gb != 0) {
      const s = f64x2.add(accLo, accHi);
      const at = gb + (<usize>o << 2);
      store<f32>(at, <f32>(<f64>load<f32>(at) + ((f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1)) + tail)));
    }
  }
}

/**
 * The dense small-image convolution's epilogue (conv_dense.ts), in place over y [N, O, L]:
 * y = relu?((y + bias[o]) + residual), rounded as the js reference rounds it; the ReLU maps NaN to 0.
 */
export function denseEpilogue(y: usize, bias: usize, res: usize, N: i32, O: i32, L: i32, reluOut: bool): void {
  const lB = <usize>L << 2;
  let q = y;
  let r = res;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++, q += lB, r += lB) {
      epilogueRun(q, q, res != 0 ? r : 0, lB, bias != 0 ? load<f32>(bias + (<usize>o << 2)) : <f32>0, reluOut);
    }
  }
}

/**
 * One run of lB bytes of an epilogue: dst = relu?((src + b) + res) (res = 0: none; dst may be src), rounded as the
 * js reference rounds it; the ReLU maps NaN to 0, branchless.
 */
// @ts-ignore: decorator
@inline
function epilogueRun(src: usize, dst: usize, res: usize, lB: usize, bv: f32, relu: bool): void {
  const zero = f32x4.splat(0);
  const b4 = f32x4.splat(bv);
  let p: usize = 0;
  for (; p + 16 <= lB; p += 16) {
    let v = f32x4.add(v128.load(src + p), b4);
    if (res != 0) v = f32x4.add(v, v128.load(res + p));
    if (relu) v = v128.and(v, f32x4.gt(v, zero));
    v128.store(dst + p, v);
  }
  for (; p < lB; p += 4) {
    let v = load<f32>(src + p) + bv;
    if (res != 0) v += load<f32>(res + p);
    store<f32>(dst + p, relu ? reinterpret<f32>(reinterpret<i32>(v) & -(<i32>(v > 0))) : v);
  }
}

/**
 * The planner's reward head after its 3×3 conv, fused with its 1×1 output conv, without storing the hidden layer:
 * h = relu(y + (ctx[n, c] + cells[c, l])) (each add rounded to float32, NaN → 0), maps[n, o, l] = bias[o] + Σ_c w[o, c]·h[n, c, l],
 * channels in order, each product and sum rounded to float32. y [N, C, L], ctx [N, C], cells [C, L], w [O, C],
 * bias [O], maps [N, O, L].
 */
export function headForward(y: usize, ctx: usize, cells: usize, w: usize, bias: usize, maps: usize, N: i32, C: i32, O: i32, L: i32): void {
  const lB = <usize>L << 2;
  const zero = f32x4.splat(0);
  for (let n = 0; n < N; n++) {
    const mp = maps + <usize>(n * O) * lB;
    for (let o = 0; o < O; o++) {
      const b = load<f32>(bias + (<usize>o << 2));
      const row = mp + <usize>o * lB;
      let p: usize = 0;
      for (; p + 16 <= lB; p += 16) v128.store(row + p, f32x4.splat(b));
      for (; p < lB; p += 4) store<f32>(row + p, b);
    }
    for (let c = 0; c < C; c++) {
      const v = load<f32>(ctx + (<usize>(n * C + c) << 2));
      const v4 = f32x4.splat(v);
      const yp = y + <usize>(n * C + c) * lB, cp = cells + <usize>c * lB;
      let p: usize = 0;
      for (; p + 16 <= lB; p += 16) {
        const z = f32x4.add(v128.load(yp + p), f32x4.add(v4, v128.load(cp + p)));
        const h = v128.and(z, f32x4.gt(z, zero));
        for (let o = 0; o < O; o++) {
          const at = mp + <usize>o * lB + p;
          v128.store(at, f32x4.add(v128.load(at), f32x4.mul(f32x4.splat(load<f32>(w + (<usize>(o * C + c) << 2))), h)));
        }
      }
      for (; p < lB; p += 4) {
        const z = load<f32>(yp + p) + (v + load<f32>(cp + p));
        const h = reinterpret<f32>(reinterpret<i32>(z) & -(<i32>(z > 0)));
        for (let o = 0; o < O; o++) {
          const at = mp + <usize>o * lB + p;
          store<f32>(at, load<f32>(at) + load<f32>(w + (<usize>(o * C + c) << 2)) * h);
        }
      }
    }
  }
}

/**
 * headForward's gradient from gmaps [N, O, L], recomputing h into `hRow` (L floats of scratch): per image, gbias[o] +=
 * Σ_l gmaps; per channel, dh = Σ_o w[o, c]·gmaps[n, o, l] (o in order, float32), d = dh where h > 0, gy = d (accumulate
 * 0: written) or gy += d, gcells[c, l] += d, gctx[n, c] += Σ_l d, and gw[o, c] += Σ_l gmaps[n, o, l]·h (the product
 * rounded to float32). Every Σ_l in float64, four lanes of partial sums added ((0 + 2) + (1 + 3)) + tail, as the js
 * loop adds them. 0 for a gradient not wanted (gy, gctx, gcells, gw, gbias).
 */
export function headBackward(gmaps: usize, y: usize, ctx: usize, cells: usize, w: usize, hRow: usize, gy: usize, accumulate: bool, gctx: usize, gcells: usize, gw: usize, gbias: usize, N: i32, C: i32, O: i32, L: i32): void {
  const lB = <usize>L << 2;
  const zero = f32x4.splat(0);
  for (let n = 0; n < N; n++) {
    const gm = gmaps + <usize>(n * O) * lB;
    if (gbias != 0) {
      for (let o = 0; o < O; o++) {
        const at = gbias + (<usize>o << 2);
        store<f32>(at, <f32>(<f64>load<f32>(at) + laneSum(gm + <usize>o * lB, 0, lB)));
      }
    }
    for (let c = 0; c < C; c++) {
      const v = load<f32>(ctx + (<usize>(n * C + c) << 2));
      const v4 = f32x4.splat(v);
      const row = <usize>(n * C + c) * lB;
      const yp = y + row, cp = cells + <usize>c * lB, gp = gy + row, gc = gcells + <usize>c * lB;
      let accLo = f64x2.splat(0);
      let accHi = f64x2.splat(0);
      let tail: f64 = 0;
      let p: usize = 0;
      for (; p + 16 <= lB; p += 16) {
        const z = f32x4.add(v128.load(yp + p), f32x4.add(v4, v128.load(cp + p)));
        const pos = f32x4.gt(z, zero);
        v128.store(hRow + p, v128.and(z, pos));
        let dh = f32x4.mul(f32x4.splat(load<f32>(w + (<usize>c << 2))), v128.load(gm + p));
        for (let o = 1; o < O; o++) dh = f32x4.add(dh, f32x4.mul(f32x4.splat(load<f32>(w + (<usize>(o * C + c) << 2))), v128.load(gm + <usize>o * lB + p)));
        const d = v128.and(dh, pos);
        if (gy != 0) v128.store(gp + p, accumulate ? f32x4.add(v128.load(gp + p), d) : d);
        if (gcells != 0) v128.store(gc + p, f32x4.add(v128.load(gc + p), d));
        accLo = f64x2.add(accLo, f64x2.promote_low_f32x4(d));
        accHi = f64x2.add(accHi, f64x2.promote_low_f32x4(v128.shuffle<f32>(d, d, 2, 3, 0, 1)));
      }
      for (; p < lB; p += 4) {
        const z = load<f32>(yp + p) + (v + load<f32>(cp + p));
        store<f32>(hRow + p, reinterpret<f32>(reinterpret<i32>(z) & -(<i32>(z > 0))));
        let dh = load<f32>(w + (<usize>c << 2)) * load<f32>(gm + p);
        for (let o = 1; o < O; o++) dh += load<f32>(w + (<usize>(o * C + c) << 2)) * load<f32>(gm + <usize>o * lB + p);
        const d = z > 0 ? dh : <f32>0;
        if (gy != 0) store<f32>(gp + p, accumulate ? load<f32>(gp + p) + d : d);
        if (gcells != 0) store<f32>(gc + p, load<f32>(gc + p) + d);
        tail += <f64>d;
      }
      if (gctx != 0) {
        const s = f64x2.add(accLo, accHi);
        const at = gctx + (<usize>(n * C + c) << 2);
        store<f32>(at, <f32>(<f64>load<f32>(at) + ((f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1)) + tail)));
      }
      if (gw != 0) {
        for (let o = 0; o < O; o++) {
          const at = gw + (<usize>(o * C + c) << 2);
          store<f32>(at, <f32>(<f64>load<f32>(at) + laneSum(gm + <usize>o * lB, hRow, lB)));
        }
      }
    }
  }
}

/**
 * Σ of a run of lB bytes of floats (times the floats at `by`, each product rounded to float32, when by ≠ 0) in float64:
 * four lanes of partial sums, added ((0 + 2) + (1 + 3)) + the tail's.
 */
// @ts-ignore: decorator
@inline
function laneSum(a: usize, by: usize, lB: usize): f64 {
  let accLo = f64x2.splat(0);
  let accHi = f64x2.splat(0);
  let tail: f64 = 0;
  let p: usize = 0;
  for (; p + 16 <= lB; p += 16) {
    let x = v128.load(a + p);
    if (by != 0) x = f32x4.mul(x, v128.load(by + p));
    accLo = f64x2.add(accLo, f64x2.promote_low_f32x4(x));
    accHi = f64x2.add(accHi, f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 0, 1)));
  }
  for (; p < lB; p += 4) tail += <f64>(by != 0 ? load<f32>(a + p) * load<f32>(by + p) : load<f32>(a + p));
  const s = f64x2.add(accLo, accHi);
  return (f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1)) + tail;
}

/** out[i] = x[i] where x[i] > 0, else +0 (NaN → 0), for i < n: a rectified copy. */
export function rectifyCopy(x: usize, out: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const end = <usize>n << 2;
  let p: usize = 0;
  for (; p + 16 <= end; p += 16) {
    const v = v128.load(x + p);
    v128.store(out + p, v128.and(v, f32x4.gt(v, zero)));
  }
  for (; p < end; p += 4) {
    const v = load<f32>(x + p);
    store<f32>(out + p, v > 0 ? v : 0);
  }
}

/** out[i] += g[i] where x[i] > 0 (else += +0), for i < n: an input gradient through a ReLU on the input. */
export function maskedAdd(out: usize, g: usize, x: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const end = <usize>n << 2;
  let p: usize = 0;
  for (; p + 16 <= end; p += 16) {
    const v = v128.and(v128.load(g + p), f32x4.gt(v128.load(x + p), zero));
    v128.store(out + p, f32x4.add(v128.load(out + p), v));
  }
  for (; p < end; p += 4) store<f32>(out + p, load<f32>(out + p) + (load<f32>(x + p) > 0 ? load<f32>(g + p) : 0));
}

// ---------------------------------------------------------------------------------------------------------------
// Max pooling, NCHW [planes = N·C, H, W] → [planes, Ho, Wo], with the flat input index of each maximum (for the
// gradient). Padding counts as −∞; ties go to the first element in row-major window order; the first NaN in a
// window wins (its index too), as in the js reference.

/** Pools `planes` planes of x (H×W) into y (Ho×Wo) and writes the argmax (flat index into x) to arg. */
export function maxPool(x: usize, y: usize, arg: usize, planes: i32, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, Ho: i32, Wo: i32): void {
  if (kh == 3 && kw == 3 && sh == 2 && sw == 2 && ph == 1 && pw == 1) {
    maxPool3s2(x, y, arg, planes, H, W, Ho, Wo);
    return;
  }
  let q: usize = 0;
  for (let p = 0; p < planes; p++) {
    const base = p * H * W;
    for (let oh = 0; oh < Ho; oh++) {
      const i0 = max(0, oh * sh - ph);
      const i1 = min(H, oh * sh - ph + kh);
      for (let ow = 0; ow < Wo; ow++, q += 4) {
        const j0 = max(0, ow * sw - pw);
        const j1 = min(W, ow * sw - pw + kw);
        maxWindow(x, y + q, arg + q, base, W, i0, i1, j0, j1);
      }
    }
  }
}

/**
 * One max-pool output: the maximum of rows [i0, i1) × columns [j0, j1) of the plane at `base` (row width W) and
 * its flat index, stored at yq and aq. Branchless (a data-dependent branch here mispredicts about half the time):
 * take a larger value, or the first NaN while the best so far is not NaN; ties keep the first in row-major order.
 */
// @ts-ignore: decorator
@inline
function maxWindow(x: usize, yq: usize, aq: usize, base: i32, W: i32, i0: i32, i1: i32, j0: i32, j1: i32): void {
  let bi = base + i0 * W + j0;
  let best = load<f32>(x + (<usize>bi << 2));
  for (let ih = i0; ih < i1; ih++) {
    const row = base + ih * W;
    for (let k = row + j0; k < row + j1; k++) {
      const v = load<f32>(x + (<usize>k << 2));
      const take = (v > best) | ((v != v) & (best == best));
      best = select<f32>(v, best, take);
      bi = select<i32>(k, bi, take);
    }
  }
  store<f32>(yq, best);
  store<i32>(aq, bi);
}

/**
 * The max-pool's input gradient: gx[arg[i]] += gy[i] for i < len, outputs in order (an input that is the maximum
 * of several windows adds their gradients in the reference's order). A scatter, so scalar; returns the first i
 * whose index lies outside [0, gxLen) (nothing written from there on), or −1.
 */
export function maxPoolBackward(gy: usize, arg: usize, gx: usize, len: i32, gxLen: i32): i32 {
  for (let i = 0; i < len; i++) {
    const at = <usize>i << 2;
    const k = load<i32>(arg + at);
    if (<u32>k >= <u32>gxLen) return i;
    const p = gx + (<usize>k << 2);
    store<f32>(p, load<f32>(p) + load<f32>(gy + at));
  }
  return -1;
}

/**
 * maxPool for 3×3 windows, stride 2, padding 1 (the CNN policy's pooling), four output columns per f32x4: the
 * window columns 2·ow − 1, 2·ow, 2·ow + 1 of four outputs are the odd and even lanes of two loads (deinterleaved
 * by shuffles). Same results and indices as the generic loop: each lane starts from its window's first valid tap
 * (row i0, column 2·ow − 1, or 0 for ow = 0), then takes the taps in row-major order by the same rule (a larger
 * value, or the first NaN while the best is not NaN: ¬(v ≤ best) ∧ best = best in three ops); a column outside the
 * row reads as −∞, which that rule never takes after a valid start. The window's position is tracked as its offset
 * from the middle column (a constant per tap) and turned into the flat index once per group. A row whose width is
 * not a multiple of four ends with a group overlapping the one before (the same outputs computed again alike) in
 * place of scalar windows; rows narrower than four outputs store only their lanes. Reads up to 16 bytes before x
 * and 28 bytes past a row (the host leaves that slack); never stores past Wo.
 */
function maxPool3s2(x: usize, y: usize, arg: usize, planes: i32, H: i32, W: i32, Ho: i32, Wo: i32): void {
  const negInf = f32x4.splat(-Infinity);
  const lanes = i32x4(0, 2, 4, 6); // 2·(ow − ow0)
  const width = i32x4.splat(W);
  const firstLane = i32x4(0, -1, -1, -1); // lanes whose left column exists when ow0 = 0
  for (let p = 0; p < planes; p++) {
    const base = p * H * W;
    for (let oh = 0; oh < Ho; oh++) {
      const i0 = max(0, 2 * oh - 1);
      const i1 = min(H, 2 * oh + 2);
      let ow0 = 0;
      while (true) {
        if (ow0 + 4 > Wo && Wo >= 4) ow0 = Wo - 4;
        const needL = ow0 == 0;
        const rightOk = i32x4.lt_s(i32x4.add(lanes, i32x4.splat(2 * ow0 + 1)), width);
        const needR = 2 * ow0 + 7 >= W;
        let best = negInf;
        let off = i32x4.splat(0); // the taken tap's flat offset from row 0, middle column of each lane's window
        for (let ih = i0; ih < i1; ih++) {
          const rowStart = base + ih * W;
          const at = x + (<usize>(rowStart + 2 * ow0) << 2);
          const m0 = v128.load(at);
          const m1 = v128.load(at, 16);
          const prev = v128.load(at - 16);
          const even = v128.shuffle<f32>(m0, m1, 0, 2, 4, 6);
          let odd = v128.shuffle<f32>(m0, m1, 1, 3, 5, 7);
          let left = v128.shuffle<f32>(prev, odd, 3, 4, 5, 6);
          if (needL) left = v128.bitselect(left, negInf, firstLane);
          if (needR) odd = v128.bitselect(odd, negInf, rightOk);
          const rowOff = (ih - i0) * W;
          if (ih == i0) {
            // each lane's first valid tap: the left column, or the middle one where the left lies outside
            best = needL ? v128.bitselect(left, even, firstLane) : left;
            off = needL ? v128.bitselect(i32x4.splat(-1), i32x4.splat(0), firstLane) : i32x4.splat(-1);
          } else {
            const take = v128.andnot(f32x4.eq(best, best), f32x4.le(left, best));
            best = v128.bitselect(left, best, take);
            off = v128.bitselect(i32x4.splat(rowOff - 1), off, take);
          }
          let take = v128.andnot(f32x4.eq(best, best), f32x4.le(even, best));
          best = v128.bitselect(even, best, take);
          off = v128.bitselect(i32x4.splat(rowOff), off, take);
          take = v128.andnot(f32x4.eq(best, best), f32x4.le(odd, best));
          best = v128.bitselect(odd, best, take);
          off = v128.bitselect(i32x4.splat(rowOff + 1), off, take);
        }
        const bidx = i32x4.add(i32x4.add(off, lanes), i32x4.splat(base + i0 * W + 2 * ow0));
        const q = <usize>((p * Ho + oh) * Wo + ow0) << 2;
        const n = min(4, Wo - ow0);
        if (n == 4) {
          v128.store(y + q, best);
          v128.store(arg + q, bidx);
        } else {
          store<f32>(y + q, f32x4.extract_lane(best, 0));
          store<i32>(arg + q, i32x4.extract_lane(bidx, 0));
          if (n > 1) {
            store<f32>(y + q, f32x4.extract_lane(best, 1), 4);
            store<i32>(arg + q, i32x4.extract_lane(bidx, 1), 4);
          }
          if (n > 2) {
            store<f32>(y + q, f32x4.extract_lane(best, 2), 8);
            store<i32>(arg + q, i32x4.extract_lane(bidx, 2), 8);
          }
        }
        if (ow0 + 4 >= Wo) break;
        ow0 += 4;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Row products of small images (src/core/kernels/conv_rows.ts): a block of `count` images transposed to a
// zero-padded channels-last copy xt [count, Hp, Wp, C] (Hp = H + 2·ph, Wp = W + 2·pw), whose output pixels' rows
// are kh runs of kw·C contiguous floats; t [O, count·L] is the product with the reordered filter (NCHW's order
// within each image, so the epilogue and the gradient gather copy runs of L floats). Every pass computes what
// the js passes (jsRowPasses) compute, bit for bit: copies, and f32 adds in the same order. Branchless on the data
// (a ReLU's sign test mispredicts about half the time on activations).

/**
 * v where v > 0, else +0 (NaN → 0): the js passes' `v > 0 ? v : 0`, as the bits of v masked by −(v > 0) — an f32
 * select compiled to a branch here, which mispredicted on half the activations (the padding pass ran 8× slower).
 */
// @ts-ignore: decorator
@inline
function rectify(v: f32): f32 {
  return reinterpret<f32>(reinterpret<i32>(v) & -(<i32>(v > 0)));
}

/** xt[img] = images n0… of x [N, C, H, W] transposed to [Hp, Wp, C] inside a zero border (rectified when relu). */
export function rowsPad(x: usize, n0: i32, count: i32, xt: usize, C: i32, H: i32, W: i32, ph: i32, pw: i32, relu: bool): void {
  const Hp = H + 2 * ph, Wp = W + 2 * pw;
  const lB = <usize>(H * W) << 2;
  const imageBytes = <usize>C * lB;
  const padBytes = <usize>(Hp * Wp * C) << 2;
  memory.fill(xt, 0, <usize>count * padBytes);
  // pixel by pixel, channels inner: sequential stores, loads L floats apart within one image (in L1)
  let src = x + <usize>n0 * imageBytes;
  let img0 = xt;
  for (let img = 0; img < count; img++, img0 += padBytes, src += imageBytes) {
    for (let h = 0; h < H; h++) {
      let dst = img0 + (<usize>(((h + ph) * Wp + pw) * C) << 2);
      let s = src + (<usize>(h * W) << 2);
      for (let w = 0; w < W; w++, s += 4) {
        let p = s;
        if (relu) {
          for (let c = 0; c < C; c++, p += lB, dst += 4) store<f32>(dst, rectify(load<f32>(p)));
        } else {
          for (let c = 0; c < C; c++, p += lB, dst += 4) store<f32>(dst, load<f32>(p));
        }
      }
    }
  }
}

/** rows[(img·Ho + oh)·Wo + ow, (i·kw + j)·C + c] = xt[img, oh·sh + i, ow·sw + j, c]: kh runs of kw·C floats per row. */
export function rowsIm2row(xt: usize, rows: usize, count: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, Ho: i32, Wo: i32): void {
  const Hp = H + 2 * ph, Wp = W + 2 * pw;
  const runB = <usize>(kw * C) << 2;
  const cB = <usize>C << 2;
  const padBytes = <usize>(Hp * Wp * C) << 2;
  let q = rows;
  for (let img = 0; img < count; img++) {
    const base = xt + <usize>img * padBytes;
    for (let oh = 0; oh < Ho; oh++) {
      for (let ow = 0; ow < Wo; ow++) {
        for (let i = 0; i < kh; i++) {
          const src = base + <usize>((oh * sh + i) * Wp + ow * sw) * cB;
          let p: usize = 0;
          for (; p + 16 <= runB; p += 16) v128.store(q + p, v128.load(src + p));
          for (; p < runB; p += 4) store<f32>(q + p, load<f32>(src + p));
          q += runB;
        }
      }
    }
  }
}

/** y[n0 + img, o, l] = relu?((t[o, img·L + l] + bias[o]) + res[n0 + img, o, l]) (bias, res: 0 when absent). */
export function rowsEpilogue(t: usize, y: usize, bias: usize, res: usize, n0: i32, count: i32, O: i32, L: i32, relu: bool): void {
  const lB = <usize>L << 2;
  const rowB = <usize>count * lB;
  const at = <usize>(n0 * O * L) << 2;
  for (let img = 0; img < count; img++) {
    for (let o = 0; o < O; o++) {
      const q = at + (<usize>(img * O + o)) * lB;
      epilogueRun(t + <usize>o * rowB + <usize>img * lB, y + q, res != 0 ? res + q : 0, lB, bias != 0 ? load<f32>(bias + (<usize>o << 2)) : <f32>0, relu);
    }
  }
}

/** t[o, img·L + l] = gz[n0 + img, o, l]. */
export function rowsGather(gz: usize, n0: i32, count: i32, t: usize, O: i32, L: i32): void {
  const lB = <usize>L << 2;
  const rowB = <usize>count * lB;
  let g = gz + (<usize>(n0 * O * L) << 2);
  for (let img = 0; img < count; img++) {
    for (let o = 0; o < O; o++, g += lB) memory.copy(t + <usize>o * rowB + <usize>img * lB, g, lB);
  }
}

/**
 * gxt's interior (the border is never read back) = the adjoint of rowsIm2row applied to rows, as a gather: each
 * input pixel's C channels are the first run that reads it, plus the others in order (output pixels row-major,
 * then taps), so each pixel is written by one short chain in L1 instead of read-modify-written across the rows.
 */
export function rowsRow2im(rows: usize, gxt: usize, count: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, Ho: i32, Wo: i32): void {
  const Wp = W + 2 * pw;
  const cB = <usize>C << 2;
  const vB = cB & ~(<usize>15);
  const rowB = <usize>(kh * kw) * cB;
  const padBytes = <usize>((H + 2 * ph) * Wp) * cB;
  const imgRows = <usize>(Ho * Wo) * rowB;
  for (let img = 0; img < count; img++) {
    const base = gxt + <usize>img * padBytes;
    const r0 = rows + <usize>img * imgRows;
    for (let hp = ph; hp < H + ph; hp++) {
      for (let wp = pw; wp < W + pw; wp++) {
        const dst = base + <usize>(hp * Wp + wp) * cB;
        let first = true;
        for (let oh = max(0, (hp - kh + sh) / sh); oh < Ho && oh * sh <= hp; oh++) {
          const i = hp - oh * sh;
          if (i >= kh) continue;
          for (let ow = max(0, (wp - kw + sw) / sw); ow < Wo && ow * sw <= wp; ow++) {
            const j = wp - ow * sw;
            if (j >= kw) continue;
            const src = r0 + <usize>(oh * Wo + ow) * rowB + <usize>(i * kw + j) * cB;
            let p: usize = 0;
            if (first) {
              for (; p < vB; p += 16) v128.store(dst + p, v128.load(src + p));
              for (; p < cB; p += 4) store<f32>(dst + p, load<f32>(src + p));
            } else {
              for (; p < vB; p += 16) v128.store(dst + p, f32x4.add(v128.load(dst + p), v128.load(src + p)));
              for (; p < cB; p += 4) store<f32>(dst + p, load<f32>(dst + p) + load<f32>(src + p));
            }
            first = false;
          }
        }
        if (first) memory.fill(dst, 0, cB);
      }
    }
  }
}

/** gx[n0 + img, c, h, w] += gxt[img, h + ph, w + pw, c], only where x > 0 when x ≠ 0 (the input was rectified). */
export function rowsUnpadAdd(gxt: usize, gx: usize, x: usize, n0: i32, count: i32, C: i32, H: i32, W: i32, ph: i32, pw: i32): void {
  const Hp = H + 2 * ph, Wp = W + 2 * pw;
  const cB = <usize>C << 2;
  const padBytes = <usize>(Hp * Wp * C) << 2;
  const at = <usize>(n0 * C * H * W) << 2;
  let g = gx + at;
  let xs = x + at;
  for (let img = 0; img < count; img++) {
    const img0 = gxt + <usize>img * padBytes;
    for (let c = 0; c < C; c++) {
      for (let h = 0; h < H; h++) {
        let src = img0 + (<usize>(((h + ph) * Wp + pw) * C + c) << 2);
        if (x != 0) {
          for (let w = 0; w < W; w++, g += 4, xs += 4, src += cB) {
            // the sum where x > 0, else the old value, bit for bit (−0 stays −0), selected without a branch
            const old = load<f32>(g);
            const m = -(<i32>(load<f32>(xs) > 0));
            store<i32>(g, (reinterpret<i32>(old + load<f32>(src)) & m) | (reinterpret<i32>(old) & ~m));
          }
        } else {
          for (let w = 0; w < W; w++, g += 4, src += cB) store<f32>(g, load<f32>(g) + load<f32>(src));
        }
      }
    }
  }
}

// Gated value iteration on free 4-connected grids (src/core/kernels/gated_grid.ts; src/nn/gated_value_iteration.ts
// is the reference): each problem is laid out padded, (H + 2)·(W + 2) cells row-major plus slack, with gate 0 and
// value 0 on the padding, so a move is a fixed offset (stay 0, up −Wp, down +Wp, left −1, right +1) and a move off
// the grid is worth E(s) as the successor table's "stay where you are" is. The backups run over the interior rows
// as one strip (the padding columns between rows are computed and zeroed again), two cells per float64 vector:
// every product, sum and comparison is the js kernel's, so results are bit for bit.

/** Q of one move over two cells: E(s) + g(t)·(E(t) − E(s)) in float64. */
// @ts-ignore: decorator
@inline function gatedMove(es: v128, et: v128, gt: v128): v128 {
  return f64x2.add(es, f64x2.mul(gt, f64x2.sub(et, es)));
}

/** The low (half 0) or high (half 1) two lanes of an f32x4, promoted to float64. */
// @ts-ignore: decorator
@inline function promoteHalf(v: v128, half: i32): v128 {
  return half == 0 ? f64x2.promote_low_f32x4(v) : f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}

/** Zeroes the padding cells of a padded float64 grid that a strip pass writes: both padding columns of rows 1..H and the bottom row's first two cells. */
// @ts-ignore: decorator
@inline function zeroGridPadding(e: usize, H: i32, Wp: i32): void {
  const rowB = <usize>Wp << 3;
  for (let y = 1; y <= H; y++) {
    const row = e + <usize>y * rowB;
    store<f64>(row, 0);
    store<f64>(row + rowB - 8, 0);
  }
  v128.store(e + <usize>(H + 1) * rowB, v128.splat<i64>(0));
}

/**
 * K hard-max gated backups of B problems on H×W grids. g, r, c: gates, rewards, continuations [B, H·W] (float32);
 * at: each problem's agent cell (int32 [B]); qAt: Q_K at it per move [B, 5], out; values: V_k padded, [B, K, PS]
 * when args ≠ 0 (every step, for the backward pass) else [B, PS] (V_K only), out; args: the winning move per cell
 * and step as bytes [B, K, PS] (0: not recorded); work: scratch, 10·PS floats. PS = the padded grid's stride
 * (gated_grid.ts gridStride: (H + 2)·(W + 2) + 4 rounded up to a multiple of 4). Inside, the padded gates, R, C and
 * E are float64 arrays (E holds float32-rounded values, as the js kernel's Float32Array), two cells per vector.
 */
export function gatedGridForward(g: usize, r: usize, c: usize, at: usize, qAt: usize, values: usize, args: usize, work: usize, B: i32, H: i32, W: i32, K: i32): void {
  const Wp = W + 2;
  const P = (H + 2) * Wp;
  const PS = (P + 4 + 3) & ~3;
  const ps8 = <usize>PS << 3;
  const row8 = <usize>Wp << 3;
  const gp = work, rp = work + ps8, cp = work + 2 * ps8;
  let e = work + 3 * ps8, eOut = work + 4 * ps8;
  const first = Wp + 1; // the strip: first interior cell to the last, two at a time
  const end = H * Wp + W + 1;
  const S = H * W;
  for (let b = 0; b < B; b++) {
    memory.fill(work, 0, 5 * ps8);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const sB = <usize>(b * S + y * W + x) << 2;
        const pB = <usize>((y + 1) * Wp + x + 1) << 3;
        store<f64>(gp + pB, <f64>load<f32>(g + sB));
        store<f64>(rp + pB, <f64>load<f32>(r + sB));
        store<f64>(cp + pB, <f64>load<f32>(c + sB));
        store<f64>(e + pB, <f64>load<f32>(r + sB)); // E_0 = R
      }
    }
    for (let k = 1; k <= K; k++) {
      const vRow = args != 0 ? values + (<usize>(b * K + k - 1) * <usize>PS << 2) : values + (<usize>(b * PS) << 2);
      const aRow = args != 0 ? args + <usize>(b * K + k - 1) * <usize>PS : 0;
      for (let p = first; p < end; p += 2) {
        const at8 = <usize>p << 3;
        const es = v128.load(e + at8);
        let v = gatedMove(es, es, v128.load(gp + at8));
        const q1 = gatedMove(es, v128.load(e + at8 - row8), v128.load(gp + at8 - row8));
        const q2 = gatedMove(es, v128.load(e + at8 + row8), v128.load(gp + at8 + row8));
        const q3 = gatedMove(es, v128.load(e + at8 - 8), v128.load(gp + at8 - 8));
        const q4 = gatedMove(es, v128.load(e + at8 + 8), v128.load(gp + at8 + 8));
        // the first move on ties, as the js kernel's strict >
        let a = i64x2.splat(0);
        let m = f64x2.gt(q1, v);
        v = v128.bitselect(q1, v, m);
        a = v128.bitselect(i64x2.splat(1), a, m);
        m = f64x2.gt(q2, v);
        v = v128.bitselect(q2, v, m);
        a = v128.bitselect(i64x2.splat(2), a, m);
        m = f64x2.gt(q3, v);
        v = v128.bitselect(q3, v, m);
        a = v128.bitselect(i64x2.splat(3), a, m);
        m = f64x2.gt(q4, v);
        v = v128.bitselect(q4, v, m);
        a = v128.bitselect(i64x2.splat(4), a, m);
        store<i64>(vRow + (<usize>p << 2), i64x2.extract_lane(f32x4.demote_f64x2_zero(v), 0));
        if (aRow != 0) {
          store<u8>(aRow + <usize>p, <u8>i64x2.extract_lane(a, 0));
          store<u8>(aRow + <usize>p + 1, <u8>i64x2.extract_lane(a, 1));
        }
        // E_k = R + C·V_k from the unrounded V, rounded to float32 as the js kernel stores it
        const eNew = f64x2.add(v128.load(rp + at8), f64x2.mul(v128.load(cp + at8), v));
        v128.store(eOut + at8, f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(eNew)));
      }
      zeroGridPadding(eOut, H, Wp);
      if (k < K) {
        const t = e;
        e = eOut;
        eOut = t;
      }
    }
    // e holds E_{K−1}: Q_K(at, m) = E(at) + g(t)·(E(t) − E(at))
    const a = load<i32>(at + (<usize>b << 2));
    const pa = <usize>((a / W + 1) * Wp + (a % W) + 1) << 3;
    const ea = load<f64>(e + pa);
    const out = qAt + (<usize>(b * 5) << 2);
    store<f32>(out, <f32>(ea + load<f64>(gp + pa) * (ea - ea)));
    store<f32>(out + 4, <f32>(ea + load<f64>(gp + pa - row8) * (load<f64>(e + pa - row8) - ea)));
    store<f32>(out + 8, <f32>(ea + load<f64>(gp + pa + row8) * (load<f64>(e + pa + row8) - ea)));
    store<f32>(out + 12, <f32>(ea + load<f64>(gp + pa - 8) * (load<f64>(e + pa - 8) - ea)));
    store<f32>(out + 16, <f32>(ea + load<f64>(gp + pa + 8) * (load<f64>(e + pa + 8) - ea)));
  }
}

/** dst[s] += d (float32 += float64, rounded once), as the js kernel's `a[s] += d`. */
// @ts-ignore: decorator
@inline function addTo(dst: usize, d: f64): void {
  store<f32>(dst, <f32>(<f64>load<f32>(dst) + d));
}

/**
 * gatedGridForward's gradient (the same problems; values and args as it recorded them): from gq [B, 5], the
 * gradient of Q_K at the agent, accumulates into dR, dC, dG [B, H·W] (0: not wanted). Per step k = K−1..1 the
 * gradient of E_k goes to R, C and V_k, and each cell's V_k gradient dv to its winning move's cell t (dv·g(t)), to
 * itself (dv·(1 − g(t))) and to g(t) (dv·(E_{k−1}(t) − E_{k−1}(s))), cells in order: the js kernel's sums in its
 * order, bit for bit. A hard max passes a cell's gradient to itself and one other cell, so the cells with a
 * gradient are the winning-move paths from the agent's moves: only those are visited, kept as a sorted list (the
 * js kernel visits every cell and skips the zeros); E_{k−1} is recomputed from the stored V_{k−1} where read.
 * work: scratch, 6·PS floats (dV, dE, dE_prev and two cell lists of PS int32 each, and a byte per cell).
 */
export function gatedGridBackward(gq: usize, g: usize, r: usize, c: usize, at: usize, values: usize, args: usize, dR: usize, dC: usize, dG: usize, work: usize, B: i32, H: i32, W: i32, K: i32): void {
  const Wp = W + 2;
  const P = (H + 2) * Wp;
  const PS = (P + 4 + 3) & ~3;
  const psB = <usize>PS << 2;
  const dV = work;
  let dE = work + psB, dEPrev = work + 2 * psB;
  let live = work + 3 * psB, next = work + 4 * psB; // the cells with a gradient, padded indices in ascending order (int32)
  const seen = work + 5 * psB; // a byte per cell: already in `next`
  const S = H * W;
  for (let b = 0; b < B; b++) {
    memory.fill(work, 0, 3 * psB);
    memory.fill(seen, 0, <usize>PS);
    const base = <usize>(b * S) << 2;
    const vLast = K >= 2 ? values + <usize>(b * K + K - 2) * psB : 0;
    // Q_K at the agent: a move off the grid stays (t = the agent's cell)
    const a = load<i32>(at + (<usize>b << 2));
    const ay = a / W, ax = a % W;
    const pa = (ay + 1) * Wp + ax + 1;
    let n = 0;
    for (let m = 0; m < 5; m++) {
      const ny = ay + (m == 1 ? -1 : m == 2 ? 1 : 0);
      const nx = ax + (m == 3 ? -1 : m == 4 ? 1 : 0);
      const inside = ny >= 0 && ny < H && nx >= 0 && nx < W;
      const t = inside ? ny * W + nx : a;
      const pt = inside ? (ny + 1) * Wp + nx + 1 : pa;
      const d = <f64>load<f32>(gq + (<usize>(b * 5 + m) << 2));
      const gt = <f64>load<f32>(g + base + (<usize>t << 2));
      addTo(dE + (<usize>pt << 2), d * gt);
      addTo(dE + (<usize>pa << 2), d * (1 - gt));
      if (dG != 0) addTo(dG + base + (<usize>t << 2), d * (gatedE(r, c, base, vLast, t, pt) - gatedE(r, c, base, vLast, a, pa)));
      n = gatedMark(next, seen, n, pt);
      n = gatedMark(next, seen, n, pa);
    }
    n = gatedSortClear(next, seen, n);
    let t0 = live;
    live = next;
    next = t0;
    for (let k = K - 1; k >= 1; k--) {
      const vRow = values + <usize>(b * K + k - 1) * psB;
      const vPrev = k >= 2 ? values + <usize>(b * K + k - 2) * psB : 0;
      const aRow = args + <usize>(b * K + k - 1) * <usize>PS;
      // E_k = R + C ⊙ V_k
      for (let i = 0; i < n; i++) {
        const p = load<i32>(live + (<usize>i << 2));
        const pB = <usize>p << 2;
        const sB = base + (<usize>((p / Wp - 1) * W + p % Wp - 1) << 2);
        const d = <f64>load<f32>(dE + pB);
        store<f32>(dV + pB, 0);
        if (d == 0) continue;
        if (dR != 0) addTo(dR + sB, d);
        if (dC != 0) addTo(dC + sB, d * <f64>load<f32>(vRow + pB));
        store<f32>(dV + pB, <f32>(d * <f64>load<f32>(c + sB)));
      }
      // V_k(s) = max_m Q_k(s, m), Q_k from E_{k−1}
      let m = 0;
      for (let i = 0; i < n; i++) {
        const p = load<i32>(live + (<usize>i << 2));
        const pB = <usize>p << 2;
        const dv = <f64>load<f32>(dV + pB);
        if (dv == 0) continue;
        const move = <i32>load<u8>(aRow + <usize>p);
        const off = move == 1 ? -Wp : move == 2 ? Wp : move == 3 ? -1 : move == 4 ? 1 : 0;
        const pt = p + off;
        const s = (p / Wp - 1) * W + p % Wp - 1;
        const t = move == 1 ? s - W : move == 2 ? s + W : s + off;
        const gt = <f64>load<f32>(g + base + (<usize>t << 2));
        addTo(dEPrev + (<usize>pt << 2), dv * gt);
        addTo(dEPrev + pB, dv * (1 - gt));
        if (dG != 0) addTo(dG + base + (<usize>t << 2), dv * (gatedE(r, c, base, vPrev, t, pt) - gatedE(r, c, base, vPrev, s, p)));
        m = gatedMark(next, seen, m, pt);
        m = gatedMark(next, seen, m, p);
      }
      // dE becomes the next step's dEPrev: zero where it was written
      for (let i = 0; i < n; i++) store<f32>(dE + (<usize>load<i32>(live + (<usize>i << 2)) << 2), 0);
      n = gatedSortClear(next, seen, m);
      const t1 = dE;
      dE = dEPrev;
      dEPrev = t1;
      t0 = live;
      live = next;
      next = t0;
    }
    if (dR != 0) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) addTo(dR + base + (<usize>(y * W + x) << 2), <f64>load<f32>(dE + (<usize>((y + 1) * Wp + x + 1) << 2)));
      }
    }
  }
}

/** E_{k−1} of cell s (padded p) = R + C·V_{k−1} rounded to float32 as the js kernel stores it, from V's padded row vRow; R when vRow is 0. */
// @ts-ignore: decorator
@inline function gatedE(r: usize, c: usize, base: usize, vRow: usize, s: i32, p: i32): f64 {
  const sB = base + (<usize>s << 2);
  return vRow == 0 ? <f64>load<f32>(r + sB) : <f64><f32>(<f64>load<f32>(r + sB) + <f64>load<f32>(c + sB) * <f64>load<f32>(vRow + (<usize>p << 2)));
}

/** Appends cell p to the list (n long) unless it is already there; returns the new length. */
// @ts-ignore: decorator
@inline function gatedMark(list: usize, seen: usize, n: i32, p: i32): i32 {
  if (load<u8>(seen + <usize>p) != 0) return n;
  store<u8>(seen + <usize>p, 1);
  store<i32>(list + (<usize>n << 2), p);
  return n + 1;
}

/** Sorts the list's n cells ascending (insertion sort: it is short and nearly in order) and clears their marks; returns n. */
function gatedSortClear(list: usize, seen: usize, n: i32): i32 {
  for (let i = 1; i < n; i++) {
    const v = load<i32>(list + (<usize>i << 2));
    let j = i - 1;
    while (j >= 0 && load<i32>(list + (<usize>j << 2)) > v) {
      store<i32>(list + (<usize>(j + 1) << 2), load<i32>(list + (<usize>j << 2)));
      j--;
    }
    store<i32>(list + (<usize>(j + 1) << 2), v);
  }
  for (let i = 0; i < n; i++) store<u8>(seen + <usize>load<i32>(list + (<usize>i << 2)), 0);
  return n;
}
