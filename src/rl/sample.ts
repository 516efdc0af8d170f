// Sampling actions from a batch of categorical policies given as logits, with the log-probabilities PPO
// stores at rollout time. One uniform draw per row from the run's Rng keeps the stream reproducible.
import type { Rng } from "../core/rng.js";

/**
 * For each row b of `logits` ([batch, numActions]) draws a ~ softmax(row) (or the argmax when `greedy`) into
 * `actions[b]`, and log π(a|s) into `logprobs[b]` when given.
 */
export function sampleCategorical(
  logits: Float32Array,
  batch: number,
  numActions: number,
  rng: Rng,
  actions: Int32Array,
  logprobs?: Float32Array,
  greedy = false,
): void {
  for (let b = 0; b < batch; b++) {
    const row = b * numActions;
    let max = Number.NEGATIVE_INFINITY;
    let argmax = 0;
    for (let j = 0; j < numActions; j++) {
      const z = logits[row + j]!;
      if (z > max) {
        max = z;
        argmax = j;
      }
    }
    let sumExp = 0;
    for (let j = 0; j < numActions; j++) sumExp += Math.exp(logits[row + j]! - max);
    let a = argmax;
    if (!greedy) {
      // inverse CDF on the unnormalised weights; the last action takes any rounding remainder
      let r = rng.float() * sumExp;
      a = numActions - 1;
      for (let j = 0; j < numActions; j++) {
        r -= Math.exp(logits[row + j]! - max);
        if (r < 0) {
          a = j;
          break;
        }
      }
    }
    actions[b] = a;
    if (logprobs) logprobs[b] = logits[row + a]! - max - Math.log(sumExp);
  }
}
