// State dicts and optimizer state to and from safetensors, in PyTorch layouts and names, so a checkpoint written
// here loads with `safetensors.torch.load_file` + `model.load_state_dict`, and a PyTorch-written one loads here.
import { CheckpointError } from "../core/errors.js";
import { Tensor } from "../core/tensor.js";
import type { Optimizer } from "../optim/optimizer.js";
import { type TensorInput, isFloatDtype, loadSafetensorsFile, readSafetensors, saveSafetensorsFile, toFloat32, writeSafetensors } from "../io/safetensors.js";
import type { Module } from "./module.js";

/** F32 safetensors bytes of a state dict (name → tensor), with optional string metadata. */
export function stateDictToSafetensors(sd: Readonly<Record<string, Tensor>>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  return writeSafetensors(toEntries(sd), metadata);
}

/** name → Float32 tensor from safetensors bytes (F16/BF16/F64 converted); non-float entries are rejected. */
export function safetensorsToStateDict(bytes: Uint8Array, source = "safetensors buffer"): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  return fromFile(readSafetensors(bytes, source), source);
}

/** Writes a module's state dict to a safetensors file (atomically). */
export function saveModule(module: { stateDict(): Record<string, Tensor> }, path: string, metadata?: Readonly<Record<string, string>>): void {
  saveSafetensorsFile(path, toEntries(module.stateDict()), metadata);
}

/** Loads a safetensors file into a module (shapes checked; strict key match unless strict is false). Returns the metadata. */
export function loadModule(module: Module<never, unknown>, path: string, options: { strict?: boolean } = {}): Record<string, string> {
  const { tensors, metadata } = fromFile(loadSafetensorsFile(path), path);
  module.loadStateDict(tensors, options);
  return metadata;
}

const OPTIMIZER_META_KEY = "mesa.optimizer";

/** Writes an optimizer's buffers (`state.i.exp_avg` …) with its step and hyperparameters in the metadata. */
export function saveOptimizer(opt: Optimizer, path: string): void {
  const { meta, tensors } = opt.getState();
  saveSafetensorsFile(path, toEntries(tensors), { [OPTIMIZER_META_KEY]: JSON.stringify(meta) });
}

/** Restores an optimizer saved by saveOptimizer (same parameters in the same order). */
export function loadOptimizer(opt: Optimizer, path: string): void {
  const { tensors, metadata } = fromFile(loadSafetensorsFile(path), path);
  const raw = metadata[OPTIMIZER_META_KEY];
  if (raw === undefined) throw new CheckpointError(`${path}: no optimizer metadata (${OPTIMIZER_META_KEY})`, "this file was not written by saveOptimizer");
  let meta: Record<string, number | string | boolean>;
  try {
    meta = JSON.parse(raw) as Record<string, number | string | boolean>;
  } catch {
    throw new CheckpointError(`${path}: optimizer metadata is not valid JSON`, "the file is corrupt; re-save it");
  }
  const expected = opt.getState().meta["type"];
  if (meta["type"] !== expected) throw new CheckpointError(`${path}: holds ${String(meta["type"])} state but the optimizer is ${String(expected)}`);
  opt.setState({ meta, tensors });
}

function toEntries(sd: Readonly<Record<string, Tensor>>): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  for (const [name, t] of Object.entries(sd)) out[name] = { dtype: "F32", shape: t.shape.slice(), data: t.data as TensorInput["data"] };
  return out;
}

function fromFile(file: ReturnType<typeof readSafetensors>, source: string): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const tensors: Record<string, Tensor> = {};
  for (const [name, e] of file.tensors) {
    if (!isFloatDtype(e.dtype)) throw new CheckpointError(`${source}: tensor ${name} has dtype ${e.dtype}, expected a float dtype`, "state dicts hold float parameters only");
    // copy: the entry may be a view into the file's bytes
    const data = e.dtype === "F32" ? (e.data as Float32Array).slice() : toFloat32(e);
    tensors[name] = new Tensor(data, e.shape);
  }
  return { tensors, metadata: file.metadata };
}
