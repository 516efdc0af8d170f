// Proximal Policy Optimization, read top to bottom like CleanRL's ppo.py: set up, then for each update
// anneal the learning rate, collect a rollout from the vectorized env, compute GAE advantages, and run
// minibatch epochs of the clipped surrogate objective with a (clipped) value loss and an entropy bonus,
// global gradient-norm clipping and Adam. Metrics keep CleanRL's names. Checkpoints carry everything a
// resumed run needs to reach the same final weights bit for bit: weights, Adam moments, both RNG streams,
// the environment's exact state and the update counter.
import { DivergenceError } from "../core/errors.js";
import { Rng, type RngState } from "../core/rng.js";
import { Tensor, noGrad } from "../core/tensor.js";
import type { VecEnv } from "../envs/engine.js";
import type { EnvCurriculum } from "./curriculum.js";
import type { ActorCritic } from "../nn/models/policy.js";
import { Adam } from "../optim/adam.js";
import { clipGradNorm } from "../optim/clip.js";
import type { OptimizerState } from "../optim/optimizer.js";
import { Minibatch, RolloutBuffer } from "./buffer.js";
import { type PpoConfig, derivedSizes } from "./config.js";
import { computeGae } from "./gae.js";
import { ppoLoss } from "./loss.js";
import { sampleCategorical } from "./sample.js";
import { ShardedLearner, autoShards } from "./shards.js";

/** One update's metrics, CleanRL names plus ours (charts/intended_return, charts/event/<name>). */
export type PpoMetrics = Record<string, number | null>;

/** Everything needed to continue a run exactly where it stood after `update` updates. */
export interface PpoState {
  /** completed updates */
  update: number;
  /** env steps taken so far (all copies) */
  globalStep: number;
  /** action sampling stream */
  rolloutRng: { s: RngState; spareNormal: number | null };
  /** minibatch shuffling stream */
  shuffleRng: { s: RngState; spareNormal: number | null };
  optimizer: OptimizerState;
}

export interface PpoCallbacks {
  /** after every update, with its metrics; returning "stop" ends training after this update (and its checkpoint) */
  onUpdate?(metrics: PpoMetrics, info: { update: number; numIterations: number; globalStep: number; totalTimesteps: number }): void | "stop" | Promise<void | "stop">;
  /** every config.checkpointEvery updates and after the last one; save the policy, `env` (the one trained on now) and `state` */
  onCheckpoint?(state: PpoState, env: VecEnv): void | Promise<void>;
  /** continue from a checkpoint: the policy's weights and the env's state must already be restored */
  resume?: PpoState;
  /**
   * train on the env of each update's stage: `env` is then the env of the first update's stage (resuming: of the
   * checkpointed update's stage, restored), and a new stage's env is reset with the config's seed when it begins
   */
  curriculum?: EnvCurriculum;
}

export interface PpoResult {
  updates: number;
  globalStep: number;
  seconds: number;
  /** env steps per second over this call */
  stepsPerSecond: number;
  /** the last update's metrics */
  last: PpoMetrics;
}

/** Throws DivergenceError when `x` is NaN or infinite. */
function assertFinite(x: number, what: string, update: number): void {
  if (!Number.isFinite(x)) {
    throw new DivergenceError(
      `training diverged at update ${update}: ${what} is ${x}`,
      "lower learningRate or maxGradNorm (or check the env's rewards); the last checkpoint before this update is intact, so --resume continues from it",
    );
  }
}

/**
 * For each copy whose episode the time limit cut off at this step (truncated, not terminated), writes γ·V(its last
 * observation) into `rewards[i]` (the step's other entries are set to 0): the return goes on past the limit, as the
 * task does. One batched forward pass over the truncated copies' final observations (`scratch`: [n, obsSize]).
 */
export function bootstrapTruncations(env: VecEnv, policy: ActorCritic, gamma: number, obsSize: number, rewards: Float32Array, scratch: Float32Array): void {
  let count = 0;
  for (let i = 0; i < env.n; i++) {
    rewards[i] = 0;
    if (env.truncated[i] === 1 && env.terminated[i] === 0) scratch.set(env.finalObs.subarray(i * obsSize, (i + 1) * obsSize), obsSize * count++);
  }
  if (count === 0) return;
  const values = noGrad(() => policy.forward(new Tensor(scratch.subarray(0, count * obsSize), [count, obsSize]))).value.data;
  let k = 0;
  for (let i = 0; i < env.n; i++) if (env.truncated[i] === 1 && env.terminated[i] === 0) rewards[i] = gamma * values[k++]!;
}

/**
 * Trains `policy` on `env` (which must not have been stepped by anyone else) with PPO. The env is reset with
 * the config's seed unless resuming. Returns when config.totalTimesteps are used up.
 */
export async function trainPPO(firstEnv: VecEnv, policy: ActorCritic, config: PpoConfig, callbacks: PpoCallbacks = {}): Promise<PpoResult> {
  let env = firstEnv;
  // ── setup ──
  const { batchSize, minibatchSize, numIterations } = derivedSizes(config);
  const numEnvs = env.n;
  if (numEnvs !== config.numEnvs) throw new RangeError(`trainPPO: env has ${numEnvs} copies but config.numEnvs is ${config.numEnvs}`);
  const obsShape = env.obsShape;
  const obsSize = obsShape[0] * obsShape[1] * obsShape[2];
  const numActions = env.numActions;
  const params = policy.parameters();
  const optimizer = new Adam(params, { lr: config.learningRate, eps: 1e-5 });
  const rolloutRng = new Rng(config.seed, "ppo/rollout");
  const shuffleRng = new Rng(config.seed, "ppo/shuffle");
  const buffer = new RolloutBuffer(config.numSteps, numEnvs, obsSize);
  const minibatch = new Minibatch(minibatchSize, obsSize);
  const nextValues = new Float32Array(numEnvs);
  const gradLogits = new Float32Array(minibatchSize * numActions);
  const gradValues = new Float32Array(minibatchSize);
  const gradOut = new Float32Array(minibatchSize * (numActions + 1)); // [B, A+1]: logits then value
  const eventNames = env.eventNames;
  const E = eventNames.length;
  const truncationObs = config.bootstrapTruncated ? new Float32Array(numEnvs * obsSize) : new Float32Array(0);
  // a loss the policy learns from its own experience beside PPO's (the planner's transition loss), when it has one
  const experience = policy.experienceLoss ?? null;

  let startUpdate = 0;
  let globalStep = 0;
  if (callbacks.resume) {
    const s = callbacks.resume;
    startUpdate = s.update;
    globalStep = s.globalStep;
    rolloutRng.setState(s.rolloutRng);
    shuffleRng.setState(s.shuffleRng);
    optimizer.setState(s.optimizer);
  } else {
    env.reset(config.seed);
  }
  const state = (update: number): PpoState => ({
    update,
    globalStep,
    rolloutRng: rolloutRng.getState(),
    shuffleRng: shuffleRng.getState(),
    optimizer: optimizer.getState(),
  });

  const curriculum = callbacks.curriculum;
  let stage = curriculum ? curriculum.stageOf(startUpdate, numIterations) : 0;
  if (curriculum && curriculum.envFor(stage) !== env) throw new RangeError(`trainPPO: the env passed is not the curriculum's env of stage ${stage} (update ${startUpdate})`);

  // the minibatch's forward and backward, in shards (on a second thread when the kernels have one)
  const learner = new ShardedLearner(policy, minibatchSize, obsSize, config.learnerShards === "auto" ? autoShards(policy, minibatchSize) : config.learnerShards, numEnvs);

  const startTime = performance.now();
  const startStep = globalStep;
  let last: PpoMetrics = {};
  let updates = numIterations;
  try {
    for (let update = startUpdate + 1; update <= numIterations; update++) {
      // ── learning-rate annealing: linear from learningRate to 0 over the run ──
      const frac = config.annealLr ? 1 - (update - 1) / numIterations : 1;
      optimizer.lr = frac * config.learningRate;

      // ── curriculum: a new stage starts on its own env, reset with the run's seed ──
      const updateStage = curriculum ? curriculum.stageOf(update, numIterations) : stage;
      if (curriculum && updateStage !== stage) {
        stage = updateStage;
        env = curriculum.envFor(stage);
        if (env.n !== numEnvs || env.obsShape.join() !== obsShape.join() || env.numActions !== numActions) throw new RangeError(`trainPPO: curriculum stage ${stage}'s env differs from the first in copies, observation shape or actions`);
        env.reset(config.seed);
      }

      // ── rollout ──
      let episodes = 0;
      let returnSum = 0;
      let intendedSum = 0;
      let lengthSum = 0;
      let proxyCount = 0;
      const eventSums = new Float64Array(E);
      buffer.rewards.fill(0);
      for (let t = 0; t < config.numSteps; t++) {
        const obs = buffer.obsAt(t);
        obs.set(env.obs);
        const at = t * numEnvs;
        const actions = buffer.actions.subarray(at, at + numEnvs);
        const out = await learner.infer(obs);
        sampleCategorical(out.logits, numEnvs, numActions, rolloutRng, actions, buffer.logprobs.subarray(at, at + numEnvs));
        buffer.values.set(out.values.subarray(0, numEnvs), at);
        env.step(actions);
        globalStep += numEnvs;
        const { reward, terminated, truncated, finished } = env;
        if (config.bootstrapTruncated) bootstrapTruncations(env, policy, config.gamma, obsSize, buffer.rewards.subarray(at, at + numEnvs), truncationObs);
        for (let i = 0; i < numEnvs; i++) {
          buffer.rewards[at + i]! += reward[i]! * config.rewardScale;
          const done = terminated[i]! | truncated[i]!;
          // without bootstrapTruncated, a time-limit truncation ends the episode as in CleanRL (no value after it)
          buffer.dones[at + i] = done;
          if (done) {
            episodes++;
            returnSum += finished.baseReturn[i]!;
            intendedSum += finished.intendedReturn[i]!;
            lengthSum += finished.length[i]!;
            proxyCount += finished.pursuedProxy[i]!;
            for (let e = 0; e < E; e++) eventSums[e]! += finished.events[i * E + e]!;
          }
        }
        // what the step teaches the policy's experience loss, read from the observations before and after it
        if (experience) experience.label(obs, actions, env.obs, buffer.dones.subarray(at, at + numEnvs), numEnvs, buffer.labelUnits.subarray(at, at + numEnvs), buffer.labelTargets.subarray(at, at + numEnvs));
      }

      // ── advantages: GAE, bootstrapped from V(s_T) ──
      const next = noGrad(() => policy.forward(new Tensor(env.obs, [numEnvs, obsSize])));
      nextValues.set(next.value.data);
      computeGae(
        { rewards: buffer.rewards, values: buffer.values, dones: buffer.dones, nextValues, numSteps: config.numSteps, numEnvs, gamma: config.gamma, gaeLambda: config.gaeLambda },
        buffer.advantages,
        buffer.returns,
      );

      // ── optimize the policy and value network: minibatch epochs ──
      let clipfracSum = 0;
      let minibatches = 0;
      let experienceSum = 0;
      let experienceCount = 0;
      let stats = { pgLoss: 0, vLoss: 0, entropy: 0, oldApproxKl: 0, approxKl: 0, clipfrac: 0, loss: 0 };
      const indices = buffer.indices;
      for (let i = 0; i < batchSize; i++) indices[i] = i; // CleanRL: b_inds = np.arange(batch_size) every update
      for (let epoch = 0; epoch < config.updateEpochs; epoch++) {
        shuffleRng.shuffle(indices);
        for (let start = 0; start + minibatchSize <= batchSize; start += minibatchSize) {
          minibatch.gather(buffer, start);
          const out = await learner.forward(minibatch.obs);
          stats = ppoLoss(out.logits, out.values, minibatch, minibatchSize, numActions, config, gradLogits, gradValues);
          assertFinite(stats.loss, `the loss (epoch ${epoch + 1})`, update);
          for (let b = 0; b < minibatchSize; b++) {
            gradOut.set(gradLogits.subarray(b * numActions, (b + 1) * numActions), b * (numActions + 1));
            gradOut[b * (numActions + 1) + numActions] = gradValues[b]!;
          }
          await learner.backward(gradOut);
          if (experience) {
            const loss = experience.apply(minibatch.obs, minibatch.labelUnits, minibatch.labelTargets, minibatchSize, true);
            if (!Number.isNaN(loss)) {
              assertFinite(loss, `the ${experience.name} (epoch ${epoch + 1})`, update);
              experienceSum += loss;
              experienceCount++;
            }
          }
          clipGradNorm(params, config.maxGradNorm);
          optimizer.step();
          clipfracSum += stats.clipfrac;
          minibatches++;
        }
        if (config.targetKl !== null && stats.approxKl > config.targetKl) break;
      }
      for (const p of params) {
        const d = p.data;
        for (let j = 0; j < d.length; j++) if (!Number.isFinite(d[j]!)) assertFinite(d[j]!, "a weight", update);
      }

      // ── metrics ──
      let sumY = 0;
      let sumY2 = 0;
      let sumR = 0;
      let sumR2 = 0;
      for (let i = 0; i < batchSize; i++) {
        const y = buffer.returns[i]!;
        const r = y - buffer.values[i]!;
        sumY += y;
        sumY2 += y * y;
        sumR += r;
        sumR2 += r * r;
      }
      const varY = sumY2 / batchSize - (sumY / batchSize) ** 2;
      const varR = sumR2 / batchSize - (sumR / batchSize) ** 2;
      const seconds = (performance.now() - startTime) / 1000;
      const perEpisode = (x: number): number | null => (episodes > 0 ? x / episodes : null);
      last = {
        "charts/learning_rate": optimizer.lr,
        "charts/episodic_return": perEpisode(returnSum),
        "charts/intended_return": perEpisode(intendedSum),
        "charts/episodic_length": perEpisode(lengthSum),
        "charts/proxy_rate": perEpisode(proxyCount),
        "charts/episodes": episodes,
        "charts/SPS": Math.round((globalStep - startStep) / seconds),
        "losses/value_loss": stats.vLoss,
        "losses/policy_loss": stats.pgLoss,
        "losses/entropy": stats.entropy,
        "losses/old_approx_kl": stats.oldApproxKl,
        "losses/approx_kl": stats.approxKl,
        "losses/clipfrac": clipfracSum / Math.max(1, minibatches),
        "losses/explained_variance": varY === 0 ? null : 1 - varR / varY,
        ...(experience ? { [`losses/${experience.name}`]: experienceCount > 0 ? experienceSum / experienceCount : null } : {}),
        ...(curriculum ? { "charts/curriculum_stage": stage } : {}),
      };
      for (let e = 0; e < E; e++) last[`charts/event/${eventNames[e]}`] = perEpisode(eventSums[e]!);
      const stop = (await callbacks.onUpdate?.(last, { update, numIterations, globalStep, totalTimesteps: numIterations * batchSize })) === "stop";

      // ── checkpoint: after a finished, finite update only ──
      if (callbacks.onCheckpoint && ((config.checkpointEvery > 0 && update % config.checkpointEvery === 0) || update === numIterations || stop)) {
        await callbacks.onCheckpoint(state(update), env);
      }
      if (stop) {
        updates = update;
        break;
      }
    }
  } finally {
    await learner.close();
  }
  const seconds = (performance.now() - startTime) / 1000;
  return { updates, globalStep, seconds, stepsPerSecond: (globalStep - startStep) / Math.max(seconds, 1e-9), last };
}
