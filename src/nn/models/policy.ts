// Actor-critic policies for PPO: the interface the trainer and evaluator use, and the registry of model kinds
// (`--model mlp|cnn|planner`). A policy maps a batch of observations to action logits and state values; every hidden
// activation passes through a named hook point (`policy.hook_hidden_0`, `value.hook_hidden_0`, …).
import { ConfigError } from "../../core/errors.js";
import type { Rng } from "../../core/rng.js";
import type { Tensor } from "../../core/tensor.js";
import type { Module } from "../module.js";

export interface ActorCriticOutput {
  /** [batch, numActions] unnormalised action log-probabilities */
  logits: Tensor;
  /** [batch, 1] state value estimates */
  value: Tensor;
}

/** What PPO and evaluation need from a policy network. */
export interface ActorCritic extends Module<Tensor, ActorCriticOutput> {
  /** the model kind, as in `--model` */
  readonly kind: string;
  /** one observation's shape, e.g. [channels, height, width] */
  readonly obsShape: readonly number[];
  readonly numActions: number;
  /** the constructor options, saved with checkpoints so `mesa eval` can rebuild the model */
  readonly spec: PolicySpec;
  /** a loss it learns beside PPO's from its own experience (the planner's transition loss), when it has one */
  readonly experienceLoss?: ExperienceLoss;
}

/**
 * A supervised loss a policy learns from its own rollouts beside PPO's objective: PPO has it label every rollout
 * step from the observations before and after (one output unit per step and a 0/1 target, or none), and adds its
 * gradient to each minibatch's before the optimizer steps. The planner with learned transitions supervises the
 * passability of the cell each move tried to enter by whether the agent's cell changed.
 */
export interface ExperienceLoss {
  /** the metric it is reported under (`losses/<name>`) */
  readonly name: string;
  /**
   * Labels n steps: obs and nextObs [n, obsSize] (the observation each action was taken from and the one after
   * it), actions [n], done [n] (1 where the step ended the episode: nextObs is then the next episode's start).
   * Writes each step's supervised unit into unit (−1: the step teaches nothing) and its target into target.
   */
  label(obs: Float32Array, actions: Int32Array, nextObs: Float32Array, done: Float32Array, n: number, unit: Int32Array, target: Uint8Array): void;
  /**
   * The loss of n labelled samples (the mean over those with a unit ≥ 0; NaN when none has one), its gradient
   * times the loss's coefficient added to the parameters' grads when `grad` is true.
   */
  apply(obs: Float32Array, unit: Int32Array, target: Uint8Array, n: number, grad: boolean): number;
}

/** Everything needed to rebuild a policy (weights come from the checkpoint). */
export interface PolicySpec {
  kind: string;
  obsShape: number[];
  numActions: number;
  /** hidden sizes (MLP) or channel widths (CNN, planner) */
  hidden: number[];
  /** the environment's names, for models that read the observation by meaning (the planner: agent, walls) */
  env?: {
    channels: string[];
    agentChannel: string;
    actions: string[];
    /** the environment whose `observedMoves` a planner plans with (its registry name); absent: free 4-connected moves */
    dynamics?: string;
    /** the environment's planning hints when it declares them (`planning` on its definition, for its params): the planner's default K and γ */
    planning?: { horizon: number; discount?: number };
  };
  /** model-specific settings (`--model-param k=v`), validated by the model */
  options?: Record<string, unknown>;
}

type PolicyFactory = (spec: PolicySpec, rng: Rng) => ActorCritic;

const factories = new Map<string, { factory: PolicyFactory; defaultHidden: number[]; doc: string }>();

/** Registers a model kind (one line per model file). */
export function registerPolicy(kind: string, doc: string, defaultHidden: number[], factory: PolicyFactory): void {
  factories.set(kind, { factory, defaultHidden, doc });
}

export function policyKinds(): { kind: string; doc: string }[] {
  return [...factories.entries()].map(([kind, f]) => ({ kind, doc: f.doc }));
}

/** The hidden sizes a policy of `kind` gets when none are given; an unknown kind is a ConfigError. */
export function defaultHidden(kind: string): number[] {
  const entry = factories.get(kind);
  if (!entry) throw new ConfigError(`unknown model "${kind}"`, `choose one of: ${[...factories.keys()].join(", ")}`);
  return [...entry.defaultHidden];
}

/** Builds a policy of `kind`; an unknown kind is a ConfigError listing the valid ones. */
export function createPolicy(spec: Omit<PolicySpec, "hidden"> & { hidden?: number[] }, rng: Rng): ActorCritic {
  const entry = factories.get(spec.kind);
  if (!entry) throw new ConfigError(`unknown model "${spec.kind}"`, `choose one of: ${[...factories.keys()].join(", ")}`);
  return entry.factory({ ...spec, hidden: spec.hidden ?? entry.defaultHidden }, rng);
}
