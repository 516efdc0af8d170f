// Fresh training batches for every step, drawn on a worker thread while the trainer computes on the previous
// one (like a PyTorch DataLoader worker), or inline when no worker is available (running from TypeScript
// sources, or `worker: false`). Both give the same batches in the same order: one Rng(seed, streamId) draws
// them sequentially either way.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Rng } from "../core/rng.js";
import { sampleTasks, type RegressionTaskConfig, type TaskBatch } from "./tasks.js";

export interface TaskStream {
  /** "worker" when batches come from a worker thread */
  readonly kind: "worker" | "inline";
  /** The next batch. The previous batch's buffers are recycled: do not use it after calling next(). */
  next(): Promise<TaskBatch>;
  /** Stops the worker (if any). */
  close(): Promise<void>;
}

export interface TaskStreamOptions {
  /** draw on a worker thread when its compiled script is present (default true) */
  worker?: boolean;
  /** batches drawn ahead (default 2) */
  prefetch?: number;
}

export function openTaskStream(config: RegressionTaskConfig, batch: number, seed: number, streamId: string, options: TaskStreamOptions = {}): TaskStream {
  const script = new URL("./task_worker.js", import.meta.url);
  const useWorker = (options.worker ?? true) && script.protocol === "file:" && existsSync(fileURLToPath(script));
  return useWorker ? workerStream(script, config, batch, seed, streamId, options.prefetch ?? 2) : inlineStream(config, batch, seed, streamId);
}

function inlineStream(config: RegressionTaskConfig, batch: number, seed: number, streamId: string): TaskStream {
  const rng = new Rng(seed, streamId);
  let last: TaskBatch | undefined;
  return {
    kind: "inline",
    next: () => {
      last = sampleTasks(config, batch, rng, last);
      return Promise.resolve(last);
    },
    close: () => Promise.resolve(),
  };
}

function workerStream(script: URL, config: RegressionTaskConfig, batch: number, seed: number, streamId: string, prefetch: number): TaskStream {
  const worker = new Worker(script);
  const ready: TaskBatch[] = [];
  const waiting: { resolve: (t: TaskBatch) => void; reject: (e: unknown) => void }[] = [];
  let failure: unknown = null;
  let current: TaskBatch | null = null;
  worker.on("message", (msg: { tokens: Float64Array; targets: Float64Array; weights: Float64Array | null }) => {
    const t: TaskBatch = { batch, d: config.d, n: config.n, tokens: msg.tokens, targets: msg.targets, weights: msg.weights };
    const w = waiting.shift();
    if (w) w.resolve(t);
    else ready.push(t);
  });
  const fail = (err: unknown): void => {
    failure = err;
    for (const w of waiting.splice(0)) w.reject(err);
  };
  worker.on("error", fail);
  worker.on("exit", (code) => {
    if (code !== 0 && failure === null) fail(new Error(`the task worker exited with code ${code}`));
  });
  worker.postMessage({ type: "init", config, batch, seed, streamId, prefetch });
  return {
    kind: "worker",
    next() {
      if (current) {
        // hand the consumed batch's buffers back for refilling
        const { tokens, targets, weights } = current;
        const transfer: ArrayBuffer[] = [tokens.buffer as ArrayBuffer, targets.buffer as ArrayBuffer];
        if (weights) transfer.push(weights.buffer as ArrayBuffer);
        worker.postMessage({ type: "return", tokens, targets, weights }, transfer);
        current = null;
      }
      if (failure !== null) return Promise.reject(failure);
      const t = ready.shift();
      const p = t ? Promise.resolve(t) : new Promise<TaskBatch>((resolve, reject) => waiting.push({ resolve, reject }));
      return p.then((b) => (current = b));
    },
    async close() {
      await worker.terminate();
    },
  };
}
