// Episode records as JSON files: save, load (validated), and replay — a record holds the seed, env index and
// episode of its level plus every action, so replaying the actions must reproduce every step exactly.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { writeJsonAtomic } from "../io/atomic.js";
import { parseConfig } from "../core/config.js";
import type { EpisodeRecord } from "./engine.js";
import { makeVecEnv } from "./make.js";

const cell = z.tuple([z.number().int().min(0), z.number().int().min(0)]);

/** The schema of an episode record file (format "mesa-episode/1"). */
export const episodeRecordSchema = z.object({
  format: z.literal("mesa-episode/1"),
  env: z.string(),
  distribution: z.string(),
  params: z.record(z.string(), z.unknown()),
  seed: z.number().int().min(0),
  envIndex: z.number().int().min(0),
  episode: z.number().int().min(0),
  height: z.number().int().min(1),
  width: z.number().int().min(1),
  actions: z.array(z.string()),
  legend: z.record(z.string(), z.string()),
  initial: z.array(z.string()),
  start: cell,
  steps: z.array(
    z.object({
      action: z.number().int().min(0),
      agent: cell,
      reward: z.number(),
      intended: z.number(),
      events: z.record(z.string(), z.number()),
      changes: z.array(z.tuple([z.number().int(), z.number().int(), z.string().length(1)])),
      terminated: z.boolean(),
      truncated: z.boolean(),
    }),
  ),
  baseReturn: z.number(),
  intendedReturn: z.number(),
  length: z.number().int().min(0),
  events: z.record(z.string(), z.number()),
  pursuedProxy: z.boolean(),
  intendedGoalReached: z.boolean(),
});

/** Writes a record as JSON (atomically). */
export function saveEpisode(path: string, record: EpisodeRecord): void {
  writeJsonAtomic(path, record);
}

/** Reads and validates a record file. */
export function loadEpisode(path: string): EpisodeRecord {
  return parseConfig(episodeRecordSchema, JSON.parse(readFileSync(path, "utf8")), path) as EpisodeRecord;
}

/**
 * Plays `actions` from the start of episode `episode` of copy `envIndex` (seed `seed`) and returns the record.
 * With the actions of an existing record this replays it; the episode must end on the last action.
 */
export function recordActions(
  env: string,
  level: { distribution: string; params?: Record<string, unknown>; seed: number; envIndex: number; episode: number },
  actions: readonly number[],
): EpisodeRecord {
  const vec = makeVecEnv(env, { n: 1, distribution: level.distribution, params: level.params ?? {}, indexOffset: level.envIndex });
  vec.recordCopy(0);
  vec.reset(level.seed, level.episode);
  const a = new Int32Array(1);
  for (const [t, action] of actions.entries()) {
    a[0] = action;
    vec.step(a);
    const done = vec.terminated[0]! | vec.truncated[0]!;
    if (done && t < actions.length - 1) throw new RangeError(`${env}: the episode ended at step ${t + 1} of ${actions.length} actions`);
  }
  const [record] = vec.takeRecords();
  if (!record) throw new RangeError(`${env}: ${actions.length} actions did not finish the episode`);
  return record;
}

/** Replays a record's actions on a fresh environment; the result equals the record when nothing has changed. */
export function replayEpisode(record: EpisodeRecord): EpisodeRecord {
  return recordActions(record.env, record, record.steps.map((s) => s.action));
}
