// Pictures of an ICL run, written by hand as SVG (no dependency) and as PNG (pngjs): loss curves of the model
// against its baselines, and heatmaps of each layer's learned W_KQ and W_PV beside the GD construction.
import { PNG } from "pngjs";
import { renderLinePlot, type PlotSeries } from "../io/plot.js";

export interface CurveSeries {
  name: string;
  /** CSS/RGB colour */
  color: readonly [number, number, number];
  points: readonly (readonly [number, number])[];
}

const rgb = (c: readonly [number, number, number]): string => `rgb(${c[0]},${c[1]},${c[2]})`;
const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A line chart (log-scale y when every value is positive) as an SVG document. */
export function lineChartSvg(title: string, xLabel: string, yLabel: string, series: readonly CurveSeries[], width = 720, height = 440): string {
  const left = 70;
  const right = width - 180;
  const top = 40;
  const bottom = height - 50;
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[1]));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const logY = ys.length > 0 && ys.every((y) => y > 0);
  const fy = (y: number): number => (logY ? Math.log10(y) : y);
  let xLo = Math.min(...xs, 0);
  let xHi = Math.max(...xs, 1);
  let yLo = Math.min(...ys.map(fy));
  let yHi = Math.max(...ys.map(fy));
  if (!(xHi > xLo)) xHi = xLo + 1;
  if (!(yHi > yLo)) [yLo, yHi] = [yLo - 0.5, yLo + 0.5];
  const pad = (yHi - yLo) * 0.05;
  yLo -= pad;
  yHi += pad;
  const sx = (x: number): number => left + ((x - xLo) / (xHi - xLo)) * (right - left);
  const sy = (y: number): number => bottom - ((fy(y) - yLo) / (yHi - yLo)) * (bottom - top);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = yLo + ((yHi - yLo) * i) / 5;
    const y = bottom - ((v - yLo) / (yHi - yLo)) * (bottom - top);
    const label = logY ? (10 ** v).toPrecision(3) : v.toPrecision(3);
    out.push(`<line x1="${left}" y1="${y.toFixed(1)}" x2="${right}" y2="${y.toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${label}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const v = xLo + ((xHi - xLo) * i) / 5;
    out.push(`<text x="${sx(v).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">${Math.round(v)}</text>`);
  }
  out.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="black"/><line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="black"/>`);
  out.push(`<text x="${(left + right) / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text x="16" y="${(top + bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(top + bottom) / 2})">${esc(yLabel)}${logY ? " (log)" : ""}</text>`);
  series.forEach((s, i) => {
    const path = s.points.filter((p) => Number.isFinite(p[1])).map((p, j) => `${j === 0 ? "M" : "L"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
    if (path) out.push(`<path d="${path}" fill="none" stroke="${rgb(s.color)}" stroke-width="2"/>`);
    const ly = top + 10 + i * 20;
    out.push(`<line x1="${right + 12}" y1="${ly}" x2="${right + 36}" y2="${ly}" stroke="${rgb(s.color)}" stroke-width="3"/>`);
    out.push(`<text x="${right + 42}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}

/** The same chart as PNG (through the shared line-plot renderer). */
export function lineChartPng(title: string, xLabel: string, yLabel: string, series: readonly CurveSeries[]): Buffer {
  const plotSeries: PlotSeries[] = series.map((s) => ({ name: s.name, color: s.color, points: s.points.filter((p) => Number.isFinite(p[1])).map(([x, y]) => ({ x, y })) }));
  return renderLinePlot({ title, xLabel, yLabel, series: plotSeries });
}

export interface HeatmapPanel {
  title: string;
  /** row-major [dim, dim] */
  matrix: Float64Array;
  dim: number;
}

/** Diverging blue–white–red colour for v in [−1, 1]. */
function diverging(v: number): [number, number, number] {
  const t = Math.max(-1, Math.min(1, v));
  if (t >= 0) return [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))];
  return [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
}

function panelScale(row: readonly HeatmapPanel[]): number[] {
  // each panel is coloured on its own symmetric scale, so structure shows whatever the gauge
  return row.map((p) => Math.max(1e-12, ...Array.from(p.matrix, Math.abs)));
}

const CELL = 18;
const GAP = 36;

/** Rows of heatmap panels (one row per layer: learned W_KQ, W_PV, constructed W_KQ, W_PV) as SVG. */
export function heatmapsSvg(title: string, rows: readonly (readonly HeatmapPanel[])[]): string {
  const cols = Math.max(...rows.map((r) => r.length));
  const dim = rows[0]?.[0]?.dim ?? 1;
  const pw = dim * CELL;
  const width = GAP + cols * (pw + GAP);
  const height = 50 + rows.length * (pw + 50);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  rows.forEach((row, r) => {
    const scales = panelScale(row);
    row.forEach((p, c) => {
      const x0 = GAP + c * (pw + GAP);
      const y0 = 50 + r * (pw + 50) + 16;
      out.push(`<text x="${x0 + pw / 2}" y="${y0 - 6}" text-anchor="middle">${esc(p.title)} (max |w| ${scales[c]!.toPrecision(3)})</text>`);
      for (let i = 0; i < p.dim; i++) {
        for (let j = 0; j < p.dim; j++) {
          const col = diverging(p.matrix[i * p.dim + j]! / scales[c]!);
          out.push(`<rect x="${x0 + j * CELL}" y="${y0 + i * CELL}" width="${CELL}" height="${CELL}" fill="${rgb(col)}"><title>[${i},${j}] ${p.matrix[i * p.dim + j]!.toPrecision(4)}</title></rect>`);
        }
      }
      out.push(`<rect x="${x0}" y="${y0}" width="${pw}" height="${pw}" fill="none" stroke="#888"/>`);
    });
  });
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}

/** The same panels as a PNG (no text: panels in the SVG's order, grey frames). */
export function heatmapsPng(rows: readonly (readonly HeatmapPanel[])[]): Buffer {
  const cols = Math.max(...rows.map((r) => r.length));
  const dim = rows[0]?.[0]?.dim ?? 1;
  const pw = dim * CELL;
  const width = GAP + cols * (pw + GAP);
  const height = GAP + rows.length * (pw + GAP);
  const png = new PNG({ width, height });
  png.data.fill(255);
  const put = (x: number, y: number, c: readonly [number, number, number]): void => {
    const o = (y * width + x) * 4;
    png.data[o] = c[0];
    png.data[o + 1] = c[1];
    png.data[o + 2] = c[2];
    png.data[o + 3] = 255;
  };
  rows.forEach((row, r) => {
    const scales = panelScale(row);
    row.forEach((p, c) => {
      const x0 = GAP + c * (pw + GAP);
      const y0 = GAP + r * (pw + GAP);
      for (let y = -1; y <= pw; y++) {
        for (let x = -1; x <= pw; x++) {
          const frame = x < 0 || y < 0 || x === pw || y === pw;
          const col = frame ? ([136, 136, 136] as const) : diverging(p.matrix[Math.floor(y / CELL) * p.dim + Math.floor(x / CELL)]! / scales[c]!);
          put(x0 + x, y0 + y, col);
        }
      }
    });
  });
  return PNG.sync.write(png);
}
