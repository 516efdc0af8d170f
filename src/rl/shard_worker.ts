// Worker-thread side of ShardedLearner (shards.ts): a replica of the policy that runs shard 1 of each minibatch.
// "forward": copy the parameters from the shared buffer into the replica, run its forward pass on the shared
// observations and write logits and value per row; "backward": back-propagate the shared output gradient through
// that pass and write every parameter's gradient (zeros where it got none) into the shared gradient buffer. The
// kernels run on one thread here, as on the calling thread while this one works, so the bits match a shard
// computed there.
import { parentPort, workerData } from "node:worker_threads";
import "../core/ops/index.js";
import { kernels, setBackend } from "../core/kernels/index.js";
import type { BackendName } from "../core/kernels/types.js";
import { Rng } from "../core/rng.js";
import { Tensor, noGrad } from "../core/tensor.js";
import { concat } from "../core/ops/shape.js";
import "../nn/models/cnn_policy.js";
import "../nn/models/mlp_policy.js";
import "../nn/models/planner.js";
import { type ActorCriticOutput, createPolicy } from "../nn/models/policy.js";
import type { ShardCommand, ShardReply, ShardWorkerInit } from "./shards.js";

const port = parentPort;
if (port === null) throw new Error("shard_worker.js must run as a worker thread");
const init = workerData as ShardWorkerInit;

setBackend(init.backend as BackendName);
kernels().setThreads(1);
const policy = createPolicy(init.spec, new Rng(0, "shard-replica"));
const params = policy.parameters();
if (params.length !== init.paramSizes.length || params.some((p, i) => p.size !== init.paramSizes[i])) {
  throw new Error(`the replica's parameters (${params.map((p) => p.size).join(", ")}) differ from the policy's (${init.paramSizes.join(", ")})`);
}
const A1 = init.numActions + 1;
const shared = {
  params: new Float32Array(init.params),
  grads: new Float32Array(init.grads),
  obs: new Float32Array(init.obs),
  out: new Float32Array(init.out),
  gradOut: new Float32Array(init.gradOut),
};
let last: ActorCriticOutput | null = null;
let lastRows = 0;

function forward(rows: number, grad: boolean, fresh: boolean): void {
  let at = 0;
  if (fresh) {
    for (const p of params) {
      p.data.set(shared.params.subarray(at, at + p.size));
      at += p.size;
    }
  }
  // the observations in an ordinary array, as the calling thread's shard is
  const x = new Tensor(shared.obs.slice(0, rows * init.obsSize), [rows, init.obsSize]);
  const out = grad ? policy.forward(x) : noGrad(() => policy.forward(x));
  const A = init.numActions;
  for (let r = 0; r < rows; r++) {
    shared.out.set(out.logits.data.subarray(r * A, (r + 1) * A), r * A1);
    shared.out[r * A1 + A] = out.value.data[r]!;
  }
  last = grad ? out : null;
  lastRows = rows;
}

function backward(): void {
  if (last === null) throw new Error("backward before forward");
  const out = last;
  last = null;
  for (const p of params) p.grad = null; // policy.zeroGrad() without walking the module tree
  concat([out.logits, out.value], 1).backward(shared.gradOut.slice(0, lastRows * A1));
  let at = 0;
  for (const p of params) {
    if (p.grad === null) shared.grads.fill(0, at, at + p.size);
    else shared.grads.set(p.grad.data, at);
    at += p.size;
  }
}

port.on("message", (command: ShardCommand) => {
  let reply: ShardReply;
  try {
    if (command.cmd === "forward") forward(command.rows, command.grad, command.params);
    else backward();
    reply = { ok: true };
  } catch (err) {
    reply = { error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});
// warm-up: one pass at each shard size the caller will hand over (a learning shard and its backward, a rollout
// shard without gradients) on the zeros the shared buffers start with, so that oneDNN's primitives and V8's code
// for them are built while the caller still computes both shards, not while it waits for this thread's first
// answers. Nothing of it outlives it: the first command copies the parameters, and every output is overwritten.
for (const [rows, grad] of init.warmUp) {
  forward(rows, grad, false);
  if (grad) backward();
}
// ready: the caller hands shard 1 over from its next step on (until now it computed both)
const ready = new Int32Array(init.ready);
Atomics.store(ready, 0, 1);
Atomics.notify(ready, 0);
