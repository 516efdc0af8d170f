// Distances on an environment's grid read through the engine's public state: 4-connected steps around the
// tiles named "wall" (the convention every grid environment here follows), for labels and retargeting.
import type { AnyEnvDefinition, VecEnv } from "../envs/engine.js";

/** Tile code of the env's wall tile, or -1 when it has none (then no path distances are defined). */
export function wallCode(def: AnyEnvDefinition): number {
  const k = def.tiles.findIndex((t) => t.name === "wall");
  return k < 0 ? -1 : k + 1;
}

/**
 * Breadth-first distances from cell `start` (y·w + x) of copy i to every cell, moving around walls; -1 where
 * unreachable. `queue` is scratch of at least h·w entries.
 */
export function pathDistances(env: VecEnv, i: number, start: number, wall: number, dist: Int32Array, queue: Int32Array): void {
  const { height: h, width: w } = env;
  const base = i * h * w;
  dist.fill(-1);
  let head = 0;
  let tail = 0;
  dist[start] = 0;
  queue[tail++] = start;
  while (head < tail) {
    const c = queue[head++]!;
    const y = (c / w) | 0;
    const x = c - y * w;
    const next = dist[c]! + 1;
    if (y > 0 && dist[c - w]! < 0 && env.grid[base + c - w] !== wall) (dist[c - w] = next), (queue[tail++] = c - w);
    if (y < h - 1 && dist[c + w]! < 0 && env.grid[base + c + w] !== wall) (dist[c + w] = next), (queue[tail++] = c + w);
    if (x > 0 && dist[c - 1]! < 0 && env.grid[base + c - 1] !== wall) (dist[c - 1] = next), (queue[tail++] = c - 1);
    if (x < w - 1 && dist[c + 1]! < 0 && env.grid[base + c + 1] !== wall) (dist[c + 1] = next), (queue[tail++] = c + 1);
  }
}

/** The top-right open cell of copy i: the rightmost non-wall cell of the topmost row that has one. */
export function topRightCell(env: VecEnv, i: number, wall: number): number {
  const { height: h, width: w } = env;
  const base = i * h * w;
  for (let y = 0; y < h; y++) for (let x = w - 1; x >= 0; x--) if (env.grid[base + y * w + x] !== wall) return y * w + x;
  return w - 1;
}
