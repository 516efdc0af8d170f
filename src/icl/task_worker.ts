// Worker-thread side of TaskStream: draws training batches from the run's data Rng, in order, into buffers it
// owns, and hands each one over (transferred, not copied); the trainer hands buffers back once it is done with
// them. The Rng lives only here, so the sequence of batches is exactly the one sampleTasks would draw inline.
import { parentPort } from "node:worker_threads";
import { Rng } from "../core/rng.js";
import { sampleTasks, type RegressionTaskConfig, type TaskBatch } from "./tasks.js";

interface Init {
  type: "init";
  config: RegressionTaskConfig;
  batch: number;
  seed: number;
  streamId: string;
  prefetch: number;
}
interface Return {
  type: "return";
  tokens: Float64Array;
  targets: Float64Array;
  weights: Float64Array | null;
}

const port = parentPort;
if (port === null) throw new Error("task_worker.js must run as a worker thread");
let rng: Rng | null = null;
let init: Init | null = null;
const free: TaskBatch[] = [];

function pump(): void {
  while (free.length > 0 && rng && init) {
    const t = sampleTasks(init.config, init.batch, rng, free.shift());
    const transfer: ArrayBuffer[] = [t.tokens.buffer as ArrayBuffer, t.targets.buffer as ArrayBuffer];
    if (t.weights) transfer.push(t.weights.buffer as ArrayBuffer);
    port!.postMessage({ type: "batch", tokens: t.tokens, targets: t.targets, weights: t.weights }, transfer);
  }
}

port.on("message", (msg: Init | Return) => {
  if (msg.type === "init") {
    init = msg;
    rng = new Rng(msg.seed, msg.streamId);
    const { d, n } = msg.config;
    for (let k = 0; k < msg.prefetch; k++) {
      free.push({ batch: msg.batch, d, n, tokens: new Float64Array(msg.batch * (n + 1) * (d + 1)), targets: new Float64Array(msg.batch), weights: msg.config.nonlinear ? null : new Float64Array(msg.batch * d) });
    }
  } else if (init) {
    free.push({ batch: init.batch, d: init.config.d, n: init.config.n, tokens: msg.tokens, targets: msg.targets, weights: msg.weights });
  }
  pump();
});
