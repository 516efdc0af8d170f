// Sweeps through BullMQ on a real Redis (Debian's redis-server, started here on 127.0.0.1 on a free port and shut
// down at the end): bad specs and unreachable Redis rejected before anything is enqueued; two worker processes,
// one killed with SIGKILL mid-job, and every job's result recorded exactly once.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRedis, freePort, redisServerInstalled, startLocalRedis } from "../../bench/redis_server.js";
import type { SweepRecord } from "../../src/sweep/folder.js";
import { alive, bin, mesa as mesaIn, until, writeSpec as writeSpecIn } from "./helpers.js";

const hasRedis = redisServerInstalled();
if (!hasRedis) console.warn("skipping the Redis queue tests: redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)");

const root = mkdtempSync(join(tmpdir(), "mesa-sweep-queue-"));
const processes: ChildProcess[] = [];
let redis: LocalRedis | undefined;
let url = "";

const mesa = (...args: string[]) => mesaIn(root, ...args);
const writeSpec = (name: string, spec: Record<string, unknown>): string => writeSpecIn(root, name, spec);

function start(...args: string[]): { proc: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  processes.push(proc);
  let text = "";
  proc.stdout!.on("data", (d: Buffer) => (text += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return { proc, output: () => text, exited };
}

beforeAll(async () => {
  if (!hasRedis) return;
  redis = await startLocalRedis();
  url = redis.url;
});

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!hasRedis)("mesa sweep --queue and mesa worker (BullMQ on Redis)", () => {
  it("rejects an unknown field, an empty grid and an unreachable Redis before anything is enqueued", async () => {
    const unknown = mesa("sweep", writeSpec("unknown", { command: "train", base: { env: "points-bug" }, grid: { "ppo.learning_rate": [1e-3] } }), "--queue", url);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('train jobs have no field "ppo.learning_rate"; did you mean "ppo.learningRate"?');
    const empty = mesa("sweep", writeSpec("empty", { command: "train", base: { env: "points-bug" }, grid: { "ppo.entCoef": [] } }), "--queue", url);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toContain("grid.ppo.entCoef has no values");
    const closedPort = await freePort();
    const good = writeSpec("good", { command: "train", base: { env: "points-bug", ppo: { totalTimesteps: 2048, numEnvs: 8 } } });
    const unreachable = mesa("sweep", good, "--queue", `redis://127.0.0.1:${closedPort}`);
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${closedPort} (ECONNREFUSED)`);
    expect(unreachable.stderr).toContain("nothing was enqueued");
    expect(mesa("sweep", good, "--queue", "http://127.0.0.1:6379").stderr).toContain("is not a Redis URL");
    const client = new Redis(url);
    expect(await client.keys("mesa:*")).toEqual([]);
    client.disconnect();
  });

  it("two workers, one killed with SIGKILL mid-job: the job is retried and every result arrives exactly once", async () => {
    const spec = writeSpec("killed", {
      command: "train",
      base: { env: "points-bug", ppo: { totalTimesteps: 16_384, numEnvs: 8, numSteps: 128, checkpointEvery: 1 } },
      seeds: 3,
    });
    const enqueue = mesa("sweep", spec, "--queue", url, "--no-wait", "--json");
    expect(enqueue.status, enqueue.stderr).toBe(0);
    expect(JSON.parse(enqueue.stdout)).toMatchObject({ jobs: 3, added: 3 });
    // enqueuing the same sweep again adds nothing
    expect(JSON.parse(mesa("sweep", spec, "--queue", url, "--no-wait", "--json").stdout)).toMatchObject({ jobs: 3, added: 0, queued: 3 });

    const out = join(root, "worker-runs");
    const fast = ["--workers", "1", "--out", out, "--lock-ms", "2000", "--stalled-ms", "500"];
    const a = start("worker", "--queue", url, ...fast);
    const started = await until("worker A to start a job", () => /killed (j\d+) .* started, attempt 1, pid (\d+)/.exec(a.output()) ?? undefined);
    const [, victimId, childPid] = started;
    await new Promise((resolve) => setTimeout(resolve, 300));
    a.proc.kill("SIGKILL");
    await a.exited;
    // the killed worker's job process notices and stops too
    await until("the killed worker's job process to exit", () => (alive(Number(childPid)) ? undefined : true), 20_000);

    const b = start("worker", "--queue", url, ...fast, "--until-empty", "--json");
    expect(await b.exited, b.output()).toBe(0);
    expect(b.output()).toMatch(new RegExp(`killed ${victimId} .* started, attempt 2`));

    const results = mesa("sweep", "results", "--queue", url, "--name", "killed", "--out", join(root, "collected"), "--json");
    expect(results.status, results.stderr).toBe(0);
    const record = JSON.parse(results.stdout) as SweepRecord;
    expect(record).toMatchObject({ jobs: 3, finished: 3, failed: 0 });
    expect(new Set(record.results.map((r) => r.key)).size).toBe(3);
    const victim = record.results.find((r) => r.id === victimId)!;
    expect(victim.attempts).toBe(2);
    for (const r of record.results) {
      expect(r.status).toBe("finished");
      expect(r.metrics!["charts/episodic_return"]).not.toBeUndefined();
      expect(r.run_dir).toMatch(/^runs\/points-bug__ppo__\d__\d+/); // returned through the queue into the folder
    }
    expect(record.summary[0]!.metrics["charts/episodic_return"]!.n).toBe(3);
    const status = mesa("sweep", "status", "--queue", url, "--name", "killed", "--json");
    expect(JSON.parse(status.stdout).sweeps[0]).toMatchObject({ jobs: 3, finished: 3, failed: 0, waiting: 0, running: 0 });
  });
});
