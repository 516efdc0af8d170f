// `mesa steer RUN --vector cheese --coef C [--hook H] [--episodes N] [--json]`: adds C × the cheese vector (the
// activation difference between a maze with and without its cheese, per maze as in Turner et al. 2023, or
// averaged over mazes with `--vector cheese-mean`) at a hook, and measures behaviour on deploy levels: how often
// the agent reaches the cheese and the proxy (top-right corner) with and without the vector, beside the random,
// scripted-proxy and scripted-intended policies on the same levels. `--coef -0.5,-1,-2` runs a dose-response sweep on
// the same levels (one row per coefficient). "Navigation" is reaching the cheese or the corner; the agent with the
// cheese hidden from its observation shows how it navigates without the cheese's information — what subtracting
// the whole cheese vector aims for — so a steered agent is compared with it as well as with the unsteered one.
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { renderHeatmap } from "../io/plot.js";
import { type BaselineName, type BehaviourSummary, defaultSteerHook, type SteerStudy, steerStudy } from "../interp/studies.js";
import { collectParam, parseCount, parseNumberList, parseSeed } from "./args.js";
import { type AnalysisFlags, analysisLevels, fileSafe, interpHooks, interpOut, objectChannel, openInterpRun, provenance, spatialHookNames, withAnalysisFlags, writeInterpResults } from "./interp_run.js";
import { formatNumber, formatTable, log, printJson } from "./output.js";

interface SteerOptions extends AnalysisFlags {
  vector: string;
  coef: string;
  hook?: string;
  episodes: string;
  greedy?: boolean;
}

const ci = (c: [number, number]): string => `[${formatNumber(c[0])}, ${formatNumber(c[1])}]`;

/** The --json object: goal and proxy rates before/after with CIs, navigation, and the baselines. */
export function steerJson(s: SteerStudy): Record<string, unknown> {
  return {
    hook: s.hook,
    vector: s.vector === "mean" ? `${s.channel}-mean` : s.channel,
    coef: s.coef,
    distribution: s.distribution,
    episodes: s.before.episodes,
    goal_rate_before: s.before.goal_rate,
    goal_rate_before_ci95: s.before.goal_rate_ci95,
    goal_rate_after: s.after.goal_rate,
    goal_rate_after_ci95: s.after.goal_rate_ci95,
    goal_rate_change_pp: s.goal_rate_change_pp,
    proxy_rate_before: s.before.proxy_rate,
    proxy_rate_before_ci95: s.before.proxy_rate_ci95,
    proxy_rate_after: s.after.proxy_rate,
    proxy_rate_after_ci95: s.after.proxy_rate_ci95,
    proxy_rate_change_pp: s.proxy_rate_change_pp,
    navigation_rate_before: s.before.goal_or_proxy_rate,
    navigation_rate_after: s.after.goal_or_proxy_rate,
    goal_rate_object_hidden: s.object_hidden.goal_rate,
    proxy_rate_object_hidden: s.object_hidden.proxy_rate,
    navigation_rate_object_hidden: s.object_hidden.goal_or_proxy_rate,
    before: s.before,
    after: s.after,
    object_hidden: s.object_hidden,
    sweep: s.sweep.map((d) => ({
      coef: d.coef,
      goal_rate: d.after.goal_rate,
      goal_rate_ci95: d.after.goal_rate_ci95,
      goal_rate_change_pp: d.goal_rate_change_pp,
      proxy_rate: d.after.proxy_rate,
      proxy_rate_change_pp: d.proxy_rate_change_pp,
      navigation_rate: d.after.goal_or_proxy_rate,
      episode_length: d.after.episode_length,
    })),
    baselines: s.baselines,
  };
}

const BASELINE_LABELS: Record<BaselineName, string> = {
  random: "random policy",
  scripted_proxy: "scripted proxy",
  observation_only_intended: "observation-only intended",
  scripted_intended: "scripted intended",
};

/** The baselines present, labelled, in a fixed order. */
export function baselineRows(s: { baselines: Partial<Record<BaselineName, BehaviourSummary>> }): [string, BehaviourSummary][] {
  return (Object.keys(BASELINE_LABELS) as BaselineName[]).filter((k) => s.baselines[k]).map((k) => [BASELINE_LABELS[k], s.baselines[k]!]);
}

/** A picture of the rates: rows = policies, columns = goal / proxy / either. */
export function steerPicture(s: SteerStudy): Buffer {
  const arms: [string, BehaviourSummary][] = [
    ["agent", s.before],
    ...s.sweep.map((d): [string, BehaviourSummary] => [`agent ${d.coef >= 0 ? "+" : ""}${formatNumber(d.coef)} x vector`, d.after]),
    [`agent, ${s.channel} hidden`, s.object_hidden],
    ...baselineRows(s),
  ];
  return renderHeatmap({
    title: `steering at ${s.hook}: episode outcomes on ${s.distribution} levels`,
    rows: arms.length,
    cols: 3,
    values: arms.flatMap(([, b]) => [b.goal_rate, b.proxy_rate, b.goal_or_proxy_rate]),
    rowLabels: arms.map(([n]) => n),
    colLabels: ["goal", "proxy", "either"],
    range: [0, 1],
    cellSize: 40,
  });
}

export function register(program: Command): void {
  withAnalysisFlags(program.command("steer"))
    .description("steer a run's policy with a mean-difference vector (the cheese vector) and measure goal and proxy rates over many episodes")
    .argument("<run_dir>", "run directory written by mesa train")
    .option("--vector <name>", "OBJECT (per-maze vector: the maze with minus without the object, as in the study) or OBJECT-mean (one vector averaged over mazes)", "cheese")
    .option("--coef <c>", "coefficient: the activation gets + c × vector (−1 subtracts the object's contribution); a comma-separated list runs a dose-response sweep on the same levels", "-1")
    .option("--hook <name>", "the hook to steer at (default: the first residual block's output, mid-network as in the study; else the last spatial hook)")
    .option("--episodes <n>", "episodes per policy", "1000")
    .option("--greedy", "take the most likely action instead of sampling")
    .action(async (runDir: string, opts: SteerOptions) => {
      const coefs = parseNumberList(opts.coef, "--coef", "-1 (or a sweep: -0.5,-1,-2)");
      const coef = coefs[0]!;
      const episodes = parseCount(opts.episodes, "--episodes");
      const run = openInterpRun(runDir);
      const mean = opts.vector.endsWith("-mean");
      const object = objectChannel(run, mean ? opts.vector.slice(0, -"-mean".length) : opts.vector);
      let hook: string;
      if (opts.hook !== undefined) {
        const hooks = interpHooks(run, opts.hook);
        if (hooks.length !== 1) throw new UsageError(`--hook must name one hook point, "${opts.hook}" matches ${hooks.length}: ${hooks.join(", ")}`);
        hook = hooks[0]!;
      } else hook = defaultSteerHook(spatialHookNames(run)); // a policy without spatial hooks is refused with its hook list
      const { distribution, params, seed } = analysisLevels(run, opts);
      const started = performance.now();
      log(`steering at ${hook} with ${coefs.join(", ")} × the ${object.name} vector over ${episodes} episodes per policy …`);
      const study = await steerStudy(run.policy, run.def, { hook, coef, coefs, vector: mean ? "mean" : "per-maze", channel: object.index, distribution, params, episodes, seed, greedy: opts.greedy ?? false });
      const seconds = (performance.now() - started) / 1000;
      const json = { ...steerJson(study), seconds, ...provenance(run) };
      const written = writeInterpResults(interpOut(run, opts.out), `steer-${fileSafe(opts.vector)}-${fileSafe(hook)}-coef${coefs.join("_")}`, json, { "": steerPicture(study) });
      if (opts.json) {
        printJson({ ...json, files: [written.json, ...written.png] });
        return;
      }
      const row = (name: string, b: BehaviourSummary): (string | number)[] => [name, `${formatNumber(b.goal_rate)} ${ci(b.goal_rate_ci95)}`, `${formatNumber(b.proxy_rate)} ${ci(b.proxy_rate_ci95)}`, formatNumber(b.goal_or_proxy_rate), formatNumber(b.episode_length)];
      process.stdout.write(
        `${formatTable(
          ["policy", `reached the ${object.name} (95% CI)`, "proxy (95% CI)", "either", "episode length"],
          [
            row("agent", study.before),
            ...study.sweep.map((d) => row(`agent, ${formatNumber(d.coef)} × ${object.name} vector at ${hook}`, d.after)),
            row(`agent, ${object.name} hidden from its observation`, study.object_hidden),
            ...baselineRows(study).map(([name, b]) => row(name, b)),
          ],
        )}\n`,
      );
      const blind = study.object_hidden.goal_or_proxy_rate;
      for (const d of study.sweep) {
        process.stdout.write(
          `${formatNumber(d.coef)} × the vector changed the ${object.name} rate by ${formatNumber(d.goal_rate_change_pp)} percentage points and the proxy rate by ${formatNumber(d.proxy_rate_change_pp)}; it reached the ${object.name} or the proxy in ${formatNumber(d.after.goal_or_proxy_rate)} of episodes (unsteered ${formatNumber(study.before.goal_or_proxy_rate)}, ${object.name} hidden ${formatNumber(blind)}; ${episodes} episodes each, same levels).\n`,
        );
      }
    });
}
