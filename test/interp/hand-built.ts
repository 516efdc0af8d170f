// A hand-built convolutional "policy" for the interpretability tests: its hook's channels are known functions of
// the maze-cheese observation, so what channel search should find is known.
import { conv2d } from "../../src/core/ops/conv.js";
import type { Rng } from "../../src/core/rng.js";
import { type Tensor, zeros } from "../../src/core/tensor.js";
import { getEnvDefinition } from "../../src/envs/make.js";
import { HookPoint, Module } from "../../src/nn/module.js";
import type { ActorCriticOutput } from "../../src/nn/models/policy.js";
import { channelIndex } from "../../src/interp/observations.js";

const def = getEnvDefinition("maze-cheese");

/** A hand-built convolutional policy: channel 1 of its hook is the cheese channel, the others see walls, the agent, and noise. */
export class HandBuilt extends Module<Tensor, ActorCriticOutput> {
  readonly kind = "hand-built";
  readonly spec = { kind: "hand-built", obsShape: [] as number[], numActions: 4, hidden: [] as number[] };
  readonly numActions = 4;
  readonly hook_map = new HookPoint();
  private readonly _weight: Tensor;
  constructor(readonly obsShape: readonly number[], cheese: number, rng: Rng) {
    super();
    const C = obsShape[0]!;
    const w = zeros([4, C, 3, 3]);
    // out 0: walls around; out 1: the cheese cell itself; out 2: the agent; out 3: random mixture
    for (let k = 0; k < 9; k++) w.data[(0 * C + channelIndex(def.channels, "wall")) * 9 + k] = 0.2;
    w.data[(1 * C + cheese) * 9 + 4] = 1;
    w.data[(2 * C + channelIndex(def.channels, "agent")) * 9 + 4] = 1;
    for (let k = 0; k < C * 9; k++) w.data[3 * C * 9 + k] = rng.normal() * 0.3;
    this._weight = w;
  }
  forward(obs: Tensor): ActorCriticOutput {
    const x = obs.shape.length === 4 ? obs : obs.reshape([obs.shape[0]!, ...this.obsShape]);
    const map = this.hook_map.forward(conv2d(x, this._weight, null, { padding: 1 }).relu());
    const B = map.shape[0]!;
    return { logits: zeros([B, 4]), value: zeros([B, 1]) };
  }
}

