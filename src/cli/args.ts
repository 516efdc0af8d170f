// Parsers for command-line values shared by every command, so a flag means the same thing and fails the same
// way (a UsageError naming the flag and the value) wherever it appears.
import { UsageError } from "../core/errors.js";
import { environments } from "../envs/registry.js";
import { policyKinds } from "../nn/models/policy.js";

/** Parses a positive count that may be written like 1e6 or 1_000_000. */
export function parseCount(value: string, flag: string): number {
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isFinite(n) || n <= 0 || !Number.isInteger(n)) throw new UsageError(`${flag} must be a positive integer (1e6 is fine), got "${value}"`);
  return n;
}

/** Parses a seed or index: a non-negative integer (0 when the flag is absent). */
export function parseSeed(value: string | undefined, flag = "--seed"): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} must be a non-negative integer, got "${value}"`, `e.g. ${flag} 7`);
  return n;
}

/** commander collector for a repeatable `--flag key=value` */
export function collectParam(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Turns `key=value` strings into an object; values are read as JSON (numbers, booleans) or kept as text. */
export function parseKeyValues(pairs: readonly string[], flag: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`${flag} "${pair}" is not key=value`, `write e.g. ${flag} randomCoinFraction=0.1`);
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: keep the text
    }
    out[pair.slice(0, at)] = value;
  }
  return out;
}

export function checkEnvName(name: string): void {
  if (!(name in environments)) throw new UsageError(`unknown environment "${name}"`, `choose one of: ${Object.keys(environments).join(", ")}`);
}

export function checkModelName(name: string): void {
  const kinds = policyKinds().map((k) => k.kind);
  if (!kinds.includes(name)) throw new UsageError(`unknown model "${name}"`, `choose one of: ${kinds.join(", ")}`);
}

/** Parses a finite number within [min, max] (inclusive). */
export function parseNumber(value: string, flag: string, range: { min?: number; max?: number } = {}): number {
  const n = Number(value);
  const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY } = range;
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    const bounds = Number.isFinite(min) && Number.isFinite(max) ? ` between ${min} and ${max}` : Number.isFinite(min) ? ` ≥ ${min}` : Number.isFinite(max) ? ` ≤ ${max}` : "";
    throw new UsageError(`${flag} must be a number${bounds}, got "${value}"`);
  }
  return n;
}

/** Splits a comma-separated list, trimming items and dropping empty ones. */
export function parseList(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}
