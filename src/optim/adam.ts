// Adam and AdamW (Kingma & Ba; Loshchilov & Hutter), matching torch.optim.Adam/AdamW: bias-corrected moments,
// eps added after the square root; Adam adds weightDecay·p to the gradient, AdamW decays the weights directly.
import { ConfigError } from "../core/errors.js";
import { adamStep } from "../core/ops/simd.js";
import { type Param, Optimizer } from "./optimizer.js";

export interface AdamOptions {
  /** learning rate (default 1e-3) */
  lr?: number;
  /** first and second moment decay rates (default [0.9, 0.999]) */
  betas?: readonly [number, number];
  /** added to √v̂ (default 1e-8; CleanRL's PPO uses 1e-5) */
  eps?: number;
  /** L2 penalty (Adam) or decoupled decay (AdamW); default 0 for Adam, 0.01 for AdamW */
  weightDecay?: number;
}

export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  protected readonly decoupled: boolean = false;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];

  constructor(params: Iterable<Param>, options: AdamOptions = {}) {
    super(params, options.lr ?? 1e-3);
    const [b1, b2] = options.betas ?? [0.9, 0.999];
    if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw new ConfigError(`Adam betas must be in [0, 1), got [${b1}, ${b2}]`);
    this.beta1 = b1;
    this.beta2 = b2;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? (new.target === AdamW ? 0.01 : 0);
    this.m = this.params.map((p) => new Float32Array(p.size));
    this.v = this.params.map((p) => new Float32Array(p.size));
  }

  step(): void {
    this.stepCount++;
    const t = this.stepCount;
    const b1 = this.beta1, b2 = this.beta2, eps = this.eps, lr = this.lr, wd = this.weightDecay;
    const bc1 = 1 - Math.pow(b1, t);
    const bc2Sqrt = Math.sqrt(1 - Math.pow(b2, t));
    const stepSize = lr / bc1;
    const decay = this.decoupled ? 1 - lr * wd : 1;
    const l2 = this.decoupled ? 0 : wd;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!;
      if (!p.grad) continue;
      const P = p.data, G = p.grad.data, M = this.m[i]!, V = this.v[i]!;
      if (wd === 0) {
        // the common case, without the decay terms: float32 arithmetic as PyTorch's, on WebAssembly SIMD when
        // available (~5× faster than a float64 loop, which is bound by one sqrt and two divisions per parameter)
        adamStep(P, G, M, V, P.length, b1, b2, stepSize, bc2Sqrt, eps);
        continue;
      }
      for (let j = 0; j < P.length; j++) {
        let pj = P[j]! * decay;
        const g = G[j]! + l2 * P[j]!;
        const mj = b1 * M[j]! + (1 - b1) * g;
        const vj = b2 * V[j]! + (1 - b2) * g * g;
        M[j] = mj;
        V[j] = vj;
        pj -= (stepSize * mj) / (Math.sqrt(vj) / bc2Sqrt + eps);
        P[j] = pj;
      }
    }
  }

  protected bufferNames(): readonly string[] {
    return ["exp_avg", "exp_avg_sq"];
  }
  protected buffer(i: number, name: string): Float32Array {
    return name === "exp_avg" ? this.m[i]! : this.v[i]!;
  }
  protected hyper(): Record<string, number | string | boolean> {
    return { type: this.decoupled ? "AdamW" : "Adam", beta1: this.beta1, beta2: this.beta2, eps: this.eps, weight_decay: this.weightDecay };
  }
}

/** Adam with decoupled weight decay (default 0.01, as torch.optim.AdamW). */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;
}
