// Pictures of levels and episodes for people: ASCII for terminals, PNG frames (pngjs) and animated GIFs of
// recorded episodes (gifenc). Frames are drawn once into palette indices; PNG maps them to RGBA, GIF writes
// them as they are with the environment's fixed palette (no quantization needed).
import * as gifencModule from "gifenc";
import pngjs from "pngjs";
import type { AnyEnvDefinition, EpisodeRecord, RGB, VecEnv } from "./engine.js";
import { getEnvDefinition } from "./make.js";
import { ConfigError } from "../core/errors.js";

// gifenc ships CommonJS: under plain Node its functions sit on the default export, under bundlers on the namespace
const gifencNs = gifencModule as unknown as { GIFEncoder?: unknown; default?: typeof gifencModule };
const gifenc = (typeof gifencNs.GIFEncoder === "function" ? gifencModule : gifencNs.default) as typeof gifencModule;

/** One picture of a level: tile codes (as in VecEnv.grid) and the agent's position. */
export interface Frame {
  height: number;
  width: number;
  /** [h*w] tile codes, 0 = empty */
  tiles: Uint8Array;
  agentY: number;
  agentX: number;
}

export interface RenderOptions {
  /** pixels per grid cell (default 24) */
  cellSize?: number;
}

const FLOOR: RGB = [236, 234, 224];
const GRID_LINE: RGB = [214, 211, 198];
const PROXY_BORDER: RGB = [220, 40, 40];
const INTENDED_BORDER: RGB = [30, 170, 70];
const NEUTRAL_BORDER: RGB = [120, 120, 120];

/** Copy i of `env` as it stands now. */
export function frameOf(env: VecEnv, i: number): Frame {
  const hw = env.height * env.width;
  return {
    height: env.height,
    width: env.width,
    tiles: env.grid.slice(i * hw, (i + 1) * hw),
    agentY: env.agentY[i]!,
    agentX: env.agentX[i]!,
  };
}

/** A frame as ASCII rows: tiles by their char, '.' empty, the agent by its char. */
export function renderAscii(def: AnyEnvDefinition, frame: Frame): string {
  const rows: string[] = [];
  for (let y = 0; y < frame.height; y++) {
    let row = "";
    for (let x = 0; x < frame.width; x++) {
      const code = frame.tiles[y * frame.width + x]!;
      row += y === frame.agentY && x === frame.agentX ? def.agent.char : code === 0 ? "." : def.tiles[code - 1]!.char;
    }
    rows.push(row);
  }
  return rows.join("\n");
}

/** The frames of a recorded episode: the start, then the state after every step (the episode's final state last). */
export function episodeFrames(record: EpisodeRecord): Frame[] {
  const def = getEnvDefinition(record.env);
  const codeOfChar = new Map<string, number>([[".", 0]]);
  def.tiles.forEach((t, k) => codeOfChar.set(t.char, k + 1));
  const code = (ch: string, where: string): number => {
    const c = codeOfChar.get(ch);
    if (c === undefined) throw new ConfigError(`episode record for ${record.env}: unknown tile char "${ch}" at ${where}`, `valid chars: ${[...codeOfChar.keys()].join(" ")}`);
    return c;
  };
  const tiles = new Uint8Array(record.height * record.width);
  record.initial.forEach((row, y) => {
    for (let x = 0; x < record.width; x++) tiles[y * record.width + x] = code(row[x] ?? ".", `initial row ${y}`);
  });
  const frames: Frame[] = [{ height: record.height, width: record.width, tiles: tiles.slice(), agentY: record.start[0], agentX: record.start[1] }];
  record.steps.forEach((step, t) => {
    for (const [y, x, ch] of step.changes) tiles[y * record.width + x] = code(ch, `step ${t}`);
    frames.push({ height: record.height, width: record.width, tiles: tiles.slice(), agentY: step.agent[0], agentX: step.agent[1] });
  });
  return frames;
}

/**
 * The palette of an environment: floor, grid line, outcome borders, tiles, agent. Environments that keep another
 * game's look (`displayColours`: the AI Safety Gridworlds ports) are drawn in that game's colours: its floor
 * colour, and the agent as a filled cell like every other thing.
 */
function paletteOf(def: AnyEnvDefinition): { colors: RGB[]; tileIndex: number[]; agentIndex: number; agentBlock: boolean } {
  const floor = def.displayColours?.[" "]?.bg ?? FLOOR;
  const colors: RGB[] = [floor, GRID_LINE, PROXY_BORDER, INTENDED_BORDER, NEUTRAL_BORDER];
  const tileIndex = [0];
  for (const t of def.tiles) {
    tileIndex.push(colors.length);
    colors.push(t.color);
  }
  const agentIndex = colors.length;
  colors.push(def.agent.color);
  return { colors, tileIndex, agentIndex, agentBlock: def.displayColours !== undefined };
}

/** Draws a frame into palette indices [H, W] (H = h·cell + 2·border). */
function drawIndices(def: AnyEnvDefinition, frame: Frame, cell: number, border: number, borderIndex: number): { index: Uint8Array; W: number; H: number } {
  const { tileIndex, agentIndex, agentBlock } = paletteOf(def);
  const W = frame.width * cell + 2 * border;
  const H = frame.height * cell + 2 * border;
  const index = new Uint8Array(W * H).fill(borderIndex);
  const radius2 = (r: number): number => r * r;
  for (let y = 0; y < frame.height; y++) {
    for (let x = 0; x < frame.width; x++) {
      const code = frame.tiles[y * frame.width + x]!;
      const tile = code === 0 ? undefined : def.tiles[code - 1];
      const isAgent = y === frame.agentY && x === frame.agentX;
      for (let py = 0; py < cell; py++) {
        for (let px = 0; px < cell; px++) {
          const onLine = px === cell - 1 || py === cell - 1;
          let c = onLine ? 1 : 0;
          const dy = py - (cell - 1) / 2;
          const dx = px - (cell - 1) / 2;
          const d2 = dy * dy + dx * dx;
          if (tile) {
            if (tile.shape === "block") c = tileIndex[code]!;
            else if (d2 <= radius2(cell * 0.3)) c = tileIndex[code]!;
          }
          if (isAgent && (agentBlock || d2 <= radius2(cell * 0.38))) c = agentIndex;
          index[(border + y * cell + py) * W + border + x * cell + px] = c;
        }
      }
    }
  }
  return { index, W, H };
}

/** A frame as a PNG file. */
export function renderFramePng(env: string | AnyEnvDefinition, frame: Frame, options: RenderOptions = {}): Uint8Array {
  const def = typeof env === "string" ? getEnvDefinition(env) : env;
  const cell = checkCellSize(options.cellSize);
  const { colors } = paletteOf(def);
  const { index, W, H } = drawIndices(def, frame, cell, 0, 0);
  const png = new pngjs.PNG({ width: W, height: H });
  for (let p = 0; p < W * H; p++) {
    const [r, g, b] = colors[index[p]!]!;
    png.data[4 * p] = r;
    png.data[4 * p + 1] = g;
    png.data[4 * p + 2] = b;
    png.data[4 * p + 3] = 255;
  }
  return new Uint8Array(pngjs.PNG.sync.write(png));
}

/**
 * A recorded episode as an animated GIF: one frame per step, the last held for a second and framed in red
 * when the episode pursued the proxy, green when it reached the intended goal, grey otherwise.
 */
export function renderEpisodeGif(record: EpisodeRecord, options: RenderOptions & { frameMs?: number } = {}): Uint8Array {
  const def = getEnvDefinition(record.env);
  const cell = checkCellSize(options.cellSize);
  const frameMs = options.frameMs ?? 200;
  const { colors } = paletteOf(def);
  const palette: number[][] = colors.map((c) => [c[0], c[1], c[2]]);
  while (palette.length < 2 || (palette.length & (palette.length - 1)) !== 0) palette.push([0, 0, 0]);
  const frames = episodeFrames(record);
  const border = Math.max(2, Math.round(cell / 6));
  const outcome = record.pursuedProxy ? 2 : record.intendedGoalReached ? 3 : 4;
  const gif = gifenc.GIFEncoder();
  frames.forEach((frame, t) => {
    const last = t === frames.length - 1;
    const { index, W, H } = drawIndices(def, frame, cell, border, last ? outcome : 1);
    gif.writeFrame(index, W, H, { palette, delay: last ? 1000 : frameMs, ...(t === 0 ? { repeat: 0 } : {}) });
  });
  gif.finish();
  return gif.bytes();
}

function checkCellSize(cellSize: number | undefined): number {
  const cell = cellSize ?? 24;
  if (!Number.isInteger(cell) || cell < 4 || cell > 128) throw new RangeError(`cellSize must be an integer in [4, 128], got ${cellSize}`);
  return cell;
}
