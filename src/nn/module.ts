// Module: a tree of named parameters and named hook points. Names come from the property names of the module
// tree (camelCase properties become snake_case, arrays become `.0`, `.1`), so `blocks[0].attn.hookPattern` is
// `blocks.0.attn.hook_pattern` as in TransformerLens — never typed twice. Only own properties holding a Module, a
// Parameter or an array of them count, in declaration order; names starting with "_" are skipped.
// runWithCache/runWithHooks attach hooks for one call and always remove them afterwards.
import { CheckpointError, HookError } from "../core/errors.js";
import { sameShape, shapeStr } from "../core/shape.js";
import "../core/ops/index.js"; // every model calls tensor methods: load the op families that attach them
import { Tensor } from "../core/tensor.js";

/** A trainable tensor owned by a module (a leaf that requires grad). */
export class Parameter extends Tensor {
  constructor(t: Tensor) {
    super(t.data, t.shape);
    this.requiresGrad = true;
  }
}

/** Reads an activation (return nothing) or replaces it (return a tensor of the same shape). */
export type HookFn = (activation: Tensor, hookName: string) => Tensor | void;

/** camelCase → snake_case (hookResidPost → hook_resid_post); names with capitals after the first letter kept (W_Q). */
function toSnake(key: string): string {
  if (!/^[a-z][A-Za-z0-9]*$/.test(key)) return key;
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export abstract class Module<In = Tensor, Out = Tensor> {
  abstract forward(input: In): Out;

  /** Direct children: [name, module] in declaration order. */
  *namedChildren(): Generator<[string, Module<unknown, unknown>]> {
    for (const key of Object.keys(this)) {
      if (key.startsWith("_")) continue;
      const v = (this as Record<string, unknown>)[key];
      const name = toSnake(key);
      if (v instanceof Module) yield [name, v];
      else if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (v[i] instanceof Module) yield [`${name}.${i}`, v[i] as Module<unknown, unknown>];
      }
    }
  }

  /** This module and all descendants with dotted names ("" for this one). */
  *namedModules(prefix = ""): Generator<[string, Module<unknown, unknown>]> {
    yield [prefix, this as Module<unknown, unknown>];
    for (const [name, child] of this.namedChildren()) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  /** Own parameters (not children's): [name, parameter]. Arrays of parameters are named `name.i`. */
  *ownParameters(): Generator<[string, Parameter]> {
    for (const key of Object.keys(this)) {
      if (key.startsWith("_")) continue;
      const v = (this as Record<string, unknown>)[key];
      const name = toSnake(key);
      if (v instanceof Parameter) yield [name, v];
      else if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (v[i] instanceof Parameter) yield [`${name}.${i}`, v[i] as Parameter];
      }
    }
  }

  /** Every parameter with its dotted name, depth-first in declaration order (shared parameters listed once). */
  namedParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [name, p] of m.ownParameters()) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([prefix ? `${prefix}.${name}` : name, p]);
      }
    }
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Total number of trainable scalars. */
  numParameters(): number {
    let n = 0;
    for (const p of this.parameters()) n += p.size;
    return n;
  }

  /** Every hook point with its dotted name. */
  namedHookPoints(): [string, HookPoint][] {
    const out: [string, HookPoint][] = [];
    for (const [name, m] of this.namedModules()) if (m instanceof HookPoint) out.push([name, m]);
    return out;
  }

  hookNames(): string[] {
    return this.namedHookPoints().map(([n]) => n);
  }

  /** Sets every parameter's grad to null. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** name → tensor (sharing data), PyTorch naming and layouts. */
  stateDict(): Record<string, Tensor> {
    const sd: Record<string, Tensor> = {};
    for (const [name, p] of this.namedParameters()) sd[name] = p.detach();
    return sd;
  }

  /** Copies values into the parameters; shapes must match. strict (default) also requires the same key set. */
  loadStateDict(sd: Readonly<Record<string, Tensor>>, options: { strict?: boolean } = {}): void {
    const strict = options.strict ?? true;
    const params = this.namedParameters();
    const names = new Set(params.map(([n]) => n));
    const missing = params.filter(([n]) => !(n in sd)).map(([n]) => n);
    const unexpected = Object.keys(sd).filter((n) => !names.has(n));
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      throw new CheckpointError(
        `state dict does not match the model: ${missing.length ? `missing ${missing.join(", ")}` : ""}${missing.length && unexpected.length ? "; " : ""}${unexpected.length ? `unexpected ${unexpected.join(", ")}` : ""}`,
        "check the model config matches the one the checkpoint was saved from, or load with { strict: false }",
      );
    }
    for (const [name, p] of params) {
      const t = sd[name];
      if (!t) continue;
      if (!sameShape(t.shape, p.shape)) {
        throw new CheckpointError(`state dict entry ${name} has shape ${shapeStr(t.shape)} but the model expects ${shapeStr(p.shape)}`, "the checkpoint was saved from a different architecture");
      }
      p.data.set(t.data);
    }
  }

  /** Runs forward with `hooks` attached (name → fn, or [predicate, fn] pairs); removes them when done. */
  runWithHooks(input: In, hooks: Readonly<Record<string, HookFn>> | readonly (readonly [(name: string) => boolean, HookFn])[]): Out {
    const points = this.namedHookPoints();
    const attached: HookPoint[] = [];
    const attach = (hp: HookPoint, name: string, fn: HookFn): void => {
      hp._hooks.push({ name, fn });
      attached.push(hp);
    };
    try {
      if (Array.isArray(hooks)) {
        for (const [pred, fn] of hooks as readonly (readonly [(name: string) => boolean, HookFn])[]) {
          for (const [name, hp] of points) if (pred(name)) attach(hp, name, fn);
        }
      } else {
        const byName = new Map(points);
        for (const [name, fn] of Object.entries(hooks as Record<string, HookFn>)) {
          const hp = byName.get(name);
          if (!hp) {
            throw new HookError(`no hook point named "${name}" in ${this.constructor.name}`, `available: ${[...byName.keys()].slice(0, 12).join(", ")}${byName.size > 12 ? ", …" : ""}`);
          }
          attach(hp, name, fn);
        }
      }
      return this.forward(input);
    } finally {
      for (const hp of attached) hp._hooks.pop();
    }
  }

  /**
   * Runs forward and returns the output with every hooked activation (or those whose name passes `names`).
   * Cached tensors stay on the tape unless `detach` is set, so attributions can take gradients through them.
   */
  runWithCache(input: In, options: { names?: readonly string[] | ((name: string) => boolean); detach?: boolean } = {}): { output: Out; cache: Map<string, Tensor> } {
    const cache = new Map<string, Tensor>();
    const filter = options.names;
    const want = filter === undefined ? () => true : typeof filter === "function" ? filter : (n: string) => filter.includes(n);
    if (Array.isArray(filter)) {
      const known = new Set(this.hookNames());
      for (const n of filter) if (!known.has(n)) throw new HookError(`no hook point named "${n}" in ${this.constructor.name}`, `available: ${[...known].slice(0, 12).join(", ")}`);
    }
    const output = this.runWithHooks(input, [[want, (a, name) => void cache.set(name, options.detach ? a.detach() : a)]]);
    return { output, cache };
  }
}

/** An identity tap on an activation; hooks attached by runWithHooks/runWithCache read or replace it. */
export class HookPoint extends Module<Tensor, Tensor> {
  /** @internal hooks attached for the current call */
  _hooks: { name: string; fn: HookFn }[] = [];

  forward(x: Tensor): Tensor {
    if (this._hooks.length === 0) return x;
    for (const { name, fn } of this._hooks) {
      const r = fn(x, name);
      if (r instanceof Tensor) {
        if (!sameShape(r.shape, x.shape)) {
          throw new HookError(`hook on ${name} returned shape ${shapeStr(r.shape)} but the activation is ${shapeStr(x.shape)}`, "a replacing hook must return a tensor of the same shape");
        }
        x = r;
      }
    }
    return x;
  }
}

/** Runs modules in order (`layers.0`, `layers.1`, …). */
export class Sequential extends Module<Tensor, Tensor> {
  readonly layers: Module<Tensor, Tensor>[];
  constructor(layers: Module<Tensor, Tensor>[]) {
    super();
    this.layers = layers;
  }
  forward(x: Tensor): Tensor {
    for (const l of this.layers) x = l.forward(x);
    return x;
  }
}

