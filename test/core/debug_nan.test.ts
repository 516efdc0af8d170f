// Runs in its own worker (vitest forks per file) so MESA_DEBUG_NAN can be set before the core loads.
import { describe, expect, it, vi } from "vitest";

describe("MESA_DEBUG_NAN=1", () => {
  it("names the op that first produced a NaN or inf, and lets inputs' infinities pass through", async () => {
    vi.stubEnv("MESA_DEBUG_NAN", "1");
    vi.resetModules();
    const { tensor, DEBUG_NAN } = await import("../../src/core/tensor.js");
    await import("../../src/core/ops/index.js"); // the fresh tensor module's methods
    const { NonFiniteError } = await import("../../src/core/errors.js");
    expect(DEBUG_NAN).toBe(true);
    expect(() => tensor([-1]).log()).toThrow(NonFiniteError);
    expect(() => tensor([-1]).log()).toThrow(/log: output has NaN/);
    expect(() => tensor([1]).div(0)).toThrow(/div: output has inf/);
    // −∞ logits as an action mask: logSoftmax passes −∞ through without blame
    const masked = tensor([[0, -Infinity, 1]]).logSoftmax(-1);
    expect(masked.data[1]).toBe(-Infinity);
    vi.unstubAllEnvs();
  });
});
