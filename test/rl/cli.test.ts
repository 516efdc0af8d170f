// mesa train / eval / demo through the built binary, as a user runs them (tiny budgets).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { RunDir } from "../../src/io/rundir.js";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "mesa-cli-rl-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function mesa(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: root });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("mesa demo", () => {
  it("runs the whole story on a tiny budget and reports train and deploy side by side with a picture", () => {
    const r = mesa("demo", "--steps", "4096", "--episodes", "50", "--seeds", "2", "--out", join(root, "demo"), "--json");
    expect(r.status, r.stderr).toBe(0);
    type Fig = { value: number; ci95: [number, number] };
    const out = JSON.parse(r.stdout) as {
      seeds: number[];
      agent: Record<"train" | "deploy", Record<string, Fig>>;
      per_seed: { train: Record<string, number>; deploy: Record<string, number> }[];
      baselines: Record<"train" | "deploy", Record<string, Record<string, number>>>;
      verdict: string;
      sentences: string;
      picture: { gif: string; png: string } | null;
    };
    expect(out.seeds).toEqual([1, 2]);
    for (const s of out.per_seed) {
      for (const side of [s.train, s.deploy]) {
        expect(side.episodes).toBe(50);
        expect(side).toHaveProperty(["misgeneralization_rate"]);
      }
      expect(s.train.misgeneralization_rate).toBe(0); // no glitched coin on train levels
    }
    // the agent's deploy figure is the mean over seeds, with an interval around it
    const farm = out.agent.deploy.misgeneralization_rate!;
    expect(farm.value).toBeCloseTo((out.per_seed[0]!.deploy.misgeneralization_rate! + out.per_seed[1]!.deploy.misgeneralization_rate!) / 2, 10);
    expect(farm.ci95[0]).toBeLessThanOrEqual(farm.value);
    // baselines on the same levels, and sentences that quote the measured numbers
    expect(Object.keys(out.baselines.deploy).sort()).toEqual(["observation-only", "proxy", "random"]);
    expect(out.baselines.deploy["observation-only"]!.misgeneralization_rate).toBe(0);
    expect(out.baselines.deploy.proxy!.misgeneralization_rate).toBe(1);
    expect(["points", "intended", "mixed"]).toContain(out.verdict);
    expect(out.sentences).toContain(`${(100 * farm.value).toFixed(1)}%`);
    expect(out.picture).not.toBeNull();
    expect(existsSync(out.picture!.gif)).toBe(true);
    expect(existsSync(out.picture!.png)).toBe(true);
  });
});

describe("mesa train / eval", () => {
  it("trains a tiny run, resumes it, and evaluates it with the documented JSON keys and episode pictures", () => {
    const out = join(root, "runs");
    const train = mesa("train", "--env", "points-bug", "--steps", "2048", "--num-envs", "8", "--checkpoint-every", "1", "--cleanrl-defaults", "--out", out, "--json");
    expect(train.status, train.stderr).toBe(0);
    const summary = JSON.parse(train.stdout) as { run_dir: string; global_step: number };
    expect(summary.global_step).toBe(2048);
    const runDir = summary.run_dir;
    for (const f of ["config.json", "metrics.jsonl", "summary.json"]) expect(existsSync(join(runDir, f))).toBe(true);
    expect(readdirSync(join(runDir, "checkpoints"))).toEqual(["step-1024.safetensors", "step-2048.safetensors"]);
    const metrics = readFileSync(join(runDir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    expect(metrics).toHaveLength(2);
    expect(metrics[0]).toHaveProperty(["losses/approx_kl"]);

    // resuming a finished run re-runs nothing and keeps its metrics (test/cli/robustness.test.ts: no byte changes)
    const resumed = mesa("train", "--resume", runDir, "--json");
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(readFileSync(join(runDir, "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);

    const ev = mesa("eval", runDir, "--distribution", "deploy", "--episodes", "40", "--record", "1", "--json");
    expect(ev.status, ev.stderr).toBe(0);
    const result = JSON.parse(ev.stdout) as Record<string, unknown>;
    for (const key of ["base_return", "intended_return", "misgeneralization_rate", "misgeneralization_ci95", "events", "episodes"]) expect(result).toHaveProperty([key]);
    expect(result["episodes"]).toBe(40);
    const base = result["baselines"] as Record<string, Record<string, number>>;
    expect(Object.keys(base).sort()).toEqual(["observation-only", "proxy", "random"]);
    expect(base["observation-only"]!.episodes).toBe(40);
    expect(Object.keys(result["events"] as object).sort()).toEqual(["bug_points", "coins", "level_completed"]);
    for (const ext of ["json", "gif", "png"]) expect(existsSync(join(runDir, "episodes", `deploy-0.${ext}`))).toBe(true);

    const table = mesa("eval", runDir, "--episodes", "20", "--record", "0");
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toContain("misgeneralization rate");
    expect(table.stdout).toContain("observation-only intended");
  });

  it("evaluates deploy on deploy's own coin placement, not the training parameter the run was given", () => {
    // a run trained with an explicit randomCoinFraction=0 must not carry it onto deploy (coin back at the end)
    const train = mesa("train", "--env", "coin-run", "--model", "mlp", "--steps", "512", "--num-envs", "8", "--env-param", "randomCoinFraction=0", "--env-param", "maxSteps=60", "--out", join(root, "coin"), "--json");
    expect(train.status, train.stderr).toBe(0);
    const runDir = (JSON.parse(train.stdout) as { run_dir: string }).run_dir;
    const ev = mesa("eval", runDir, "--distribution", "deploy", "--episodes", "60", "--record", "0", "--json");
    expect(ev.status, ev.stderr).toBe(0);
    const out = JSON.parse(ev.stdout) as { baselines: Record<string, { intended_goal_rate: number }> };
    // on deploy the proxy (go right) passes under the coin's platform; on the run's train levels it gets the coin every time
    expect(out.baselines["proxy"]!.intended_goal_rate).toBeLessThan(0.3);
    const onTrain = JSON.parse(mesa("eval", runDir, "--episodes", "60", "--record", "0", "--json").stdout) as typeof out;
    expect(onTrain.baselines["proxy"]!.intended_goal_rate).toBe(1);
  });

  it("trains an env on its tuned model, network size and budget unless flags say otherwise", () => {
    const train = mesa("train", "--env", "coin-run", "--steps", "256", "--num-envs", "8", "--out", join(root, "tuned"), "--json");
    expect(train.status, train.stderr).toBe(0);
    const runDir = (JSON.parse(train.stdout) as { run_dir: string }).run_dir;
    const config = JSON.parse(readFileSync(join(runDir, "config.json"), "utf8")) as { model: string; hidden?: number[] };
    expect(config.model).toBe("cnn");
    expect(config.hidden).toEqual([8, 16, 64]);
  });

  it("rejects unknown environments, models and distributions with the valid choices", () => {
    const env = mesa("train", "--env", "no-such-env", "--steps", "1000");
    expect(env.status).toBe(2);
    expect(env.stderr).toMatch(/unknown environment "no-such-env"/);
    expect(env.stderr).toMatch(/hint: choose one of: .*coin-run/);
    const model = mesa("train", "--model", "rnn", "--steps", "1000");
    expect(model.status).toBe(2);
    expect(model.stderr).toMatch(/hint: choose one of: mlp, cnn/);
    const flag = mesa("train", "--no-such-flag");
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/unknown option/);
  });

  it("says what is wrong when --resume gets a missing or corrupt run directory", () => {
    const missing = mesa("train", "--resume", join(root, "nope"));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no such run directory/);
    const dir = join(root, "broken");
    const made = mesa("train", "--env", "points-bug", "--steps", "1024", "--num-envs", "8", "--out", dir, "--json");
    const runDir = (JSON.parse(made.stdout) as { run_dir: string }).run_dir;
    const ckpt = join(runDir, "checkpoints", "step-1024.safetensors");
    writeFileSync(ckpt, readFileSync(ckpt).subarray(0, 100)); // a torn write that atomic writes rule out
    const corrupt = mesa("train", "--resume", runDir);
    expect(corrupt.status).toBe(1);
    expect(corrupt.stderr).toMatch(/checkpoint/);
    expect(corrupt.stderr).toContain("hint:");
  });
});

describe("mesa train defaults", () => {
  it("starts from the env's tuned PPO settings, and from CleanRL's with --cleanrl-defaults", () => {
    const out = join(root, "runs-defaults");
    const ppoOf = (...extra: string[]): { numSteps: number; learningRate: number; entCoef: number } => {
      const r = mesa("train", "--env", "absent-supervisor", "--steps", "256", "--num-envs", "2", "--out", out, "--json", ...extra);
      expect(r.status, r.stderr).toBe(0);
      const { run_dir } = JSON.parse(r.stdout) as { run_dir: string };
      return (JSON.parse(readFileSync(join(run_dir, "config.json"), "utf8")) as { ppo: { numSteps: number; learningRate: number; entCoef: number } }).ppo;
    };
    expect(ppoOf()).toMatchObject({ numSteps: 32, learningRate: 1e-3, entCoef: 0.02 });
    expect(ppoOf("--ent-coef", "0.05")).toMatchObject({ numSteps: 32, entCoef: 0.05 });
    expect(ppoOf("--cleanrl-defaults")).toMatchObject({ numSteps: 128, learningRate: 2.5e-4, entCoef: 0.01 });
  });
});
