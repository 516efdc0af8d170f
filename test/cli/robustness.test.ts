// The command line as a careless or unlucky user meets it: resumes that must change nothing, limits checked
// before any work, flags that cannot change on resume, damaged checkpoints, errors in the user's own words, and
// one vocabulary of flags across commands. Tiny budgets (points-bug, 4 envs × 32 steps per update).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildProgram } from "../../src/cli/main.js";
import { evaluationProgress } from "../../src/cli/progress.js";
import { ConfigError } from "../../src/core/errors.js";
import { getEnvDefinition } from "../../src/envs/make.js";
import { evaluate } from "../../src/rl/evaluate.js";
import { validateRunConfig } from "../../src/rl/run.js";
import { runMesa } from "./run_mesa.js";

const root = mkdtempSync(join(tmpdir(), "mesa-robust-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const TINY = ["--env", "points-bug", "--num-envs", "4", "--checkpoint-every", "1"];

/** Every file under `dir` with its bytes. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p).toString("base64"));
    }
  };
  walk(dir);
  return out;
}

let runDir = "";
beforeAll(async () => {
  // 4 updates of 128 steps, a checkpoint after each
  const r = await runMesa("train", ...TINY, "--steps", "512", "--out", join(root, "runs"), "--json");
  expect(r.status, r.stderr).toBe(0);
  runDir = (JSON.parse(r.stdout) as { run_dir: string }).run_dir;
});

describe("resuming", () => {
  it("a finished run changes no byte of the run directory and reports its real returns", async () => {
    // retention: the newest 3 of 4 checkpoints by default
    expect(readdirSync(join(runDir, "checkpoints"))).toEqual(["step-256.safetensors", "step-384.safetensors", "step-512.safetensors"]);
    const before = snapshot(runDir);
    const summary = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8")) as { episodic_return: number; status: string };
    expect(summary.status).toBe("finished");
    const r = await runMesa("train", "--resume", runDir, "--json");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/already trained its whole budget \(512 env steps\): nothing was run and nothing in it changed/);
    const out = JSON.parse(r.stdout) as { episodic_return: number | null; already_finished: boolean; global_step: number };
    expect(out.already_finished).toBe(true);
    expect(out.global_step).toBe(512);
    expect(out.episodic_return).not.toBeNull();
    expect(out.episodic_return).toBe(summary.episodic_return);
    expect(snapshot(runDir)).toEqual(before);
  });

  it("refuses flags that cannot change, naming them, and honours a larger --steps", async () => {
    const seed = await runMesa("train", "--resume", runDir, "--seed", "5", "--env", "coin-run", "--lr", "0.1");
    expect(seed.status).toBe(2);
    expect(seed.stderr).toMatch(/cannot change when resuming .*--env \(the run has points-bug\), --seed \(the run has 1\), --lr \(the run has 0\.001\)/);
    // the same value as the run's is fine
    const same = await runMesa("train", "--resume", runDir, "--seed", "1", "--json");
    expect(same.status, same.stderr).toBe(0);
    const fewer = await runMesa("train", "--resume", runDir, "--steps", "256");
    expect(fewer.status).toBe(2);
    expect(fewer.stderr).toMatch(/--steps 256 gives 256 env steps, but this run has already trained 512/);

    const dir = join(root, "extend");
    const made = await runMesa("train", ...TINY, "--steps", "256", "--out", dir, "--json");
    const run = (JSON.parse(made.stdout) as { run_dir: string }).run_dir;
    const more = await runMesa("train", "--resume", run, "--steps", "512", "--json");
    expect(more.status, more.stderr).toBe(0);
    expect(more.stderr).toMatch(/budget changes from 256 to 512 env steps/);
    expect(more.stderr).toMatch(/learning rate now anneals/);
    expect(JSON.parse(more.stdout)).toMatchObject({ global_step: 512, resumed_from_step: 256, already_finished: false });
    expect(JSON.parse(readFileSync(join(run, "config.json"), "utf8")).ppo.totalTimesteps).toBe(512);
    const steps = readFileSync(join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { global_step: number }).global_step);
    expect(steps).toEqual([128, 256, 384, 512]);
  });
});

describe("limits are checked before any work", () => {
  it("rejects budgets below one update and impossible copy counts, naming the flags and leaving nothing behind", async () => {
    const out = join(root, "rejected");
    const small = await runMesa("train", "--env", "points-bug", "--steps", "1000", "--out", out);
    expect(small.status).toBe(2);
    expect(small.stderr).toMatch(/--steps \(1000\) is smaller than one batch: --num-envs \(64\) × numSteps \(32\) = 2048/);
    expect(small.stderr).toMatch(/hint: raise --steps to at least 2048 or lower --num-envs/);
    const many = await runMesa("train", "--env", "points-bug", "--num-envs", "1e6", "--out", out);
    expect(many.status).toBe(2);
    expect(many.stderr).toMatch(/--num-envs must be an integer from 1 to 65536, got "1e6"/);
    const zero = await runMesa("train", "--num-envs", "0", "--out", out);
    expect(zero.stderr).toMatch(/--num-envs must be an integer from 1 to 65536/);
    expect(zero.stderr).not.toMatch(/ppo\.numEnvs|run config/);
    const hidden = await runMesa("train", "--hidden", "64,0", "--out", out);
    expect(hidden.status).toBe(2);
    expect(hidden.stderr).toMatch(/--hidden must be an integer from 1 to 4096, got "0"/);
    expect(hidden.stderr).not.toMatch(/1e6 is fine/);
    expect(existsSync(out)).toBe(false);
  });

  it("checks memory for the rollout buffer and names the flag", () => {
    const input = { env: "points-bug", ppo: { numEnvs: 65_536, numSteps: 100_000, totalTimesteps: 2 ** 50 } };
    expect(() => validateRunConfig(input, { labels: { "ppo.numEnvs": "--num-envs" } })).toThrow(ConfigError);
    expect(() => validateRunConfig(input, { labels: { "ppo.numEnvs": "--num-envs" } })).toThrow(/--num-envs 65536 × 100000 steps per rollout × \d+ observation values needs [\d.]+ GiB/);
  });

  it("rejects --episodes too large to count in eval and demo before evaluating or training", async () => {
    for (const bad of ["1e99", String(2 ** 53 + 1), "2.5", "-3"]) {
      const r = await runMesa("eval", runDir, "--episodes", bad);
      expect(r.status, bad).toBe(2);
      expect(r.stderr).toContain(`--episodes must be a positive integer, got "${bad}"`);
    }
    const demoOut = join(root, "demo-rejected");
    const demo = await runMesa("demo", "--episodes", "1e99", "--out", demoOut);
    expect(demo.status).toBe(2);
    expect(demo.stderr).toMatch(/--episodes must be a positive integer, got "1e99" \(too large to count exactly\)/);
    expect(existsSync(demoOut)).toBe(false);
  });

  it("validates a whole experiment sweep before its first training", async () => {
    const out = join(root, "sweep-rejected");
    const r = await runMesa("experiment", "misgeneralization", "--random-coin", "0,2", "--seeds", "1", "--steps", "2048", "--out", out);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/coin-run parameters .* is invalid .*\n  --random-coin: expected number <= 1, received 2/);
    expect(existsSync(out)).toBe(false);
    const seeds = await runMesa("experiment", "misgeneralization", "--seeds", "0", "--out", out);
    expect(seeds.stderr).toMatch(/--seeds must be an integer from 1 to 1000, got "0"/);
  });
});

describe("the analysis commands check their limits before any work", () => {
  it("objective, infer-objective, probe, activations and the objective-inference experiment", async () => {
    const made = await runMesa("train", "--env", "coin-run", "--model", "planner", "--num-envs", "4", "--steps", "128", "--out", join(root, "planner"), "--json");
    expect(made.status, made.stderr).toBe(0);
    const run = (JSON.parse(made.stdout) as { run_dir: string }).run_dir;
    // a planner's hook points are read from a real observation (an empty grid has no agent to plan from)
    const hooks = await runMesa("hooks", run);
    expect(hooks.status, hooks.stderr).toBe(0);
    expect(hooks.stdout).toContain("planner.hook_values");
    const refused: [string[], RegExp][] = [
      [["objective", run, "--levels", "1e15"], /--levels must be an integer from 1 to 100000, got "1e15"/],
      [["objective", run, "--pictures", "1e99"], /--pictures must be an integer from 0 to 500, got "1e99"/],
      [["infer-objective", run, "--levels", "1e15"], /--levels must be an integer from 1 to 100000, got "1e15"/],
      [["probe", run, "--hook", "planner.hook_values", "--target", "coin_x", "--samples", "1e15"], /--samples must be an integer from 1 to [\d,]+, got "1e15"/],
      [["activations", run, "--samples", "1e15"], /--samples must be an integer from 1 to [\d,]+, got "1e15"/],
      // folds need episodes: at most 8 samples come from one episode, so 40 samples guarantee 5
      [["probe", run, "--hook", "planner.hook_values", "--target", "coin_x", "--samples", "40", "--folds", "10"], /--folds 10 needs at least 10 episodes, but --samples 40 guarantees only 5[\s\S]*--samples 80 or more/],
      [["probe", run, "--hook", "planner.hook_values", "--target", "coin_x", "--samples", "40", "--folds", "2", "--inner-folds", "4"], /--inner-folds 4 needs at least 4 episodes in each outer training set, but --samples 40 guarantees only 5 episodes, 2 of them/],
      [["experiment", "objective-inference", "--seeds", "1e9", "--out", join(root, "never")], /--seeds must be an integer from 1 to 1000, got "1e9"/],
      [["experiment", "objective-inference", "--first-seed", "6", "--seeds", "5", "--out", join(root, "never")], /--first-seed 6 is after the last seed \(--seeds 5\)/],
      // the experiments have no --num-envs: their errors name the config field, and advise only --steps
      [["experiment", "objective-inference", "--steps", "100", "--out", join(root, "never")], /mesa experiment objective-inference options is invalid: --steps \(100\) is smaller than one batch: numEnvs \(\d+\) × numSteps \(\d+\) = \d+ env steps per update\nhint: raise --steps to at least \d+\n/],
      [["experiment", "misgeneralization", "--steps", "100", "--out", join(root, "never")], /mesa experiment options is invalid: --steps \(100\) is smaller than one batch: numEnvs \(\d+\) × numSteps \(\d+\) = \d+ env steps per update\nhint: raise --steps to at least \d+\n/],
      [["experiment", "objective-inference", "--cure", "randomCoinFraction=2", "--out", join(root, "never")], /--cure/],
    ];
    for (const [args, message] of refused) {
      const r = await runMesa(...args);
      expect(r.status, `${args.join(" ")}\n${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.stderr, args.join(" ")).not.toMatch(/collecting|unexpected/);
    }
    expect(existsSync(join(root, "never"))).toBe(false);
    expect(existsSync(join(run, "objective"))).toBe(false);
    expect(existsSync(join(run, "interp"))).toBe(false);
  });
});

describe("eval", () => {
  it("warns about a damaged newest checkpoint and says which checkpoint it evaluated", async () => {
    const dir = join(root, "damaged");
    const made = await runMesa("train", ...TINY, "--steps", "384", "--out", dir, "--json");
    const run = (JSON.parse(made.stdout) as { run_dir: string }).run_dir;
    const newest = join(run, "checkpoints", "step-384.safetensors");
    writeFileSync(newest, readFileSync(newest).subarray(0, 200));
    const json = await runMesa("eval", run, "--episodes", "16", "--record", "0", "--json");
    expect(json.status, json.stderr).toBe(0);
    expect(json.stderr).toMatch(/warning: the newer checkpoint .*step-384\.safetensors.*evaluating step-256\.safetensors instead/);
    const out = JSON.parse(json.stdout) as { checkpoint_step: number; skipped_checkpoints: string[] };
    expect(out.checkpoint_step).toBe(256);
    expect(out.skipped_checkpoints).toHaveLength(1);
    const table = await runMesa("eval", run, "--episodes", "16", "--record", "0");
    expect(table.stdout).toMatch(/points-bug \/ train \(16 episodes, step-256\.safetensors, newer damaged\)/);
  });

  it("explains a config.json edited after training and a file given as a run", async () => {
    const dir = join(root, "edited");
    const made = await runMesa("train", ...TINY, "--steps", "128", "--out", dir, "--json");
    const run = (JSON.parse(made.stdout) as { run_dir: string }).run_dir;
    const configPath = join(run, "config.json");
    const config = JSON.parse(readFileSync(configPath, "utf8")) as { env: string };
    writeFileSync(configPath, JSON.stringify({ ...config, env: "maze-cheese" }));
    const r = await runMesa("eval", run, "--episodes", "4");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/config\.json does not match .*step-128\.safetensors: the config describes maze-cheese/);
    expect(r.stderr).toMatch(/hint: config\.json was edited after training/);
    const file = await runMesa("eval", join(runDir, "summary.json"));
    expect(file.stderr).toMatch(/summary\.json is a file, not a run directory/);
  });

  it("reads a run on another distribution with only the run's parameters that distribution does not set", async () => {
    // trained with the train distribution's glitchedCoins=0 written out: on deploy the glitched coin is deploy's
    const made = await runMesa("train", ...TINY, "--steps", "128", "--env-param", "glitchedCoins=0", "--env-param", "maxSteps=25", "--out", join(root, "params"), "--json");
    expect(made.status, made.stderr).toBe(0);
    const run = (JSON.parse(made.stdout) as { run_dir: string }).run_dir;
    const r = await runMesa("eval", run, "--distribution", "deploy", "--episodes", "40", "--record", "0", "--json");
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { env_params: Record<string, unknown>; episode_length: number; baselines: Record<string, { misgeneralization_rate: number }> };
    expect(out.env_params).toEqual({ maxSteps: 25 });
    expect(out.episode_length).toBeLessThanOrEqual(25);
    // the scripted proxy farms the glitch: it can only where deploy's glitched coin exists
    expect(out.baselines.proxy!.misgeneralization_rate).toBeGreaterThan(0.5);
    const own = await runMesa("eval", run, "--episodes", "8", "--record", "0", "--json");
    expect((JSON.parse(own.stdout) as { env_params: Record<string, unknown> }).env_params).toEqual({ glitchedCoins: 0, maxSteps: 25 });
    // --env-param goes on top of the run's parameters (other levels, same observation) …
    const over = await runMesa("eval", run, "--episodes", "8", "--record", "0", "--env-param", "maxSteps=6", "--json");
    expect(over.status, over.stderr).toBe(0);
    const o = JSON.parse(over.stdout) as { env_params: Record<string, unknown>; episode_length: number };
    expect(o.env_params).toEqual({ glitchedCoins: 0, maxSteps: 6 });
    expect(o.episode_length).toBeLessThanOrEqual(6);
    // … and one that changes the observation's shape is refused, naming both shapes
    const wide = await runMesa("eval", run, "--episodes", "8", "--record", "0", "--env-param", "width=12");
    expect(wide.status).toBe(2);
    expect(wide.stderr).toMatch(/the observation is \[\d+, 3, 12\], but the policy of .* reads \[\d+, 3, 8\]/);
    // … and a bad value is reported under the flag the user wrote
    const bad = await runMesa("eval", run, "--episodes", "8", "--record", "0", "--env-param", "maxSteps=0");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--env-param maxSteps: /);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("one vocabulary across commands", () => {
  const commands = (program: Command): Command[] => program.commands.flatMap((c) => [c, ...commands(c)]);

  it("names output folders --out and env parameters --env-param, and shows every default as (default: X)", () => {
    const program = buildProgram();
    for (const cmd of commands(program)) {
      const visible = cmd.options.filter((o) => !o.hidden).map((o) => o.long);
      // (`mesa serve --runs DIR` names the folder it reads, not one it writes)
      if (cmd.name() !== "serve") expect(visible, cmd.name()).not.toContain("--runs");
      expect(visible, cmd.name()).not.toContain("--param");
      const help = cmd.helpInformation();
      expect(help, cmd.name()).not.toMatch(/\(default: "/);
      expect(help.replace(/\s+/g, " "), cmd.name()).not.toMatch(/\(default [^:]/);
    }
    const byName = (name: string): Command => commands(program).find((c) => c.name() === name)!;
    for (const name of ["train", "demo", "icl", "misgeneralization", "solve"]) expect(byName(name).options.map((o) => o.long), name).toContain("--out");
    for (const name of ["train", "render", "play", "misgeneralization"]) expect(byName(name).options.map((o) => o.long), name).toContain("--env-param");
  });

  it("applies the same seed limits everywhere (0 … 2^32−1)", async () => {
    const calls: string[][] = [
      ["train", "--seed"],
      ["demo", "--seed"],
      ["icl", "--seed"],
      ["render", "coin-run", "--seed"],
      ["eval", runDir, "--seed"],
      ["experiment", "solve", "--seed"],
      ["validate", "--seed"],
    ];
    for (const call of calls) {
      const r = await runMesa(...call, String(2 ** 32), ...(call[0] === "validate" ? [] : ["--out", join(root, "never")]));
      expect(r.status, call.join(" ")).toBe(2);
      expect(r.stderr, call.join(" ")).toContain(`--seed must be an integer from 0 to 4,294,967,295, got "${2 ** 32}"`);
    }
    expect(existsSync(join(root, "never"))).toBe(false);
  });

  it("keeps the old spellings working with a deprecation note", async () => {
    const r = await runMesa("render", "coin-run", "--param", "randomCoinFraction=1");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--param is deprecated .* use --env-param/);
  });

  it("announces --steps rounding and reports the steps run", async () => {
    const train = await runMesa("train", ...TINY, "--steps", "1000", "--out", join(root, "rounding"), "--json");
    expect(train.status, train.stderr).toBe(0);
    expect(train.stderr).toMatch(/--steps 1000 is rounded down to whole PPO updates: 896 env steps \(7 updates of 4 envs × 32 steps\)/);
    expect(JSON.parse(train.stdout)).toMatchObject({ global_step: 896, steps_requested: 1000 });
    const sweep = await runMesa("experiment", "misgeneralization", "--model", "mlp", "--random-coin", "0", "--seeds", "1", "--steps", "2500", "--episodes", "8", "--out", join(root, "sweep"), "--json");
    expect(sweep.status, sweep.stderr).toBe(0);
    expect(JSON.parse(sweep.stdout)).toMatchObject({ steps: 2048, steps_requested: 2500 });
  });

  it("--keep-checkpoints keeps the newest n, or all", async () => {
    const one = await runMesa("train", ...TINY, "--steps", "512", "--keep-checkpoints", "1", "--out", join(root, "keep1"), "--json");
    expect(readdirSync(join((JSON.parse(one.stdout) as { run_dir: string }).run_dir, "checkpoints"))).toEqual(["step-512.safetensors"]);
    const all = await runMesa("train", ...TINY, "--steps", "512", "--keep-checkpoints", "all", "--out", join(root, "keepall"), "--json");
    expect(readdirSync(join((JSON.parse(all.stdout) as { run_dir: string }).run_dir, "checkpoints"))).toHaveLength(4);
    const bad = await runMesa("train", "--keep-checkpoints", "0");
    expect(bad.stderr).toMatch(/--keep-checkpoints must be an integer from 1 to 1,000,000, got "0"/);
  });
});

describe("progress of long evaluations", () => {
  it("evaluate reports episodes done as they finish, up to the total", () => {
    const done: number[] = [];
    const def = getEnvDefinition("points-bug");
    evaluate(def, (env, actions) => actions.fill(3), { episodes: 100, seed: 1, numEnvs: 8, onProgress: (d, total) => (expect(total).toBe(100), done.push(d)) });
    expect(done.length).toBeGreaterThan(2);
    expect(done.every((d, i) => i === 0 || d > done[i - 1]!)).toBe(true);
    expect(done[done.length - 1]).toBe(100);
  });

  it("shows a line every 10% once an evaluation has run for a second, and nothing for short ones", () => {
    const lines: string[] = [];
    const write = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (lines.push(String(chunk)), true));
    const now = vi.spyOn(performance, "now");
    try {
      now.mockReturnValue(0);
      const quick = evaluationProgress("eval quick");
      quick.onProgress(100, 100);
      quick.stop();
      expect(lines).toEqual([]);
      const slow = evaluationProgress("eval slow");
      for (let d = 1; d <= 1000; d++) {
        now.mockReturnValue(d * 10); // 10 s in all
        slow.onProgress(d, 1000);
      }
      slow.stop();
    } finally {
      write.mockRestore();
      now.mockRestore();
    }
    const progress = lines.filter((l) => l.startsWith("eval slow"));
    expect(progress.length).toBeGreaterThanOrEqual(9);
    expect(progress[progress.length - 1]).toContain("1000/1000 episodes (100%)");
  });
});
