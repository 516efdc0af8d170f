// The glass-box planner: a policy that is a mesa-optimizer by construction, so its mesa-objective can be read.
// A small conv net maps the observation to a **reward map** (one value per cell) and a **termination map** (the
// chance an episode ends on entering each cell); K steps of differentiable value iteration plan over the cells
// with walls taken from the observation (value_iteration.ts); the planned Q-values at the agent's cell, times a
// learned inverse temperature, are the action logits, and the planned value at the agent's cell (scaled) is the
// critic. Trained by PPO on the base reward, the reward map shows what the policy learned to want.
// After Value Iteration Networks (Tamar et al. 2016); the termination map and the exploration-friendly
// initialisation follow the feasibility prototype (issue 14).
//
// With `transitions=learned` the head also outputs a passability map (the chance a move into each cell succeeds,
// else the agent stays) and value iteration plans with it (gated_value_iteration.ts) instead of walls read from
// the observation by channel name: the planner then learns its transition model as well as its goal.
//
// Hook points: planner.hook_reward_map [B, H, W], planner.hook_termination [B, H, W] (probabilities),
// planner.hook_passability [B, H, W] (probabilities; learned transitions only),
// planner.hook_values [B, H, W] (V_K, read-only: replacing it changes nothing downstream), planner.hook_q
// (Q_K at the agent's cell: [B, A] for the env's actions when it plans with the env's own moves — coin-run's
// gravity and jumps —, else [B, 5] for the grid moves stay, up, down, left, right). Replacing the reward map or the
// termination map re-plans with the replacement (patching a goal).
//
// What it plans over is what it observes: with a view window around the agent (procgen-style), the map covers
// the window and the coordinate channels are window coordinates, so "keep going right" can be represented as
// reward on the window's right edge — the proxy coin-run's confound allows — while a coin in view is a cell
// like any other. Cells outside the observation are not planned over.
import { z } from "zod";
import { ConfigError, ShapeError } from "../../core/errors.js";
import { parseConfig } from "../../core/config.js";
import type { Rng } from "../../core/rng.js";
import { add, mul, sub } from "../../core/ops/elementwise.js";
import { indexSelect } from "../../core/ops/indexing.js";
import { linear } from "../../core/ops/matmul.js";
import { max, mean } from "../../core/ops/reduce.js";
import { slice } from "../../core/ops/shape.js";
import { conv2d } from "../../core/ops/conv.js";
import { kernels } from "../../core/kernels/index.js";
import { logSumExp } from "../../core/ops/softmax.js";
import { exp, sigmoid } from "../../core/ops/unary.js";
import { Tensor, freshGradBuffer, gradBuffer, isGradEnabled, makeResult, noGrad, releaseBuffer } from "../../core/tensor.js";
import { Conv2d } from "../layers.js";
import { Linear } from "../linear.js";
import { HookPoint, Module, Parameter } from "../module.js";
import { GRID_MOVES, type GridMove, MOVE_DX, MOVE_DY, type SuccessorTable, gridSuccessors, planQ } from "../value_iteration.js";
import { planQGated } from "../gated_value_iteration.js";
import { getEnvDefinition } from "../../envs/make.js";
import type { AnyEnvDefinition } from "../../envs/engine.js";
import { type ActorCritic, type ActorCriticOutput, type ExperienceLoss, type PolicySpec, registerPolicy } from "./policy.js";

/** The planner's settings (`mesa train --model planner --model-param k=v`), with their defaults. */
export const plannerOptionsSchema = z
  .object({
    /**
     * value-iteration steps K; default: the environment's planning horizon where it declares one (`planning` on its
     * definition: the longest shortest path its levels can have — maze-cheese's default mazes 160), else
     * 2·(height + width) of what it sees
     */
    iterations: z.number().int().min(1).max(1024).optional(),
    /** the planner's own discount γ (not PPO's); default: the environment's planning discount where it declares one (maze-cheese 0.99), else 0.95 */
    gamma: z.number().gt(0).lt(1).optional(),
    /** "max" (hard backup, as the prototype) or "soft" (τ·logsumexp, smoother gradients) */
    backup: z.enum(["max", "soft"]).default("max"),
    /** temperature τ of the soft backup */
    softTemperature: z.number().positive().default(0.1),
    /** observation channels whose cells block movement in the planner's model (default: "wall" when the env has that channel, else none) */
    blocking: z.array(z.string()).optional(),
    /** initial inverse temperature β of the action logits (small: near-uniform actions, so exploration happens) */
    initialInverseTemperature: z.number().positive().default(1),
    /** initial termination logit of every cell (−2: an episode ends on about 12% of cells until it learns where) */
    initialTerminationLogit: z.number().default(-2),
    /**
     * the moves it plans with: "env", the environment's own moves over the observation where it declares them
     * (coin-run: gravity and jumps), else free 4-connected steps; "grid", always free 4-connected steps
     */
    dynamics: z.enum(["env", "grid"]).default("env"),
    /**
     * the planner's transition model over grid moves: "blocking", a move into a cell of the `blocking` channels
     * fails (walls read from the observation by name); "learned", the head also outputs each cell's passability
     * (sigmoid) and a move enters its cell with that probability, else stays — no knowledge of the environment
     * beyond the observation tensor (a gated value-iteration network)
     */
    transitions: z.enum(["blocking", "learned"]).default("blocking"),
    /** initial passability logit of every cell with learned transitions (0: every move succeeds half the time until it learns where the walls are) */
    initialPassabilityLogit: z.number().default(0),
    /**
     * coefficient of the transition loss with learned transitions (0: none): from the agent's own rollout steps,
     * the binary cross-entropy of the passability of the cell each move tried to enter against whether the agent
     * entered it (its cell in the next observation), added to PPO's loss
     */
    transitionLoss: z.number().min(0).default(0),
  })
  .strict();
export type PlannerOptions = z.output<typeof plannerOptionsSchema>;
/** The planner's settings with K and γ resolved (given, else the env's planning hints, else the grid's defaults). */
export type ResolvedPlannerOptions = PlannerOptions & { iterations: number; gamma: number };

/** γ when neither the settings nor the environment give one. */
const DEFAULT_GAMMA = 0.95;

/**
 * K and γ for a planner over an H×W view: the settings' own, else the environment's planning hints recorded in
 * the policy spec (`PolicySpec.env.planning`), else 2·(H + W) and 0.95. Specs written before the hints existed
 * carry none, so planners trained then keep the K and γ they were trained with.
 */
export function resolvePlannerOptions(options: PlannerOptions, height: number, width: number, planning?: { horizon: number; discount?: number }): ResolvedPlannerOptions {
  return {
    ...options,
    iterations: options.iterations ?? planning?.horizon ?? 2 * (height + width),
    gamma: options.gamma ?? planning?.discount ?? DEFAULT_GAMMA,
  };
}

/** How env action names map to the planner's grid moves. A name not here is a ConfigError. */
const ACTION_MOVES: Readonly<Record<string, GridMove>> = {
  noop: "stay",
  stay: "stay",
  up: "up",
  jump: "up",
  north: "up",
  down: "down",
  south: "down",
  left: "left",
  west: "left",
  right: "right",
  east: "right",
};

/** The grid move each env action stands for (by name). */
export function actionMoves(actions: readonly string[]): Int32Array {
  return Int32Array.from(actions, (a) => {
    const m = ACTION_MOVES[a];
    if (m === undefined) {
      throw new ConfigError(`the planner has no grid move for action "${a}"`, `it maps actions by name: ${Object.keys(ACTION_MOVES).join(", ")}; use another --model for this environment`);
    }
    return GRID_MOVES.indexOf(m);
  });
}

/** Coordinate channels appended to the observation: ones (marks the inside of the grid for the padded conv), row, column in [0, 1]. */
function coordinateChannels(height: number, width: number): Tensor {
  const hw = height * width;
  const d = new Float32Array(3 * hw);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = y * width + x;
      d[c] = 1;
      d[hw + c] = height > 1 ? y / (height - 1) : 0;
      d[2 * hw + c] = width > 1 ? x / (width - 1) : 0;
    }
  }
  return new Tensor(d, [1, 3, height, width]);
}

/**
 * Observation → [B, 2, H, W]: reward map and termination logits (and passability logits, [B, 3, H, W], when
 * the planner learns its transitions). A 3×3 conv over the channels plus coordinate
 * channels, plus a global context (channel means → linear, added to every cell: lets a cell's worth depend on
 * what the agent holds, e.g. keys), ReLU, then a 1×1 conv. The output layer starts small (gain 0.01) so early
 * plans are flat and actions near uniform.
 */
export class RewardMapHead extends Module {
  readonly conv: Conv2d;
  readonly context: Linear;
  readonly out: Conv2d;
  private readonly _coords: Tensor;

  /** initialPassabilityLogit: given, a third output map, passability logits, starting there */
  constructor(channels: number, height: number, width: number, hidden: number, initialTerminationLogit: number, rng: Rng, initialPassabilityLogit?: number) {
    super();
    this.conv = new Conv2d(channels + 3, hidden, 3, rng, { init: "orthogonal", gain: Math.SQRT2, padding: 1 });
    this.context = new Linear(channels, hidden, rng, { init: "orthogonal", gain: 1, bias: false });
    this.out = new Conv2d(hidden, initialPassabilityLogit === undefined ? 2 : 3, 1, rng, { init: "orthogonal", gain: 0.01 });
    this.out.bias!.data[1] = initialTerminationLogit;
    if (initialPassabilityLogit !== undefined) this.out.bias!.data[2] = initialPassabilityLogit;
    this._coords = coordinateChannels(height, width);
  }

  forward(obs: Tensor): Tensor {
    const [B, C, H, W] = obs.shape as [number, number, number, number];
    const hidden = this.context.weight.shape[0]!;
    // The 3×3 conv is linear in its input, so its coordinate channels' share does not depend on the observation:
    // conv([obs, coords]) = conv(obs; W_obs) + conv(coords; W_coords). The coordinate share is computed once per
    // call on one image and added with the context after the obs conv — half the conv's work on 3-channel coin-run,
    // and no [B, C + 3, H, W] concatenation (the weights keep their [hidden, C + 3, 3, 3] layout).
    const wObs = slice(this.conv.weight, 1, 0, C); // [hidden, C, 3, 3]
    const wCoords = slice(this.conv.weight, 1, C, C + 3); // [hidden, 3, 3, 3]
    const coordMap = conv2d(this._coords, wCoords, this.conv.bias, { padding: 1 }).reshape([hidden, H * W]); // [hidden, H·W]
    const ctx = linear(mean(obs, [2, 3]), this.context.weight); // [B, hidden]
    // The conv of the observation alone (no bias: it is in coordMap) goes out of the kernel as it is; then one pass
    // adds the context and the coordinate share, rectifies and applies the 1×1 output conv, never storing the hidden
    // layer. Before, the sum of the two was built as the conv's residual, added in the conv's epilogue, rectified
    // again as the 1×1 conv's input, and the 1×1 conv went through oneDNN's reorders both ways: 11.2 CPU ms of the
    // head's forward + backward on 512 coin-run windows, the hidden layer's pass 17% of planner training.
    // y is an inner activation nobody else keeps: transient, its buffer recycled
    const y = conv2d(obs, wObs, null, { padding: 1, transient: true }); // [B, hidden, H, W]
    const maps = rewardHeadMaps(y, ctx, coordMap, this.out.weight, this.out.bias!); // [B, 2 or 3, H, W]
    if (!maps.requiresGrad) releaseBuffer(y.data);
    return maps;
  }
}

/**
 * The reward head after its 3×3 conv: maps[b, o, s] = bias[o] + Σ_c weight[o, c]·relu(y[b, c, s] + (ctx[b, c] +
 * cells[c, s])) — the conv's output plus a per-image context plus a per-cell map shared by the batch, rectified, then
 * the 1×1 output conv — in one pass that never stores the hidden layer (its backward recomputes it from y). y
 * [B, Ch, H, W], ctx [B, Ch], cells [Ch, H·W], weight [O, Ch, 1, 1], bias [O] → [B, O, H, W]. Each add and product is
 * rounded to float32, channels summed in order; gradients to all five (sums over cells and images in float64).
 */
export function rewardHeadMaps(y: Tensor, ctx: Tensor, cells: Tensor, weight: Tensor, bias: Tensor): Tensor {
  const [B, Ch, H, W] = y.shape as [number, number, number, number];
  const S = H * W;
  const O = weight.shape[0]!;
  if (y.ndim !== 4 || ctx.ndim !== 2 || ctx.shape[0] !== B || ctx.shape[1] !== Ch || cells.ndim !== 2 || cells.shape[0] !== Ch || cells.shape[1] !== S ||
    weight.ndim !== 4 || weight.size !== O * Ch || bias.ndim !== 1 || bias.shape[0] !== O) {
    throw new ShapeError(`rewardHeadMaps: y [${y.shape.join(", ")}], ctx [${ctx.shape.join(", ")}], cells [${cells.shape.join(", ")}], weight [${weight.shape.join(", ")}] and bias [${bias.shape.join(", ")}] must be [B, C, H, W], [B, C], [C, H·W], [O, C, 1, 1] and [O]`);
  }
  // the kernels' pass: WebAssembly SIMD on their memory, where y lives (transient), else the js loop
  const maps = new Float32Array(B * O * S); // returned to the caller, who may keep it
  kernels().densePasses.headForward(y.data, ctx.data, cells.data, weight.data, bias.data, maps, B, Ch, O, S);
  const parents = [y, ctx, cells, weight, bias];
  return makeResult("reward_head_maps", maps, [B, O, H, W], parents, !(parents.some((p) => p.requiresGrad) && isGradEnabled()) ? null : (g) => {
    // y's gradient is written whole where it has none yet (its only consumer: the head's conv output)
    const fresh = y.requiresGrad ? freshGradBuffer(y) : null;
    const gy = y.requiresGrad ? fresh ?? gradBuffer(y) : null;
    const grad = (t: Tensor): Float32Array | null => (t.requiresGrad ? gradBuffer(t) : null);
    kernels().densePasses.headBackward(g, y.data, ctx.data, cells.data, weight.data, gy, fresh === null, grad(ctx), grad(cells), grad(weight), grad(bias), B, Ch, O, S);
  });
}

/** What the planning stage plans with: the maps [B, H, W] (passability logits with learned transitions), the moves, the agent's cells. */
export interface PlanningInput {
  rewardMap: Tensor;
  terminationLogits: Tensor;
  passabilityLogits?: Tensor;
  table: SuccessorTable;
  agent: Int32Array;
}

/** The planning stage with its hook points (named planner.*): maps → value iteration → Q at the agent's cell. */
export class ValueIterationPlanner extends Module<PlanningInput, { q: Tensor; values: Tensor }> {
  readonly hook_reward_map = new HookPoint();
  readonly hook_termination = new HookPoint();
  /** only with learned transitions (a planner that reads its walls has no passability to show) */
  readonly hook_passability: HookPoint | undefined;
  readonly hook_values = new HookPoint();
  readonly hook_q = new HookPoint();
  readonly options: ResolvedPlannerOptions;
  readonly height: number;
  readonly width: number;

  constructor(height: number, width: number, options: ResolvedPlannerOptions) {
    super();
    this.height = height;
    this.width = width;
    this.options = options;
    this.hook_passability = options.transitions === "learned" ? new HookPoint() : undefined;
  }

  /** table: the moves over the cells, [B, H·W, moves] (grid moves, or the env's actions; with passability, the cells each move tries to enter) */
  forward(input: PlanningInput): { q: Tensor; values: Tensor } {
    const { height: H, width: W, options } = this;
    const B = input.rewardMap.shape[0]!;
    const table = input.table;
    const reward = this.hook_reward_map.forward(input.rewardMap); // [B, H, W]
    const termination = this.hook_termination.forward(sigmoid(input.terminationLogits)); // [B, H, W]
    const continuation = mul(sub(1, termination), options.gamma); // γ·(1 − termination)
    // the values of walls (closed-off absorbing states) cost more than the plan on a mostly-wall maze: worked out
    // only when something reads the values (a hook: mesaObjective, the analyses), else NaN
    const vi = { iterations: options.iterations, backup: options.backup, temperature: options.softTemperature, absorbingValues: this.hook_values._hooks.length > 0, agentOnly: this.hook_values._hooks.length === 0 };
    const r = reward.reshape([B, H * W]);
    const c = continuation.reshape([B, H * W]);
    const { q, values } = input.passabilityLogits && this.hook_passability
      ? planQGated(table, r, c, this.hook_passability.forward(sigmoid(input.passabilityLogits)).reshape([B, H * W]), input.agent, vi) // passability: [B, H, W]
      : planQ(table, r, c, input.agent, vi);
    const v = this.hook_values.forward(new Tensor(values, [B, H, W])); // [B, H, W]
    return { q: this.hook_q.forward(q), values: v }; // q: [B, moves]
  }
}

export class PlannerActorCritic extends Module<Tensor, ActorCriticOutput> implements ActorCritic {
  readonly kind = "planner";
  readonly obsShape: readonly number[];
  readonly numActions: number;
  readonly spec: PolicySpec;
  readonly rewardHead: RewardMapHead;
  readonly planner: ValueIterationPlanner;
  /** log β: logits = β · Q(agent, move of action) + action bias */
  readonly logInverseTemperature: Parameter;
  readonly actionBias: Parameter;
  /** critic: value = scale · V_K(agent) + bias */
  readonly valueScale: Parameter;
  readonly valueBias: Parameter;
  /** the transition loss (`transitionLoss` > 0 with learned transitions) */
  readonly experienceLoss?: ExperienceLoss;
  private readonly _agentChannel: number;
  private readonly _blockingChannels: number[];
  /** transitions "learned": the head's third map is each cell's passability, and grid moves are gated by it */
  private readonly _learnedTransitions: boolean;
  private readonly _actionMoves: Int32Array;
  /** the env's moves over the observation (options.dynamics "env" on an env that declares them), else null: grid moves */
  private readonly _observedMoves: AnyEnvDefinition["observedMoves"] | null;
  /**
   * The env's moves over recently seen observations (observation words → successor rows; a pure function of the
   * observation): PPO's epochs plan over the rollout's observations again, so each is worked out once per update
   * instead of once per pass (measured ~6% of coin-run planner training before).
   */
  private readonly _movesCache = new Map<number, { obs: Uint32Array; next: Int32Array }[]>();
  private _movesCached = 0;
  /** learned transitions: the free grid's successor table of the last batch size (it depends on nothing observed; never written) */
  private _freeGrid: Int32Array | null = null;

  constructor(spec: PolicySpec, rng: Rng) {
    super();
    if (spec.obsShape.length !== 3) throw new ShapeError(`planner policy needs [channels, height, width] observations, got [${spec.obsShape.join(", ")}]`);
    if (!spec.env) throw new ConfigError("the planner needs the environment's channel and action names (PolicySpec.env)", "build it through mesa train / buildRun, or pass env: { channels, agentChannel, actions }");
    const [c, h, w] = spec.obsShape as [number, number, number];
    const options = parseConfig(plannerOptionsSchema, spec.options ?? {}, "planner options (--model-param)");
    const [hidden = 32] = spec.hidden;
    const { channels, agentChannel, actions, dynamics } = spec.env;
    if (channels.length !== c) throw new ShapeError(`planner: ${channels.length} channel names for ${c} observation channels`);
    if (actions.length !== spec.numActions) throw new ShapeError(`planner: ${actions.length} action names for ${spec.numActions} actions`);
    this._agentChannel = channels.indexOf(agentChannel);
    if (this._agentChannel < 0) throw new ConfigError(`planner: agent channel "${agentChannel}" is not among the observation channels`, `channels: ${channels.join(", ")}`);
    this._observedMoves = options.dynamics === "env" && dynamics !== undefined ? observedMovesOf(dynamics) : null;
    if (this._observedMoves && options.blocking) {
      throw new ConfigError(`planner: blocking applies to grid moves, but it plans with ${dynamics}'s own moves (walls included)`, "drop --model-param blocking, or add --model-param dynamics=grid to plan with free 4-connected moves");
    }
    this._learnedTransitions = options.transitions === "learned";
    if (this._learnedTransitions && this._observedMoves) {
      throw new ConfigError(`planner: transitions=learned gates grid moves, but it plans with ${dynamics}'s own moves`, "add --model-param dynamics=grid to learn the transitions of free 4-connected moves, or drop transitions=learned");
    }
    if (this._learnedTransitions && options.blocking) {
      throw new ConfigError("planner: transitions=learned learns where moves fail; blocking names channels that block them", "drop --model-param blocking, or use transitions=blocking (the default)");
    }
    if (options.transitionLoss > 0 && !this._learnedTransitions) {
      throw new ConfigError(`planner: transitionLoss=${options.transitionLoss} supervises the learned passability, but this planner reads its walls (transitions=blocking)`, "add --model-param transitions=learned, or drop transitionLoss");
    }
    const blocking = this._observedMoves || this._learnedTransitions ? [] : options.blocking ?? (channels.includes("wall") ? ["wall"] : []);
    this._blockingChannels = blocking.map((name) => {
      const k = channels.indexOf(name);
      if (k < 0) throw new ConfigError(`planner: blocking channel "${name}" is not an observation channel`, `set --model-param blocking to some of: ${channels.join(", ")} (or [] for none)`);
      return k;
    });
    this._actionMoves = this._observedMoves ? Int32Array.from(actions, (_, a) => a) : actionMoves(actions);
    const planning = spec.env.planning;
    const envSpec = { channels: [...channels], agentChannel, actions: [...actions], ...(dynamics !== undefined ? { dynamics } : {}), ...(planning ? { planning: { ...planning } } : {}) };
    this.spec = { ...spec, obsShape: [...spec.obsShape], hidden: [hidden], env: envSpec, options: { ...(spec.options ?? {}) } };
    this.obsShape = spec.obsShape;
    this.numActions = spec.numActions;
    this.rewardHead = new RewardMapHead(c, h, w, hidden, options.initialTerminationLogit, rng, this._learnedTransitions ? options.initialPassabilityLogit : undefined);
    this.planner = new ValueIterationPlanner(h, w, resolvePlannerOptions(options, h, w, spec.env.planning));
    this.logInverseTemperature = new Parameter(new Tensor(new Float32Array([Math.log(options.initialInverseTemperature)]), [1]));
    this.actionBias = new Parameter(new Tensor(new Float32Array(spec.numActions), [spec.numActions]));
    this.valueScale = new Parameter(new Tensor(new Float32Array([1]), [1]));
    this.valueBias = new Parameter(new Tensor(new Float32Array([0]), [1]));
    if (options.transitionLoss > 0) this.experienceLoss = new TransitionLoss(this, options.transitionLoss, this._agentChannel, this._actionMoves);
  }

  /** [B, C, H, W] (or flat) observations → the same as 4-D */
  private asImage(obs: Tensor): Tensor {
    return obs.shape.length === 4 ? obs : obs.reshape([obs.shape[0]!, ...this.obsShape]);
  }

  /** The moves the planner plans with over each observation's cells: the env's own, or 4-connected grid moves around the blocked cells. */
  private successors(obs: Tensor, blocked: Uint8Array): SuccessorTable {
    const [B, C, H, W] = obs.shape as [number, number, number, number];
    const S = H * W;
    if (this._learnedTransitions) {
      // nothing is blocked: the free grid, the same for every observation, which gated value iteration backs up as a stencil
      if (this._freeGrid?.length !== B * S * GRID_MOVES.length) this._freeGrid = gridSuccessors(blocked, B, H, W);
      return { next: this._freeGrid, batch: B, states: S, moves: GRID_MOVES.length, grid: { height: H, width: W } };
    }
    if (!this._observedMoves) return { next: gridSuccessors(blocked, B, H, W), batch: B, states: S, moves: GRID_MOVES.length };
    const A = this.numActions;
    // a fresh array per call: the table is kept by the tape until the backward pass
    const next = new Int32Array(B * S * A);
    const d = obs.data as Float32Array;
    const bits = new Uint32Array(d.buffer, d.byteOffset, d.length);
    const n = C * S;
    for (let b = 0; b < B; b++) {
      const o = b * n;
      const key = hashWords(bits, o, n);
      const bucket = this._movesCache.get(key);
      const hit = bucket?.find((e) => sameWords(e.obs, bits, o));
      if (hit) {
        next.set(hit.next, b * S * A);
        continue;
      }
      this._observedMoves(d, o, H, W, next, b * S * A);
      if (this._movesCached >= MOVES_CACHE_ENTRIES) {
        this._movesCache.clear();
        this._movesCached = 0;
      }
      const entry = { obs: bits.slice(o, o + n), next: next.slice(b * S * A, (b + 1) * S * A) };
      if (bucket) bucket.push(entry);
      else this._movesCache.set(key, [entry]);
      this._movesCached++;
    }
    return { next, batch: B, states: S, moves: A };
  }

  /** The agent's cell (argmax of its channel) and the blocked cells, read from the observation. */
  private readObservation(obs: Tensor): { agent: Int32Array; blocked: Uint8Array } {
    const [B, C, H, W] = obs.shape as [number, number, number, number];
    const hw = H * W;
    const agent = new Int32Array(B);
    const blocked = new Uint8Array(B * hw);
    const d = obs.data;
    for (let b = 0; b < B; b++) {
      const arg = agentCell(d, (b * C + this._agentChannel) * hw, hw);
      if (arg < 0) throw new ShapeError(`planner: observation ${b} shows no agent in channel ${this._agentChannel}`, "the planner plans from the agent's cell; pass observations from the environment it was built for");
      agent[b] = arg;
      for (const ch of this._blockingChannels) {
        const o = (b * C + ch) * hw;
        for (let s = 0; s < hw; s++) if (d[o + s]! > 0.5) blocked[b * hw + s] = 1;
      }
      blocked[b * hw + arg] = 0; // the agent's own cell is never a wall
    }
    return { agent, blocked };
  }

  /** Whether it learns its transitions (the head's passability map) instead of reading walls by channel name. */
  get learnsTransitions(): boolean {
    return this._learnedTransitions;
  }

  /** obs [batch, C, h, w] (or flat) → logits [batch, A], value [batch, 1] */
  forward(obs: Tensor): ActorCriticOutput {
    const x = this.asImage(obs);
    const [B, , H, W] = x.shape as [number, number, number, number];
    const { agent, blocked } = this.readObservation(x);
    const maps = this.rewardHead.forward(x); // [B, 2 or 3, H, W]
    const rewardMap = slice(maps, 1, 0, 1).reshape([B, H, W]);
    const terminationLogits = slice(maps, 1, 1, 2).reshape([B, H, W]);
    const table = this.successors(x, blocked); // learned transitions: nothing blocked, the cells each move tries to enter
    const passability = this._learnedTransitions ? { passabilityLogits: slice(maps, 1, 2, 3).reshape([B, H, W]) } : {};
    const { q } = this.planner.forward({ rewardMap, terminationLogits, table, agent, ...passability }); // q: [B, moves]
    const qa = this._observedMoves ? q : indexSelect(q, 1, this._actionMoves); // [B, A]
    const logits = add(mul(qa, exp(this.logInverseTemperature)), this.actionBias); // [B, A]
    const o = this.planner.options;
    const v = o.backup === "max" ? max(q, 1, true) : mul(logSumExp(mul(q, 1 / o.softTemperature), 1, true), o.softTemperature); // V_K(agent): [B, 1]
    return { logits, value: add(mul(v, this.valueScale), this.valueBias) };
  }

  /**
   * The mesa-objective this policy plans with, for each observation ([B, H, W] each): the reward map, the
   * termination map, the planned values V_K, and the planned worth of entering each cell, R + γ·(1 − T)·V_K —
   * what reaching a cell is worth to the planner once termination and what follows are counted (the
   * readout that predicts behaviour: a mildly rewarded cell the episode does not end on can be worth more than
   * a highly rewarded one it ends on). With learned transitions, also the passability it planned with.
   */
  mesaObjective(obs: Tensor): { reward: Tensor; termination: Tensor; values: Tensor; entering: Tensor; passability?: Tensor } {
    return noGrad(() => {
      const names = ["planner.hook_reward_map", "planner.hook_termination", "planner.hook_values", ...(this._learnedTransitions ? ["planner.hook_passability"] : [])];
      const { cache } = this.runWithCache(obs, { names, detach: true });
      const reward = cache.get(names[0]!)!;
      const termination = cache.get(names[1]!)!;
      const values = cache.get(names[2]!)!;
      const gamma = this.planner.options.gamma;
      const e = new Float32Array(reward.size);
      for (let i = 0; i < e.length; i++) e[i] = reward.data[i]! + gamma * (1 - termination.data[i]!) * values.data[i]!;
      const passability = this._learnedTransitions ? { passability: cache.get(names[3]!)! } : {};
      return { reward, termination, values, entering: new Tensor(e, reward.shape), ...passability };
    });
  }
}

/** The agent's cell in one observation: the argmax of its channel (from `offset`, `cells` long); −1 when no cell is positive. */
function agentCell(d: Float32Array, offset: number, cells: number): number {
  let best = -Infinity;
  let arg = -1;
  for (let s = 0; s < cells; s++) {
    if (d[offset + s]! > best) {
      best = d[offset + s]!;
      arg = s;
    }
  }
  return best > 0 ? arg : -1;
}

/** Labelled moves none of which entered its cell that make the transition loss stop (a view centred on the agent). */
const CENTRED_VIEW_STEPS = 2048;

/**
 * The planner's transition loss: a transition model learned from the agent's own moves, with no knowledge of the
 * environment beyond the observation. Each rollout step whose action is a grid move into a cell of the grid t is
 * labelled by the agent's cell in the next observation: 1 when it entered t, 0 when it stayed; a step that ended
 * the episode (the next observation is a new level), a "stay", a move off the grid, or a step after which the
 * agent is anywhere else teaches nothing. The loss is the binary cross-entropy of t's passability logit against
 * the label, averaged over a minibatch's labelled steps; its gradient, times the coefficient, is added to PPO's.
 * Value iteration's own gradient on a gate is a value difference of adjacent cells (about 1 − γ of the value),
 * which left walls half open (session 10); this one says directly where moves fail.
 */
class TransitionLoss implements ExperienceLoss {
  readonly name = "transition_loss";
  /** labelled steps so far, and those where the agent entered its cell: none entered in many says the view moves with the agent */
  private labelled = 0;
  private entered = 0;

  constructor(
    private readonly planner: PlannerActorCritic,
    private readonly coefficient: number,
    private readonly agentChannel: number,
    private readonly actionMoves: Int32Array,
  ) {}

  label(obs: Float32Array, actions: Int32Array, nextObs: Float32Array, done: Float32Array, n: number, unit: Int32Array, target: Uint8Array): void {
    const [C, H, W] = this.planner.obsShape as [number, number, number];
    const hw = H * W;
    for (let i = 0; i < n; i++) {
      unit[i] = -1;
      target[i] = 0;
      const move = this.actionMoves[actions[i]!]!;
      if (done[i] !== 0 || move === 0) continue; // a new level follows, or a "stay" (it tries to enter no cell)
      const at = (i * C + this.agentChannel) * hw;
      const from = agentCell(obs, at, hw);
      const to = agentCell(nextObs, at, hw);
      if (from < 0 || to < 0) continue;
      const y = Math.floor(from / W) + MOVE_DY[move]!;
      const x = (from % W) + MOVE_DX[move]!;
      if (y < 0 || y >= H || x < 0 || x >= W) continue;
      const t = y * W + x;
      if (to !== t && to !== from) continue;
      unit[i] = t;
      target[i] = to === t ? 1 : 0;
      this.labelled++;
      this.entered += target[i]!;
    }
    if (this.entered === 0 && this.labelled >= CENTRED_VIEW_STEPS) {
      throw new ConfigError(
        `planner: in ${this.labelled} moves the agent's cell never changed in the observation, so the transition loss would learn that every move fails`,
        "the transition loss reads moves from the agent's cell: with a view centred on the agent (e.g. maze-cheese's view) use the whole-grid observation, or drop transitionLoss",
      );
    }
  }

  apply(obs: Float32Array, unit: Int32Array, target: Uint8Array, n: number, grad: boolean): number {
    const [C, H, W] = this.planner.obsShape as [number, number, number];
    const hw = H * W;
    let labelled = 0;
    for (let i = 0; i < n; i++) if (unit[i]! >= 0) labelled++;
    if (labelled === 0) return Number.NaN;
    const x = new Tensor(obs.subarray(0, n * C * hw), [n, C, H, W]);
    const maps = grad ? this.planner.rewardHead.forward(x) : noGrad(() => this.planner.rewardHead.forward(x)); // [n, 3, H, W]
    const maps3 = maps.shape[1]!;
    const gradMaps = grad ? new Float32Array(maps.size) : null;
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const u = unit[i]!;
      if (u < 0) continue;
      const k = (i * maps3 + 2) * hw + u;
      const z = maps.data[k]!;
      const y = target[i]!;
      loss += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z))); // −y·log σ(z) − (1 − y)·log(1 − σ(z)), stable
      if (gradMaps) gradMaps[k] = (this.coefficient * (1 / (1 + Math.exp(-z)) - y)) / labelled;
    }
    if (gradMaps) maps.backward(gradMaps);
    return loss / labelled;
  }
}

/** Observations whose moves are remembered (a coin-run update's rollout is 2,048; each entry ~2 KB there). */
const MOVES_CACHE_ENTRIES = 8192;

/** FNV-1a over n 32-bit words from `offset`. */
function hashWords(words: Uint32Array, offset: number, n: number): number {
  let h = 0x811c9dc5;
  for (let i = offset, e = offset + n; i < e; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
  return h >>> 0;
}

/** Whether `a` equals the words of `words` from `offset`. */
function sameWords(a: Uint32Array, words: Uint32Array, offset: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== words[offset + i]) return false;
  return true;
}

/** The `observedMoves` of the environment named in a planner's spec; a ConfigError when it has none. */
function observedMovesOf(envName: string): NonNullable<AnyEnvDefinition["observedMoves"]> {
  const def = getEnvDefinition(envName);
  if (!def.observedMoves) throw new ConfigError(`planner: environment "${envName}" declares no moves over its observation (observedMoves)`, "add --model-param dynamics=grid to plan with free 4-connected moves");
  return def.observedMoves.bind(def);
}

registerPolicy(
  "planner",
  "glass-box planner: conv reward map + termination map, K steps of value iteration, Q at the agent → logits (hidden 32)",
  [32],
  (spec, rng) => new PlannerActorCritic(spec, rng),
);
