// PPO's learning step in shards: a minibatch is split into `shards` consecutive parts (1 or 2), each part's
// forward and backward run on their own, and the parameters' gradients are the shards' gradients summed in shard
// order (g = g₀ + g₁). The loss still sees the whole minibatch (advantages are normalised over it). With a second
// thread (the kernels' thread count ≥ 2) shard 1 runs on a worker thread holding a replica of the policy — the
// whole network, dense layers and heads included, so nothing of the step stays serial but the fused loss and the
// optimizer — while the calling thread runs shard 0; with one thread, or when the worker cannot start, the calling
// thread runs both. Either way every shard is computed by the same kernels on one thread each, so 1 and 2 threads
// give the same bits. The replica reads the parameters from a shared buffer before each forward pass and writes
// its gradients into another; observations, outputs and output gradients pass through shared buffers too.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { kernels } from "../core/kernels/index.js";
import { Tensor, noGrad } from "../core/tensor.js";
import { concat } from "../core/ops/shape.js";
import type { ActorCritic, ActorCriticOutput, PolicySpec } from "../nn/models/policy.js";
import type { HookPoint, Parameter } from "../nn/module.js";

/** What the shard worker is started with (shard_worker.ts). */
export interface ShardWorkerInit {
  spec: PolicySpec;
  /** the kernel backend the caller computes on (the replica must compute alike) */
  backend: string;
  /** each parameter's element count, in policy.parameters() order */
  paramSizes: number[];
  obsSize: number;
  numActions: number;
  /** the largest shard, in samples */
  maxRows: number;
  /** the shards the worker runs before it says it is ready (rows, and whether with gradients and backward) */
  warmUp: [number, boolean][];
  params: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  obs: SharedArrayBuffer;
  /** [rows, numActions + 1]: logits then value per row (forward's output) */
  out: SharedArrayBuffer;
  /** [rows, numActions + 1]: the output gradient (backward's input) */
  gradOut: SharedArrayBuffer;
  /** one Int32 the worker sets to 1 when it is ready for commands */
  ready: SharedArrayBuffer;
}

/** A command to the shard worker; it answers each with { ok: true } or { error }. */
/** forward: `params` says whether the shared parameters changed since the worker last read them */
export type ShardCommand = { cmd: "forward"; rows: number; grad: boolean; params: boolean } | { cmd: "backward" };
export type ShardReply = { ok: true } | { error: string };

/**
 * The shard count PPO uses when its config says "auto": 2 for convolutional policies, whose step is heavy enough
 * to share, on minibatches of at least 2 samples; 1 otherwise.
 */
export function autoShards(policy: ActorCritic, minibatchSize: number): 1 | 2 {
  return policy.kind === "cnn" && minibatchSize >= 2 ? 2 : 1;
}

/**
 * The rollout's forward pass is cut into the learner's two shards only from this many observation floats per shard
 * (the observation's size standing for the trunk's per-sample cost). Per-thread CPU time per forward pass of 64 envs
 * (load 4–9): maze-cheese (3×17×17, 27,744 floats a shard) 5.2 ms on one thread in one piece, 3.1 + 3.3 ms in
 * two shards on two threads; coin-run small (3×5×12, 5,760 floats a shard) 2.2 ms in one piece on two threads (the
 * wasm worker idle), 2.9 + 2.7 ms in two shards: below this size the per-call costs of a forward pass dominate.
 */
export const ROLLOUT_SHARD_MIN_FLOATS = 16_384;

/** The samples of each shard of a minibatch of `size`: consecutive, the first ⌊size/shards⌋, the last the rest. */
export function shardRows(size: number, shards: number): number[] {
  const base = Math.floor(size / shards);
  return Array.from({ length: shards }, (_, s) => (s === shards - 1 ? size - base * (shards - 1) : base));
}

interface Remote {
  worker: Worker;
  params: Float32Array;
  grads: Float32Array;
  obs: Float32Array;
  out: Float32Array;
  gradOut: Float32Array;
  /** [0] is 1 once the worker has loaded and answers commands (set by the worker: read without an event turn) */
  ready: Int32Array;
  /** resolves the command in flight */
  pending: { resolve: () => void; reject: (err: Error) => void } | null;
  failure: Error | null;
}

/**
 * Forward and backward of a policy on minibatches of `size` samples, in `shards` shards (see the file comment).
 * Call forward(), then backward() with the gradient of the loss by the outputs, then forward() again; close()
 * at the end stops the worker.
 */
export class ShardedLearner {
  readonly rows: number[];
  /** the shards of infer()'s batch */
  private readonly inferShards: number[];
  private readonly params: Parameter[];
  private readonly hookPoints: HookPoint[];
  private readonly logits: Float32Array;
  private readonly values: Float32Array;
  /** shard outputs kept for backward (the calling thread's shards) */
  private outputs: (ActorCriticOutput | null)[] = [];
  private remote: Remote | null = null;
  /** whether the last forward() or infer() ran shard 1 on the worker */
  private workerUsed = false;
  /** whether the worker's shared parameter buffer holds the parameters' current values */
  private paramsShared = false;
  /** why the worker is not used (for tests and diagnostics); null while it is, or before it was needed */
  workerUnavailable: string | null = null;
  private readonly script = new URL("./shard_worker.js", import.meta.url);

  /**
   * `inferRows`: the batch infer() is called with (the rollout's env copies; 0: infer() is not used), cut into
   * two shards when the learner has two and each holds at least `rolloutShardMinFloats` observation floats. The
   * worker, when there is a second thread, starts now, so its start-up overlaps the caller's first rollout.
   */
  constructor(
    private readonly policy: ActorCritic,
    readonly size: number,
    private readonly obsSize: number,
    readonly shards: 1 | 2,
    readonly inferRows = 0,
    rolloutShardMinFloats = ROLLOUT_SHARD_MIN_FLOATS,
  ) {
    if (shards !== 1 && shards !== 2) throw new RangeError(`ShardedLearner: shards must be 1 or 2, got ${shards}`);
    this.rows = shardRows(size, shards);
    if (this.rows.some((r) => r < 1)) throw new RangeError(`ShardedLearner: a minibatch of ${size} cannot be cut into ${shards} shards`);
    this.inferShards = shards === 2 && inferRows >= 2 && Math.floor(inferRows / 2) * obsSize >= rolloutShardMinFloats ? shardRows(inferRows, 2) : [inferRows];
    this.params = policy.parameters();
    this.hookPoints = policy.namedHookPoints().map(([, h]) => h);
    this.logits = new Float32Array(Math.max(size, inferRows) * policy.numActions);
    this.values = new Float32Array(Math.max(size, inferRows));
    this.useWorker();
  }

  /**
   * Whether shard 1 runs on the worker thread in the next step: a second thread, a built worker script, and no
   * hook attached to the policy (the replica has none: a hook's reads and edits would miss shard 1).
   */
  private useWorker(): boolean {
    if (this.shards < 2 || kernels().threads < 2 || this.workerUnavailable !== null) return false;
    if (this.hookPoints.some((h) => h._hooks.length > 0)) return false;
    // until the worker has loaded (its modules, kernels and replica), this thread computes both shards
    if (this.remote !== null) return Atomics.load(this.remote.ready, 0) === 1;
    if (this.script.protocol !== "file:" || !existsSync(fileURLToPath(this.script))) {
      this.workerUnavailable = "the shard worker script is not built next to shards.js (running from TypeScript sources)";
      return false;
    }
    this.remote = this.startWorker();
    return false;
  }

  private startWorker(): Remote {
    const A = this.policy.numActions;
    const maxRows = Math.max(...this.rows, ...this.inferShards);
    const total = this.params.reduce((n, p) => n + p.size, 0);
    const sab = (floats: number): SharedArrayBuffer => new SharedArrayBuffer(4 * Math.max(1, floats));
    const init: ShardWorkerInit = {
      spec: this.policy.spec,
      backend: kernels().name,
      paramSizes: this.params.map((p) => p.size),
      obsSize: this.obsSize,
      numActions: A,
      maxRows,
      warmUp: [[this.rows[1]!, true], ...(this.inferShards.length === 2 ? [[this.inferShards[1]!, false] as [number, boolean]] : [])],
      params: sab(total),
      grads: sab(total),
      obs: sab(maxRows * this.obsSize),
      out: sab(maxRows * (A + 1)),
      gradOut: sab(maxRows * (A + 1)),
      ready: new SharedArrayBuffer(4),
    };
    const worker = new Worker(this.script, { workerData: init });
    worker.unref();
    const remote: Remote = {
      worker,
      params: new Float32Array(init.params),
      grads: new Float32Array(init.grads),
      obs: new Float32Array(init.obs),
      out: new Float32Array(init.out),
      gradOut: new Float32Array(init.gradOut),
      ready: new Int32Array(init.ready),
      pending: null,
      failure: null,
    };
    const fail = (err: Error): void => {
      remote.failure ??= err;
      const p = remote.pending;
      remote.pending = null;
      p?.reject(remote.failure);
    };
    worker.on("message", (reply: ShardReply) => {
      const p = remote.pending;
      remote.pending = null;
      if ("error" in reply) p?.reject(new Error(`the shard worker failed: ${reply.error}`));
      else p?.resolve();
    });
    worker.on("error", (err) => fail(new Error(`the shard worker failed: ${err.message}`)));
    worker.on("exit", (code) => fail(new Error(`the shard worker exited (code ${code})`)));
    return remote;
  }

  /** Sends a command; the promise settles when the worker answers. */
  private send(remote: Remote, command: ShardCommand): Promise<void> {
    if (remote.failure !== null) return Promise.reject(remote.failure);
    return new Promise<void>((resolve, reject) => {
      remote.pending = { resolve: () => resolve(), reject };
      remote.worker.ref(); // keep the process alive while a command is in flight
      remote.worker.postMessage(command);
    }).finally(() => remote.worker.unref());
  }

  /** Runs `f` with the kernels on one thread (the worker computes the other shard), restoring the count after. */
  private async oneThreadEach<T>(f: () => Promise<T>): Promise<T> {
    const k = kernels();
    const threads = k.threads;
    k.setThreads(1);
    try {
      return await f();
    } finally {
      k.setThreads(threads);
    }
  }

  /** The policy's outputs on `obs` ([size, obsSize]): logits [size, A] and values [size], shard by shard. */
  async forward(obs: Float32Array): Promise<{ logits: Float32Array; values: Float32Array }> {
    const A = this.policy.numActions;
    const remote = this.useWorker() ? this.remote! : null;
    this.workerUsed = remote !== null;
    this.outputs = [];
    const run = async (): Promise<void> => {
      let pending: Promise<void> | null = null;
      const r0 = this.rows[0]!;
      if (remote !== null) {
        // the worker's shard first, so both threads compute at once
        this.paramsShared = false; // the caller's optimizer stepped since the last backward()
        const params = this.shareParams(remote);
        remote.obs.set(obs.subarray(r0 * this.obsSize, (r0 + this.rows[1]!) * this.obsSize));
        pending = this.send(remote, { cmd: "forward", rows: this.rows[1]!, grad: true, params });
      }
      let start = 0;
      for (let s = 0; s < this.shards; s++) {
        const rows = this.rows[s]!;
        if (s === 1 && remote !== null) this.outputs.push(null);
        else this.outputs.push(this.policy.forward(new Tensor(obs.subarray(start * this.obsSize, (start + rows) * this.obsSize), [rows, this.obsSize])));
        start += rows;
      }
      // the calling thread's shards ran above, while the worker computed its own
      if (pending !== null) await pending;
      start = 0;
      for (let s = 0; s < this.shards; s++) {
        const rows = this.rows[s]!;
        const o = this.outputs[s];
        if (o) {
          this.logits.set(o.logits.data, start * A);
          this.values.set(o.value.data, start);
        } else this.takeOutputs(remote!, start, rows);
        start += rows;
      }
    };
    if (remote !== null) await this.oneThreadEach(run);
    else await run();
    return this.first(this.size);
  }

  /**
   * The policy's outputs on `obs` ([inferRows, obsSize]) without gradients (the rollout's forward passes): logits
   * [inferRows, A] and values [inferRows], in one piece or in two shards (see the constructor; the second on the
   * worker when it runs) whatever the thread count, so 1 and 2 threads give the same bits. The arrays are reused
   * by the next call.
   */
  async infer(obs: Float32Array): Promise<{ logits: Float32Array; values: Float32Array }> {
    const A = this.policy.numActions;
    const n = this.inferRows;
    const remote = this.inferShards.length === 2 && this.useWorker() ? this.remote! : null;
    this.workerUsed = remote !== null;
    if (remote === null) {
      // shard by shard on this thread: a sample's outputs can differ in the last bits with the batch around it
      // (the GEMMs' edge kernels), so the shards are those the worker would compute
      let start = 0;
      for (const rows of this.inferShards) {
        const out = noGrad(() => this.policy.forward(new Tensor(obs.subarray(start * this.obsSize, (start + rows) * this.obsSize), [rows, this.obsSize])));
        this.logits.set(out.logits.data, start * A);
        this.values.set(out.value.data, start);
        start += rows;
      }
      return this.first(n);
    }
    const [r0, r1] = this.inferShards as [number, number];
    await this.oneThreadEach(async () => {
      const params = this.shareParams(remote);
      remote.obs.set(obs.subarray(r0 * this.obsSize, n * this.obsSize));
      const pending = this.send(remote, { cmd: "forward", rows: r1, grad: false, params });
      const out = noGrad(() => this.policy.forward(new Tensor(obs.subarray(0, r0 * this.obsSize), [r0, this.obsSize])));
      this.logits.set(out.logits.data);
      this.values.set(out.value.data);
      await pending;
      this.takeOutputs(remote, r0, r1);
    });
    return this.first(n);
  }

  /** Views of the outputs of the first `rows` samples. */
  private first(rows: number): { logits: Float32Array; values: Float32Array } {
    return { logits: this.logits.subarray(0, rows * this.policy.numActions), values: this.values.subarray(0, rows) };
  }

  /**
   * Copies the parameters into the worker's shared buffer unless they are there already; returns whether it
   * copied. The parameters may change (the caller's optimizer step) only between a backward() and the next call:
   * forward() always copies, infer() once after each backward().
   */
  private shareParams(remote: Remote): boolean {
    if (this.paramsShared) return false;
    let at = 0;
    for (const p of this.params) {
      remote.params.set(p.data, at);
      at += p.size;
    }
    this.paramsShared = true;
    return true;
  }

  /** The worker's outputs for `rows` samples into logits and values from sample `start` on. */
  private takeOutputs(remote: Remote, start: number, rows: number): void {
    const A = this.policy.numActions;
    for (let r = 0; r < rows; r++) {
      this.logits.set(remote.out.subarray(r * (A + 1), r * (A + 1) + A), (start + r) * A);
      this.values[start + r] = remote.out[r * (A + 1) + A]!;
    }
  }

  /**
   * Back-propagates `gradOut` ([size, A + 1]: d loss / d logits, then d loss / d value, per sample) through the
   * last forward pass: each parameter's grad becomes the sum over shards, in shard order (any grad it had is replaced).
   */
  async backward(gradOut: Float32Array): Promise<void> {
    const A1 = this.policy.numActions + 1;
    const outputs = this.outputs;
    if (outputs.length !== this.shards) throw new Error("ShardedLearner.backward: call forward() first");
    this.outputs = [];
    this.paramsShared = false; // the caller steps the optimizer next
    const remote = outputs[1] === null ? this.remote! : null;
    const backOne = (o: ActorCriticOutput, start: number, rows: number): void => {
      concat([o.logits, o.value], 1).backward(gradOut.slice(start * A1, (start + rows) * A1));
    };
    if (this.shards === 1) {
      this.zeroGrad();
      backOne(outputs[0]!, 0, this.rows[0]!);
      return;
    }
    const run = async (): Promise<void> => {
      const r0 = this.rows[0]!;
      let pending: Promise<void> | null = null;
      if (remote !== null) {
        remote.gradOut.set(gradOut.subarray(r0 * A1, (r0 + this.rows[1]!) * A1));
        pending = this.send(remote, { cmd: "backward" });
      }
      this.zeroGrad();
      backOne(outputs[0]!, 0, r0);
      let second: Float32Array[];
      if (pending !== null) {
        await pending;
        second = [];
        let at = 0;
        for (const p of this.params) {
          second.push(remote!.grads.subarray(at, at + p.size));
          at += p.size;
        }
      } else {
        // shard 0's gradients aside, then shard 1's on this thread
        const first = this.params.map((p) => p.grad?.data.slice() ?? null);
        this.zeroGrad();
        backOne(outputs[1]!, r0, this.rows[1]!);
        second = this.params.map((p) => p.grad?.data ?? new Float32Array(p.size));
        this.params.forEach((p, i) => {
          p.grad = first[i] === null ? null : new Tensor(first[i]!, p.shape);
        });
      }
      // g = g₀ + g₁ (a parameter without a gradient in a shard adds zeros), the same sum on either path
      this.params.forEach((p, i) => {
        const g1 = second[i]!;
        if (p.grad === null) p.grad = new Tensor(new Float32Array(p.size), p.shape);
        const g = p.grad.data;
        for (let j = 0; j < g.length; j++) g[j] = g[j]! + g1[j]!;
      });
    };
    if (remote !== null) await this.oneThreadEach(run);
    else await run();
  }

  /** policy.zeroGrad() without walking the module tree for its parameters on every minibatch. */
  private zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** Stops the worker (if one started). */
  async close(): Promise<void> {
    const remote = this.remote;
    this.remote = null;
    if (remote !== null) await remote.worker.terminate();
  }

  /** Whether the last forward() or infer() ran shard 1 on the worker thread. */
  get usingWorker(): boolean {
    return this.workerUsed;
  }

  /**
   * Waits until the worker (when one was started) is ready, so the next step runs on it; training does not wait:
   * this thread computes both shards until then.
   */
  async whenReady(): Promise<void> {
    const remote = this.remote;
    if (remote === null) return;
    while (Atomics.load(remote.ready, 0) !== 1 && remote.failure === null) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
