import { describe, expect, it } from "vitest";
import { meanInterval, tQuantile975, wilsonInterval } from "../../src/rl/stats.js";

describe("wilsonInterval", () => {
  it("matches reference values", () => {
    // R: prop.test-free Wilson, e.g. statsmodels proportion_confint(8, 10, method="wilson") = (0.4902, 0.9433)
    const e = wilsonInterval(8, 10);
    expect(e.value).toBe(0.8);
    expect(e.ci95[0]).toBeCloseTo(0.4902, 3);
    expect(e.ci95[1]).toBeCloseTo(0.9433, 3);
  });

  it("stays inside [0, 1] and has width at the extremes", () => {
    const zero = wilsonInterval(0, 100);
    expect(zero.ci95[0]).toBe(0);
    expect(zero.ci95[1]).toBeCloseTo(0.037, 3);
    const all = wilsonInterval(100, 100);
    expect(all.ci95[1]).toBe(1);
    expect(all.ci95[0]).toBeCloseTo(0.963, 3);
  });
});

describe("meanInterval", () => {
  it("uses Student's t for small samples", () => {
    // mean 3, sd √2.5, n 5 → half width 2.776·√(2.5/5) = 1.963
    const e = meanInterval([1, 2, 3, 4, 5]);
    expect(e.value).toBe(3);
    expect(e.ci95[0]).toBeCloseTo(3 - 1.963, 3);
    expect(e.ci95[1]).toBeCloseTo(3 + 1.963, 3);
  });

  it("approaches the normal quantile for many degrees of freedom", () => {
    expect(tQuantile975(31)).toBeCloseTo(2.0395, 3);
    expect(tQuantile975(60)).toBeCloseTo(2.0003, 3);
    expect(tQuantile975(1e6)).toBeCloseTo(1.96, 3);
  });
});
