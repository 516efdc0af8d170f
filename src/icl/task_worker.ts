// Worker-thread side of TaskStream: draws training batches from the run's data Rng, in order, into a ring of
// shared-memory slots. A slot is 0 (free: the worker may fill it) or 1 (full: the trainer may read it); the
// trainer frees a slot when it moves on. The Rng lives only here, so the sequence of batches is exactly the one
// sampleTasks would draw inline.
import { parentPort } from "node:worker_threads";
import { Rng } from "../core/rng.js";
import { sampleTasks, type RegressionTaskConfig, type TaskBatch } from "./tasks.js";

export interface TaskWorkerInit {
  config: RegressionTaskConfig;
  batch: number;
  seed: number;
  streamId: string;
  /** per slot: shared buffers for tokens, targets and (linear tasks) weights */
  slots: { tokens: SharedArrayBuffer; targets: SharedArrayBuffer; weights: SharedArrayBuffer | null }[];
  /** Int32 per slot: 0 free, 1 full */
  control: SharedArrayBuffer;
}

const port = parentPort;
if (port === null) throw new Error("task_worker.js must run as a worker thread");

port.once("message", (init: TaskWorkerInit) => {
  const rng = new Rng(init.seed, init.streamId);
  const control = new Int32Array(init.control);
  const { d, n } = init.config;
  const slots: TaskBatch[] = init.slots.map((s) => ({
    batch: init.batch,
    d,
    n,
    tokens: new Float64Array(s.tokens),
    targets: new Float64Array(s.targets),
    weights: s.weights ? new Float64Array(s.weights) : null,
  }));
  for (let k = 0; ; k = (k + 1) % slots.length) {
    while (Atomics.load(control, k) !== 0) Atomics.wait(control, k, 1);
    sampleTasks(init.config, init.batch, rng, slots[k]);
    Atomics.store(control, k, 1);
    Atomics.notify(control, k);
  }
});
