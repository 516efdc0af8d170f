// `mesa channels RUN [--hook H] [--target cheese_cell] [--json]`: channel search — which channels of each
// spatial hook track where the goal is (correlation of the channel's map with the goal's position, argmax hits),
// counted against the best channel of a randomly initialised network of the same architecture.
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { renderHeatmap } from "../io/plot.js";
import { collectActivations } from "../interp/dataset.js";
import { isLevelCell, labelSpecs } from "../interp/labels.js";
import { type ChannelStudy, channelStudy } from "../interp/studies.js";
import { collectParam, parseCount, parseSeed } from "./args.js";
import { type AnalysisFlags, analysisLevels, fileSafe, interpHooks, interpOut, objectChannel, openInterpRun, provenance, spatialHookNames, withAnalysisFlags, writeInterpResults } from "./interp_run.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";

interface ChannelsOptions extends AnalysisFlags {
  hook?: string;
  target?: string;
  object?: string;
  samples: string;
}

/** The JSON of one hook's channel search (top channels listed in full). */
export function channelJson(s: ChannelStudy, top = 16): Record<string, unknown> {
  return {
    hook: s.hook,
    target: s.target,
    samples: s.trained.samples,
    shape: s.trained.shape,
    tracking_channels: s.tracking.length,
    tracking: s.tracking.map((c) => ({ channel: c.channel, goal_correlation: c.goal_correlation, argmax_hit_rate: c.argmax_hit_rate })),
    random_init_best_correlation: s.threshold,
    argmax_hit_chance: s.trained.argmax_hit_chance,
    top: s.trained.ranked.slice(0, top),
  };
}

export function register(program: Command): void {
  withAnalysisFlags(program.command("channels"))
    .description("channel search: which channels of a run's spatial hooks track the goal's position, against a random-init network")
    .argument("<run_dir>", "run directory written by mesa train")
    .option("--hook <names>", "spatial hook names or patterns (default: every spatial hook)")
    .option("--target <label>", "a cell label: where the goal is (default: <object>_cell)")
    .option("--object <channel>", "the goal object (default: cheese)")
    .option("--samples <n>", "observations in the dataset", "1500")
    .action((runDir: string, opts: ChannelsOptions) => {
      const run = openInterpRun(runDir);
      const spatial = spatialHookNames(run);
      const hooks = opts.hook ? interpHooks(run, opts.hook) : spatial;
      for (const h of hooks) if (!spatial.includes(h)) throw new UsageError(`${h} is not a spatial hook`, `spatial hooks: ${spatial.join(", ")}`);
      const target = opts.target ?? `${objectChannel(run, opts.object).name}_cell`;
      // channel search scores level cells: labels in the agent's frame (displacements) are not offered
      const cells = labelSpecs(run.def).filter(isLevelCell).map((l) => l.name);
      if (!cells.includes(target)) throw new UsageError(`"${target}" is not a level-cell label of ${run.config.env}`, `level-cell labels: ${cells.join(", ")}`);
      const { distribution, params, seed } = analysisLevels(run, opts);
      const samples = parseCount(opts.samples, "--samples");
      const started = performance.now();
      log(`collecting ${samples} observations on ${run.config.env}/${distribution} …`);
      const dataset = collectActivations(run.policy, run.def, { hooks, samples, distribution, params, seed, source: provenance(run) });
      const studies = hooks.map((h) => channelStudy(run.policy, dataset, h, target));
      const seconds = (performance.now() - started) / 1000;
      const maxC = Math.max(...studies.map((s) => s.trained.shape[0]));
      const values: (number | null)[] = [];
      for (const s of studies) {
        const byChannel = new Map(s.trained.ranked.map((c) => [c.channel, c.goal_correlation]));
        for (let c = 0; c < maxC; c++) values.push(byChannel.get(c) ?? null);
      }
      const png = renderHeatmap({
        title: `goal correlation of each channel with ${target}`,
        rows: studies.length,
        cols: maxC,
        values,
        rowLabels: studies.map((s) => s.hook),
        colLabels: Array.from({ length: maxC }, (_, c) => String(c)),
        xLabel: "channel",
        diverging: true,
      });
      const json = { target, distribution, seconds, hooks: studies.map((s) => channelJson(s)), ...provenance(run) };
      const written = writeInterpResults(interpOut(run, opts.out), `channels-${fileSafe(target)}`, json, { "": png });
      if (opts.json) {
        printJson({ ...json, files: [written.json, ...written.png] });
        return;
      }
      for (const s of studies) {
        process.stdout.write(
          `${s.hook} [${s.trained.shape.join(", ")}]: ${s.tracking.length} channel${s.tracking.length === 1 ? "" : "s"} above the random-init network's best correlation ${formatNumber(s.threshold)}\n`,
        );
        process.stdout.write(
          `${formatTable(
            ["channel", "goal correlation", "argmax within 1 cell", "mean at goal", "mean elsewhere"],
            s.trained.ranked.slice(0, 8).map((c) => [c.channel, formatNumber(c.goal_correlation), `${formatNumber(c.argmax_hit_rate)} (chance ${formatNumber(s.trained.argmax_hit_chance)})`, formatNumber(c.mean_at_goal), formatNumber(c.mean_elsewhere)]),
          )}\n\n`,
        );
      }
      log(`results: ${written.json}`);
    });
}
