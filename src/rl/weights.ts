// A finding about MLP agents on grid observations: first-layer input columns of a channel (the goal's) stay
// exactly at their initial values for every observation cell where that channel was never lit during training.
// Such an agent cannot perceive the goal there, so "misgeneralization" at those cells counts untrained weights,
// not a learned goal — the reason spatial environments default to convolutional agents. This compares a trained
// MLP's first layers with the same run's initial weights (rebuilt from its config and seed).
import { MlpActorCritic } from "../nn/models/mlp_policy.js";
import type { ActorCritic } from "../nn/models/policy.js";
import { buildRun, type RunConfig } from "./run.js";

export interface UntrainedColumns {
  channel: string;
  /** observation cells of the channel */
  cells: number;
  /** cells whose first-layer column is exactly at its initial value, in the actor and in the critic */
  actor_unchanged: number;
  critic_unchanged: number;
  /** which cells (row-major in the observation window), actor; for pictures */
  actor_unchanged_cells: number[];
}

/**
 * Counts the cells of `channel` whose first-layer weights (every hidden unit's) are unchanged from init, for a
 * trained MLP policy of `config`. Returns null for other model kinds (a convolution shares its weights across
 * cells, so no cell has weights of its own).
 */
export function untrainedChannelColumns(config: RunConfig, trained: ActorCritic, channel: string): UntrainedColumns | null {
  if (!(trained instanceof MlpActorCritic)) return null;
  const { env, policy: init } = buildRun(config);
  const c = env.channels.indexOf(channel);
  if (c < 0) throw new RangeError(`${config.env} has no observation channel "${channel}" (channels: ${env.channels.join(", ")})`);
  const cells = env.viewHeight * env.viewWidth;
  const fresh = init as MlpActorCritic;
  const unchanged = (w: Float32Array, w0: Float32Array, inFeatures: number): number[] => {
    const out: number[] = [];
    const rows = w.length / inFeatures;
    for (let p = 0; p < cells; p++) {
      const col = c * cells + p;
      let same = true;
      for (let r = 0; r < rows && same; r++) same = w[r * inFeatures + col] === w0[r * inFeatures + col];
      if (same) out.push(p);
    }
    return out;
  };
  const a = trained.policy.layers[0]!;
  const v = trained.value.layers[0]!;
  const actor = unchanged(a.weight.data, fresh.policy.layers[0]!.weight.data, a.inFeatures);
  const critic = unchanged(v.weight.data, fresh.value.layers[0]!.weight.data, v.inFeatures);
  return { channel, cells, actor_unchanged: actor.length, critic_unchanged: critic.length, actor_unchanged_cells: actor };
}
