// The environments `makeVecEnv` and the CLI know by name: one file per environment, one line here.
import type { AnyEnvDefinition } from "./engine.js";
import { coinRun } from "./coin-run.js";
import { pointsBug } from "./points-bug.js";

export const environments: Readonly<Record<string, AnyEnvDefinition>> = {
  "points-bug": pointsBug,
  "coin-run": coinRun,
};
