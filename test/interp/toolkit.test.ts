// The interpretability toolkit on a convolutional maze-cheese policy (random init: these are checks of the
// machinery, not of a trained agent): datasets and their labels, save/load (also from Python), patching and
// steering that must change nothing, hooks that never leak, channel search on a hand-built network, and the
// errors a user sees.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { HookError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { noGrad, Tensor, zeros } from "../../src/core/tensor.js";
import { VecEnv } from "../../src/envs/engine.js";
import { getEnvDefinition } from "../../src/envs/make.js";
import type { Module } from "../../src/nn/module.js";
import "../../src/nn/models/cnn_policy.js";
import { type ActorCritic, type ActorCriticOutput, createPolicy } from "../../src/nn/models/policy.js";
import { evaluate, policyActions } from "../../src/rl/evaluate.js";
import { searchChannels } from "../../src/interp/channels.js";
import { activationsOn, collectActivations, datasetLabel, loadActivationDataset, saveActivationDataset } from "../../src/interp/dataset.js";
import { hookInfo, resolveHooks } from "../../src/interp/hooks.js";
import { channelIndex, emptyCells, moveChannel, withoutChannel } from "../../src/interp/observations.js";
import { genericActivationPatch, patchChannel, patchPolicy, patchPosition, patchWhole } from "../../src/interp/patching.js";
import { goalSignature, retarget } from "../../src/interp/retarget.js";
import { HandBuilt } from "./hand-built.js";
import { addVectorHook, differenceVectors, meanDifferenceVector, steeredActions } from "../../src/interp/steering.js";

const def = getEnvDefinition("maze-cheese");
// small mazes (3–4 cells, 7×7 tiles) keep these checks fast
const params = { maxCells: 4, maxSteps: 30 };
const dir = mkdtempSync(join(tmpdir(), "mesa-interp-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cnnFor(seed: number): ActorCritic {
  const env = new VecEnv(def, { n: 1, distribution: "deploy", params });
  return createPolicy({ kind: "cnn", obsShape: [...env.obsShape], numActions: env.numActions }, new Rng(seed, "init"));
}

/** No hook point of `model` has a hook attached. */
function clean(model: Module<Tensor, unknown>): boolean {
  return model.namedHookPoints().every(([, hp]) => hp._hooks.length === 0);
}

function deployObs(count: number, seed: number): { obs: Tensor; env: VecEnv } {
  const env = new VecEnv(def, { n: count, distribution: "deploy", params });
  env.reset(seed);
  return { obs: new Tensor(env.obs.slice(), [count, ...env.obsShape]), env };
}

describe("activation datasets", () => {
  const policy = cnnFor(1);
  const data = collectActivations(policy, def, { samples: 120, distribution: "deploy", params, seed: 5, numEnvs: 8 });

  it("keeps every hook's activations with environment labels that match the level", () => {
    expect(data.meta.hooks.map((h) => h.name).sort()).toEqual(policy.hookNames().sort());
    for (const h of data.meta.hooks) expect(data.activations.get(h.name)!.length).toBe(120 * h.shape.reduce((a, b) => a * b, 1));
    const [C, H, W] = data.meta.obs_shape;
    const cheese = channelIndex(data.meta.channels, "cheese");
    const agent = channelIndex(data.meta.channels, "agent");
    const cell = datasetLabel(data, "cheese_cell").values;
    const agentCell = datasetLabel(data, "agent_cell").values;
    for (let k = 0; k < 120; k++) {
      const lit = (c: number): number[] => {
        const out: number[] = [];
        for (let p = 0; p < H * W; p++) if (data.obs[(k * C + c) * H * W + p] === 1) out.push(p);
        return out;
      };
      expect(lit(agent)).toEqual([agentCell[k]]);
      expect(lit(cheese)).toEqual([cell[k]]);
    }
    // episode labels are filled for every sample, and agree within an episode
    const outcome = datasetLabel(data, "episode_outcome").values;
    const byEpisode = new Map<number, number>();
    for (let k = 0; k < 120; k++) {
      expect(Number.isFinite(outcome[k]!)).toBe(true);
      const id = data.episodeId[k]!;
      if (byEpisode.has(id)) expect(byEpisode.get(id)).toBe(outcome[k]);
      byEpisode.set(id, outcome[k]!);
    }
    expect(data.meta.episodes).toBe(byEpisode.size);
    expect(() => datasetLabel(data, "cheeze_cell")).toThrow(/provides no label "cheeze_cell"/);
    try {
      datasetLabel(data, "cheeze_cell");
    } catch (err) {
      expect((err as HookError).hint).toMatch(/available labels: .*cheese_cell/);
    }
  });

  it("saves as safetensors + JSON and loads back unchanged (and from Python when torch is installed)", () => {
    const base = join(dir, "acts");
    const paths = saveActivationDataset(base, data);
    const back = loadActivationDataset(paths.safetensors);
    expect(back.meta).toEqual(data.meta);
    expect(back.obs).toEqual(data.obs);
    for (const [k, v] of data.activations) expect(back.activations.get(k)).toEqual(v);
    for (const [k, v] of data.labels) expect(back.labels.get(k)).toEqual(v);
    expect(back.episodeId).toEqual(data.episodeId);

    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    const script = fileURLToPath(new URL("../fixtures/make_fixtures.py", import.meta.url));
    const py = spawnSync("/usr/bin/python3", [script, "read", paths.safetensors], { encoding: "utf8", env, timeout: 120_000, maxBuffer: 1 << 28 });
    if (py.status !== 0 && /No module named 'torch'|No such file/.test(`${py.stderr}${py.error?.message ?? ""}`)) {
      console.warn("skipped: loading the dataset in Python — /usr/bin/python3 cannot import torch");
      return;
    }
    expect(py.status, py.stderr).toBe(0);
    const loaded = JSON.parse(py.stdout) as { metadata: Record<string, string>; tensors: Record<string, { shape: number[]; values: number[] }> };
    expect(JSON.parse(loaded.metadata["mesa/dataset"]!)).toEqual(data.meta);
    expect(loaded.tensors["obs"]!.shape).toEqual([120, ...data.meta.obs_shape]);
    expect(loaded.tensors["label/cheese_cell"]!.values).toEqual(Array.from(datasetLabel(data, "cheese_cell").values));
  });

  it("recomputes activations of another network on the same observations", () => {
    const twin = cnnFor(2);
    const acts = activationsOn(twin, data, ["trunk.stages.0.hook_conv_out"], 50);
    const direct = noGrad(() => twin.runWithCache(new Tensor(data.obs.slice(0, 10 * data.obs.length / 120), [10, ...data.meta.obs_shape]), { names: ["trunk.stages.0.hook_conv_out"] }));
    const first = direct.cache.get("trunk.stages.0.hook_conv_out")!;
    acts.get("trunk.stages.0.hook_conv_out")!.subarray(0, first.size).forEach((v, k) => expect(v).toBeCloseTo(first.data[k]!, 5));
  });
});

describe("patching", () => {
  const policy = cnnFor(3);
  const { obs, env } = deployObs(12, 7);
  const corrupted = new Tensor(withoutChannel(obs.data, env.obsShape, channelIndex(env.channels, "cheese")), obs.shape);

  it("patching the clean activation into the clean run changes nothing, at every granularity", () => {
    const plain = noGrad(() => policy.forward(obs));
    const { cache } = noGrad(() => policy.runWithCache(obs, { detach: true }));
    const same = (o: ActorCriticOutput): boolean => o.logits.data.every((v, k) => v === plain.logits.data[k]) && o.value.data.every((v, k) => v === plain.value.data[k]);
    for (const hook of policy.hookNames()) {
      const source = cache.get(hook)!;
      expect(genericActivationPatch(policy, obs, source, hook, patchWhole, [null], same)).toEqual([true]);
      expect(genericActivationPatch(policy, obs, source, hook, patchChannel, [0, 3, source.shape[1]! - 1], same)).toEqual([true, true, true]);
      if (source.shape.length === 4) expect(genericActivationPatch(policy, obs, source, hook, patchPosition, [0, 7], same)).toEqual([true, true]);
    }
    expect(clean(policy)).toBe(true);
  });

  it("patching a whole layer of clean activations into the corrupted run restores the clean output", () => {
    const r = patchPolicy(policy, obs, corrupted, ["trunk.hook_dense_out"], { granularity: "layer" });
    if (Math.abs(r.clean_logprob - r.corrupted_logprob) > 1e-6) expect(r.hooks[0]!.logprob_effect[0]).toBeCloseTo(1, 5);
    const noise = patchPolicy(policy, obs, corrupted, ["trunk.stages.0.hook_conv_out"], { granularity: "layer", direction: "noise" });
    if (Math.abs(noise.clean_value - noise.corrupted_value) > 1e-6) expect(noise.hooks[0]!.value_effect[0]).toBeCloseTo(1, 5);
    expect(clean(policy)).toBe(true);
  });
});

describe("steering", () => {
  const policy = cnnFor(4);
  const { obs, env } = deployObs(16, 9);
  const hook = "trunk.stages.0.block.hook_resid_out";
  const without = new Tensor(withoutChannel(obs.data, env.obsShape, channelIndex(env.channels, "cheese")), obs.shape);

  it("coefficient 0 changes nothing; coefficient −1 of the per-maze vector turns a maze into the same maze without cheese at that hook", () => {
    const v = meanDifferenceVector(policy, hook, obs, without);
    expect(v.shape).toEqual(hookInfo(policy, policy.obsShape).find((h) => h.name === hook)!.shape);
    const plain = noGrad(() => policy.forward(obs));
    const zero = noGrad(() => policy.runWithHooks(obs, { [hook]: addVectorHook(v, 0) }));
    expect(Array.from(zero.logits.data)).toEqual(Array.from(plain.logits.data));
    const perMaze = differenceVectors(policy, hook, obs, without);
    const removed = noGrad(() => policy.runWithHooks(obs, { [hook]: addVectorHook(perMaze, -1) }));
    const target = noGrad(() => policy.forward(without));
    removed.logits.data.forEach((x, k) => expect(x).toBeCloseTo(target.logits.data[k]!, 4));
    expect(clean(policy)).toBe(true);
  });

  it("steering with coefficient 0 gives the same episodes as the unsteered policy", () => {
    const opts = { distribution: "deploy", params, episodes: 40, seed: 11, numEnvs: 8 };
    const a = evaluate(def, policyActions(policy, new Rng(1, "s")), opts);
    const b = evaluate(def, steeredActions(policy, new Rng(1, "s"), { hook, coef: 0, vector: { kind: "per-episode", channel: channelIndex(env.channels, "cheese") } }), opts);
    expect(b.intended_goal_rate).toBe(a.intended_goal_rate);
    expect(b.episode_length).toBe(a.episode_length);
    expect(b.base_return).toBe(a.base_return);
    expect(clean(policy)).toBe(true);
  });

  it("at the first convolution (linear in the input) the first observation's −1 × cheese vector hides the cheese at later steps too; deeper, it does not", () => {
    const cheese = channelIndex(env.channels, "cheese");
    const agent = channelIndex(env.channels, "agent");
    // later steps: the same mazes with the agent elsewhere (the cheese stays where it was)
    const later = obs.data.slice();
    for (let b = 0; b < 16; b++) {
      const open = emptyCells(later, env.obsShape, b);
      moveChannel(later, env.obsShape, b, agent, open[b % open.length]!);
    }
    const laterT = new Tensor(later, obs.shape);
    const laterHidden = noGrad(() => policy.forward(new Tensor(withoutChannel(later, env.obsShape, cheese), obs.shape)));
    const steer = (h: string): Float32Array => noGrad(() => policy.runWithHooks(laterT, { [h]: addVectorHook(differenceVectors(policy, h, obs, without), -1) })).logits.data;
    steer("trunk.stages.0.hook_conv_out").forEach((x, k) => expect(x).toBeCloseTo(laterHidden.logits.data[k]!, 4));
    const deeper = steer(hook);
    expect(Math.max(...deeper.map((x, k) => Math.abs(x - laterHidden.logits.data[k]!)))).toBeGreaterThan(1e-3);
    expect(clean(policy)).toBe(true);
  });

  it("a vector whose shape does not fit the hook is an error naming both shapes; hooks are removed after it", () => {
    const bad = zeros([3, 2]);
    expect(() => noGrad(() => policy.runWithHooks(obs, { [hook]: addVectorHook(bad, 1) }))).toThrow(HookError);
    expect(() => noGrad(() => policy.runWithHooks(obs, { [hook]: addVectorHook(bad, 1) }))).toThrow(/\[3, 2\] does not fit hook trunk\.stages\.0\.block\.hook_resid_out, whose activation is \[16, \d+, \d+\]/);
    expect(clean(policy)).toBe(true);
  });
});

describe("retargeting", () => {
  it("runs every arm on the same targets, records success by distance, and leaves no hooks behind", () => {
    const policy = cnnFor(5);
    const r = retarget(policy, def, { hook: "trunk.stages.0.block.hook_resid_out", channels: [0, 1], value: 3, episodes: 24, params, seed: 3, numEnvs: 6, hideChannel: 2 });
    expect(r.records).toHaveLength(24);
    for (const rec of r.records) {
      expect(Object.keys(rec.reached).sort()).toEqual(["goal_at_target", "random", "retargeted", "unedited"]);
      expect(rec.start_distance).toBeGreaterThan(0);
      // direct success: on the target within twice the shortest path's steps (never fewer steps than the path)
      for (const arm of ["retargeted", "unedited", "goal_at_target", "random"] as const) {
        const steps = rec.steps[arm]!;
        if (steps >= 0) expect(steps).toBeGreaterThanOrEqual(rec.start_distance);
        expect(rec.reached[arm]).toBe(steps >= 0 && steps <= 2 * rec.start_distance);
      }
    }
    expect(r.criterion).toBe("direct");
    for (const arm of ["retargeted", "unedited", "goal_at_target", "random"] as const) expect(r.success[arm]!.rate).toBeLessThanOrEqual(r.success_any_time[arm]!.rate);
    expect(r.by_start_distance.reduce((s, b) => s + b.episodes, 0)).toBe(24);
    expect(r.by_corner_distance.reduce((s, b) => s + b.episodes, 0)).toBe(24);
    expect(r.per_cell.targets.reduce((a, b) => a + b, 0)).toBe(24);
    expect(clean(policy)).toBe(true);
  });

  it("the goal's signature at the first convolution is its kernel's centre tap on the goal channel; a zero signature changes nothing", () => {
    const policy = cnnFor(6);
    const { obs, env } = deployObs(16, 9);
    const cheese = channelIndex(env.channels, "cheese");
    const hook = "trunk.stages.0.hook_conv_out"; // full resolution, linear in the input
    const { signature, samples } = goalSignature(policy, hook, obs.data, env.obsShape, cheese);
    expect(samples).toBe(16);
    const weight = (policy as unknown as { trunk: { stages: { conv: { weight: Tensor } }[] } }).trunk.stages[0]!.conv.weight; // [out, in, 3, 3]
    const [, inC] = weight.shape as [number, number, number, number];
    for (let c = 0; c < signature.length; c++) expect(signature[c]).toBeCloseTo(weight.data[(c * inC + cheese) * 9 + 4]!, 5);
    const zero = retarget(policy, def, { hook, channels: [0, 1, 2], value: 0, signature: new Float32Array(signature.length), episodes: 12, params, seed: 4, numEnvs: 4, hideChannel: cheese, arms: ["retargeted", "unedited"] });
    for (const rec of zero.records) expect(rec.steps["retargeted"]).toBe(rec.steps["unedited"]);
    expect(() => retarget(policy, def, { hook, channels: [0], value: 1, episodes: 4, params, seed: 4, numEnvs: 2, hideChannel: null, arms: ["goal_at_target"] })).toThrow(/needs the goal's channel hidden/);
    expect(() => retarget(policy, def, { hook, channels: [0], value: 1, signature: new Float32Array(3), episodes: 4, params, seed: 4, numEnvs: 2, hideChannel: cheese, arms: ["retargeted"] })).toThrow(/signature has 3 channels/);
    expect(clean(policy)).toBe(true);
  });
});

describe("channel search", () => {
  it("finds the planted goal-tracking channel of a hand-built network, and no other above it", () => {
    const env = new VecEnv(def, { n: 1, distribution: "deploy", params });
    const net = new HandBuilt(env.obsShape, channelIndex(env.channels, "cheese"), new Rng(1));
    const data = collectActivations(net as unknown as ActorCritic, def, { samples: 200, distribution: "deploy", params, seed: 2, behaviour: "random" });
    const r = searchChannels(data.activations.get("hook_map")!, data.meta.hooks[0]!.shape as [number, number, number], datasetLabel(data, "cheese_cell").values, data.meta.level);
    expect(r.ranked[0]!.channel).toBe(1);
    expect(r.ranked[0]!.goal_correlation).toBeCloseTo(1, 6);
    expect(r.ranked[0]!.argmax_hit_rate).toBe(1);
    expect(r.ranked[1]!.goal_correlation).toBeLessThan(0.5);
  });
});

describe("errors", () => {
  it("an unknown hook name lists the model's hook names with a filter hint", () => {
    const names = cnnFor(6).hookNames();
    expect(() => resolveHooks(names, ["trunk.hook_dens_out"])).toThrow(/no hook point matches "trunk.hook_dens_out"; the model's hook points are: .*trunk\.stages\.0\.hook_conv_out/);
    expect(() => resolveHooks(names, ["trunk.hook_dens_out"])).toThrow(/trunk\.hook_dense_out/);
    expect(() => resolveHooks(names, ["nothing"])).toThrow(HookError);
    expect(resolveHooks(names, ["trunk.*"])).toEqual(names.filter((n) => n.startsWith("trunk.")));
  });
});
