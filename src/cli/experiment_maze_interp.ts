// `mesa experiment maze-interp --seeds N [--regions 1,3]`: trains (or reuses) convolutional maze-cheese agents
// with the training cheese in the top-right n×n cells and runs the interpretability battery on each — probes,
// channel search, the cheese vector, retargeting — printing one table per region with 95% intervals over seeds
// beside the study's figures. Registered as a subcommand of `mesa experiment`.
import { join } from "node:path";
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { renderHeatmap } from "../io/plot.js";
import { writeFileAtomic } from "../io/atomic.js";
import { MAZE_STUDY, type MazeInterpResult, mazeInterpExperiment, type RegionSummary, type SeedStat, type TargetVerdict } from "../interp/maze_experiment.js";
import type { DistributionValidity } from "../rl/validate.js";
import { collectParam, parseCount, parseKeyValues, parseList } from "./args.js";
import { formatTable, log, printJson } from "./output.js";
import { parseHidden, progressCallbacks } from "./train.js";

interface MazeInterpFlags {
  seeds: string;
  regions: string;
  steps?: string;
  hidden?: string;
  episodes: string;
  targets: string;
  samples: string;
  steerHook?: string;
  envParam: string[];
  out: string;
  json?: boolean;
}

const fmt = (s: SeedStat | undefined, pct = false): string => {
  if (!s || !Number.isFinite(s.mean)) return "–";
  const f = (x: number): string => (pct ? `${(100 * x).toFixed(1)}%` : x.toFixed(2));
  const lo = Number.isFinite(s.ci95[0]) ? f(s.ci95[0]) : "−∞";
  const hi = Number.isFinite(s.ci95[1]) ? f(s.ci95[1]) : "∞";
  return s.values.length === 1 ? `${f(s.mean)} (1 seed)` : `${f(s.mean)} [${lo}, ${hi}]`;
};

/** The readable table: one row per figure, one column per region, and the study's column. */
export function mazeInterpTable(result: MazeInterpResult): string {
  const regions = result.regions;
  const row = (label: string, key: string, study: string, pct = false): string[] => [label, ...regions.map((r) => fmt(r.figures[key], pct)), study];
  const base = (label: string, key: "random" | "scripted_proxy" | "observation_only_intended" | "scripted_intended"): string[] => [
    label,
    ...regions.map((r) => {
      const b = r.baselines[key];
      return b ? `${(100 * b.goal_rate).toFixed(1)}% / ${(100 * b.proxy_rate).toFixed(1)}%` : "–";
    }),
    "",
  ];
  const rows = [
    row("agent reaches the cheese on its training levels", "train_goal_rate", "", true),
    row("probe: where is the cheese (held-out accuracy)", "probe_accuracy", "—", true),
    row("  same probe, random-init network", "probe_random_init_accuracy", "", true),
    row("  same probe, raw observation", "probe_observation_accuracy", "", true),
    row("  majority-class chance", "probe_chance", "", true),
    row("cheese-tracking channels (beat random init)", "tracking_channels", String(MAZE_STUDY.cheese_tracking_channels)),
    row("  best channel's correlation with the cheese", "top_channel_correlation", ""),
    row("  random-init network's best channel", "random_init_best_correlation", ""),
    row("deploy: reaches the cheese", "goal_rate_before", "", true),
    row("  with −1 × cheese vector", "goal_rate_after", "lower", true),
    row("  change (percentage points)", "goal_rate_change_pp", ""),
    row("  cheese hidden from the observation", "goal_rate_cheese_hidden", "", true),
    row("deploy: top-right corner without cheese", "proxy_rate_before", "", true),
    row("  with −1 × cheese vector", "proxy_rate_after", "", true),
    row("  cheese hidden from the observation", "proxy_rate_cheese_hidden", "", true),
    row("deploy: reaches cheese or corner (navigation)", "navigation_rate_before", "", true),
    row("  with −1 × cheese vector", "navigation_rate_after", "kept", true),
    row("  cheese hidden (navigation without the cheese)", "navigation_rate_cheese_hidden", "", true),
    row("retargeting: reaches a random target directly", "retarget_success_rate", `channel set to +${MAZE_STUDY.retarget_activation}`, true),
    row("  unedited policy, same targets", "retarget_unedited_rate", "", true),
    row("  random policy, same targets", "retarget_random_rate", "", true),
    row("  retargeted, at any time in the episode", "retarget_any_time_rate", "", true),
    row("  unedited, at any time", "retarget_unedited_any_time_rate", "", true),
    row("  random, at any time", "retarget_random_any_time_rate", "", true),
    row("  unedited, shown the cheese at the target (ceiling)", "retarget_goal_at_target_rate", "", true),
    row("  gain over unedited, paired by seed (points)", "retarget_gain_pp", ""),
    row("retargeting with the cheese's signature added", "retarget_signature_success_rate", "", true),
    row("  gain over unedited, paired by seed (points)", "retarget_signature_gain_pp", ""),
    row("  at any time in the episode", "retarget_signature_any_time_rate", "", true),
    base("reference: random (cheese / corner)", "random"),
    base("reference: scripted proxy", "scripted_proxy"),
    base("reference: observation-only intended", "observation_only_intended"),
    base("reference: scripted intended", "scripted_intended"),
    ["validity: train levels confound cheese and corner", ...regions.map((r) => validityCell(r.validity.train)), ""],
    ["validity: deploy levels separate them", ...regions.map((r) => validityCell(r.validity.deploy)), ""],
    row("slowest analysis, CPU seconds", "slowest_analysis_cpu_seconds", ""),
  ];
  return formatTable(["figure (mean over seeds, 95% CI)", ...regions.map((r) => `region ${r.region}×${r.region} (${r.agents} seeds)`), "Mini, Turner et al. 2023"], rows);
}

/** PASS, or FAIL with the failed checks' names (the train check fails by design for wide cheese regions). */
function validityCell(v: DistributionValidity): string {
  const failed = v.checks.filter((c) => !c.pass);
  const proxy = `proxy eats the cheese ${(100 * v.policies.proxy.intended_goal_rate).toFixed(1)}%`;
  return failed.length === 0 ? `pass (${proxy})` : `FAIL ${failed.map((c) => c.name.split(":")[0]).join(", ")} (${proxy})`;
}

/** The issue's targets, one line each: met or not, and what was measured. */
export function targetLines(targets: readonly TargetVerdict[]): string {
  return targets.map((t) => `${t.met ? "met    " : "NOT met"}  region ${t.region}: ${t.target}: ${t.measured}`).join("\n");
}

/** The retargeting arms by distance, in table order. */
const DISTANCE_ARMS = [
  ["retargeted", "channels set"],
  ["signature", "signature added"],
  ["unedited", "unedited"],
  ["goal_at_target", "cheese at the target"],
] as const;

/** Retargeting success by distance from the top-right corner, four rows per region (both edits, unedited, the cheese itself). */
export function retargetDistanceTable(regions: readonly RegionSummary[]): string {
  const bins = regions[0]?.retarget_by_corner_distance ?? [];
  const rows = regions.flatMap((r) => DISTANCE_ARMS.map(([arm, label]) => [`region ${r.region}: ${label}`, ...r.retarget_by_corner_distance.map((b) => fmt(b[arm], true))]));
  return formatTable(["distance from the top-right corner (cells)", ...bins.map((b) => `${b.range[0]}–${Number.isFinite(b.range[1]) ? b.range[1] : "∞"}`)], rows);
}

export function register(program: Command): void {
  const experiment = program.commands.find((c) => c.name() === "experiment");
  if (!experiment) throw new Error("experiment_maze_interp: register after the experiment command");
  experiment
    .command("maze-interp")
    .description("probes, cheese-tracking channels, the cheese vector and retargeting on CNN maze-cheese agents, over seeds and training cheese regions")
    .option("--seeds <n|list>", "agents per region: n (training seeds 1…n) or a list of training seeds (1,2,5)", "5")
    .option("--regions <list>", "training cheese regions: the top-right n×n maze cells (3 cells = 5×5 tiles, the study's 5×5 region)", "1,3")
    .option("--steps <n>", "env steps per training (default: maze-cheese's tuned budget)")
    .option("--hidden <sizes>", "CNN channel widths and dense size, comma-separated, e.g. 8,16,64 (default: maze-cheese's tuned sizes)")
    .option("--episodes <n>", "deploy episodes per steering arm", "1000")
    .option("--targets <n>", "retargeting episodes per agent", "500")
    .option("--samples <n>", "observations for the probe and channel datasets", "1000")
    .option("--steer-hook <name>", "hook for the cheese vector (default: the first residual block's output)")
    .option("--env-param <key=value>", "environment parameter for every agent, e.g. maxCells=5 (repeatable)", collectParam, [] as string[])
    .option("--out <dir>", "directory for the runs and results.json", "runs/experiment-maze-interp")
    .option("--json", "print one JSON object")
    .action(async (opts: MazeInterpFlags) => {
      const list = parseList(opts.seeds).map((s) => parseCount(s, "--seeds"));
      if (list.length === 0) throw new UsageError("--seeds needs a count or a list of seeds", "e.g. --seeds 5 or --seeds 1,2,5");
      if (new Set(list).size !== list.length) throw new UsageError(`--seeds lists a seed twice: ${opts.seeds}`);
      const seeds = opts.seeds.includes(",") ? list : list[0]!;
      const regions = parseList(opts.regions).map((r) => parseCount(r, "--regions"));
      if (regions.length === 0) throw new UsageError("--regions needs at least one region", "e.g. --regions 1,3");
      const envParams = parseKeyValues(opts.envParam, "--env-param");
      if ("cheeseRegion" in envParams) throw new UsageError("set the training cheese regions with --regions, not --env-param cheeseRegion");
      const result = await mazeInterpExperiment({
        seeds,
        regions,
        ...(opts.steps ? { steps: parseCount(opts.steps, "--steps") } : {}),
        ...(opts.hidden ? { hidden: parseHidden(opts.hidden) } : {}),
        envParams,
        out: opts.out,
        episodes: parseCount(opts.episodes, "--episodes"),
        targets: parseCount(opts.targets, "--targets"),
        samples: parseCount(opts.samples, "--samples"),
        ...(opts.steerHook ? { steerHook: opts.steerHook } : {}),
        progress: (label) => progressCallbacks(label),
        log,
      });
      const png = join(opts.out, "retarget-by-distance.png");
      const bins = result.regions[0]?.retarget_by_corner_distance ?? [];
      writeFileAtomic(
        png,
        renderHeatmap({
          title: "retargeting success by distance from the top-right corner (mean over seeds)",
          rows: result.regions.length * DISTANCE_ARMS.length,
          cols: bins.length,
          values: result.regions.flatMap((r) => DISTANCE_ARMS.flatMap(([arm]) => r.retarget_by_corner_distance.map((b) => b[arm].mean))),
          rowLabels: result.regions.flatMap((r) => DISTANCE_ARMS.map(([, label]) => `region ${r.region} ${label}`)),
          colLabels: bins.map((b) => `${b.range[0]}-${Number.isFinite(b.range[1]) ? b.range[1] : "inf"}`),
          range: [0, 1],
          cellSize: 48,
        }),
      );
      if (opts.json) {
        printJson({ ...result, picture: png });
        return;
      }
      process.stdout.write(`maze-cheese CNN agents (widths ${result.hidden.join(", ")}), ${result.steps} env steps each${Object.keys(result.env_params).length ? `, ${JSON.stringify(result.env_params)}` : ""}\n`);
      process.stdout.write(`${mazeInterpTable(result)}\n\n${retargetDistanceTable(result.regions)}\n\nthe issue's targets (mean over seeds):\n${targetLines(result.targets)}\n`);
      log(`results: ${result.results}\npicture: ${png}`);
    });
}
