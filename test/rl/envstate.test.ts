import { describe, expect, it } from "vitest";
import { makeVecEnv } from "../../src/envs/index.js";
import { scriptedPolicy } from "../../src/envs/scripted.js";
import type { SafetensorsEntry } from "../../src/io/safetensors.js";
import { restoreEnv, snapshotEnv } from "../../src/rl/envstate.js";

function entries(snap: ReturnType<typeof snapshotEnv>): Map<string, SafetensorsEntry> {
  return new Map(Object.entries(snap.tensors).map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: t.data } as SafetensorsEntry]));
}

/** Steps `env` with its observation-only policy `steps` times, recording every observation. */
function play(env: ReturnType<typeof makeVecEnv>, steps: number): number[][] {
  const policy = scriptedPolicy(env, "observation-only");
  const actions = new Int32Array(env.n);
  const seen: number[][] = [];
  for (let t = 0; t < steps; t++) {
    policy.act(env, actions);
    env.step(actions);
    seen.push(Array.from(env.obsBytes));
  }
  return seen;
}

describe("env snapshots behind a view window", () => {
  it("carry the whole level (with its overlay strip), so a restored env steps on exactly as the original", () => {
    const params = { view: 21 };
    const a = makeVecEnv("keys-chests", { n: 4, params });
    a.reset(2);
    play(a, 9); // keys picked up: the strip is an overlay only the level behind the window holds
    const snap = snapshotEnv(a);
    expect(Object.keys(snap.tensors)).toContain("env.levelChannels");
    const b = makeVecEnv("keys-chests", { n: 4, params });
    restoreEnv(b, entries(snap), snap.seed, "test");
    expect(play(b, 40)).toEqual(play(a, 40));
  });

  it("rebuild the level from the grid when an older checkpoint lacks it (tile channels and agent exact)", () => {
    const a = makeVecEnv("coin-run", { n: 3 });
    a.reset(5);
    play(a, 7);
    const snap = snapshotEnv(a);
    const old = entries(snap);
    old.delete("env.levelChannels");
    const b = makeVecEnv("coin-run", { n: 3 });
    restoreEnv(b, old, snap.seed, "test");
    expect(Array.from(b.levelChannels)).toEqual(Array.from(a.levelChannels));
    expect(play(b, 30)).toEqual(play(a, 30));
  });
});
