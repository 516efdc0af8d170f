// The run's pictures: heatmaps with one cell per matrix entry (and its value in a tooltip), PNGs that decode,
// and line charts that drop non-finite points instead of drawing garbage.
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { gdLayerProducts } from "../../src/icl/construction.js";
import { heatmapsPng, heatmapsSvg, lineChartPng, lineChartSvg } from "../../src/icl/plots.js";

describe("icl plots", () => {
  it("draws one cell per weight, in SVG and PNG", () => {
    const con = gdLayerProducts(3, 0.7);
    const rows = [[{ title: "W_KQ", matrix: con.kq, dim: 4 }, { title: "W_PV", matrix: con.pv, dim: 4 }]];
    const svg = heatmapsSvg("t", rows);
    expect(svg.match(/<rect x=/g)?.length).toBe(2 * 16 + 2); // cells + frames
    expect(svg).toContain("[3,3] -0.7000");
    const png = PNG.sync.read(heatmapsPng(rows));
    expect(png.width).toBeGreaterThan(4 * 18 * 2);
  });

  it("draws loss curves, skipping NaN points", () => {
    const series = [{ name: "model", color: [200, 0, 0] as const, points: [[0, 3], [100, Number.NaN], [200, 1.5]] as const }];
    const svg = lineChartSvg("loss", "step", "MSE", series);
    expect(svg).toContain("<path d=\"M");
    expect(svg).not.toContain("NaN");
    const png = PNG.sync.read(lineChartPng("loss", "step", "MSE", series));
    expect(png.width).toBe(720);
  });
});
