// Finite-difference gradient check shared by the op tests: compares backward() against central differences of
// L = Σ w·f(inputs) with fixed random weights w, the loss summed in float64.
import { expect } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { type Tensor, tensor } from "../../src/core/tensor.js";

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  seed?: number;
}

/** Random inputs of the given shapes with values in [lo, hi). */
export function randInputs(shapes: number[][], seed = 1, lo = -1, hi = 1): Tensor[] {
  const rng = new Rng(seed, "gradcheck-inputs");
  return shapes.map((s) => {
    const n = s.reduce((a, b) => a * b, 1);
    const d = new Float32Array(n);
    rng.fillUniform(d, lo, hi);
    return tensor(d, s);
  });
}

export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): void {
  const eps = options.eps ?? 1e-2;
  const atol = options.atol ?? 2e-3;
  const rtol = options.rtol ?? 2e-2;
  const leaves = inputs.map((x) => tensor(x.data.slice(), x.shape).requireGrad());
  const out = f(...leaves);
  const rng = new Rng(options.seed ?? 7, "gradcheck-weights");
  const w = new Float64Array(out.size);
  for (let i = 0; i < w.length; i++) w[i] = rng.uniform(-1, 1);
  const lossOf = (o: Tensor): number => {
    let s = 0;
    for (let i = 0; i < o.size; i++) s += w[i]! * o.data[i]!;
    return s;
  };
  out.backward(Float32Array.from(w));
  for (let t = 0; t < leaves.length; t++) {
    const leaf = leaves[t]!;
    const analytic = leaf.grad?.data ?? new Float32Array(leaf.size);
    const probe = leaves.map((x) => tensor(x.data.slice(), x.shape));
    const d = probe[t]!.data;
    for (let i = 0; i < d.length; i++) {
      const orig = d[i]!;
      d[i] = orig + eps;
      const up = lossOf(f(...probe));
      d[i] = orig - eps;
      const down = lossOf(f(...probe));
      d[i] = orig;
      const numeric = (up - down) / (2 * eps);
      const a = analytic[i]!;
      if (Math.abs(a - numeric) > atol + rtol * Math.abs(numeric)) {
        expect.fail(`input ${t} element ${i}: analytic grad ${a} vs numeric ${numeric}`);
      }
    }
  }
}
