// `mesa icl`: train a transformer on in-context linear regression and measure how closely it runs gradient
// descent in its forward pass (von Oswald et al. 2023). Writes a run directory with metrics, checkpoints and
// plots; prints a table, or one JSON object with --json.
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { checkOutputDir, deprecatedAlias, parseInteger, parseKeepCheckpoints, parseNumber, parseSeed, warnDeprecated } from "./args.js";
import { interruptible } from "./interrupt.js";
import { layerStructure, type Comparison } from "../icl/compare.js";
import { type IclRun, runIclExperiment } from "../icl/run.js";
import { LOSS_CONVENTION, iclConfig, type IclConfigInput, type IclResult } from "../icl/train.js";
import { formatTable, log, printJson } from "./output.js";

interface IclFlags {
  layers: string;
  d: string;
  n: string;
  steps?: string;
  batch?: string;
  seed: string;
  lr?: string;
  clip?: string;
  xRange: string;
  noise: string;
  nonlinear?: boolean;
  constrained?: boolean;
  model: string;
  out: string;
  runs?: string;
  keepCheckpoints: string;
  json?: boolean;
}

export function register(program: Command): void {
  const icl = program
    .command("icl")
    .description("train a transformer on in-context linear regression and compare it with gradient descent (von Oswald et al. 2023)")
    .option("--layers <L>", "attention layers, compared with L steps of GD and GD++ (1 … 16)", "1")
    .option("--d <d>", "input dimension (1 … 256)", "10")
    .option("--n <N>", "context points per sequence (1 … 1024)", "10")
    .option("--steps <steps>", "Adam steps, each on a fresh batch of tasks (default: 2000)")
    .option("--batch <tasks>", "tasks per step (default: 1024 for lsa, 256 for transformer)")
    .option("--seed <seed>", "seed of every random stream (0 … 2^32−1)", "0")
    .option("--lr <lr>", "Adam learning rate (default: 0.001)")
    .option("--clip <norm>", "global gradient-norm clip (default: 0.001)")
    .option("--x-range <r>", "inputs x ~ U(-r, r)^d (paper text: 1, paper code: 0.5)", "1")
    .option("--noise <sigma>", "Gaussian noise σ on the targets", "0")
    .option("--nonlinear", "targets from a random 2-layer ReLU network instead of a linear map")
    .option("--constrained", "LSA: the papers' GD-form constraint on W_Q, W_K, W_O")
    .option("--model <model>", "lsa (linear self-attention) or transformer (softmax + MLP + LayerNorm)", "lsa")
    .option("--out <dir>", "directory the run directory is created in", "runs")
    .option("--keep-checkpoints <n>", "keep the newest n checkpoints, or all", "3")
    .option("--json", "print one JSON object with the results");
  deprecatedAlias(icl, "--runs <dir>", "--out");
  icl.action(async (flags: IclFlags) => {
    await runIcl(flags);
  });
}

function int(flag: string, value: string | undefined, lo: number, hi: number): number | undefined {
  return value === undefined ? undefined : parseInteger(value, flag, { min: lo, max: hi, example: String(lo === 0 ? 1 : lo) });
}

function num(flag: string, value: string | undefined, positive: boolean): number | undefined {
  return value === undefined ? undefined : parseNumber(value, flag, { min: 0, exclusiveMin: positive });
}

async function runIcl(flags: IclFlags): Promise<void> {
  const t0 = performance.now();
  if (flags.model !== "lsa" && flags.model !== "transformer") throw new UsageError(`--model must be lsa or transformer, got ${JSON.stringify(flags.model)}`);
  if (flags.constrained && flags.model !== "lsa") throw new UsageError("--constrained applies to --model lsa only");
  const input: IclConfigInput = {
    task: {
      d: int("--d", flags.d, 1, 256)!,
      n: int("--n", flags.n, 1, 1024)!,
      xRange: num("--x-range", flags.xRange, true)!,
      noise: num("--noise", flags.noise, false)!,
      nonlinear: flags.nonlinear ?? false,
    },
    model: flags.model,
    layers: int("--layers", flags.layers, 1, 16)!,
    constrained: flags.constrained ?? false,
    seed: parseSeed(flags.seed),
  };
  const steps = int("--steps", flags.steps, 1, 10_000_000);
  if (steps !== undefined) input.steps = steps;
  const batch = int("--batch", flags.batch, 1, 1_000_000);
  if (batch !== undefined) input.batch = batch;
  const lr = num("--lr", flags.lr, true);
  if (lr !== undefined) input.lr = lr;
  const clip = num("--clip", flags.clip, true);
  if (clip !== undefined) input.clip = clip;
  const keepCheckpoints = parseKeepCheckpoints(flags.keepCheckpoints);
  const config = iclConfig(input, "mesa icl options");
  if (flags.runs !== undefined) warnDeprecated("mesa icl --runs DIR", "--out DIR");
  const root = flags.runs ?? flags.out;
  checkOutputDir(root, flags.runs !== undefined ? "--runs" : "--out");

  const bar = new SingleBar({ format: "training |{bar}| {value}/{total} steps · loss {loss} · {eta_formatted} left", stream: process.stderr, hideCursor: true, etaBuffer: 200 });
  let outcome: IclRun;
  try {
    outcome = await interruptible("training", (signal) =>
      runIclExperiment(
        config,
        root,
        {
          onRunDir: (run) => {
            if (!flags.json) log(`mesa icl: ${config.layers}-layer ${config.model}, d=${config.task.d}, N=${config.task.n}, ${config.steps} steps × ${config.batch} tasks → ${run.path}`);
            bar.start(config.steps, 0, { loss: "…" });
          },
          onStep: (step, loss) => {
            if (step % 10 === 0 || step === config.steps) bar.update(step, { loss: loss.toFixed(4) });
          },
        },
        { signal, keepCheckpoints },
      ),
    );
  } finally {
    bar.stop();
  }
  const { result, summary, run } = outcome;
  const seconds = (performance.now() - t0) / 1000;
  if (flags.json) printJson({ ...summary, seconds });
  else printTables(result, seconds, run.path);
}

function printTables(r: IclResult, seconds: number, runDir: string): void {
  const k = r.layers;
  const gdName = `GD, ${k} step${k > 1 ? "s" : ""} (η=${r.gd.eta.toFixed(3)})`;
  const cols = ["measure", `trained ${r.model}`, gdName];
  if (r.vsGdpp) cols.push(`GD++, ${k} steps`);
  const row = (name: string, f: (c: Comparison) => number, model?: (c: Comparison) => number): (string | number)[] => {
    const out: (string | number)[] = [name, model ? model(r.vsGd) : "", f(r.vsGd)];
    if (r.vsGdpp) out.push(f(r.vsGdpp));
    return out;
  };
  const rows: (string | number)[][] = [
    row("test loss", (c) => c.baselineLoss, (c) => c.modelLoss),
    row("  model vs baseline (relative)", (c) => r.vsGd.modelLoss / c.baselineLoss - 1),
    row("prediction cosine", (c) => c.predictionCosine),
    row("sensitivity cosine ∂ŷ/∂x_q", (c) => c.sensitivityCosine),
    row("prediction mean squared diff", (c) => c.predictionMsd),
  ];
  if (r.interpolatedLoss !== null) rows.push(["interpolated model loss", "", r.interpolatedLoss]);
  rows.push(["OOD (x×2) test loss", r.oodVsGd.modelLoss, r.oodVsGd.baselineLoss]);
  rows.push(["OOD prediction cosine", "", r.oodVsGd.predictionCosine]);
  rows.push(["OOD sensitivity cosine", "", r.oodVsGd.sensitivityCosine]);
  process.stdout.write(`${formatTable(cols, rows)}\n\n`);
  if (r.products) {
    const ws = layerStructure(r.products, r.construction);
    const wrows = ws.map((w, l) => [`layer ${l}`, w.kqDiagMean, w.kqOffDiagRms, w.kqYRms, w.pvYY, w.pvDiagMean, w.pvOtherRms]);
    wrows.push(["GD construction", 1, 0, 0, -r.gd.eta, 0, 0]);
    process.stdout.write(`weights in the construction's gauge (see weights.svg):\n${formatTable(["", "W_KQ diag", "W_KQ off-diag rms", "W_KQ y rms", "W_PV[y,y] (−η)", "W_PV x-diag (−γ)", "W_PV other rms"], wrows)}\n\n`);
  }
  process.stdout.write(`least squares loss ${r.leastSquaresLoss.toPrecision(4)}, ridge (λ=σ²) loss ${r.ridgeLoss.toPrecision(4)}\n`);
  process.stdout.write(`loss = ${LOSS_CONVENTION}\n`);
  process.stdout.write(`trained ${r.steps} steps in ${r.trainSeconds.toFixed(1)} s; whole command ${seconds.toFixed(1)} s; run directory ${runDir}\n`);
}
