// The sweep spec (YAML or JSON, validated with zod) and its expansion into jobs: fixed `base` fields, a `grid`
// (every combination) and/or `random` search over config fields, times `seeds`. Everything is checked here —
// command, field paths, values, every job's full config, metric names — so a bad spec fails before anything
// runs or is enqueued.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { closest, parseConfig, schemaAt } from "../core/config.js";
import { ConfigError, UsageError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { type AnyJobKind, loadJobKind } from "./jobs.js";

/** Sweep names become folder names and queue ids. */
export const SWEEP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** More jobs than this is almost certainly a mistake in the grid (and would not fit in one sweep.json). */
export const MAX_JOBS = 100_000;

const randomFieldSchema = z.union([
  z.object({ uniform: z.tuple([z.number(), z.number()]).refine(([lo, hi]) => lo < hi, "expected [low, high] with low < high") }).strict(),
  z.object({ logUniform: z.tuple([z.number().positive(), z.number().positive()]).refine(([lo, hi]) => lo < hi, "expected [low, high] with 0 < low < high") }).strict(),
  z.object({ int: z.tuple([z.number().int(), z.number().int()]).refine(([lo, hi]) => lo <= hi, "expected [low, high] with low <= high") }).strict(),
  z.object({ choice: z.array(z.unknown()).min(1) }).strict(),
]);
export type RandomField = z.infer<typeof randomFieldSchema>;

export const sweepSpecSchema = z
  .object({
    /** the sweep's name: its folder (`sweeps/<name>`) and its id on a queue */
    name: z.string().regex(SWEEP_NAME_RE, "expected letters, digits, '.', '_' and '-' (starting with a letter or digit)"),
    /** what each job runs: train, icl or experiment */
    command: z.string(),
    /** one line on what the sweep asks */
    description: z.string().optional(),
    /** fields every job shares (dotted paths or nested objects, as in the command's config.json) */
    base: z.record(z.string(), z.unknown()).default({}),
    /** every combination of these values is one setting */
    grid: z.record(z.string(), z.array(z.unknown())).optional(),
    /** random search: `samples` draws of these fields, each a setting (crossed with the grid when both are given) */
    random: z
      .object({
        samples: z.number().int().min(1).max(MAX_JOBS),
        /** seed of the draws (the same seed draws the same settings) */
        seed: z.number().int().min(0).default(0),
        fields: z.record(z.string(), randomFieldSchema),
      })
      .strict()
      .optional(),
    /** seeds of every setting: a list, or a count n for seeds 1..n */
    seeds: z.union([z.array(z.number().int().min(0)).min(1), z.number().int().min(1).max(10_000)]).default(1),
    /** metrics summarised per setting (default: the command's main ones); every job records all it has */
    metrics: z.array(z.string()).min(1).optional(),
    /** options of the command (e.g. train: evaluate, defaults) */
    options: z.record(z.string(), z.unknown()).default({}),
    /** how many times a failed job is run again before it counts as failed */
    retries: z.number().int().min(0).max(10).default(0),
  })
  .strict();
export type SweepSpec = z.output<typeof sweepSpecSchema>;
export type SweepSpecInput = z.input<typeof sweepSpecSchema>;

/** One job of a sweep: a setting (the grid/random values) and a seed. */
export interface PlannedJob {
  /** j0001…, in expansion order */
  id: string;
  /** content hash of everything that determines the result (command, fields, options, seed): re-runs match on it */
  key: string;
  /** the swept values of this job, by dotted path */
  settings: Record<string, unknown>;
  /** the settings as one readable label ("ppo.entCoef=0.01 envParams.randomCoinFraction=0.1") */
  setting: string;
  seed: number;
  /** the job's config, validated by its command */
  config: unknown;
}

export interface SweepPlan {
  spec: SweepSpec;
  kind: AnyJobKind;
  /** the command's options, validated (defaults filled) */
  options: unknown;
  /** the swept dotted paths, in spec order */
  sweptFields: string[];
  seeds: number[];
  jobs: PlannedJob[];
  /** the metrics summarised per setting */
  metrics: string[];
}

/** Reads and validates a spec file (YAML, or JSON, which is YAML too). */
export function readSweepSpec(path: string): SweepSpec {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${path}: cannot read the sweep spec (${code === "ENOENT" ? "no such file" : (code ?? (err as Error).message)})`, "write one with `mesa sweep init --out sweep.yaml`");
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML/JSON (${(err as Error).message.split("\n")[0]})`, "fix the syntax at the line named above");
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(`${path}: a sweep spec is a mapping (name, command, grid, seeds…), got ${Array.isArray(raw) ? "a list" : JSON.stringify(raw)}`, "start from `mesa sweep init`");
  return parseSweepSpec(raw, path);
}

/** Validates a spec object; `source` names it in errors. */
export function parseSweepSpec(raw: unknown, source = "sweep spec"): SweepSpec {
  const spec = parseConfig(sweepSpecSchema, raw, source);
  if (spec.grid !== undefined) {
    const fields = Object.keys(spec.grid);
    if (fields.length === 0) throw new ConfigError(`${source}: grid is empty`, "add a field with a list of values (grid: { ppo.entCoef: [0.01, 0.05] }), or remove grid to sweep seeds only");
    for (const field of fields) {
      if (spec.grid[field]!.length === 0) throw new ConfigError(`${source}: grid.${field} has no values, so the grid has no jobs`, `give ${field} at least one value, or remove it from grid`);
    }
  }
  if (spec.random !== undefined && Object.keys(spec.random.fields).length === 0) {
    throw new ConfigError(`${source}: random.fields is empty`, "add a field to draw (random: { samples: 4, fields: { ppo.learningRate: { logUniform: [1e-4, 1e-3] } } }), or remove random");
  }
  return spec;
}

/** Expands a validated spec into its jobs, building and validating every job's config. */
export async function planSweep(spec: SweepSpec, source = "sweep spec"): Promise<SweepPlan> {
  const kind = await loadJobKind(spec.command, `${source}: command`);
  const options = parseConfig(kind.optionsSchema, spec.options, `${source}: options (of ${kind.name})`);

  // every field path must exist in the command's config, be given once, and not be the seed
  const base = flatten(spec.base);
  const origins = new Map<string, string>();
  const claim = (path: string, where: string): void => {
    checkFieldPath(kind, path, `${source}: ${where}`);
    for (const [other, otherWhere] of origins) {
      if (other === path || other.startsWith(`${path}.`) || path.startsWith(`${other}.`)) {
        throw new ConfigError(`${source}: ${where} and ${otherWhere} both set ${other === path ? path : `${path} / ${other}`}`, "give each field in one place only: base for fixed values, grid or random for swept ones");
      }
    }
    origins.set(path, where);
  };
  for (const path of Object.keys(base)) claim(path, `base.${path}`);
  for (const path of Object.keys(spec.grid ?? {})) claim(path, `grid.${path}`);
  for (const path of Object.keys(spec.random?.fields ?? {})) claim(path, `random.fields.${path}`);

  const settings = expandSettings(spec);
  const seeds = typeof spec.seeds === "number" ? Array.from({ length: spec.seeds }, (_, i) => i + 1) : [...spec.seeds];
  if (new Set(seeds).size !== seeds.length) throw new ConfigError(`${source}: seeds lists a seed twice (${seeds.join(", ")})`, "give each seed once");
  const total = settings.length * seeds.length;
  if (total > MAX_JOBS) throw new ConfigError(`${source}: ${settings.length} settings × ${seeds.length} seeds = ${total} jobs, more than ${MAX_JOBS}`, "use fewer grid values, random samples or seeds");
  const sweptFields = [...Object.keys(spec.grid ?? {}), ...Object.keys(spec.random?.fields ?? {})];

  const jobs: PlannedJob[] = [];
  const width = String(total).length;
  const seenKeys = new Set<string>();
  for (const setting of settings) {
    const label = settingLabel(setting, sweptFields);
    for (const seed of seeds) {
      const flat: Record<string, unknown> = { ...base, ...setting, [kind.seedPath]: seed };
      const id = `j${String(jobs.length + 1).padStart(Math.max(4, width), "0")}`;
      const config = kind.buildConfig(unflatten(flat), options, `${source}: job ${id} (${label}, seed ${seed})`);
      const key = jobKey(kind.name, flat, options);
      if (seenKeys.has(key)) throw new ConfigError(`${source}: job ${id} (${label}, seed ${seed}) repeats an earlier job exactly`, "random search drew the same setting twice, or a grid lists a value twice; remove the duplicate");
      seenKeys.add(key);
      jobs.push({ id, key, settings: setting, setting: label, seed, config });
    }
  }

  const metrics = spec.metrics ?? [...new Set(jobs.flatMap((job) => kind.defaultMetrics(job.config, options)))];
  const known = new Set<string>();
  for (const job of jobs) for (const m of kind.metricNames(job.config, options)) known.add(m);
  const unknown = metrics.filter((m) => !known.has(m));
  if (unknown.length > 0) {
    const list = [...known];
    const lines = unknown.map((m) => {
      const guess = closest(m, list);
      return `  ${m}${guess ? `: did you mean "${guess}"?` : ""}`;
    });
    throw new ConfigError(`${source}: metrics names ${unknown.length === 1 ? "a metric" : "metrics"} no ${kind.name} job of this sweep records:\n${lines.join("\n")}`, `${kind.name} jobs here record: ${list.join(", ")}`);
  }
  return { spec, kind, options, sweptFields, seeds, jobs, metrics: [...new Set(metrics)] };
}

/** Reads, validates and expands a spec file. */
export async function planSweepFile(path: string): Promise<SweepPlan> {
  return planSweep(readSweepSpec(path), path);
}

/** Every setting: the grid's combinations (last field fastest), each crossed with the random draws. */
function expandSettings(spec: SweepSpec): Record<string, unknown>[] {
  let settings: Record<string, unknown>[] = [{}];
  for (const [field, values] of Object.entries(spec.grid ?? {})) {
    settings = settings.flatMap((s) => values.map((v) => ({ ...s, [field]: v })));
  }
  if (spec.random === undefined) return settings;
  const rng = new Rng(spec.random.seed, "sweep/random");
  const draws: Record<string, unknown>[] = [];
  for (let s = 0; s < spec.random.samples; s++) {
    const draw: Record<string, unknown> = {};
    for (const [field, dist] of Object.entries(spec.random.fields)) draw[field] = drawValue(dist, rng);
    draws.push(draw);
  }
  return settings.flatMap((s) => draws.map((d) => ({ ...s, ...d })));
}

function drawValue(dist: RandomField, rng: Rng): unknown {
  if ("uniform" in dist) return roundDraw(rng.uniform(dist.uniform[0], dist.uniform[1]));
  if ("logUniform" in dist) return roundDraw(Math.exp(rng.uniform(Math.log(dist.logUniform[0]), Math.log(dist.logUniform[1]))));
  if ("int" in dist) return dist.int[0] + rng.int(dist.int[1] - dist.int[0] + 1);
  return dist.choice[rng.int(dist.choice.length)];
}

/** Drawn reals keep 6 significant digits, so labels, CSV columns and re-typed values match exactly. */
function roundDraw(x: number): number {
  return Number(x.toPrecision(6));
}

/** Checks that `path` names a field of the kind's config (a record field such as envParams takes any key below). */
function checkFieldPath(kind: AnyJobKind, path: string, where: string): void {
  const parts = path.split(".");
  if (parts.some((p) => p === "")) throw new ConfigError(`${where}: "${path}" is not a field path`, "write fields as dotted paths, e.g. ppo.entCoef");
  if (path === kind.seedPath || path.startsWith(`${kind.seedPath}.`)) {
    throw new ConfigError(`${where}: ${path} is set by the sweep's seeds`, "list seeds in `seeds` (a list, or a count n for 1..n)");
  }
  for (let i = 0; i < parts.length; i++) {
    const parent = schemaAt(kind.configSchema, parts.slice(0, i));
    if (parent?.type === "record") return;
    if (parent?.type !== "object") {
      throw new ConfigError(`${where}: ${parts.slice(0, i).join(".")} is a single value; it has no field "${parts[i]}"`, `set ${parts.slice(0, i).join(".")} itself`);
    }
    if (!(parts[i]! in (parent.shape as object))) {
      const all = fieldPaths(kind.configSchema);
      const guess = closest(path, all);
      throw new ConfigError(`${where}: ${kind.name} jobs have no field "${path}"${guess ? `; did you mean "${guess}"?` : ""}`, `${kind.name} fields: ${all.join(", ")}`);
    }
  }
}

/** Every dotted leaf path of a config schema (a record field appears as `field.<key>`). */
export function fieldPaths(schema: z.ZodType, prefix: string[] = []): string[] {
  const def = schemaAt(schema, prefix);
  if (def?.type === "object") return Object.keys(def.shape as object).flatMap((k) => fieldPaths(schema, [...prefix, k]));
  if (def?.type === "record") return [`${prefix.join(".")}.<key>`];
  return [prefix.join(".")];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Nested objects → dotted paths (`{ppo: {entCoef: 1}}` → `{"ppo.entCoef": 1}`); arrays and values stay leaves. */
export function flatten(obj: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(v) && Object.keys(v).length > 0) Object.assign(out, flatten(v, path));
    else out[path] = v;
  }
  return out;
}

/** Dotted paths → nested objects; an object value merges into what is already at its path. */
export function unflatten(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(flat)) {
    const parts = path.split(".");
    let node = out;
    for (const part of parts.slice(0, -1)) {
      if (!isPlainObject(node[part])) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    const last = parts[parts.length - 1]!;
    node[last] = isPlainObject(value) && isPlainObject(node[last]) ? { ...(node[last] as object), ...value } : value;
  }
  return out;
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isPlainObject(value)) {
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function jobKey(command: string, fields: Record<string, unknown>, options: unknown): string {
  return createHash("sha256").update(canonicalJson({ command, fields, options })).digest("hex").slice(0, 16);
}

function settingLabel(setting: Record<string, unknown>, fields: readonly string[]): string {
  if (fields.length === 0) return "(base)";
  return fields.map((f) => `${f}=${typeof setting[f] === "string" ? setting[f] : JSON.stringify(setting[f])}`).join(" ");
}
