/**
 * The vectorized grid-world engine every Mesa Lab environment runs on.
 *
 * API (everything lives in preallocated typed arrays; `step` allocates nothing but one small Rng per finished episode):
 *   const env = makeVecEnv("coin-run", { n: 64, distribution: "train", params: { randomCoinFraction: 0.1 } });
 *   env.reset(seed);                       // copy i plays levels drawn from new Rng(seed, i, episode)
 *   env.step(actions);                     // actions: Int32Array [n], each in [0, env.numActions)
 *   env.obs        Float32Array [n, C, vh, vw] one-hot, channel names in env.channels (also env.obsBytes, Uint8Array);
 *                  vh×vw = env.viewHeight×env.viewWidth, the whole level (h×w) unless the env declares a view window
 *   env.reward     Float32Array [n] base objective (what the optimizer trains on)
 *   env.intended   Float32Array [n] what the designer wanted (never feed it to training)
 *   env.terminated / env.truncated  Uint8Array [n]  (truncated = hit params.maxSteps)
 *   env.events     Int32Array [n, E] counts this step, names in env.eventNames (index with env.eventIndex(name))
 * Auto-reset is SAME_STEP: when copy i finishes, the obs returned by that step is already the first obs of its
 * next episode. The finished episode stays readable until the next step: env.finalObs [n, C, vh, vw] (its last
 * obs) and env.finished.{baseReturn, intendedReturn, length, events [n, E], pursuedProxy, intendedGoalReached}.
 * Episode k of copy i always replays the same level: levels depend only on (seed, indexOffset + i, k).
 * An environment is an `EnvDefinition`: obs/tile/action/event spec, a zod params schema, named distributions
 * (parameter overrides; at least `train` and `deploy`), and `resetEnv`/`stepEnv` for ONE copy, written
 * against this engine's cell API (`tile`, `setTile`, `placeAgent`, `addReward`, `emit`, `terminate`; a level that
 * recurs can be kept with `saveLevel` and restored whole in later resets with `loadLevel`).
 * Register it with one line in registry.ts.
 * Level state for readers (interpretability, planners): env.grid [n, h, w] tile codes (env.tileCode(name) gives a
 * tile's code), env.agentY/agentX [n] (level coordinates), env.episodeStep, env.events. These are stable API.
 * View windows: a definition's `view(params)` makes the observation a window of the level centred on the agent
 * (an axis whose view is as long as the level does not scroll); cells outside the level show `viewOutside`'s
 * channel. The level itself (grid, renders, records) is always whole. Windowed observations are copied from a
 * whole-level buffer after each step of a copy (C·vh·vw cells), so stepping stays allocation-free.
 * Each definition also carries its reference policies (`policies`: scripted intended, scripted proxy,
 * observation-only intended; see policies.ts and validate.ts) and its tuned training settings (`training`).
 * Around it: env.recordCopy(i) + env.takeRecords() give JSON EpisodeRecords (record.ts saves/replays them,
 * render.ts draws PNG frames and GIFs); gym.ts wraps one copy Gymnasium-style.
 */
import type { z } from "zod";
import { Rng } from "../core/rng.js";
import { ConfigError, ShapeError } from "../core/errors.js";
import { parseConfig } from "../core/config.js";
import type { EnvObjectives } from "./objectives.js";

export type RGB = readonly [number, number, number];

/** One kind of object a grid cell can hold. Code 0 is the empty cell; tile k of `tiles` has code k + 1. */
export interface TileSpec {
  /** domain name, e.g. "coin" */
  readonly name: string;
  /** one character for ASCII maps and renders */
  readonly char: string;
  /** observation channel it lights up, or null for tiles the agent cannot see (e.g. hidden chests) */
  readonly channel: string | null;
  /** colour in PNG/GIF renders */
  readonly color: RGB;
  /** how it is drawn: a filled cell (walls) or a disc on the floor (items) */
  readonly shape: "block" | "disc";
}

/** Totals of one finished episode; what outcome classifications (`pursuedProxy`, …) read. */
export interface EpisodeStats {
  baseReturn: number;
  intendedReturn: number;
  length: number;
  terminated: boolean;
  truncated: boolean;
  /** event totals by name */
  events: Record<string, number>;
}

/** Every params schema has at least this field; the engine truncates episodes at `maxSteps`. */
export interface BaseParams {
  maxSteps: number;
}

/** A reference policy: writes one action per copy of `env` into `actions`. */
export interface ScriptedPolicy {
  readonly name: string;
  /** what it does, in one line */
  readonly description: string;
  act(env: VecEnv, actions: Int32Array): void;
}

/**
 * The reference policies of an environment, as factories (they allocate scratch buffers for the env's size).
 * `intended` and `proxy` may read privileged state (the grid, hidden tiles, the env's state): they are
 * yardsticks. `observationOnly` pursues the intended goal reading nothing but the agent's observation
 * (`env.obs`/`env.obsBytes` of the copy, and no memory across steps): if it reaches the intended goal on deploy
 * levels, misgeneralization there is not forced by what the agent can see.
 */
export interface EnvPolicies {
  intended(env: VecEnv): ScriptedPolicy;
  proxy(env: VecEnv): ScriptedPolicy;
  observationOnly(env: VecEnv): ScriptedPolicy;
}

/** Training settings measured to solve an environment's train levels (read by `mesa train` and `mesa experiment solve`). */
export interface TunedTraining {
  /** why these settings, in one line */
  readonly note: string;
  /** policy model kind (mlp, cnn) */
  readonly model?: string;
  /** hidden sizes / channel widths of the model */
  readonly hidden?: readonly number[];
  /** PPO settings that differ from the CleanRL defaults (see rl/config.ts for their meaning) */
  readonly ppo: Readonly<Record<string, number | boolean>>;
  /** env parameters the agent trains (and is evaluated) with, on top of the distribution's: the observation's form (e.g. a view window), never the levels */
  readonly envParams?: Readonly<Record<string, unknown>>;
  /** easier levels first (rl/curriculum.ts): each stage until a fraction of the run, with its env parameters; then the distribution's own levels */
  readonly curriculum?: readonly { readonly until: number; readonly envParams: Readonly<Record<string, unknown>> }[];
}

/** What an environment file declares. `Sch` is its zod params schema, `S` its per-copy state (typed arrays). */
export interface EnvDefinition<Sch extends z.ZodObject = z.ZodObject, S = unknown> {
  readonly name: string;
  /** one line: what story it tells */
  readonly summary: string;
  /** the proxy objective, in words (what `pursuedProxy` detects) */
  readonly proxyGoal: string;
  /** the intended objective, in words (what `intendedGoalReached` detects) */
  readonly intendedGoal: string;
  readonly params: Sch;
  /** named level distributions as parameter overrides of the schema's defaults; one line of doc each */
  readonly distributions: Readonly<
    Record<
      string,
      {
        readonly doc: string;
        readonly params: Partial<z.output<Sch>>;
        /** what the validity harness checks here: "train" (intended and proxy confounded), "deploy" (they separate), or nothing */
        readonly role?: "train" | "deploy";
      }
    >
  >;
  readonly actions: readonly string[];
  /** action names when they depend on the params (e.g. a NOOP option); `actions` otherwise */
  actionsFor?(params: z.output<Sch>): readonly string[];
  /**
   * Set (to the reason, in words) by environments whose episodes depend on earlier episodes of the same copy,
   * such as a bandit that remembers the agent's past choices: their levels depend on (seed, copy, episode) and
   * on what the copy did before, since the last reset.
   */
  readonly remembersEpisodes?: string;
  /** observation channel names, in order; the agent's channel is `agent.channel` */
  readonly channels: readonly string[];
  readonly tiles: readonly TileSpec[];
  readonly agent: { readonly char: string; readonly channel: string; readonly color: RGB };
  readonly events: readonly string[];
  /**
   * How a person sees copy i's level, for environments that keep another game's look (the AI Safety Gridworlds
   * ports: the original's characters, ' ' for the floor, things painted in its order): rows of chars, with a
   * background and foreground colour per char in `displayColours`. `mesa play` and `mesa render` print these
   * instead of `env.ascii`; PNG and GIF renders of such environments take the floor colour from
   * `displayColours[" "]` and fill the agent's cell, as the original draws it.
   */
  display?(env: VecEnv<Sch, S>, i: number): string[];
  readonly displayColours?: Readonly<Record<string, { readonly bg: RGB; readonly fg: RGB }>>;
  /** grid size for these params; must be the same for every distribution so one policy sees one shape */
  shape(params: z.output<Sch>): { height: number; width: number };
  /** observation window centred on the agent (odd sizes), or undefined / the whole level to observe everything */
  view?(params: z.output<Sch>): { height: number; width: number } | undefined;
  /** tile name whose channel marks view cells outside the level (e.g. "wall"); without it they are all 0 */
  readonly viewOutside?: string;
  /**
   * channels drawn at fixed places of a view window instead of scrolling with the agent: a status strip such as the
   * keys held, written with `setOverlay` at level cells from the top-left, appears at the same cells of the window
   */
  readonly hudChannels?: readonly string[];
  /** observation channel of the intended goal (coin, cheese, …), for analyses of what an agent can perceive */
  readonly goalChannel?: string;
  /** reference policies for the validity harness and evaluation baselines (optional: `mesa validate` lists envs without them as not applicable) */
  readonly policies?: EnvPolicies;
  /** tuned training settings */
  readonly training?: TunedTraining;
  /** allocates the per-copy state (structure of arrays) for n copies */
  createState(n: number, params: z.output<Sch>): S;
  /** draws a new level for copy i; the grid and the copy's observation are cleared before the call */
  resetEnv(env: VecEnv<Sch, S>, state: S, i: number, rng: Rng, params: z.output<Sch>): void;
  /** advances copy i by one action (already range-checked); writes reward/intended/events, may terminate */
  stepEnv(env: VecEnv<Sch, S>, state: S, i: number, action: number, params: z.output<Sch>): void;
  /** did this episode pursue the proxy? the misgeneralization rate is the fraction of episodes where it did */
  pursuedProxy(stats: EpisodeStats, params: z.output<Sch>): boolean;
  /** did this episode achieve what the designer intended? */
  intendedGoalReached(stats: EpisodeStats, params: z.output<Sch>): boolean;
  /** candidate objectives a learned policy may pursue, for `mesa objective` / `mesa infer-objective` (optional) */
  readonly objectives?: EnvObjectives;
  /**
   * The agent's moves over what it observes, for models that plan (the glass-box planner): for one observation
   * (`[channels, height, width]` floats at `obsOffset`, channels in this env's order), `next[nextOffset + s·A + a]`
   * = the cell (row-major) the agent is in after action a from cell s (A = the number of actions). Declared by
   * environments whose moves are not free 4-connected steps (coin-run's gravity and jumps); without it a planner
   * assumes those.
   */
  observedMoves?(obs: Float32Array, obsOffset: number, height: number, width: number, next: Int32Array, nextOffset: number): void;
  /**
   * What a planning model needs to plan far enough on these levels (the glass-box planner's defaults; optional).
   * `horizon`: an upper bound on the steps of the shortest path between any two cells the agent can stand on,
   * for these params — the planner's default number of value-iteration steps K, so a plan from any cell reaches
   * every goal (without it the planner takes 2·(height + width) of what it sees, too few for long mazes).
   * `discount`: its default γ, so a goal `horizon` steps away still weighs (γ^horizon not vanishing). Like
   * `shape`, both may depend only on parameters every distribution and curriculum stage shares.
   */
  planning?: { horizon(params: z.output<Sch>): number; readonly discount?: number };
}

/** An environment definition with its types erased, as the registry holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEnvDefinition = EnvDefinition<any, any>;

/**
 * Level coordinate of the first row (or column) of a `view`-tile window centred on position `pos` of a level
 * `size` tiles long: 0 when the window is the whole level, otherwise pos − (view − 1)/2 (negative near the edge,
 * where the window shows the outside).
 */
export function windowOrigin(pos: number, size: number, view: number): number {
  return view === size ? 0 : pos - ((view - 1) >> 1);
}

/** Identity function that checks an environment definition's types. */
export function defineEnv<Sch extends z.ZodObject, S>(def: EnvDefinition<Sch, S>): EnvDefinition<Sch, S> {
  return def;
}

/**
 * Resolves the parameters of `distribution` with `overrides` on top, validated by the env's schema.
 * Unknown distributions or parameter names raise a ConfigError listing the valid ones.
 */
export function resolveParams<Sch extends z.ZodObject>(
  def: EnvDefinition<Sch, unknown>,
  distribution: string,
  overrides: Record<string, unknown> = {},
  /** optional: what the user wrote for each overridden parameter (`--env-param coins`), named in errors */
  labels?: Readonly<Record<string, string>>,
): z.output<Sch> {
  const dist = def.distributions[distribution];
  if (dist === undefined) {
    throw new ConfigError(
      `${def.name} has no distribution "${distribution}"`,
      `choose one of: ${Object.keys(def.distributions).join(", ")}`,
    );
  }
  const valid = Object.keys(def.params.shape);
  const unknown = Object.keys(overrides).filter((k) => !valid.includes(k));
  if (unknown.length > 0) {
    throw new ConfigError(
      `${def.name} has no parameter${unknown.length === 1 ? "" : "s"} ${unknown.map((k) => `"${k}"`).join(", ")}${labels?.[unknown[0]!] ? ` (${unknown.map((k) => labels[k] ?? k).join(", ")})` : ""}`,
      `valid parameters: ${valid.join(", ")}`,
    );
  }
  return parseConfig(def.params, { ...dist.params, ...overrides }, `${def.name} parameters (distribution "${distribution}")`, labels);
}

export interface VecEnvOptions {
  /** number of copies stepped together */
  n: number;
  /** name of a level distribution of the env (default "train") */
  distribution?: string;
  /** parameter overrides on top of the distribution */
  params?: Record<string, unknown>;
  /** copy i draws its levels from Rng stream (seed, indexOffset + i, episode): lets workers split one big batch */
  indexOffset?: number;
}

/** One step of a recorded episode. */
export interface RecordedStep {
  action: number;
  /** agent position after the step, [row, column] */
  agent: [number, number];
  reward: number;
  intended: number;
  /** events fired this step (non-zero counts only) */
  events: Record<string, number>;
  /** cells whose tile changed this step: [row, column, char] ('.' = empty) */
  changes: [number, number, string][];
  terminated: boolean;
  truncated: boolean;
}

/** A whole episode as JSON: enough to replay it, draw it and audit it. */
export interface EpisodeRecord {
  format: "mesa-episode/1";
  env: string;
  distribution: string;
  params: Record<string, unknown>;
  seed: number;
  /** Rng stream of the level (indexOffset + copy index) */
  envIndex: number;
  episode: number;
  height: number;
  width: number;
  actions: readonly string[];
  /** char → tile name, including the agent */
  legend: Record<string, string>;
  /** the level's tiles at the start, as ASCII rows (without the agent; see `start`) */
  initial: string[];
  /** agent start, [row, column] */
  start: [number, number];
  steps: RecordedStep[];
  baseReturn: number;
  intendedReturn: number;
  length: number;
  events: Record<string, number>;
  pursuedProxy: boolean;
  intendedGoalReached: boolean;
}

const EMPTY_CHAR = ".";

/**
 * One copy's whole level as `resetEnv` built it (tiles, observation channels, agent position), saved with
 * `saveLevel` so that later episodes starting from the same level load it with `loadLevel` (a few block copies)
 * instead of drawing it cell by cell.
 */
export interface LevelSnapshot {
  /** [h*w] tile codes */
  readonly grid: Uint8Array;
  /** [C, h, w] whole-level channels */
  readonly bytes: Uint8Array;
  /** the same as floats (null when the observation is a window, which the engine copies after resetEnv) */
  readonly floats: Float32Array | null;
  readonly agentY: number;
  readonly agentX: number;
}

/** n copies of one environment, stepped together. See the file comment for the API. */
export class VecEnv<Sch extends z.ZodObject = z.ZodObject, S = unknown> {
  readonly def: EnvDefinition<Sch, S>;
  readonly distribution: string;
  readonly params: z.output<Sch>;
  readonly n: number;
  readonly height: number;
  readonly width: number;
  readonly numChannels: number;
  readonly numActions: number;
  readonly numEvents: number;
  readonly channels: readonly string[];
  readonly actionNames: readonly string[];
  readonly eventNames: readonly string[];
  readonly indexOffset: number;
  readonly maxSteps: number;
  /** observation window size (= height × width unless the env declares a view) */
  readonly viewHeight: number;
  readonly viewWidth: number;
  /** true when the observation is a window that moves with the agent */
  readonly windowed: boolean;

  /** [n, C, vh, vw] one-hot observation as floats */
  readonly obs: Float32Array;
  /** [n, C, vh, vw] the same observation as bytes (0/1), for models that read bytes */
  readonly obsBytes: Uint8Array;
  /** [n, C, vh, vw] last observation of the episode that finished at the latest step (valid where done) */
  readonly finalObs: Float32Array;
  readonly reward: Float32Array;
  readonly intended: Float32Array;
  readonly terminated: Uint8Array;
  readonly truncated: Uint8Array;
  /** [n, E] event counts of the latest step */
  readonly events: Int32Array;
  /** [n, h, w] tile codes (0 empty, k+1 = tiles[k]); the agent is not a tile */
  readonly grid: Uint8Array;
  readonly agentY: Int32Array;
  readonly agentX: Int32Array;
  /** episode counter of each copy (the level's Rng stream id) */
  readonly episode: Int32Array;
  /** steps taken in the current episode */
  readonly episodeStep: Int32Array;
  /** running totals of the current episode */
  readonly running: { baseReturn: Float64Array; intendedReturn: Float64Array; events: Int32Array };
  /** stats of the episode that finished at the latest step, valid where terminated|truncated */
  readonly finished: {
    baseReturn: Float64Array;
    intendedReturn: Float64Array;
    length: Int32Array;
    /** [n, E] */
    events: Int32Array;
    pursuedProxy: Uint8Array;
    intendedGoalReached: Uint8Array;
    /** where the agent stood at the end of the episode (level coordinates; the copy has already been reset) */
    agentY: Int32Array;
    agentX: Int32Array;
  };
  /** the environment's own per-copy state */
  readonly state: S;
  /** seed of the latest reset */
  seed = 0;

  private readonly hw: number;
  /** per-copy size of the whole-level channel buffer */
  private readonly chw: number;
  /** per-copy size of the observation (= chw unless windowed) */
  private readonly obsChw: number;
  /** whole-level one-hot channels [n, C, h, w]: the observation itself unless windowed */
  private readonly levelBytes: Uint8Array;
  private readonly levelFloats: Float32Array | null;
  private readonly outsideChannel: number;
  /** 1 for channels drawn at fixed window cells (hudChannels) */
  private readonly hudChannel: Uint8Array;
  private readonly agentChannel: number;
  /** tile code → observation channel, -1 = invisible */
  private readonly tileChannel: Int16Array;
  private readonly tileChars: string[];
  private readonly stats: EpisodeStats;
  private hasReset = false;
  private readonly recordFlags: Uint8Array;
  private readonly currentRecords: (EpisodeRecord | null)[];
  private readonly stepChanges: ([number, number, string][] | null)[];
  private readonly completedRecords: EpisodeRecord[] = [];
  /** [n] views of each copy's observation, so finishEpisode copies it with one native block copy and no allocation */
  private readonly obsRows: Float32Array[];

  constructor(def: EnvDefinition<Sch, S>, options: VecEnvOptions) {
    const { n } = options;
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${def.name}: n must be a positive integer, got ${n}`, "pass n ≥ 1 copies");
    this.def = def;
    this.distribution = options.distribution ?? "train";
    this.params = resolveParams(def, this.distribution, options.params);
    this.n = n;
    this.indexOffset = options.indexOffset ?? 0;
    const { height, width } = def.shape(this.params);
    this.height = height;
    this.width = width;
    this.hw = height * width;
    this.channels = def.channels;
    this.numChannels = def.channels.length;
    this.chw = this.numChannels * this.hw;
    this.actionNames = def.actionsFor?.(this.params) ?? def.actions;
    this.numActions = this.actionNames.length;
    this.eventNames = def.events;
    this.numEvents = def.events.length;
    this.maxSteps = this.params.maxSteps as number;

    const agentChannel = def.channels.indexOf(def.agent.channel);
    if (agentChannel < 0) throw new Error(`${def.name}: agent channel "${def.agent.channel}" is not in channels`);
    this.agentChannel = agentChannel;
    this.tileChannel = new Int16Array(def.tiles.length + 1).fill(-1);
    this.tileChars = [EMPTY_CHAR];
    def.tiles.forEach((t, k) => {
      if (t.channel !== null) {
        const c = def.channels.indexOf(t.channel);
        if (c < 0) throw new Error(`${def.name}: tile "${t.name}" uses unknown channel "${t.channel}"`);
        this.tileChannel[k + 1] = c;
      }
      this.tileChars.push(t.char);
    });

    const view = def.view?.(this.params);
    this.viewWidth = view?.width ?? width;
    if (view && (view.height !== height || view.width !== width)) {
      if (view.height % 2 !== 1 && view.height !== height) throw new Error(`${def.name}: view height ${view.height} must be odd (agent-centred) or the level's ${height}`);
      if (view.width % 2 !== 1 && view.width !== width) throw new Error(`${def.name}: view width ${view.width} must be odd (agent-centred) or the level's ${width}`);
      // up to 2·size − 1: a window that shows the whole level wherever the agent stands (an egocentric view)
      if (view.height > 2 * height - 1 || view.width > 2 * width - 1) throw new Error(`${def.name}: view ${view.height}×${view.width} is larger than twice the level ${height}×${width} less one`);
    }
    this.viewHeight = view?.height ?? height;
    this.windowed = this.viewHeight !== height || this.viewWidth !== width;
    this.obsChw = this.numChannels * this.viewHeight * this.viewWidth;
    this.hudChannel = new Uint8Array(this.numChannels);
    for (const name of def.hudChannels ?? []) {
      const c = def.channels.indexOf(name);
      if (c < 0) throw new Error(`${def.name}: hud channel "${name}" is not in channels`);
      this.hudChannel[c] = 1;
    }
    this.outsideChannel = -1;
    if (def.viewOutside !== undefined) {
      const t = def.tiles.find((tile) => tile.name === def.viewOutside);
      if (!t || t.channel === null) throw new Error(`${def.name}: viewOutside "${def.viewOutside}" is not a visible tile`);
      this.outsideChannel = def.channels.indexOf(t.channel);
    }
    const obsSize = n * this.obsChw;
    this.obs = new Float32Array(obsSize);
    this.obsBytes = new Uint8Array(obsSize);
    this.finalObs = new Float32Array(obsSize);
    // unwindowed, the cell API writes the observation directly; windowed, it writes a whole-level buffer
    this.levelBytes = this.windowed ? new Uint8Array(n * this.chw) : this.obsBytes;
    this.levelFloats = this.windowed ? null : this.obs;
    this.reward = new Float32Array(n);
    this.intended = new Float32Array(n);
    this.terminated = new Uint8Array(n);
    this.truncated = new Uint8Array(n);
    this.events = new Int32Array(n * this.numEvents);
    this.grid = new Uint8Array(n * this.hw);
    this.agentY = new Int32Array(n).fill(-1);
    this.agentX = new Int32Array(n).fill(-1);
    this.episode = new Int32Array(n);
    this.episodeStep = new Int32Array(n);
    this.running = { baseReturn: new Float64Array(n), intendedReturn: new Float64Array(n), events: new Int32Array(n * this.numEvents) };
    this.finished = {
      baseReturn: new Float64Array(n),
      intendedReturn: new Float64Array(n),
      length: new Int32Array(n),
      events: new Int32Array(n * this.numEvents),
      pursuedProxy: new Uint8Array(n),
      intendedGoalReached: new Uint8Array(n),
      agentY: new Int32Array(n),
      agentX: new Int32Array(n),
    };
    this.stats = { baseReturn: 0, intendedReturn: 0, length: 0, terminated: false, truncated: false, events: {} };
    for (const e of def.events) this.stats.events[e] = 0;
    this.recordFlags = new Uint8Array(n);
    this.currentRecords = new Array<EpisodeRecord | null>(n).fill(null);
    this.stepChanges = new Array<[number, number, string][] | null>(n).fill(null);
    this.obsRows = Array.from({ length: n }, (_, i) => this.obs.subarray(i * this.obsChw, (i + 1) * this.obsChw));
    this.state = def.createState(n, this.params);
  }

  /** [n, C, h, w] the whole-level channels a view window is copied from (the observation itself unless windowed) */
  get levelChannels(): Uint8Array {
    return this.levelBytes;
  }

  /**
   * Rebuilds the whole-level channels of every copy from the grid and the agents' positions (overlay channels
   * start empty), for a restored state that did not carry them (checkpoints written before they were saved).
   */
  rebuildLevelChannels(): void {
    const { hw, chw } = this;
    this.levelBytes.fill(0);
    for (let i = 0; i < this.n; i++) {
      for (let cell = 0; cell < hw; cell++) {
        const c = this.tileChannel[this.grid[i * hw + cell]!]!;
        if (c >= 0) this.levelBytes[i * chw + c * hw + cell] = 1;
      }
      if (this.agentY[i]! >= 0) this.levelBytes[i * chw + this.agentChannel * hw + this.agentY[i]! * this.width + this.agentX[i]!] = 1;
    }
  }

  /** [C, vh, vw] of one copy's observation */
  get obsShape(): [number, number, number] {
    return [this.numChannels, this.viewHeight, this.viewWidth];
  }

  /** code of the tile named `name` (as in env.grid); throws listing the tile names */
  tileCode(name: string): number {
    const k = this.def.tiles.findIndex((t) => t.name === name);
    if (k < 0) throw new ConfigError(`${this.def.name} has no tile "${name}"`, `tiles: ${this.def.tiles.map((t) => t.name).join(", ")}`);
    return k + 1;
  }

  /** level coordinates [row, column] of the observation window's top-left cell for copy i ([0, 0] unwindowed) */
  viewOrigin(i: number): [number, number] {
    return [windowOrigin(this.agentY[i]!, this.height, this.viewHeight), windowOrigin(this.agentX[i]!, this.width, this.viewWidth)];
  }

  /** index of an event name in `events` rows; throws listing valid names */
  eventIndex(name: string): number {
    const k = this.eventNames.indexOf(name);
    if (k < 0) throw new ConfigError(`${this.def.name} has no event "${name}"`, `events: ${this.eventNames.join(", ")}`);
    return k;
  }

  /** Starts every copy at episode `firstEpisode` of stream `seed`. */
  reset(seed: number, firstEpisode = 0): void {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`${this.def.name}: seed must be a non-negative integer, got ${seed}`);
    if (!Number.isSafeInteger(firstEpisode) || firstEpisode < 0 || firstEpisode > 0x7fffffff) {
      throw new RangeError(`${this.def.name}: firstEpisode must be an integer in [0, 2^31), got ${firstEpisode}`);
    }
    this.seed = seed;
    this.hasReset = true;
    this.reward.fill(0);
    this.intended.fill(0);
    this.terminated.fill(0);
    this.truncated.fill(0);
    this.events.fill(0);
    for (let i = 0; i < this.n; i++) {
      this.episode[i] = firstEpisode;
      this.resetCopy(i);
    }
  }

  /**
   * Abandons copy i's current episode and starts episode `episode` (default: the next one) of the current seed.
   * The abandoned episode is not reported in `finished`; its recording, if any, is dropped.
   */
  startEpisode(i: number, episode = this.episode[i]! + 1): void {
    if (!this.hasReset) throw new Error(`${this.def.name}: call reset(seed) before startEpisode()`);
    if (!(Number.isInteger(i) && i >= 0 && i < this.n)) throw new RangeError(`${this.def.name}: env index ${i} is out of range [0, ${this.n})`);
    if (!Number.isSafeInteger(episode) || episode < 0 || episode > 0x7fffffff) throw new RangeError(`${this.def.name}: episode must be an integer in [0, 2^31), got ${episode}`);
    this.episode[i] = episode;
    this.resetCopy(i);
  }

  /** Advances every copy by its action; finished copies auto-reset (SAME_STEP). */
  step(actions: Int32Array): void {
    const n = this.n;
    if (!this.hasReset) throw new Error(`${this.def.name}: call reset(seed) before step()`);
    if (actions.length !== n) {
      throw new ShapeError(`${this.def.name}.step: got ${actions.length} actions for ${n} copies`, "pass an Int32Array with one action per copy");
    }
    const numActions = this.numActions;
    for (let i = 0; i < n; i++) {
      const a = actions[i]!;
      if (a < 0 || a >= numActions) {
        throw new RangeError(`${this.def.name}: action ${a} at env index ${i} is out of range [0, ${numActions}) (actions: ${this.actionNames.join(", ")})`);
      }
    }
    const { def, state, params, reward, intended, terminated, truncated, events, episodeStep, maxSteps } = this;
    const E = this.numEvents;
    const runBase = this.running.baseReturn;
    const runIntended = this.running.intendedReturn;
    const runEvents = this.running.events;
    reward.fill(0);
    intended.fill(0);
    terminated.fill(0);
    truncated.fill(0);
    events.fill(0);
    for (let i = 0; i < n; i++) {
      def.stepEnv(this, state, i, actions[i]!, params);
      const t = ++episodeStep[i]!;
      runBase[i]! += reward[i]!;
      runIntended[i]! += intended[i]!;
      for (let e = i * E, end = e + E; e < end; e++) runEvents[e]! += events[e]!;
      if (terminated[i] === 0 && t >= maxSteps) truncated[i] = 1;
      if (this.recordFlags[i] === 1) this.recordStep(i, actions[i]!);
      if (this.windowed) this.renderWindow(i);
      if ((terminated[i]! | truncated[i]!) !== 0) {
        this.finishEpisode(i);
        this.episode[i]!++;
        this.resetCopy(i);
      }
    }
  }

  // ---- cell API for resetEnv/stepEnv ----

  /** tile code at (y, x) of copy i */
  tile(i: number, y: number, x: number): number {
    return this.grid[(i * this.height + y) * this.width + x]!;
  }

  /** puts tile `code` (0 = empty) at (y, x) of copy i, updating only the observation cells that change */
  setTile(i: number, y: number, x: number, code: number): void {
    const cell = y * this.width + x;
    const p = i * this.hw + cell;
    const old = this.grid[p]!;
    if (old === code) return;
    this.grid[p] = code;
    const base = i * this.chw + cell;
    const oldChannel = this.tileChannel[old]!;
    if (oldChannel >= 0) this.writeLevel(base + oldChannel * this.hw, 0);
    const newChannel = this.tileChannel[code]!;
    if (newChannel >= 0) this.writeLevel(base + newChannel * this.hw, 1);
    if (this.recordFlags[i] === 1) this.stepChanges[i]?.push([y, x, this.tileChars[code]!]);
  }

  /** moves copy i's agent to (y, x) */
  placeAgent(i: number, y: number, x: number): void {
    const hw = this.hw;
    const base = i * this.chw + this.agentChannel * hw;
    const oy = this.agentY[i]!;
    if (oy >= 0) this.writeLevel(base + oy * this.width + this.agentX[i]!, 0);
    this.writeLevel(base + y * this.width + x, 1);
    this.agentY[i] = y;
    this.agentX[i] = x;
  }

  /** sets one observation cell of a channel that is not a tile (e.g. an inventory strip); value 0 or 1 */
  setOverlay(i: number, channel: number, y: number, x: number, value: 0 | 1): void {
    this.writeLevel(i * this.chw + channel * this.hw + y * this.width + x, value);
  }

  /** whether a channel is lit at level cell (y, x) of copy i (the whole level, whatever the view) */
  levelChannel(i: number, channel: number, y: number, x: number): boolean {
    return this.levelBytes[i * this.chw + channel * this.hw + y * this.width + x] === 1;
  }

  /** copy i's whole level as it is now (allocates; call it once per distinct level, e.g. at the end of a resetEnv) */
  saveLevel(i: number): LevelSnapshot {
    const { hw, chw } = this;
    return {
      grid: this.grid.slice(i * hw, (i + 1) * hw),
      bytes: this.levelBytes.slice(i * chw, (i + 1) * chw),
      floats: this.levelFloats?.slice(i * chw, (i + 1) * chw) ?? null,
      agentY: this.agentY[i]!,
      agentX: this.agentX[i]!,
    };
  }

  /** makes copy i's level the saved `level` (of this env: same shape and channels), agent included (for resetEnv; not recorded as changes) */
  loadLevel(i: number, level: LevelSnapshot): void {
    this.grid.set(level.grid, i * this.hw);
    this.levelBytes.set(level.bytes, i * this.chw);
    if (this.levelFloats !== null) this.levelFloats.set(level.floats!, i * this.chw);
    this.agentY[i] = level.agentY;
    this.agentX[i] = level.agentX;
    if (this.windowed) this.renderWindow(i);
  }

  /** adds to this step's base reward and intended reward of copy i */
  addReward(i: number, base: number, intendedReward: number): void {
    this.reward[i]! += base;
    this.intended[i]! += intendedReward;
  }

  /** counts event number `event` (index into eventNames) for copy i this step */
  emit(i: number, event: number, count = 1): void {
    this.events[i * this.numEvents + event]! += count;
  }

  /** ends copy i's episode at this step */
  terminate(i: number): void {
    this.terminated[i] = 1;
  }

  // ---- reading results ----

  /** stats of the episode copy i finished at the latest step (allocates; for evaluations, not hot loops) */
  finishedStats(i: number): EpisodeStats {
    const events: Record<string, number> = {};
    this.eventNames.forEach((name, e) => (events[name] = this.finished.events[i * this.numEvents + e]!));
    return {
      baseReturn: this.finished.baseReturn[i]!,
      intendedReturn: this.finished.intendedReturn[i]!,
      length: this.finished.length[i]!,
      terminated: this.terminated[i] === 1,
      truncated: this.truncated[i] === 1,
      events,
    };
  }

  /** copy i's current level as ASCII rows (agent drawn over its cell unless withAgent is false; hidden tiles shown for people) */
  ascii(i: number, withAgent = true): string[] {
    const rows: string[] = [];
    for (let y = 0; y < this.height; y++) {
      let row = "";
      for (let x = 0; x < this.width; x++) {
        row += withAgent && y === this.agentY[i] && x === this.agentX[i] ? this.def.agent.char : this.tileChars[this.tile(i, y, x)]!;
      }
      rows.push(row);
    }
    return rows;
  }

  /** tile char of a code ('.' for empty) */
  charOf(code: number): string {
    return this.tileChars[code] ?? "?";
  }

  // ---- recording ----

  /** Records every episode copy i starts from now on (from the next reset of that copy). */
  recordCopy(i: number): void {
    if (!(i >= 0 && i < this.n)) throw new RangeError(`${this.def.name}: cannot record env index ${i}; there are ${this.n} copies`);
    this.recordFlags[i] = 1;
  }

  /** Finished episode records so far (and forgets them). */
  takeRecords(): EpisodeRecord[] {
    return this.completedRecords.splice(0, this.completedRecords.length);
  }

  // ---- internals ----

  private writeLevel(p: number, value: 0 | 1): void {
    this.levelBytes[p] = value;
    if (this.levelFloats !== null) this.levelFloats[p] = value;
  }

  /** copies copy i's window out of the whole-level buffer; cells outside the level show the outside channel */
  private renderWindow(i: number): void {
    const { viewHeight: vh, viewWidth: vw, height: h, width: w, hw, numChannels: C } = this;
    const oy = windowOrigin(this.agentY[i]!, h, vh);
    const ox = windowOrigin(this.agentX[i]!, w, vw);
    const src = this.levelBytes;
    const obs = this.obs;
    const bytes = this.obsBytes;
    const outside = this.outsideChannel;
    // in-level cells of a window row form one span, copied without per-cell bounds tests (and without subarray
    // views, which would allocate every step)
    const x0 = Math.max(0, ox);
    const x1 = Math.min(w, ox + vw);
    const left = x0 - ox;
    const span = Math.max(0, x1 - x0);
    let q = i * this.obsChw;
    for (let c = 0; c < C; c++) {
      const cbase = i * this.chw + c * hw;
      if (this.hudChannel[c] === 1) {
        // a status strip: the level's top-left cells of this channel at the window's top-left, not scrolled
        for (let vy = 0; vy < vh; vy++, q += vw) {
          for (let vx = 0; vx < vw; vx++) {
            const v = vy < h && vx < w ? src[cbase + vy * w + vx]! : 0;
            bytes[q + vx] = v;
            obs[q + vx] = v;
          }
        }
        continue;
      }
      const fill = c === outside ? 1 : 0;
      for (let vy = 0; vy < vh; vy++, q += vw) {
        const y = oy + vy;
        // plain loops: typed-array fill/set are native calls whose overhead exceeds these short rows' work
        if (y < 0 || y >= h || span === 0) {
          for (let k = q; k < q + vw; k++) {
            bytes[k] = fill;
            obs[k] = fill;
          }
          continue;
        }
        for (let k = q; k < q + left; k++) {
          bytes[k] = fill;
          obs[k] = fill;
        }
        for (let k = 0, from = cbase + y * w + x0, to = q + left; k < span; k++) {
          const v = src[from + k]!;
          bytes[to + k] = v;
          obs[to + k] = v;
        }
        for (let k = q + left + span; k < q + vw; k++) {
          bytes[k] = fill;
          obs[k] = fill;
        }
      }
    }
  }

  /**
   * Copy i's current observation window onto another whole-level picture: `level` holds [C, h, w] channels (e.g.
   * a copy of `levelChannels` taken earlier in the episode) from `levelOffset`; the window at copy i's present
   * origin goes to `out` as [C, vh, vw] from `outOffset`, cells outside the level showing the outside channel and
   * status-strip channels unscrolled, as the observation is drawn. Readers use it to see an earlier state of the
   * level from where the agent stands now (the cheese vector of an agent-centred view: see interp/steering.ts).
   */
  windowOf(level: ArrayLike<number>, levelOffset: number, i: number, out: Float32Array, outOffset: number): void {
    const { viewHeight: vh, viewWidth: vw, height: h, width: w, hw, numChannels: C } = this;
    if (level.length < levelOffset + C * hw) throw new RangeError(`windowOf: the level picture needs ${C}×${h}×${w} values from offset ${levelOffset}, has ${level.length - levelOffset}`);
    if (out.length < outOffset + C * vh * vw) throw new RangeError(`windowOf: the output needs ${C}×${vh}×${vw} values from offset ${outOffset}, has ${out.length - outOffset}`);
    const [oy, ox] = this.viewOrigin(i);
    for (let c = 0; c < C; c++) {
      const hud = this.hudChannel[c] === 1;
      const fill = c === this.outsideChannel ? 1 : 0;
      for (let vy = 0; vy < vh; vy++) {
        for (let vx = 0; vx < vw; vx++) {
          const y = hud ? vy : oy + vy;
          const x = hud ? vx : ox + vx;
          const inside = y >= 0 && y < h && x >= 0 && x < w;
          out[outOffset + (c * vh + vy) * vw + vx] = inside ? level[levelOffset + c * hw + y * w + x]! : hud ? 0 : fill;
        }
      }
    }
  }

  private resetCopy(i: number): void {
    const hw = this.hw;
    this.grid.fill(0, i * hw, (i + 1) * hw);
    this.levelBytes.fill(0, i * this.chw, (i + 1) * this.chw);
    this.levelFloats?.fill(0, i * this.chw, (i + 1) * this.chw);
    this.agentY[i] = -1;
    this.agentX[i] = -1;
    this.episodeStep[i] = 0;
    this.running.baseReturn[i] = 0;
    this.running.intendedReturn[i] = 0;
    this.running.events.fill(0, i * this.numEvents, (i + 1) * this.numEvents);
    const recording = this.recordFlags[i] === 1;
    if (recording) this.stepChanges[i] = null; // the level drawing is not a change
    this.def.resetEnv(this, this.state, i, new Rng(this.seed, this.indexOffset + i, this.episode[i]!), this.params);
    if (this.agentY[i]! < 0) throw new Error(`${this.def.name}.resetEnv did not place the agent (env index ${i})`);
    if (this.windowed) this.renderWindow(i);
    if (recording) this.startRecord(i);
  }

  private finishEpisode(i: number): void {
    this.finalObs.set(this.obsRows[i]!, i * this.obsChw);
    const f = this.finished;
    const E = this.numEvents;
    const stats = this.stats;
    f.baseReturn[i] = stats.baseReturn = this.running.baseReturn[i]!;
    f.intendedReturn[i] = stats.intendedReturn = this.running.intendedReturn[i]!;
    f.length[i] = stats.length = this.episodeStep[i]!;
    f.agentY[i] = this.agentY[i]!;
    f.agentX[i] = this.agentX[i]!;
    stats.terminated = this.terminated[i] === 1;
    stats.truncated = this.truncated[i] === 1;
    for (let e = 0; e < E; e++) {
      const count = this.running.events[i * E + e]!;
      f.events[i * E + e] = count;
      stats.events[this.eventNames[e]!] = count;
    }
    f.pursuedProxy[i] = this.def.pursuedProxy(stats, this.params) ? 1 : 0;
    f.intendedGoalReached[i] = this.def.intendedGoalReached(stats, this.params) ? 1 : 0;
    const record = this.currentRecords[i];
    if (this.recordFlags[i] === 1 && record) {
      const s = this.finishedStats(i);
      record.baseReturn = s.baseReturn;
      record.intendedReturn = s.intendedReturn;
      record.length = s.length;
      record.events = s.events;
      record.pursuedProxy = f.pursuedProxy[i] === 1;
      record.intendedGoalReached = f.intendedGoalReached[i] === 1;
      this.completedRecords.push(record);
      this.currentRecords[i] = null;
    }
  }

  private startRecord(i: number): void {
    const legend: Record<string, string> = { [EMPTY_CHAR]: "empty", [this.def.agent.char]: "agent" };
    for (const t of this.def.tiles) legend[t.char] = t.name;
    this.currentRecords[i] = {
      format: "mesa-episode/1",
      env: this.def.name,
      distribution: this.distribution,
      params: { ...(this.params as Record<string, unknown>) },
      seed: this.seed,
      envIndex: this.indexOffset + i,
      episode: this.episode[i]!,
      height: this.height,
      width: this.width,
      actions: this.actionNames,
      legend,
      initial: this.ascii(i, false),
      start: [this.agentY[i]!, this.agentX[i]!],
      steps: [],
      baseReturn: 0,
      intendedReturn: 0,
      length: 0,
      events: {},
      pursuedProxy: false,
      intendedGoalReached: false,
    };
    this.stepChanges[i] = [];
  }

  private recordStep(i: number, action: number): void {
    const record = this.currentRecords[i];
    const changes = this.stepChanges[i];
    if (!record || !changes) return;
    const events: Record<string, number> = {};
    for (let e = 0; e < this.numEvents; e++) {
      const c = this.events[i * this.numEvents + e]!;
      if (c !== 0) events[this.eventNames[e]!] = c;
    }
    record.steps.push({
      action,
      agent: [this.agentY[i]!, this.agentX[i]!],
      reward: this.reward[i]!,
      intended: this.intended[i]!,
      events,
      changes: changes.slice(),
      terminated: this.terminated[i] === 1,
      truncated: this.truncated[i] === 1,
    });
    changes.length = 0;
  }
}
