// The PyTorch peer of `npm run bench -- ppo` / `ppo-cnn` trains on numpy re-implementations of coin-run and
// maze-cheese; this checks that each is the same environment: the same levels (its Rng is a port of ours), the
// same physics step by step, and the same observations (coin-run's train levels: the agent-centred window).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { makeVecEnv } from "../../src/envs/make.js";

const peer = fileURLToPath(new URL("../../bench/peers/ppo_torch.py", import.meta.url));
const python = "/usr/bin/python3";
const probe = spawnSync(python, ["-c", "import numpy"], { encoding: "utf8" });
const hasNumpy = probe.status === 0;

describe.skipIf(!hasNumpy)("bench/peers/ppo_torch.py environment (needs /usr/bin/python3 with numpy)", () => {
  // the action patterns of scripted_returns in the peer (coin-run: right, right, jump, right, left; maze-cheese:
  // up, right, up, right, left, down, up) and how many coins / cheeses and episode ends they must reach, or the
  // comparison proves little
  const cases = [
    { env: "coin-run", distribution: "small", pattern: [2, 2, 3, 2, 1], minRewards: 5, minDones: 50 },
    { env: "coin-run", distribution: "train", pattern: [2, 2, 3, 2, 1], minRewards: 5, minDones: 40 },
    { env: "maze-cheese", distribution: "train", pattern: [0, 3, 0, 3, 2, 1, 0], minRewards: 3, minDones: 16 },
  ];
  it.each(cases)("replays $env's $distribution levels and dynamics exactly", ({ env: name, distribution, pattern, minRewards, minDones }) => {
    const seed = 3;
    const r = spawnSync(python, [peer, "--trajectory", "--env", name, "--distribution", distribution, "--seed", String(seed)], { encoding: "utf8", maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    // the first entry is the observation after reset; then one per step, with the observation of every tenth
    const [first, ...trajectory] = JSON.parse(r.stdout) as { reward: number[]; done: number[]; agent: number[]; obs?: number[][] }[];
    const n = 16;
    const env = makeVecEnv(name, { n, distribution });
    env.reset(seed);
    const obsSize = env.obs.length / n; // [n, C, view height, view width]
    const observed = (): number[][] => Array.from({ length: n }, (_, i) => Array.from(env.obs.subarray(i * obsSize, (i + 1) * obsSize)));
    expect(observed()).toEqual(first!.obs);
    const actions = new Int32Array(n);
    let rewards = 0;
    let dones = 0;
    let observations = 0;
    trajectory.forEach(({ obs, ...step }, t) => {
      for (let i = 0; i < n; i++) actions[i] = pattern[(i * 7 + t * 3 + ((t * i) % 5)) % pattern.length]!;
      env.step(actions);
      const done = Array.from(env.terminated, (x, i) => x | env.truncated[i]!);
      const agent = Array.from(env.agentY, (y, i) => y * env.width + env.agentX[i]!);
      expect({ t, reward: Array.from(env.reward), done, agent }).toEqual({ t, ...step });
      if (obs !== undefined) {
        expect({ t, obs: observed() }).toEqual({ t, obs });
        observations++;
      }
      rewards += step.reward.reduce((a, b) => a + b, 0);
      dones += done.reduce((a, b) => a + b, 0);
    });
    expect(observations).toBe(30);
    expect(rewards).toBeGreaterThanOrEqual(minRewards);
    expect(dones).toBeGreaterThanOrEqual(minDones);
  });
});
