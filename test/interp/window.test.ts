// The interpretability tools on agents that see a window centred on themselves (maze-cheese with `view`): the
// activation maps are aligned with the window, not the level, so channel search and retargeting must find the goal
// where the window shows it. Checked with hand-built networks whose answer is known.
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { Tensor, zeros } from "../../src/core/tensor.js";
import { VecEnv, windowOrigin } from "../../src/envs/engine.js";
import { bfsCells } from "../../src/envs/grid.js";
import { getEnvDefinition } from "../../src/envs/make.js";
import { HookPoint, Module } from "../../src/nn/module.js";
import "../../src/nn/models/cnn_policy.js";
import { type ActorCritic, type ActorCriticOutput, createPolicy } from "../../src/nn/models/policy.js";
import { cellsInView, searchChannels } from "../../src/interp/channels.js";
import { collectActivations, datasetLabel } from "../../src/interp/dataset.js";
import { channelIndex } from "../../src/interp/observations.js";
import { retarget } from "../../src/interp/retarget.js";
import { hiddenChannelActions, steeredActions } from "../../src/interp/steering.js";
import { evaluate, policyActions } from "../../src/rl/evaluate.js";
import { channelStudy, goalInObservationFrame, probeStudy } from "../../src/interp/studies.js";
import { cellGridOf } from "../../src/interp/labels.js";
import { HandBuilt } from "./hand-built.js";

const def = getEnvDefinition("maze-cheese");
// 3–4-cell mazes on a 7×7-tile level; a 9-tile window often leaves the cheese outside, 13 tiles never does
const base = { maxCells: 4, maxSteps: 40 };

/**
 * Walks to wherever its one-channel map is largest (by the shortest path around the walls it sees), and up when
 * the map is flat: with retargeting's edit as the only signal, it goes where the edit says the target is. With a
 * `source` channel the map is that observation channel (the cheese: a cheese-seeker), otherwise empty.
 */
class MapSeeker extends Module<Tensor, ActorCriticOutput> {
  readonly kind = "map-seeker";
  readonly spec = { kind: "map-seeker", obsShape: [] as number[], numActions: 4, hidden: [] as number[] };
  readonly numActions = 4;
  readonly hook_map = new HookPoint();
  constructor(
    readonly obsShape: readonly number[],
    private readonly source = -1,
  ) {
    super();
  }
  forward(obs: Tensor): ActorCriticOutput {
    const [C, H, W] = this.obsShape as [number, number, number];
    const B = obs.shape[0]!;
    const plane = zeros([B, 1, H, W]);
    if (this.source >= 0) for (let b = 0; b < B; b++) plane.data.set(obs.data.subarray((b * C + this.source) * H * W, (b * C + this.source + 1) * H * W), b * H * W);
    const map = this.hook_map.forward(plane);
    const logits = zeros([B, 4]);
    const wall = channelIndex(def.channels, "wall");
    const agent = channelIndex(def.channels, "agent");
    const codes = new Uint8Array(H * W);
    const dist = new Int32Array(H * W);
    const first = new Int8Array(H * W);
    const queue = new Int32Array(H * W);
    for (let b = 0; b < B; b++) {
      let target = -1;
      let start = -1;
      for (let c = 0; c < H * W; c++) {
        codes[c] = obs.data[(b * C + wall) * H * W + c]! === 1 ? 1 : 0;
        if (obs.data[(b * C + agent) * H * W + c] === 1) start = c;
        if (map.data[b * H * W + c]! > 0 && (target < 0 || map.data[b * H * W + c]! > map.data[b * H * W + target]!)) target = c;
      }
      if (target < 0 || target === start) continue;
      bfsCells(codes, 0, H, W, Math.floor(start / W), start % W, (code) => code === 0, dist, first, queue);
      if (dist[target]! > 0) logits.data[b * 4 + first[target]!] = 10;
    }
    return { logits, value: zeros([B, 1]) };
  }
}

describe("agent-centred observations", () => {
  it("cellsInView re-expresses level cells in the window around the agent, NaN outside it", () => {
    const level = { height: 7, width: 7 };
    const view = { height: 5, width: 5 };
    // agent at (3, 3): the window's top-left is level (1, 1); cell (2, 5) → window (1, 4); (0, 0) is outside
    const out = cellsInView([2 * 7 + 5, 0, Number.NaN], [3, 3, 3], [3, 3, 3], level, view);
    expect(out[0]).toBe(1 * 5 + 4);
    expect(out[1]).toBeNaN();
    expect(out[2]).toBeNaN();
    // the whole level as the view leaves cells unchanged
    expect([...cellsInView([2 * 7 + 5, 0], [3, 6], [3, 0], level, level)]).toEqual([2 * 7 + 5, 0]);
    expect(windowOrigin(3, 7, 5)).toBe(1);
    expect(windowOrigin(0, 7, 5)).toBe(-2);
  });

  it("cheese_offset_cell is where a (2h−1)-tile window shows the cheese, and is no level cell for channel search", () => {
    const params = { ...base, view: 13 };
    const env = new VecEnv(def, { n: 1, distribution: "deploy", params });
    const net = new HandBuilt(env.obsShape, channelIndex(env.channels, "cheese"), new Rng(1));
    const data = collectActivations(net as unknown as ActorCritic, def, { samples: 120, distribution: "deploy", params, seed: 3, behaviour: "random" });
    const spec = data.meta.labels.find((l) => l.name === "cheese_offset_cell")!;
    expect(spec.kind).toBe("cell");
    expect(cellGridOf(spec, data.meta.level)).toEqual({ height: 13, width: 13 });
    const offset = datasetLabel(data, "cheese_offset_cell").values;
    const { grid, goal } = goalInObservationFrame(data, datasetLabel(data, "cheese_cell").values);
    expect(grid).toEqual({ height: 13, width: 13 });
    expect(Array.from(offset)).toEqual(Array.from(goal));
    // and it is the cheese channel's lit cell in the window itself
    const [C, H, W] = data.meta.obs_shape;
    const cheese = channelIndex(data.meta.channels, "cheese");
    for (let k = 0; k < 120; k++) {
      const lit: number[] = [];
      for (let p = 0; p < H * W; p++) if (data.obs[(k * C + cheese) * H * W + p] === 1) lit.push(p);
      expect(lit).toEqual(Number.isFinite(offset[k]!) ? [offset[k]] : []);
    }
    // the agent stands at the displacement grid's centre: its own offset would be cell 6·13 + 6
    const agentY = datasetLabel(data, "agent_y").values;
    const cheeseY = datasetLabel(data, "cheese_y").values;
    for (let k = 0; k < 120; k++) if (Number.isFinite(offset[k]!)) expect(Math.floor(offset[k]! / 13) - 6).toBe(cheeseY[k]! - agentY[k]!);
    expect(() => channelStudy(net as unknown as ActorCritic, data, "hook_map", "cheese_offset_cell")).toThrow(/level-cell label .*"cheese_offset_cell" is a cell label in the agent's frame/);
  });

  it("a probe for cheese_offset_cell reads a (2h−1)-tile window's maps spatially on the displacement grid; cheese_cell stays flat there", () => {
    const params = { ...base, view: 13 };
    const env = new VecEnv(def, { n: 1, distribution: "deploy", params });
    const policy = createPolicy({ kind: "cnn", obsShape: [...env.obsShape], numActions: env.numActions, hidden: [4, 8, 16] }, new Rng(3, "init"));
    const data = collectActivations(policy, def, { hooks: ["trunk.stages.0.hook_conv_out"], samples: 160, distribution: "deploy", params, seed: 4, behaviour: "random" });
    const options = { hooks: ["trunk.stages.0.hook_conv_out"], folds: 3, innerFolds: 2 };
    const offset = probeStudy(policy, data, { target: "cheese_offset_cell", ...options });
    expect(offset.layers[0]!.report.layout).toBe("spatial");
    expect(offset.layers[0]!.report.cell_grid).toEqual({ height: 13, width: 13 });
    expect(offset.observation.report.layout).toBe("spatial");
    expect(offset.observation.report.accuracy!).toBeGreaterThan(0.95); // the cheese channel lights the cell itself
    const level = probeStudy(policy, data, { target: "cheese_cell", ...options });
    expect(level.layers[0]!.report.layout).toBe("flat");
    expect(level.layers[0]!.report.cell_grid).toEqual({ height: 7, width: 7 });
  });

  it("channel search finds the cheese channel in the window's frame (and not in the level's)", () => {
    const params = { ...base, view: 9 };
    const env = new VecEnv(def, { n: 1, distribution: "deploy", params });
    const net = new HandBuilt(env.obsShape, channelIndex(env.channels, "cheese"), new Rng(1));
    const data = collectActivations(net as unknown as ActorCritic, def, { samples: 240, distribution: "deploy", params, seed: 2, behaviour: "random" });
    expect(data.meta.windowed).toBe(true);
    const cheese = datasetLabel(data, "cheese_cell").values;
    const { grid, goal } = goalInObservationFrame(data, cheese);
    expect(grid).toEqual({ height: 9, width: 9 });
    const inWindow = Array.from(goal).filter(Number.isFinite).length;
    expect(inWindow).toBeGreaterThan(50);
    expect(inWindow).toBeLessThan(Array.from(cheese).filter(Number.isFinite).length); // some cheese lies outside a 9-tile window
    const shape = data.meta.hooks[0]!.shape as [number, number, number];
    const framed = searchChannels(data.activations.get("hook_map")!, shape, goal, grid);
    expect(framed.ranked[0]!.channel).toBe(1);
    expect(framed.ranked[0]!.goal_correlation).toBeCloseTo(1, 6);
    expect(framed.ranked[0]!.argmax_hit_rate).toBe(1);
    // read as if the window were the level, the same channel barely tracks the cheese
    const levelCells = Float64Array.from(cheese, (c) => (Number.isFinite(c) && Math.floor(c / 7) < 9 ? Math.floor(c / 7) * 9 + (c % 7) : Number.NaN));
    const misread = searchChannels(data.activations.get("hook_map")!, shape, levelCells, grid);
    expect(misread.ranked.find((s) => s.channel === 1)!.goal_correlation).toBeLessThan(0.5);
  });

  it("retargeting writes the edit where the agent-centred observation shows the target: a seeker of the edit walks the same paths as with the whole level in view", () => {
    const run = (view: number) => {
      const params = { ...base, view };
      const env = new VecEnv(def, { n: 1, distribution: "deploy", params });
      const seeker = new MapSeeker(env.obsShape);
      return retarget(seeker as unknown as ActorCritic, def, { hook: "hook_map", channels: [0], value: 5, episodes: 30, params, seed: 4, numEnvs: 6, hideChannel: null, greedy: true, arms: ["retargeted", "unedited"] });
    };
    const whole = run(0);
    const centred = run(13);
    // the seeker takes the shortest path to the edit; it fails only where that path crosses the cheese (which ends the episode)
    expect(whole.success.retargeted!.rate).toBeGreaterThan(0.8);
    expect(whole.success.unedited!.rate).toBeLessThan(0.5); // without the edit it walks up
    for (const rec of whole.records) if (rec.reached.retargeted) expect(rec.steps.retargeted).toBe(rec.start_distance);
    expect(centred.records.map((r) => [r.target, r.steps.retargeted])).toEqual(whole.records.map((r) => [r.target, r.steps.retargeted]));
  });

  it("windowOf draws a whole-level picture through a copy's present window exactly as the observation is drawn", () => {
    for (const view of [0, 9, 13]) {
      const env = new VecEnv(def, { n: 6, distribution: "deploy", params: { ...base, view } });
      env.reset(3);
      const rng = new Rng(5);
      const actions = new Int32Array(6);
      const levelSize = env.numChannels * env.height * env.width;
      const chw = env.obsShape[0] * env.obsShape[1] * env.obsShape[2];
      const out = new Float32Array(chw);
      for (let t = 0; t < 12; t++) {
        for (let i = 0; i < 6; i++) {
          env.windowOf(env.windowed ? env.levelChannels : env.obs, i * levelSize, i, out, 0);
          expect(Array.from(out)).toEqual(Array.from(env.obs.subarray(i * chw, (i + 1) * chw)));
        }
        for (let i = 0; i < 6; i++) actions[i] = rng.int(4);
        env.step(actions);
      }
    }
    const env = new VecEnv(def, { n: 1, distribution: "deploy", params: { ...base, view: 9 } });
    expect(() => env.windowOf(new Float32Array(3), 0, 0, new Float32Array(5 * 81), 0)).toThrow(/needs \d+×7×7 values from offset 0, has 3/);
  });

  it("the per-maze cheese vector stays on the cheese's cell as the window moves: at the hook that reads the cheese channel, −1 × it is the cheese hidden at every step", () => {
    const cheese = channelIndex(def.channels, "cheese");
    for (const view of [0, 9, 13]) {
      const params = { ...base, view };
      const env = new VecEnv(def, { n: 1, distribution: "deploy", params });
      const seeker = new MapSeeker(env.obsShape, cheese) as unknown as ActorCritic;
      const opts = { distribution: "deploy", params, episodes: 40, seed: 8, numEnvs: 8 };
      const plain = evaluate(def, policyActions(seeker, new Rng(1), true), opts);
      const steered = evaluate(def, steeredActions(seeker, new Rng(1), { hook: "hook_map", coef: -1, vector: { kind: "per-episode", channel: cheese }, greedy: true }), opts);
      const hidden = evaluate(def, hiddenChannelActions(seeker, new Rng(1), cheese, true), opts);
      expect(plain.intended_goal_rate).toBeGreaterThan(0.5); // it walks to the cheese it sees (a 9-tile window may not show it)
      expect(hidden.intended_goal_rate).toBeLessThan(plain.intended_goal_rate - 0.4);
      expect(steered.intended_goal_rate).toBe(hidden.intended_goal_rate);
      expect(steered.episode_length).toBe(hidden.episode_length);
      expect(steered.base_return).toBe(hidden.base_return);
    }
  });
});
