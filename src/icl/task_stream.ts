// Fresh training batches for every step, drawn on a worker thread while the trainer computes on the previous
// one (like a PyTorch DataLoader worker), or inline when no worker is available (running from TypeScript
// sources, or `worker: false`). Both give the same batches in the same order: one Rng(seed, streamId) draws
// them sequentially either way. The worker writes into a ring of SharedArrayBuffer slots, so no batch is
// copied or posted.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Rng } from "../core/rng.js";
import type { TaskWorkerInit } from "./task_worker.js";
import { sampleTasks, type RegressionTaskConfig, type TaskBatch } from "./tasks.js";

/** Atomics.waitAsync (Node ≥ 16; not in the ES2022 lib typings): waits without blocking the event loop. */
const waitAsync = (Atomics as unknown as {
  waitAsync?: (a: Int32Array, index: number, value: number, timeoutMs: number) => { async: boolean; value: Promise<string> | string };
}).waitAsync;

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
  /** slots in the ring (batches drawn ahead + the one in use; default 3) */
  slots?: number;
}

export function openTaskStream(config: RegressionTaskConfig, batch: number, seed: number, streamId: string, options: TaskStreamOptions = {}): TaskStream {
  const script = new URL("./task_worker.js", import.meta.url);
  const useWorker = (options.worker ?? true) && script.protocol === "file:" && existsSync(fileURLToPath(script));
  return useWorker ? workerStream(script, config, batch, seed, streamId, Math.max(2, options.slots ?? 3)) : inlineStream(config, batch, seed, streamId);
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

function workerStream(script: URL, config: RegressionTaskConfig, batch: number, seed: number, streamId: string, slotCount: number): TaskStream {
  const { d, n } = config;
  const slots = Array.from({ length: slotCount }, () => ({
    tokens: new SharedArrayBuffer(batch * (n + 1) * (d + 1) * 8),
    targets: new SharedArrayBuffer(batch * 8),
    weights: config.nonlinear ? null : new SharedArrayBuffer(batch * d * 8),
  }));
  const views: TaskBatch[] = slots.map((s) => ({
    batch,
    d,
    n,
    tokens: new Float64Array(s.tokens),
    targets: new Float64Array(s.targets),
    weights: s.weights ? new Float64Array(s.weights) : null,
  }));
  const control = new Int32Array(new SharedArrayBuffer(4 * slotCount));
  const worker = new Worker(script);
  let failure: unknown = null;
  worker.on("error", (err) => {
    failure = err;
    for (let k = 0; k < slotCount; k++) Atomics.notify(control, k); // wake a waiting next()
  });
  worker.on("exit", (code) => {
    if (code !== 0 && failure === null) failure = new Error(`the task worker exited with code ${code}`);
    for (let k = 0; k < slotCount; k++) Atomics.notify(control, k);
  });
  const init: TaskWorkerInit = { config, batch, seed, streamId, slots, control: control.buffer as SharedArrayBuffer };
  worker.postMessage(init);
  let current = -1;
  let closed = false;
  return {
    kind: "worker",
    async next() {
      if (current >= 0) {
        // hand the consumed slot back for refilling
        Atomics.store(control, current, 0);
        Atomics.notify(control, current);
      }
      current = (current + 1) % slotCount;
      while (Atomics.load(control, current) !== 1) {
        if (failure !== null || closed) throw failure ?? new Error("the task stream is closed");
        if (waitAsync) {
          const w = waitAsync(control, current, 0, 1000);
          if (w.async) await w.value;
        } else await new Promise((resolve) => setImmediate(resolve));
      }
      return views[current]!;
    },
    async close() {
      closed = true;
      await worker.terminate();
    },
  };
}
