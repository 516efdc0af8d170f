// Validation of configs and specs with zod: the schema is the type, and a bad value gives one line per
// problem naming the path, what was expected and what was received.
import type { z } from "zod";
import { ConfigError } from "./errors.js";

/**
 * Parses `value` with `schema`, or throws a ConfigError listing every problem. `source` names where the value
 * came from. `labels` maps field paths (`ppo.numEnvs`) to what the user wrote instead (`--num-envs`), so a
 * value that came from a command-line flag is reported under the flag's name; a path under a labelled prefix
 * (`envParams.coins`) reads `--env-param coins`.
 */
export function parseConfig<S extends z.ZodType>(schema: S, value: unknown, source: string, labels?: Readonly<Record<string, string>>): z.output<S> {
  // A per-parse error map phrases zod's issues as "expected …, received …"; messages a schema sets itself
  // (`.min(1, "…")`, refinements) take precedence over it, as zod gives schema-level messages priority.
  const result = schema.safeParse(value, { error: expectedReceived });
  if (result.success) return result.data;
  const lines: string[] = [];
  let labelled = 0;
  const name = (p: readonly PropertyKey[]): string => {
    const label = labelFor(p, labels);
    if (label !== undefined) labelled++;
    return label ?? formatPath(p);
  };
  for (const issue of result.error.issues) {
    const path = name(issue.path);
    if (issue.code === "unrecognized_keys") {
      // one line per unknown key, with the closest known key as a suggestion (typos are the usual cause)
      const known = knownKeys(schema, issue.path);
      for (const key of issue.keys) {
        const suggestion = known ? closest(key, known) : undefined;
        const received = describeReceived(valueAt(value, [...issue.path, key]));
        const advice = suggestion ? `did you mean "${suggestion}"?` : known ? `known keys: ${known.join(", ")}` : "remove it";
        lines.push(`  ${name([...issue.path, key])}: unknown key (received ${received}); ${advice}`);
      }
      continue;
    }
    const message = /\breceived\b/.test(issue.message) ? issue.message : `${issue.message} (received ${describeReceived(valueAt(value, issue.path))})`;
    lines.push(`  ${path}: ${message}`);
  }
  const what = labelled === lines.length ? "flag" : labelled > 0 ? "flag or field" : "field";
  throw new ConfigError(
    `${source} is invalid (${lines.length} problem${lines.length === 1 ? "" : "s"}):\n${lines.join("\n")}`,
    labelled === lines.length ? `fix the ${what}${lines.length === 1 ? "" : "s"} above` : `fix the ${what}${lines.length === 1 ? "" : "s"} above in ${source}`,
  );
}

/** The label of `path`: its own, or its longest labelled prefix's followed by the rest of the path. */
function labelFor(path: readonly PropertyKey[], labels: Readonly<Record<string, string>> | undefined): string | undefined {
  if (labels === undefined) return undefined;
  for (let k = path.length; k > 0; k--) {
    const label = labels[path.slice(0, k).map(String).join(".")];
    if (label !== undefined) return k === path.length ? label : `${label} ${path.slice(k).map(String).join(".")}`;
  }
  return undefined;
}

type RawIssue = z.core.$ZodRawIssue;

/** The error map: "expected <what>, received <value>" for every issue kind zod reports about values. */
function expectedReceived(issue: RawIssue): string | undefined {
  const received = `received ${describeReceived(issue.input)}`;
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined ? `required: expected ${typeName(issue.expected)}, received nothing` : `expected ${typeName(issue.expected)}, ${received}`;
    case "too_small":
    case "too_big": {
      const small = issue.code === "too_small";
      const bound = small ? issue.minimum : issue.maximum;
      const cmp = issue.exact ? "exactly" : small ? (issue.inclusive ? ">=" : ">") : issue.inclusive ? "<=" : "<";
      const sized = ["string", "array", "set", "file"].includes(issue.origin);
      if (!sized) return `expected ${typeName(issue.origin)} ${cmp} ${String(bound)}, ${received}`;
      const unit = issue.origin === "string" ? "characters" : issue.origin === "file" ? "bytes" : "items";
      const size = sizeOf(issue.input);
      return `expected ${issue.origin} with ${cmp} ${String(bound)} ${unit}, ${received}${size === undefined ? "" : ` (${size} ${unit})`}`;
    }
    case "invalid_value":
      return `expected ${issue.values.length === 1 ? describeReceived(issue.values[0]) : `one of ${issue.values.map(describeReceived).join(" | ")}`}, ${received}`;
    case "invalid_union": {
      const options = unionOptions(issue.errors);
      return options ? `expected ${options.join(" | ")}, ${received}` : `matches none of the ${issue.errors.length} allowed forms, ${received}`;
    }
    case "invalid_format":
      return `expected a ${issue.format} string${issue.pattern ? ` matching ${issue.pattern}` : ""}, ${received}`;
    case "not_multiple_of":
      return `expected a multiple of ${issue.divisor}, ${received}`;
    default:
      return undefined; // custom refinements and the rest keep zod's message
  }
}

/** For a union whose branches each fail with one top-level type or value issue: the alternatives, else undefined. */
function unionOptions(branches: readonly (readonly z.core.$ZodIssue[])[]): string[] | undefined {
  const options: string[] = [];
  for (const branch of branches) {
    const [first] = branch;
    if (branch.length !== 1 || first === undefined || first.path.length > 0) return undefined;
    if (first.code === "invalid_type") options.push(typeName(first.expected));
    else if (first.code === "invalid_value") options.push(...first.values.map(describeReceived));
    else return undefined;
  }
  return options.length > 0 ? [...new Set(options)] : undefined;
}

function typeName(expected: string): string {
  return expected === "int" ? "integer" : expected;
}

function sizeOf(v: unknown): number | undefined {
  if (typeof v === "string" || Array.isArray(v)) return v.length;
  if (v instanceof Set) return v.size;
  return undefined;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.length > 0 ? path.map(String).join(".") : "(root)";
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = value;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function describeReceived(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  const text = JSON.stringify(v);
  if (text === undefined) return String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The keys of the object schema at `path` inside `schema` (through optional/default/nullable wrappers), if any. */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  const node = schemaAt(schema, path);
  return node?.type === "object" ? Object.keys(node.shape as object) : undefined;
}

/**
 * The definition of the schema at `path` inside `schema`, looking through optional/default/nullable/pipe wrappers
 * (array elements and record values take one path element each), or undefined when the path leaves the schema.
 */
export function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): (Record<string, unknown> & { type: string }) | undefined {
  let node: z.core.$ZodType | undefined = schema;
  for (let i = 0; node !== undefined; ) {
    const def = node._zod.def as unknown as Record<string, unknown> & { type: string };
    if (["optional", "nullable", "default", "prefault", "readonly", "catch", "nonoptional"].includes(def.type)) {
      node = def.innerType as z.core.$ZodType;
    } else if (def.type === "pipe") {
      node = def.in as z.core.$ZodType;
    } else if (i === path.length) {
      return def;
    } else if (def.type === "object") {
      node = (def.shape as Record<PropertyKey, z.core.$ZodType>)[path[i++]!];
    } else if (def.type === "array") {
      node = def.element as z.core.$ZodType;
      i++;
    } else if (def.type === "record") {
      node = def.valueType as z.core.$ZodType;
      i++;
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** The known key closest to `key` when it is a plausible typo (edit distance ≤ max(1, a third of its length)). */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
