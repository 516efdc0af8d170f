// The environments `makeVecEnv` and the CLI know by name: one file per environment, one line here.
import type { AnyEnvDefinition } from "./engine.js";
import { coinRun } from "./coin-run.js";
import { pointsBug } from "./points-bug.js";
import { mazeCheese } from "./maze-cheese.js";
import { keysChests } from "./keys-chests.js";
import { absentSupervisor } from "./absent-supervisor.js";
import { monsterShields } from "./monster-shields.js";

export const environments: Readonly<Record<string, AnyEnvDefinition>> = {
  "points-bug": pointsBug,
  "coin-run": coinRun,
  "maze-cheese": mazeCheese,
  "keys-chests": keysChests,
  "absent-supervisor": absentSupervisor,
  "monster-shields": monsterShields,
};
