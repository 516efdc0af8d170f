// `npm run bench -- icl [--json] [--repeats=3] [--threads=1,2] [--steps=2000] [--autograd-steps=100]`: the
// 1-layer ICL reproduction (the `mesa icl` defaults: LSA, d = 10, N = 10, Adam on 1,024 fresh tasks per step,
// 2,000 steps unless `--steps` says fewer) trained three
// ways — our fused float64 LSA kernel, our generic float32 autograd (the LSA module's tape ops), and the same
// model, tasks, loss, Adam and clip in PyTorch's autograd (bench/peers/icl_torch.py) — so the fused kernel and
// the generic ops each stand against PyTorch. Each side runs at 1 and 2 threads (ours: 1 = everything on the
// main thread, kernels on one thread; 2 = training batches drawn on a worker thread and the kernels on two;
// PyTorch: torch's and OpenBLAS's threads), interleaved repeat by repeat so all see the same load, and the best
// repeat counts. Speed is training steps per second of the training loop (the fused kernel and PyTorch over
// `--steps`, the generic autograd over `--autograd-steps`, it being far slower); the headline takes each side at
// its best thread count. Progress goes to stderr, also with --json.
import { loadavg } from "node:os";
import { formatNumber, formatTable, printJson } from "../src/cli/output.js";
import { kernels } from "../src/core/kernels/index.js";
import { iclConfig, trainIcl } from "../src/icl/train.js";
import { runPeer, torchMissing } from "./peer.js";
import type { Benchmark } from "./registry.js";

/** One timed training run. */
interface Run {
  steps: number;
  seconds: number;
  /** CPU seconds of the whole process (all threads) during training: robust to other jobs' load */
  cpu_seconds: number;
  train_loss: number;
  /** test loss of the trained model and of one-step GD (full-length runs only) */
  model_loss: number | null;
  gd_loss: number | null;
}

/** One side at one thread count: the best of its repeats. */
interface AtThreads {
  threads: number;
  /** training steps per second of the best repeat */
  sps: number;
  ms_per_step: number;
  cpu_ms_per_step: number;
  seconds: number;
  all_seconds: number[];
  train_loss: number;
  model_loss: number | null;
  gd_loss: number | null;
}

type Side = "ours_fused" | "ours_autograd" | "torch";

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function runOurs(path: "fused" | "autograd", steps: number, threads: number): Promise<Run> {
  kernels().setThreads(threads);
  const config = iclConfig({ steps });
  let cpu = 0;
  // a full-length fused run reports the test comparison as `mesa icl` does; the short autograd run skips most of it
  const r = await trainIcl({ ...config, testTasks: path === "fused" ? 10_000 : 256, evalEvery: path === "fused" ? config.evalEvery : steps }, {
    onStep: (step) => {
      if (step === 1) cpu = cpuSeconds();
      if (step === steps) cpu = cpuSeconds() - cpu;
    },
  }, { lsaPath: path, dataWorker: threads > 1 });
  return { steps, seconds: r.trainSeconds, cpu_seconds: cpu, train_loss: r.finalTrainLoss, model_loss: path === "fused" ? r.vsGd.modelLoss : null, gd_loss: path === "fused" ? r.vsGd.baselineLoss : null };
}

function runTorch(steps: number, batch: number, clip: number, threads: number): Run {
  const r = runPeer<{ seconds: number; cpu_seconds: number; train_loss: number; model_loss: number; gd_loss: number }>(
    "icl_torch.py", ["--steps", String(steps), "--batch", String(batch), "--clip", String(clip), "--threads", String(threads)],
  );
  if ("skipped" in r) throw new Error(r.skipped);
  return { steps, seconds: r.seconds, cpu_seconds: r.cpu_seconds, train_loss: r.train_loss, model_loss: r.model_loss, gd_loss: r.gd_loss };
}

function summarise(threads: number, runs: readonly Run[]): AtThreads {
  const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  return {
    threads,
    sps: best.steps / best.seconds,
    ms_per_step: (1000 * best.seconds) / best.steps,
    cpu_ms_per_step: Math.min(...runs.map((r) => (1000 * r.cpu_seconds) / r.steps)),
    seconds: best.seconds,
    all_seconds: runs.map((r) => r.seconds),
    train_loss: best.train_loss,
    model_loss: best.model_loss,
    gd_loss: best.gd_loss,
  };
}

/** The thread count with the most steps/s. */
function best(figures: readonly AtThreads[]): AtThreads | null {
  return figures.reduce<AtThreads | null>((b, f) => (b === null || f.sps > b.sps ? f : b), null);
}

function option(args: readonly string[], name: string, fallback: string): string {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

function positiveInt(args: readonly string[], name: string, fallback: string): number {
  const v = Number(option(args, name, fallback));
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name}= must be a positive integer, got ${option(args, name, fallback)}`);
  return v;
}

export const benchmark: Benchmark = {
  description: "1-layer LSA in-context regression training: our fused kernel and our generic autograd vs PyTorch's autograd, 1 and 2 threads",
  async run({ json, args }) {
    const repeats = positiveInt(args, "repeats", "3");
    const autogradSteps = positiveInt(args, "autograd-steps", "100");
    const threadCounts = option(args, "threads", "1,2").split(",").map(Number);
    if (threadCounts.some((t) => !Number.isInteger(t) || t < 1)) throw new RangeError(`--threads= must list positive integers, e.g. 1,2; got ${option(args, "threads", "1,2")}`);
    const config = iclConfig({ steps: positiveInt(args, "steps", "2000") });
    const skipped = torchMissing() ?? null;
    const loadStart = loadavg()[0]!;
    const runs: Record<Side, Map<number, Run[]>> = { ours_fused: new Map(), ours_autograd: new Map(), torch: new Map() };
    const add = (side: Side, threads: number, run: Run): void => {
      runs[side].set(threads, [...(runs[side].get(threads) ?? []), run]);
      process.stderr.write(`  ${threads} thread(s), ${side}: ${run.steps} steps in ${run.seconds.toFixed(2)} s (load ${loadavg()[0]!.toFixed(1)})\n`);
    };
    for (let r = 0; r < repeats; r++) {
      for (const threads of threadCounts) {
        add("ours_fused", threads, await runOurs("fused", config.steps, threads));
        add("ours_autograd", threads, await runOurs("autograd", autogradSteps, threads));
        if (skipped === null) add("torch", threads, runTorch(config.steps, config.batch, config.clip, threads));
      }
    }
    const byThreads = (side: Side): AtThreads[] => [...runs[side].entries()].map(([t, rs]) => summarise(t, rs));
    const fused = byThreads("ours_fused");
    const autograd = byThreads("ours_autograd");
    const torch = byThreads("torch");
    const [of, oa, tb] = [best(fused)!, best(autograd)!, best(torch)];
    const result = {
      model: "LSA, 1 layer, d = 10, N = 10",
      steps: config.steps,
      autograd_steps: autogradSteps,
      batch: config.batch,
      repeats,
      load_average: [loadStart, loadavg()[0]!],
      // the fused kernel against PyTorch's autograd, each at its best thread count
      ours_sps: of.sps,
      torch_sps: tb?.sps ?? null,
      ours_threads: of.threads,
      torch_threads: tb?.threads ?? null,
      /** steps/s ours ÷ PyTorch's: > 1 is faster */
      sps_ratio: tb ? of.sps / tb.sps : null,
      // our generic autograd against PyTorch's autograd, each at its best thread count
      autograd_sps: oa.sps,
      autograd_threads: oa.threads,
      autograd_sps_ratio: tb ? oa.sps / tb.sps : null,
      ours_model_loss: of.model_loss,
      ours_gd_loss: of.gd_loss,
      torch_model_loss: tb?.model_loss ?? null,
      torch_gd_loss: tb?.gd_loss ?? null,
      ours_fused_by_threads: fused,
      ours_autograd_by_threads: autograd,
      torch_by_threads: skipped === null ? torch : null,
      ours_backend: kernels().name,
      skipped,
    };
    if (json) {
      printJson(result);
      return;
    }
    const rows = ([["ours, fused kernel", fused], ["ours, generic autograd", autograd], ["PyTorch autograd", torch]] as const).flatMap(([label, figures]) =>
      figures.map((f) => [label, f.threads, formatNumber(Number(f.sps.toPrecision(3))), f.ms_per_step.toFixed(2), f.cpu_ms_per_step.toFixed(2), f.all_seconds.map((s) => s.toFixed(2)).join(", ")]),
    );
    process.stdout.write(`${formatTable(["training loop", "threads", "steps/s", "ms/step", "CPU ms/step", "seconds of each repeat"], rows)}\n`);
    process.stdout.write(`${config.steps} steps × ${config.batch} tasks (generic autograd: ${autogradSteps} steps), best of ${repeats}; load average ${loadStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}\n`);
    process.stdout.write(`  ours test MSE ${of.model_loss!.toFixed(4)} vs one-step GD ${of.gd_loss!.toFixed(4)}${tb ? `; PyTorch ${tb.model_loss!.toFixed(4)} vs ${tb.gd_loss!.toFixed(4)}` : ""}\n`);
    if (tb) {
      process.stdout.write(`  best thread counts: fused ${Math.round(of.sps)} steps/s (${of.threads}) vs PyTorch ${Math.round(tb.sps)} (${tb.threads}): ${(of.sps / tb.sps).toFixed(2)}× PyTorch's speed\n`);
      process.stdout.write(`                      generic autograd ${oa.sps.toPrecision(3)} steps/s (${oa.threads}): ${(oa.sps / tb.sps).toFixed(2)}× PyTorch's speed\n`);
    } else process.stdout.write(`  PyTorch skipped: ${skipped}\n`);
  },
};
