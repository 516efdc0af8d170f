// The PyTorch peer of `npm run bench -- ppo` trains on a numpy re-implementation of coin-run; this checks that
// it is the same environment: the same levels (its Rng is a port of ours) and the same physics, step by step.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { makeVecEnv } from "../../src/envs/make.js";

const peer = fileURLToPath(new URL("../../bench/peers/ppo_torch.py", import.meta.url));
const python = "/usr/bin/python3";
const probe = spawnSync(python, ["-c", "import numpy"], { encoding: "utf8" });
const hasNumpy = probe.status === 0;

describe.skipIf(!hasNumpy)("bench/peers/ppo_torch.py environment (needs /usr/bin/python3 with numpy)", () => {
  it("replays coin-run's small levels and dynamics exactly", () => {
    const seed = 3;
    const r = spawnSync(python, [peer, "--trajectory", "--seed", String(seed)], { encoding: "utf8", maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    const trajectory = JSON.parse(r.stdout) as { reward: number[]; done: number[]; agent: number[] }[];
    const n = 16;
    const env = makeVecEnv("coin-run", { n, distribution: "small" });
    env.reset(seed);
    const pattern = [2, 2, 3, 2, 1]; // right, right, jump, right, left
    const actions = new Int32Array(n);
    let coins = 0;
    let dones = 0;
    trajectory.forEach((step, t) => {
      for (let i = 0; i < n; i++) actions[i] = pattern[(i * 7 + t * 3 + ((t * i) % 5)) % 5]!;
      env.step(actions);
      const done = Array.from(env.terminated, (x, i) => x | env.truncated[i]!);
      const agent = Array.from(env.agentY, (y, i) => y * env.width + env.agentX[i]!);
      expect({ t, reward: Array.from(env.reward), done, agent }).toEqual({ t, ...step });
      coins += step.reward.reduce((a, b) => a + b, 0);
      dones += done.reduce((a, b) => a + b, 0);
    });
    // the pattern must reach coins and end many episodes, or the comparison proves little
    expect(coins).toBeGreaterThan(5);
    expect(dones).toBeGreaterThan(50);
  });
});
