// The README's stored demo output against the current build: it names the command and backend that printed it,
// its table has exactly the rows the current `mesa demo` prints, and its closing sentences are the ones the demo
// computes from that very table. (The numbers themselves need a full training run — 20 s to minutes —
// so `node scripts/readme-demo.mjs --check` reruns the named command and compares every character.)
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain ESM script without type declarations
import { readSample, sampleOf } from "../scripts/readme-demo.mjs";
import { demoVerdict } from "../src/cli/demo.js";
import type { EvaluationResult } from "../src/rl/evaluate.js";
import { wilsonInterval } from "../src/rl/stats.js";
import { runMesa } from "./cli/run_mesa.js";

const root = mkdtempSync(join(tmpdir(), "mesa-readme-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Sample {
  args: string[];
  backend: string;
  text: string;
}

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

/** The table's rows as [label, cells…] (columns are separated by two or more spaces). */
function rows(text: string): string[][] {
  const lines = text.split("\n");
  const rule = lines.findIndex((l) => l.startsWith("─"));
  const table = lines.slice(0, lines.indexOf("", rule));
  return table.filter((_, i) => i !== rule).map((l) => l.trim().split(/\s{2,}/));
}

/** The sentences under the table. */
function sentences(text: string): string {
  const lines = text.split("\n");
  const rule = lines.findIndex((l) => l.startsWith("─"));
  return lines.slice(lines.indexOf("", rule) + 1).join("\n").trim();
}

describe("the README's demo sample", () => {
  const sample = readSample(readme) as Sample;

  it("names the command and backend that printed it", () => {
    expect(sample.args[0]).toBe("demo");
    expect(["blas", "wasm", "js"]).toContain(sample.backend);
    expect(readme).toMatch(/<!-- demo-sample: npx mesa demo[^\n]*-->\n[^`]*Example output/);
  });

  it("has the rows the current build prints and the sentences it computes from its own table", async () => {
    const r = await runMesa("demo", "--steps", "2048", "--episodes", "20", "--out", root);
    expect(r.status, r.stderr).toBe(0);
    const now = rows(sampleOf(r.stdout) as string);
    const stored = rows(sample.text);
    expect(stored.map((row) => row[0]!.replace(/\d+ episodes/, "N episodes"))).toEqual(now.map((row) => row[0]!.replace(/\d+ episodes/, "N episodes")));
    expect(stored.map((row) => row.length)).toEqual(now.map((row) => row.length));

    // the closing sentences, recomputed from the stored table with the demo's own rule (one seed: each baseline's
    // interval is the Wilson interval of its rate over the stated number of episodes, as evaluate() computes it)
    const episodes = Number(/\((\d+) episodes each\)/.exec(stored[0]![0]!)?.[1]);
    expect(episodes).toBeGreaterThan(0);
    const cell = (label: string, col: number): string => stored.find((row) => row[0]!.startsWith(label))![col]!;
    const rate = (text: string): number => parseFloat(text) / 100;
    const figure = (label: string, col: number): { value: number; ci95: [number, number] } => {
      const m = /^([\d.]+)% \[([\d.]+)%, ([\d.]+)%\]$/.exec(cell(label, col));
      expect(m, `${label}: "${cell(label, col)}"`).not.toBeNull();
      return { value: Number(m![1]) / 100, ci95: [Number(m![2]) / 100, Number(m![3]) / 100] };
    };
    const baseline = (col: number): EvaluationResult => {
      const farmed = rate(cell("farmed", col));
      return { misgeneralization_rate: farmed, misgeneralization_ci95: wilsonInterval(Math.round(farmed * episodes), episodes).ci95, intended_goal_rate: rate(cell("level completed", col)) } as EvaluationResult;
    };
    const verdict = demoVerdict(figure("farmed", 2), figure("level completed", 2), baseline(3), baseline(4), baseline(5), figure("farmed", 1), 1);
    expect(sentences(sample.text)).toBe(verdict.text);
    // and the current build still closes with sentences of the same form
    expect(sentences(sampleOf(r.stdout) as string)).toMatch(/^On deploy levels the agent farmed the glitch in /);
  });
});
