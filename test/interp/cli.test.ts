// The interpretability commands through the built binary on a tiny CNN run (a few updates: these check the
// commands' contracts — JSON keys, files, errors — not what a trained agent represents).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "mesa-cli-interp-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function mesa(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: root });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(r: { status: number | null; stdout: string; stderr: string }): Record<string, unknown> {
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

let run = "";
beforeAll(() => {
  // small mazes (3–4 cells) keep the commands quick; every command reads the run's env parameters
  const t = mesa("train", "--env", "maze-cheese", "--env-param", "maxCells=4", "--env-param", "maxSteps=30", "--model", "cnn", "--steps", "512", "--num-envs", "8", "--checkpoint-every", "1", "--out", join(root, "runs"), "--json");
  run = String(json(t)["run_dir"]);
});

describe("mesa hooks", () => {
  it("lists hook names and per-sample shapes", () => {
    const out = json(mesa("hooks", run, "--json"));
    const hooks = out["hooks"] as { name: string; shape: number[]; spatial: boolean }[];
    expect(hooks.map((h) => h.name)).toContain("trunk.stages.0.block.hook_resid_out");
    expect(hooks.find((h) => h.name === "trunk.stages.0.hook_conv_out")!.shape).toEqual([16, 7, 7]);
    expect(hooks.find((h) => h.name === "trunk.stages.0.block.hook_resid_out")!.spatial).toBe(true);
    expect(mesa("hooks", run, "--filter", "dense").stdout).toMatch(/trunk\.hook_dense_out\s+\[128\]/);
  });
});

describe("mesa probe", () => {
  it("prints the held-out accuracy beside both baselines and the chosen layer, and writes JSON and heatmaps", () => {
    const out = json(mesa("probe", run, "--hook", "trunk.stages.0.hook_conv_out,trunk.hook_dense_out", "--target", "cheese_cell", "--samples", "150", "--folds", "3", "--inner-folds", "2", "--json"));
    for (const key of ["accuracy", "random_init_accuracy", "observation_accuracy", "layer", "chance", "samples", "episodes"]) expect(out).toHaveProperty([key]);
    expect(["trunk.stages.0.hook_conv_out", "trunk.hook_dense_out"]).toContain(out["layer"]);
    expect(out["observation_accuracy"]).toBeGreaterThan(0.9); // the cheese is in the observation: a linear read-out finds it
    for (const f of out["files"] as string[]) expect(existsSync(f), f).toBe(true);
    expect((out["files"] as string[]).some((f) => f.endsWith("probe-cheese_cell-cells.png"))).toBe(true);
  });

  it("regression targets report R² and its baselines", () => {
    const out = json(mesa("probe", run, "--hook", "trunk.hook_dense_out", "--target", "cheese_path_dist", "--samples", "120", "--folds", "3", "--inner-folds", "2", "--json"));
    expect(out["metric"]).toBe("r2");
    for (const key of ["r2", "random_init_r2", "observation_r2"]) expect(typeof out[key]).toBe("number");
  });

  it("--probe mlp runs the MLP probe at the same hooks beside the same baselines, into its own files", () => {
    const out = json(mesa("probe", run, "--hook", "trunk.hook_dense_out", "--target", "cheese_cell", "--probe", "mlp", "--mlp-hidden", "8", "--samples", "120", "--folds", "3", "--inner-folds", "2", "--json"));
    expect(out["probe"]).toBe("mlp");
    for (const key of ["accuracy", "random_init_accuracy", "observation_accuracy"]) expect(typeof out[key]).toBe("number");
    const arms = [...(out["layers"] as { method: string }[]), ...(out["random_init"] as { method: string }[]), out["observation"] as { method: string }];
    for (const arm of arms) expect(arm.method).toBe("mlp-softmax");
    expect((out["files"] as string[]).some((f) => f.endsWith("probe-mlp-cheese_cell.json"))).toBe(true);
    const family = mesa("probe", run, "--target", "cheese_cell", "--probe", "forest");
    expect(family.status).toBe(2);
    expect(family.stderr).toMatch(/--probe must be one of linear, mlp, got "forest"/);
    const spatial = mesa("probe", run, "--target", "cheese_cell", "--probe", "mlp", "--layout", "spatial");
    expect(spatial.status).toBe(2);
    expect(spatial.stderr).toMatch(/--layout spatial is a linear probe/);
  });

  it("unknown hooks and labels are errors listing what exists", () => {
    const hook = mesa("probe", run, "--hook", "trunk.hook_nope", "--target", "cheese_cell");
    expect(hook.status).toBe(1);
    expect(hook.stderr).toMatch(/no hook point matches "trunk.hook_nope"; the model's hook points are: trunk\.stages\.0\.hook_conv_out, trunk\.stages\.0\.hook_pool_out, .*trunk\.hook_dense_out/);
    expect(hook.stderr).toMatch(/mesa hooks .*--filter TEXT/);
    const label = mesa("probe", run, "--target", "cheese_spot");
    expect(label.status).toBe(2);
    expect(label.stderr).toMatch(/provides no label "cheese_spot"/);
    expect(label.stderr).toMatch(/available labels: .*cheese_cell.*episode_outcome/);
  });
});

describe("mesa channels / patch / steer / retarget", () => {
  it("channel search reports tracking channels against the random-init bar", () => {
    const out = json(mesa("channels", run, "--samples", "150", "--json"));
    const hooks = out["hooks"] as { hook: string; tracking_channels: number; random_init_best_correlation: number; top: { channel: number }[] }[];
    const spatial = (json(mesa("hooks", run, "--json"))["hooks"] as { name: string; spatial: boolean }[]).filter((h) => h.spatial).map((h) => h.name);
    expect(hooks.map((h) => h.hook)).toEqual(spatial);
    for (const h of hooks) expect(h.top.length).toBeGreaterThan(0);
  });

  it("patching reports effects per hook and channel with a layer × channel heatmap", () => {
    const out = json(mesa("patch", run, "--hook", "trunk.stages.0.*,trunk.hook_dense_out", "--samples", "16", "--json"));
    const hooks = out["hooks"] as { hook: string; logprob_effect: (number | null)[]; indices: number[] }[];
    expect(hooks).toHaveLength(5);
    expect(hooks[0]!.indices).toHaveLength(16);
    expect((out["files"] as string[]).filter((f) => f.endsWith(".png"))).toHaveLength(1);
    const pos = json(mesa("patch", run, "--hook", "trunk.stages.0.hook_conv_out", "--by", "position", "--samples", "8", "--json"));
    expect((pos["hooks"] as unknown[]).length).toBe(1);
  });

  it("steering prints goal rates before and after with CIs, the proxy rates and the baselines", () => {
    const out = json(mesa("steer", run, "--vector", "cheese", "--coef", "-1", "--episodes", "40", "--json"));
    for (const key of ["goal_rate_before", "goal_rate_before_ci95", "goal_rate_after", "goal_rate_after_ci95", "proxy_rate_before", "proxy_rate_after", "navigation_rate_after", "navigation_rate_object_hidden", "object_hidden", "baselines"]) expect(out).toHaveProperty([key]);
    expect(Object.keys(out["baselines"] as object).sort()).toEqual(["observation_only_intended", "random", "scripted_intended", "scripted_proxy"]);
    // a sweep: coefficient 0 changes nothing, and the second coefficient's row is the one a single --coef gives
    const sweep = json(mesa("steer", run, "--vector", "cheese-mean", "--coef", "0,-1", "--episodes", "40", "--json"));
    const doses = sweep["sweep"] as { coef: number; goal_rate: number; proxy_rate: number }[];
    expect(doses.map((d) => d.coef)).toEqual([0, -1]);
    expect(sweep["goal_rate_after"]).toBe(sweep["goal_rate_before"]);
    expect(doses[0]!.goal_rate).toBe(sweep["goal_rate_before"]);
    const single = json(mesa("steer", run, "--vector", "cheese-mean", "--coef", "-1", "--episodes", "40", "--json"));
    expect([doses[1]!.goal_rate, doses[1]!.proxy_rate]).toEqual([single["goal_rate_after"], single["proxy_rate_after"]]);
    const list = mesa("steer", run, "--coef", "-1,x");
    expect(list.status).toBe(2);
    expect(list.stderr).toMatch(/--coef expects comma-separated numbers/);
    const bad = mesa("steer", run, "--vector", "cheddar");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/no channel "cheddar"[\s\S]*agent, wall, cheese/);
  });

  it("retargeting prints the success rate and the by-distance tables beside its baselines", () => {
    const out = json(mesa("retarget", run, "--targets", "20", "--samples", "120", "--hook", "trunk.stages.0.block.hook_resid_out", "--json"));
    expect(typeof out["success_rate"]).toBe("number");
    for (const key of ["unedited_rate", "random_rate", "by_corner_distance", "by_start_distance", "channels", "value"]) expect(out).toHaveProperty([key]);
    expect((out["by_start_distance"] as { episodes: number }[]).reduce((s, b) => s + b.episodes, 0)).toBe(20);
    expect(out["edit"]).toBe("set");
    expect(typeof out["goal_at_target_rate"]).toBe("number");
    // the signature edit touches every channel of the hook; the unedited arm runs the same levels and targets
    const add = json(mesa("retarget", run, "--targets", "20", "--samples", "120", "--hook", "trunk.stages.0.block.hook_resid_out", "--edit", "add", "--json"));
    expect(add["edit"]).toBe("add");
    expect((add["channels"] as number[]).length).toBe(16);
    expect(add["unedited_rate"]).toBe(out["unedited_rate"]);
    const bad = mesa("retarget", run, "--edit", "move");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--edit must be set or add/);
    const both = mesa("retarget", run, "--edit", "add", "--value", "3");
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--value goes with --edit set/);
  });
});

describe("runs that cannot be analysed", () => {
  it("a run without a checkpoint names the run and where it looked", () => {
    const bare = join(root, "bare-run");
    mkdirSync(join(bare, "checkpoints"), { recursive: true });
    writeFileSync(join(bare, "config.json"), readFileSync(join(run, "config.json")));
    writeFileSync(join(bare, "summary.json"), readFileSync(join(run, "summary.json")));
    const r = mesa("hooks", bare);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`run ${bare} has no checkpoint: looked in ${join(bare, "checkpoints")}/ for step-<N>.safetensors`);
  });

  it("an MLP run has no spatial hooks for channel search, and says how to get one", () => {
    const t = json(mesa("train", "--env", "maze-cheese", "--env-param", "maxCells=4", "--model", "mlp", "--steps", "256", "--num-envs", "8", "--checkpoint-every", "1", "--out", join(root, "runs"), "--json"));
    const r = mesa("channels", String(t["run_dir"]));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no spatial hook points[\s\S]*--model cnn/);
  });
});
