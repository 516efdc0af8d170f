// Edits of one-hot grid observations [batch, C, H, W], the inputs of clean/corrupted pairs: the same level with
// an object removed or moved. They change what the network sees, not the environment's state.
import { ConfigError } from "../core/errors.js";

/** Index of channel `name`, or a ConfigError listing the observation's channels. */
export function channelIndex(channels: readonly string[], name: string): number {
  const k = channels.indexOf(name);
  if (k < 0) throw new ConfigError(`the observation has no channel "${name}"`, `channels: ${channels.join(", ")}`);
  return k;
}

/** A copy of `obs` [batch, C, H, W] with channel `c` cleared in every sample (e.g. the maze without its cheese). */
export function withoutChannel(obs: Float32Array, shape: readonly [number, number, number], c: number): Float32Array {
  const [C, H, W] = shape;
  const hw = H * W;
  const out = obs.slice();
  for (let b = 0; b < obs.length / (C * hw); b++) out.fill(0, (b * C + c) * hw, (b * C + c + 1) * hw);
  return out;
}

/** Cells of sample b where every channel is 0 (open floor the agent could stand on), as y·W + x. */
export function emptyCells(obs: Float32Array, shape: readonly [number, number, number], b: number): number[] {
  const [C, H, W] = shape;
  const hw = H * W;
  const cells: number[] = [];
  for (let p = 0; p < hw; p++) {
    let any = false;
    for (let c = 0; c < C && !any; c++) any = obs[(b * C + c) * hw + p] !== 0;
    if (!any) cells.push(p);
  }
  return cells;
}

/** The cells where channel c is lit in sample b. */
export function litCells(obs: Float32Array, shape: readonly [number, number, number], b: number, c: number): number[] {
  const [, H, W] = shape;
  const hw = H * W;
  const cells: number[] = [];
  const off = (b * shape[0] + c) * hw;
  for (let p = 0; p < hw; p++) if (obs[off + p] !== 0) cells.push(p);
  return cells;
}

/** Moves whatever channel c shows in sample b to cell `to` (in place). */
export function moveChannel(obs: Float32Array, shape: readonly [number, number, number], b: number, c: number, to: number): void {
  const hw = shape[1] * shape[2];
  const off = (b * shape[0] + c) * hw;
  obs.fill(0, off, off + hw);
  obs[off + to] = 1;
}
