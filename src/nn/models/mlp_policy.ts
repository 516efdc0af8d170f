// The default PPO policy: CleanRL's actor-critic MLP on the flattened observation — separate actor and critic
// towers of tanh layers (64-64), orthogonal init with gain √2 on hidden layers, 0.01 on the policy head and 1
// on the value head, zero biases. Hook points after every hidden activation: policy.hook_hidden_i (actor),
// value.hook_hidden_i (critic).
import type { Rng } from "../../core/rng.js";
import type { Tensor } from "../../core/tensor.js";
import { MLP } from "../mlp.js";
import { Module } from "../module.js";
import { type ActorCritic, type ActorCriticOutput, type PolicySpec, registerPolicy } from "./policy.js";

/**
 * One tower (actor or critic): the library's MLP with tanh hidden layers, orthogonal init (gain √2 on hidden layers,
 * `headGain` on the head, zero biases) and CleanRL's hook names. Parameters `layers.i.weight` / `layers.i.bias`, as
 * the towers have always been saved, so older checkpoints load unchanged.
 */
function tower(sizes: readonly number[], rng: Rng, headGain: number): MLP {
  return new MLP(sizes, rng, { activation: "tanh", init: "orthogonal", gain: Math.SQRT2, outputGain: headGain, hooks: "hidden" });
}

export class MlpActorCritic extends Module<Tensor, ActorCriticOutput> implements ActorCritic {
  readonly kind = "mlp";
  readonly obsShape: readonly number[];
  readonly numActions: number;
  readonly spec: PolicySpec;
  /** the actor: observation → action logits */
  readonly policy: MLP;
  /** the critic: observation → state value */
  readonly value: MLP;
  private readonly _obsSize: number;

  constructor(spec: PolicySpec, rng: Rng) {
    super();
    this.spec = { ...spec, obsShape: [...spec.obsShape], hidden: [...spec.hidden] };
    this.obsShape = spec.obsShape;
    this.numActions = spec.numActions;
    this._obsSize = spec.obsShape.reduce((a, b) => a * b, 1);
    // CleanRL initialises the critic first; following it keeps the init stream in the same order
    this.value = tower([this._obsSize, ...spec.hidden, 1], rng, 1);
    this.policy = tower([this._obsSize, ...spec.hidden, spec.numActions], rng, 0.01);
  }

  /** obs [batch, ...obsShape] (or already flat [batch, obsSize]) → logits [batch, A], value [batch, 1] */
  forward(obs: Tensor): ActorCriticOutput {
    const x = obs.shape.length === 2 ? obs : obs.reshape([obs.shape[0]!, this._obsSize]);
    return { logits: this.policy.forward(x), value: this.value.forward(x) };
  }
}

registerPolicy("mlp", "actor-critic MLP on the flattened observation (CleanRL's 64-64 tanh)", [64, 64], (spec, rng) => new MlpActorCritic(spec, rng));
