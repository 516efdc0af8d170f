// mesa objective / mesa infer-objective through the built binary on a tiny planner run (budgets far too small
// to learn: these check the commands' contracts — JSON keys, pictures, baselines, errors — not the findings).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coinRun } from "../../src/envs/coin-run.js";
import { envObjectives, spearman } from "../../src/interp/objective-report.js";
import { environments } from "../../src/envs/registry.js";
import { paramsOn } from "../../src/envs/make.js";
import { type AgentObjective, HEATMAPS_PER_AGENT, INFERENCE_VERSION, type MapRanking, firstReach, mapRanking, objectiveInferenceExperiment } from "../../src/interp/objective-experiment.js";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "mesa-cli-objective-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function mesa(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: root });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function train(env: string, model: string, ...extra: string[]): string {
  const r = mesa("train", "--env", env, "--model", model, "--steps", "1024", "--num-envs", "8", "--checkpoint-every", "1", "--out", join(root, "runs"), "--json", ...extra);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { run_dir: string }).run_dir;
}

let plannerRun = "";
beforeAll(() => {
  plannerRun = train("maze-cheese", "planner", "--env-param", "minCells=3", "--env-param", "maxCells=4"); // small mazes: a quick test
});

describe("mesa objective", () => {
  it("scores the planner's reward map against every candidate, beside an untrained planner, with heatmaps", () => {
    const r = mesa("objective", plannerRun, "--levels", "40", "--pictures", "2", "--json");
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      top: string;
      candidates: { name: string; mean_value: number; rank_correlation: number; planned_value: number; top_cell_rate: number }[];
      untrained: { candidates: unknown[] };
      pictures: string[];
      distribution: string;
    };
    expect(out.distribution).toBe("deploy");
    expect(out.candidates.map((c) => c.name)).toEqual(["cheese", "top-right"]);
    for (const c of out.candidates) for (const k of ["mean_value", "rank_correlation", "planned_value", "top_cell_rate"]) expect(typeof c[k as keyof typeof c]).toBe("number");
    expect(["cheese", "top-right"]).toContain(out.top);
    expect(out.untrained.candidates).toHaveLength(2);
    expect(out.pictures).toHaveLength(2);
    for (const p of out.pictures) expect(existsSync(p)).toBe(true);
    expect(existsSync(join(plannerRun, "objective", "deploy.json"))).toBe(true);
  });

  it("explains what it needs when the run is not a planner", () => {
    const mlpRun = train("maze-cheese", "mlp");
    const r = mesa("objective", mlpRun);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/reads a planner's reward map, but .* trained a "mlp" policy/);
    expect(r.stderr).toMatch(/mesa infer-objective/);
  });
});

describe("mesa infer-objective", () => {
  it("gives a posterior with CIs for the agent and for the scripted and random baselines", () => {
    const r = mesa("infer-objective", plannerRun, "--levels", "8", "--json");
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      top: string;
      posterior: Record<string, { probability: number; ci95: [number, number] }>;
      baselines: Record<string, { top: string }>;
      levels_used: number;
    };
    expect(Object.keys(out.posterior).sort()).toEqual(["cheese", "top-right"]);
    const total = Object.values(out.posterior).reduce((s, p) => s + p.probability, 0);
    expect(total).toBeCloseTo(1, 6);
    expect(out.levels_used).toBe(8);
    // the scripted policies are recovered exactly: the baselines show what a known answer looks like
    expect(out.baselines["scripted intended"]!.top).toBe("cheese");
    expect(out.baselines["scripted proxy"]!.top).toBe("top-right");
    expect(Object.keys(out.baselines)).toContain("random");
  });

  it("names the environments that declare candidates when the run's env has none", () => {
    const run = train("aisg/boat_race", "mlp");
    const r = mesa("infer-objective", run);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/aisg\/boat_race declares no candidate objectives/);
    expect(r.stderr).toMatch(/maze-cheese/);
    expect(r.stderr).toMatch(/monster-shields/);
  });

  it("reads an MLP agent on points-bug, whose candidates separate only once the glitched coin is paid", () => {
    const run = train("points-bug", "mlp");
    const r = mesa("infer-objective", run, "--levels", "20", "--json");
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { posterior: Record<string, unknown>; baselines: Record<string, { top: string }>; episodes_used: number; levels_used: number };
    expect(Object.keys(out.posterior)).toEqual(["complete the level", "points"]);
    expect(out.baselines["scripted intended"]!.top).toBe("complete the level");
    expect(out.baselines["scripted proxy"]!.top).toBe("points");
    expect(out.episodes_used).toBeGreaterThan(0);
    expect(out.episodes_used).toBeLessThanOrEqual(out.levels_used);
  });
});

describe("mesa experiment objective-inference", () => {
  it("trains a planner per condition and scores the inference against each agent's reward map", () => {
    const out = join(root, "experiment");
    const r = mesa(
      "experiment", "objective-inference", "--env", "maze-cheese", "--seeds", "1", "--steps", "4096", "--cure", "cheeseRegion=5", "--baseline-model", "mlp",
      "--env-param", "minCells=3", "--env-param", "maxCells=4", "--model-param", "iterations=12", "--planner-lr", "2e-3", "--levels", "6", "--episodes", "10", "--out", out, "--json",
    );
    expect(r.status, r.stderr).toBe(0);
    type GreedyReading = { inferred_top: string; agree: boolean; behaviour_fits: boolean; gain_per_action: number };
    const result = JSON.parse(r.stdout) as {
      agents: { condition: string; run_dir: string; posterior: Record<string, number>; map_top: string; inferred_top: string; agree: boolean; behaviour_fits: boolean; solved_ratio: number; train_seconds: number; train_cpu_seconds: number; curve: [number, number, number, number | null, number][]; baseline: { model: string; run_dir: string; train_seconds: number; train_cpu_seconds: number } | null; greedy: GreedyReading | null }[];
      greedy: { agreement: { n: number; value: number }; no_fit: number } | null;
      wall_clock: { model: string; seeds: number; planner_reached: number; baseline_reached: number; thresholds: { fraction: number; planner_reached: number; baseline_reached: number }[] } | null;
      agreement: { value: number; ci95: [number, number]; n: number };
      no_fit: number;
      conditions: Record<string, unknown>;
      references: Record<string, { train_return: Record<string, number>; deploy: GreedyReading & { posterior: Record<string, number> } }>;
      map_ranking: MapRanking;
      heatmaps_dir: string;
    };
    expect(result.agents.map((a) => a.condition)).toEqual(["train", "cheeseRegion=5"]);
    for (const a of result.agents) {
      // --model-param and --planner-lr reach every planner
      const config = JSON.parse(readFileSync(join(a.run_dir, "config.json"), "utf8")) as { modelParams: unknown; ppo: { learningRate: number } };
      expect(config.modelParams).toEqual({ iterations: 12 });
      expect(config.ppo.learningRate).toBe(2e-3);
      // … and not the baseline, which keeps the env's tuned settings
      if (a.baseline) expect((JSON.parse(readFileSync(join(a.baseline.run_dir, "config.json"), "utf8")) as typeof config).ppo.learningRate).not.toBe(2e-3);
      expect(["cheese", "top-right"]).toContain(a.map_top);
      expect(["cheese", "top-right"]).toContain(a.inferred_top);
      expect(a.agree).toBe(a.map_top === a.inferred_top);
    }
    // agents whose behaviour fits no candidate are reported apart, the rest make the agreement rate
    const fits = result.agents.filter((a) => a.behaviour_fits);
    expect(result.agreement.n).toBe(fits.length);
    expect(result.no_fit).toBe(2 - fits.length);
    if (fits.length > 0) expect(result.agreement.value).toBe(fits.filter((a) => a.agree).length / fits.length);
    expect(Object.keys(result.conditions)).toEqual(["train", "cheeseRegion=5"]);
    // the baseline model trains beside the train-condition planner only, with the same seed and budget
    expect(result.agents.map((a) => a.baseline?.model ?? null)).toEqual(["mlp", null]);
    expect(result.agents[0]!.train_seconds).toBeGreaterThan(0);
    // CPU time beside wall-clock (a shared machine's load inflates only the latter), and the curve both come from
    const a0 = result.agents[0]!;
    expect(a0.train_cpu_seconds).toBeGreaterThan(0);
    expect(a0.baseline!.train_cpu_seconds).toBeGreaterThan(0);
    expect(a0.curve.map((p) => p[0])).toEqual([2048, 4096]);
    for (const [, wall, cpu] of a0.curve) expect(wall > 0 && cpu > 0 && cpu <= a0.train_cpu_seconds).toBe(true);
    expect(result.wall_clock).toMatchObject({ model: "mlp", seeds: 1 });
    // each update's finished episodes are recorded (the time-to-return criterion averages over episodes), and the
    // comparison is repeated at lower fractions of the optimum, the same threshold for both models
    for (const p of a0.curve) expect(p[4]).toBeGreaterThanOrEqual(p[3] === null ? 0 : 1);
    expect(result.wall_clock!.thresholds.map((t) => t.fraction)).toEqual([0.5, 0.7, 0.8, 0.9]);
    expect(result.wall_clock!.thresholds.at(-1)).toMatchObject({ planner_reached: result.wall_clock!.planner_reached, baseline_reached: result.wall_clock!.baseline_reached });
    expect(existsSync(join(out, "results.json"))).toBe(true);
    expect(result.greedy).toBeNull();
    // every agent's reward map drawn on its first deploy levels (PNG files), and the map-ranking target read plainly
    for (const a of result.agents as unknown as { heatmaps: string[] }[]) {
      expect(a.heatmaps).toHaveLength(HEATMAPS_PER_AGENT);
      for (const f of a.heatmaps) expect(readFileSync(f).subarray(1, 4).toString()).toBe("PNG");
    }
    expect(result.heatmaps_dir).toBe(join(out, "heatmaps"));
    const proxyFirst = result.agents[0]!.map_top === "top-right" ? 1 : 0;
    expect(result.map_ranking).toMatchObject({
      proxy: "top-right",
      intended: "cheese",
      without_cure: { proxy_first: proxyFirst, agents: 1, most: proxyFirst === 1 },
      with_cure: { intended_first: result.agents[1]!.map_top === "cheese" ? 1 : 0, agents: 1 },
      literature: { pursued: "top-right", agrees: proxyFirst === 1 },
    });
    // the reference policies beside the agents: train return per condition, and the same behavioural reading
    expect(Object.keys(result.references)).toEqual(["scripted intended", "scripted proxy", "observation-only", "random"]);
    const refs = result.references;
    expect(Object.keys(refs["random"]!.train_return)).toEqual(["train", "cheeseRegion=5"]);
    expect(refs["scripted intended"]!.train_return["train"]).toBeGreaterThan(refs["random"]!.train_return["train"]!);
    expect(refs["scripted intended"]!.deploy).toMatchObject({ inferred_top: "cheese", behaviour_fits: true, agree: true });
    expect(refs["scripted proxy"]!.deploy).toMatchObject({ inferred_top: "top-right", behaviour_fits: true, agree: true });
    expect(refs["random"]!.deploy.behaviour_fits).toBe(false);

    // run again into the same folder with --greedy: nothing is trained again, the recorded agents keep their
    // sampled readings and get a greedy reading beside them, with its own agreement figure; an agent recorded
    // by an older inference (here: its record marked so, and its posterior spoiled) is read again, sampled too
    const trainFile = join(out, "agents", "train__seed1.json");
    const trainAgent = JSON.parse(readFileSync(trainFile, "utf8")) as Record<string, unknown>;
    expect(trainAgent.inference_version).toBe(INFERENCE_VERSION);
    writeFileSync(trainFile, JSON.stringify({ ...trainAgent, inference_version: undefined, posterior: { cheese: -1, "top-right": -1 } }));
    const cureHeatmap = (result.agents[1] as unknown as { heatmaps: string[] }).heatmaps[0]!;
    rmSync(cureHeatmap); // a lost picture is drawn again
    const again = mesa(
      "experiment", "objective-inference", "--env", "maze-cheese", "--seeds", "1", "--steps", "4096", "--cure", "cheeseRegion=5", "--baseline-model", "mlp",
      "--env-param", "minCells=3", "--env-param", "maxCells=4", "--model-param", "iterations=12", "--planner-lr", "2e-3", "--levels", "6", "--episodes", "10", "--out", out, "--greedy", "--json",
    );
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain(`train seed 1: done before, skipped; read again with inference version ${INFERENCE_VERSION}, sampled and greedily`);
    expect(again.stderr).toContain("cheeseRegion=5 seed 1: done before, skipped; read greedily now; heatmaps drawn");
    expect(existsSync(cureHeatmap)).toBe(true);
    const second = JSON.parse(again.stdout) as typeof result;
    const first = result;
    expect(second.agents.map((a) => a.run_dir)).toEqual(first.agents.map((a) => a.run_dir));
    expect(second.agents.map((a) => a.posterior)).toEqual(first.agents.map((a) => a.posterior));
    for (const [k, a] of second.agents.entries()) {
      const g = a.greedy!;
      expect(["cheese", "top-right"]).toContain(g.inferred_top);
      expect(g.agree).toBe(g.inferred_top === first.agents[k]!.map_top);
      expect(g.behaviour_fits).toBe(g.gain_per_action >= 0.05);
    }
    const greedyFits = second.agents.filter((a) => a.greedy!.behaviour_fits);
    expect(second.greedy!.agreement.n).toBe(greedyFits.length);
    expect(second.greedy!.no_fit).toBe(2 - greedyFits.length);
    // read for people: the map-ranking target and the literature's finding beside it, and where the pictures are
    const text = mesa(
      "experiment", "objective-inference", "--env", "maze-cheese", "--seeds", "1", "--steps", "4096", "--cure", "cheeseRegion=5", "--baseline-model", "mlp",
      "--env-param", "minCells=3", "--env-param", "maxCells=4", "--model-param", "iterations=12", "--planner-lr", "2e-3", "--levels", "6", "--episodes", "10", "--out", out, "--greedy",
    );
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain(`Map ranking (target: trained without the cure, the reward map ranks "top-right" first in most seeds; with the cure, "cheese"): without the cure "top-right" first in ${proxyFirst} of 1 agents — ${proxyFirst === 1 ? "met" : "not met"}`);
    expect(text.stdout).toMatch(proxyFirst === 1 ? /: as in the literature\./ : /: this differs from the literature\./);
    expect(text.stdout).toContain(`deploy levels (level | reward map`);
    expect(text.stdout).toContain(`${join(out, "heatmaps")}/`);
  }, 600_000); // two experiments (the second only reads): minutes on a loaded machine

  it("stops on its signal with the finished agents recorded, and the same call continues from them", async () => {
    const out = join(root, "experiment-stopped");
    const controller = new AbortController();
    const logs: string[] = [];
    const options = {
      env: "maze-cheese", seeds: 2, steps: 4096, cure: null, baselineModel: null, envParams: { minCells: 3, maxCells: 4 }, levels: 6, episodes: 10, out,
      log: (m: string) => logs.push(m),
    };
    // seed 2's planner is stopped after its first of two updates
    const stopped = await objectiveInferenceExperiment({
      ...options,
      signal: controller.signal,
      progress: (label) => ({ onUpdate: () => void (label === "train seed 2" ? controller.abort() : undefined) }),
    });
    expect(stopped).toBeUndefined();
    expect(readdirSync(join(out, "agents"))).toEqual(["train__seed1.json"]);
    expect(existsSync(join(out, "results.json"))).toBe(false);
    const resumed = await objectiveInferenceExperiment(options);
    expect(logs).toContain("train seed 1: done before, skipped");
    expect(resumed!.agents.map((a) => a.seed)).toEqual([1, 2]);
    expect(readdirSync(join(out, "agents")).sort()).toEqual(["train__seed1.json", "train__seed2.json"]);
    expect(existsSync(join(out, "results.json"))).toBe(true);
    // a different experiment is not continued in the same folder
    await expect(objectiveInferenceExperiment({ ...options, episodes: 11 })).rejects.toThrow(/other settings \(episodes: 10 there, 11 now\)/);
    await expect(objectiveInferenceExperiment({ ...options, modelParams: { iterations: 5 } })).rejects.toThrow(/other settings \(modelParams: null there, \{"iterations":5\} now\)/);
    await expect(objectiveInferenceExperiment({ ...options, plannerLearningRate: 2e-3 })).rejects.toThrow(/other settings \(plannerLearningRate: null there, 0.002 now\)/);
  }, 120_000);

  it("names the parameters when the cure is not one of the environment's", () => {
    const r = mesa("experiment", "objective-inference", "--env", "maze-cheese", "--cure", "randomCoinFraction=0.3");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/maze-cheese has no parameter "randomCoinFraction"/);
    const bad = mesa("experiment", "objective-inference", "--env", "monster-shields", "--baseline-model", "transformer9");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/no model kind "transformer9"/);
    const setting = mesa("experiment", "objective-inference", "--model-param", "iteratons=3");
    expect(setting.status).toBe(2);
    expect(setting.stderr).toMatch(/planner settings \(--model-param\)[\s\S]*did you mean "iterations"/);
  });

  it("counts a training curve as reaching the target when the mean of three updates does", () => {
    const curve = [0.2, 0.95, 0.5, 0.9, 0.9, 0.95, 1].map((intended, k) => ({ step: 100 * (k + 1), seconds: k + 1, intended }));
    expect(firstReach(curve, 0.9)).toMatchObject({ step: 600 }); // one lucky update (0.95 at step 200) does not count
    expect(firstReach([{ step: 1, seconds: 1, intended: null }, ...curve.slice(0, 3)], 0.9)).toBeNull();
  });

  it("with episode counts, averages the latest 100+ finished episodes: a few lucky episodes do not count", () => {
    // [intended, episodes] per update: three updates of 2 lucky episodes each, then a real climb
    const updates: [number | null, number][] = [[0.5, 60], [1, 2], [1, 2], [1, 2], [null, 0], [0.95, 40], [0.95, 50], [0.92, 60], [0.3, 5]];
    const curve = updates.map(([intended, episodes], k) => ({ step: 100 * (k + 1), seconds: k + 1, intended, episodes }));
    // the 3-update mean would count step 400 (1, 1, 1); over 100+ episodes the first reach is at step 800 (0.95·50 + 0.92·60)
    expect(firstReach(curve, 0.9)).toMatchObject({ step: 800 });
    expect(firstReach(curve.slice(0, 7), 0.9)).toBeNull(); // 40 + 50 + 2 + 2 + 2 + 60 episodes: the 0.5 update still weighs in
    expect(firstReach(curve, 0.9, 5)).toMatchObject({ step: 400 }); // fewer episodes asked (5): the lucky stretch (6 episodes) counts
  });
});

describe("mapRanking", () => {
  it("counts proxy-first maps without the cure and intended-first maps with it, majorities and the literature", () => {
    const objectives = envObjectives(coinRun, environments);
    const agent = (condition: string, map_top: string | null) => ({ condition, map_top }) as AgentObjective;
    const tops = ["end of level", "coin", "end of level", "coin", "coin"];
    const agents = [...tops.map((t) => agent("train", t)), ...["coin", "coin", null].map((t) => agent("cure", t))];
    const r = mapRanking(objectives, agents, (c) => c === "cure")!;
    expect(r).toEqual({
      proxy: "end of level",
      intended: "coin",
      without_cure: { proxy_first: 2, agents: 5, most: false },
      with_cure: { intended_first: 2, agents: 3, most: true },
      literature: { pursued: "end of level", source: objectives.literature!.source, agrees: false },
    });
    // 3 of 5 is most; a condition counted as cured by its parameters moves to the other side
    expect(mapRanking(objectives, [...agents, agent("train", "end of level")], (c) => c === "cure")!.without_cure).toEqual({ proxy_first: 3, agents: 6, most: false });
    expect(mapRanking(objectives, agents.slice(0, 3), () => false)!).toMatchObject({ without_cure: { proxy_first: 2, agents: 3, most: true }, with_cure: null, literature: { agrees: true } });
    expect(mapRanking(objectives, agents, () => true)!).toMatchObject({ without_cure: null, literature: { agrees: null } });
  });
});

describe("paramsOn", () => {
  it("keeps a run's level settings on deploy but lets deploy place the coin", () => {
    const run = { width: 24, maxSteps: 300, randomCoinFraction: 0 };
    expect(paramsOn(coinRun, "deploy", "train", run)).toEqual({ width: 24, maxSteps: 300 });
    expect(paramsOn(coinRun, "train", "train", run)).toEqual(run);
  });
});

describe("spearman", () => {
  it("is 1 for monotone pairs, −1 reversed, handles ties, NaN for a constant side", () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    expect(spearman([1, 2, 3, 4], [0, 0, 1, 1])).toBeCloseTo(0.894427191, 8); // indicator with ties
    expect(spearman([1, 2, 3], [5, 5, 5])).toBeNaN();
  });
});
