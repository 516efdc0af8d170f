// Read-only targets are reported as read-only before any work: eval of a run on a read-only mount (which used to
// run every episode and then fail with "ENOENT … mkdir"), and train / experiment / render writing into one. The
// read-only mounts are made in a user + mount namespace (`unshare -rm`, no root needed); without unshare the test
// is skipped with a message.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runMesa } from "./run_mesa.js";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "mesa-readonly-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const probe = spawnSync("unshare", ["-rm", "sh", "-c", `mount -t tmpfs -o ro tmpfs ${JSON.stringify(root)}`], { encoding: "utf8" });
const canMount = probe.status === 0;
if (!canMount) console.warn(`skipping read-only filesystem tests: \`unshare -rm\` cannot mount here (${(probe.error?.message ?? probe.stderr).trim()})`);

const q = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

describe.skipIf(!canMount)("read-only targets", () => {
  it("are named read-only, with a way out, before any episode or training runs", async () => {
    const made = await runMesa("train", "--env", "points-bug", "--num-envs", "4", "--steps", "128", "--out", join(root, "runs"), "--json");
    expect(made.status, made.stderr).toBe(0);
    const run = (JSON.parse(made.stdout) as { run_dir: string }).run_dir;
    // a planner, whose reward map mesa objective reads
    const madePlanner = await runMesa("train", "--env", "coin-run", "--model", "planner", "--num-envs", "4", "--steps", "128", "--out", join(root, "planner"), "--json");
    expect(madePlanner.status, madePlanner.stderr).toBe(0);
    const planner = (JSON.parse(madePlanner.stdout) as { run_dir: string }).run_dir;
    const ro = join(root, "ro");
    mkdirSync(ro);
    const spec = join(root, "sweep.yaml");
    expect((await runMesa("sweep", "init", "--out", spec)).status).toBe(0);
    const mesa = (...args: string[]): string => [process.execPath, bin, ...args].map(q).join(" ");
    // each command's stderr and exit code, separated by markers
    const script = [
      `mount --bind ${q(run)} ${q(run)} && mount -o remount,ro,bind ${q(run)}`,
      `mount --bind ${q(planner)} ${q(planner)} && mount -o remount,ro,bind ${q(planner)}`,
      `mount -t tmpfs -o ro tmpfs ${q(ro)}`,
      `echo '@@eval'; ${mesa("eval", run, "--episodes", "1e7")} 2>&1; echo "@@code $?"`,
      `echo '@@eval0'; ${mesa("eval", run, "--episodes", "20", "--record", "0", "--json")} 2>/dev/null | head -c 1; echo; echo "@@code $?"`,
      `echo '@@train'; ${mesa("train", "--env", "points-bug", "--out", join(ro, "runs"))} 2>&1; echo "@@code $?"`,
      `echo '@@experiment'; ${mesa("experiment", "misgeneralization", "--out", join(ro, "exp"))} 2>&1; echo "@@code $?"`,
      `echo '@@render'; ${mesa("render", "coin-run", "--out", join(ro, "level.png"))} 2>&1 >/dev/null; echo "@@code $?"`,
      `echo '@@objective'; ${mesa("objective", planner, "--levels", "1e5")} 2>&1; echo "@@code $?"`,
      `echo '@@probe'; ${mesa("activations", run, "--samples", "1e5")} 2>&1; echo "@@code $?"`,
      `echo '@@objexp'; ${mesa("experiment", "objective-inference", "--steps", "2048", "--out", join(ro, "objexp"))} 2>&1; echo "@@code $?"`,
      `echo '@@sweep'; ${mesa("sweep", "run", spec, "--out", join(ro, "sweep"))} 2>&1; echo "@@code $?"`,
    ].join("\n");
    const r = spawnSync("unshare", ["-rm", "sh", "-c", script], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const sections = new Map(
      r.stdout
        .split("@@")
        .filter(Boolean)
        .map((part) => [part.slice(0, part.indexOf("\n")).trim(), part.slice(part.indexOf("\n") + 1)] as const)
        .filter(([name]) => !name.startsWith("code")),
    );
    const codes = [...r.stdout.matchAll(/@@code (\d+)/g)].map((m) => Number(m[1]));
    const [evalCode, eval0Code, trainCode, experimentCode, renderCode, objectiveCode, probeCode, objexpCode, sweepCode] = codes;
    expect(sections.get("eval")).toContain(`error: recorded episodes (${join(run, "episodes")}): ${run} is on a read-only filesystem`);
    expect(sections.get("eval")).toMatch(/hint: record to a writable folder with --out DIR, or pass --record 0/);
    expect(sections.get("eval")).not.toMatch(/ENOENT|unexpected|episodes \(\d+%\)/);
    expect(evalCode).toBe(1);
    expect(sections.get("eval0")?.trim()).toBe("{"); // --record 0 evaluates a read-only run
    expect(eval0Code).toBe(0);
    expect(sections.get("train")).toContain(`error: --out ${join(ro, "runs")}: ${ro} is on a read-only filesystem`);
    expect(trainCode).toBe(1);
    expect(sections.get("experiment")).toContain(`error: --out ${join(ro, "exp")}: ${ro} is on a read-only filesystem`);
    expect(experimentCode).toBe(1);
    expect(sections.get("render")).toContain(`error: --out ${join(ro, "level.png")} is on a read-only filesystem`);
    expect(renderCode).toBe(1);
    expect(sections.get("objective")).toContain(`error: the report folder (${join(planner, "objective")}): ${planner} is on a read-only filesystem`);
    expect(sections.get("objective")).toMatch(/hint: write the report elsewhere with --out DIR/);
    expect(objectiveCode).toBe(1);
    expect(sections.get("probe")).toContain(`error: the results folder (${join(run, "interp")}): ${run} is on a read-only filesystem`);
    expect(sections.get("probe")).not.toMatch(/collecting/);
    expect(probeCode).toBe(1);
    expect(sections.get("objexp")).toContain(`error: --out ${join(ro, "objexp")}: ${ro} is on a read-only filesystem`);
    expect(objexpCode).toBe(1);
    expect(sections.get("sweep")).toContain(`error: --out ${join(ro, "sweep")}: ${ro} is on a read-only filesystem`);
    expect(sweepCode).toBe(1);
  });
});
