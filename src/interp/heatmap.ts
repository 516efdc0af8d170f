// Pictures of a learned objective: the level as the agent sees it, then heatmaps over the same cells (the
// planner's reward map on a blue–white–red scale centred on 0, its termination map white→black), with each
// candidate objective's goal cells outlined in its own colour, so a reader sees at a glance which goal the
// map lights up.
import { join } from "node:path";
import pngjs from "pngjs";
import { type AnyEnvDefinition, type RGB } from "../envs/engine.js";
import { type Frame, frameOf, renderFramePng } from "../envs/render.js";
import { writeFileAtomic } from "../io/atomic.js";
import type { RewardMapReport } from "./objective-report.js";

/** Outline colours of candidates 0, 1, 2, … (green, orange, purple, cyan, …). */
export const CANDIDATE_COLORS: readonly RGB[] = [
  [20, 160, 60],
  [240, 140, 0],
  [140, 60, 200],
  [0, 170, 200],
  [200, 0, 120],
  [120, 120, 0],
];

export interface HeatmapPanel {
  /** [h·w] values */
  values: Float32Array;
  /** "diverging" (blue < 0 < red, scaled by the largest |value|) or "sequential" (0 white → 1 black) */
  scale: "diverging" | "sequential";
}

function colorOf(v: number, panel: HeatmapPanel, maxAbs: number): RGB {
  if (panel.scale === "sequential") {
    const g = Math.round(255 * (1 - Math.min(1, Math.max(0, v))));
    return [g, g, g];
  }
  const t = maxAbs > 0 ? Math.max(-1, Math.min(1, v / maxAbs)) : 0;
  return t >= 0 ? [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))] : [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
}

/**
 * The level (as renderFramePng draws it) and one heatmap per panel side by side, goal cells outlined; cells
 * outside `reachable` (walls, sealed-off cells) are drawn grey, since no plan involves them.
 */
export function renderObjectivePng(def: AnyEnvDefinition, frame: Frame, panels: readonly HeatmapPanel[], goals: readonly Float32Array[], reachable: Uint8Array | null = null, cell = 24): Uint8Array {
  const level = pngjs.PNG.sync.read(Buffer.from(renderFramePng(def, frame, { cellSize: cell })));
  const gap = 8;
  const pw = frame.width * cell;
  const ph = frame.height * cell;
  const W = level.width + panels.length * (pw + gap);
  const H = Math.max(level.height, ph);
  const png = new pngjs.PNG({ width: W, height: H });
  png.data.fill(255);
  const put = (x: number, y: number, [r, g, b]: RGB): void => {
    const p = 4 * (y * W + x);
    png.data[p] = r;
    png.data[p + 1] = g;
    png.data[p + 2] = b;
    png.data[p + 3] = 255;
  };
  for (let y = 0; y < level.height; y++) {
    for (let x = 0; x < level.width; x++) {
      const q = 4 * (y * level.width + x);
      put(x, y, [level.data[q]!, level.data[q + 1]!, level.data[q + 2]!]);
    }
  }
  panels.forEach((panel, k) => {
    const x0 = level.width + gap + k * (pw + gap);
    let maxAbs = 0;
    panel.values.forEach((v, s) => {
      if (!reachable || reachable[s]) maxAbs = Math.max(maxAbs, Math.abs(v));
    });
    for (let cy = 0; cy < frame.height; cy++) {
      for (let cx = 0; cx < frame.width; cx++) {
        const s = cy * frame.width + cx;
        const fill: RGB = reachable && !reachable[s] ? [150, 150, 150] : colorOf(panel.values[s]!, panel, maxAbs);
        const goal = goals.findIndex((g) => g[s]! > 0);
        for (let py = 0; py < cell; py++) {
          for (let px = 0; px < cell; px++) {
            const edge = px < 3 || py < 3 || px >= cell - 3 || py >= cell - 3;
            const line = px === cell - 1 || py === cell - 1;
            const c: RGB = goal >= 0 && edge ? CANDIDATE_COLORS[goal % CANDIDATE_COLORS.length]! : line ? [210, 210, 210] : fill;
            put(x0 + cx * cell + px, cy * cell + py, c);
          }
        }
      }
    }
  });
  return new Uint8Array(pngjs.PNG.sync.write(png));
}

/**
 * Writes one picture per kept sample of a reward-map reading (level | reward map | termination map | planned
 * worth of entering each cell) as `<dir>/<prefix>-<k>.png`; returns the paths. `mesa objective` and the
 * objective-inference experiment draw the same pictures.
 */
export function writeRewardMapPictures(def: AnyEnvDefinition, report: Pick<RewardMapReport, "samples">, dir: string, prefix: string): string[] {
  return report.samples.map((s, k) => {
    const path = join(dir, `${prefix}-${k}.png`);
    const panels: HeatmapPanel[] = [
      { values: s.reward, scale: "diverging" },
      { values: s.termination, scale: "sequential" },
      { values: s.entering, scale: "diverging" },
    ];
    writeFileAtomic(path, renderObjectivePng(def, frameOf(s.view.env, s.view.i), panels, s.candidateMaps, s.reachable));
    return path;
  });
}

/** How to read those pictures, naming each candidate's outline colour. */
export function rewardMapLegend(candidates: readonly { name: string }[]): string {
  const names = ["green", "orange", "purple", "cyan", "magenta", "olive"];
  const outlines = candidates.map((c, k) => `${c.name} = ${names[k % CANDIDATE_COLORS.length]}`).join(", ");
  return `level | reward map, blue < 0 < red | termination map, white 0 → black 1 | planned worth of entering each cell; grey: unreachable; outlines: ${outlines}`;
}
