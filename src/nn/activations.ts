// Activation functions by name, for configs ("tanh", "relu", "gelu"…), and as modules.
import { ConfigError } from "../core/errors.js";
import { gelu, relu, sigmoid, tanh } from "../core/ops/unary.js";
import type { Tensor } from "../core/tensor.js";
import { Module } from "./module.js";

export const ACTIVATIONS = {
  tanh,
  relu,
  sigmoid,
  gelu: (x: Tensor) => gelu(x),
  identity: (x: Tensor) => x,
} as const;

export type ActivationName = keyof typeof ACTIVATIONS;

export function activation(name: string): (x: Tensor) => Tensor {
  const f = (ACTIVATIONS as Record<string, (x: Tensor) => Tensor>)[name];
  if (!f) throw new ConfigError(`unknown activation "${name}"`, `use one of ${Object.keys(ACTIVATIONS).join(", ")}`);
  return f;
}

export class Activation extends Module {
  private readonly fn: (x: Tensor) => Tensor;
  constructor(readonly kind: ActivationName) {
    super();
    this.fn = activation(kind);
  }
  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}
