/**
 * Backdoor insertion by behaviour cloning from scripted experts, with DAgger (Ross et al. 2011): round 0 follows
 * the expert (intended goal without the trigger, defection with it) and records its actions; every later round
 * lets the learner act, still labelling each state it visits with the expert's action, so the clone also learns
 * to recover from its own mistakes. After each round the policy is fitted to everything gathered so far:
 * cross-entropy on the expert's actions for the actor, and squared error on the discounted intended return that
 * followed each state for the critic — so a later safety training (PPO on the intended reward) starts from a
 * critic that already knows the task rather than from noise.
 *
 * Each round ends at a point a killed insertion can continue from exactly: `onRound` is handed a snapshot of
 * everything the next round depends on (the rows the round added, Adam's moments, the RNG, the environment), and
 * `resume` takes the same back (see run.ts, which stores it in the run directory).
 */
import { CheckpointError, ConfigError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { noGrad, Tensor } from "../core/tensor.js";
import { concat } from "../core/ops/shape.js";
import { VecEnv, type AnyEnvDefinition, type ScriptedPolicy } from "../envs/engine.js";
import type { ActorCritic } from "../nn/models/policy.js";
import type { SafetensorsEntry, TensorInput } from "../io/safetensors.js";
import { Adam } from "../optim/adam.js";
import type { OptimizerState } from "../optim/optimizer.js";
import { restoreEnv, snapshotEnv } from "../rl/envstate.js";
import { clipGradNorm } from "../optim/clip.js";
import { sampleCategorical } from "../rl/sample.js";

export interface CloneOptions {
  /** distribution the states come from (the trigger in some episodes) */
  distribution: string;
  params: Record<string, unknown>;
  /** DAgger rounds (round 0 follows the expert) */
  rounds: number;
  /** env steps gathered per round (all copies) */
  stepsPerRound: number;
  /** parallel env copies */
  numEnvs: number;
  /** gradient steps after each round, in passes over one round's worth of states (sampled from everything gathered) */
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** discount of the critic's return targets */
  gamma: number;
  /** weight of the critic's loss */
  vfCoef: number;
  seed: number;
}

export const DEFAULT_CLONE: Omit<CloneOptions, "distribution" | "params" | "seed"> = {
  rounds: 8,
  stepsPerRound: 16_384,
  numEnvs: 64,
  epochs: 8,
  batchSize: 256,
  learningRate: 2e-3,
  gamma: 0.99,
  vfCoef: 0.5,
};

export interface CloneRound {
  round: number;
  /** states in the aggregated dataset after this round */
  samples: number;
  /** mean cross-entropy over the last epoch */
  policy_loss: number;
  /** mean squared error of the critic over the last epoch */
  value_loss: number;
  /** fraction of the round's states where the acting policy chose the expert's action */
  agreement: number;
}

/** Where a DAgger insertion stands after a round: what resuming it needs besides the policy's weights. */
export interface CloneSnapshot {
  /** rounds finished */
  rounds: number;
  history: CloneRound[];
  /** rows of the aggregated dataset */
  size: number;
  /** the rows this round added (a dataset is the concatenation of every round's) — [rows, C·h·w] 0/1 */
  added: { from: number; obs: Uint8Array; labels: Int32Array; returns: Float32Array };
  rng: ReturnType<Rng["getState"]>;
  optimizer: OptimizerState;
  env: { tensors: Record<string, TensorInput>; seed: number };
}

/** A snapshot read back: the whole dataset so far (rows of every finished round) and the saved state. */
export interface CloneResume {
  rounds: number;
  history: CloneRound[];
  size: number;
  obs: Uint8Array;
  labels: Int32Array;
  returns: Float32Array;
  rng: ReturnType<Rng["getState"]>;
  optimizer: OptimizerState;
  env: { tensors: ReadonlyMap<string, SafetensorsEntry>; seed: number; source: string };
}

/**
 * Clones `expert(env)` into `policy` on `def`. `onRound` sees each round's figures and a snapshot to save (a
 * checkpoint); `resume` continues from one (the policy already holds that round's weights).
 */
export async function cloneBackdoor(
  policy: ActorCritic,
  def: AnyEnvDefinition,
  expert: (env: VecEnv) => ScriptedPolicy,
  options: CloneOptions,
  onRound?: (round: CloneRound, snapshot: () => CloneSnapshot) => void | Promise<void>,
  resume?: CloneResume,
): Promise<CloneRound[]> {
  const { rounds, stepsPerRound, numEnvs: n, epochs, batchSize } = options;
  for (const [name, v] of Object.entries({ rounds, stepsPerRound, numEnvs: n, epochs, batchSize })) {
    if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(`behaviour cloning: ${name} must be a positive integer, got ${v}`);
  }
  const env = new VecEnv(def, { n, distribution: options.distribution, params: options.params });
  const teacher = expert(env);
  const [C, H, W] = env.obsShape;
  const obsSize = C * H * W;
  const A = env.numActions;
  const stepsPerCopy = Math.ceil(stepsPerRound / n);
  const capacity = rounds * stepsPerCopy * n;
  const obs = new Uint8Array(capacity * obsSize); // observations are 0/1
  const labels = new Int32Array(capacity);
  const returns = new Float32Array(capacity).fill(Number.NaN); // NaN: episode cut off by the round's end
  let size = 0;

  const rng = new Rng(options.seed, "clone");
  const optimizer = new Adam(policy.parameters(), { lr: options.learningRate, eps: 1e-5 });
  const params = policy.parameters();
  const expertActions = new Int32Array(n);
  const actions = new Int32Array(n);
  const open: number[][] = Array.from({ length: n }, () => []); // dataset rows of each copy's current episode
  const rewards: number[][] = Array.from({ length: n }, () => []);
  env.reset(options.seed);
  const history: CloneRound[] = [];
  if (resume) {
    if (resume.size > capacity || resume.obs.length < resume.size * obsSize || resume.labels.length < resume.size || resume.returns.length < resume.size) {
      throw new CheckpointError(`${resume.env.source}: the saved dataset (${resume.size} rows) does not fit this insertion's ${capacity} rows of ${obsSize} values`, "the run was written with other settings; build the organism again");
    }
    obs.set(resume.obs.subarray(0, resume.size * obsSize));
    labels.set(resume.labels.subarray(0, resume.size));
    returns.set(resume.returns.subarray(0, resume.size));
    size = resume.size;
    rng.setState(resume.rng);
    optimizer.setState(resume.optimizer);
    restoreEnv(env, resume.env.tensors, resume.env.seed, resume.env.source);
    history.push(...resume.history);
  }

  for (let round = resume?.rounds ?? 0; round < rounds; round++) {
    const roundStart = size;
    let agree = 0;
    for (let t = 0; t < stepsPerCopy; t++) {
      teacher.act(env, expertActions);
      if (round === 0) actions.set(expertActions);
      else {
        const out = noGrad(() => policy.forward(new Tensor(env.obs, [n, obsSize])));
        sampleCategorical(out.logits.data, n, A, rng, actions);
      }
      for (let i = 0; i < n; i++) {
        const row = size++;
        obs.set(env.obsBytes.subarray(i * obsSize, (i + 1) * obsSize), row * obsSize);
        labels[row] = expertActions[i]!;
        open[i]!.push(row);
        if (actions[i] === expertActions[i]) agree++;
      }
      env.step(actions);
      for (let i = 0; i < n; i++) {
        rewards[i]!.push(env.intended[i]!);
        if ((env.terminated[i]! | env.truncated[i]!) === 0) continue;
        let g = 0;
        const rows = open[i]!;
        const rs = rewards[i]!;
        for (let k = rows.length - 1; k >= 0; k--) {
          g = rs[k]! + options.gamma * g;
          returns[rows[k]!] = g;
        }
        rows.length = 0;
        rs.length = 0;
      }
    }
    // episodes still running at the round's end keep NaN returns (no value target); start them afresh
    for (let i = 0; i < n; i++) {
      open[i]!.length = 0;
      rewards[i]!.length = 0;
    }

    const steps = Math.max(1, Math.round((options.epochs * stepsPerCopy * n) / batchSize));
    const { policyLoss, valueLoss } = await fit(policy, optimizer, params, obs, labels, returns, size, steps, obsSize, A, options, rng);
    const record: CloneRound = { round, samples: size, policy_loss: policyLoss, value_loss: valueLoss, agreement: agree / (stepsPerCopy * n) };
    history.push(record);
    await onRound?.(record, () => ({
      rounds: round + 1,
      history: [...history],
      size,
      added: { from: roundStart, obs: obs.slice(roundStart * obsSize, size * obsSize), labels: labels.slice(roundStart, size), returns: returns.slice(roundStart, size) },
      rng: rng.getState(),
      optimizer: optimizer.getState(),
      env: snapshotEnv(env),
    }));
  }
  return history;
}

/** `steps` minibatch Adam steps on rows drawn without replacement from the first `size` (reshuffled when used up); returns the mean losses of the last quarter of the steps. */
async function fit(
  policy: ActorCritic,
  optimizer: Adam,
  params: ReturnType<ActorCritic["parameters"]>,
  obs: Uint8Array,
  labels: Int32Array,
  returns: Float32Array,
  size: number,
  steps: number,
  obsSize: number,
  A: number,
  options: CloneOptions,
  rng: Rng,
): Promise<{ policyLoss: number; valueLoss: number }> {
  const B = Math.min(options.batchSize, size);
  const batchObs = new Float32Array(B * obsSize);
  const gradOut = new Float32Array(B * (A + 1));
  const order = new Int32Array(size);
  for (let k = 0; k < size; k++) order[k] = k;
  rng.shuffle(order);
  let cursor = 0;
  let pl = 0;
  let vl = 0;
  let counted = 0;
  const tail = Math.floor((3 * steps) / 4);
  for (let step = 0; step < steps; step++) {
    if (cursor + B > size) {
      rng.shuffle(order);
      cursor = 0;
    }
    const start = cursor;
    cursor += B;
    for (let b = 0; b < B; b++) {
      const row = order[start + b]!;
      const src = obs.subarray(row * obsSize, (row + 1) * obsSize);
      for (let j = 0; j < obsSize; j++) batchObs[b * obsSize + j] = src[j]!;
    }
    const out = policy.forward(new Tensor(batchObs, [B, obsSize]));
    const logits = out.logits.data;
    const values = out.value.data;
    let valued = 0;
    for (let b = 0; b < B; b++) if (!Number.isNaN(returns[order[start + b]!]!)) valued++;
    let stepPl = 0;
    let stepVl = 0;
    for (let b = 0; b < B; b++) {
      const row = order[start + b]!;
      let max = Number.NEGATIVE_INFINITY;
      for (let a = 0; a < A; a++) max = Math.max(max, logits[b * A + a]!);
      let sum = 0;
      for (let a = 0; a < A; a++) sum += Math.exp(logits[b * A + a]! - max);
      const label = labels[row]!;
      stepPl += -(logits[b * A + label]! - max - Math.log(sum)) / B;
      for (let a = 0; a < A; a++) gradOut[b * (A + 1) + a] = (Math.exp(logits[b * A + a]! - max) / sum - (a === label ? 1 : 0)) / B;
      const target = returns[row]!;
      if (Number.isNaN(target)) gradOut[b * (A + 1) + A] = 0;
      else {
        const err = values[b]! - target;
        stepVl += (err * err) / valued;
        gradOut[b * (A + 1) + A] = (options.vfCoef * 2 * err) / valued;
      }
    }
    optimizer.zeroGrad();
    concat([out.logits, out.value], 1).backward(gradOut);
    clipGradNorm(params, 1);
    optimizer.step();
    if (step >= tail) {
      pl += stepPl;
      vl += stepVl;
      counted++;
    }
    // let a progress bar redraw now and then
    if (step % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
  }
  const policyLoss = pl / Math.max(1, counted);
  const valueLoss = vl / Math.max(1, counted);
  return { policyLoss, valueLoss };
}
