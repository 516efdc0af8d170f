// Value iteration with a learned transition model: every move tries to enter its target cell t and succeeds with
// the cell's passability g(t) ∈ [0, 1], else the agent stays where it is (after gated path-planning networks,
// Lee et al. 2018, and the propagation gates of MVProp, Nardelli et al. 2018). With E_k = R + C ⊙ V_k, V_0 = 0:
//     Q_k(s, m) = E_{k−1}(s) + g(t) · (E_{k−1}(t) − E_{k−1}(s)),   t = next(s, m)
//     V_k(s)    = backup_m Q_k(s, m)          (max, or the soft-max τ·log Σ_m exp(Q/τ))
// a move that stays (t = s) is worth E_{k−1}(s) whatever g(s). Gradients reach R, C and the passability g, so
// a conv head that outputs g learns where the walls are from the return alone. A gate of exactly 0 on a wall and
// 1 elsewhere plans exactly as the walls read from the observation do (value_iteration.ts; tested).
//
// Unlike the known-walls kernel no state can be skipped (every cell might be entered), so each backup visits all
// S states. Hard-max backups record the winning move of every state and step (one byte each) and the backward
// pass follows them; E_{k−1} is recomputed from the stored V_{k−1} there (cheaper than storing Q). On the free
// 4-connected grid (the table says so: SuccessorTable.grid) hard-max backups run as a stencil over a padded layout
// (core/kernels/gated_grid.ts: WebAssembly SIMD with the wasm kernels), with the same arithmetic bit for bit; this
// file's successor-table loops stay the reference and serve every other move set and the soft backup.
import { ShapeError } from "../core/errors.js";
import { kernels } from "../core/kernels/index.js";
import { gridStride } from "../core/kernels/gated_grid.js";
import { acquireResident } from "../core/pool.js";
import { type Tensor, acquireBuffer, gradBuffer, makeResult, needsGrad, releaseBuffer } from "../core/tensor.js";
import { fastExp } from "../core/ops/unary.js";
import { type PlanResult, type SuccessorTable, type ValueIterationOptions, checkProblem, lastValues } from "./value_iteration.js";

/** E[s] = R + C·V over one problem (V at vOff; k = 0: E_0 = R). */
function enteringValues(R: Float32Array, C: Float32Array, base: number, V: Float32Array | null, vOff: number, e: Float32Array, S: number): void {
  if (V === null) for (let s = 0; s < S; s++) e[s] = R[base + s]!;
  else for (let s = 0; s < S; s++) e[s] = R[base + s]! + C[base + s]! * V[vOff + s]!;
}

/** Q(s, m) = E(s) + g(t)·(E(t) − E(s)) of state s's M moves (successor row `row`) into q; returns the first move with the largest. */
function gatedQ(next: Int32Array, row: number, G: Float32Array, base: number, e: Float32Array, s: number, M: number, q: Float64Array): number {
  const es = e[s]!;
  let a = 0;
  for (let m = 0; m < M; m++) {
    const t = next[row + m]!;
    q[m] = es + G[base + t]! * (e[t]! - es);
    if (q[m]! > q[a]!) a = m;
  }
  return a;
}

/** One hard-max gated backup of every state (any number of moves): V_k into values[off..], E_k into eOut, the winning move into arg[off..] when given. */
function gatedMaxBackup(next: Int32Array, rowBase: number, G: Float32Array, R: Float32Array, C: Float32Array, base: number, e: Float32Array, eOut: Float32Array, values: Float32Array, off: number, arg: Uint8Array | null, S: number, M: number, q: Float64Array): void {
  for (let s = 0, row = rowBase; s < S; s++, row += M) {
    const a = gatedQ(next, row, G, base, e, s, M, q);
    const v = q[a]!;
    values[off + s] = v;
    eOut[s] = R[base + s]! + C[base + s]! * v;
    if (arg !== null) arg[off + s] = a;
  }
}

/** gatedMaxBackup unrolled for 5 moves (the grid's stay, up, down, left, right), on one problem's arrays (G, R, C from 0). */
function gatedMaxBackup5(next: Int32Array, rowBase: number, G: Float32Array, R: Float32Array, C: Float32Array, e: Float32Array, eOut: Float32Array, values: Float32Array, off: number, arg: Uint8Array | null, S: number): void {
  for (let s = 0, row = rowBase; s < S; s++, row += 5) {
    const es = e[s]!;
    const t0 = next[row]!;
    const t1 = next[row + 1]!;
    const t2 = next[row + 2]!;
    const t3 = next[row + 3]!;
    const t4 = next[row + 4]!;
    let v = es + G[t0]! * (e[t0]! - es);
    let a = 0;
    const q1 = es + G[t1]! * (e[t1]! - es);
    const q2 = es + G[t2]! * (e[t2]! - es);
    const q3 = es + G[t3]! * (e[t3]! - es);
    const q4 = es + G[t4]! * (e[t4]! - es);
    if (q1 > v) { v = q1; a = 1; }
    if (q2 > v) { v = q2; a = 2; }
    if (q3 > v) { v = q3; a = 3; }
    if (q4 > v) { v = q4; a = 4; }
    values[off + s] = v;
    eOut[s] = R[s]! + C[s]! * v;
    if (arg !== null) arg[off + s] = a;
  }
}

/** One soft gated backup of every state. */
function gatedSoftBackup(next: Int32Array, rowBase: number, G: Float32Array, R: Float32Array, C: Float32Array, base: number, e: Float32Array, eOut: Float32Array, values: Float32Array, off: number, S: number, M: number, tau: number, q: Float64Array): void {
  const inv = 1 / tau;
  for (let s = 0, row = rowBase; s < S; s++, row += M) {
    const v = q[gatedQ(next, row, G, base, e, s, M, q)]!;
    let z = 0;
    for (let m = 0; m < M; m++) z += fastExp((q[m]! - v) * inv);
    const out = v + tau * Math.log(z);
    values[off + s] = out;
    eOut[s] = R[base + s]! + C[base + s]! * out;
  }
}

/**
 * Gated value iteration as one tape node. table: the moves' target cells ([B, S, M]; a move off the grid targets
 * its own cell); reward, continuation, passability: [B, S] tensors (any may require grad); at: one state per
 * problem. Returns Q_K at `at` ([B, M]) with gradients to all three inputs, and V_K of every state.
 */
export function planQGated(table: SuccessorTable, reward: Tensor, continuation: Tensor, passability: Tensor, at: Int32Array, options: ValueIterationOptions): PlanResult {
  checkProblem("planQGated", table, reward.data, continuation.data, options);
  const { batch: B, states: S, moves: M, next } = table;
  if (passability.data.length !== B * S) throw new ShapeError(`planQGated: passability has ${passability.data.length} values, expected ${B}·${S}`);
  if (at.length !== B) throw new ShapeError(`planQGated: ${at.length} agent states for ${B} problems`);
  for (let b = 0; b < B; b++) {
    if (!(at[b]! >= 0 && at[b]! < S)) throw new ShapeError(`planQGated: agent state ${at[b]} of problem ${b} is outside [0, ${S})`);
  }
  const K = options.iterations;
  const soft = options.backup === "soft";
  if (table.grid !== undefined && !soft) return planQGatedGrid(table, table.grid.height, table.grid.width, reward, continuation, passability, at, K);
  const tau = options.temperature ?? 1;
  const n = B * S;
  const recordsGrad = needsGrad(reward, continuation, passability);
  const R = reward.data;
  const C = continuation.data;
  const G = passability.data;
  // V_1..V_K per problem ([B, K, S]) when a backward pass will need them, else V_K only ([B, S])
  const values = recordsGrad ? acquireBuffer(K * n, false) : new Float32Array(n);
  const args = recordsGrad && !soft ? new Uint8Array(K * n) : null;
  const qAt = new Float32Array(B * M);
  let e = new Float32Array(S);
  let eOut = new Float32Array(S);
  const qs = new Float64Array(M);
  for (let b = 0; b < B; b++) {
    const base = b * S;
    const rowBase = base * M;
    enteringValues(R, C, base, null, 0, e, S); // E_0 = R
    const Gb = G.subarray(base, base + S);
    const Rb = R.subarray(base, base + S);
    const Cb = C.subarray(base, base + S);
    for (let k = 1; k <= K; k++) {
      const off = recordsGrad ? (b * K + k - 1) * S : base;
      if (soft) gatedSoftBackup(next, rowBase, G, R, C, base, e, eOut, values, off, S, M, tau, qs);
      else if (M === 5) gatedMaxBackup5(next, rowBase, Gb, Rb, Cb, e, eOut, values, off, args, S);
      else gatedMaxBackup(next, rowBase, G, R, C, base, e, eOut, values, off, args, S, M, qs);
      if (k < K) {
        const t = e;
        e = eOut;
        eOut = t;
      }
    }
    // e holds E_{K−1}: Q_K(at, m) = E_{K−1}(at) + g(t)·(E_{K−1}(t) − E_{K−1}(at))
    const a = at[b]!;
    const ea = e[a]!;
    for (let m = 0; m < M; m++) {
      const t = next[rowBase + a * M + m]!;
      qAt[b * M + m] = ea + G[base + t]! * (e[t]! - ea);
    }
  }
  const last = recordsGrad ? lastValues(values, B, K, S) : values;
  const q = makeResult("gated_value_iteration", qAt, [B, M], [reward, continuation, passability], !recordsGrad ? null : (g, final) => {
    const dR = reward.requiresGrad ? gradBuffer(reward) : null;
    const dC = continuation.requiresGrad ? gradBuffer(continuation) : null;
    const dG = passability.requiresGrad ? gradBuffer(passability) : null;
    let dE = new Float32Array(S); // gradient of E_k, k = K−1 first
    let dEPrev = new Float32Array(S);
    const ePrev = new Float32Array(S); // E_{k−1}
    const dV = new Float32Array(S);
    const w = new Float64Array(M);
    // Q = E(s) + g(t)·(E(t) − E(s)) with upstream d: E(t) gets d·g(t), E(s) d·(1 − g(t)), g(t) d·(E(t) − E(s))
    const spread = (base: number, s: number, t: number, d: number, eV: Float32Array, into: Float32Array): void => {
      const gt = G[base + t]!;
      into[t]! += d * gt;
      into[s]! += d * (1 - gt);
      if (dG) dG[base + t]! += d * (eV[t]! - eV[s]!);
    };
    for (let b = 0; b < B; b++) {
      const base = b * S;
      const rowBase = base * M;
      dE.fill(0);
      enteringValues(R, C, base, K >= 2 ? values : null, (b * K + K - 2) * S, ePrev, S); // E_{K−1}
      const a = at[b]!;
      for (let m = 0; m < M; m++) spread(base, a, next[rowBase + a * M + m]!, g[b * M + m]!, ePrev, dE);
      for (let k = K - 1; k >= 1; k--) {
        const vOff = (b * K + k - 1) * S;
        // E_k = R + C ⊙ V_k
        for (let s = 0; s < S; s++) {
          const d = dE[s]!;
          dV[s] = 0;
          if (d === 0) continue;
          if (dR) dR[base + s]! += d;
          if (dC) dC[base + s]! += d * values[vOff + s]!;
          dV[s] = d * C[base + s]!;
        }
        // V_k(s) = backup_m Q_k(s, m), Q_k from E_{k−1}
        enteringValues(R, C, base, k >= 2 ? values : null, (b * K + k - 2) * S, ePrev, S);
        dEPrev.fill(0);
        for (let s = 0, row = rowBase; s < S; s++, row += M) {
          const dv = dV[s]!;
          if (dv === 0) continue;
          if (args !== null) {
            spread(base, s, next[row + args[vOff + s]!]!, dv, ePrev, dEPrev);
            continue;
          }
          const best = w[gatedQ(next, row, G, base, ePrev, s, M, w)]!;
          let z = 0;
          for (let m = 0; m < M; m++) z += w[m] = fastExp((w[m]! - best) / tau);
          for (let m = 0; m < M; m++) spread(base, s, next[row + m]!, (dv * w[m]!) / z, ePrev, dEPrev);
        }
        const t = dE;
        dE = dEPrev;
        dEPrev = t;
      }
      if (dR) for (let s = 0; s < S; s++) dR[base + s]! += dE[s]!; // E_0 = R
    }
    if (final) releaseBuffer(values);
  });
  return { q, values: last };
}

/**
 * planQGated's hard-max backups on the free H×W grid (table.grid), as a stencil over padded problems
 * (kernels().gatedGrid): the same values, Q and gradients bit for bit. V_k and the winning moves are kept in the
 * padded layout (resident in the wasm memory when it has room) for the backward pass.
 */
function planQGatedGrid(table: SuccessorTable, H: number, W: number, reward: Tensor, continuation: Tensor, passability: Tensor, at: Int32Array, K: number): PlanResult {
  const { batch: B, states: S, moves: M } = table;
  if (H * W !== S || M !== 5) throw new ShapeError(`planQGated: a grid of ${H}×${W} with 5 moves, but the table has ${S} states and ${M} moves`);
  const PS = gridStride(H, W);
  const recordsGrad = needsGrad(reward, continuation, passability);
  const R = reward.data;
  const C = continuation.data;
  const G = passability.data;
  // V_1..V_K padded ([B, K, PS]) and the winning moves (bytes, same layout) when a backward pass will need them, else V_K ([B, PS])
  const values = acquireResident(recordsGrad ? B * K * PS : B * PS, false);
  const argStore = recordsGrad ? acquireResident((B * K * PS + 3) >> 2, false) : null;
  const qAt = new Float32Array(B * M);
  kernels().gatedGrid.forward(G, R, C, at, qAt, values, argStore, B, H, W, K);
  const last = new Float32Array(B * S);
  const Wp = W + 2;
  for (let b = 0; b < B; b++) {
    const row = recordsGrad ? (b * K + K - 1) * PS : b * PS;
    for (let y = 0; y < H; y++) last.set(values.subarray(row + (y + 1) * Wp + 1, row + (y + 1) * Wp + 1 + W), b * S + y * W);
  }
  if (!recordsGrad) releaseBuffer(values);
  const q = makeResult("gated_value_iteration", qAt, [B, M], [reward, continuation, passability], argStore === null ? null : (g, final) => {
    const grad = (t: Tensor): Float32Array | null => (t.requiresGrad ? gradBuffer(t) : null);
    kernels().gatedGrid.backward(g, G, R, C, at, values, argStore, grad(reward), grad(continuation), grad(passability), B, H, W, K);
    if (final) {
      releaseBuffer(values);
      releaseBuffer(argStore);
    }
  });
  return { q, values: last };
}
