// Global gradient-norm clipping (torch.nn.utils.clip_grad_norm_): scales every grad by maxNorm/‖g‖ when the
// norm over all parameters exceeds maxNorm. Returns the norm before clipping (logged by PPO).
import type { Tensor } from "../core/tensor.js";

export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  const list = [...params];
  let sq = 0;
  for (const p of list) {
    if (!p.grad) continue;
    const g = p.grad.data;
    for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  }
  const norm = Math.sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const p of list) {
      if (!p.grad) continue;
      const g = p.grad.data;
      for (let i = 0; i < g.length; i++) g[i]! *= coef;
    }
  }
  return norm;
}

/** The global L2 norm of the grads, without changing them. */
export function gradNorm(params: Iterable<Tensor>): number {
  let sq = 0;
  for (const p of params) {
    if (!p.grad) continue;
    const g = p.grad.data;
    for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  }
  return Math.sqrt(sq);
}
