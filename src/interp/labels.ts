// Labels for activation datasets, read from any environment through the engine's public state: where the agent
// and each kind of tile are, how far the agent is from them, what the agent did and what happened next, and how
// the episode ended (intended goal, proxy, neither). Per-step labels are read when the observation is taken;
// episode labels are filled in when the episode finishes.
import type { AnyEnvDefinition, VecEnv } from "../envs/engine.js";
import { pathDistances, wallCode } from "./paths.js";

/**
 * cell: a grid cell index y·width + x (NaN when absent) — a spatial classification target (of the level's grid, or
 * with `frame: "agent"` of the grid of displacements from the agent, see `offsetGrid`);
 * binary: 0/1; category: an index into `classes`; count: a non-negative integer; continuous: any number.
 */
export type LabelKind = "cell" | "binary" | "category" | "count" | "continuous";

export interface LabelSpec {
  name: string;
  kind: LabelKind;
  doc: string;
  /** names of the values of a category label */
  classes?: string[];
  /** cell labels: "agent" when the cell is a displacement from the agent (on `offsetGrid`), not a level cell */
  frame?: "agent";
}

/**
 * The grid of displacements from the agent on a level of height×width: (2·height − 1)×(2·width − 1), the agent at
 * its centre. A displacement (dy, dx) is cell (dy + height − 1)·(2·width − 1) + dx + width − 1 — the cell where an
 * agent-centred window of 2·height − 1 by 2·width − 1 tiles shows it.
 */
export function offsetGrid(level: { height: number; width: number }): { height: number; width: number } {
  return { height: 2 * level.height - 1, width: 2 * level.width - 1 };
}

/** Whether a label is a cell of the level's grid (where a goal is), not a displacement from the agent. */
export function isLevelCell(spec: LabelSpec): boolean {
  return spec.kind === "cell" && spec.frame === undefined;
}

/** The grid a cell label's values index: the level's, or the displacement grid for labels in the agent's frame. */
export function cellGridOf(spec: LabelSpec, level: { height: number; width: number }): { height: number; width: number } {
  return spec.frame === "agent" ? offsetGrid(level) : level;
}

/** The episode outcomes of `episode_outcome`, in index order. */
export const EPISODE_OUTCOMES = ["intended", "proxy", "neither"] as const;

const WALL = "wall"; // the tile paths go around (see paths.ts)

/** The labels an environment provides (same list for every distribution of it). */
export function labelSpecs(def: AnyEnvDefinition): LabelSpec[] {
  const specs: LabelSpec[] = [
    { name: "agent_cell", kind: "cell", doc: "the agent's cell (y·width + x)" },
    { name: "agent_y", kind: "count", doc: "the agent's row" },
    { name: "agent_x", kind: "count", doc: "the agent's column" },
    { name: "step", kind: "count", doc: "steps taken so far in the episode" },
  ];
  const hasWall = def.tiles.some((t) => t.name === WALL);
  for (const t of def.tiles) {
    const n = t.name;
    const seen = t.channel === null ? " (hidden from the agent)" : "";
    specs.push({ name: `${n}_count`, kind: "count", doc: `${n} tiles on the grid${seen}` });
    if (n === WALL) continue;
    specs.push(
      { name: `${n}_present`, kind: "binary", doc: `1 when at least one ${n} is on the grid${seen}` },
      { name: `${n}_cell`, kind: "cell", doc: `cell of the ${n} nearest the agent (NaN when none)${seen}` },
      {
        name: `${n}_offset_cell`,
        kind: "cell",
        frame: "agent",
        doc: `where the nearest ${n} is relative to the agent: a cell of the (2h−1)×(2w−1) grid centred on the agent, as an agent-centred window of that size shows it (NaN when none)${seen}`,
      },
      { name: `${n}_y`, kind: "count", doc: `row of the nearest ${n} (NaN when none)` },
      { name: `${n}_x`, kind: "count", doc: `column of the nearest ${n} (NaN when none)` },
      { name: `${n}_dist`, kind: "count", doc: `Manhattan distance from the agent to the nearest ${n} (NaN when none)` },
    );
    if (hasWall) specs.push({ name: `${n}_path_dist`, kind: "count", doc: `steps from the agent to the nearest ${n} moving around walls (NaN when none or unreachable)` });
  }
  specs.push({ name: "action", kind: "category", doc: "the action the policy took on this observation", classes: [...def.actions] });
  for (const e of def.events) specs.push({ name: `event_${e}`, kind: "count", doc: `times "${e}" fired on the step after this observation` });
  specs.push(
    { name: "steps_to_end", kind: "count", doc: "steps from this observation to the end of its episode" },
    { name: "episode_return", kind: "continuous", doc: "base return of the episode this sample belongs to" },
    { name: "episode_intended_return", kind: "continuous", doc: "intended return of the episode" },
    { name: "episode_intended_goal", kind: "binary", doc: `1 when the episode reached the intended goal (${def.intendedGoal})` },
    { name: "episode_pursued_proxy", kind: "binary", doc: `1 when the episode pursued the proxy (${def.proxyGoal})` },
    { name: "episode_outcome", kind: "category", doc: "how the episode ended: intended goal, proxy, or neither", classes: [...EPISODE_OUTCOMES] },
  );
  return specs;
}

/** Reads the per-step labels of copy i of `env` (before it acts) into rows of a label table. */
export class StepLabeler {
  private readonly specs: LabelSpec[];
  private readonly index: Map<string, number>;
  private readonly tileLabels: { code: number; name: string; wall: boolean }[];
  private readonly wallCode: number;
  private readonly dist: Int32Array;
  private readonly queue: Int32Array;
  private readonly nearestCell: Int32Array;
  private readonly nearestDist: Int32Array;
  private readonly tileCount: Int32Array;

  constructor(private readonly env: VecEnv) {
    this.specs = labelSpecs(env.def);
    this.index = new Map(this.specs.map((s, k) => [s.name, k]));
    this.tileLabels = env.def.tiles.map((t, k) => ({ code: k + 1, name: t.name, wall: t.name === WALL }));
    this.wallCode = wallCode(env.def);
    const cells = env.height * env.width;
    this.dist = new Int32Array(cells);
    this.queue = new Int32Array(cells);
    const kinds = env.def.tiles.length + 1;
    this.nearestCell = new Int32Array(kinds);
    this.nearestDist = new Int32Array(kinds);
    this.tileCount = new Int32Array(kinds);
  }

  get labels(): readonly LabelSpec[] {
    return this.specs;
  }

  /** column of label `name` */
  column(name: string): number {
    const k = this.index.get(name);
    if (k === undefined) throw new Error(`no label ${name}`);
    return k;
  }

  /** Writes copy i's per-step labels into `row` (episode labels are left NaN for the caller to fill). */
  read(i: number, row: Float64Array): void {
    const env = this.env;
    const { height: h, width: w } = env;
    row.fill(Number.NaN);
    const ay = env.agentY[i]!;
    const ax = env.agentX[i]!;
    row[this.column("agent_cell")] = ay * w + ax;
    row[this.column("agent_y")] = ay;
    row[this.column("agent_x")] = ax;
    row[this.column("step")] = env.episodeStep[i]!;
    // nearest tile of each kind by Manhattan distance (row-major order breaks ties), and counts
    this.nearestCell.fill(-1);
    this.nearestDist.fill(0x7fffffff);
    this.tileCount.fill(0);
    const base = i * h * w;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const code = env.grid[base + y * w + x]!;
        if (code === 0) continue;
        this.tileCount[code]!++;
        const dd = Math.abs(y - ay) + Math.abs(x - ax);
        if (dd < this.nearestDist[code]!) {
          this.nearestDist[code] = dd;
          this.nearestCell[code] = y * w + x;
        }
      }
    }
    if (this.wallCode > 0) pathDistances(env, i, ay * w + ax, this.wallCode, this.dist, this.queue);
    for (const t of this.tileLabels) {
      row[this.column(`${t.name}_count`)] = this.tileCount[t.code]!;
      if (t.wall) continue;
      const present = this.tileCount[t.code]! > 0;
      row[this.column(`${t.name}_present`)] = present ? 1 : 0;
      if (!present) continue;
      const cell = this.nearestCell[t.code]!;
      row[this.column(`${t.name}_cell`)] = cell;
      row[this.column(`${t.name}_offset_cell`)] = (Math.floor(cell / w) - ay + h - 1) * (2 * w - 1) + (cell % w) - ax + w - 1;
      row[this.column(`${t.name}_y`)] = Math.floor(cell / w);
      row[this.column(`${t.name}_x`)] = cell % w;
      row[this.column(`${t.name}_dist`)] = this.nearestDist[t.code]!;
      if (this.wallCode > 0) {
        // nearest by path: the reachable tile of this kind with the smallest BFS distance
        let best = -1;
        for (let c = 0; c < h * w; c++) if (env.grid[base + c] === t.code && this.dist[c]! >= 0 && (best < 0 || this.dist[c]! < best)) best = this.dist[c]!;
        if (best >= 0) row[this.column(`${t.name}_path_dist`)] = best;
      }
    }
  }
}
