// `mesa retarget RUN [--targets N] [--hook H] [--json]`: finds the goal-tracking channels of a spatial hook
// (channel search against a random-init network), then, for N episodes with a random reachable target cell
// each, writes a high activation into those channels at the target's position and counts how often the agent
// gets there — beside the unedited policy and a random policy on the same levels and targets, by distance
// from the top-right corner and from the start (as Mini, Turner et al. 2023 reported). `--edit add` adds the
// goal's own signature at the target instead (per channel, the activation the goal adds at its own position).
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { renderHeatmap } from "../io/plot.js";
import type { DistanceBin, RetargetArm, RetargetCriterion } from "../interp/retarget.js";
import { collectActivations } from "../interp/dataset.js";
import { bestTrackingHook, type ChannelStudy, channelStudy, type RetargetStudy, retargetStudy } from "../interp/studies.js";
import { collectParam, parseCount, parseList, parseNumber, parseSeed } from "./args.js";
import { type AnalysisFlags, analysisLevels, fileSafe, interpHooks, interpOut, objectChannel, openInterpRun, parseSamples, provenance, spatialHookNames, withAnalysisFlags, writeInterpResults } from "./interp_run.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";

interface RetargetOptions extends AnalysisFlags {
  targets: string;
  hook?: string;
  channels?: string;
  top?: string;
  value?: string;
  scale: string;
  object?: string;
  keepGoal?: boolean;
  samples: string;
  greedy?: boolean;
  criterion: string;
  edit: string;
}

const ARMS: readonly RetargetArm[] = ["retargeted", "unedited", "goal_at_target", "random"];
const ARM_LABELS: Record<RetargetArm, string> = { retargeted: "retargeted (95% CI)", unedited: "unedited", goal_at_target: "goal shown at the target", random: "random" };

function binTable(bins: readonly DistanceBin[], unit: string): string {
  const rate = (b: DistanceBin, arm: RetargetArm): string => {
    const r = b.rates[arm];
    return r && r.n > 0 ? `${formatNumber(r.rate)} [${formatNumber(r.ci95[0])}, ${formatNumber(r.ci95[1])}]` : "–";
  };
  const arms = ARMS.filter((a) => bins.some((b) => b.rates[a]));
  return formatTable(
    [unit, "episodes", ...arms.map((a) => ARM_LABELS[a])],
    bins.map((b) => [`${b.range[0]}–${Number.isFinite(b.range[1]) ? b.range[1] : "∞"}`, b.episodes, ...arms.map((a) => rate(b, a))]),
  );
}

/** The --json object: success_rate (retargeted), the baselines, the by-distance tables and the channels used. */
export function retargetJson(r: RetargetStudy): Record<string, unknown> {
  const { records: _records, ...rest } = r;
  return {
    success_rate: r.success.retargeted?.rate ?? null,
    success_ci95: r.success.retargeted?.ci95 ?? null,
    unedited_rate: r.success.unedited?.rate ?? null,
    goal_at_target_rate: r.success.goal_at_target?.rate ?? null,
    random_rate: r.success.random?.rate ?? null,
    any_time_rates: { retargeted: r.success_any_time.retargeted?.rate ?? null, unedited: r.success_any_time.unedited?.rate ?? null, goal_at_target: r.success_any_time.goal_at_target?.rate ?? null, random: r.success_any_time.random?.rate ?? null },
    ...rest,
  };
}

export function register(program: Command): void {
  withAnalysisFlags(program.command("retarget"))
    .description("retarget a run's policy by editing its goal-tracking channels at a chosen cell; success over random targets, by distance")
    .argument("<run_dir>", "run directory written by mesa train")
    .option("--targets <n>", "episodes, each with a random reachable target cell", "500")
    .option("--hook <name>", "spatial hook to edit (default: the one whose best channel tracks the goal best)")
    .option("--channels <list>", "channels to edit (default: the channels that track the goal better than any random-init channel)")
    .option("--top <k>", "edit only the k best tracking channels")
    .option("--value <v>", "activation written at the target (default: --scale × the channels' largest activation at the goal)")
    .option("--scale <s>", "multiple of the largest activation at the goal seen in the channel search (with --edit add: of the goal's signature)", "1")
    .option("--edit <kind>", "set: write the value into the tracking channels at the target (the study's edit); add: add the goal's signature there (every channel unless --channels/--top)", "set")
    .option("--object <channel>", "the goal object (default: cheese)")
    .option("--keep-goal", "leave the goal object visible while retargeting (by default it is hidden from the observation)")
    .option("--samples <n>", "observations for the channel search", "1000")
    .option("--greedy", "take the most likely action instead of sampling")
    .option("--criterion <kind>", "success: direct (on the target within 2 × the shortest path's steps) or episode (any time before the episode ends)", "direct")
    .action(async (runDir: string, opts: RetargetOptions) => {
      if (opts.criterion !== "direct" && opts.criterion !== "episode") throw new UsageError(`--criterion must be direct or episode, got "${opts.criterion}"`);
      const criterion: RetargetCriterion = opts.criterion;
      if (opts.edit !== "set" && opts.edit !== "add") throw new UsageError(`--edit must be set or add, got "${opts.edit}"`, "set writes a value into the tracking channels; add adds the goal's signature");
      if (opts.edit === "add" && opts.value !== undefined) throw new UsageError("--value goes with --edit set; --edit add adds the goal's signature (scale it with --scale)");
      const episodes = parseCount(opts.targets, "--targets");
      const scale = parseNumber(opts.scale, "--scale");
      const value = opts.value !== undefined ? parseNumber(opts.value, "--value") : undefined;
      const top = opts.top !== undefined ? parseCount(opts.top, "--top") : undefined;
      const channels = opts.channels !== undefined ? parseList(opts.channels).map((c) => parseSeed(c, "--channels")) : undefined;
      const run = openInterpRun(runDir);
      const samples = parseSamples(run, opts.samples);
      const spatial = spatialHookNames(run);
      const object = objectChannel(run, opts.object);
      const { distribution, params, seed } = analysisLevels(run, opts);
      let hooks: string[];
      if (opts.hook !== undefined) {
        hooks = interpHooks(run, opts.hook);
        if (hooks.length !== 1) throw new UsageError(`--hook must name one hook point, "${opts.hook}" matches ${hooks.length}: ${hooks.join(", ")}`);
        if (!spatial.includes(hooks[0]!)) throw new UsageError(`${hooks[0]} is not a spatial hook`, `spatial hooks: ${spatial.join(", ")}`);
      } else hooks = spatial;
      if (channels && hooks.length > 1) throw new UsageError("--channels needs --hook (channel numbers belong to one hook)");
      const started = performance.now();
      log(`retargeting ${episodes} episodes (channel search on ${samples} observations first) …`);
      // with several candidate hooks, one dataset serves the channel search at each, and the hook whose channels
      // track the cheese best (most channels above the random-init bar) is edited
      let channelSearch: ChannelStudy | undefined;
      if (hooks.length > 1) {
        const dataset = collectActivations(run.policy, run.def, { hooks, samples, distribution, params, seed: seed + 104_729, source: provenance(run) });
        channelSearch = bestTrackingHook(hooks.map((h) => channelStudy(run.policy, dataset, h, `${object.name}_cell`, seed)));
      }
      const study = await retargetStudy(run.policy, run.def, {
        hook: channelSearch?.hook ?? hooks[0]!,
        channel: object.index,
        target: `${object.name}_cell`,
        ...(channelSearch ? { channelSearch } : {}),
        ...(channels ? { channels } : {}),
        ...(top !== undefined ? { top } : {}),
        ...(value !== undefined ? { value } : {}),
        scale,
        edit: opts.edit,
        hideGoal: !opts.keepGoal,
        samples,
        distribution,
        params,
        episodes,
        seed,
        ...(opts.greedy ? { greedy: true } : {}),
        criterion,
      });
      const seconds = (performance.now() - started) / 1000;
      const json = { ...retargetJson(study), hooks_searched: hooks, distribution, seconds, ...provenance(run) };
      const png = renderHeatmap({
        title: `retargeting success by target cell (${study.hook}, channels ${study.channels.join(",")})`,
        rows: study.per_cell.height,
        cols: study.per_cell.width,
        values: study.per_cell.success,
        range: [0, 1],
      });
      const written = writeInterpResults(interpOut(run, opts.out), `retarget-${fileSafe(study.hook)}`, json, { "": png });
      if (opts.json) {
        printJson({ ...json, files: [written.json, ...written.png] });
        return;
      }
      const s = study.success;
      const fmt = (arm: RetargetArm): string => (s[arm] ? `${formatNumber(s[arm]!.rate)} [${formatNumber(s[arm]!.ci95[0])}, ${formatNumber(s[arm]!.ci95[1])}]` : "–");
      const edited = study.edit === "add" ? `${formatNumber(scale)} × the ${object.name}'s signature added in channels ${study.channels.join(", ")}` : `channels ${study.channels.join(", ")} set to ${formatNumber(study.value)}`;
      process.stdout.write(
        `hook ${study.hook}: ${edited} at the target (${study.channel_search.tracking.length} channels beat the random-init network's best correlation ${formatNumber(study.channel_search.threshold)})\n`,
      );
      const anyTime = (arm: RetargetArm): string => formatNumber(study.success_any_time[arm]?.rate ?? Number.NaN);
      process.stdout.write(
        `reached the target ${criterion === "direct" ? "directly (within 2 × the shortest path's steps)" : "before the episode ended"}: retargeted ${fmt("retargeted")}, unedited ${fmt("unedited")}, ${opts.keepGoal ? "" : `the ${object.name} itself shown at the target ${fmt("goal_at_target")}, `}random ${fmt("random")} (${episodes} episodes, ${object.name} ${opts.keepGoal ? "visible" : "hidden"})\n`,
      );
      process.stdout.write(`at any time before the episode ended: retargeted ${anyTime("retargeted")}, unedited ${anyTime("unedited")}${opts.keepGoal ? "" : `, ${object.name} shown at the target ${anyTime("goal_at_target")}`}, random ${anyTime("random")}\n\n`);
      process.stdout.write(`by straight-line distance from the top-right corner (cells):\n${binTable(study.by_corner_distance, "distance")}\n\n`);
      process.stdout.write(`by path distance from the start (steps):\n${binTable(study.by_start_distance, "steps")}\n`);
    });
}
