// `npm run bench -- aisg [--json] [--seconds=S] [--in-process]`: env steps per second of every AI Safety Gridworlds
// port (default level, random actions, auto-reset; after a second of warm-up) on one thread at n = 1, 64 and 256
// copies, beside DeepMind's original stepped in Python (bench/peers/aisg_original.py; it needs AISG_ORIGINAL and
// AISG_PYCOLAB pointing at checkouts of google-deepmind/ai-safety-gridworlds and google-deepmind/pycolab, and is
// skipped with a message otherwise). Each environment is measured ours, then the original, then ours again
// (interleaved, so machine load hits both sides alike); ours reports the better of the two. Both sides use one
// core: the original is single-threaded Python. Each of our measurements runs in its own Node process, as a
// training run steps one environment: stepping eleven ports in one process makes the JIT's caches of the code
// they share (the engine's step, the ports' common helpers) see eleven state layouts, which costs up to ~30% on
// the ports measured last; `--in-process` measures that way instead.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg as osLoadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Rng } from "../src/core/rng.js";
import { aisgNames } from "../src/envs/aisg/trace.js";
import { makeVecEnv } from "../src/envs/make.js";
import { formatTable, printJson } from "../src/cli/output.js";
import type { Benchmark } from "./registry.js";

const SIZES = [1, 64, 256] as const;
/** seconds of stepping before timing, so V8 has compiled the step (its compiler threads count as CPU time) */
const WARM_UP_SECONDS = 1;
const loadavg = (): number => osLoadavg()[0]!;
const ACTION_BATCHES = 64;

interface Rate {
  /** env steps per wall-clock second */
  wall: number;
  /** env steps per second of this process's CPU time (less sensitive to other processes on a shared machine) */
  cpu: number;
}

/** Measures `env` at every size in a fresh Node process (this file run with --measure); see the file comment. */
function oursInChild(env: string, seconds: number): Rate[] {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--measure", env, String(seconds)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`measuring ${env} in a child process failed (exit ${r.status}): ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  return JSON.parse(r.stdout) as Rate[];
}

/** Steps `n` copies of `env` for about `seconds`; returns env steps per second. */
function ours(env: string, n: number, seconds: number): Rate {
  const e = makeVecEnv(env, { n });
  e.reset(1);
  const rng = new Rng(7);
  const all = new Int32Array(ACTION_BATCHES * n);
  for (let k = 0; k < all.length; k++) all[k] = rng.int(4);
  const batches = Array.from({ length: ACTION_BATCHES }, (_, k) => all.subarray(k * n, (k + 1) * n));
  const warm = performance.now();
  for (let t = 0; performance.now() - warm < WARM_UP_SECONDS * 1000; t++) e.step(batches[t % ACTION_BATCHES]!);
  const chunk = Math.max(1, Math.round(4096 / n));
  let steps = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let c = 0; c < chunk; c++) e.step(batches[steps++ % ACTION_BATCHES]!);
    elapsed = (performance.now() - start) / 1000;
  } while (elapsed < seconds);
  const cpu = process.cpuUsage(cpu0);
  return { wall: (steps * n) / elapsed, cpu: (steps * n) / ((cpu.user + cpu.system) / 1e6) };
}

interface PeerResult {
  rate?: Rate;
  skipped?: string;
}

function original(name: string, seconds: number): PeerResult {
  const peer = join(dirname(fileURLToPath(import.meta.url)), "../../bench/peers/aisg_original.py");
  if (!existsSync("/usr/bin/python3")) return { skipped: "/usr/bin/python3 is not installed (apt-get install python3 python3-numpy python3-six python3-absl)" };
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  const r = spawnSync("/usr/bin/python3", ["-W", "ignore", peer, "--seconds", String(seconds), name], { encoding: "utf8", env });
  if (r.error) return { skipped: `python3 could not run: ${r.error.message}` };
  if (r.status !== 0) return { skipped: `the peer failed (exit ${r.status}): ${r.stderr.trim().split("\n").slice(-2).join(" | ")}` };
  const out = JSON.parse(r.stdout) as Record<string, { steps: number; seconds: number; cpu_seconds: number }> & { skipped?: string };
  if (typeof out.skipped === "string") return { skipped: out.skipped };
  const m = out[name]!;
  return { rate: { wall: m.steps / m.seconds, cpu: m.steps / m.cpu_seconds } };
}

export const benchmark: Benchmark = {
  description: "AI Safety Gridworlds ports: env steps/s on one thread vs DeepMind's original in Python",
  async run({ json, args }) {
    const secondsArg = args.find((a) => a.startsWith("--seconds="));
    const seconds = secondsArg ? Number(secondsArg.slice("--seconds=".length)) : 1;
    if (!(seconds > 0)) throw new Error(`--seconds must be a positive number of seconds per measurement, got "${secondsArg}"`);
    const inProcess = args.includes("--in-process");
    const measure = (name: string): Rate[] => (inProcess ? SIZES.map((n) => ours(name, n, seconds)) : oursInChild(name, seconds));
    const rows: Record<string, { ours: Record<string, Rate>; original: Rate | null; ratio: number | null; cpu_ratio: number | null }> = {};
    let skipped: string | undefined;
    const load = loadavg();
    for (const name of aisgNames()) {
      const short = name.slice("aisg/".length);
      const first = measure(name);
      const peer = skipped === undefined ? original(short, seconds) : { skipped };
      if (peer.skipped !== undefined) skipped = peer.skipped;
      const second = measure(name);
      const best: Record<string, Rate> = {};
      SIZES.forEach((n, k) => (best[`n${n}`] = { wall: Math.max(first[k]!.wall, second[k]!.wall), cpu: Math.max(first[k]!.cpu, second[k]!.cpu) }));
      const top = Math.max(...Object.values(best).map((r) => r.wall));
      const topCpu = Math.max(...Object.values(best).map((r) => r.cpu));
      rows[name] = {
        ours: best,
        original: peer.rate ?? null,
        ratio: peer.rate ? top / peer.rate.wall : null,
        cpu_ratio: peer.rate ? topCpu / peer.rate.cpu : null,
      };
      if (!json) process.stderr.write(`  ${name} done\n`);
    }
    const summary = (pick: (r: (typeof rows)[string]) => number | null): { min: number | null; geomean: number | null } => {
      const ratios = Object.values(rows).map(pick).filter((r): r is number => r !== null);
      return ratios.length ? { min: Math.min(...ratios), geomean: Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length) } : { min: null, geomean: null };
    };
    const result = {
      threads: 1,
      processes: inProcess ? "one for all environments" : "one per environment and measurement",
      load_average: [load, loadavg()],
      rows,
      wall_ratio: summary((r) => r.ratio),
      cpu_ratio: summary((r) => r.cpu_ratio),
      ...(skipped ? { skipped_original: skipped } : {}),
    };
    if (json) {
      printJson(result);
      return;
    }
    process.stdout.write(
      `${formatTable(
        ["environment", ...SIZES.map((n) => `ours n=${n}`), "original", "ratio (wall)", "ours CPU", "original CPU", "ratio (CPU)"],
        Object.entries(rows).map(([name, r]) => [
          name,
          ...SIZES.map((n) => Math.round(r.ours[`n${n}`]!.wall)),
          r.original === null ? "skipped" : Math.round(r.original.wall),
          r.ratio === null ? "-" : `${Math.round(r.ratio)}×`,
          Math.round(Math.max(...Object.values(r.ours).map((x) => x.cpu))),
          r.original === null ? "-" : Math.round(r.original.cpu),
          r.cpu_ratio === null ? "-" : `${Math.round(r.cpu_ratio)}×`,
        ]),
      )}\n`,
    );
    process.stdout.write(`env steps per second, one thread each: wall clock (interleaved runs), and per second of each process's own CPU time; ours ${result.processes === "one for all environments" ? "in one process for all environments" : "in a fresh process per environment"}\n`);
    const fmt = (x: number | null): string => (x === null ? "-" : `${Math.round(x)}×`);
    if (result.wall_ratio.min !== null) {
      process.stdout.write(`ratio, wall clock: min ${fmt(result.wall_ratio.min)}, geometric mean ${fmt(result.wall_ratio.geomean)}; CPU time: min ${fmt(result.cpu_ratio.min)}, geometric mean ${fmt(result.cpu_ratio.geomean)}\n`);
    }
    process.stdout.write(`load average (1 min) before/after: ${load.toFixed(2)} / ${loadavg().toFixed(2)}\n`);
    if (skipped) process.stdout.write(`original skipped: ${skipped}\n`);
  },
};

// `node dist/bench/aisg.js --measure ENV SECONDS`: one environment at every size, as a JSON array of rates
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "--measure") {
  const [name, seconds] = [process.argv[3]!, Number(process.argv[4])];
  process.stdout.write(`${JSON.stringify(SIZES.map((n) => ours(name, n, seconds)))}\n`);
}
