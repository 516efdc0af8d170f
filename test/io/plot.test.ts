import { writeFileSync } from "node:fs";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { niceTicks, renderLinePlot } from "../../src/io/plot.js";

describe("renderLinePlot", () => {
  it("draws a decodable PNG with each series' colour and the axes", () => {
    const bytes = renderLinePlot({
      title: "coin-run: misgeneralization vs random coin",
      xLabel: "fraction of train levels with the coin elsewhere",
      yLabel: "misgeneralization rate",
      yRange: [0, 1],
      series: [
        { name: "deploy", color: [200, 40, 40], points: [{ x: 0, y: 0.9, lo: 0.8, hi: 0.95 }, { x: 0.1, y: 0.2, lo: 0.1, hi: 0.3 }, { x: 0.3, y: 0.05 }] },
        { name: "train", color: [40, 90, 200], points: [{ x: 0, y: 0 }, { x: 0.3, y: 0.02 }] },
      ],
    });
    if (process.env["MESA_WRITE_PLOT"]) writeFileSync(process.env["MESA_WRITE_PLOT"], bytes);
    const png = PNG.sync.read(bytes);
    expect([png.width, png.height]).toEqual([720, 440]);
    const count = (r: number, g: number, b: number): number => {
      let n = 0;
      for (let i = 0; i < png.data.length; i += 4) if (png.data[i] === r && png.data[i + 1] === g && png.data[i + 2] === b) n++;
      return n;
    };
    expect(count(200, 40, 40)).toBeGreaterThan(200);
    expect(count(40, 90, 200)).toBeGreaterThan(200);
    expect(count(0, 0, 0)).toBeGreaterThan(1000);
  });

  it("picks round tick values", () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 0.3)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(niceTicks(-2, 13)).toEqual([0, 5, 10]);
  });
});
