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

/**
 * The run's environment parameters that still apply on `distribution`: all of them on the distribution it
 * trained on, elsewhere only those the distribution does not set itself — a run trained with
 * randomCoinFraction 0 keeps its level size and limits on deploy, but deploy's coin placement is deploy's.
 */
export function paramsOn(def: AnyEnvDefinition, distribution: string, trainedOn: string, runParams: Readonly<Record<string, unknown>>): Record<string, unknown> {
  if (distribution === trainedOn) return { ...runParams };
  const own = def.distributions[distribution]?.params ?? {};
  return Object.fromEntries(Object.entries(runParams).filter(([k]) => !(k in own)));
}
