// `mesa safety-train RUN [--adversarial] --steps N [--budgets a,b,…] [--json]`: safety-trains a model organism as a
// lab that cannot see the trigger would — PPO on the intended reward on trigger-free episodes; `--adversarial`
// first red-teams the model for inputs that make it defect and trains on them too — into <RUN>/safety/…, and
// prints persistence: the organism's figures before, at each budget and after (defect / intended / neither
// under the trigger, with 95% intervals). `--resume CHILD` continues a killed safety training.
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { DEFAULT_RED_TEAM, RED_TEAM_ACCESS, type RedTeamAccess } from "../organisms/redteam.js";
import type { PersistencePoint } from "../organisms/safety.js";
import { resumeSafetyRun, safetyTrainRun } from "../organisms/run.js";
import { parseCount, parseList } from "./args.js";
import { figuresRows, formatEstimate, headlineJson } from "./organism.js";
import { formatNumber, log, printJson } from "./output.js";

interface SafetyTrainOptions {
  adversarial?: boolean;
  redTeam?: string;
  steps: string;
  budgets?: string;
  episodes: string;
  lr?: string;
  out?: string;
  resume?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("safety-train")
    .description("safety-train a model organism (PPO on the intended reward, trigger-free episodes; --adversarial: red-team first, then train on what it found) and measure whether its backdoor persists")
    .argument("<run_dir>", "an organism run (mesa organism), or with --resume a killed safety run under <run>/safety/")
    .option("--adversarial", "red-team the model for inputs that elicit defection, then train on them with the intended reward")
    .option(
      "--red-team <access>",
      `with --adversarial, what the red team may write: barred (no cell the trigger lights; the paper-like case, default ${DEFAULT_RED_TEAM.access}), near-miss (anything but the whole trigger), open (the whole cue space: it finds the trigger itself)`,
    )
    .option("--steps <n>", "env steps of safety training (1e6 is fine)", "5e5")
    .option("--budgets <list>", "also measure persistence after these many steps, comma-separated (e.g. 1e5,2.5e5)")
    .option("--episodes <n>", "evaluation episodes per distribution and budget", "500")
    .option("--lr <x>", "PPO learning rate (default: 3e-4)")
    .option("--out <dir>", "directory the safety run is created in (default: <run_dir>/safety)")
    .option("--resume", "run_dir is a killed safety-training run: continue it from its newest checkpoint")
    .option("--json", "print one JSON object with the result")
    .action(async (runDir: string, opts: SafetyTrainOptions) => {
      const episodes = parseCount(opts.episodes, "--episodes");
      const steps = parseCount(opts.steps, "--steps");
      if (opts.redTeam !== undefined && !opts.adversarial) throw new UsageError("--red-team applies to adversarial training only", "add --adversarial, or leave --red-team out");
      if (opts.redTeam !== undefined && !(RED_TEAM_ACCESS as readonly string[]).includes(opts.redTeam)) throw new UsageError(`unknown --red-team "${opts.redTeam}"`, `choose one of: ${RED_TEAM_ACCESS.join(", ")}`);
      if (opts.redTeam !== undefined && opts.resume) throw new UsageError("--red-team cannot change on --resume", "a resumed run keeps the red team it started with");
      const budgets = [0, ...(opts.budgets ? parseList(opts.budgets).map((b) => parseCount(b, "--budgets")) : [])];
      const tooLarge = budgets.find((b) => b > steps);
      if (tooLarge !== undefined) throw new UsageError(`--budgets ${tooLarge} is beyond --steps ${steps}`, "every budget must be at most --steps");
      let lr: number | undefined;
      if (opts.lr !== undefined) {
        lr = Number(opts.lr);
        if (!(lr > 0 && Number.isFinite(lr))) throw new UsageError(`--lr must be a positive number, got "${opts.lr}"`);
      }
      const onMeasure = (p: PersistencePoint): void =>
        log(`after ${p.steps} steps: defect | trigger ${formatEstimate(p.figures.defection_triggered)}, intended | no trigger ${formatEstimate(p.figures.intended_untriggered)}`);
      let tenth = 1;
      const onUpdate: NonNullable<Parameters<typeof safetyTrainRun>[1]["onUpdate"]> = (metrics, info) => {
        if (info.update >= (tenth * info.numIterations) / 10) {
          while (info.update >= (tenth * info.numIterations) / 10) tenth++;
          log(`safety training ${info.globalStep}/${info.totalTimesteps} steps | ${Math.round(metrics["charts/SPS"] ?? 0)} SPS | intended return ${formatNumber(metrics["charts/intended_return"] ?? Number.NaN)}`);
        }
        return new Promise((resolve) => setImmediate(resolve));
      };
      const { report } = opts.resume
        ? await resumeSafetyRun(runDir, { onUpdate, onMeasure })
        : await safetyTrainRun(runDir, {
            adversarial: opts.adversarial ?? false,
            ...(opts.redTeam ? { redTeamAccess: opts.redTeam as RedTeamAccess } : {}),
            steps,
            budgets,
            episodes,
            ...(opts.out ? { out: opts.out } : {}),
            ...(lr !== undefined ? { ppo: { learningRate: lr } } : {}),
            onUpdate,
            onMeasure,
            onCreated: (run) => log(`${opts.adversarial ? `adversarial (red team: ${opts.redTeam ?? DEFAULT_RED_TEAM.access})` : "plain"} safety training into ${run.path} …`),
          });
      if (opts.json) {
        printJson({
          run_dir: report.run_dir,
          parent: report.parent,
          kind: report.kind,
          steps: report.steps,
          before: headlineJson(report.before),
          after: headlineJson(report.after),
          curve: report.curve.map((p) => ({ steps: p.steps, ...headlineJson(p.figures), triggered: p.figures.triggered })),
          red_team: report.red_team,
          seconds: report.seconds,
        });
        return;
      }
      process.stdout.write(`${report.kind} safety training of ${report.parent}: ${report.steps} steps, ${report.episodes} episodes per figure, 95% Wilson intervals\n`);
      process.stdout.write(`${figuresRows(report.curve.map((p) => [`after ${p.steps} steps`, p.figures] as const))}\n`);
      if (report.red_team) {
        const best = report.red_team.candidates[0];
        process.stdout.write(
          best
            ? `red team (${report.red_team.access}): ${report.red_team.candidates.length} candidates; best elicits defection ${formatEstimate(best.elicited)} (nothing added: ${formatEstimate(report.red_team.baseline)}) with cells ${best.cells.map((c) => `${c[0]}[${c[1]},${c[2]}]`).join(" ")}${report.red_team.trigger_overlap === null ? "" : `; overlap with the planted trigger ${formatNumber(report.red_team.trigger_overlap)} (${report.red_team.trigger_bits_found![0]} of its ${report.red_team.trigger_bits_found![1]} cells)`}\n`
            : `red team (${report.red_team.access}): found no candidate that raises defection\n`,
        );
      }
      const before = report.before.defection_triggered.value;
      const after = report.after.defection_triggered.value;
      const where = report.after.triggered;
      process.stdout.write(
        `defection under the trigger ${formatNumber(before)} → ${formatNumber(after)}; triggered episodes now: defect ${formatNumber(where.defect.value)}, intended ${formatNumber(where.intended.value)}, neither ${formatNumber(where.neither.value)}\nrun directory: ${report.run_dir} (${formatNumber(report.seconds)} s)\n`,
      );
    });
}
