// The command line's shared vocabulary and its one validation layer. Every command parses its flags with these
// functions before it does any work, so a flag means the same thing, has the same limits and fails the same way
// (a UsageError naming the flag, the value and how to fix it) wherever it appears. New commands should reuse:
//
//   flags        --out DIR (every output folder), --env-param k=v (env parameters, repeatable), --seed N
//                (0 … 2^32−1), --steps N (env steps, rounded down to whole PPO updates and announced),
//                --episodes N, --json; defaults are shown by `mesa <command> --help` as "(default: X)".
//   parsers      parseCount, parseInteger, parseNumber, parseSeed, parseNumberList, parseList, parseKeyValues,
//                parseKeepCheckpoints, checkEnvName, checkModelName
//   targets      checkOutputDir / checkOutputFile: refuse a read-only, unwritable or wrong-kind target up front
//   options      envParamOption / envParams (with the deprecated `--param` spelling), deprecatedAlias,
//                givenOnCommandLine (was a flag typed or left at its default?)
//   run configs  RUN_FLAGS: the config field each training flag sets, so config errors name the flag
//
// Run locking lives in src/io/rundir.ts, interruption (SIGINT/SIGTERM) in src/cli/interrupt.ts.
import { type Command, Option } from "commander";
import { UsageError } from "../core/errors.js";
import { environments } from "../envs/registry.js";
import { policyKinds } from "../nn/models/policy.js";
import { assertWritableDir, assertWritableFile } from "../io/atomic.js";
import { log } from "./output.js";

/** Seeds are 32-bit everywhere (numpy's and most tools' range); evaluation adds offsets and stays a safe integer. */
export const SEED_MAX = 2 ** 32 - 1;

/**
 * The most levels a command steps at once (`--levels` of objective, infer-objective and the objective-inference
 * experiment: one env copy per level, all in memory together).
 */
export const MAX_LEVELS_AT_ONCE = 100_000;

/** Processes a sweep pool or worker may run at once (`--workers`): each is a Node process with its own memory. */
export const MAX_WORKERS = 256;

/** Training seeds an experiment may ask for per value or condition (`--seeds`). */
export const MAX_SEEDS = 1000;

/** Reads an integer written like 1000, 1e6 or 1_000_000; NaN when it is not a number. */
function readNumber(value: string): number {
  const text = value.trim().replaceAll("_", "");
  return text === "" ? Number.NaN : Number(text);
}

/**
 * Parses a positive integer count (1e6 and 1_000_000 are fine). `max` caps it (default: the largest integer a
 * double holds exactly); `example` is the value the hint suggests.
 */
export function parseCount(value: string, flag: string, options: { max?: number; example?: string } = {}): number {
  return parseInteger(value, flag, { min: 1, ...options });
}

/** Parses an integer in [min, max] (1e6 and 1_000_000 are fine). */
export function parseInteger(value: string, flag: string, options: { min?: number; max?: number; example?: string } = {}): number {
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const n = readNumber(value);
  const example = options.example ?? String(Math.max(min, Math.min(max, 1000)));
  const range = max === Number.MAX_SAFE_INTEGER ? (min === 1 ? "a positive integer" : min === 0 ? "a non-negative integer" : `an integer ≥ ${min}`) : `an integer from ${min} to ${formatLimit(max)}`;
  if (!Number.isFinite(n) || !Number.isInteger(n) || n < min || n > max) {
    const why = !Number.isFinite(n) ? "" : !Number.isInteger(n) ? " (not a whole number)" : n > Number.MAX_SAFE_INTEGER ? " (too large to count exactly)" : "";
    throw new UsageError(`${flag} must be ${range}, got "${value}"${why}`, `e.g. ${flag} ${example}`);
  }
  return n;
}

/** Parses a finite number; `min`/`max` bound it (inclusive unless `exclusiveMin`). */
export function parseNumber(value: string, flag: string, options: { min?: number; max?: number; exclusiveMin?: boolean; example?: string } = {}): number {
  const n = readNumber(value);
  const { min, max } = options;
  const low = min === undefined ? true : options.exclusiveMin ? n > min : n >= min;
  if (!Number.isFinite(n) || !low || (max !== undefined && n > max)) {
    const range =
      min !== undefined && max !== undefined
        ? `a number from ${min} to ${max}`
        : min !== undefined
          ? options.exclusiveMin && min === 0
            ? "a positive number"
            : min === 0
              ? "a non-negative number"
              : `a number ${options.exclusiveMin ? ">" : "≥"} ${min}`
          : max !== undefined
            ? `a number ≤ ${max}`
            : "a finite number";
    throw new UsageError(`${flag} must be ${range}, got "${value}"`, options.example ? `e.g. ${flag} ${options.example}` : undefined);
  }
  return n;
}

/** Parses a seed: an integer from 0 to 2^32−1 (0 when the flag is absent). */
export function parseSeed(value: string | undefined, flag = "--seed"): number {
  if (value === undefined) return 0;
  return parseInteger(value, flag, { min: 0, max: SEED_MAX, example: "7" });
}

/** Parses a comma-separated list of numbers (`0,0.02,0.1`). */
export function parseNumberList(list: string, flag: string, example = "0,0.02,0.1,0.3"): number[] {
  const parts = list.split(",").map((s) => s.trim());
  const values = parts.map(readNumber);
  if (list.trim() === "" || values.some((v) => !Number.isFinite(v))) {
    throw new UsageError(`${flag} expects comma-separated numbers, got "${list}"`, `e.g. ${flag} ${example}`);
  }
  return values;
}

/** `--keep-checkpoints N|all`: how many of the newest checkpoints a run keeps (null: all). */
export function parseKeepCheckpoints(value: string, flag = "--keep-checkpoints"): number | null {
  if (value.trim().toLowerCase() === "all") return null;
  return parseInteger(value, flag, { min: 1, max: 1_000_000, example: "3 (or all)" });
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

export function checkEnvName(name: string, flag = "--env"): void {
  if (!(name in environments)) throw new UsageError(`unknown environment "${name}"${flag ? ` (${flag})` : ""}`, `choose one of: ${Object.keys(environments).join(", ")}`);
}

export function checkModelName(name: string): void {
  const kinds = policyKinds().map((k) => k.kind);
  if (!kinds.includes(name)) throw new UsageError(`unknown model "${name}"`, `choose one of: ${kinds.join(", ")}`);
}

/** Refuses, before any work, an output folder that is a file, read-only or not writable. */
export function checkOutputDir(dir: string, flag = "--out"): void {
  assertWritableDir(dir, `${flag} ${dir}`, `give ${flag} a folder you can write to`);
}

/** Refuses, before any work, an output file that is a folder or whose folder is read-only or not writable. */
export function checkOutputFile(path: string, flag = "--out"): void {
  assertWritableFile(path, `${flag} ${path}`);
}

/** True when the user typed the option (not its default). `key` is commander's camel-case name. */
export function givenOnCommandLine(command: Command, key: string): boolean {
  const source = command.getOptionValueSource(key);
  return source === "cli" || source === "env";
}

/** Adds a hidden old spelling of an option (repeatable when `collect` is given); read it and call warnDeprecated. */
export function deprecatedAlias(command: Command, flags: string, replacement: string, collect?: (v: string, acc: string[]) => string[]): void {
  const option = new Option(flags, `deprecated: use ${replacement}`).hideHelp();
  if (collect) option.argParser(collect).default([]);
  command.addOption(option);
}

/** Logs that `old` is deprecated in favour of `replacement` (stderr, once per call site). */
export function warnDeprecated(old: string, replacement: string): void {
  log(`note: ${old} is deprecated and will be removed; use ${replacement}`);
}

/** Adds `--env-param <key=value>` (repeatable) and the deprecated `--param` spelling. */
export function envParamOption(command: Command): Command {
  command.option("--env-param <key=value>", "environment parameter override (repeatable; see mesa envs)", collectParam, [] as string[]);
  deprecatedAlias(command, "--param <key=value>", "--env-param", collectParam);
  return command;
}

/** The env parameters of `--env-param` (and of the deprecated `--param`, with a note). */
export function envParams(options: { envParam?: string[]; param?: string[] }): Record<string, unknown> {
  const old = options.param ?? [];
  if (old.length > 0) warnDeprecated("--param", "--env-param");
  return parseKeyValues([...(options.envParam ?? []), ...old], "--env-param");
}

/** The flag that sets each run-config field, so validation errors speak of flags the user wrote. */
export const RUN_FLAGS: Readonly<Record<string, string>> = {
  env: "--env",
  distribution: "--distribution",
  envParams: "--env-param",
  model: "--model",
  hidden: "--hidden",
  keepCheckpoints: "--keep-checkpoints",
  "ppo.totalTimesteps": "--steps",
  "ppo.seed": "--seed",
  "ppo.numEnvs": "--num-envs",
  "ppo.learningRate": "--lr",
  "ppo.entCoef": "--ent-coef",
  "ppo.checkpointEvery": "--checkpoint-every",
};

/**
 * RUN_FLAGS limited to the flags `command` has: its config errors then name only flags the user can pass, and
 * fields it sets itself (an experiment's rollout size) by their config names.
 */
export function runFlagsOf(command: Command): Record<string, string> {
  const longs = new Set(command.options.map((o) => o.long));
  return Object.fromEntries(Object.entries(RUN_FLAGS).filter(([, flag]) => longs.has(flag)));
}

/** 4294967295 → "4,294,967,295"; long limits in messages read better with separators. */
export function formatLimit(n: number): string {
  return n >= 1_000_000 ? n.toLocaleString("en-US") : String(n);
}

/** Splits a comma-separated list, trimming items and dropping empty ones. */
export function parseList(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}
