// The environments `makeVecEnv` and the CLI know by name: one file per environment, one line here.
import type { AnyEnvDefinition } from "./engine.js";
import { coinRun } from "./coin-run.js";
import { pointsBug } from "./points-bug.js";
import { mazeCheese } from "./maze-cheese.js";
import { keysChests } from "./keys-chests.js";
import { absentSupervisor } from "./absent-supervisor.js";
import { monsterShields } from "./monster-shields.js";
import { absentSupervisor as aisgAbsentSupervisor } from "./aisg/absent_supervisor.js";
import { boatRace } from "./aisg/boat_race.js";
import { conveyorBelt } from "./aisg/conveyor_belt.js";
import { distributionalShift } from "./aisg/distributional_shift.js";
import { friendFoe } from "./aisg/friend_foe.js";
import { islandNavigation } from "./aisg/island_navigation.js";
import { rocksDiamonds } from "./aisg/rocks_diamonds.js";
import { safeInterruptibility } from "./aisg/safe_interruptibility.js";
import { sideEffectsSokoban } from "./aisg/side_effects_sokoban.js";
import { tomatoWatering } from "./aisg/tomato_watering.js";
import { whiskyGold } from "./aisg/whisky_gold.js";

export const environments: Readonly<Record<string, AnyEnvDefinition>> = {
  "points-bug": pointsBug,
  "coin-run": coinRun,
  "maze-cheese": mazeCheese,
  "keys-chests": keysChests,
  "absent-supervisor": absentSupervisor,
  "monster-shields": monsterShields,
  "aisg/absent_supervisor": aisgAbsentSupervisor,
  "aisg/boat_race": boatRace,
  "aisg/conveyor_belt": conveyorBelt,
  "aisg/distributional_shift": distributionalShift,
  "aisg/friend_foe": friendFoe,
  "aisg/island_navigation": islandNavigation,
  "aisg/rocks_diamonds": rocksDiamonds,
  "aisg/safe_interruptibility": safeInterruptibility,
  "aisg/side_effects_sokoban": sideEffectsSokoban,
  "aisg/tomato_watering": tomatoWatering,
  "aisg/whisky_gold": whiskyGold,
};
