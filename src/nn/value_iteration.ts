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
/** each grid move's row and column step, in GRID_MOVES order */
export const MOVE_DY = [0, -1, 1, 0, 0] as const;
export const MOVE_DX = [0, 0, 0, -1, 1] as const;

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
  /**
   * work out V_K of absorbing states closed off from the plan (walls in the grid model: K multiply-adds each,
   * more than the plan itself costs on a mostly-wall maze); false leaves them NaN — for callers that read only Q
   * (training). Default true.
   */
  absorbingValues?: boolean;
  /**
   * only Q at each problem's `at` state is read (training: nothing reads the values): a hard-max backup k of K then
   * visits only the states `at` can reach in K − k moves — the others cannot influence Q_K(at) — and V_K is NaN
   * beyond `at`. The same Q, winning moves and gradients, bit for bit, for fewer gathers where K is near the
   * problem's diameter (coin-run's window). Default false.
   */
  agentOnly?: boolean;
}

/** A batch of tabular problems: B problems of S states and M moves, successors local to each problem. */
export interface SuccessorTable {
  next: Int32Array; // [B, S, M]
  batch: number;
  states: number;
  moves: number;
  /**
   * set when next is the free 4-connected grid's (gridSuccessors of an H×W grid with nothing blocked, moves in
   * GRID_MOVES order): gated value iteration then backs up with a stencil instead of reading next
   */
  grid?: { height: number; width: number };
}

/** Checks a batch of problems' shapes and settings (shared with the gated kernel). */
export function checkProblem(name: string, table: SuccessorTable, reward: Float32Array, continuation: Float32Array, options: ValueIterationOptions): void {
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

// Hard-max backups visit only the problem's *moving* states (a move leads elsewhere), listed in `moving[0..n)`.
// The others are absorbing — every move stays, as a wall's cell in the grid model: there the max over the moves
// is E_{k−1}(s) itself and move 0 wins, which `absorbingBackup` writes at the cost of one multiply-add. In a
// maze-cheese observation (17×17 tiles) most cells are wall or padding (a 3-cell maze has 17 open tiles of 289,
// a 9-cell one 161): the same numbers, bit for bit, for a fraction of the gathers.

/** One hard-max backup with 5 moves: V_k(s) = max_m E_{k−1}(next(s, m)) into values[off + s], E_k into eOut, the winning move into arg[off + s] (when given), for the listed states. */
function maxBackup5(p: ProblemArrays, e: Float32Array, eOut: Float32Array, values: Float32Array, off: number, moving: Int32Array, n: number, arg: Uint8Array | null): void {
  const { next, reward: R, continuation: C, base, rowBase } = p;
  for (let j = 0; j < n; j++) {
    const s = moving[j]!;
    const row = rowBase + s * 5;
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
function maxBackup4(p: ProblemArrays, e: Float32Array, eOut: Float32Array, values: Float32Array, off: number, moving: Int32Array, n: number, arg: Uint8Array | null): void {
  const { next, reward: R, continuation: C, base, rowBase } = p;
  for (let j = 0; j < n; j++) {
    const s = moving[j]!;
    const row = rowBase + s * 4;
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

function maxBackup(p: ProblemArrays, e: Float32Array, eOut: Float32Array, values: Float32Array, off: number, moving: Int32Array, n: number, arg: Uint8Array | null, M: number): void {
  const { next, reward: R, continuation: C, base, rowBase } = p;
  for (let j = 0; j < n; j++) {
    const s = moving[j]!;
    const row = rowBase + s * M;
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

/** The hard-max backup of the absorbing states listed in `still[from..to)`: V_k(s) = E_{k−1}(s), move 0 wins (the records start at 0). */
function absorbingBackup(p: ProblemArrays, e: Float32Array, eOut: Float32Array, values: Float32Array, off: number, still: Int32Array, from: number, to: number): void {
  const { reward: R, continuation: C, base } = p;
  for (let j = from; j < to; j++) {
    const s = still[j]!;
    const v = e[s]!;
    values[off + s] = v;
    eOut[s] = R[base + s]! + C[base + s]! * v;
  }
}

/**
 * Lists one problem's states into `list`: the moving ones (some move leads elsewhere) from the front, in order,
 * and the absorbing ones (every move stays) from the back; marks the absorbing ones in `still`. Returns how many
 * move.
 */
function splitStates(next: Int32Array, rowBase: number, S: number, M: number, list: Int32Array, still: Uint8Array): number {
  let n = 0;
  let back = S;
  for (let s = 0, row = rowBase; s < S; s++, row += M) {
    let moves = false;
    for (let m = 0; m < M; m++) {
      if (next[row + m] !== s) {
        moves = true;
        break;
      }
    }
    still[s] = moves ? 0 : 1;
    if (moves) list[n++] = s;
    else list[--back] = s;
  }
  return n;
}

/**
 * Whether a problem's absorbing states are closed off: no move of a moving state enters one, and the agent's
 * state (when given) moves. Then nothing the plan at the agent reads depends on them, and no gradient reaches
 * them: their values are needed only as V_K (worked out once, after the backups), and the backward pass visits
 * only the moving states. (Walls in the grid model: a move into a wall stays where it is.)
 */
function absorbingClosedOff(next: Int32Array, rowBase: number, M: number, list: Int32Array, n: number, still: Uint8Array, at: number): boolean {
  if (at >= 0 && still[at] === 1) return false;
  for (let j = 0; j < n; j++) {
    for (let m = 0, row = rowBase + list[j]! * M; m < M; m++) if (still[next[row + m]!] === 1) return false;
  }
  return true;
}

/** V_K of the absorbing states listed in `still[from..to)` by their own recursion (V_k = E_{k−1}, E_k = R + C·V_k: the numbers the backups write, in float32), into values[off + s]. */
function absorbingValues(p: ProblemArrays, K: number, values: Float32Array, off: number, list: Int32Array, from: number, to: number): void {
  const { reward: R, continuation: C, base } = p;
  for (let j = from; j < to; j++) {
    const s = list[j]!;
    const r = R[base + s]!;
    const c = C[base + s]!;
    let e = r;
    for (let k = 1; k < K; k++) e = Math.fround(r + c * e);
    values[off + s] = e;
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

/** Which states each problem's hard-max backups visited (filled by valueIterationArrays when asked, for the backward pass). */
export interface StateLists {
  /** [B, S]: each problem's moving states in order, then its absorbing ones */
  list: Int32Array;
  /** [B]: how many of each problem's states move */
  moving: Int32Array;
  /** [B]: 1 where the problem's absorbing states are closed off (the backward pass visits the moving ones only) */
  closed: Uint8Array;
}

/** Where valueIterationArrays writes. */
export interface ValueIterationOutputs {
  /** V_k for k = 1..K, [B, K, S] (each problem's values together; V_0 = 0 is implicit) with `keepAll`, else V_K only, [B, S] */
  values: Float32Array;
  /** keep every step's values (a backward pass needs them) */
  keepAll: boolean;
  /** one state per problem, and where to write Q_K there ([B, M]) */
  at?: Int32Array;
  qAt?: Float32Array;
  /** zero-filled [B, K, S] (hard-max backups only): the winning move of every backup (absorbing states keep 0) */
  args?: Uint8Array;
  lists?: StateLists;
}

/**
 * V_k (all K steps or the last), Q_K at `at` and the backward pass's records. Plain arrays, no tape: what
 * inference and the autograd op share. With `keepAll`, an absorbing state of a problem whose absorbing states are
 * closed off has only its V_K written (its earlier steps are never read).
 */
export function valueIterationArrays(table: SuccessorTable, reward: Float32Array, continuation: Float32Array, options: ValueIterationOptions, out: ValueIterationOutputs): void {
  const { batch: B, states: S, moves: M, next } = table;
  const { values, keepAll, at, qAt, args = null, lists } = out;
  const K = options.iterations;
  const soft = options.backup === "soft";
  const tau = options.temperature ?? 1;
  let e = new Float32Array(S);
  let eOut = new Float32Array(S);
  const p: ProblemArrays = { next, rowBase: 0, reward, continuation, base: 0 };
  const list = lists ? lists.list : new Int32Array(S); // moving states, then absorbing ones (hard-max backups)
  const still = new Uint8Array(S);
  // agentOnly: the moving states by their distance from `at`, and how many lie within each distance
  const cone = options.agentOnly === true && !soft && at !== undefined ? { list: new Int32Array(S), within: new Int32Array(K + 1), start: new Int32Array(K + 1), dist: new Int32Array(S), queue: new Int32Array(S) } : null;
  for (let b = 0; b < B; b++) {
    const base = b * S;
    p.base = base;
    p.rowBase = base * M;
    const l = lists ? list.subarray(base, base + S) : list;
    const n = soft ? S : splitStates(next, p.rowBase, S, M, l, still);
    const closed = n < S && absorbingClosedOff(next, p.rowBase, M, l, n, still, at ? at[b]! : -1);
    if (lists) {
      lists.moving[b] = n;
      lists.closed[b] = closed ? 1 : 0;
    }
    if (cone) agentCone(next, p.rowBase, S, M, K, at![b]!, l, n, cone);
    const visit = cone ? cone.list : l;
    for (let s = 0; s < S; s++) e[s] = reward[base + s]!; // E_0 = R (V_0 = 0)
    for (let k = 1; k <= K; k++) {
      const off = keepAll ? (b * K + k - 1) * S : base;
      if (soft) softBackup(p, e, eOut, values, off, S, M, tau);
      else {
        // V_k is read (through E_k) only within K − k moves of `at`
        const m = cone ? cone.within[K - k]! : n;
        if (M === 5) maxBackup5(p, e, eOut, values, off, visit, m, args);
        else if (M === 4) maxBackup4(p, e, eOut, values, off, visit, m, args);
        else maxBackup(p, e, eOut, values, off, visit, m, args, M);
        if (n < S && !closed) absorbingBackup(p, e, eOut, values, off, l, n, S);
      }
      if (k < K) {
        const t = e;
        e = eOut;
        eOut = t;
      }
    }
    if (cone) {
      const off = keepAll ? (b * K + K - 1) * S : base;
      for (let j = cone.within[0]!; j < n; j++) values[off + cone.list[j]!] = NaN;
    }
    if (closed) {
      const off = keepAll ? (b * K + K - 1) * S : base;
      if (options.absorbingValues === false) for (let j = n; j < S; j++) values[off + l[j]!] = NaN;
      else absorbingValues(p, K, values, off, l, n, S);
    }
    // e holds E_{K−1}: Q_K(at, m) = E_{K−1}(next(at, m))
    if (at && qAt) {
      const row = p.rowBase + at[b]! * M;
      for (let m = 0; m < M; m++) qAt[b * M + m] = e[next[row + m]!]!;
    }
  }
}

/**
 * The moving states `list[0..n)` ordered by their distance from `at` in moves (breadth-first over the successors;
 * within a distance, in list order) into cone.list, unreachable ones last; cone.within[d] = how many lie within d
 * moves (d ≤ K). A backup's states are independent of each other, so visiting them in another order changes no bit.
 */
function agentCone(next: Int32Array, rowBase: number, S: number, M: number, K: number, at: number, list: Int32Array, n: number, cone: { list: Int32Array; within: Int32Array; start: Int32Array; dist: Int32Array; queue: Int32Array }): void {
  const { dist, queue, within, start } = cone;
  dist.fill(-1);
  dist[at] = 0;
  queue[0] = at;
  for (let head = 0, tail = 1; head < tail; head++) {
    const s = queue[head]!;
    const d = dist[s]! + 1;
    if (d > K) break;
    for (let m = 0, row = rowBase + s * M; m < M; m++) {
      const t = next[row + m]!;
      if (dist[t]! < 0) {
        dist[t] = d;
        queue[tail++] = t;
      }
    }
  }
  within.fill(0);
  for (let j = 0; j < n; j++) {
    const d = dist[list[j]!]!;
    if (d >= 0) within[d]!++;
  }
  for (let d = 1; d <= K; d++) within[d]! += within[d - 1]!;
  // counting sort by distance, stable; the unreachable after
  start[0] = 0; // the next slot of each distance
  for (let d = 1; d <= K; d++) start[d] = within[d - 1]!;
  let rest = within[K]!;
  for (let j = 0; j < n; j++) {
    const s = list[j]!;
    const d = dist[s]!;
    cone.list[d >= 0 ? start[d]!++ : rest++] = s;
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
  // V_1..V_K when a backward pass will need them (every element it reads written; back to the pool after it)
  const allValues = recordsGrad ? acquireBuffer(K * n, false) : new Float32Array(n);
  // the winning move of every hard-max backup, and the states the backups visited, for the backward pass (no
  // recomputation there)
  const args = recordsGrad && !soft ? new Uint8Array(K * n) : undefined;
  const lists = args ? { list: new Int32Array(n), moving: new Int32Array(B), closed: new Uint8Array(B) } : undefined;
  const qAt = new Float32Array(B * M);
  valueIterationArrays(table, reward.data, continuation.data, options, { values: allValues, keepAll: recordsGrad, at, qAt, ...(args ? { args, lists: lists! } : {}) });
  const values = recordsGrad ? lastValues(allValues, B, K, S) : allValues;
  const R = reward.data;
  const C = continuation.data;
  const tau = options.temperature ?? 1;
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
        if (args && lists) {
          // E_k = R + C ⊙ V_k, and V_k(s) = E_{k−1}(next(s, the move that won)); where the absorbing states are
          // closed off no gradient reaches them, and only the moving states (in order) are visited
          const visit = lists.closed[b] === 1 ? lists.moving[b]! : S;
          for (let j = 0; j < visit; j++) {
            const s = visit === S ? j : lists.list[base + j]!;
            const d = dE[s]!;
            if (d === 0) continue;
            if (dR) dR[base + s]! += d;
            if (dC) dC[base + s]! += d * allValues[vOff + s]!;
            const dv = d * C[base + s]!; // dV_k(s) = dE_k(s) · C(s)
            if (dv !== 0) dEPrev[next[rowBase + s * M + args[vOff + s]!]!]! += dv;
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
export function lastValues(all: Float32Array, B: number, K: number, S: number): Float32Array {
  const out = new Float32Array(B * S);
  for (let b = 0; b < B; b++) out.set(all.subarray((b * K + K - 1) * S, (b * K + K) * S), b * S);
  return out;
}

/** V_K of every state (no tape): [B, S]. */
export function valueIteration(table: SuccessorTable, reward: Float32Array, continuation: Float32Array, options: ValueIterationOptions): Float32Array {
  checkProblem("valueIteration", table, reward, continuation, options);
  const values = new Float32Array(table.batch * table.states);
  valueIterationArrays(table, reward, continuation, options, { values, keepAll: false });
  return values;
}
