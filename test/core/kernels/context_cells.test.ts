// The planner head's fused pass (a per-image context and a per-cell map added to a conv's output, rectified) and its
// gradient: the wasm SIMD kernel against the js loop, bit for bit, on ordinary and resident operands, on row
// lengths that are and are not multiples of 4; the js loop against a float64 oracle.
import { describe, expect, it } from "vitest";
import { backendUnavailable } from "../../../src/core/kernels/index.js";
import { jsDensePasses } from "../../../src/core/kernels/conv_dense.js";
import { WasmBackend } from "../../../src/core/kernels/wasm.js";
import { Rng } from "../../../src/core/rng.js";

function random(rng: Rng, n: number): Float32Array {
  return rng.fillUniform(new Float32Array(n), -1, 1) as Float32Array;
}

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe("contextCellsRelu", () => {
  it("js: relu(y + (ctx + cells)) in float32, NaN to 0; the gradient masked by the output, summed over cells and images", () => {
    const [N, O, L] = [3, 2, 7];
    const rng = new Rng(3, "context-cells");
    const y = random(rng, N * O * L), ctx = random(rng, N * O), cells = random(rng, O * L);
    y[4] = NaN;
    const out = new Float32Array(N * O * L);
    jsDensePasses.contextCellsRelu(y, ctx, cells, out, N, O, L);
    for (let n = 0, i = 0; n < N; n++) {
      for (let o = 0; o < O; o++) {
        for (let l = 0; l < L; l++, i++) {
          const z = Math.fround(y[i]! + Math.fround(ctx[n * O + o]! + cells[o * L + l]!));
          expect(out[i]).toBe(z > 0 ? z : 0);
        }
      }
    }
    expect(out[4]).toBe(0);
    const g = random(rng, N * O * L);
    const gy = random(rng, N * O * L), gctx = random(rng, N * O), gcells = random(rng, O * L);
    const [gy0, gctx0, gcells0] = [gy.slice(), gctx.slice(), gcells.slice()];
    jsDensePasses.contextCellsReluGrad(g, out, gy, true, gctx, gcells, N, O, L);
    const d = (i: number): number => (out[i]! > 0 ? g[i]! : 0);
    for (let i = 0; i < gy.length; i++) expect(gy[i]).toBe(Math.fround(gy0[i]! + d(i)));
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < O; o++) {
        let s = 0;
        for (let l = 0; l < L; l++) s += d((n * O + o) * L + l);
        expect(gctx[n * O + o]).toBeCloseTo(gctx0[n * O + o]! + s, 6);
      }
    }
    for (let o = 0; o < O; o++) {
      for (let l = 0; l < L; l++) {
        let s = 0;
        for (let n = 0; n < N; n++) s += d((n * O + o) * L + l);
        expect(gcells[o * L + l]).toBeCloseTo(gcells0[o * L + l]! + s, 6);
      }
    }
    // written instead of added when not accumulating
    jsDensePasses.contextCellsReluGrad(g, out, gy, false, null, null, N, O, L);
    for (let i = 0; i < gy.length; i++) expect(gy[i]).toBe(d(i));
  });

  const why = backendUnavailable("wasm");
  it.skipIf(why !== undefined)("wasm equals the js loop bit for bit, on ordinary and resident operands", () => {
    const wasm = new WasmBackend();
    const held: Float32Array[] = [];
    const resident = (v: Float32Array): Float32Array => {
      const a = wasm.acquire(v.length)!;
      a.set(v);
      held.push(a);
      return a;
    };
    for (const [N, O, L] of [[5, 32, 66], [2, 3, 7], [1, 1, 1], [4, 8, 16]] as const) {
      for (const place of [(v: Float32Array) => v.slice(), resident]) {
        const rng = new Rng(N * 100 + L, "context-cells");
        const y = random(rng, N * O * L), ctx = random(rng, N * O), cells = random(rng, O * L), g = random(rng, N * O * L);
        y[0] = NaN;
        if (y.length > 9) y[9] = -0;
        const [gy, gctx, gcells] = [random(rng, N * O * L), random(rng, N * O), random(rng, O * L)];
        const want = new Float32Array(N * O * L);
        jsDensePasses.contextCellsRelu(y, ctx, cells, want, N, O, L);
        const got = place(new Float32Array(N * O * L));
        wasm.densePasses.contextCellsRelu(place(y), place(ctx), place(cells), got, N, O, L);
        expect(bits(got)).toEqual(bits(want));
        for (const accumulate of [true, false]) {
          const [wy, wx, wc] = [gy.slice(), gctx.slice(), gcells.slice()];
          jsDensePasses.contextCellsReluGrad(g, want, wy, accumulate, wx, wc, N, O, L);
          const [hy, hx, hc] = [place(gy), place(gctx), place(gcells)];
          wasm.densePasses.contextCellsReluGrad(place(g), got, hy, accumulate, hx, hc, N, O, L);
          expect([bits(hy), bits(hx), bits(hc)]).toEqual([bits(wy), bits(wx), bits(wc)]);
        }
        // nothing wanted but y's gradient
        const [wy, hy] = [gy.slice(), place(gy)];
        jsDensePasses.contextCellsReluGrad(g, want, wy, false, null, null, N, O, L);
        wasm.densePasses.contextCellsReluGrad(place(g), got, hy, false, null, null, N, O, L);
        expect(bits(hy)).toEqual(bits(wy));
        for (const v of held.splice(0)) wasm.release(v);
      }
    }
  });
});
