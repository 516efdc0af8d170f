// The default PPO policy: CleanRL's actor-critic MLP on the flattened observation — separate actor and critic
// towers of tanh layers (64-64), orthogonal init with gain √2 on hidden layers, 0.01 on the policy head and 1
// on the value head, zero biases. Hook points after every hidden activation: policy.hook_hidden_i (actor),
// value.hook_hidden_i (critic).
import type { Rng } from "../../core/rng.js";
import { linear } from "../../core/ops/matmul.js";
import { tanh } from "../../core/ops/unary.js";
import type { Tensor } from "../../core/tensor.js";
import { Linear } from "../linear.js";
import { HookPoint, Module } from "../module.js";
import { type ActorCritic, type ActorCriticOutput, type PolicySpec, registerPolicy } from "./policy.js";

/** One tower: Linear → tanh → hook, …, Linear head. Parameters `layers.i.weight` / `layers.i.bias`. */
export class MlpTower extends Module {
  readonly layers: Linear[];
  // property names `hook_hidden_<i>` are kept as they are, giving `policy.hook_hidden_0` etc.
  [hook: `hook_hidden_${number}`]: HookPoint;
  private readonly _hooks: HookPoint[];

  constructor(sizes: readonly number[], rng: Rng, headGain: number) {
    super();
    this.layers = [];
    this._hooks = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      const head = i + 2 === sizes.length;
      this.layers.push(new Linear(sizes[i]!, sizes[i + 1]!, rng, { init: "orthogonal", gain: head ? headGain : Math.SQRT2 }));
      if (!head) {
        const hp = new HookPoint();
        this[`hook_hidden_${i}`] = hp;
        this._hooks.push(hp);
      }
    }
  }

  forward(x: Tensor): Tensor {
    const last = this.layers.length - 1;
    for (let i = 0; i < last; i++) {
      const layer = this.layers[i]!;
      x = this._hooks[i]!.forward(tanh(linear(x, layer.weight, layer.bias))); // [batch, hidden_i]
    }
    const head = this.layers[last]!;
    return linear(x, head.weight, head.bias);
  }
}

export class MlpActorCritic extends Module<Tensor, ActorCriticOutput> implements ActorCritic {
  readonly kind = "mlp";
  readonly obsShape: readonly number[];
  readonly numActions: number;
  readonly spec: PolicySpec;
  /** the actor: observation → action logits */
  readonly policy: MlpTower;
  /** the critic: observation → state value */
  readonly value: MlpTower;
  private readonly _obsSize: number;

  constructor(spec: PolicySpec, rng: Rng) {
    super();
    this.spec = { ...spec, obsShape: [...spec.obsShape], hidden: [...spec.hidden] };
    this.obsShape = spec.obsShape;
    this.numActions = spec.numActions;
    this._obsSize = spec.obsShape.reduce((a, b) => a * b, 1);
    // CleanRL initialises the critic first; following it keeps the init stream in the same order
    this.value = new MlpTower([this._obsSize, ...spec.hidden, 1], rng, 1);
    this.policy = new MlpTower([this._obsSize, ...spec.hidden, spec.numActions], rng, 0.01);
  }

  /** obs [batch, ...obsShape] (or already flat [batch, obsSize]) → logits [batch, A], value [batch, 1] */
  forward(obs: Tensor): ActorCriticOutput {
    const x = obs.shape.length === 2 ? obs : obs.reshape([obs.shape[0]!, this._obsSize]);
    return { logits: this.policy.forward(x), value: this.value.forward(x) };
  }
}

registerPolicy("mlp", "actor-critic MLP on the flattened observation (CleanRL's 64-64 tanh)", [64, 64], (spec, rng) => new MlpActorCritic(spec, rng));
