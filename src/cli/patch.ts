// `mesa patch RUN [--hook H] [--by channel|position|layer] [--corrupt remove|move] [--json]`: activation
// patching between observations from the policy's own deploy episodes (clean: the goal object visible) and the
// same observations with the object removed or moved (corrupted). Reports, per hook and channel (or position),
// the fraction of the clean−corrupted difference in the preferred action's log-probability and in the value
// that patching restores; heatmaps layer × channel (or one map per hook for positions).
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { renderHeatmap } from "../io/plot.js";
import type { PatchDirection, PatchGranularity } from "../interp/patching.js";
import { type PatchStudy, patchStudy } from "../interp/studies.js";
import { collectParam, parseCount, parseSeed } from "./args.js";
import { type AnalysisFlags, analysisLevels, fileSafe, interpHooks, interpOut, objectChannel, openInterpRun, parseSamples, provenance, withAnalysisFlags, writeInterpResults } from "./interp_run.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";

interface PatchOptions extends AnalysisFlags {
  hook: string;
  by: string;
  corrupt: string;
  direction: string;
  object?: string;
  samples: string;
}

function choice<T extends string>(value: string, flag: string, options: readonly T[]): T {
  const v = options.find((o) => o === value);
  if (v === undefined) throw new UsageError(`${flag} must be one of ${options.join(", ")}, got "${value}"`);
  return v;
}

/** Heatmaps of a patch study: layer × channel (or layer × 1), or one per hook over positions. */
export function patchPictures(study: PatchStudy): Record<string, Buffer> {
  const verb = study.direction === "denoise" ? "restored" : "destroyed";
  const pngs: Record<string, Buffer> = {};
  if (study.hooks[0]?.granularity === "position") {
    for (const h of study.hooks) {
      const [, hh, ww] = h.shape as [number, number, number];
      pngs[fileSafe(h.hook)] = renderHeatmap({ title: `${h.hook}: log-prob gap ${verb} by patching each position`, rows: hh, cols: ww, values: h.logprob_effect, diverging: true });
    }
    return pngs;
  }
  const maxC = Math.max(...study.hooks.map((h) => h.indices.length));
  const values: (number | null)[] = [];
  for (const h of study.hooks) for (let c = 0; c < maxC; c++) values.push(h.logprob_effect[c] ?? null);
  pngs[""] = renderHeatmap({
    title: `fraction of the ${study.object}'s effect on the action log-prob ${verb} (${study.direction})`,
    rows: study.hooks.length,
    cols: maxC,
    values,
    rowLabels: study.hooks.map((h) => h.hook),
    colLabels: Array.from({ length: maxC }, (_, c) => String(c)),
    xLabel: study.hooks[0]?.granularity === "channel" ? "channel" : "whole layer",
    diverging: true,
  });
  return pngs;
}

export function register(program: Command): void {
  withAnalysisFlags(program.command("patch"))
    .description("activation patching: how much of the goal object's effect on the policy each hook, channel or position carries")
    .argument("<run_dir>", "run directory written by mesa train")
    .option("--hook <names>", "hook names or patterns, comma-separated (default: every hook point)", "*")
    .option("--by <granularity>", "patch whole layers, single channels, or single positions (spatial hooks)", "channel")
    .option("--corrupt <how>", "corrupted input: the same observation with the object removed, or moved to another open cell", "remove")
    .option("--direction <d>", "denoise (clean activations into the corrupted run) or noise (the reverse)", "denoise")
    .option("--object <channel>", "the goal object (default: cheese)")
    .option("--samples <n>", "clean/corrupted pairs (pairs where the object changes the preferred action first)", "128")
    .action((runDir: string, opts: PatchOptions) => {
      const granularity = choice<PatchGranularity>(opts.by, "--by", ["layer", "channel", "position"]);
      const corruption = choice(opts.corrupt, "--corrupt", ["remove", "move"] as const);
      const direction = choice<PatchDirection>(opts.direction, "--direction", ["denoise", "noise"]);
      const run = openInterpRun(runDir);
      const samples = parseSamples(run, opts.samples);
      let hooks = interpHooks(run, opts.hook);
      if (granularity === "position") {
        const spatial = new Set(run.hooks.filter((h) => h.shape.length === 3).map((h) => h.name));
        const dropped = hooks.filter((h) => !spatial.has(h));
        hooks = hooks.filter((h) => spatial.has(h));
        if (hooks.length === 0) throw new UsageError("--by position needs spatial hooks [C, h, w]", `spatial hooks: ${[...spatial].join(", ") || "none (train with --model cnn)"}`);
        if (dropped.length > 0) log(`--by position: skipping non-spatial hooks ${dropped.join(", ")}`);
      }
      const object = objectChannel(run, opts.object);
      const { distribution, params, seed } = analysisLevels(run, opts);
      const started = performance.now();
      const study = patchStudy(run.policy, run.def, { hooks, granularity, direction, channel: object.index, corruption, samples, distribution, params, seed });
      const seconds = (performance.now() - started) / 1000;
      const json = { ...study, distribution, seconds, ...provenance(run) };
      const written = writeInterpResults(interpOut(run, opts.out), `patch-${object.name}-${granularity}-${direction}`, json, patchPictures(study));
      if (opts.json) {
        printJson({ ...json, files: [written.json, ...written.png] });
        return;
      }
      process.stdout.write(
        `${study.samples} pairs (${study.decisive_pairs} where the ${object.name} changes the preferred action); log π(clean action): clean ${formatNumber(study.clean_logprob)}, corrupted ${formatNumber(study.corrupted_logprob)}; value: clean ${formatNumber(study.clean_value)}, corrupted ${formatNumber(study.corrupted_value)}\n`,
      );
      const rows = study.hooks.map((h) => {
        const best = h.logprob_effect.reduce((b, v, k) => (Number.isFinite(v) && (b < 0 || v > h.logprob_effect[b]!) ? k : b), -1);
        return [
          h.hook,
          `[${h.shape.join(", ")}]`,
          best < 0 ? "–" : `${h.granularity === "layer" ? "layer" : `${h.granularity} ${h.indices[best]}`}: ${formatNumber(h.logprob_effect[best]!)}`,
          best < 0 ? "–" : formatNumber(h.value_effect[best]!),
        ];
      });
      process.stdout.write(`${formatTable(["hook", "shape", `largest share of log-prob gap ${direction === "denoise" ? "restored" : "destroyed"}`, "value gap (same patch)"], rows)}\n`);
      log(`results and heatmaps: ${written.json}, ${written.png.join(", ")}`);
    });
}
