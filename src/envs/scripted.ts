// Reference policies by kind: each environment's own scripted intended and proxy policies and its
// observation-only intended policy (declared on its definition, in its file), and a uniformly random policy.
// They are the yardsticks every evaluation table prints beside a trained agent, and the validity harness's
// subjects (validate.ts).
import type { ScriptedPolicy, VecEnv } from "./engine.js";
import { ConfigError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { environments } from "./registry.js";


/** intended/proxy: scripted (may read privileged state); observation-only: intended from the observation alone; random: uniform actions */
export type ScriptedKind = "intended" | "proxy" | "observation-only" | "random";
export const SCRIPTED_KINDS: readonly ScriptedKind[] = ["intended", "proxy", "observation-only", "random"];

/** Names of the environments that declare reference policies. */
export function envsWithPolicies(): string[] {
  return Object.values(environments)
    .filter((d) => d.policies !== undefined)
    .map((d) => d.name);
}

/**
 * The reference policy of `kind` for `env`. Environments without declared policies raise a ConfigError listing
 * those that have them (the random policy exists for every environment). `seed` seeds the random policy: copy
 * i draws from stream (seed, indexOffset + i), so copy i acts the same for any n.
 */
export function scriptedPolicy(env: VecEnv, kind: ScriptedKind, seed = 0): ScriptedPolicy {
  if (kind === "random") return randomPolicy(env, seed);
  const policies = env.def.policies;
  if (!policies) throw new ConfigError(`environment "${env.def.name}" declares no reference policies`, `environments with them: ${envsWithPolicies().join(", ")}`);
  return kind === "intended" ? policies.intended(env) : kind === "proxy" ? policies.proxy(env) : policies.observationOnly(env);
}

/** Uniformly random actions, copy i from its own Rng stream. */
export function randomPolicy(env: VecEnv, seed: number): ScriptedPolicy {
  const rngs = Array.from({ length: env.n }, (_, i) => new Rng(seed, "random-policy", env.indexOffset + i));
  return {
    name: `${env.def.name}/random`,
    description: "uniformly random actions",
    act(e, actions) {
      for (let i = 0; i < e.n; i++) actions[i] = rngs[i]!.int(e.numActions);
    },
  };
}

/**
 * The reference policy of `kind` as an action source for any VecEnv it is asked to act in: built once per env
 * (it sizes its scratch to it), so one source serves evaluations and recordings that make their own envs.
 */
export function scriptedActionSource(kind: ScriptedKind, seed = 0): (env: VecEnv, actions: Int32Array) => void {
  let last: VecEnv | null = null;
  let policy: ScriptedPolicy | null = null;
  return (env, actions) => {
    if (env !== last) {
      policy = scriptedPolicy(env, kind, seed);
      last = env;
    }
    policy!.act(env, actions);
  };
}
