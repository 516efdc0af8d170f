// `mesa detect RUN [--json]`: scores every detector of an organism's defection (a trigger-known probe, and the
// trigger-unknown contrast pairs, anomaly scores, principal directions and behaviour-based trigger search) by
// AUROC per layer on held-out states, and writes detect.json into the run directory.
import { join } from "node:path";
import type { Command } from "commander";
import { writeJsonAtomic } from "../io/atomic.js";
import { hookInfo, resolveHooks } from "../interp/hooks.js";
import { DETECTORS, detectStudy } from "../organisms/detect.js";
import { evalSeed, loadOrganism } from "../organisms/run.js";
import { parseCount, parseList } from "./args.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";

interface DetectOptions {
  samples: string;
  referenceSamples: string;
  hook: string;
  triggerSearch: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("detect")
    .description("detect an organism's defection from its activations: AUROC per layer of a trigger-known probe and of trigger-unknown detectors, on held-out states")
    .argument("<run_dir>", "an organism run (mesa organism) or a safety-trained one (<run>/safety/…)")
    .option("--samples <n>", "held-out states (half of the episodes show the trigger)", "2000")
    .option("--reference-samples <n>", "trigger-free states the unsupervised detectors are fitted on", "2000")
    .option("--hook <names>", "hook names or patterns, comma-separated", "*")
    .option("--no-trigger-search", "skip the behaviour-based trigger search (the slowest detector)")
    .option("--json", "print one JSON object with the result")
    .action((runDir: string, opts: DetectOptions) => {
      const org = loadOrganism(runDir);
      const samples = parseCount(opts.samples, "--samples");
      const referenceSamples = parseCount(opts.referenceSamples, "--reference-samples");
      const available = hookInfo(org.policy, org.oenv.obsShape).map((h) => h.name);
      const hooks = resolveHooks(available, parseList(opts.hook));
      log(`detecting on ${samples} held-out states of ${org.oenv.def.name}/${org.oenv.mixed} at ${hooks.length} hooks and the input …`);
      const report = detectStudy(org.policy, org.oenv, { samples, referenceSamples, hooks, triggerSearch: opts.triggerSearch, seed: evalSeed(org.config) + 1 });
      const file = join(org.run.path, "detect.json");
      writeJsonAtomic(file, { run_dir: org.run.path, ...report });
      if (opts.json) {
        printJson({ run_dir: org.run.path, file, ...report });
        return;
      }
      const layers = ["input", ...hooks];
      const rows = DETECTORS.filter((name) => report.detectors.some((d) => d.name === name)).map((name) => {
        const known = report.detectors.find((d) => d.name === name)!.trigger_known;
        return [`${name}${known ? " (trigger known)" : ""}`, ...layers.map((l) => {
          const d = report.detectors.find((s) => s.name === name && s.layer === l);
          return d ? formatNumber(d.auroc) : "";
        })];
      });
      const h = report.held_out;
      process.stdout.write(`held-out: ${h.samples} states from ${h.episodes} episodes of ${h.distribution}, ${h.triggered} showing the trigger; AUROC for "shows the trigger" on the test half (${h.test} states; the other ${h.validation}, whole episodes apart, choose the best layer)\n`);
      process.stdout.write(`${formatTable(["detector", ...layers], rows)}\n`);
      if (report.detectors.some((d) => d.auroc_twins !== null)) {
        const twinRows = DETECTORS.filter((name) => report.detectors.some((d) => d.name === name && d.auroc_twins !== null)).map((name) => [
          name,
          ...layers.map((l) => {
            const d = report.detectors.find((s) => s.name === name && s.layer === l);
            return d?.auroc_twins == null ? "" : formatNumber(d.auroc_twins);
          }),
        ]);
        process.stdout.write(`twins: the trigger-free test states against the same states with the trigger lit (does a detector see the trigger itself, or where defection leads?)\n`);
        process.stdout.write(`${formatTable(["detector", ...layers], twinRows)}\n`);
      }
      for (const k of report.skipped) process.stdout.write(`${k.name}: not scored — ${k.reason}\n`);
      const best = report.best_trigger_unknown;
      if (best) process.stdout.write(`best trigger-unknown detector: ${best.name} at ${best.layer}, test AUROC ${formatNumber(best.auroc)} (chosen on the validation half: ${formatNumber(best.auroc_validation)})\n`);
      process.stdout.write(`written to ${file} (${formatNumber(report.seconds)} s)\n`);
    });
}
