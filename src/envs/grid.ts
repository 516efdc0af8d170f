// Small helpers the environment files share: ASCII level pieces, tile codes, and breadth-first search over a
// copy's grid (used by level generators to check solvability and by the reference policies), a decoder of what
// an agent observes (for observation-only policies), and the maze generator.
import type { TileSpec, VecEnv } from "./engine.js";
import type { Rng } from "../core/rng.js";

/** An ASCII piece: rows of equal width (the template's first, empty line is dropped). */
export interface Piece {
  readonly rows: readonly string[];
  readonly height: number;
  readonly width: number;
}

/** Parses an ASCII map written as a template literal starting with a newline. */
export function piece(text: string): Piece {
  const rows = text.split("\n").filter((r, k) => !(k === 0 && r.trim() === ""));
  const width = Math.max(...rows.map((r) => r.length));
  return { rows: rows.map((r) => r.padEnd(width, ".")), height: rows.length, width };
}

/** Tile code of a char in `tiles` ('.' and ' ' are empty = 0); throws for an unknown char. */
export function codeOf(tiles: readonly TileSpec[], char: string): number {
  if (char === "." || char === " ") return 0;
  const k = tiles.findIndex((t) => t.char === char);
  if (k < 0) throw new Error(`no tile with char "${char}"`);
  return k + 1;
}

/** The four top-down moves, in the order of the `up, down, left, right` action lists. */
export const DY = [-1, 1, 0, 0] as const;
export const DX = [0, 0, -1, 1] as const;

/**
 * Breadth-first search over 4-connected cells of copy i from (y0, x0). `passable(code, cell)` says which cells
 * (tile code, index y*w+x) can be entered. Writes distances (-1 = unreachable) into `dist` [h*w] and, in `firstMove`, the first action
 * (index into DY/DX) of a shortest path to each cell. Returns the number of reachable cells; `queue` holds them in BFS order.
 */
export function bfs(
  env: VecEnv,
  i: number,
  y0: number,
  x0: number,
  passable: (code: number, cell: number) => boolean,
  dist: Int32Array,
  firstMove: Int8Array,
  queue: Int32Array,
): number {
  return bfsCells(env.grid, i * env.height * env.width, env.height, env.width, y0, x0, passable, dist, firstMove, queue);
}

/** `bfs` over any h×w array of cell codes starting at `base` (a copy's grid, or a grid decoded from an observation). */
export function bfsCells(
  codes: Uint8Array,
  base: number,
  h: number,
  w: number,
  y0: number,
  x0: number,
  passable: (code: number, cell: number) => boolean,
  dist: Int32Array,
  firstMove: Int8Array,
  queue: Int32Array,
): number {
  dist.fill(-1, 0, h * w);
  let head = 0;
  let tail = 0;
  const start = y0 * w + x0;
  dist[start] = 0;
  firstMove[start] = -1;
  queue[tail++] = start;
  while (head < tail) {
    const p = queue[head++]!;
    const y = (p / w) | 0;
    const x = p - y * w;
    for (let a = 0; a < 4; a++) {
      const ny = y + DY[a]!;
      const nx = x + DX[a]!;
      if (ny < 0 || ny >= h || nx < 0 || nx >= w) continue;
      const q = ny * w + nx;
      if (dist[q] !== -1 || !passable(codes[base + q]!, q)) continue;
      dist[q] = dist[p]! + 1;
      firstMove[q] = p === start ? a : firstMove[p]!;
      queue[tail++] = q;
    }
  }
  return tail;
}

/** Scratch buffers for `bfs` on an h×w grid. */
export function bfsScratch(h: number, w: number): BfsScratch {
  return { dist: new Int32Array(h * w), firstMove: new Int8Array(h * w), queue: new Int32Array(h * w) };
}

export interface BfsScratch {
  dist: Int32Array;
  firstMove: Int8Array;
  queue: Int32Array;
}

type CellTest = (code: number, cell: number) => boolean;

/** First top-down action toward the nearest cell with `isTarget(code, cell)` in an h×w code array, or -1 when none is reachable. */
export function towardNearestCells(codes: Uint8Array, base: number, h: number, w: number, y0: number, x0: number, scratch: BfsScratch, passable: CellTest, isTarget: CellTest): number {
  const { firstMove, queue } = scratch;
  // targets must be enterable even when `passable` says no to their kind
  const reached = bfsCells(codes, base, h, w, y0, x0, (code, cell) => passable(code, cell) || isTarget(code, cell), scratch.dist, firstMove, queue);
  // queue holds cells in BFS order, so the first target found is a nearest one
  for (let k = 1; k < reached; k++) {
    const cell = queue[k]!;
    if (isTarget(codes[base + cell]!, cell)) return firstMove[cell]!;
  }
  return -1;
}

/** First action of copy i's agent toward the nearest target on its grid (privileged: reads the level), or -1. */
export function towardNearest(env: VecEnv, i: number, scratch: BfsScratch, passable: CellTest, isTarget: CellTest): number {
  return towardNearestCells(env.grid, i * env.height * env.width, env.height, env.width, env.agentY[i]!, env.agentX[i]!, scratch, passable, isTarget);
}

/** Toward the nearest target through `preferred` cells, else through `fallback` cells. */
export function towardNearestPreferring(env: VecEnv, i: number, scratch: BfsScratch, preferred: CellTest, fallback: CellTest, isTarget: CellTest): number {
  const a = towardNearest(env, i, scratch, preferred, isTarget);
  return a >= 0 ? a : towardNearest(env, i, scratch, fallback, isTarget);
}

/**
 * What copy i's agent observes, decoded into one code per view cell: `decode[c]` is the code channel c writes
 * (later channels win; 0 = nothing), plus where the agent is in the view. For observation-only policies: they
 * read nothing but this.
 */
export class ObservedGrid {
  readonly codes: Uint8Array;
  readonly h: number;
  readonly w: number;
  agentY = -1;
  agentX = -1;
  readonly scratch: BfsScratch;
  private readonly agentChannel: number;

  constructor(
    private readonly env: VecEnv,
    private readonly decode: readonly number[],
  ) {
    this.h = env.viewHeight;
    this.w = env.viewWidth;
    this.codes = new Uint8Array(this.h * this.w);
    this.scratch = bfsScratch(this.h, this.w);
    this.agentChannel = env.channels.indexOf(env.def.agent.channel);
  }

  /** decodes copy i's current observation; returns this */
  read(i: number): this {
    const { h, w, codes, env } = this;
    const hw = h * w;
    const obs = env.obsBytes;
    const base = i * env.numChannels * hw;
    codes.fill(0);
    this.agentY = -1;
    for (let c = 0; c < env.numChannels; c++) {
      const code = this.decode[c] ?? 0;
      const cb = base + c * hw;
      for (let p = 0; p < hw; p++) {
        if (obs[cb + p] !== 1) continue;
        if (c === this.agentChannel) {
          this.agentY = (p / w) | 0;
          this.agentX = p - this.agentY * w;
        } else if (code !== 0) codes[p] = code;
      }
    }
    return this;
  }

  /** whether channel `c` is lit at view cell `cell` of copy i's current observation */
  lit(i: number, c: number, cell: number): boolean {
    const hw = this.h * this.w;
    return this.env.obsBytes[i * this.env.numChannels * hw + c * hw + cell] === 1;
  }

  /** first action toward the nearest observed target, or -1 */
  toward(passable: CellTest, isTarget: CellTest): number {
    return towardNearestCells(this.codes, 0, this.h, this.w, this.agentY, this.agentX, this.scratch, passable, isTarget);
  }
}

/** An action that leaves a top-down agent where it is (it pushes against the edge of the grid or a wall), or -1. */
export function stayAction(env: VecEnv, i: number, blocked: (code: number) => boolean): number {
  const y = env.agentY[i]!;
  const x = env.agentX[i]!;
  for (let a = 0; a < 4; a++) {
    const ny = y + DY[a]!;
    const nx = x + DX[a]!;
    if (ny < 0 || ny >= env.height || nx < 0 || nx >= env.width || blocked(env.tile(i, ny, nx))) return a;
  }
  return -1;
}

/** Any move onto an enterable neighbour (used to step off a tile), or 0. */
export function anyMove(env: VecEnv, i: number, passable: CellTest): number {
  const y = env.agentY[i]!;
  const x = env.agentX[i]!;
  for (let a = 0; a < 4; a++) {
    const ny = y + DY[a]!;
    const nx = x + DX[a]!;
    if (ny >= 0 && ny < env.height && nx >= 0 && nx < env.width && passable(env.tile(i, ny, nx), ny * env.width + nx)) return a;
  }
  return 0;
}

/** Scratch of `carveMaze` for mazes up to `maxCells` cells a side. */
export function mazeScratch(maxCells: number): { stack: Int32Array; visited: Uint8Array } {
  return { stack: new Int32Array(maxCells * maxCells), visited: new Uint8Array(maxCells * maxCells) };
}

/**
 * Carves a k×k-cell maze (recursive backtracker, as procgen's maze) into copy i's grid: cell (r, c) is tile
 * (oy + 2r, ox + 2c); the tiles of the (2k−1)² block must already be `wall`. Starts from cell `startCell`.
 * `extraOpenings` walls between adjacent cells are then knocked out at random (loops; 0 = a perfect maze).
 */
export function carveMaze(
  env: VecEnv,
  i: number,
  rng: Rng,
  k: number,
  oy: number,
  ox: number,
  startCell: number,
  scratch: { stack: Int32Array; visited: Uint8Array },
  extraOpenings = 0,
): void {
  const { stack, visited } = scratch;
  visited.fill(0, 0, k * k);
  let top = 0;
  stack[top++] = startCell;
  visited[startCell] = 1;
  const sr = (startCell / k) | 0;
  env.setTile(i, oy + 2 * sr, ox + 2 * (startCell - sr * k), 0);
  while (top > 0) {
    const cell = stack[top - 1]!;
    const r = (cell / k) | 0;
    const c = cell - r * k;
    let options = 0;
    if (r > 0 && !visited[cell - k]) options++;
    if (r < k - 1 && !visited[cell + k]) options++;
    if (c > 0 && !visited[cell - 1]) options++;
    if (c < k - 1 && !visited[cell + 1]) options++;
    if (options === 0) {
      top--;
      continue;
    }
    let pick = rng.int(options);
    let next = -1;
    if (r > 0 && !visited[cell - k] && pick-- === 0) next = cell - k;
    else if (r < k - 1 && !visited[cell + k] && pick-- === 0) next = cell + k;
    else if (c > 0 && !visited[cell - 1] && pick-- === 0) next = cell - 1;
    else if (c < k - 1 && !visited[cell + 1]) next = cell + 1;
    const nr = (next / k) | 0;
    const nc = next - nr * k;
    env.setTile(i, oy + r + nr, ox + c + nc, 0); // the wall between the two cells
    env.setTile(i, oy + 2 * nr, ox + 2 * nc, 0);
    visited[next] = 1;
    stack[top++] = next;
  }
  for (let e = 0; e < extraOpenings && k > 1; e++) {
    // a wall tile between two cells: odd row & even column, or even row & odd column
    const horizontal = rng.float() < 0.5;
    const y = horizontal ? 2 * rng.int(k) : 2 * rng.int(k - 1) + 1;
    const x = horizontal ? 2 * rng.int(k - 1) + 1 : 2 * rng.int(k);
    env.setTile(i, oy + y, ox + x, 0);
  }
}

/**
 * Top-down move of copy i's agent by action a ∈ {up, down, left, right}; stays put when the target is off the
 * grid or `blocked(code)`. Returns the new cell index y*w+x (the caller places the agent).
 */
export function moveTopDown(env: VecEnv, i: number, a: number, blockedCode: number): number {
  const y = env.agentY[i]!;
  const x = env.agentX[i]!;
  const ny = y + DY[a]!;
  const nx = x + DX[a]!;
  if (ny < 0 || ny >= env.height || nx < 0 || nx >= env.width || env.tile(i, ny, nx) === blockedCode) return y * env.width + x;
  return ny * env.width + nx;
}
