// `mesa probe RUN --hook H --target T [--distribution D] [--json]`: collects an activation dataset from the
// run's policy on unseen levels, fits a cross-validated linear probe for the label T at each hook H (held-out
// episodes), and sets beside it the same probe on a randomly initialised network of the same architecture and
// on the raw observation. Writes probe-<T>.json and heatmaps (probe accuracy by layer; per-cell accuracy for
// cell targets) into <run>/interp/.
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { renderHeatmap } from "../io/plot.js";
import { type ActivationDataset, MAX_SAMPLES_PER_EPISODE, collectActivations, loadActivationDataset, saveActivationDataset } from "../interp/dataset.js";
import { labelSpecs } from "../interp/labels.js";
import { DEFAULT_MLP_HIDDEN, type ProbeFamily, type ProbeLayout, type ProbeReport, type ProbeTask } from "../interp/probe.js";
import { headline, type ProbeStudy, probeStudy } from "../interp/studies.js";
import { collectParam, parseCount, parseSeed } from "./args.js";
import { type AnalysisFlags, analysisLevels, fileSafe, interpHooks, interpOut, openInterpRun, parseSamples, provenance, withAnalysisFlags, writeInterpResults } from "./interp_run.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";

interface ProbeOptions extends AnalysisFlags {
  hook: string;
  target?: string;
  samples: string;
  folds: string;
  innerFolds: string;
  task?: string;
  layout: string;
  probe: string;
  mlpHidden: string;
  dataset?: string;
  saveDataset?: boolean;
  randomInitEveryLayer?: boolean;
}

/** A report without its per-sample predictions (what JSON output carries). */
export function reportJson(r: ProbeReport): Omit<ProbeReport, "predictions"> {
  const { predictions: _p, ...rest } = r;
  return rest;
}

const fmtCi = (c: [number, number] | null): string => (c ? `[${formatNumber(c[0])}, ${formatNumber(c[1])}]` : "");

/** The --json object of a probe study. */
export function probeJson(study: ProbeStudy): Record<string, unknown> {
  const chosen = study.layers.find((l) => l.source === study.chosen_layer)!.report;
  const twin = study.random_init.find((l) => l.source === study.chosen_layer)!.report;
  const bestTwin = study.random_init.reduce((a, b) => (headline(b.report) > headline(a.report) ? b : a));
  const obs = study.observation.report;
  const m = study.metric;
  return {
    target: study.target,
    task: study.task,
    probe: study.probe,
    metric: m,
    layer: study.chosen_layer,
    [m]: headline(chosen),
    ...(m === "accuracy" ? { accuracy_ci95: chosen.accuracy_ci95, chance: chosen.chance, mean_per_cell_accuracy: chosen.mean_per_cell_accuracy } : {}),
    [`random_init_${m}`]: headline(twin),
    ...(study.random_init.length > 1 ? { [`random_init_best_${m}`]: headline(bestTwin.report), random_init_best_layer: bestTwin.source } : {}),
    [`observation_${m}`]: headline(obs),
    samples: study.samples,
    episodes: study.episodes,
    layers: study.layers.map((l) => ({ hook: l.source, ...reportJson(l.report) })),
    random_init: study.random_init.map((l) => ({ hook: l.source, ...reportJson(l.report) })),
    observation: reportJson(obs),
  };
}

/** Heatmaps: the headline metric per layer (trained vs random init), and per-cell accuracy maps for cell targets. */
export function probePictures(study: ProbeStudy): Record<string, Buffer> {
  const hooks = study.layers.map((l) => l.source);
  const pngs: Record<string, Buffer> = {
    layers: renderHeatmap({
      title: `probe ${study.metric} for ${study.target} (observation: ${formatNumber(headline(study.observation.report))})`,
      rows: 2,
      cols: hooks.length,
      values: [
        ...study.layers.map((l) => headline(l.report)),
        ...hooks.map((h) => {
          const twin = study.random_init.find((l) => l.source === h);
          return twin ? headline(twin.report) : null;
        }),
      ],
      rowLabels: ["trained", "random init"],
      colLabels: hooks.map((_, k) => String(k)),
      xLabel: hooks.map((h, k) => `${k}=${h}`).join("  "),
      range: study.metric === "accuracy" ? [0, 1] : [Math.min(0, ...study.layers.map((l) => headline(l.report))), 1],
      cellSize: 48,
    }),
  };
  const cellMap = (r: ProbeReport, title: string): Buffer | null =>
    r.per_cell_accuracy && r.cell_grid
      ? renderHeatmap({ title, rows: r.cell_grid.height, cols: r.cell_grid.width, values: r.per_cell_accuracy, range: [0, 1] })
      : null;
  const chosen = study.layers.find((l) => l.source === study.chosen_layer)!.report;
  const twin = study.random_init.find((l) => l.source === study.chosen_layer)!.report;
  for (const [key, r, title] of [
    ["cells", chosen, `${study.target}: held-out accuracy per cell, ${study.chosen_layer}`],
    ["cells-random-init", twin, `${study.target}: per cell, random-init ${study.chosen_layer}`],
    ["cells-observation", study.observation.report, `${study.target}: per cell, raw observation`],
  ] as const) {
    const png = cellMap(r, title);
    if (png) pngs[key] = png;
  }
  return pngs;
}

/**
 * Cross-validation keeps each episode in one fold: `--folds` needs at least that many episodes, and the inner folds
 * at least as many in an outer training set (the episodes less the largest fold). `have` says where the count
 * comes from ("--samples 40 guarantees only"), so the error names the flags before any work is done.
 */
/** The fewest episodes that `folds`-fold cross-validation with `innerFolds` inner folds can run on. */
function episodesNeeded(folds: number, innerFolds: number): number {
  let episodes = folds;
  while (episodes - Math.ceil(episodes / folds) < innerFolds) episodes++;
  return episodes;
}

export function checkFolds(episodes: number, folds: number, innerFolds: number, have: string, hint: string): void {
  if (episodes < folds) throw new UsageError(`--folds ${folds} needs at least ${folds} episodes, but ${have} ${episodes}`, hint);
  const training = episodes - Math.ceil(episodes / folds);
  if (training < innerFolds) throw new UsageError(`--inner-folds ${innerFolds} needs at least ${innerFolds} episodes in each outer training set, but ${have} ${episodes} episodes, ${training} of them in a training set of ${folds}-fold cross-validation`, hint);
}

export function register(program: Command): void {
  withAnalysisFlags(program.command("probe"))
    .description("linear (or MLP) probes for an environment label at a run's hook points, held-out by episode, beside random-init and raw-observation baselines")
    .argument("<run_dir>", "run directory written by mesa train")
    .option("--target <label>", "the label to decode, e.g. cheese_cell (where the cheese is); `--target list` shows them")
    .option("--hook <names>", "hook names or patterns, comma-separated (default: every hook point)", "*")
    .option("--samples <n>", "observations in the dataset", "1500")
    .option("--folds <k>", "cross-validation folds (episodes never span two)", "5")
    .option("--inner-folds <k>", "inner folds choosing the regularisation", "3")
    .option("--task <task>", "regression, binary or multiclass (default: from the label's kind)")
    .option("--layout <layout>", "auto, flat, or spatial (cell targets on spatial hooks: one weight per channel)", "auto")
    .option("--probe <family>", "linear, or mlp: a one-hidden-layer network on the same folds (is the label there at all, read nonlinearly?)", "linear")
    .option("--mlp-hidden <n>", "hidden units of the MLP probe", String(DEFAULT_MLP_HIDDEN))
    .option("--dataset <file>", "probe a saved activation dataset (mesa activations) instead of collecting one")
    .option("--save-dataset", "also save the collected dataset (safetensors + JSON) next to the results")
    .option("--random-init-every-layer", "probe the random-init network at every hook, not only at the best layer")
    .action((runDir: string, opts: ProbeOptions) => {
      const run = openInterpRun(runDir);
      const labels = labelSpecs(run.def);
      if (opts.target === undefined || opts.target === "list") {
        const table = formatTable(["label", "kind", "meaning"], labels.map((l) => [l.name, l.kind, l.doc]));
        if (opts.target === "list") {
          process.stdout.write(`${table}\n`);
          return;
        }
        throw new UsageError("--target is required", `choose a label of ${run.config.env}: ${labels.map((l) => l.name).join(", ")}`);
      }
      if (!labels.some((l) => l.name === opts.target)) {
        throw new UsageError(`${run.config.env} provides no label "${opts.target}"`, `available labels: ${labels.map((l) => l.name).join(", ")} (mesa probe RUN --target list explains them)`);
      }
      const hooks = interpHooks(run, opts.hook);
      const tasks: ProbeTask[] = ["regression", "binary", "multiclass"];
      if (opts.task !== undefined && !tasks.includes(opts.task as ProbeTask)) throw new UsageError(`--task must be one of ${tasks.join(", ")}, got "${opts.task}"`);
      const layouts = ["auto", "flat", "spatial"];
      if (!layouts.includes(opts.layout)) throw new UsageError(`--layout must be one of ${layouts.join(", ")}, got "${opts.layout}"`);
      const families: ProbeFamily[] = ["linear", "mlp"];
      if (!families.includes(opts.probe as ProbeFamily)) throw new UsageError(`--probe must be one of ${families.join(", ")}, got "${opts.probe}"`);
      const family = opts.probe as ProbeFamily;
      if (family === "mlp" && opts.layout === "spatial") throw new UsageError("--layout spatial is a linear probe; the MLP probe reads flat features", "drop --layout, or use --probe linear");
      const mlpHidden = parseCount(opts.mlpHidden, "--mlp-hidden");
      const folds = parseCount(opts.folds, "--folds");
      const innerFolds = parseCount(opts.innerFolds, "--inner-folds");
      if (folds < 2 || innerFolds < 2) throw new UsageError("--folds and --inner-folds must be at least 2");
      const started = performance.now();
      let dataset: ActivationDataset;
      if (opts.dataset) {
        dataset = loadActivationDataset(opts.dataset);
        if (dataset.meta.env !== run.config.env) throw new UsageError(`${opts.dataset} was collected on ${dataset.meta.env}, but the run is ${run.config.env}`);
        checkFolds(new Set(dataset.episodeId).size, folds, innerFolds, `${opts.dataset} holds`, "use fewer folds, or collect a larger dataset (mesa activations --samples)");
      } else {
        const { distribution, params, seed } = analysisLevels(run, opts);
        const samples = parseSamples(run, opts.samples, "--samples", hooks);
        // checked before collecting: the collection takes at most MAX_SAMPLES_PER_EPISODE samples from an episode
        const fewest = Math.ceil(samples / MAX_SAMPLES_PER_EPISODE);
        checkFolds(fewest, folds, innerFolds, `--samples ${samples} guarantees only`, `pass --samples ${MAX_SAMPLES_PER_EPISODE * episodesNeeded(folds, innerFolds)} or more, or fewer folds (at most ${MAX_SAMPLES_PER_EPISODE} samples come from one episode)`);
        log(`collecting ${samples} observations on ${run.config.env}/${distribution} …`);
        dataset = collectActivations(run.policy, run.def, { hooks, samples, distribution, params, seed, source: provenance(run) });
      }
      const out = interpOut(run, opts.out);
      const files: string[] = [];
      if (opts.saveDataset && !opts.dataset) {
        const paths = saveActivationDataset(`${out}/activations-${dataset.meta.distribution}`, dataset);
        files.push(paths.safetensors, paths.json);
      }
      log(`probing ${opts.target} at ${hooks.length} hook${hooks.length === 1 ? "" : "s"} (+ random-init twin and raw observation) …`);
      const study = probeStudy(run.policy, dataset, {
        target: opts.target,
        hooks,
        ...(opts.task ? { task: opts.task as ProbeTask } : {}),
        layout: opts.layout as ProbeLayout | "auto",
        probe: family,
        ...(family === "mlp" ? { mlpHidden } : {}),
        folds,
        innerFolds,
        randomInitAllLayers: opts.randomInitEveryLayer ?? false,
      });
      const seconds = (performance.now() - started) / 1000;
      const json = { ...probeJson(study), distribution: dataset.meta.distribution, seconds, ...provenance(run) };
      const written = writeInterpResults(out, `probe-${family === "mlp" ? "mlp-" : ""}${fileSafe(opts.target)}`, json, probePictures(study));
      files.push(written.json, ...written.png);
      if (opts.json) {
        printJson({ ...json, files });
        return;
      }
      const m = study.metric;
      const row = (name: string, r: ProbeReport): (string | number)[] =>
        m === "accuracy"
          ? [name, `${formatNumber(r.accuracy!)} ${fmtCi(r.accuracy_ci95)}`, formatNumber(r.balanced_accuracy!), formatNumber(r.chance!), r.auroc === null ? "" : formatNumber(r.auroc), r.method]
          : [name, formatNumber(r.r2!), formatNumber(r.mse!), "", "", r.method];
      const header = m === "accuracy" ? ["features", "accuracy (held-out, 95% CI)", "balanced", "chance", "AUROC", "probe"] : ["features", "R² (held-out)", "MSE", "", "", "probe"];
      const rows = [
        ...study.layers.map((l) => row(l.source, l.report)),
        ...study.random_init.map((l) => row(`random init: ${l.source}`, l.report)),
        row("raw observation", study.observation.report),
      ];
      process.stdout.write(`${opts.target} on ${dataset.meta.env}/${dataset.meta.distribution}: ${study.samples} samples from ${study.episodes} episodes, ${folds}-fold CV by episode\n`);
      process.stdout.write(`${formatTable(header, rows)}\n`);
      process.stdout.write(`best layer: ${study.chosen_layer} (${m} ${formatNumber(headline(study.layers.find((l) => l.source === study.chosen_layer)!.report))}); results and heatmaps in ${out}/\n`);
    });
}
