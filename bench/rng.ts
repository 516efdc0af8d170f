// `npm run bench -- rng [--json]`: draws per second of our Rng (xoshiro128**) against pure-rand's xoroshiro128+
// (its fastest generator) and Mersenne Twister, on the same work: raw 32-bit integers, uniform floats in [0, 1)
// with 32 random bits, and standard normals by Box–Muller caching the second value — exactly what Rng does.
// Each loop is written out per generator so every call site stays monomorphic; the best of several repeats counts.
import { mersenne } from "pure-rand/generator/mersenne";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { formatTable, printJson } from "../src/cli/output.js";
import { Rng } from "../src/core/rng.js";
import type { Benchmark } from "./registry.js";

const U32 = 0x1_0000_0000;
/** draws per timed run */
const DRAWS = 4_000_000;
/** timed runs per case; the fastest counts (the machine is shared, so slower runs measure others' load) */
const REPEATS = 5;

interface Next {
  next(): number;
}

/** Box–Muller with the spare cached, as Rng.normal does, over any generator's [0,1) floats. */
function normalFrom(float: () => number): () => number {
  let spare = Number.NaN;
  return () => {
    if (!Number.isNaN(spare)) {
      const v = spare;
      spare = Number.NaN;
      return v;
    }
    let u = float();
    while (u === 0) u = float();
    const v = float();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

const mesaLoops = {
  uint32(n: number): number {
    const rng = new Rng(42);
    let sink = 0;
    for (let i = 0; i < n; i++) sink ^= rng.uint32();
    return sink;
  },
  float(n: number): number {
    const rng = new Rng(42);
    let sink = 0;
    for (let i = 0; i < n; i++) sink += rng.float();
    return sink;
  },
  normal(n: number): number {
    const rng = new Rng(42);
    let sink = 0;
    for (let i = 0; i < n; i++) sink += rng.normal();
    return sink;
  },
};

function peerLoops(make: (seed: number) => Next) {
  return {
    uint32(n: number): number {
      const g = make(42);
      let sink = 0;
      for (let i = 0; i < n; i++) sink ^= g.next() >>> 0;
      return sink;
    },
    float(n: number): number {
      const g = make(42);
      let sink = 0;
      for (let i = 0; i < n; i++) sink += (g.next() >>> 0) / U32;
      return sink;
    },
    normal(n: number): number {
      const g = make(42);
      const normal = normalFrom(() => (g.next() >>> 0) / U32);
      let sink = 0;
      for (let i = 0; i < n; i++) sink += normal();
      return sink;
    },
  };
}

// separate function objects per peer (not one shared loop taking a generator), to keep each loop monomorphic
const xoroLoops = peerLoops(xoroshiro128plus);
const mtLoops = peerLoops(mersenne);

const ops = ["uint32", "float", "normal"] as const;
const generators = [
  { name: "mesa Rng (xoshiro128**)", loops: mesaLoops },
  { name: "pure-rand xoroshiro128+", loops: xoroLoops },
  { name: "pure-rand mersenne", loops: mtLoops },
] as const;

function best(loop: (n: number) => number): number {
  loop(DRAWS / 10); // warm-up so the optimizing compiler has run
  let fastest = Infinity;
  let sink = 0;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = process.hrtime.bigint();
    sink += loop(DRAWS);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    fastest = Math.min(fastest, seconds);
  }
  if (Number.isNaN(sink)) throw new Error("unreachable: keeps the loops' results alive");
  return DRAWS / fastest;
}

export const benchmark: Benchmark = {
  description: "draws/s of our seeded Rng vs pure-rand on the same work (uint32, float [0,1), normal)",
  async run({ json }) {
    const results: { op: string; generator: string; drawsPerSecond: number }[] = [];
    for (const op of ops) {
      for (const g of generators) results.push({ op, generator: g.name, drawsPerSecond: best(g.loops[op]) });
    }
    const rate = (op: string, name: string): number => results.find((r) => r.op === op && r.generator === name)!.drawsPerSecond;
    const ratios = Object.fromEntries(ops.map((op) => [op, rate(op, generators[0].name) / rate(op, generators[1].name)]));
    if (json) {
      printJson({ benchmark: "rng", drawsPerRun: DRAWS, repeats: REPEATS, statistic: "best of repeats", results, ratioMesaOverXoroshiro: ratios });
      return;
    }
    const rows = ops.map((op) => [op, ...generators.map((g) => `${(rate(op, g.name) / 1e6).toFixed(1)}M`), `${ratios[op]!.toFixed(2)}×`]);
    process.stdout.write(`${formatTable(["draw", ...generators.map((g) => g.name), "mesa / xoroshiro128+"], rows)}\n`);
    process.stdout.write(`draws per second, best of ${REPEATS} runs of ${DRAWS / 1e6}M draws (shared machine: repeat for stable figures)\n`);
  },
};
