// `npm run bench -- serve [--json]`: the dashboard server (`mesa serve`, its own process) under live load —
// how long an appended metrics line takes to reach 1 and 100 live clients (p50 / p95 / max over every client
// and line, and how many lines were lost), and how long `GET /api/runs/:id/metrics` takes on a 100,000-line
// metrics.jsonl, first (parse) and again (cached). No peer: TensorBoard, the usual one, needs pip and PyPI,
// which this machine cannot reach.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatTable, printJson } from "../src/cli/output.js";
import { openLiveStream } from "../src/server/client.js";
import type { Benchmark } from "./registry.js";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));
/** lines the writer appends per latency case, one every WRITE_EVERY_MS */
const LINES = 200;
const WRITE_EVERY_MS = 20;
/** lines of the big metrics file, each with KEYS metrics */
const BIG_LINES = 100_000;
const KEYS = 20;

async function startServe(runs: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [bin, "serve", "--runs", runs, "--port", "0", "--json"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (c: string) => {
      out += c;
      if (out.includes("}")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`mesa serve exited with ${code}`)));
  });
  return { url: (JSON.parse(out) as { url: string }).url, child };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function latencyCase(url: string, runs: string, clients: number): Promise<Record<string, number>> {
  const id = `bench__live__${clients}__1700000000`;
  mkdirSync(join(runs, id));
  const metrics = join(runs, id, "metrics.jsonl");
  writeFileSync(metrics, "");
  writeFileSync(join(runs, id, "summary.json"), JSON.stringify({ env: "bench", exp: "live", seed: clients, startedAt: new Date().toISOString(), status: "running" }));
  const latencies: number[] = [];
  const received = new Array<number>(clients).fill(0);
  const conns = Array.from({ length: clients }, (_, c) =>
    openLiveStream(`${url}api/runs/${encodeURIComponent(id)}/stream`, (e) => {
      if (e.type !== "metrics") return;
      const now = performance.timeOrigin + performance.now();
      for (const r of e.records) {
        latencies.push(now - (r["bench/written_ms"] ?? now));
        received[c]!++;
      }
    }),
  );
  await Promise.all(conns.map((c) => c.opened));
  for (let i = 1; i <= LINES; i++) {
    appendFileSync(metrics, `${JSON.stringify({ global_step: i, "bench/written_ms": performance.timeOrigin + performance.now() })}\n`);
    await new Promise((r) => setTimeout(r, WRITE_EVERY_MS));
  }
  const deadline = Date.now() + 30_000;
  while (received.some((n) => n < LINES) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const c of conns) c.close();
  latencies.sort((a, b) => a - b);
  return {
    clients,
    lines: LINES,
    lost: received.reduce((a, n) => a + (LINES - n), 0),
    p50_ms: quantile(latencies, 0.5),
    p95_ms: quantile(latencies, 0.95),
    max_ms: latencies[latencies.length - 1] ?? Number.NaN,
  };
}

async function timeGet(url: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return performance.now() - t0;
}

export const benchmark: Benchmark = {
  description: "mesa serve: live-stream delivery latency to 1 and 100 clients, metrics API on a 100k-line file",
  async run({ json }) {
    const base = mkdtempSync(join(tmpdir(), "mesa-bench-serve-"));
    const runs = join(base, "runs");
    mkdirSync(runs);
    const big = "bench__big__0__1700000000";
    mkdirSync(join(runs, big));
    const lines: string[] = [];
    for (let i = 1; i <= BIG_LINES; i++) {
      const r: Record<string, number> = { global_step: i * 256 };
      for (let k = 0; k < KEYS; k++) r[`charts/metric_${k}`] = Math.sin(i * (k + 1));
      lines.push(JSON.stringify(r));
    }
    writeFileSync(join(runs, big, "metrics.jsonl"), `${lines.join("\n")}\n`);
    writeFileSync(join(runs, big, "summary.json"), JSON.stringify({ env: "bench", exp: "big", seed: 0, startedAt: new Date().toISOString(), status: "finished" }));
    const { url, child } = await startServe(runs);
    try {
      const bigUrl = `${url}api/runs/${encodeURIComponent(big)}/metrics`;
      const firstMs = await timeGet(bigUrl);
      const again: number[] = [];
      for (let k = 0; k < 5; k++) again.push(await timeGet(bigUrl));
      const sliced: number[] = [];
      for (let k = 0; k < 5; k++) sliced.push(await timeGet(`${bigUrl}?keys=charts/metric_0,charts/metric_1`));
      const thinned: number[] = [];
      for (let k = 0; k < 5; k++) thinned.push(await timeGet(`${bigUrl}?max_points=5000`));
      const api = { lines: BIG_LINES, keys: KEYS, bytes: lines.reduce((a, l) => a + l.length + 1, 0), first_ms: firstMs, cached_ms: Math.min(...again), two_keys_ms: Math.min(...sliced), max_points_5000_ms: Math.min(...thinned) };
      const live = [await latencyCase(url, runs, 1), await latencyCase(url, runs, 100)];
      if (json) {
        printJson({ live, metrics_api: api, poll_ms: 250 });
        return;
      }
      process.stdout.write(`${formatTable(["live clients", "lines", "lost", "p50 ms", "p95 ms", "max ms"], live.map((l) => [l.clients!, l.lines!, l.lost!, l.p50_ms!, l.p95_ms!, l.max_ms!]))}\n`);
      process.stdout.write(`(one line appended every ${WRITE_EVERY_MS} ms; the server reads on each change of the run's folder, and polls every 250 ms where it cannot watch)\n\n`);
      process.stdout.write(
        `${formatTable(
          ["metrics API, 100k lines × 20 keys", "ms"],
          [
            [`first call (reads and parses ${(api.bytes / 1e6).toFixed(1)} MB)`, api.first_ms],
            ["again (parsed columns cached; only appended bytes read)", api.cached_ms],
            ["again, 2 keys", api.two_keys_ms],
            ["again, all keys, max_points=5000 (what the dashboard asks)", api.max_points_5000_ms],
          ],
        )}\n`,
      );
    } finally {
      child.kill("SIGTERM");
      rmSync(base, { recursive: true, force: true });
    }
  },
};
