// `mesa activations RUN [--hook H] [--samples N] [--distribution D] [--json]`: collects an activation dataset
// (observations, hooked activations and environment labels) from a trained run's policy and saves it as
// safetensors + JSON (readable from Python with safetensors.numpy.load_file), for `mesa probe --dataset` or
// other tools.
import { join } from "node:path";
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { collectActivations, saveActivationDataset } from "../interp/dataset.js";
import { collectParam, parseCount, parseNumber, parseSeed } from "./args.js";
import { type AnalysisFlags, analysisLevels, interpHooks, interpOut, openInterpRun, parseSamples, provenance, withAnalysisFlags } from "./interp_run.js";
import { formatTable, log, printJson } from "./output.js";

interface ActivationsOptions extends AnalysisFlags {
  hook: string;
  samples: string;
  keep: string;
  behaviour: string;
}

export function register(program: Command): void {
  withAnalysisFlags(program.command("activations"))
    .description("collect an activation dataset (observations, hooked activations, environment labels) as safetensors + JSON")
    .argument("<run_dir>", "run directory written by mesa train")
    .option("--hook <names>", "hook names or patterns, comma-separated (default: every hook point)", "*")
    .option("--samples <n>", "observations to keep", "2000")
    .option("--keep <p>", "chance of keeping each step (spreads samples over episodes)", "0.35")
    .option("--behaviour <how>", "how the policy acts while collecting: sample, greedy or random", "sample")
    .action((runDir: string, opts: ActivationsOptions) => {
      const run = openInterpRun(runDir);
      const hooks = interpHooks(run, opts.hook);
      const { distribution, params, seed } = analysisLevels(run, opts);
      const behaviours = ["sample", "greedy", "random"] as const;
      const behaviour = behaviours.find((b) => b === opts.behaviour);
      if (!behaviour) throw new UsageError(`--behaviour must be one of ${behaviours.join(", ")}, got "${opts.behaviour}"`);
      const samples = parseSamples(run, opts.samples, "--samples", hooks);
      const keepProbability = parseNumber(opts.keep, "--keep", { min: 1e-6, max: 1 });
      log(`collecting ${samples} observations on ${run.config.env}/${distribution} …`);
      const dataset = collectActivations(run.policy, run.def, { hooks, samples, distribution, params, seed, keepProbability, behaviour, source: provenance(run) });
      const paths = saveActivationDataset(join(interpOut(run, opts.out), `activations-${distribution}`), dataset);
      if (opts.json) {
        printJson({ ...paths, samples, episodes: dataset.meta.episodes, hooks: dataset.meta.hooks, labels: dataset.meta.labels.map((l) => l.name) });
        return;
      }
      process.stdout.write(`${formatTable(["hook", "shape per sample"], dataset.meta.hooks.map((h) => [h.name, `[${h.shape.join(", ")}]`]))}\n`);
      process.stdout.write(`${samples} samples from ${dataset.meta.episodes} episodes, ${dataset.meta.labels.length} labels\n${paths.safetensors}\n${paths.json}\n`);
    });
}
