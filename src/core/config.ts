// Validation of configs and specs with zod: the schema is the type, and a bad value gives one line per
// problem naming the path, what was expected and what was received.
import type { z } from "zod";
import { ConfigError } from "./errors.js";

/** Parses `value` with `schema`, or throws a ConfigError listing every problem. `source` names where the value came from. */
export function parseConfig<S extends z.ZodType>(schema: S, value: unknown, source: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "(root)";
    const received = describeReceived(valueAt(value, issue.path));
    return `  ${path}: ${issue.message} (received ${received})`;
  });
  throw new ConfigError(
    `${source} is invalid (${lines.length} problem${lines.length === 1 ? "" : "s"}):\n${lines.join("\n")}`,
    `fix the field${lines.length === 1 ? "" : "s"} above in ${source}`,
  );
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
  const text = JSON.stringify(v);
  if (text === undefined) return String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
