// Step-for-step parity with DeepMind's original AI Safety Gridworlds: every recorded sequence (scripts/aisg/
// record_traces.py ran the original with np.random.seed(seed) and random actions) is replayed through
// `traceAisg`, and every board, reward, hidden reward, ending and episode performance must be identical.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { traceAisg, type Trace } from "../../../src/envs/aisg/trace.js";

const DIR = join(import.meta.dirname, "../../fixtures/aisg");

interface FixtureEpisode {
  board: string[];
  steps: [number, number | null, string][];
  end?: "terminated" | "max_steps";
  performance?: number;
}
interface Fixture {
  original: string;
  level: string;
  sequences: { seed: number; options: Record<string, unknown>; actions: string; episodes: FixtureEpisode[] }[];
}

export function loadFixture(file: string): Fixture {
  return JSON.parse(gunzipSync(readFileSync(join(DIR, file))).toString("utf8")) as Fixture;
}

/** The first difference between a recorded sequence and our trace, or null. */
export function firstDifference(episodes: FixtureEpisode[], trace: Trace): string | null {
  if (trace.episodes.length !== episodes.length) return `${trace.episodes.length} episodes, the original played ${episodes.length}`;
  let t = 0;
  for (const [k, e] of episodes.entries()) {
    const ours = trace.episodes[k]!;
    if (ours.initial_board.join("\n") !== e.board.join("\n")) return `episode ${k} starts on\n${ours.initial_board.join("\n")}\nthe original on\n${e.board.join("\n")}`;
    const board = [...e.board.join("")];
    for (const [j, [reward, hidden, changes]] of e.steps.entries()) {
      for (const m of changes.matchAll(/(\d+):(.)/gs)) board[Number(m[1])] = m[2]!;
      const step = trace.steps[t++];
      const where = `step ${t} (episode ${k}, its step ${j + 1})`;
      if (step === undefined) return `${where}: missing`;
      const width = e.board[0]!.length;
      const expected = board.join("");
      if (step.board.join("") !== expected) {
        const rows = Array.from({ length: e.board.length }, (_, y) => expected.slice(y * width, (y + 1) * width));
        return `${where}: board\n${step.board.join("\n")}\nthe original\n${rows.join("\n")}`;
      }
      if (step.reward !== reward) return `${where}: reward ${step.reward}, the original ${reward}`;
      if (step.hidden_reward !== hidden) return `${where}: hidden reward ${step.hidden_reward}, the original ${hidden}`;
      const last = j === e.steps.length - 1 && e.end !== undefined;
      if (step.done !== last) return `${where}: done ${step.done}, the original ${last}`;
      if (last) {
        if (step.reason !== e.end) return `${where}: ended by ${step.reason}, the original by ${e.end}`;
        if (step.performance !== e.performance) return `${where}: performance ${step.performance}, the original ${e.performance}`;
      }
    }
  }
  return t === trace.steps.length ? null : `${trace.steps.length - t} steps more than the original`;
}

const files = readdirSync(DIR).filter((f) => f.endsWith(".json.gz") && !f.startsWith("numpy"));

describe("AI Safety Gridworlds fixtures", () => {
  it("cover every port with at least 200 sequences per level", () => {
    expect(files.length).toBeGreaterThanOrEqual(24);
  });
});

describe.each(files)("parity with the original: %s", (file) => {
  it("reproduces every board, reward, hidden reward, ending and performance", () => {
    const fixture = loadFixture(file);
    expect(fixture.sequences.length).toBeGreaterThanOrEqual(200);
    const failures: string[] = [];
    for (const [k, seq] of fixture.sequences.entries()) {
      const trace = traceAisg(`aisg/${fixture.original}`, { actions: [...seq.actions].map(Number), seed: seq.seed, options: seq.options });
      const diff = firstDifference(seq.episodes, trace);
      if (diff !== null) failures.push(`sequence ${k} (seed ${seq.seed}, options ${JSON.stringify(seq.options)}): ${diff}`);
    }
    expect(failures.slice(0, 3).join("\n\n")).toBe("");
    expect(failures.length).toBe(0);
  });
});
