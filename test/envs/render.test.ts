import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import pngjs from "pngjs";
import { environments } from "../../src/envs/registry.js";
import {
  episodeFrames,
  frameOf,
  loadEpisode,
  makeVecEnv,
  renderAscii,
  renderEpisodeGif,
  renderFramePng,
  replayEpisode,
  saveEpisode,
  scriptedPolicy,
} from "../../src/envs/index.js";
import type { ScriptedPolicy, VecEnv } from "../../src/envs/engine.js";
import { aisgPolicy } from "../../src/envs/aisg/scripted.js";

/** the environment's declared reference policy, or for the AI Safety Gridworlds ports (which declare none) their scripted one */
function referencePolicy(env: VecEnv, kind: "intended" | "proxy"): ScriptedPolicy {
  return env.def.policies ? scriptedPolicy(env, kind) : aisgPolicy(env, kind);
}

describe.each(Object.keys(environments))("recording and rendering %s", (name) => {
  it("records episodes that replay exactly and whose frames follow the env step by step", () => {
    const env = makeVecEnv(name, { n: 3, distribution: "deploy" });
    env.recordCopy(1);
    env.reset(21);
    const policy = referencePolicy(env, "proxy");
    const actions = new Int32Array(3);
    const seen: string[] = [env.ascii(1).join("\n")];
    for (let t = 0; env.episode[1]! < 2 && t < 1000; t++) {
      policy.act(env, actions);
      env.step(actions);
      // the frame after the last step of an episode is its final state, before the auto-reset
      if (env.episode[1] === 0 || (env.episode[1] === 1 && (env.terminated[1]! | env.truncated[1]!) === 1)) {
        if (env.terminated[1]! | env.truncated[1]!) {
          const hw = env.viewHeight * env.viewWidth;
          expect(env.finalObs.subarray(1 * env.numChannels * hw, 2 * env.numChannels * hw).length).toBe(env.numChannels * hw);
        } else seen.push(env.ascii(1).join("\n"));
      }
    }
    const records = env.takeRecords();
    expect(records.length).toBe(2);
    const [first] = records;
    expect(first!.envIndex).toBe(1);
    expect(first!.episode).toBe(0);
    expect(first!.steps.length).toBe(first!.length);
    expect(first!.steps.reduce((a, s) => a + s.reward, 0)).toBeCloseTo(first!.baseReturn, 4);
    const frames = episodeFrames(first!);
    expect(frames.length).toBe(first!.length + 1);
    // every frame but the final one matches what the env showed at that step
    const def = environments[name]!;
    for (let t = 0; t < seen.length; t++) expect(renderAscii(def, frames[t]!)).toBe(seen[t]);
    expect(replayEpisode(first!)).toEqual(first);
    expect(replayEpisode(records[1]!)).toEqual(records[1]);
  });

  it("draws PNG frames of the right size and GIFs of whole episodes", () => {
    const env = makeVecEnv(name, { n: 1 });
    env.recordCopy(0);
    env.reset(3);
    const png = pngjs.PNG.sync.read(Buffer.from(renderFramePng(name, frameOf(env, 0), { cellSize: 10 })));
    expect([png.width, png.height]).toEqual([env.width * 10, env.height * 10]);
    // the agent's colour is at the centre of its cell
    const cx = env.agentX[0]! * 10 + 5;
    const cy = env.agentY[0]! * 10 + 5;
    expect(Array.from(png.data.subarray(4 * (cy * png.width + cx), 4 * (cy * png.width + cx) + 3))).toEqual([...env.def.agent.color]);
    const policy = referencePolicy(env, "intended");
    const a = new Int32Array(1);
    while (env.episode[0] === 0) {
      policy.act(env, a);
      env.step(a);
    }
    const [record] = env.takeRecords();
    const gif = renderEpisodeGif(record!, { cellSize: 8 });
    expect(Buffer.from(gif.subarray(0, 6)).toString("latin1")).toBe("GIF89a");
    // one image descriptor (0x2C after a graphic control block) per frame
    let images = 0;
    for (let k = 0; k + 9 < gif.length; k++) if (gif[k] === 0x00 && gif[k + 1] === 0x2c && gif[k - 7] === 0x21 && gif[k - 6] === 0xf9) images++;
    expect(images).toBe(record!.length + 1);
  });
});

describe("the AI Safety Gridworlds ports in PNG", () => {
  it("are drawn in the original's colours: its floor, the agent as a filled cell", () => {
    const env = makeVecEnv("aisg/island_navigation", { n: 1 });
    env.reset(0);
    const png = pngjs.PNG.sync.read(Buffer.from(renderFramePng(env.def, frameOf(env, 0), { cellSize: 10 })));
    const pixel = (y: number, x: number): number[] => Array.from(png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 3));
    // the original's floor is (858, 858, 858) of 999; the agent's (0, 706, 999) fills its cell to the corner
    const floorCell = env.def.display!(env, 0).join("").indexOf(" ");
    expect(pixel(Math.floor(floorCell / env.width) * 10 + 3, (floorCell % env.width) * 10 + 3)).toEqual([219, 219, 219]);
    expect(pixel(env.agentY[0]! * 10 + 1, env.agentX[0]! * 10 + 1)).toEqual([0, 180, 255]);
  });
});

describe("episode files", () => {
  it("save and load a record, and reject a malformed one with its path", () => {
    const dir = mkdtempSync(join(tmpdir(), "mesa-episode-"));
    try {
      const env = makeVecEnv("coin-run", { n: 1 });
      env.recordCopy(0);
      env.reset(0);
      const policy = scriptedPolicy(env, "intended");
      const a = new Int32Array(1);
      while (env.episode[0] === 0) {
        policy.act(env, a);
        env.step(a);
      }
      const [record] = env.takeRecords();
      const path = join(dir, "episode.json");
      saveEpisode(path, record!);
      expect(loadEpisode(path)).toEqual(record);
      saveEpisode(path, { ...record!, seed: -1 });
      expect(() => loadEpisode(path)).toThrow(/seed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
