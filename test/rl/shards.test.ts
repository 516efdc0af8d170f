// PPO's sharded learning step (src/rl/shards.ts): shard gradients sum to the whole minibatch's gradient, and
// shard 1 computed on the worker thread gives the same bits as on the calling thread, so CNN PPO trains to
// identical weights on 1 and 2 threads. The worker runs compiled JavaScript, so the thread tests use the build in
// dist/ (`npm test` builds first).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { Tensor } from "../../src/core/tensor.js";
import { concat } from "../../src/core/ops/shape.js";
import { makeVecEnv } from "../../src/envs/make.js";
import "../../src/nn/models/cnn_policy.js";
import { createPolicy } from "../../src/nn/models/policy.js";
import { ppoConfig } from "../../src/rl/config.js";
import { ShardedLearner, autoShards, shardRows } from "../../src/rl/shards.js";

const dist = (path: string): string => fileURLToPath(new URL(`../../dist/src/${path}`, import.meta.url));
const built = existsSync(dist("rl/shard_worker.js"));

/** A coin-run CNN policy, a minibatch of observations and an output gradient (seeded). */
function problem(mods: { createPolicy: typeof createPolicy; makeVecEnv: typeof makeVecEnv; Rng: typeof Rng }, batch: number) {
  const env = mods.makeVecEnv("coin-run", { n: batch, distribution: "small" });
  env.reset(3);
  const policy = mods.createPolicy({ kind: "cnn", obsShape: env.obsShape, numActions: env.numActions, hidden: [4, 8, 16] }, new mods.Rng(7, "init"));
  const obsSize = env.obsShape.reduce((a, b) => a * b, 1);
  const obs = Float32Array.from(env.obs);
  const rng = new mods.Rng(11, "grad");
  const gradOut = Float32Array.from({ length: batch * (env.numActions + 1) }, () => rng.normal());
  return { policy, obs, obsSize, gradOut, numActions: env.numActions };
}

describe("shardRows and autoShards", () => {
  it("cuts the rollout's forward pass only when each shard holds enough observation floats", () => {
    const { policy } = problem({ createPolicy, makeVecEnv, Rng }, 2);
    const shardsOf = (l: ShardedLearner): number => (l as unknown as { inferShards: number[] }).inferShards.length;
    expect(shardsOf(new ShardedLearner(policy, 8, 867, 2, 64))).toBe(2); // maze-cheese's 3×17×17: 27,744 floats a shard
    expect(shardsOf(new ShardedLearner(policy, 8, 180, 2, 64))).toBe(1); // coin-run small's 3×5×12: 5,760
    expect(shardsOf(new ShardedLearner(policy, 8, 867, 1, 64))).toBe(1); // a learner of one shard
  });

  it("cuts a minibatch into consecutive shards, the last taking the remainder", () => {
    expect(shardRows(512, 2)).toEqual([256, 256]);
    expect(shardRows(7, 2)).toEqual([3, 4]);
    expect(shardRows(5, 1)).toEqual([5]);
  });

  it("shards convolutional policies only, and only minibatches of two or more", () => {
    const { policy } = problem({ createPolicy, makeVecEnv, Rng }, 2);
    expect(autoShards(policy, 512)).toBe(2);
    expect(autoShards(policy, 1)).toBe(1);
    expect(ppoConfig({}).learnerShards).toBe("auto");
    expect(() => ppoConfig({ learnerShards: 3 as 2 })).toThrow(/learnerShards/);
  });
});

describe("ShardedLearner", () => {
  it("two shards give the whole minibatch's outputs and (to rounding) its gradients", async () => {
    const p = problem({ createPolicy, makeVecEnv, Rng }, 9);
    // unsharded reference
    const whole = p.policy.forward(new Tensor(p.obs, [9, p.obsSize]));
    p.policy.zeroGrad();
    concat([whole.logits, whole.value], 1).backward(p.gradOut);
    const reference = p.policy.parameters().map((q) => Float32Array.from(q.grad!.data));
    const learner = new ShardedLearner(p.policy, 9, p.obsSize, 2);
    expect(learner.rows).toEqual([4, 5]);
    // a sample's outputs may differ in the last bits with the batch around it (GEMM edge kernels)
    const out = await learner.forward(p.obs);
    const inferred = await new ShardedLearner(p.policy, 9, p.obsSize, 2, 9, 0).infer(p.obs);
    for (const o of [out, inferred]) {
      for (let j = 0; j < whole.logits.size; j++) expect(o.logits[j]).toBeCloseTo(whole.logits.data[j]!, 5);
      for (let j = 0; j < whole.value.size; j++) expect(o.values[j]).toBeCloseTo(whole.value.data[j]!, 5);
    }
    await learner.backward(p.gradOut);
    p.policy.parameters().forEach((q, i) => {
      const ref = reference[i]!;
      const scale = Math.max(1e-6, ...Array.from(ref, Math.abs));
      for (let j = 0; j < ref.length; j++) expect(Math.abs(q.grad!.data[j]! - ref[j]!) / scale).toBeLessThan(1e-5);
    });
    expect(learner.usingWorker).toBe(false); // TypeScript sources: no built worker next to shards.ts
    await learner.close();
  });

  it.skipIf(!built)("shard 1 on the worker thread gives the bits of shard 1 on the calling thread", async () => {
    const mods = {
      ...((await import(dist("rl/shards.js"))) as typeof import("../../src/rl/shards.js")),
      ...((await import(dist("core/kernels/index.js"))) as typeof import("../../src/core/kernels/index.js")),
      ...((await import(dist("envs/make.js"))) as typeof import("../../src/envs/make.js")),
      ...((await import(dist("nn/models/policy.js"))) as typeof import("../../src/nn/models/policy.js")),
      ...((await import(dist("core/rng.js"))) as typeof import("../../src/core/rng.js")),
    };
    await import(dist("core/ops/index.js"));
    await import(dist("nn/models/cnn_policy.js"));
    const k = mods.kernels();
    const before = k.threads;
    const run = async (threads: number): Promise<{ out: number[]; grads: number[][]; worker: boolean }> => {
      k.setThreads(threads);
      const p = problem(mods, 33);
      // the rollout's pass in two shards too, whatever their size
      const learner = new mods.ShardedLearner(p.policy, 33, p.obsSize, 2, 33, 0);
      await learner.whenReady();
      const outs: number[] = [];
      // two steps, the parameters changed between them (the worker must read the new ones), each after a
      // rollout-style forward pass without gradients
      for (let step = 0; step < 2; step++) {
        const r = await learner.infer(p.obs);
        outs.push(...r.logits, ...r.values);
        const o = await learner.forward(p.obs);
        outs.push(...o.logits, ...o.values);
        await learner.backward(p.gradOut);
        for (const q of p.policy.parameters()) for (let j = 0; j < q.size; j++) q.data[j] = q.data[j]! - 0.01 * q.grad!.data[j]!;
      }
      const worker = learner.usingWorker;
      await learner.close();
      return { out: outs, grads: p.policy.parameters().map((q) => Array.from(q.grad!.data)), worker };
    };
    try {
      const one = await run(1);
      const two = await run(2);
      expect(one.worker).toBe(false);
      // a hook attached to the policy keeps both shards on the calling thread (the replica has no hooks)
      k.setThreads(2);
      const hooked = problem(mods, 8);
      const seen: number[] = [];
      const hookedLearner = new mods.ShardedLearner(hooked.policy, 8, hooked.obsSize, 2);
      await hookedLearner.whenReady();
      const hookPoint = hooked.policy.namedHookPoints().find(([n]) => n === "trunk.hook_dense_out")![1];
      hookPoint._hooks.push({ name: "trunk.hook_dense_out", fn: (a) => void seen.push(a.shape[0]!) });
      await hookedLearner.forward(hooked.obs);
      hookPoint._hooks.pop();
      expect(seen).toEqual([4, 4]);
      await hookedLearner.close();
      if (k.threads < 2) return; // a backend without a second thread has nothing to compare
      expect(two.worker).toBe(true);
      expect(two.out).toEqual(one.out);
      expect(two.grads).toEqual(one.grads);
    } finally {
      k.setThreads(before);
    }
  });

  it.skipIf(!built)("CNN PPO trains to the same weights on 1 and 2 threads", async () => {
    const { trainPPO } = (await import(dist("rl/ppo.js"))) as typeof import("../../src/rl/ppo.js");
    const { ppoConfig: config } = (await import(dist("rl/config.js"))) as typeof import("../../src/rl/config.js");
    const { kernels } = (await import(dist("core/kernels/index.js"))) as typeof import("../../src/core/kernels/index.js");
    const { makeVecEnv: make } = (await import(dist("envs/make.js"))) as typeof import("../../src/envs/make.js");
    const { createPolicy: create } = (await import(dist("nn/models/policy.js"))) as typeof import("../../src/nn/models/policy.js");
    const { Rng: R } = (await import(dist("core/rng.js"))) as typeof import("../../src/core/rng.js");
    await import(dist("core/ops/index.js"));
    await import(dist("nn/models/cnn_policy.js"));
    const k = kernels();
    const before = k.threads;
    const train = async (threads: number): Promise<number[]> => {
      k.setThreads(threads);
      const c = config({ numEnvs: 8, numSteps: 16, totalTimesteps: 8 * 16 * 2, numMinibatches: 2, updateEpochs: 2, seed: 4, checkpointEvery: 0 });
      const env = make("coin-run", { n: c.numEnvs, distribution: "small" });
      const policy = create({ kind: "cnn", obsShape: env.obsShape, numActions: env.numActions, hidden: [4, 8, 16] }, new R(c.seed, "init"));
      await trainPPO(env, policy, c);
      return policy.parameters().flatMap((q) => Array.from(q.data));
    };
    try {
      const one = await train(1);
      const two = await train(2);
      expect(two).toEqual(one);
    } finally {
      k.setThreads(before);
    }
  });
});
