// What objective inference observes of a policy: `recordEpisodes` runs any policy on a VecEnv's copies and keeps
// the (state, action) pairs — states are the agent's cells, as in the env's tabular levels (envs/objectives.ts).
import type { VecEnv } from "../envs/engine.js";
import type { ObservedEpisode } from "./objective-inference.js";

/**
 * Steps every copy of `env` with `act` (which writes one action per copy) from its current state until each
 * copy's episode ends (or `maxSteps`), and returns copy i's states (agent cells) and actions as episode i.
 * Copies that finish keep stepping (auto-reset) but are no longer recorded.
 */
export function recordEpisodes(env: VecEnv, act: (env: VecEnv, actions: Int32Array) => void, maxSteps = env.maxSteps): ObservedEpisode[] {
  const n = env.n;
  const states: number[][] = Array.from({ length: n }, () => []);
  const actions: number[][] = Array.from({ length: n }, () => []);
  const done = new Uint8Array(n);
  const a = new Int32Array(n);
  let open = n;
  for (let t = 0; t < maxSteps && open > 0; t++) {
    act(env, a);
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      states[i]!.push(env.agentY[i]! * env.width + env.agentX[i]!);
      actions[i]!.push(a[i]!);
    }
    env.step(a);
    for (let i = 0; i < n; i++) {
      if (!done[i] && (env.terminated[i]! | env.truncated[i]!) !== 0) {
        done[i] = 1;
        open--;
      }
    }
  }
  return states.map((s, i) => ({ level: i, states: Int32Array.from(s), actions: Int32Array.from(actions[i]!) }));
}
