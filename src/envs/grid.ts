// Small helpers the environment files share: ASCII level pieces, tile codes, and breadth-first search over a
// copy's grid (used by level generators to check solvability and by the scripted policies).
import type { TileSpec, VecEnv } from "./engine.js";

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
 * (index into DY/DX) of a shortest path to each cell. Returns the number of reachable cells.
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
  const { height: h, width: w } = env;
  dist.fill(-1);
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
      if (dist[q] !== -1 || !passable(env.tile(i, ny, nx), q)) continue;
      dist[q] = dist[p]! + 1;
      firstMove[q] = p === start ? a : firstMove[p]!;
      queue[tail++] = q;
    }
  }
  return tail;
}

/** Scratch buffers for `bfs` on an h×w grid. */
export function bfsScratch(h: number, w: number): { dist: Int32Array; firstMove: Int8Array; queue: Int32Array } {
  return { dist: new Int32Array(h * w), firstMove: new Int8Array(h * w), queue: new Int32Array(h * w) };
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
