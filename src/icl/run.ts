// An ICL training run on disk: the run directory (config, metrics, checkpoints), the trained model compared with
// GD / GD++, the loss-curve and weight plots, and summary.json with every figure `mesa icl --json` prints.
// `mesa icl` and sweep jobs are thin callers.
import { join } from "node:path";
import { InterruptedError } from "../core/errors.js";
import type { Tensor } from "../core/tensor.js";
import { writeFileAtomic } from "../io/atomic.js";
import { RunDir } from "../io/rundir.js";
import type { TensorInput } from "../io/safetensors.js";
import { gaugeScale, layerStructure, type Comparison } from "./compare.js";
import { heatmapsPng, heatmapsSvg, lineChartPng, lineChartSvg, type HeatmapPanel } from "./plots.js";
import { LOSS_CONVENTION, trainIcl, type IclConfig, type IclResult } from "./train.js";

export interface IclRun {
  run: RunDir;
  result: IclResult;
  /** what summary.json holds besides env/exp/seed/status: the figures of `mesa icl --json` */
  summary: Record<string, unknown>;
}

export interface IclRunOptions {
  /**
   * when aborted, training stops after the current step, the run is marked "interrupted" and an InterruptedError
   * is thrown (ICL runs do not resume); the abort reason "SIGTERM" or "SIGINT" names the signal
   */
  signal?: AbortSignal;
  /** checkpoints kept on disk: the newest N; null keeps all (default 3) */
  keepCheckpoints?: number | null;
}

/** Thrown inside the training loop to stop it on the abort signal. */
class Stopped extends Error {
  constructor(readonly step: number) {
    super(`stopped at step ${step}`);
  }
}

export interface IclRunCallbacks {
  /** the run directory, as soon as it exists */
  onRunDir?(run: RunDir): void;
  /** after every training step */
  onStep?(step: number, loss: number): void;
}

/**
 * Creates `root/icl-<linear|nonlinear>__<model>-L<layers>__<seed>__<time>/`, trains, compares and plots into it,
 * holding the run's lock throughout (released when it returns or throws).
 */
export async function runIclExperiment(config: IclConfig & { steps: number; batch: number }, root: string, callbacks: IclRunCallbacks = {}, options: IclRunOptions = {}): Promise<IclRun> {
  const t0 = performance.now();
  const keep = options.keepCheckpoints === undefined ? 3 : options.keepCheckpoints;
  const run = RunDir.create(root, {
    env: config.task.nonlinear ? "icl-nonlinear" : "icl-linear",
    exp: `${config.model}-L${config.layers}`,
    seed: config.seed,
    config: { ...config, loss: LOSS_CONVENTION },
  });
  try {
    callbacks.onRunDir?.(run);
    let result: IclResult;
    try {
      result = await trainIcl(config, {
        onStep: (step, loss) => {
          callbacks.onStep?.(step, loss);
          if (options.signal?.aborted) throw new Stopped(step);
        },
        onMetrics: (record) => run.appendMetrics(record),
        onCheckpoint: (step, sd) => {
          run.saveCheckpoint(step, toTensorInputs(sd), { step });
          run.pruneCheckpoints(keep);
        },
      });
    } catch (err) {
      if (err instanceof Stopped) {
        run.updateSummary({ status: "interrupted", global_step: err.step });
        const signal = options.signal?.reason === "SIGTERM" ? "SIGTERM" : "SIGINT";
        throw new InterruptedError(`interrupted by ${signal}: training stopped at step ${err.step}; ${run.path} keeps its metrics and checkpoints`, "ICL runs do not resume; start the command again", signal);
      }
      run.updateSummary({ status: "failed", error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    writePlots(run.path, result);
    const summary = toJson(result, config.task.d, config.task.n, config.batch, (performance.now() - t0) / 1000, run.path);
    run.updateSummary({ status: "finished", ...summary });
    return { run, result, summary };
  } finally {
    run.release();
  }
}

function toTensorInputs(sd: Record<string, Tensor>): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  for (const [name, t] of Object.entries(sd)) out[name] = { dtype: "F32", shape: t.shape, data: t.data as TensorInput["data"] };
  return out;
}

function comparisonJson(c: Comparison): Record<string, number> {
  return {
    model_loss: c.modelLoss,
    baseline_loss: c.baselineLoss,
    relative_gap: c.modelLoss / c.baselineLoss - 1,
    prediction_cosine: c.predictionCosine,
    sensitivity_cosine: c.sensitivityCosine,
    prediction_msd: c.predictionMsd,
  };
}

function toJson(r: IclResult, d: number, n: number, batch: number, seconds: number, runDir: string): Record<string, unknown> {
  return {
    model: r.model,
    layers: r.layers,
    d,
    n,
    steps: r.steps,
    batch,
    loss: LOSS_CONVENTION,
    baseline: `gd_${r.gd.steps}`,
    gd_eta: r.gd.eta,
    ...comparisonJson(r.vsGd),
    interpolated_loss: r.interpolatedLoss,
    gdpp: r.gdpp,
    vs_gdpp: r.vsGdpp ? comparisonJson(r.vsGdpp) : null,
    ood: { input_scale: 2, ...comparisonJson(r.oodVsGd) },
    weights: r.products ? layerStructure(r.products, r.construction).map((w, l) => ({ layer: l, kq_diag_mean: w.kqDiagMean, kq_offdiag_rms: w.kqOffDiagRms, kq_y_rms: w.kqYRms, pv_yy: w.pvYY, pv_diag_mean: w.pvDiagMean, pv_other_rms: w.pvOtherRms, construction_pv_yy: -r.gd.eta })) : null,
    least_squares_loss: r.leastSquaresLoss,
    ridge_loss: r.ridgeLoss,
    final_train_loss: r.finalTrainLoss,
    train_seconds: r.trainSeconds,
    seconds,
    run_dir: runDir,
  };
}

function writePlots(dir: string, r: IclResult): void {
  const series = [
    { name: "train loss", color: [70, 130, 180] as const, points: r.curve.map((p) => [p.step, p.trainLoss] as const) },
    { name: `${r.model} eval loss`, color: [200, 60, 40] as const, points: r.curve.map((p) => [p.step, p.evalLoss] as const) },
    { name: `GD ${r.gd.steps}-step`, color: [40, 150, 60] as const, points: r.curve.map((p) => [p.step, r.gdEvalLoss] as const) },
  ];
  const title = `ICL: ${r.layers}-layer ${r.model} vs ${r.gd.steps}-step GD`;
  writeFileAtomic(join(dir, "loss_curve.svg"), lineChartSvg(title, "step", "query MSE", series));
  writeFileAtomic(join(dir, "loss_curve.png"), lineChartPng(title, "step", "query MSE", series));
  if (!r.products) return;
  const dim = r.construction[0]!.kq.length ** 0.5;
  const rows: HeatmapPanel[][] = r.products.map((p, l) => {
    const con = r.construction[l]!;
    // show the trained layer in the construction's gauge (c·W_KQ, W_PV/c), the function unchanged
    const c = gaugeScale(p.kq, con.kq);
    return [
      { title: `layer ${l} learned W_KQ`, matrix: p.kq.map((v) => v * c), dim },
      { title: `layer ${l} learned W_PV`, matrix: p.pv.map((v) => (c === 0 ? 0 : v / c)), dim },
      { title: "GD construction W_KQ", matrix: con.kq, dim },
      { title: "GD construction W_PV", matrix: con.pv, dim },
    ];
  });
  writeFileAtomic(join(dir, "weights.svg"), heatmapsSvg("learned LSA weights beside the one-step-GD construction", rows));
  writeFileAtomic(join(dir, "weights.png"), heatmapsPng(rows));
}
