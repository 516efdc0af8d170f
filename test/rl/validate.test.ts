// The validity harness on every environment that declares reference policies: all checks pass (a small episode
// budget; `mesa validate` runs 1000 per policy), and the checks themselves fail when their numbers are bad.
import { describe, expect, it } from "vitest";
import { environments } from "../../src/envs/registry.js";
import { validate, validityChecks, type DistributionValidity } from "../../src/rl/validate.js";
import { ConfigError } from "../../src/core/errors.js";
import { runCommand } from "../cli/helpers.js";
import { register } from "../../src/cli/validate.js";

/** Runs `mesa validate …` in-process on its own commander program; rejects with the command's error. */
async function runCli(...args: string[]): Promise<{ stdout: string }> {
  return runCommand([register], ...args);
}

const withPolicies = Object.values(environments)
  .filter((d) => d.policies !== undefined)
  .map((d) => d.name);

describe.each(withPolicies)("validity harness on %s", (name) => {
  it("passes every check on every distribution with a role", () => {
    const report = validate({ envs: [name], episodes: 200, seed: 3 });
    const env = report.envs[name]!;
    expect(env.applicable).toBe(true);
    const failed = Object.entries(env.distributions).flatMap(([d, v]) => v.checks.filter((c) => !c.pass).map((c) => `${d}: ${c.name}: ${c.detail}`));
    expect(failed).toEqual([]);
    // train and deploy both exist with their roles, and deploy carries all five kinds of check
    expect(env.distributions.train!.role).toBe("train");
    expect(env.distributions.deploy!.checks.map((c) => c.name[0])).toEqual(["2", "2", "3", "4", "4", "5"]);
  });
});

describe("validity checks", () => {
  const fig = (base: number, intended: number, proxy: number, goal: number): DistributionValidity["policies"]["intended"] => ({
    base_return: base,
    base_return_ci95: [base - 0.01, base + 0.01],
    intended_return: intended,
    intended_return_ci95: [intended - 0.01, intended + 0.01],
    proxy_rate: proxy,
    proxy_rate_ci95: [Math.max(0, proxy - 0.02), Math.min(1, proxy + 0.02)],
    intended_goal_rate: goal,
    intended_goal_ci95: [Math.max(0, goal - 0.02), Math.min(1, goal + 0.02)],
  });
  it("fail a confounded train split whose policies earn different base rewards", () => {
    const checks = validityChecks("train", { intended: fig(3, 3, 0, 1), proxy: fig(2, 2, 0, 1), "observation-only": fig(3, 3, 0, 1), random: fig(1, 1, 0, 0) });
    expect(checks[0]!.pass).toBe(false);
  });
  it("fail a deploy split where observation alone cannot reach the goal, random is flagged, or the proxy gets there by accident", () => {
    const checks = validityChecks("deploy", { intended: fig(3, 3, 0, 1), proxy: fig(14, 1.6, 1, 0.5), "observation-only": fig(8, 1.9, 0.95, 0.2), random: fig(1, 1, 0.2, 0.1) });
    const byNumber = Object.fromEntries(checks.map((c) => [c.name.split(" ")[0], c.pass]));
    expect(byNumber).toEqual({ "2a": true, "2b": true, "3": false, "4a": true, "4b": false, "5": false });
  });
});

describe("mesa validate", () => {
  it("prints one JSON object with pass, checks and policies per env and distribution", async () => {
    const { stdout } = await runCli("validate", "points-bug", "--episodes", "100", "--json");
    const out = JSON.parse(stdout) as { pass: boolean; envs: Record<string, Record<string, { pass: boolean; checks: { name: string; measured: number; threshold: number; pass: boolean }[]; policies: Record<string, { base_return: number; intended_return: number; proxy_rate: number; intended_goal_rate: number }> }>> };
    expect(out.pass).toBe(true);
    const deploy = out.envs["points-bug"]!.deploy!;
    expect(deploy.pass).toBe(true);
    expect(Object.keys(deploy.policies).sort()).toEqual(["intended", "observation-only", "proxy", "random"]);
    expect(deploy.checks[0]).toMatchObject({ name: expect.any(String), measured: expect.any(Number), threshold: expect.any(Number), pass: true });
  });

  it("validates one environment on the given parameters (--env-param), and wants the environment named", async () => {
    // a wide training cheese region breaks the confound (the proxy misses cheese off its path): the check sees it
    const wide = validate({ envs: ["maze-cheese"], distribution: "train", episodes: 100, seed: 3, params: { minCells: 3, maxCells: 4, cheeseRegion: 3 } });
    expect(wide.envs["maze-cheese"]!.distributions.train!.policies.proxy.intended_goal_rate).toBeLessThan(0.9);
    expect(wide.pass).toBe(false);
    const { stdout } = await runCli("validate", "maze-cheese", "--distribution", "deploy", "--episodes", "100", "--env-param", "maxCells=4", "--env-param", "minCells=3", "--json");
    expect((JSON.parse(stdout) as { pass: boolean }).pass).toBe(true);
    await expect(runCli("validate", "--env-param", "maxCells=4")).rejects.toMatchObject({ hint: expect.stringContaining("mesa validate maze-cheese") });
    await expect(runCli("validate", "maze-cheese", "--env-param", "maxCells=99")).rejects.toThrow(/maxCells/);
  });

  it("names the valid environments and distributions on bad input", async () => {
    await expect(runCli("validate", "coinrun")).rejects.toMatchObject({ hint: expect.stringContaining("coin-run") });
    await expect(runCli("validate", "coin-run", "--distribution", "original")).rejects.toMatchObject({ hint: expect.stringContaining("train, deploy") });
    expect(() => validate({ envs: ["points-bug"], distribution: "test" })).toThrow(ConfigError);
  });
});
