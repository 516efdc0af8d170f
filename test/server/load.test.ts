// Load: 100 concurrent live clients on a `mesa serve` process while runs write metrics — a real `mesa train`
// and a writer that appends each line in two pieces (so the server sees half-written lines) — and every
// client must receive every line, in order, once, with no error.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openLiveStream, type LiveConnection } from "../../src/server/client.js";
import type { LiveEvent } from "../../src/server/types.js";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));
const base = mkdtempSync(join(tmpdir(), "mesa-serve-load-"));
const runs = join(base, "runs");
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(base, { recursive: true, force: true });
});

const CLIENTS = 100;
const SPLIT_LINES = 300;

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on("exit", (code) => resolve(code))));
}

async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("mesa serve under load", () => {
  it(`${CLIENTS} live clients lose no line while two runs write`, async () => {
    mkdirSync(runs);
    const serve = spawn(process.execPath, [bin, "serve", "--runs", runs, "--port", "0", "--json"], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(serve);
    let out = "";
    serve.stdout!.setEncoding("utf8");
    serve.stdout!.on("data", (c: string) => (out += c));
    await until(() => out.includes("}"), 30_000, "mesa serve to print its URL");
    const url = (JSON.parse(out) as { url: string }).url;

    // run 1: a real training run, writing one metrics line per PPO update
    const train = spawn(process.execPath, [bin, "train", "--env", "points-bug", "--steps", "25600", "--num-envs", "8", "--checkpoint-every", "0", "--out", runs, "--json"], { stdio: ["ignore", "ignore", "ignore"] });
    children.push(train);
    await until(() => readdirSync(runs).some((n) => n.startsWith("points-bug__") && existsSync(join(runs, n, "metrics.jsonl"))), 60_000, "the training run's directory");
    const trainId = readdirSync(runs).find((n) => n.startsWith("points-bug__"))!;

    // run 2: every line written in two pieces with a pause between, as a slow writer or a kill mid-write would
    const splitId = "split__writer__0__1700000000";
    mkdirSync(join(runs, splitId));
    writeFileSync(join(runs, splitId, "metrics.jsonl"), "");
    writeFileSync(join(runs, splitId, "summary.json"), JSON.stringify({ env: "split", exp: "writer", seed: 0, startedAt: new Date().toISOString(), status: "running" }));
    const writerCode = `
      const fs = require("node:fs");
      const path = process.argv[1];
      let i = 1;
      const next = () => {
        if (i > ${SPLIT_LINES}) return;
        const line = JSON.stringify({ global_step: i, "charts/value": Math.sin(i), "charts/label_len": String(i).length }) + "\\n";
        const cut = 1 + ((i * 7919) % (line.length - 1));
        fs.appendFileSync(path, line.slice(0, cut));
        setTimeout(() => { fs.appendFileSync(path, line.slice(cut)); i++; setTimeout(next, 1); }, 2);
      };
      next();`;
    const writer = spawn(process.execPath, ["-e", writerCode, join(runs, splitId, "metrics.jsonl")], { stdio: "ignore" });
    children.push(writer);

    // half the clients follow the training run alone, half follow both runs on one multiplexed stream
    const received = new Map<number, Map<string, number[]>>();
    const records = new Map<number, Map<string, Record<string, unknown>[]>>();
    const failures: string[] = [];
    const connections: LiveConnection[] = [];
    for (let c = 0; c < CLIENTS; c++) {
      received.set(c, new Map());
      records.set(c, new Map());
      const path = c % 2 === 0 ? `api/runs/${encodeURIComponent(trainId)}/stream` : `api/live?run=${encodeURIComponent(trainId)}&run=${encodeURIComponent(splitId)}`;
      const conn = openLiveStream(url + path, (event: LiveEvent) => {
        if (event.type === "metrics") {
          const steps = received.get(c)!;
          const list = steps.get(event.run) ?? [];
          const recs = records.get(c)!.get(event.run) ?? [];
          for (const r of event.records) {
            list.push(r.global_step);
            recs.push(r);
          }
          steps.set(event.run, list);
          records.get(c)!.set(event.run, recs);
        } else if (event.type !== "summary") failures.push(`client ${c}: ${event.type} ${JSON.stringify(event)}`);
      });
      conn.opened.catch((err: Error) => failures.push(`client ${c}: ${err.message}`));
      connections.push(conn);
    }
    await Promise.all(connections.map((c) => c.opened.catch(() => undefined)));

    expect(await exited(train)).toBe(0);
    expect(await exited(writer)).toBe(0);
    const fileRecords = (id: string): Record<string, unknown>[] =>
      readFileSync(join(runs, id, "metrics.jsonl"), "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const trainRecords = fileRecords(trainId);
    const splitRecords = fileRecords(splitId);
    expect(trainRecords).toHaveLength(100);
    expect(splitRecords).toHaveLength(SPLIT_LINES);

    const complete = (c: number): boolean =>
      (received.get(c)!.get(trainId)?.length ?? 0) >= trainRecords.length && (c % 2 === 0 || (received.get(c)!.get(splitId)?.length ?? 0) >= splitRecords.length);
    await until(() => failures.length > 0 || [...received.keys()].every(complete), 60_000, "every client to receive every line");
    for (const conn of connections) conn.close();
    serve.kill("SIGTERM");
    expect(await exited(serve)).toBe(0);

    expect(failures).toEqual([]);
    for (let c = 0; c < CLIENTS; c++) {
      // exactly the file's lines, in order, each once
      expect(records.get(c)!.get(trainId)).toEqual(trainRecords);
      if (c % 2 === 1) expect(records.get(c)!.get(splitId)).toEqual(splitRecords);
    }
  });
});
