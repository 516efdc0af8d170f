// Generalized advantage estimation (Schulman et al. 2016) over a rollout stored time-major, [steps, envs].
// `dones[t·n + e]` = 1 when the action at step t ended copy e's episode (the next observation is a fresh
// episode), so the value after step t is not bootstrapped. This is CleanRL's recursion with its `dones`
// shifted by one step, which is what a SAME_STEP auto-resetting engine reports.

export interface GaeInput {
  /** [steps, envs] rewards r_t */
  rewards: Float32Array;
  /** [steps, envs] value estimates V(s_t) from the rollout */
  values: Float32Array;
  /** [steps, envs] 1 when the episode ended at step t, else 0 */
  dones: Float32Array;
  /** [envs] V(s_T) of the observation after the last step */
  nextValues: Float32Array;
  numSteps: number;
  numEnvs: number;
  gamma: number;
  gaeLambda: number;
}

/** Writes advantages A_t and returns A_t + V(s_t) (the value targets) into the given [steps, envs] arrays. */
export function computeGae(input: GaeInput, advantages: Float32Array, returns: Float32Array): void {
  const { rewards, values, dones, nextValues, numSteps, numEnvs, gamma, gaeLambda } = input;
  for (let e = 0; e < numEnvs; e++) {
    let lastGaeLam = 0;
    for (let t = numSteps - 1; t >= 0; t--) {
      const i = t * numEnvs + e;
      const nextNonTerminal = 1 - dones[i]!;
      const nextValue = t === numSteps - 1 ? nextValues[e]! : values[i + numEnvs]!;
      const delta = rewards[i]! + gamma * nextValue * nextNonTerminal - values[i]!;
      lastGaeLam = delta + gamma * gaeLambda * nextNonTerminal * lastGaeLam;
      advantages[i] = lastGaeLam;
      returns[i] = lastGaeLam + values[i]!;
    }
  }
}
