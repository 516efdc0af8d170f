// The two-thread job protocol of the WebAssembly kernels: a thread claims chunks by compare-and-swap on the
// claim word (sequence number << 16 | next chunk). A claimer still holding the previous job's final word must
// not be able to claim anything while the next job's arguments are being written (it once could, and PPO runs
// hung with C_DONE one past the chunk count).
import { describe, expect, it } from "vitest";
import { CONTROL_SLOTS, publishJob, writeJob } from "../../../src/core/kernels/wasm.js";

const { word: W, chunks: CHUNKS, done: DONE } = CONTROL_SLOTS;

/** One step of the kernels' claim loop (assembly/kernels.ts `work`): the chunk claimed, or -1 when none is left. */
function claim(ctrl: Int32Array, seen = Atomics.load(ctrl, W)): number {
  const chunk = seen & 0xffff;
  if (chunk >= Atomics.load(ctrl, CHUNKS)) return -1;
  return Atomics.compareExchange(ctrl, W, seen, seen + 1) === seen ? chunk : -2;
}

describe("wasm kernel job protocol", () => {
  const args = Array.from({ length: 11 }, (_, i) => 100 + i);

  it("a claimer holding the previous job's final word cannot claim while the next job is written", () => {
    const ctrl = new Int32Array(new SharedArrayBuffer(4 * (CONTROL_SLOTS.args + 11)));
    writeJob(ctrl, 5, [0, 8, 2], args);
    publishJob(ctrl, 5);
    expect([claim(ctrl), claim(ctrl), claim(ctrl)]).toEqual([0, 1, -1]);
    const stale = Atomics.load(ctrl, W); // the previous job's final word: chunk index 2
    writeJob(ctrl, 6, [0, 8, 4], args); // the next job has 4 chunks: index 2 now passes the bounds check…
    expect(stale & 0xffff).toBeLessThan(Atomics.load(ctrl, CHUNKS));
    expect(claim(ctrl, stale)).toBe(-2); // …but the compare-and-swap on the stale word fails
    expect(claim(ctrl)).toBe(-1); // and nothing is claimable before the job is published
    expect(Atomics.load(ctrl, DONE)).toBe(0);
    publishJob(ctrl, 6);
    expect([claim(ctrl), claim(ctrl), claim(ctrl), claim(ctrl), claim(ctrl)]).toEqual([0, 1, 2, 3, -1]);
    expect(Array.from(ctrl.subarray(CONTROL_SLOTS.args))).toEqual(args);
  });
});
