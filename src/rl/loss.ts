// The PPO loss head, fused: from the policy's logits and values on a minibatch it computes CleanRL's loss
//   loss = pg_loss − entCoef · entropy + vfCoef · v_loss
// and its exact gradient with respect to the logits and the values, in one pass over typed arrays. The
// network then back-propagates these two gradients; the ~20 small elementwise ops of the loss never reach the
// autograd tape. Ties follow PyTorch (torch.max splits the gradient evenly, torch.clamp passes it inside
// its closed range), so gradients match CleanRL's autograd to float rounding; test/rl/loss.test.ts checks both
// against values computed with PyTorch.

export interface PpoLossCoefs {
  clipCoef: number;
  clipVloss: boolean;
  entCoef: number;
  vfCoef: number;
  normAdv: boolean;
}

export interface PpoLossBatch {
  /** [B] actions taken */
  actions: Int32Array;
  /** [B] log π_old(a|s) */
  logprobs: Float32Array;
  /** [B] GAE advantages (normalised here when normAdv) */
  advantages: Float32Array;
  /** [B] value targets */
  returns: Float32Array;
  /** [B] V_old(s) */
  values: Float32Array;
}

/** The loss terms of one minibatch, with CleanRL's names in the comments. */
export interface PpoLossStats {
  /** losses/policy_loss */
  pgLoss: number;
  /** losses/value_loss */
  vLoss: number;
  /** losses/entropy */
  entropy: number;
  /** losses/old_approx_kl = mean(−log r) */
  oldApproxKl: number;
  /** losses/approx_kl = mean((r − 1) − log r) */
  approxKl: number;
  /** fraction of samples with |r − 1| > clipCoef */
  clipfrac: number;
  /** the total loss that was differentiated */
  loss: number;
}

/**
 * Computes the PPO loss of a minibatch of `size` samples and writes d loss / d logits ([B, numActions]) into
 * `gradLogits` and d loss / d newValues ([B]) into `gradValues`.
 */
export function ppoLoss(
  logits: Float32Array,
  newValues: Float32Array,
  batch: PpoLossBatch,
  size: number,
  numActions: number,
  coefs: PpoLossCoefs,
  gradLogits: Float32Array,
  gradValues: Float32Array,
): PpoLossStats {
  const { actions, logprobs, advantages, returns, values } = batch;
  const { clipCoef, entCoef, vfCoef } = coefs;
  const B = size;
  const A = numActions;

  // advantage normalisation with PyTorch's unbiased std, as CleanRL does per minibatch
  let advMean = 0;
  let advScale = 1;
  if (coefs.normAdv) {
    for (let i = 0; i < B; i++) advMean += advantages[i]!;
    advMean /= B;
    let ss = 0;
    for (let i = 0; i < B; i++) ss += (advantages[i]! - advMean) ** 2;
    advScale = 1 / (Math.sqrt(ss / (B - 1)) + 1e-8);
  }

  // log-probabilities of the current row, computed once and reused by the entropy and the gradient
  const logp = new Float64Array(A);
  let pgSum = 0;
  let vSum = 0;
  let entSum = 0;
  let oldKlSum = 0;
  let klSum = 0;
  let clipped = 0;
  const invB = 1 / B;
  for (let i = 0; i < B; i++) {
    const row = i * A;
    // log-softmax of the row, stable
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < A; j++) max = Math.max(max, logits[row + j]!);
    let sumExp = 0;
    for (let j = 0; j < A; j++) sumExp += Math.exp(logits[row + j]! - max);
    const logZ = max + Math.log(sumExp);
    let entropy = 0;
    for (let j = 0; j < A; j++) {
      const lp = logits[row + j]! - logZ;
      logp[j] = lp;
      entropy -= Math.exp(lp) * lp;
    }
    entSum += entropy;

    const a = actions[i]!;
    const newLogprob = logits[row + a]! - logZ;
    const logratio = newLogprob - logprobs[i]!;
    const ratio = Math.exp(logratio);
    oldKlSum += -logratio;
    klSum += ratio - 1 - logratio;
    if (Math.abs(ratio - 1) > clipCoef) clipped++;

    const adv = coefs.normAdv ? (advantages[i]! - advMean) * advScale : advantages[i]!;
    const clippedRatio = Math.min(Math.max(ratio, 1 - clipCoef), 1 + clipCoef);
    const pg1 = -adv * ratio;
    const pg2 = -adv * clippedRatio;
    pgSum += Math.max(pg1, pg2);
    // d max(pg1, pg2) / d ratio: pg1's branch when it wins; inside the clip range both branches carry −adv
    // (PyTorch halves a tie between two equal slopes); the clipped branch is flat outside the range
    const inside = ratio >= 1 - clipCoef && ratio <= 1 + clipCoef;
    const dPgdRatio = inside || pg1 > pg2 ? -adv : 0;
    // d pg / d log π(a|s) = dPg/dRatio · ratio; d log π(a|s) / d z_j = [j = a] − p_j
    const gLogprob = dPgdRatio * ratio * invB;
    for (let j = 0; j < A; j++) {
      const lp = logp[j]!;
      const p = Math.exp(lp);
      // entropy term −entCoef · H: dH/dz_j = −p_j (log p_j + H)
      gradLogits[row + j] = gLogprob * ((j === a ? 1 : 0) - p) + entCoef * invB * p * (lp + entropy);
    }

    const v = newValues[i]!;
    const ret = returns[i]!;
    const unclipped = (v - ret) ** 2;
    let dV: number;
    if (coefs.clipVloss) {
      const vOld = values[i]!;
      const vClipped = vOld + Math.min(Math.max(v - vOld, -clipCoef), clipCoef);
      const clippedLoss = (vClipped - ret) ** 2;
      vSum += Math.max(unclipped, clippedLoss);
      // the clipped branch is flat in v outside the clip range and identical to the unclipped one inside it
      dV = unclipped >= clippedLoss ? 2 * (v - ret) : 0;
    } else {
      vSum += unclipped;
      dV = 2 * (v - ret);
    }
    gradValues[i] = vfCoef * 0.5 * dV * invB;
  }

  const pgLoss = pgSum * invB;
  const vLoss = 0.5 * vSum * invB;
  const entropy = entSum * invB;
  return {
    pgLoss,
    vLoss,
    entropy,
    oldApproxKl: oldKlSum * invB,
    approxKl: klSum * invB,
    clipfrac: clipped * invB,
    loss: pgLoss - entCoef * entropy + vfCoef * vLoss,
  };
}
