// A small convolutional actor-critic for the grid channels: a reduced IMPALA network (Espeholt et al. 2018, as
// in Procgen/CoinRun agents) scaled to our tiny grids — one conv stage without pooling (levels are only a few
// cells high), one residual block, a dense layer, then a policy head and a value head on the shared trunk.
// Orthogonal init: gain √2 on the trunk, 0.01 on the policy head, 1 on the value head, zero biases.
// Hook points: trunk.hook_hidden_0 (conv stage), trunk.hook_hidden_1 (residual block), trunk.hook_hidden_2
// (dense), all after their ReLU.
import type { Rng } from "../../core/rng.js";
import { add } from "../../core/ops/elementwise.js";
import { linear } from "../../core/ops/matmul.js";
import { relu } from "../../core/ops/unary.js";
import type { Tensor } from "../../core/tensor.js";
import { Conv2d } from "../layers.js";
import { Linear } from "../linear.js";
import { HookPoint, Module } from "../module.js";
import { type ActorCritic, type ActorCriticOutput, type PolicySpec, registerPolicy } from "./policy.js";

/** conv → relu, then a residual block relu(x + conv(relu(conv(x)))), then flatten → dense → relu. */
export class ImpalaTrunk extends Module {
  readonly conv: Conv2d;
  readonly res0: Conv2d;
  readonly res1: Conv2d;
  readonly dense: Linear;
  readonly hook_hidden_0 = new HookPoint();
  readonly hook_hidden_1 = new HookPoint();
  readonly hook_hidden_2 = new HookPoint();

  constructor(channels: number, height: number, width: number, convChannels: number, denseSize: number, rng: Rng) {
    super();
    const init = { init: "orthogonal" as const, gain: Math.SQRT2, padding: 1 };
    this.conv = new Conv2d(channels, convChannels, 3, rng, init);
    this.res0 = new Conv2d(convChannels, convChannels, 3, rng, init);
    this.res1 = new Conv2d(convChannels, convChannels, 3, rng, init);
    this.dense = new Linear(convChannels * height * width, denseSize, rng, { init: "orthogonal", gain: Math.SQRT2 });
  }

  forward(obs: Tensor): Tensor {
    const x = this.hook_hidden_0.forward(relu(this.conv.forward(obs))); // [batch, conv, h, w]
    const r = this.res1.forward(relu(this.res0.forward(x)));
    const y = this.hook_hidden_1.forward(relu(add(x, r))); // [batch, conv, h, w]
    const flat = y.reshape([y.shape[0]!, y.size / y.shape[0]!]);
    return this.hook_hidden_2.forward(relu(linear(flat, this.dense.weight, this.dense.bias))); // [batch, dense]
  }
}

export class CnnActorCritic extends Module<Tensor, ActorCriticOutput> implements ActorCritic {
  readonly kind = "cnn";
  readonly obsShape: readonly number[];
  readonly numActions: number;
  readonly spec: PolicySpec;
  readonly trunk: ImpalaTrunk;
  /** action logits from the trunk's features */
  readonly policy: Linear;
  /** state value from the trunk's features */
  readonly value: Linear;

  constructor(spec: PolicySpec, rng: Rng) {
    super();
    if (spec.obsShape.length !== 3) throw new RangeError(`cnn policy needs [channels, height, width] observations, got [${spec.obsShape.join(", ")}]`);
    const [c, h, w] = spec.obsShape as [number, number, number];
    const [convChannels = 16, denseSize = 128] = spec.hidden;
    this.spec = { ...spec, obsShape: [...spec.obsShape], hidden: [convChannels, denseSize] };
    this.obsShape = spec.obsShape;
    this.numActions = spec.numActions;
    this.trunk = new ImpalaTrunk(c, h, w, convChannels, denseSize, rng);
    this.policy = new Linear(denseSize, spec.numActions, rng, { init: "orthogonal", gain: 0.01 });
    this.value = new Linear(denseSize, 1, rng, { init: "orthogonal", gain: 1 });
  }

  /** obs [batch, C, h, w] (or flat [batch, C·h·w]) → logits [batch, A], value [batch, 1] */
  forward(obs: Tensor): ActorCriticOutput {
    const x = obs.shape.length === 4 ? obs : obs.reshape([obs.shape[0]!, ...this.obsShape]);
    const features = this.trunk.forward(x); // [batch, dense]
    return { logits: this.policy.forward(features), value: this.value.forward(features) };
  }
}

registerPolicy("cnn", "reduced IMPALA CNN on the grid channels (conv 16, one residual block, dense 128)", [16, 128], (spec, rng) => new CnnActorCritic(spec, rng));
