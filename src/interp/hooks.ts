// Hook points of any model by name: their per-sample activation shapes (from one forward pass on a dummy
// input), name matching with `*` wildcards, and errors that list what exists when a name matches nothing.
import { HookError } from "../core/errors.js";
import { noGrad, Tensor } from "../core/tensor.js";
import type { Module } from "../nn/module.js";

export interface HookInfo {
  name: string;
  /** one sample's activation shape (the batch axis removed) */
  shape: number[];
  size: number;
}

/**
 * Every hook point of `model` with its per-sample shape, from one forward pass on `sample` (one input of
 * `inputShape`), or on zeros. Models that read their input (the planner needs an agent on the grid) need a real
 * sample: pass an observation from the environment.
 */
export function hookInfo(model: Module<Tensor, unknown>, inputShape: readonly number[], sample?: Float32Array): HookInfo[] {
  const size = inputShape.reduce((a, b) => a * b, 1);
  const input = sample ? sample.slice(0, size) : new Float32Array(size);
  const { cache } = noGrad(() => model.runWithCache(new Tensor(input, [1, ...inputShape]), { detach: true }));
  return [...cache.entries()].map(([name, t]) => ({ name, shape: t.shape.slice(1), size: t.size }));
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

/** The error for a hook name that matches nothing: lists the model's hook names (or those sharing a part). */
export function unknownHookError(requested: string, available: readonly string[], filterHint: string): HookError {
  const parts = requested.split(/[.*]/).filter((p) => p.length > 1);
  const near = available.filter((n) => parts.some((p) => n.includes(p)));
  const shown = (near.length > 0 ? near : available).slice(0, 24);
  return new HookError(
    `no hook point matches "${requested}"; the model's hook points are: ${shown.join(", ")}${available.length > shown.length ? `, … (${available.length} in all)` : ""}`,
    filterHint,
  );
}

/**
 * Resolves requested hook names (exact, or with `*` wildcards) against the model's, in the model's order;
 * each request must match at least one hook point.
 */
export function resolveHooks(available: readonly string[], requested: readonly string[], filterHint = "list them with `mesa hooks RUN` (add --filter TEXT to narrow the list)"): string[] {
  const picked = new Set<string>();
  for (const req of requested) {
    const re = globToRegExp(req);
    const matches = available.filter((n) => re.test(n));
    if (matches.length === 0) throw unknownHookError(req, available, filterHint);
    for (const m of matches) picked.add(m);
  }
  return available.filter((n) => picked.has(n));
}
