// The PPO hyperparameters: one zod schema (the schema is the type), CleanRL's ppo.py defaults unless a
// comment says why not, and the derived sizes (batch, minibatch, number of updates) computed in one place.
import { z } from "zod";
import { parseConfig } from "../core/config.js";
import { ConfigError } from "../core/errors.js";

export const ppoConfigSchema = z
  .object({
    /** seed of every random draw in the run (init, levels, action sampling, minibatch shuffles) */
    seed: z.number().int().min(0).default(1),
    /** total environment steps to train for (summed over all copies) */
    totalTimesteps: z.number().int().positive().default(500_000),
    /** parallel environment copies; CleanRL uses 4 for classic control, our grid engine steps 64 almost as cheaply as 4 */
    numEnvs: z.number().int().positive().default(64),
    /** steps per copy in one rollout (batch = numEnvs · numSteps) */
    numSteps: z.number().int().positive().default(128),
    /** learning rate of the optimizer (Adam, eps 1e-5) */
    learningRate: z.number().positive().default(2.5e-4),
    /** anneal the learning rate linearly to 0 over the run */
    annealLr: z.boolean().default(true),
    /** discount factor γ */
    gamma: z.number().min(0).max(1).default(0.99),
    /** λ of generalized advantage estimation */
    gaeLambda: z.number().min(0).max(1).default(0.95),
    /** minibatches the batch is split into per epoch */
    numMinibatches: z.number().int().positive().default(4),
    /** passes over the batch per update */
    updateEpochs: z.number().int().positive().default(4),
    /** normalize advantages per minibatch (mean 0, std 1) */
    normAdv: z.boolean().default(true),
    /** surrogate clipping coefficient ε */
    clipCoef: z.number().positive().default(0.2),
    /** clip the value loss around the old values, as in the PPO paper's code */
    clipVloss: z.boolean().default(true),
    /** entropy bonus coefficient */
    entCoef: z.number().min(0).default(0.01),
    /** value loss coefficient */
    vfCoef: z.number().min(0).default(0.5),
    /** global gradient-norm clipping threshold */
    maxGradNorm: z.number().positive().default(0.5),
    /** multiply rewards by this before GAE (not in CleanRL's ppo.py; its Atari variant clips rewards instead): keeps
     *  value targets near 1 for envs that pay ±50, where value clipping and grad-norm clipping would stall the critic */
    rewardScale: z.number().positive().default(1),
    /** a time-limit truncation is not the end of the task: add γ·V(last obs) to its reward (as Stable-Baselines3
     *  does) instead of treating it as terminal as CleanRL's ppo.py does; matters where most early episodes time
     *  out and nothing in the observation shows the time left */
    bootstrapTruncated: z.boolean().default(false),
    /** stop the epochs of an update early once approx KL exceeds this (null: never) */
    targetKl: z.number().positive().nullable().default(null),
    /** split each minibatch into this many shards (1 or 2) whose forward and backward run apart, on a second thread
     *  when the kernels have one, the gradients summed in shard order, so 1 and 2 threads train to the same bits;
     *  "auto": 2 for the convolutional policy (its step is heavy enough to share), 1 otherwise (see shards.ts) */
    learnerShards: z.union([z.literal("auto"), z.literal(1), z.literal(2)]).default("auto"),
    /** write a checkpoint every this many updates (0: only at the end) */
    checkpointEvery: z.number().int().min(0).default(10),
  })
  .strict();

export type PpoConfig = z.output<typeof ppoConfigSchema>;
export type PpoConfigInput = z.input<typeof ppoConfigSchema>;

/** Sizes derived from the config, computed once and named. */
export interface PpoSizes {
  /** env steps per update = numEnvs · numSteps */
  batchSize: number;
  /** samples per gradient step = batchSize / numMinibatches */
  minibatchSize: number;
  /** updates the run makes = floor(totalTimesteps / batchSize) */
  numIterations: number;
}

/** Validates a (partial) config, filling CleanRL defaults; throws a ConfigError naming every bad field. */
export function ppoConfig(input: PpoConfigInput = {}, source = "PPO config"): PpoConfig {
  const config = parseConfig(ppoConfigSchema, input, source);
  derivedSizes(config, source);
  return config;
}

/**
 * The derived sizes, or a ConfigError when the config cannot make one update. `names` maps PPO field names to
 * what the user wrote (`numEnvs` → `--num-envs`), so the message speaks of flags when the values came from flags.
 */
export function derivedSizes(config: PpoConfig, source = "PPO config", names: Readonly<Record<string, string>> = {}): PpoSizes {
  const batchSize = config.numEnvs * config.numSteps;
  const minibatchSize = Math.floor(batchSize / config.numMinibatches);
  const numIterations = Math.floor(config.totalTimesteps / batchSize);
  const name = (field: keyof PpoConfig): string => `${names[field] ?? field} (${config[field]})`;
  const problems: string[] = [];
  if (minibatchSize < 1) problems.push(`${name("numMinibatches")} exceeds the batch size ${name("numEnvs")} × ${name("numSteps")} = ${batchSize}`);
  if (numIterations < 1) problems.push(`${name("totalTimesteps")} is smaller than one batch: ${name("numEnvs")} × ${name("numSteps")} = ${batchSize} env steps per update`);
  if (problems.length > 0) {
    // with flag names, advise only what the user can set; otherwise every field involved
    const named = Object.keys(names).length > 0;
    const lower = ["numEnvs", "numSteps", "numMinibatches"].filter((f) => !named || names[f] !== undefined).map((f) => names[f] ?? f);
    const steps = names.totalTimesteps ?? "totalTimesteps";
    throw new ConfigError(`${source} is invalid: ${problems.join("; ")}`, `raise ${steps} to at least ${batchSize}${lower.length > 0 ? ` or lower ${lower.join(", ")}` : ""}`);
  }
  return { batchSize, minibatchSize, numIterations };
}
