// A small line-plot renderer for experiment curves (mean ± 95% CI error bars per point), drawn into an RGBA
// buffer and encoded as PNG with pngjs. Text uses a built-in 5×7 bitmap font so the PNG needs no system fonts.
import { PNG } from "pngjs";

export interface PlotPoint {
  x: number;
  y: number;
  /** lower and upper end of the error bar (omit for none) */
  lo?: number;
  hi?: number;
}

export interface PlotSeries {
  name: string;
  /** [r, g, b] */
  color: readonly [number, number, number];
  points: readonly PlotPoint[];
}

export interface LinePlot {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly PlotSeries[];
  /** fixed y range (default: from the data) */
  yRange?: readonly [number, number];
  width?: number;
  height?: number;
}

// 5×7 glyphs, one 5-bit row per number (bit 4 = leftmost pixel); lower case is drawn as upper case
const FONT: Record<string, readonly number[]> = {
  "0": [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e], "1": [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
  "2": [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f], "3": [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
  "4": [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02], "5": [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
  "6": [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e], "7": [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
  "8": [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e], "9": [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
  A: [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11], B: [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
  C: [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e], D: [0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c],
  E: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f], F: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
  G: [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f], H: [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
  I: [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e], J: [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c],
  K: [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], L: [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
  M: [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11], N: [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
  O: [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e], P: [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
  Q: [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d], R: [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
  S: [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e], T: [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
  U: [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e], V: [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
  W: [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a], X: [0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11],
  Y: [0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04], Z: [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f],
  ".": [0, 0, 0, 0, 0, 0x0c, 0x0c], "-": [0, 0, 0, 0x1f, 0, 0, 0], "%": [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
  "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
  ",": [0, 0, 0, 0, 0x0c, 0x04, 0x08], ":": [0, 0x0c, 0x0c, 0, 0x0c, 0x0c, 0], "=": [0, 0, 0x1f, 0, 0x1f, 0, 0],
  "/": [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0], _: [0, 0, 0, 0, 0, 0, 0x1f], "+": [0, 0x04, 0x04, 0x1f, 0x04, 0x04, 0],
  "±": [0x04, 0x04, 0x1f, 0x04, 0x04, 0, 0x1f], " ": [0, 0, 0, 0, 0, 0, 0],
};

class Canvas {
  readonly png: PNG;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.png = new PNG({ width, height });
    this.png.data.fill(255);
  }

  pixel(x: number, y: number, [r, g, b]: readonly [number, number, number]): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    this.png.data[i] = r;
    this.png.data[i + 1] = g;
    this.png.data[i + 2] = b;
    this.png.data[i + 3] = 255;
  }

  rect(x: number, y: number, w: number, h: number, color: readonly [number, number, number]): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.pixel(x + i, y + j, color);
  }

  /** A line `thickness` pixels wide (square brush), stepped along its longer axis. */
  line(x0: number, y0: number, x1: number, y1: number, color: readonly [number, number, number], thickness = 1): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const off = Math.floor(thickness / 2);
    for (let s = 0; s <= steps; s++) {
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      this.rect(Math.round(x) - off, Math.round(y) - off, thickness, thickness, color);
    }
  }

  /** Text at (x, y) = top-left, `scale` pixels per font pixel; returns the width drawn. */
  text(s: string, x: number, y: number, color: readonly [number, number, number], scale = 2, vertical = false): number {
    let cursor = 0;
    for (const ch of s) {
      const glyph = FONT[ch] ?? FONT[ch.toUpperCase()] ?? FONT["?"] ?? FONT[" "]!;
      for (let row = 0; row < 7; row++) {
        for (let col = 0; col < 5; col++) {
          if (((glyph[row] ?? 0) >> (4 - col)) & 1) {
            if (vertical) this.rect(x + row * scale, y - (cursor + col) * scale - scale, scale, scale, color);
            else this.rect(x + (cursor + col) * scale, y + row * scale, scale, scale, color);
          }
        }
      }
      cursor += 6;
    }
    return cursor * scale;
  }
}

export function textWidth(s: string, scale = 2): number {
  return [...s].length * 6 * scale;
}

/** Tick values at a "nice" step (1, 2 or 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  const span = hi - lo || 1;
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Renders the plot and returns the PNG file bytes. */
export function renderLinePlot(plot: LinePlot): Buffer {
  const width = plot.width ?? 720;
  const height = plot.height ?? 440;
  const canvas = new Canvas(width, height);
  const black = [0, 0, 0] as const;
  const grey = [220, 220, 220] as const;
  const left = 80;
  const right = width - 20;
  const top = 64;
  const bottom = height - 70;

  const points = plot.series.flatMap((s) => s.points);
  const xs = points.map((p) => p.x);
  let xLo = Math.min(...xs);
  let xHi = Math.max(...xs);
  if (!(xHi > xLo)) [xLo, xHi] = [xLo - 1, xLo + 1];
  const pad = (xHi - xLo) * 0.05;
  xLo -= pad;
  xHi += pad;
  const ys = points.flatMap((p) => [p.y, p.lo ?? p.y, p.hi ?? p.y]).filter(Number.isFinite);
  let [yLo, yHi] = plot.yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (!(yHi > yLo)) [yLo, yHi] = [yLo - 1, yLo + 1];
  const sx = (x: number): number => left + ((x - xLo) / (xHi - xLo)) * (right - left);
  const sy = (y: number): number => bottom - ((y - yLo) / (yHi - yLo)) * (bottom - top);

  for (const t of niceTicks(yLo, yHi)) {
    canvas.line(left, sy(t), right, sy(t), grey);
    const label = String(t);
    canvas.text(label, left - 8 - textWidth(label), sy(t) - 7, black);
  }
  for (const t of niceTicks(xLo + pad, xHi - pad)) {
    canvas.line(sx(t), bottom, sx(t), bottom + 6, black);
    const label = String(t);
    canvas.text(label, sx(t) - textWidth(label) / 2, bottom + 12, black);
  }
  canvas.line(left, top, left, bottom, black, 2);
  canvas.line(left, bottom, right, bottom, black, 2);
  // text too wide for the image at the normal size is drawn at half size
  const fit = (text: string, room: number): number => (textWidth(text) <= room ? 2 : 1);
  const titleScale = fit(plot.title, width - 16);
  canvas.text(plot.title, (width - textWidth(plot.title, titleScale)) / 2, 10, black, titleScale);
  const xScale = fit(plot.xLabel, width - 16);
  canvas.text(plot.xLabel, (left + right - textWidth(plot.xLabel, xScale)) / 2, height - 30, black, xScale);
  const yScale = fit(plot.yLabel, bottom - top);
  canvas.text(plot.yLabel, 12, (top + bottom + textWidth(plot.yLabel, yScale)) / 2, black, yScale, true);

  // legend in one row between the title and the plot, so it never covers data
  let legendX = left;
  for (const s of plot.series) {
    canvas.rect(legendX, 38, 20, 6, s.color);
    legendX += 28 + canvas.text(s.name, legendX + 28, 34, black) + 16;
  }
  for (const s of plot.series) {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    for (let i = 1; i < pts.length; i++) canvas.line(sx(pts[i - 1]!.x), sy(pts[i - 1]!.y), sx(pts[i]!.x), sy(pts[i]!.y), s.color, 3);
    for (const p of pts) {
      if (p.lo !== undefined && p.hi !== undefined && Number.isFinite(p.lo) && Number.isFinite(p.hi)) {
        canvas.line(sx(p.x), sy(p.lo), sx(p.x), sy(p.hi), s.color, 1);
        canvas.line(sx(p.x) - 6, sy(p.lo), sx(p.x) + 6, sy(p.lo), s.color, 1);
        canvas.line(sx(p.x) - 6, sy(p.hi), sx(p.x) + 6, sy(p.hi), s.color, 1);
      }
      canvas.rect(sx(p.x) - 4, sy(p.y) - 4, 9, 9, s.color);
    }
  }
  return PNG.sync.write(canvas.png);
}

/** A grid of values drawn as coloured cells with a colour bar (probe accuracy per cell, patching effects…). */
export interface Heatmap {
  title: string;
  rows: number;
  cols: number;
  /** row-major [rows, cols]; null (or NaN) cells are drawn grey */
  values: readonly (number | null)[];
  /** labels drawn left of each row / under each column (omitted when absent) */
  rowLabels?: readonly string[];
  colLabels?: readonly string[];
  xLabel?: string;
  yLabel?: string;
  /** colour range (default: the data's, widened to be symmetric about 0 when `diverging`) */
  range?: readonly [number, number];
  /** blue–white–red around 0 (signed effects) instead of white–blue (rates, scores) */
  diverging?: boolean;
  /** cells to outline, e.g. the goal's cell (row-major indices) */
  marks?: readonly number[];
  /** pixels per cell (default: fits ~560 px, at least 6) */
  cellSize?: number;
}

function mix(a: readonly [number, number, number], b: readonly [number, number, number], t: number): [number, number, number] {
  return [Math.round(a[0] + (b[0] - a[0]) * t), Math.round(a[1] + (b[1] - a[1]) * t), Math.round(a[2] + (b[2] - a[2]) * t)];
}

/** Colour of value v on the heatmap's scale. */
function heatColor(v: number, lo: number, hi: number, diverging: boolean): [number, number, number] {
  const t = hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0.5;
  const white = [255, 255, 255] as const;
  if (!diverging) return mix(white, [8, 48, 107], t);
  return t < 0.5 ? mix([33, 102, 172], white, t * 2) : mix(white, [178, 24, 43], (t - 0.5) * 2);
}

/** Renders a heatmap and returns the PNG file bytes. */
export function renderHeatmap(map: Heatmap): Buffer {
  const { rows, cols, values } = map;
  if (values.length !== rows * cols) throw new RangeError(`heatmap: ${values.length} values for ${rows}×${cols} cells`);
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  let [lo, hi] = map.range ?? [finite.length ? Math.min(...finite) : 0, finite.length ? Math.max(...finite) : 1];
  if (map.diverging && !map.range) {
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    [lo, hi] = [-m, m];
  }
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, lo + 0.5];
  const cell = map.cellSize ?? Math.max(6, Math.min(48, Math.floor(560 / Math.max(rows, cols))));
  const rowLabelWidth = map.rowLabels ? Math.max(...map.rowLabels.map((l) => textWidth(l, 1))) + 8 : 0;
  const left = 16 + (map.yLabel ? 16 : 0) + rowLabelWidth;
  const top = 40;
  const colLabelHeight = map.colLabels ? 14 : 0;
  const gridW = cols * cell;
  const gridH = rows * cell;
  const barW = 16;
  const width = Math.max(left + gridW + 24 + barW + 70, textWidth(map.title, 1) + 32);
  const height = top + Math.max(gridH, 60) + colLabelHeight + (map.xLabel ? 24 : 0) + 16;
  const canvas = new Canvas(width, height);
  const black = [0, 0, 0] as const;
  const titleScale = textWidth(map.title) <= width - 16 ? 2 : 1;
  canvas.text(map.title, (width - textWidth(map.title, titleScale)) / 2, 10, black, titleScale);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = values[r * cols + c];
      const color: readonly [number, number, number] = v === null || v === undefined || !Number.isFinite(v) ? [200, 200, 200] : heatColor(v, lo, hi, map.diverging ?? false);
      canvas.rect(left + c * cell, top + r * cell, cell, cell, color);
    }
  }
  if (cell >= 4) {
    const grid = [235, 235, 235] as const;
    for (let r = 0; r <= rows; r++) canvas.line(left, top + r * cell, left + gridW, top + r * cell, grid);
    for (let c = 0; c <= cols; c++) canvas.line(left + c * cell, top, left + c * cell, top + gridH, grid);
  }
  for (const m of map.marks ?? []) {
    const x = left + (m % cols) * cell;
    const y = top + Math.floor(m / cols) * cell;
    const gold = [230, 160, 0] as const;
    canvas.line(x, y, x + cell - 1, y, gold, 2);
    canvas.line(x, y + cell - 1, x + cell - 1, y + cell - 1, gold, 2);
    canvas.line(x, y, x, y + cell - 1, gold, 2);
    canvas.line(x + cell - 1, y, x + cell - 1, y + cell - 1, gold, 2);
  }
  if (map.rowLabels) {
    map.rowLabels.forEach((l, r) => canvas.text(l, left - 4 - textWidth(l, 1), top + r * cell + (cell - 7) / 2, black, 1));
  }
  if (map.colLabels) {
    const step = Math.max(1, Math.ceil((textWidth("000", 1) + 4) / cell));
    map.colLabels.forEach((l, c) => {
      if (c % step === 0) canvas.text(l, left + c * cell + (cell - textWidth(l, 1)) / 2, top + gridH + 4, black, 1);
    });
  }
  if (map.xLabel) canvas.text(map.xLabel, left + (gridW - textWidth(map.xLabel, 1)) / 2, top + gridH + colLabelHeight + 8, black, 1);
  if (map.yLabel) canvas.text(map.yLabel, 4, top + (gridH + textWidth(map.yLabel, 1)) / 2, black, 1, true);
  // colour bar with its end values
  const barX = left + gridW + 24;
  const barH = Math.max(gridH, 60);
  for (let y = 0; y < barH; y++) canvas.rect(barX, top + y, barW, 1, heatColor(hi - ((hi - lo) * y) / (barH - 1), lo, hi, map.diverging ?? false));
  const fmt = (v: number): string => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(2));
  canvas.text(fmt(hi), barX + barW + 4, top, black, 1);
  canvas.text(fmt(lo), barX + barW + 4, top + barH - 7, black, 1);
  return PNG.sync.write(canvas.png);
}
