#!/usr/bin/env node
// Keeps the README's stored demo output honest: runs the command the README names above its sample (e.g.
// `npx mesa demo --seed 1` with `MESA_BACKEND=blas`) on the current build and compares its table and closing
// sentences with the sample (`--check`, exit 1 on a difference) or writes them into the README (`--write`).
// The sample sits between `<!-- demo-sample: … -->` and `<!-- /demo-sample -->`. A full demo trains for about
// 20 s to a few minutes, so this is a release step, not part of `npm test` (which checks the sample's layout
// against the current build and its sentences against its own table: test/readme.test.ts).
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const readmePath = fileURLToPath(new URL("../README.md", import.meta.url));
const bin = fileURLToPath(new URL("../bin/mesa.js", import.meta.url));

/** The sample block: its marker's command and backend, and the text between the ```text fences. */
export function readSample(readme) {
  const m = /<!-- demo-sample: npx mesa (demo[^()]*?)\s*\(MESA_BACKEND=(\w+)\) -->\n([\s\S]*?)<!-- \/demo-sample -->/.exec(readme);
  if (m === null) throw new Error("README.md has no <!-- demo-sample: npx mesa demo … (MESA_BACKEND=…) --> block");
  const fenced = /```text\n([\s\S]*?)```/.exec(m[3]);
  if (fenced === null) throw new Error("the README's demo sample has no ```text block");
  return { args: m[1].trim().split(/\s+/), backend: m[2], text: fenced[1], start: m.index, block: m[0] };
}

/** The part of `mesa demo`'s stdout the README stores: the table and the sentences under it. */
export function sampleOf(stdout) {
  const start = stdout.indexOf("points-bug (");
  const end = stdout.indexOf("\nA deployed episode");
  if (start < 0) throw new Error(`mesa demo printed no table:\n${stdout}`);
  return `${stdout.slice(start, end < 0 ? undefined : end).trimEnd()}\n`;
}

function main() {
  const mode = process.argv[2];
  if (mode !== "--check" && mode !== "--write") {
    process.stderr.write("usage: node scripts/readme-demo.mjs --check | --write\n");
    process.exit(2);
  }
  const readme = readFileSync(readmePath, "utf8");
  const sample = readSample(readme);
  // the user's environment as it is (OpenBLAS's kernel choice, e.g. OPENBLAS_CORETYPE, can change the last bits)
  const env = { ...process.env, MESA_BACKEND: sample.backend };
  process.stderr.write(`running: MESA_BACKEND=${sample.backend} mesa ${sample.args.join(" ")}\n`);
  const r = spawnSync(process.execPath, [bin, ...sample.args, "--out", fileURLToPath(new URL("../runs", import.meta.url))], { encoding: "utf8", env, stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const now = sampleOf(r.stdout);
  if (mode === "--check") {
    if (now === sample.text) {
      process.stdout.write("the README's demo sample matches the current build\n");
      return;
    }
    process.stdout.write(`the README's demo sample differs from the current build.\nREADME:\n${sample.text}\nnow:\n${now}`);
    process.exit(1);
  }
  const block = sample.block.replace(sample.text, now);
  writeFileSync(readmePath, readme.replace(sample.block, block));
  process.stdout.write(now === sample.text ? "unchanged\n" : "README.md updated\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
