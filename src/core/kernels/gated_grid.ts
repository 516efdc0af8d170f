// Gated value iteration's hard-max backups on free 4-connected grids (the planner with learned passability plans
// with the moves stay, up, down, left, right on every cell): a stencil over a padded layout instead of the
// successor table's gather. Each problem is laid out (H + 2)·(W + 2) cells row-major with gate 0 and value 0 on
// the padding, so a move is a fixed offset and needs no bounds test: a move into the padding is worth
// E(s) + 0·(0 − E(s)) = E(s), bit for bit what the successor table's "a move off the grid stays" gives. Every
// product, sum and comparison is the one src/nn/gated_value_iteration.ts's general kernel makes (float64 on
// float32 values, first move on ties), so values, winning moves and Q at the agent are equal bit for bit (tested).
// The wasm backend runs it in WebAssembly (assembly/kernels.ts: gatedGridForward in SIMD, two cells per float64
// vector; gatedGridBackward visits only the cells on the winning-move paths from the agent, the cells that carry a
// gradient, in order); these loops are the other backends' (their backward visits every cell and skips the zeros).

/** Each move's row and column step (nn/value_iteration.ts's MOVE_DY and MOVE_DX; kernels import nothing from nn). */
const MOVE_DY = [0, -1, 1, 0, 0] as const;
const MOVE_DX = [0, 0, 0, -1, 1] as const;

/** The grid moves' offsets in the padded layout, in GRID_MOVES order (stay, up, down, left, right). */
export function gridMoveOffsets(width: number): readonly [number, number, number, number, number] {
  const wp = width + 2;
  return [0, -wp, wp, -1, 1];
}

/** Floats per padded problem: (H + 2)·(W + 2) plus 4 of slack for the strip's last vector, rounded up to a multiple of 4. */
export function gridStride(height: number, width: number): number {
  return ((height + 2) * (width + 2) + 4 + 3) & ~3;
}

/** The padded index of unpadded cell s of an H×W grid. */
export function paddedCell(s: number, width: number): number {
  return (Math.floor(s / width) + 1) * (width + 2) + (s % width) + 1;
}

export interface GatedGridPasses {
  /**
   * K hard-max gated backups of B problems on H×W grids. g, r, c: gates, rewards, continuations [B, H·W]; at: each
   * problem's agent cell; qAt [B, 5], out: Q_K at it per move; values, out: V_k in the padded layout, [B, K, PS]
   * when args is given (every step, for the backward pass) else [B, PS] (V_K only), PS = gridStride(H, W), padding
   * cells undefined; args: the winning move of every cell and step as bytes [B, K, PS], in a Float32Array's memory
   * (null: not recorded).
   */
  forward(g: Float32Array, r: Float32Array, c: Float32Array, at: Int32Array, qAt: Float32Array, values: Float32Array, args: Float32Array | null, B: number, H: number, W: number, K: number): void;
  /**
   * Its gradient from gq [B, 5] (the gradient of Q_K at the agent), with the values and args forward recorded:
   * accumulates into dR, dC, dG [B, H·W] (null: not wanted). Per step k = K−1..1, the gradient of E_k goes to R, C
   * and V_k; each cell's V_k gradient dv goes to its winning move's cell t (dv·g(t)), to itself (dv·(1 − g(t))) and
   * to g(t) (dv·(E_{k−1}(t) − E_{k−1}(s))), cells in order — the successor-table kernel's sums in its order.
   */
  backward(gq: Float32Array, g: Float32Array, r: Float32Array, c: Float32Array, at: Int32Array, values: Float32Array, args: Float32Array, dR: Float32Array | null, dC: Float32Array | null, dG: Float32Array | null, B: number, H: number, W: number, K: number): void;
}

/** The backups in plain TypeScript, the same arithmetic as the wasm kernel cell by cell. */
export const jsGatedGrid: GatedGridPasses = {
  forward(g, r, c, at, qAt, values, args, B, H, W, K) {
    const S = H * W;
    const Wp = W + 2;
    const PS = gridStride(H, W);
    const [, up, down, left, right] = gridMoveOffsets(W);
    const gp = new Float32Array(PS);
    const rp = new Float32Array(PS);
    const cp = new Float32Array(PS);
    let e = new Float32Array(PS);
    let eOut = new Float32Array(PS);
    const arg = args === null ? null : new Uint8Array(args.buffer, args.byteOffset, B * K * PS);
    for (let b = 0; b < B; b++) {
      for (let y = 0; y < H; y++) {
        const from = b * S + y * W;
        const to = (y + 1) * Wp + 1;
        gp.set(g.subarray(from, from + W), to);
        rp.set(r.subarray(from, from + W), to);
        cp.set(c.subarray(from, from + W), to);
        e.set(r.subarray(from, from + W), to); // E_0 = R
      }
      for (let k = 1; k <= K; k++) {
        const vRow = arg !== null ? (b * K + k - 1) * PS : b * PS;
        for (let y = 1; y <= H; y++) {
          for (let p = y * Wp + 1, last = p + W; p < last; p++) {
            const es = e[p]!;
            let v = es + gp[p]! * (es - es);
            let a = 0;
            const q1 = es + gp[p + up]! * (e[p + up]! - es);
            const q2 = es + gp[p + down]! * (e[p + down]! - es);
            const q3 = es + gp[p + left]! * (e[p + left]! - es);
            const q4 = es + gp[p + right]! * (e[p + right]! - es);
            if (q1 > v) { v = q1; a = 1; }
            if (q2 > v) { v = q2; a = 2; }
            if (q3 > v) { v = q3; a = 3; }
            if (q4 > v) { v = q4; a = 4; }
            values[vRow + p] = v;
            eOut[p] = rp[p]! + cp[p]! * v; // from the unrounded V
            if (arg !== null) arg[vRow + p] = a;
          }
        }
        if (k < K) {
          const t = e;
          e = eOut;
          eOut = t;
        }
      }
      const pa = paddedCell(at[b]!, W);
      const ea = e[pa]!;
      const offsets = gridMoveOffsets(W);
      for (let m = 0; m < 5; m++) qAt[b * 5 + m] = ea + gp[pa + offsets[m]!]! * (e[pa + offsets[m]!]! - ea);
    }
  },

  backward(gq, g, r, c, at, values, argStore, dR, dC, dG, B, H, W, K) {
    const S = H * W;
    const Wp = W + 2;
    const PS = gridStride(H, W);
    const args = new Uint8Array(argStore.buffer, argStore.byteOffset, B * K * PS);
    const offsets = gridMoveOffsets(W); // padded
    const cellOffsets = [0, -W, W, -1, 1]; // unpadded
    let dE = new Float32Array(PS); // gradient of E_k (padded; the padding stays 0), k = K−1 first
    let dEPrev = new Float32Array(PS);
    const ePrev = new Float32Array(PS); // E_{k−1}, padded
    const gp = new Float32Array(PS); // this problem's gates, padded
    const dV = new Float32Array(PS);
    /** ePrev = E_{k−1} = R + C·V_{k−1} from the stored (rounded) V (vRow ≥ 0), or R, on the interior */
    const entering = (base: number, vRow: number): void => {
      for (let y = 0, s = base; y < H; y++) {
        for (let p = (y + 1) * Wp + 1, last = p + W; p < last; p++, s++) ePrev[p] = vRow < 0 ? r[s]! : r[s]! + c[s]! * values[vRow + p]!;
      }
    };
    for (let b = 0; b < B; b++) {
      const base = b * S;
      for (let y = 0; y < H; y++) gp.set(g.subarray(base + y * W, base + (y + 1) * W), (y + 1) * Wp + 1);
      dE.fill(0);
      entering(base, K >= 2 ? (b * K + K - 2) * PS : -1); // E_{K−1}
      // Q_K at the agent: a move off the grid stays (t = the agent's cell)
      const a = at[b]!;
      const ay = Math.floor(a / W);
      const ax = a % W;
      const pa = paddedCell(a, W);
      for (let m = 0; m < 5; m++) {
        const ny = ay + MOVE_DY[m]!;
        const nx = ax + MOVE_DX[m]!;
        const inside = ny >= 0 && ny < H && nx >= 0 && nx < W;
        const t = inside ? ny * W + nx : a;
        const pt = inside ? pa + offsets[m]! : pa;
        const d = gq[b * 5 + m]!;
        const gt = g[base + t]!;
        dE[pt]! += d * gt;
        dE[pa]! += d * (1 - gt);
        if (dG) dG[base + t]! += d * (ePrev[pt]! - ePrev[pa]!);
      }
      for (let k = K - 1; k >= 1; k--) {
        const vRow = (b * K + k - 1) * PS;
        // E_k = R + C ⊙ V_k
        for (let y = 0, s = base; y < H; y++) {
          for (let p = (y + 1) * Wp + 1, last = p + W; p < last; p++, s++) {
            const d = dE[p]!;
            dV[p] = 0;
            if (d === 0) continue;
            if (dR) dR[s]! += d;
            if (dC) dC[s]! += d * values[vRow + p]!;
            dV[p] = d * c[s]!;
          }
        }
        // V_k(s) = max_m Q_k(s, m) from E_{k−1}
        entering(base, k >= 2 ? (b * K + k - 2) * PS : -1);
        dEPrev.fill(0);
        for (let y = 0, s = base; y < H; y++) {
          for (let p = (y + 1) * Wp + 1, last = p + W; p < last; p++, s++) {
            const dv = dV[p]!;
            if (dv === 0) continue;
            const move = args[vRow + p]!;
            const t = p + offsets[move]!;
            const gt = gp[t]!;
            dEPrev[t]! += dv * gt;
            dEPrev[p]! += dv * (1 - gt);
            if (dG) dG[s + cellOffsets[move]!]! += dv * (ePrev[t]! - ePrev[p]!);
          }
        }
        const swap = dE;
        dE = dEPrev;
        dEPrev = swap;
      }
      if (dR) {
        for (let y = 0, s = base; y < H; y++) for (let p = (y + 1) * Wp + 1, last = p + W; p < last; p++, s++) dR[s]! += dE[p]!; // E_0 = R
      }
    }
  },
};
