// The dashboard API over a runs folder made by real mesa commands: listing, metrics slicing, episodes, files,
// the live stream, and the read-only confinement (no "..", no absolute paths, no symlink out of the folder).
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLiveStream } from "../../src/server/client.js";
import { startServer, type DashboardServer } from "../../src/server/server.js";
import type { EpisodeResponse, EpisodeSummary, MetricsResponse, RunsResponse } from "../../src/server/types.js";
import { buildFixture, type Fixture } from "./fixture.js";

let fx: Fixture;
let server: DashboardServer;
const enc = encodeURIComponent;

/** A GET with the path sent exactly as written (fetch and curl would resolve ".." first). */
function rawGet(path: string, method = "GET"): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
  const r = await rawGet(path);
  return { status: r.status, body: JSON.parse(r.body) as T };
}

beforeAll(async () => {
  fx = buildFixture("mesa-serve-api-");
  // things outside the runs folder that symlinks inside it point to
  mkdirSync(join(fx.base, "outside"));
  writeFileSync(join(fx.base, "outside", "secret.json"), '{"secret": true}\n');
  writeFileSync(join(fx.base, "outside", "summary.json"), '{"env":"x","exp":"y","seed":0,"startedAt":"t","status":"finished"}\n');
  symlinkSync(join(fx.base, "outside"), join(fx.runs, "escape-dir"));
  symlinkSync(join(fx.base, "outside", "secret.json"), join(fx.runs, fx.trainRun, "escape.json"));
  symlinkSync(join(fx.runs, fx.trainRun, "episodes", "deploy-0.png"), join(fx.runs, "probe-study", "inside-link.png"));
  writeFileSync(join(fx.runs, fx.trainRun, ".hidden.json"), "{}");
  server = await startServer({ runs: fx.runs, port: 0, pollMs: 50 });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (fx) rmSync(fx.base, { recursive: true, force: true });
});

describe("mesa serve API", () => {
  it("listens on 127.0.0.1 unless told otherwise and prints its URL", () => {
    expect(server.host).toBe("127.0.0.1");
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
  });

  it("lists runs with env, distribution, seed, status and last metrics, and results folders with their runs", async () => {
    const { status, body } = await getJson<RunsResponse>("/api/runs");
    expect(status).toBe(200);
    const train = body.runs.find((r) => r.id === fx.trainRun)!;
    expect(train).toMatchObject({ env: "points-bug", exp: "ppo", seed: 1, distribution: "train", status: "finished", model: "mlp", parent: null });
    expect(train.last?.global_step).toBe(8192);
    expect(typeof train.last?.["charts/episodic_return"]).toBe("number");
    const names = train.artifacts.map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(["episodes/train-0.json", "episodes/deploy-1.json", "episodes/deploy-0.gif", "episodes/deploy-0.png"]));
    expect(names.some((n) => n.includes("checkpoints") || n.includes(".hidden") || n === "escape.json")).toBe(false);
    expect(train.artifacts.find((a) => a.name === "episodes/deploy-0.json")?.kind).toBe("episode");

    // mesa experiment nests its runs: they are found and point at the results folder holding results.json
    const experiment = body.results.find((r) => r.id === fx.experiment)!;
    expect(experiment.artifacts.map((a) => a.name).sort()).toEqual(["misgeneralization.png", "results.json", "trainings.json"]);
    expect(experiment.runs).toHaveLength(4);
    for (const id of experiment.runs) expect(body.runs.find((r) => r.id === id)?.parent).toBe(fx.experiment);

    const icl = body.runs.find((r) => r.id === fx.iclRun)!;
    expect(icl).toMatchObject({ env: "icl-linear", status: "finished" });
    expect(icl.artifacts.map((a) => a.name)).toEqual(expect.arrayContaining(["loss_curve.png", "weights.svg"]));
    expect(typeof icl.summary?.["model_loss"]).toBe("number");

    const probe = body.results.find((r) => r.id === "probe-study")!;
    expect(probe.artifacts.map((a) => a.name).sort()).toEqual(["inside-link.png", "probe_accuracy.json"]);
    // the symlinked folder outside the runs folder is neither listed nor its fake run picked up
    expect(body.runs.some((r) => r.id.startsWith("escape-dir"))).toBe(false);
    expect(body.results.some((r) => r.id.startsWith("escape-dir"))).toBe(false);
  });

  it("slices metrics by key and by step, with the byte offset for the live stream", async () => {
    const all = await getJson<MetricsResponse>(`/api/runs/${enc(fx.trainRun)}/metrics`);
    expect(all.status).toBe(200);
    expect(all.body.steps).toHaveLength(32);
    expect(all.body.steps[0]).toBe(256);
    expect(all.body.keys).toEqual(expect.arrayContaining(["charts/episodic_return", "charts/intended_return", "losses/approx_kl"]));
    expect(Object.keys(all.body.values)).toHaveLength(all.body.keys.length);

    const some = await getJson<MetricsResponse>(`/api/runs/${enc(fx.trainRun)}/metrics?keys=charts/episodic_return,charts/intended_return&from=4096`);
    expect(Object.keys(some.body.values).sort()).toEqual(["charts/episodic_return", "charts/intended_return"]);
    expect(some.body.steps[0]).toBe(4096);
    expect(some.body.steps.every((s) => s >= 4096)).toBe(true);
    expect(some.body.values["charts/episodic_return"]).toEqual(all.body.values["charts/episodic_return"]!.slice(15));
    expect(some.body.offset).toBe(all.body.offset);

    // long histories thinned for charts: every k-th record and the last
    const thin = await getJson<MetricsResponse>(`/api/runs/${enc(fx.trainRun)}/metrics?keys=charts/episodic_return&max_points=10`);
    expect(thin.body).toMatchObject({ total: 32, stride: 4 });
    expect(thin.body.steps).toEqual([256, 1280, 2304, 3328, 4352, 5376, 6400, 7424, 8192]);
    expect(thin.body.values["charts/episodic_return"]![1]).toBe(all.body.values["charts/episodic_return"]![4]);
    expect((await getJson<{ error: string }>(`/api/runs/${enc(fx.trainRun)}/metrics?max_points=1`)).status).toBe(400);

    // a run nested in the experiment's folder is addressed by its whole relative path
    const listing = await getJson<RunsResponse>("/api/runs");
    const nestedId = listing.body.runs.find((r) => r.parent === fx.experiment)!.id;
    expect(nestedId.startsWith(`${fx.experiment}/runs/points-bug__ppo__`)).toBe(true);
    const nested = await getJson<MetricsResponse>(`/api/runs/${enc(nestedId)}/metrics?keys=charts/intended_return`);
    expect(nested.status).toBe(200);
    expect(nested.body.steps).toEqual([2048]);
  });

  it("answers unknown runs, metrics and routes with 404/400 and a message saying what to do", async () => {
    const run = await getJson<{ error: string; hint: string }>(`/api/runs/${enc("no-such-run")}/metrics`);
    expect(run.status).toBe(404);
    expect(run.body.error).toContain('no run "no-such-run"');
    expect(run.body.hint).toContain("/api/runs");
    const notRun = await getJson<{ error: string }>(`/api/runs/${enc("probe-study")}/metrics`);
    expect(notRun.status).toBe(404);
    expect(notRun.body.error).toContain("not a run directory");
    const key = await getJson<{ error: string; hint: string }>(`/api/runs/${enc(fx.trainRun)}/metrics?keys=charts/nope`);
    expect(key.status).toBe(400);
    expect(key.body.error).toContain('"charts/nope"');
    expect(key.body.hint).toContain("charts/episodic_return");
    const from = await getJson<{ error: string }>(`/api/runs/${enc(fx.trainRun)}/metrics?from=soon`);
    expect(from.status).toBe(400);
    const route = await getJson<{ error: string; hint: string }>("/api/nothing");
    expect(route.status).toBe(404);
    expect(route.body.hint).toContain("/api/runs");
  });

  it("lists and serves recorded episodes with the environment's colours", async () => {
    const list = await getJson<{ episodes: EpisodeSummary[] }>(`/api/runs/${enc(fx.trainRun)}/episodes`);
    expect(list.status).toBe(200);
    expect(list.body.episodes.map((e) => e.name)).toEqual(["deploy-0", "deploy-1", "train-0", "train-1"]);
    const deploy = list.body.episodes[0]!;
    expect(deploy).toMatchObject({ env: "points-bug", distribution: "deploy", gif: `${fx.trainRun}/episodes/deploy-0.gif` });
    const one = await getJson<EpisodeResponse>(`/api/runs/${enc(fx.trainRun)}/episodes/deploy-0`);
    expect(one.status).toBe(200);
    expect(one.body.record.steps).toHaveLength(one.body.record.length);
    expect(one.body.style?.tiles["$"]?.name).toBe("coin");
    const missing = await getJson<{ error: string }>(`/api/runs/${enc(fx.trainRun)}/episodes/deploy-9`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toContain('no episode "deploy-9"');
    // a damaged record is reported by name, not hidden and not a crash
    writeFileSync(join(fx.runs, fx.trainRun, "episodes", "broken.json"), '{"format":"mesa-episode/1"}');
    const withBroken = await getJson<{ episodes: EpisodeSummary[]; problems: string[] }>(`/api/runs/${enc(fx.trainRun)}/episodes`);
    expect(withBroken.body.episodes).toHaveLength(4);
    expect(withBroken.body.problems[0]).toContain("episodes/broken.json");
    const broken = await getJson<{ error: string }>(`/api/runs/${enc(fx.trainRun)}/episodes/broken`);
    expect(broken.status).toBe(422);
    rmSync(join(fx.runs, fx.trainRun, "episodes", "broken.json"));
  });

  it("serves files of the runs folder with their type and a sandbox policy", async () => {
    const png = await rawGet(`/api/files/${fx.experiment}/misgeneralization.png`);
    expect(png.status).toBe(200);
    expect(png.headers["content-type"]).toBe("image/png");
    expect(png.headers["content-security-policy"]).toContain("sandbox");
    const inside = await rawGet("/api/files/probe-study/inside-link.png");
    expect(inside.status).toBe(200); // a symlink that stays inside the folder is fine
  });

  it("reads nothing outside the runs folder: .., encoded .., absolute paths, symlinks out, hidden files", async () => {
    const attempts: [string, number][] = [
      ["/api/files/../../../etc/passwd", 403],
      ["/api/files/%2e%2e/%2e%2e/etc/passwd", 403],
      [`/api/files/${fx.trainRun}/..%2F..%2Foutside%2Fsecret.json`, 403],
      ["/api/files/%2Fetc%2Fpasswd", 403],
      [`/api/runs/${enc(`/${fx.base}/runs/${fx.trainRun}`)}/metrics`, 403],
      [`/api/runs/${enc(`../${fx.trainRun}`)}/metrics`, 403],
      ["/api/runs/escape-dir/metrics", 403],
      ["/api/files/escape-dir/secret.json", 403],
      [`/api/files/${fx.trainRun}/escape.json`, 403],
      [`/api/files/${fx.trainRun}/.hidden.json`, 403],
      ["/api/files/C:%5Cwindows", 400],
      ["/../package.json", 403],
      ["/assets/..%2F..%2F..%2Fpackage.json", 403],
    ];
    for (const [path, status] of attempts) {
      const r = await rawGet(path);
      expect([path, r.status]).toEqual([path, status]);
      expect(r.body).not.toContain('"secret": true');
      expect(r.body).not.toContain("root:");
      expect((JSON.parse(r.body) as { error: string }).error.length).toBeGreaterThan(10);
    }
  });

  it("is read-only: other methods get 405", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const r = await rawGet("/api/runs", method);
      expect(r.status).toBe(405);
      expect(r.headers["allow"]).toBe("GET, HEAD");
    }
  });

  it("serves the built app for / and the app's routes", async () => {
    const r = await rawGet("/");
    expect(r.status).toBe(200);
    expect(r.body).toContain('<div id="app">');
    const asset = /src="\.\/(assets\/[^"]+\.js)"/.exec(r.body)![1]!;
    const js = await rawGet(`/${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toContain("javascript");
    expect(js.body).not.toMatch(/https?:\/\/(cdn|unpkg|fonts)\./); // works offline
  });

  it("streams appended lines live, holds back a half-written line, and reports a replaced file as a reset", async () => {
    const dir = join(fx.runs, "live__ppo__1__1700000000");
    mkdirSync(dir);
    const metrics = join(dir, "metrics.jsonl");
    writeFileSync(metrics, '{"global_step":1,"charts/episodic_return":0.5}\n');
    writeFileSync(join(dir, "summary.json"), JSON.stringify({ env: "live", exp: "ppo", seed: 1, startedAt: "2026-01-01T00:00:00Z", status: "running" }));
    const first = await getJson<MetricsResponse>(`/api/runs/${enc("live__ppo__1__1700000000")}/metrics`);
    const events: { event: string; data: Record<string, unknown> }[] = [];
    const stream = openLiveStream(`${server.url}api/runs/${enc("live__ppo__1__1700000000")}/stream?offset=${first.body.offset}`, (e) => {
      events.push({ event: e.type, data: e as unknown as Record<string, unknown> });
    });
    await stream.opened;
    const waitFor = async (ok: () => boolean): Promise<void> => {
      for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
      expect(ok()).toBe(true);
    };
    const records = (): number[] => events.filter((e) => e.event === "metrics").flatMap((e) => (e.data["records"] as { global_step: number }[]).map((r) => r.global_step));
    await waitFor(() => events.length >= 1);
    expect(records()).toEqual([]); // the client already has line 1
    appendFileSync(metrics, '{"global_step":2,"charts/episodic_return":0.6}\n{"global_step":3,"charts/epi');
    await waitFor(() => records().length === 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(records()).toEqual([2]); // step 3 is not complete yet
    appendFileSync(metrics, 'sodic_return":0.7}\nnot json\n');
    await waitFor(() => records().length === 2 && events.some((e) => e.event === "problem"));
    expect(records()).toEqual([2, 3]);
    expect(events.find((e) => e.event === "problem")!.data["message"]).toContain("metrics.jsonl line 4");
    writeFileSync(join(dir, "summary.json"), JSON.stringify({ env: "live", exp: "ppo", seed: 1, startedAt: "2026-01-01T00:00:00Z", status: "finished" }));
    await waitFor(() => events.some((e) => e.event === "summary"));
    expect(events.find((e) => e.event === "summary")!.data["status"]).toBe("finished");
    // a resume rewrites the file atomically: clients are told to reload
    writeFileSync(join(dir, "metrics.tmp"), '{"global_step":1,"charts/episodic_return":0.5}\n');
    renameSync(join(dir, "metrics.tmp"), metrics);
    await waitFor(() => events.some((e) => e.event === "reset"));
    stream.close();
    await stream.closed;
  });
});

describe("mesa serve command", () => {
  const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));

  it("rejects a bad port and a missing runs folder with a message and a hint", () => {
    const port = spawnSync(process.execPath, [bin, "serve", "--port", "http"], { encoding: "utf8" });
    expect(port.status).toBe(2);
    expect(port.stderr).toContain("--port must be an integer from 0 to 65535");
    const runs = spawnSync(process.execPath, [bin, "serve", "--runs", join(fx.base, "nope"), "--port", "0"], { encoding: "utf8" });
    expect(runs.status).toBe(1);
    expect(runs.stderr).toContain("does not exist");
    expect(runs.stderr).toContain("hint: pass --runs DIR");
    expect(runs.stderr).not.toMatch(/\n\s+at /);
  });

  it("says so when the port is taken", () => {
    const taken = spawnSync(process.execPath, [bin, "serve", "--runs", fx.runs, "--port", String(server.port)], { encoding: "utf8" });
    expect(taken.status).toBe(1);
    expect(taken.stderr).toContain(`port ${server.port} on 127.0.0.1 is already in use`);
  });

  it("prints the URL it listens on and stops cleanly on SIGTERM", async () => {
    const child = spawn(process.execPath, [bin, "serve", "--runs", fx.runs, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8");
    await new Promise<void>((resolve) => child.stdout.on("data", (c: string) => ((out += c), out.includes("\n") && resolve())));
    const url = /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)![1]!;
    const res = await fetch(`${url}api/runs`);
    expect(res.status).toBe(200);
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
  });
});
