// Channel search: which channels of a spatial activation [C, h, w] track where the goal is, as Mini, Turner
// et al. 2023 found 11 cheese-tracking channels in a maze agent. For every channel, over samples where the goal
// is present:
//   - goal correlation: Pearson r, over all (sample, position) pairs, between the activation and "the goal is
//     at this position" (a point-biserial correlation: the channel lights up, or goes dark, where the goal is);
//   - argmax hit rate: how often the channel's strongest position is within one cell of the goal;
//   - argmax correlation: r between the argmax's row/column and the goal's (mean of the two).
// Channels are ranked by goal correlation. A channel counts as tracking the goal when its correlation exceeds
// the largest one among the same layer's channels in a randomly initialised network of the same architecture
// (random convolutions also respond to the goal's pixels, so "correlates at all" proves nothing).
import { ConfigError } from "../core/errors.js";
import { windowOrigin } from "../envs/engine.js";
import { pearson } from "./metrics.js";

export interface ChannelScore {
  channel: number;
  /** point-biserial correlation of activation with the goal's position */
  goal_correlation: number;
  /** fraction of samples whose argmax lies within one cell (Chebyshev) of the goal */
  argmax_hit_rate: number;
  /** mean over rows and columns of r(argmax coordinate, goal coordinate) */
  argmax_correlation: number;
  /** mean activation at the goal's position and elsewhere */
  mean_at_goal: number;
  mean_elsewhere: number;
  /** largest activation seen at the goal's position (a natural scale for retargeting edits) */
  max_at_goal: number;
}

export interface ChannelSearchResult {
  /** [C, h, w] of the searched activation */
  shape: [number, number, number];
  samples: number;
  /** all channels, best goal correlation first */
  ranked: ChannelScore[];
  /** chance level of argmax_hit_rate: the share of positions within one cell of a position, averaged */
  argmax_hit_chance: number;
}

/** Maps a grid cell (y, x) of an H×W grid to the position of an h×w activation map (identity when equal). */
export function gridToMap(y: number, x: number, grid: { height: number; width: number }, h: number, w: number): number {
  const fy = Math.min(h - 1, Math.floor((y * h) / grid.height));
  const fx = Math.min(w - 1, Math.floor((x * w) / grid.width));
  return fy * w + fx;
}

/**
 * Re-expresses level cells (y·level.width + x; NaN where absent) in the frame of an observation window of
 * `view` tiles centred on the agent at (agentY[k], agentX[k]) — what an agent-centred policy's activation maps are
 * aligned with. Cells outside the window become NaN. With the whole level as the view, cells are unchanged.
 */
export function cellsInView(
  cells: ArrayLike<number>,
  agentY: ArrayLike<number>,
  agentX: ArrayLike<number>,
  level: { height: number; width: number },
  view: { height: number; width: number },
): Float64Array {
  const out = new Float64Array(cells.length);
  for (let k = 0; k < cells.length; k++) {
    const c = cells[k]!;
    if (!Number.isFinite(c) || !Number.isFinite(agentY[k]!) || !Number.isFinite(agentX[k]!)) {
      out[k] = Number.NaN;
      continue;
    }
    const y = Math.floor(c / level.width) - windowOrigin(agentY[k]!, level.height, view.height);
    const x = (c % level.width) - windowOrigin(agentX[k]!, level.width, view.width);
    out[k] = y >= 0 && y < view.height && x >= 0 && x < view.width ? y * view.width + x : Number.NaN;
  }
  return out;
}

/**
 * Scores every channel of `activations` [N, C, h, w] against `goalCell` [N] (grid cells y·W + x, NaN where there
 * is no goal; those samples are skipped).
 */
export function searchChannels(activations: Float32Array, shape: readonly [number, number, number], goalCell: ArrayLike<number>, grid: { height: number; width: number }): ChannelSearchResult {
  const [C, h, w] = shape;
  const P = h * w;
  const N = goalCell.length;
  if (activations.length !== N * C * P) throw new ConfigError(`channel search: activations hold ${activations.length} values, not ${N}·${C}·${P}`);
  const rows: number[] = [];
  const goalPos: number[] = [];
  for (let i = 0; i < N; i++) {
    const g = goalCell[i]!;
    if (!Number.isFinite(g)) continue;
    rows.push(i);
    goalPos.push(gridToMap(Math.floor(g / grid.width), g % grid.width, grid, h, w));
  }
  if (rows.length < 2) throw new ConfigError(`channel search needs samples with the goal present; found ${rows.length}`, "collect on a distribution where the goal appears (e.g. --distribution deploy)");
  const M = rows.length * P;
  const ranked: ChannelScore[] = [];
  const gy = goalPos.map((p) => Math.floor(p / w));
  const gx = goalPos.map((p) => p % w);
  for (let c = 0; c < C; c++) {
    let sum = 0;
    let sumSq = 0;
    let atGoal = 0;
    let maxAtGoal = Number.NEGATIVE_INFINITY;
    let hits = 0;
    const ay: number[] = [];
    const ax: number[] = [];
    rows.forEach((i, r) => {
      const off = (i * C + c) * P;
      let best = 0;
      for (let p = 0; p < P; p++) {
        const v = activations[off + p]!;
        sum += v;
        sumSq += v * v;
        if (v > activations[off + best]!) best = p;
      }
      const g = activations[off + goalPos[r]!]!;
      atGoal += g;
      maxAtGoal = Math.max(maxAtGoal, g);
      const by = Math.floor(best / w);
      const bx = best % w;
      if (Math.abs(by - gy[r]!) <= 1 && Math.abs(bx - gx[r]!) <= 1) hits++;
      ay.push(by);
      ax.push(bx);
    });
    const K = rows.length; // one goal position per sample
    const cov = atGoal - (sum * K) / M;
    const varA = sumSq - (sum * sum) / M;
    const varI = K - (K * K) / M;
    const r = varA > 1e-12 * Math.max(1, sumSq) ? cov / Math.sqrt(varA * varI) : 0;
    const ry = pearson(ay, gy);
    const rx = pearson(ax, gx);
    ranked.push({
      channel: c,
      goal_correlation: r,
      argmax_hit_rate: hits / K,
      argmax_correlation: (Number.isFinite(ry) ? ry : 0) / 2 + (Number.isFinite(rx) ? rx : 0) / 2,
      mean_at_goal: atGoal / K,
      mean_elsewhere: (sum - atGoal) / (M - K),
      max_at_goal: maxAtGoal,
    });
  }
  ranked.sort((a, b) => b.goal_correlation - a.goal_correlation);
  let near = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) near += (Math.min(h - 1, y + 1) - Math.max(0, y - 1) + 1) * (Math.min(w - 1, x + 1) - Math.max(0, x - 1) + 1);
  return { shape: [C, h, w], samples: rows.length, ranked, argmax_hit_chance: near / (P * P) };
}

/** Channels whose goal correlation exceeds `threshold` (e.g. the best random-init channel's), best first. */
export function trackingChannels(result: ChannelSearchResult, threshold: number): ChannelScore[] {
  return result.ranked.filter((s) => s.goal_correlation > threshold);
}
