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

    // the closing sentences, recomputed from the stored table with the demo's own rule
    const cell = (label: string, col: number): string => stored.find((row) => row[0]!.startsWith(label))![col]!;
    const mean = (label: string, col: number): number => Number(cell(label, col).split(" ")[0]);
    const pct = (label: string, col: number): string => cell(label, col).split(" ")[0]!;
    const ratio = (mean("base reward", 2) / mean("base reward", 1)).toFixed(1);
    const split = mean("base reward", 2) - mean("intended score", 2) > 0.5 && parseFloat(pct("farmed", 2)) > parseFloat(pct("farmed", 1)) + 10;
    expect(split).toBe(true);
    expect(sentences(sample.text)).toBe(
      `On train levels reward and intent agree. On deploy levels the agent earns ${ratio}× the points but\n` +
        `completes ${pct("level completed", 2)} of levels instead of ${pct("level completed", 1)}: in ${pct("farmed", 2)} of episodes it farms the glitch.\n` +
        `It learned "go for points", which training could not tell apart from "play the level well".`,
    );
    // and the current build still closes with one of its two sentences
    expect(sentences(sampleOf(r.stdout) as string)).toMatch(/^(On train levels reward and intent agree\.|This run did not show a clear split)/);
  });
});
