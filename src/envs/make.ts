// Looking environments up by name and building vectorized or single copies of them.
import { ConfigError } from "../core/errors.js";
import { VecEnv, type AnyEnvDefinition, type VecEnvOptions } from "./engine.js";
import { environments } from "./registry.js";

/** The definition registered under `name`; unknown names raise a ConfigError listing the valid ones. */
export function getEnvDefinition(name: string): AnyEnvDefinition {
  const def = environments[name];
  if (def === undefined) {
    throw new ConfigError(`unknown environment "${name}"`, `choose one of: ${Object.keys(environments).join(", ")}`);
  }
  return def;
}

/** n copies of the environment `name` on one level distribution (default "train"). */
export function makeVecEnv(name: string, options: VecEnvOptions): VecEnv {
  return new VecEnv(getEnvDefinition(name), options);
}
