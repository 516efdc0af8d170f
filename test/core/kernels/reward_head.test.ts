// The planner reward head's fused pass (a per-image context and a per-cell map added to the conv's output,
// rectified, then the 1×1 output conv, the hidden layer never stored) and its gradient: the js loop against a
// float64 oracle, and the wasm SIMD kernel against the js loop bit for bit, on ordinary and resident operands, on
// row lengths that are and are not multiples of 4, with 1–3 output maps.
import { describe, expect, it } from "vitest";
import { backendUnavailable } from "../../../src/core/kernels/index.js";
import { jsDensePasses } from "../../../src/core/kernels/conv_dense.js";
import { WasmBackend } from "../../../src/core/kernels/wasm.js";
import { Rng } from "../../../src/core/rng.js";

function random(rng: Rng, n: number): Float32Array {
  return rng.fillUniform(new Float32Array(n), -1, 1) as Float32Array;
}

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe("reward head pass", () => {
  it("js: maps = bias + w · relu(y + ctx + cells), NaN rectified to 0; its gradient against float64 sums", () => {
    const [N, C, O, L] = [3, 4, 2, 7];
    const rng = new Rng(3, "reward-head");
    const y = random(rng, N * C * L), ctx = random(rng, N * C), cells = random(rng, C * L), w = random(rng, O * C), bias = random(rng, O);
    y[4] = NaN;
    const maps = new Float32Array(N * O * L);
    jsDensePasses.headForward(y, ctx, cells, w, bias, maps, N, C, O, L);
    const h = (n: number, c: number, l: number): number => {
      const z = y[(n * C + c) * L + l]! + ctx[n * C + c]! + cells[c * L + l]!;
      return z > 0 ? z : 0;
    };
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < O; o++) {
        for (let l = 0; l < L; l++) {
          let want = bias[o]!;
          for (let c = 0; c < C; c++) want += w[o * C + c]! * h(n, c, l);
          expect(maps[(n * O + o) * L + l]).toBeCloseTo(want, 5);
        }
      }
    }
    expect(Number.isNaN(maps[0]!)).toBe(false);
    const gm = random(rng, N * O * L);
    const [gy, gctx, gcells, gw, gb] = [random(rng, N * C * L), random(rng, N * C), random(rng, C * L), random(rng, O * C), random(rng, O)];
    const [gy0, gctx0, gcells0, gw0, gb0] = [gy.slice(), gctx.slice(), gcells.slice(), gw.slice(), gb.slice()];
    jsDensePasses.headBackward(gm, y, ctx, cells, w, gy, true, gctx, gcells, gw, gb, N, C, O, L);
    const d = (n: number, c: number, l: number): number => {
      if (!(h(n, c, l) > 0)) return 0;
      let s = 0;
      for (let o = 0; o < O; o++) s += w[o * C + c]! * gm[(n * O + o) * L + l]!;
      return s;
    };
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let l = 0; l < L; l++) {
          expect(gy[(n * C + c) * L + l]).toBeCloseTo(gy0[(n * C + c) * L + l]! + d(n, c, l), 5);
          s += d(n, c, l);
        }
        expect(gctx[n * C + c]).toBeCloseTo(gctx0[n * C + c]! + s, 5);
      }
    }
    for (let c = 0; c < C; c++) {
      for (let l = 0; l < L; l++) {
        let s = 0;
        for (let n = 0; n < N; n++) s += d(n, c, l);
        expect(gcells[c * L + l]).toBeCloseTo(gcells0[c * L + l]! + s, 5);
      }
    }
    for (let o = 0; o < O; o++) {
      let sb = 0;
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let n = 0; n < N; n++) for (let l = 0; l < L; l++) s += gm[(n * O + o) * L + l]! * h(n, c, l);
        expect(gw[o * C + c]).toBeCloseTo(gw0[o * C + c]! + s, 5);
      }
      for (let n = 0; n < N; n++) for (let l = 0; l < L; l++) sb += gm[(n * O + o) * L + l]!;
      expect(gb[o]).toBeCloseTo(gb0[o]! + sb, 5);
    }
    // y's gradient written instead of added when not accumulating
    const fresh = new Float32Array(N * C * L).fill(7);
    jsDensePasses.headBackward(gm, y, ctx, cells, w, fresh, false, null, null, null, null, N, C, O, L);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let l = 0; l < L; l++) expect(fresh[(n * C + c) * L + l]).toBeCloseTo(d(n, c, l), 5);
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
    for (const [N, C, O, L] of [[5, 32, 2, 66], [2, 3, 3, 7], [1, 1, 1, 1], [4, 8, 2, 16], [2, 5, 3, 289]] as const) {
      for (const place of [(v: Float32Array) => v.slice(), resident]) {
        const rng = new Rng(N * 100 + L, "reward-head");
        const y = random(rng, N * C * L), ctx = random(rng, N * C), cells = random(rng, C * L), w = random(rng, O * C), bias = random(rng, O);
        y[0] = NaN;
        if (y.length > 9) y[9] = -0;
        const want = new Float32Array(N * O * L);
        jsDensePasses.headForward(y, ctx, cells, w, bias, want, N, C, O, L);
        const got = place(new Float32Array(N * O * L));
        wasm.densePasses.headForward(place(y), place(ctx), place(cells), place(w), place(bias), got, N, C, O, L);
        expect(bits(got)).toEqual(bits(want));
        const gm = random(rng, N * O * L);
        const grads = [random(rng, N * C * L), random(rng, N * C), random(rng, C * L), random(rng, O * C), random(rng, O)] as const;
        for (const accumulate of [true, false]) {
          const js = grads.map((g) => g.slice());
          jsDensePasses.headBackward(gm, y, ctx, cells, w, js[0]!, accumulate, js[1]!, js[2]!, js[3]!, js[4]!, N, C, O, L);
          const wa = grads.map((g) => place(g));
          wasm.densePasses.headBackward(place(gm), place(y), place(ctx), place(cells), place(w), wa[0]!, accumulate, wa[1]!, wa[2]!, wa[3]!, wa[4]!, N, C, O, L);
          wa.forEach((g, k) => expect(bits(g), `gradient ${k}, accumulate ${accumulate}`).toEqual(bits(js[k]!)));
        }
        // only y's gradient wanted
        const [jy, wy] = [grads[0].slice(), place(grads[0])];
        jsDensePasses.headBackward(gm, y, ctx, cells, w, jy, false, null, null, null, null, N, C, O, L);
        wasm.densePasses.headBackward(place(gm), place(y), place(ctx), place(cells), place(w), wy, false, null, null, null, null, N, C, O, L);
        expect(bits(wy)).toEqual(bits(jy));
        for (const v of held.splice(0)) wasm.release(v);
      }
    }
  });
});
