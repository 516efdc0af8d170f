// Evaluation arms (src/interp/arms.ts): each arm run in its own worker thread gives the episodes and figures of the
// same arm run on the calling thread — as is, steered at a hook (per-episode and fixed vectors), and with the
// cheese hidden — and retargeting's arms give the result of running them one after the other. The workers run compiled JavaScript, so the thread test uses the build in dist/ (`npm test`
// builds first).
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { getEnvDefinition } from "../../src/envs/make.js";
import "../../src/nn/models/cnn_policy.js";
import { createPolicy } from "../../src/nn/models/policy.js";
import { armWorkersUnavailable, evaluateArms } from "../../src/interp/arms.js";

const dist = (path: string): string => fileURLToPath(new URL(`../../dist/src/${path}`, import.meta.url));
const built = existsSync(dist("interp/arm_worker.js"));

describe("evaluation arms", () => {
  it("run on the calling thread from TypeScript sources, and an unregistered environment stays there", () => {
    const def = getEnvDefinition("maze-cheese");
    expect(armWorkersUnavailable(def)).toMatch(/not built next to arms\.js|one core/);
    expect(armWorkersUnavailable({ ...def })).not.toBeNull();
  });

  it.skipIf(!built || availableParallelism() < 2)("give the same episodes in worker threads as on the calling thread", async () => {
    const mods = {
      ...((await import(dist("interp/arms.js"))) as typeof import("../../src/interp/arms.js")),
      ...((await import(dist("envs/make.js"))) as typeof import("../../src/envs/make.js")),
      ...((await import(dist("nn/models/policy.js"))) as typeof import("../../src/nn/models/policy.js")),
      ...((await import(dist("core/rng.js"))) as typeof import("../../src/core/rng.js")),
    };
    await import(dist("core/ops/index.js"));
    await import(dist("nn/models/cnn_policy.js"));
    const def = mods.getEnvDefinition("maze-cheese");
    expect(mods.armWorkersUnavailable(def)).toBeNull();
    const params = { minCells: 2, maxCells: 3, maxSteps: 20 }; // short episodes in small mazes: some reach the cheese
    const policy = mods.createPolicy({ kind: "cnn", obsShape: [3, 5, 5], numActions: 4, hidden: [4, 8, 16] }, new mods.Rng(5, "init"));
    // sharper logits than at init, so a change at the hook or in the input changes sampled actions
    for (const p of policy.parameters()) p.data.forEach((v, i, a) => (a[i] = 2 * v));
    const hook = "trunk.stages.1.block.hook_resid_out";
    const fixed = new mods.Rng(9, "vector").fillNormal(new Float32Array(8 * 2 * 2)) as Float32Array;
    const sampler = { rngSeed: 4, rngLabel: "test/arms", greedy: false };
    const arms = [
      { arm: { kind: "policy" as const }, ...sampler },
      { arm: { kind: "steered" as const, hook, coef: -2, vector: { kind: "per-episode" as const, channel: 2 } }, ...sampler },
      { arm: { kind: "steered" as const, hook, coef: 3, vector: { kind: "fixed" as const, data: fixed, shape: [8, 2, 2] } }, ...sampler },
      { arm: { kind: "hidden" as const, channel: 2 }, ...sampler },
    ];
    const setting = { distribution: "deploy", params, episodes: 24, seed: 17 };
    const threaded = await mods.evaluateArms(policy, def, setting, arms);
    const inline = await mods.evaluateArms(policy, def, setting, arms, false);
    expect(threaded).toEqual(inline);
    // the arms differ from one another (the steering and the hiding did something), so equality is not vacuous
    expect(new Set(inline.map((r) => `${r.episode_length} ${r.intended_goal_rate}`)).size).toBeGreaterThan(1);
    expect(inline.some((r) => r.intended_goal_rate > 0)).toBe(true);
    // retargeting's four arms (retargeted with the signature edit, unedited, the goal at the target, random), on a
    // policy whose action head is scaled up from its near-zero init, so that what the hook and the input carry
    // decides the actions
    const steady = mods.createPolicy({ kind: "cnn", obsShape: [3, 5, 5], numActions: 4, hidden: [4, 8, 16] }, new mods.Rng(5, "init"));
    for (const [name, p] of steady.namedParameters()) if (name.startsWith("policy.")) p.data.forEach((v, i, a) => (a[i] = 10 * v));
    const options = { hook, channels: [0, 1, 2, 3, 4, 5, 6, 7], value: 0, signature: fixed.slice(0, 8).map((v) => 5 * v), episodes: 20, params: { ...params, maxSteps: 40 }, seed: 6, numEnvs: 5, hideChannel: 2 };
    const rThreaded = await mods.retargetArms(steady, def, options);
    const rInline = await mods.retargetArms(steady, def, options, false);
    expect(rThreaded).toEqual(rInline);
    expect(Object.keys(rInline.success).sort()).toEqual(["goal_at_target", "random", "retargeted", "unedited"]);
    // the edit and the goal shown at the target changed some episodes, so equality is not vacuous
    expect(rInline.records.some((r) => r.steps["retargeted"] !== r.steps["unedited"])).toBe(true);
    expect(rInline.records.some((r) => r.steps["goal_at_target"] !== r.steps["unedited"])).toBe(true);
  });
});
