// SGD with optional momentum (and Nesterov) and L2 weight decay, matching torch.optim.SGD.
import { ConfigError } from "../core/errors.js";
import { type Param, Optimizer } from "./optimizer.js";

export interface SGDOptions {
  /** learning rate (default 1e-2) */
  lr?: number;
  /** momentum factor (default 0) */
  momentum?: number;
  /** Nesterov momentum (default false) */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (default 0) */
  weightDecay?: number;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  private readonly buf: Float32Array[];

  constructor(params: Iterable<Param>, options: SGDOptions = {}) {
    super(params, options.lr ?? 1e-2);
    this.momentum = options.momentum ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
    if (!(this.momentum >= 0 && this.momentum < 1)) throw new ConfigError(`SGD momentum must be in [0, 1), got ${this.momentum}`);
    if (this.nesterov && this.momentum === 0) throw new ConfigError("SGD: Nesterov momentum needs momentum > 0");
    this.buf = this.params.map((p) => new Float32Array(p.size));
  }

  step(): void {
    // torch initialises the momentum buffer with the first gradient
    const first = this.stepCount === 0;
    this.stepCount++;
    const lr = this.lr, mu = this.momentum, wd = this.weightDecay, nesterov = this.nesterov;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!;
      if (!p.grad) continue;
      const P = p.data, G = p.grad.data, B = this.buf[i]!;
      for (let j = 0; j < P.length; j++) {
        let g = G[j]! + wd * P[j]!;
        if (mu !== 0) {
          const b = first ? g : mu * B[j]! + g;
          B[j] = b;
          g = nesterov ? g + mu * b : b;
        }
        P[j] = P[j]! - lr * g;
      }
    }
  }

  protected bufferNames(): readonly string[] {
    return this.momentum !== 0 ? ["momentum_buffer"] : [];
  }
  protected buffer(i: number): Float32Array {
    return this.buf[i]!;
  }
  protected hyper(): Record<string, number | string | boolean> {
    return { type: "SGD", momentum: this.momentum, nesterov: this.nesterov, weight_decay: this.weightDecay };
  }
}
