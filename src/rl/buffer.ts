// The rollout buffer: one PPO batch stored time-major ([steps, envs, …]) in typed arrays allocated once per
// run, so the rollout loop writes into memory it already owns, plus the minibatch gather used by the update.

export class RolloutBuffer {
  /** [steps, envs, obsSize] observations the actions were taken from */
  readonly obs: Float32Array;
  /** [steps, envs] actions taken */
  readonly actions: Int32Array;
  /** [steps, envs] log π_old(a|s) at sampling time */
  readonly logprobs: Float32Array;
  /** [steps, envs] base rewards (what the optimizer sees) */
  readonly rewards: Float32Array;
  /** [steps, envs] 1 when the action ended the episode (terminated or truncated) */
  readonly dones: Float32Array;
  /** [steps, envs] V_old(s) at sampling time */
  readonly values: Float32Array;
  /** [steps, envs] GAE advantages */
  readonly advantages: Float32Array;
  /** [steps, envs] value targets = advantages + values */
  readonly returns: Float32Array;
  /** [steps, envs] the unit the policy's experience loss supervises at each step (−1: none; ExperienceLoss.label) */
  readonly labelUnits: Int32Array;
  /** [steps, envs] that unit's 0/1 target */
  readonly labelTargets: Uint8Array;
  /** batch indices, reshuffled every epoch */
  readonly indices: Int32Array;
  /** one view per sample into `obs`, made once: copying through them allocates nothing per minibatch */
  readonly obsRows: Float32Array[];
  readonly batchSize: number;

  constructor(
    readonly numSteps: number,
    readonly numEnvs: number,
    readonly obsSize: number,
  ) {
    const n = numSteps * numEnvs;
    this.batchSize = n;
    this.obs = new Float32Array(n * obsSize);
    this.actions = new Int32Array(n);
    this.logprobs = new Float32Array(n);
    this.rewards = new Float32Array(n);
    this.dones = new Float32Array(n);
    this.values = new Float32Array(n);
    this.advantages = new Float32Array(n);
    this.returns = new Float32Array(n);
    this.labelUnits = new Int32Array(n).fill(-1);
    this.labelTargets = new Uint8Array(n);
    this.indices = new Int32Array(n);
    for (let i = 0; i < n; i++) this.indices[i] = i;
    this.obsRows = Array.from({ length: n }, (_, i) => this.obs.subarray(i * obsSize, (i + 1) * obsSize));
  }

  /** The obs slice of step t (all envs), to copy the env's observation buffer into. */
  obsAt(t: number): Float32Array {
    const stride = this.numEnvs * this.obsSize;
    return this.obs.subarray(t * stride, (t + 1) * stride);
  }
}

/** A minibatch gathered from the buffer into arrays reused across gradient steps. */
export class Minibatch {
  readonly obs: Float32Array;
  readonly actions: Int32Array;
  readonly logprobs: Float32Array;
  readonly advantages: Float32Array;
  readonly returns: Float32Array;
  readonly values: Float32Array;
  readonly labelUnits: Int32Array;
  readonly labelTargets: Uint8Array;

  constructor(
    readonly size: number,
    readonly obsSize: number,
  ) {
    this.obs = new Float32Array(size * obsSize);
    this.actions = new Int32Array(size);
    this.logprobs = new Float32Array(size);
    this.advantages = new Float32Array(size);
    this.returns = new Float32Array(size);
    this.values = new Float32Array(size);
    this.labelUnits = new Int32Array(size);
    this.labelTargets = new Uint8Array(size);
  }

  /** Copies the samples `buffer.indices[start .. start+size)` into this minibatch. */
  gather(buffer: RolloutBuffer, start: number): void {
    const d = this.obsSize;
    const rows = buffer.obsRows;
    const dst = this.obs;
    for (let j = 0; j < this.size; j++) {
      const i = buffer.indices[start + j]!;
      dst.set(rows[i]!, j * d);
      this.actions[j] = buffer.actions[i]!;
      this.logprobs[j] = buffer.logprobs[i]!;
      this.advantages[j] = buffer.advantages[i]!;
      this.returns[j] = buffer.returns[i]!;
      this.values[j] = buffer.values[i]!;
      this.labelUnits[j] = buffer.labelUnits[i]!;
      this.labelTargets[j] = buffer.labelTargets[i]!;
    }
  }
}
