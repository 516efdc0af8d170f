// K steps of value iteration over a batch of deterministic tabular MDPs, with a fused forward and backward
// (Tamar et al. 2016's Value Iteration Networks, on an explicit successor table instead of a learned kernel).
// The glass-box planner runs it on grid cells (moves blocked by walls it reads from the observation), and
// behavioural objective inference runs it on each level's exact transition table.
//
// Rewards are paid on *entering* a state: with E_k = R + C ⊙ V_k (C = γ·(1 − termination), the chance the
// episode goes on after entering, discounted), V_0 = 0 and
//     Q_k(s, m) = E_{k−1}(next(s, m)),    V_k(s) = backup_m Q_k(s, m)
// where backup is the max or the soft-max τ·log Σ_m exp(Q/τ). The op returns Q_K at one state per batch element
// (the agent's cell) and V_K everywhere; its backward runs the recursion in reverse, recomputing each step's Q
// from the stored V_k (cheaper than storing Q), so memory is K·B·S floats.
//
// Measured (`npm run bench -- planner`): the generic autograd would record K·(M + 3) ops per call; this kernel
// does one pass of S·(M + 2) multiply-adds per step and batch element.
import { ConfigError, ShapeError } from "../core/errors.js";
import { type Tensor, acquireBuffer, gradBuffer, makeResult, needsGrad, releaseBuffer } from "../core/tensor.js";
import { fastExp } from "../core/ops/unary.js";

export type Backup = "max" | "soft";

/** The moves of the planner's grid model, in this order: index 0 stays, 1–4 step up, down, left, right. */
export const GRID_MOVES = ["stay", "up", "down", "left", "right"] as const;
export type GridMove = (typeof GRID_MOVES)[number];
const MOVE_DY = [0, -1, 1, 0, 0];
const MOVE_DX = [0, 0, 0, -1, 1];

/**
 * Successor table of 4-connected grids: next[(b·S + s)·5 + m] is the cell reached from cell s by move m of
 * GRID_MOVES, or s itself when the move would enter a blocked cell or leave the grid. blocked: [B, H, W] (non-zero
 * = wall). Blocked cells only lead to themselves.
 */
export function gridSuccessors(blocked: Uint8Array, batch: number, height: number, width: number, out?: Int32Array): Int32Array {
  const S = height * width;
  if (blocked.length !== batch * S) throw new ShapeError(`gridSuccessors: blocked has ${blocked.length} cells, expected ${batch}·${height}·${width}`);
  const next = out && out.length === batch * S * 5 ? out : new Int32Array(batch * S * 5);
  for (let b = 0; b < batch; b++) {
    const base = b * S;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const s = y * width + x;
        const row = (base + s) * 5;
        if (blocked[base + s] !== 0) {
          for (let m = 0; m < 5; m++) next[row + m] = s;
          continue;
        }
        for (let m = 0; m < 5; m++) {
          const ny = y + MOVE_DY[m]!;
          const nx = x + MOVE_DX[m]!;
          const inside = ny >= 0 && ny < height && nx >= 0 && nx < width;
          const t = ny * width + nx;
          next[row + m] = inside && blocked[base + t] === 0 ? t : s;
        }
      }
    }
  }
  return next;
}

export interface ValueIterationOptions {
  /** number of backups K (≥ 1) */
  iterations: number;
  /** "max" (hard) or "soft" (τ·logsumexp) */
  backup: Backup;
  /** temperature τ of the soft backup (ignored by "max") */
  temperature?: number;
}

/** A batch of tabular problems: B problems of S states and M moves, successors local to each problem. */
export interface SuccessorTable {
  next: Int32Array; // [B, S, M]
  batch: number;
  states: number;
  moves: number;
}

function checkProblem(name: string, table: SuccessorTable, reward: Float32Array, continuation: Float32Array, options: ValueIterationOptions): void {
  const { batch, states, moves, next } = table;
  if (next.length !== batch * states * moves) throw new ShapeError(`${name}: successor table has ${next.length} entries, expected ${batch}·${states}·${moves}`);
  if (reward.length !== batch * states) throw new ShapeError(`${name}: reward has ${reward.length} values, expected ${batch}·${states}`);
  if (continuation.length !== batch * states) throw new ShapeError(`${name}: continuation has ${continuation.length} values, expected ${batch}·${states}`);
  if (!Number.isInteger(options.iterations) || options.iterations < 1) {
    throw new ConfigError(`${name}: iterations must be a positive integer, got ${options.iterations}`, "set the planner's iterations (K) to at least the longest path it must plan");
  }
  if (options.backup !== "max" && options.backup !== "soft") throw new ConfigError(`${name}: backup must be "max" or "soft", got "${String(options.backup)}"`);
  if (options.backup === "soft" && !((options.temperature ?? 1) > 0)) throw new ConfigError(`${name}: soft backup needs a temperature > 0, got ${options.temperature}`);
  if (moves > MAX_RECORDED_MOVES) throw new ShapeError(`${name}: ${moves} moves per state; at most ${MAX_RECORDED_MOVES} (the backward pass records each state's winning move in a byte)`);
}

// The loops run problem by problem, all K backups of one problem before the next: a problem's S values and
// successors stay in L1 cache (measured 6× faster than sweeping the whole batch once per backup). Each backup
// is a small monomorphic function (the 4- and 5-move cases unrolled) that V8 compiles once, and writes both
// V_k and E_k = R + C ⊙ V_k in the same pass (E double-buffered: the backup reads E_{k−1} while writing E_k).
// When gradients are wanted, a hard-max backup also records which move won at each state (one byte per state
// and step): the backward pass then follows those moves without recomputing any Q or argmax. The first
// maximum wins ties, as in the recomputation it replaces, so gradients are unchanged.

/** One problem's arrays for a backup: successors from rowBase, E_{k−1} in `e`, R and C from `base`. */
interface ProblemArrays {
  next: Int32Array;
  rowBase: number;
  reward: Float32Array;
  continuation: Float32Array;
  base: number;
}

/** One hard-max backup with 5 moves: V_k(s) = max_m E_{k−1}(next(s, m)) into values[off + s], E_k into eOut, the winning move into arg[off + s] (when given). */
function maxBackup5(p: ProblemArrays, e: Float32Array, eOut: Float32Array, values: Float32Array, off: number, S: number, arg: Uint8Array | null): void {
  const { next, reward: R, continuation: C, base } = p;
  for (let s = 0, row = p.rowBase; s < S; s++, row += 5) {
    let v = e[next[row]!]!;
    let a = 0;
    const v1 = e[next[row + 1]!]!;
    const v2 = e[next[row + 2]!]!;
    const v3 = e[next[row + 3]!]!;
    const v4 = e[next[row + 4]!]!;
    if (v1 > v) { v = v1; a = 1; }
    if (v2 > v) { v = v2; a = 2; }
    if (v3 > v) { v = v3; a = 3; }
    if (v4 > v) { v = v4; a = 4; }
    values[off + s] = v;
    eOut[s] = R[base + s]! + C[base + s]! * v;
    if (arg !== null) arg[off + s] = a;
  }
}

/** maxBackup5 for 4 moves (an env's own actions, e.g. coin-run's noop, left, right, jump). */
function maxBackup4(p: ProblemArrays, e: Float32Array, eOut: Float32Array, values: Float32Array, off: number, S: number, arg: Uint8Array | null): void {
  const { next, reward: R, continuation: C, base } = p;
  for (let s = 0, row = p.rowBase; s < S; s++, row += 4) {
    let v = e[next[row]!]!;
    let a = 0;
    const v1 = e[next[row + 1]!]!;
    const v2 = e[next[row + 2]!]!;
    const v3 = e[next[row + 3]!]!;
    if (v1 > v) { v = v1; a = 1; }
    if (v2 > v) { v = v2; a = 2; }
    if (v3 > v) { v = v3; a = 3; }
    values[off + s] = v;
    eOut[s] = R[base + s]! + C[base + s]! * v;
    if (arg !== null) arg[off + s] = a;
  }
}

function maxBackup(p: ProblemArrays, e: Float32Array, eOut: Float32Array, values: Float32Array, off: number, S: number, arg: Uint8Array | null, M: number): void {
  const { next, reward: R, continuation: C, base } = p;
  for (let s = 0, row = p.rowBase; s < S; s++, row += M) {
    let v = -Infinity;
    let a = 0;
    for (let m = 0; m < M; m++) {
      const q = e[next[row + m]!]!;
      if (q > v) {
        v = q;
        a = m;
      }
    }
    values[off + s] = v;
    eOut[s] = R[base + s]! + C[base + s]! * v;
    if (arg !== null) arg[off + s] = a;
  }
}

function softBackup(p: ProblemArrays, e: Float32Array, eOut: Float32Array, values: Float32Array, off: number, S: number, M: number, tau: number): void {
  const { next, reward: R, continuation: C, base } = p;
  const inv = 1 / tau;
  for (let s = 0, row = p.rowBase; s < S; s++, row += M) {
    let v = -Infinity;
    for (let m = 0; m < M; m++) {
      const q = e[next[row + m]!]!;
      if (q > v) v = q;
    }
    let z = 0;
    for (let m = 0; m < M; m++) z += fastExp((e[next[row + m]!]! - v) * inv);
    const out = v + tau * Math.log(z);
    values[off + s] = out;
    eOut[s] = R[base + s]! + C[base + s]! * out;
  }
}

/** e[s] = R + C·V over one problem (E_k from V_k); V read at vOff. */
function entering(reward: Float32Array, continuation: Float32Array, base: number, v: Float32Array, vOff: number, e: Float32Array, S: number): void {
  for (let s = 0; s < S; s++) e[s] = reward[base + s]! + continuation[base + s]! * v[vOff + s]!;
}

/** At most this many moves per state when the winning moves are recorded (one byte each). */
const MAX_RECORDED_MOVES = 256;

/**
 * V_k for k = 1..K (written into `values`, [B, K, S]: each problem's values together; V_0 = 0 is implicit) and
 * Q_K at `at` ([B, M]). With `args` ([B, K, S], hard-max backups only), the winning move of every backup.
 * Plain arrays, no tape: what inference and the autograd op share.
 */
export function valueIterationArrays(
  table: SuccessorTable,
  reward: Float32Array,
  continuation: Float32Array,
  options: ValueIterationOptions,
  values: Float32Array,
  at: Int32Array | null,
  qAt: Float32Array | null,
  args: Uint8Array | null = null,
): void {
  const { batch: B, states: S, moves: M, next } = table;
  const K = options.iterations;
  const soft = options.backup === "soft";
  const tau = options.temperature ?? 1;
  let e = new Float32Array(S);
  let eOut = new Float32Array(S);
  const p: ProblemArrays = { next, rowBase: 0, reward, continuation, base: 0 };
  for (let b = 0; b < B; b++) {
    const base = b * S;
    p.base = base;
    p.rowBase = base * M;
    for (let s = 0; s < S; s++) e[s] = reward[base + s]!; // E_0 = R (V_0 = 0)
    for (let k = 1; k <= K; k++) {
      const off = (b * K + k - 1) * S;
      if (soft) softBackup(p, e, eOut, values, off, S, M, tau);
      else if (M === 5) maxBackup5(p, e, eOut, values, off, S, args);
      else if (M === 4) maxBackup4(p, e, eOut, values, off, S, args);
      else maxBackup(p, e, eOut, values, off, S, args, M);
      if (k < K) {
        const t = e;
        e = eOut;
        eOut = t;
      }
    }
    // e holds E_{K−1}: Q_K(at, m) = E_{K−1}(next(at, m))
    if (at && qAt) {
      const row = p.rowBase + at[b]! * M;
      for (let m = 0; m < M; m++) qAt[b * M + m] = e[next[row + m]!]!;
    }
  }
}

export interface PlanResult {
  /** [B, M] Q_K at each problem's `at` state, differentiable w.r.t. reward and continuation */
  q: Tensor;
  /** V_K of every state, [B, S] (no gradient) */
  values: Float32Array;
}

/**
 * Value iteration as one tape node. reward, continuation: [B, S] tensors (either may require grad); the
 * successor table and `at` (one state per problem) are constants. Returns Q_K at `at` with gradients to both
 * inputs, and V_K as plain values.
 */
export function planQ(table: SuccessorTable, reward: Tensor, continuation: Tensor, at: Int32Array, options: ValueIterationOptions): PlanResult {
  checkProblem("planQ", table, reward.data, continuation.data, options);
  const { batch: B, states: S, moves: M, next } = table;
  if (at.length !== B) throw new ShapeError(`planQ: ${at.length} agent states for ${B} problems`);
  for (let b = 0; b < B; b++) {
    if (!(at[b]! >= 0 && at[b]! < S)) throw new ShapeError(`planQ: agent state ${at[b]} of problem ${b} is outside [0, ${S})`);
  }
  const K = options.iterations;
  const n = B * S; // values per backup
  const recordsGrad = needsGrad(reward, continuation);
  const soft = options.backup === "soft";
  const allValues = acquireBuffer(K * n, false); // V_1..V_K, every element written; back to the pool after backward
  // the winning move of every hard-max backup, for the backward pass (no recomputation there)
  const args = recordsGrad && !soft ? new Uint8Array(K * n) : null;
  const qAt = new Float32Array(B * M);
  valueIterationArrays(table, reward.data, continuation.data, options, allValues, at, qAt, args);
  const values = lastValues(allValues, B, K, S);
  const R = reward.data;
  const C = continuation.data;
  const tau = options.temperature ?? 1;
  if (!recordsGrad) releaseBuffer(allValues);
  const q = makeResult("value_iteration", qAt, [B, M], [reward, continuation], !recordsGrad ? null : (g, final) => {
    const dR = reward.requiresGrad ? gradBuffer(reward) : null;
    const dC = continuation.requiresGrad ? gradBuffer(continuation) : null;
    // per problem: dE holds the gradient of E_k (k = K−1 first), since Q_K(at, m) = E_{K−1}(next(at, m))
    let dE = new Float32Array(S);
    let dEPrev = new Float32Array(S);
    const e = new Float32Array(S);
    const weights = new Float64Array(M);
    for (let b = 0; b < B; b++) {
      const base = b * S;
      const rowBase = base * M;
      dE.fill(0);
      const atRow = rowBase + at[b]! * M;
      for (let m = 0; m < M; m++) dE[next[atRow + m]!]! += g[b * M + m]!;
      for (let k = K - 1; k >= 1; k--) {
        const vOff = (b * K + k - 1) * S;
        dEPrev.fill(0);
        if (args !== null) {
          // E_k = R + C ⊙ V_k, and V_k(s) = E_{k−1}(next(s, the move that won))
          for (let s = 0, row = rowBase; s < S; s++, row += M) {
            const d = dE[s]!;
            if (d === 0) continue;
            if (dR) dR[base + s]! += d;
            if (dC) dC[base + s]! += d * allValues[vOff + s]!;
            const dv = d * C[base + s]!; // dV_k(s) = dE_k(s) · C(s)
            if (dv !== 0) dEPrev[next[row + args[vOff + s]!]!]! += dv;
          }
        } else {
          // soft backups: E_k = R + C ⊙ V_k
          for (let s = 0; s < S; s++) {
            const d = dE[s]!;
            if (d === 0) continue;
            if (dR) dR[base + s]! += d;
            if (dC) dC[base + s]! += d * allValues[vOff + s]!;
          }
          // V_k(s) = τ·log Σ_m exp(E_{k−1}(next(s, m))/τ); E_{k−1} recomputed from V_{k−1} (V_0 = 0)
          if (k >= 2) entering(R, C, base, allValues, (b * K + k - 2) * S, e, S);
          else for (let s = 0; s < S; s++) e[s] = R[base + s]!;
          for (let s = 0, row = rowBase; s < S; s++, row += M) {
            const dv = dE[s]! * C[base + s]!; // dV_k(s) = dE_k(s) · C(s)
            if (dv === 0) continue;
            let best = -Infinity;
            for (let m = 0; m < M; m++) best = Math.max(best, e[next[row + m]!]!);
            let z = 0;
            for (let m = 0; m < M; m++) z += weights[m] = fastExp((e[next[row + m]!]! - best) / tau);
            for (let m = 0; m < M; m++) dEPrev[next[row + m]!]! += (dv * weights[m]!) / z;
          }
        }
        const t = dE;
        dE = dEPrev;
        dEPrev = t;
      }
      // E_0 = R
      if (dR) for (let s = 0; s < S; s++) dR[base + s]! += dE[s]!;
    }
    if (final) releaseBuffer(allValues);
  });
  return { q, values };
}

/** V_K of every problem from values laid out [B, K, S] → [B, S]. */
function lastValues(all: Float32Array, B: number, K: number, S: number): Float32Array {
  const out = new Float32Array(B * S);
  for (let b = 0; b < B; b++) out.set(all.subarray((b * K + K - 1) * S, (b * K + K) * S), b * S);
  return out;
}

/** V_K of every state (no tape): [B, S]. */
export function valueIteration(table: SuccessorTable, reward: Float32Array, continuation: Float32Array, options: ValueIterationOptions): Float32Array {
  checkProblem("valueIteration", table, reward, continuation, options);
  const all = new Float32Array(options.iterations * table.batch * table.states);
  valueIterationArrays(table, reward, continuation, options, all, null, null);
  return lastValues(all, table.batch, options.iterations, table.states);
}
