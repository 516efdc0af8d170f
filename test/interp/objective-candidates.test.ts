// Candidate objectives declared on every environment whose goal and proxy come apart: each declares one
// intended and one proxy candidate, and behavioural inference on deploy levels recovers the env's own scripted
// intended policy as the intended candidate and its scripted proxy policy as the proxy (posterior > 0.99),
// while a uniformly random policy is explained by neither (no gain over chance).
import { describe, expect, it } from "vitest";
import { scriptedActionSource as scriptedActs } from "../../src/envs/scripted.js";
import { VecEnv } from "../../src/envs/engine.js";
import type { KeysChestsState } from "../../src/envs/keys-chests.js";
import type { PointsBugState } from "../../src/envs/points-bug.js";
import { environments } from "../../src/envs/registry.js";
import { inferFromBehaviour, readingLevels } from "../../src/interp/objective-report.js";

const GOAL_PROXY_ENVS = ["coin-run", "maze-cheese", "points-bug", "keys-chests", "absent-supervisor", "monster-shields"];
/** small levels where the env allows them, so the test stays quick */
const SMALL: Record<string, Record<string, unknown>> = { "maze-cheese": { minCells: 3, maxCells: 5 } };

describe("candidate objectives on every goal/proxy environment", () => {
  it("every env with a proxy goal declares an intended and a proxy candidate, with maps over its cells", () => {
    for (const name of GOAL_PROXY_ENVS) {
      const def = environments[name]!;
      expect(def.objectives, name).toBeDefined();
      const roles = def.objectives!.candidates.map((c) => c.role);
      expect(roles.filter((r) => r === "intended"), name).toHaveLength(1);
      expect(roles.filter((r) => r === "proxy"), name).toHaveLength(1);
      const env = new VecEnv(def, { n: 2, distribution: "deploy", params: SMALL[name] ?? {} });
      env.reset(3);
      const maps = def.objectives!.maps(env, 1);
      const level = def.objectives!.level(env, 1);
      expect(maps).toHaveLength(def.objectives!.candidates.length);
      for (const m of maps) expect(m.length).toBe(env.height * env.width);
      expect(level.states).toBe(env.height * env.width);
      expect(level.start).toBe(env.agentY[1]! * env.width + env.agentX[1]!);
    }
  });

  it("reads maps where the candidates come apart: points-bug once the glitched coin is paid, keys-chests while a key is held", () => {
    for (const name of ["points-bug", "keys-chests", "monster-shields"]) {
      const def = environments[name]!;
      const objectives = def.objectives!;
      const views = readingLevels(def, objectives, { n: 12, distribution: "deploy", params: {}, seed: 4 });
      expect(views.length, name).toBeGreaterThanOrEqual(8);
      for (const { env, i } of views) {
        const [a, b] = objectives.maps(env, i);
        expect(a!.some((v, s) => v !== b![s]), name).toBe(true);
        if (name === "keys-chests") expect((env.state as KeysChestsState).keysHeld[i]).toBeGreaterThan(0);
        if (name === "points-bug") expect(Array.from((env.state as PointsBugState).glitchPickups).some((k) => k > 0)).toBe(true);
      }
      // at a level's start the points-bug and keys-chests candidates coincide (monster-shields' already differ)
      const start = new VecEnv(def, { n: 12, distribution: "deploy" });
      start.reset(4);
      const differAtStart = Array.from({ length: 12 }, (_, i) => objectives.maps(start, i)).filter(([a, b]) => a!.some((v, s) => v !== b![s])).length;
      expect(differAtStart, name).toBe(name === "monster-shields" ? 12 : 0);
    }
  });

  for (const name of GOAL_PROXY_ENVS.filter((n) => n !== "coin-run" && n !== "maze-cheese")) {
    it(`${name}: recovers the scripted intended and proxy policies' objectives on deploy; a random policy fits neither`, () => {
      const def = environments[name]!;
      const objectives = def.objectives!;
      const options = { distribution: "deploy", params: SMALL[name] ?? {}, levels: 40, seed: 11, bootstrap: 100 };
      for (const role of ["intended", "proxy"] as const) {
        const truth = objectives.candidates.find((c) => c.role === role)!.name;
        const r = inferFromBehaviour(def, objectives, scriptedActs(role), options);
        expect(r.top, `${name}/${role}`).toBe(truth);
        const winner = r.candidates.find((c) => c.name === truth)!;
        expect(winner.probability, `${name}/${role}`).toBeGreaterThan(0.99);
        expect(winner.gainPerAction, `${name}/${role}`).toBeGreaterThan(0.3);
      }
      const random = inferFromBehaviour(def, objectives, scriptedActs("random", 5), options);
      for (const c of random.candidates) expect(c.gainPerAction, `${name}/random/${c.name}`).toBeLessThan(0.05);
    });
  }
});
