// The optimizer base: a list of parameters, a learning rate a schedule may change between steps, zeroGrad, and
// state save/restore (tensors keyed like PyTorch's optimizer state_dict: `state.<param index>.<name>`).
import { CheckpointError, ConfigError } from "../core/errors.js";
import { shapeStr } from "../core/shape.js";
import { Tensor } from "../core/tensor.js";

/** A parameter the optimizer updates in place: its data, and its grad after backward(). */
export type Param = Tensor;

export interface OptimizerState {
  /** step count and hyperparameters (JSON-safe) */
  meta: Record<string, number | string | boolean>;
  /** per-parameter buffers, e.g. `state.0.exp_avg` */
  tensors: Record<string, Tensor>;
}

export abstract class Optimizer {
  readonly params: Param[];
  /** learning rate used by the next step(); schedules set it */
  lr: number;
  /** completed steps */
  stepCount = 0;

  constructor(params: Iterable<Param>, lr: number) {
    this.params = [...params];
    if (this.params.length === 0) throw new ConfigError("optimizer got no parameters", "pass model.parameters()");
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new ConfigError(`learning rate must be a finite number ≥ 0, got ${lr}`);
    this.lr = lr;
  }

  /** Applies one update from the current grads (parameters without a grad are skipped). */
  abstract step(): void;

  /** Clears every parameter's grad. */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** Names of the per-parameter buffers (e.g. ["exp_avg", "exp_avg_sq"]). */
  protected abstract bufferNames(): readonly string[];
  /** The buffer `name` of parameter i (allocated on first use). */
  protected abstract buffer(i: number, name: string): Float32Array;
  protected abstract hyper(): Record<string, number | string | boolean>;

  getState(): OptimizerState {
    const tensors: Record<string, Tensor> = {};
    for (let i = 0; i < this.params.length; i++) {
      for (const name of this.bufferNames()) tensors[`state.${i}.${name}`] = new Tensor(this.buffer(i, name).slice(), this.params[i]!.shape);
    }
    return { meta: { ...this.hyper(), lr: this.lr, step: this.stepCount }, tensors };
  }

  setState(state: OptimizerState): void {
    for (let i = 0; i < this.params.length; i++) {
      for (const name of this.bufferNames()) {
        const key = `state.${i}.${name}`;
        const t = state.tensors[key];
        const buf = this.buffer(i, name);
        if (!t) throw new CheckpointError(`optimizer state has no ${key}`, "the checkpoint was saved by a different optimizer or model");
        if (t.size !== buf.length) {
          throw new CheckpointError(`optimizer state ${key} has shape ${shapeStr(t.shape)} but parameter ${i} has ${shapeStr(this.params[i]!.shape)}`);
        }
        buf.set(t.data);
      }
    }
    if (typeof state.meta["step"] === "number") this.stepCount = state.meta["step"];
    if (typeof state.meta["lr"] === "number") this.lr = state.meta["lr"];
  }
}
