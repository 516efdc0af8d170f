// mesa experiment maze-interp on a toy budget (two one-update agents on small mazes): the table's figures per
// region with intervals over seeds, results.json, and finished runs reused instead of retrained.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { agentConfig, findTrainedRun, judgeTargets, stat, type RegionSummary } from "../../src/interp/maze_experiment.js";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "mesa-maze-interp-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function mesa(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: root });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const toy = ["--regions", "1", "--steps", "2048", "--env-param", "maxCells=4", "--env-param", "maxSteps=30", "--episodes", "20", "--targets", "12", "--samples", "100", "--out", join(root, "exp"), "--json"];

describe("mesa experiment maze-interp", () => {
  it("runs the battery per agent, summarises each region over seeds, and reuses finished runs", () => {
    const r = mesa("experiment", "maze-interp", "--seeds", "2", ...toy);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { agents: { seed: number; reused: boolean; run_dir: string; probe: Record<string, number> }[]; regions: { region: number; figures: Record<string, { mean: number; ci95: number[]; values: number[] }>; baselines: Record<string, unknown> }[]; study: { cheese_tracking_channels: number } };
    expect(out.agents.map((a) => [a.seed, a.reused])).toEqual([[1, false], [2, false]]);
    const region = out.regions[0]!;
    for (const key of ["probe_accuracy", "probe_random_init_accuracy", "probe_observation_accuracy", "tracking_channels", "goal_rate_before", "goal_rate_after", "proxy_rate_after", "navigation_rate_after", "navigation_rate_cheese_hidden", "retarget_success_rate", "retarget_unedited_rate", "retarget_goal_at_target_rate", "retarget_signature_success_rate", "retarget_signature_gain_pp"]) {
      expect(region.figures[key]!.values, key).toHaveLength(2);
      expect(Number.isFinite(region.figures[key]!.ci95[0]), key).toBe(true);
    }
    expect(Object.keys(region.baselines).sort()).toEqual(["observation_only_intended", "random", "scripted_intended", "scripted_proxy"]);
    expect(out.study.cheese_tracking_channels).toBe(11);
    // the validity harness on the agents' own train and deploy parameters, and the issue's targets judged from the figures
    const validity = (out.regions[0] as unknown as { validity: Record<string, { role: string; checks: unknown[] }> }).validity;
    expect([validity["train"]!.role, validity["deploy"]!.role]).toEqual(["train", "deploy"]);
    expect(validity["deploy"]!.checks.length).toBeGreaterThan(0);
    const targets = (out as unknown as { targets: { region: number; met: boolean; measured: string }[] }).targets;
    expect(targets).toHaveLength(6); // probe, channels, cheese vector, retargeting by each edit, the 60 s budget
    expect(targets.every((t) => t.region === 1 && typeof t.met === "boolean" && t.measured.length > 0)).toBe(true);
    // a second experiment with the same settings finds these runs instead of training again
    const dir = join(root, "exp", "runs", "region-1");
    expect(readdirSync(dir)).toHaveLength(2);
    for (const seed of [1, 2]) {
      const found = findTrainedRun(dir, agentConfig({ steps: 2048, envParams: { maxCells: 4, maxSteps: 30 } }, 1, seed));
      expect(found).toBe(out.agents[seed - 1]!.run_dir);
    }
    expect(findTrainedRun(dir, agentConfig({ steps: 4096, envParams: { maxCells: 4, maxSteps: 30 } }, 1, 1))).toBeNull();
    // nor one trained with other network sizes (--hidden)
    expect(findTrainedRun(dir, agentConfig({ steps: 2048, hidden: [4, 4, 8], envParams: { maxCells: 4, maxSteps: 30 } }, 1, 1))).toBeNull();
    // and an experiment run again (or resumed after a kill) reuses each agent's saved battery
    const again = mesa("experiment", "maze-interp", "--seeds", "1,2", ...toy); // the same seeds, listed
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/battery measured before with these settings/);
    const second = JSON.parse(again.stdout) as typeof out;
    expect(second.agents.map((a) => [a.seed, a.reused, a.probe["accuracy"]])).toEqual(out.agents.map((a) => [a.seed, true, a.probe["accuracy"]]));
  }, 1_800_000); // two toy trainings and batteries, then the same experiment again: 545 s measured under load 29, far past the default 120 s

  it("rejects a cheese region given as an environment parameter", () => {
    const r = mesa("experiment", "maze-interp", "--env-param", "cheeseRegion=3");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--regions/);
    const twice = mesa("experiment", "maze-interp", "--seeds", "1,1");
    expect(twice.status).toBe(2);
    expect(twice.stderr).toMatch(/twice/);
  });
});

describe("the issue's targets, judged", () => {
  const region = (figures: Record<string, number>): RegionSummary =>
    ({ region: 3, agents: 5, figures: Object.fromEntries(Object.entries(figures).map(([k, mean]) => [k, { mean, values: [mean, mean], ci95: [mean, mean] }])) }) as unknown as RegionSummary;
  const verdict = (figures: Record<string, number>, prefix: string): boolean => judgeTargets([region(figures)], []).find((t) => t.target.startsWith(prefix))!.met;

  it("a probe must beat both baselines by 10 points, not by noise", () => {
    expect(verdict({ probe_accuracy: 0.998, probe_random_init_accuracy: 0.994, probe_observation_accuracy: 1 }, "probe")).toBe(false);
    expect(verdict({ probe_accuracy: 0.95, probe_random_init_accuracy: 0.6, probe_observation_accuracy: 0.84 }, "probe")).toBe(true);
    expect(verdict({ probe_accuracy: 0.95, probe_random_init_accuracy: 0.6, probe_observation_accuracy: 0.9 }, "probe")).toBe(false);
    expect(verdict({ probe_accuracy: 0.85, probe_random_init_accuracy: 0.1, probe_observation_accuracy: 0.1 }, "probe")).toBe(false);
  });

  it("the cheese vector must lower the cheese rate 30 points while the agent navigates as well as without the cheese's information", () => {
    const steer = (change: number, blind: number, after: number): boolean =>
      verdict({ goal_rate_change_pp: change, navigation_rate_before: 0.8, navigation_rate_cheese_hidden: blind, navigation_rate_after: after }, "−1 × cheese vector");
    expect(steer(-35, 0.5, 0.46)).toBe(true);
    expect(steer(-35, 0.5, 0.44)).toBe(false);
    // the reference is the cheese-blind agent, not the unsteered one: steering below the blind agent's rate breaks navigation
    expect(steer(-35, 0.75, 0.54)).toBe(false);
    expect(steer(-25, 0.5, 0.75)).toBe(false);
  });

  it("retargeting must reach half the targets and beat the unedited policy on the same targets (paired by seed)", () => {
    const rt = (success: number, gain: number): boolean =>
      verdict({ retarget_signature_success_rate: success, retarget_signature_gain_pp: gain, retarget_unedited_rate: success - gain / 100, retarget_random_rate: 0.04, retarget_goal_at_target_rate: 0.7 }, "retargeting (the cheese's signature");
    expect(rt(0.566, 5.3)).toBe(true);
    expect(rt(0.566, -1)).toBe(false);
    expect(rt(0.45, 5)).toBe(false);
  });

  it("one seed's gain is printed as one seed's, without an interval it does not have", () => {
    const one = { region: 3, agents: 1, figures: { retarget_signature_success_rate: { mean: 0.68, values: [0.68], ci95: [-Infinity, Infinity] }, retarget_signature_gain_pp: { mean: 4.8, values: [4.8], ci95: [-Infinity, Infinity] }, retarget_unedited_rate: { mean: 0.632, values: [0.632], ci95: [-Infinity, Infinity] }, retarget_random_rate: { mean: 0.044, values: [0.044], ci95: [-Infinity, Infinity] } } } as unknown as RegionSummary;
    const line = judgeTargets([one], []).find((t) => t.target.startsWith("retargeting (the cheese's signature"))!;
    expect(line.measured).toMatch(/\+4\.8 points \(1 seed\)/);
    expect(line.measured).not.toMatch(/Infinity/);
    expect(line.met).toBe(true);
  });
});

describe("figures over seeds", () => {
  it("a rate's interval stays within 0–100%; other figures keep their t-interval; one seed keeps none", () => {
    const high = stat([0.95, 1, 0.62], [0, 1]);
    expect(high.ci95[1]).toBe(1);
    expect(high.ci95[0]).toBeGreaterThan(0);
    expect(high.mean).toBeCloseTo(0.8566667, 6);
    const free = stat([0.95, 1, 0.62]);
    expect(free.ci95[1]).toBeGreaterThan(1);
    expect(free.ci95[0]).toBe(high.ci95[0]);
    expect(stat([0.02, 0, 0.3], [0, 1]).ci95[0]).toBe(0);
    expect(stat([0.7], [0, 1]).ci95).toEqual([-Infinity, Infinity]);
  });
});
