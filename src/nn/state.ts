// State dicts to and from safetensors, in PyTorch layouts and names, so a checkpoint written
// here loads with `safetensors.torch.load_file` + `model.load_state_dict`, and a PyTorch-written one loads here.
import { CheckpointError } from "../core/errors.js";
import { Tensor } from "../core/tensor.js";
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

/** State-dict tensors as safetensors entries (F32). */
export function toEntries(sd: Readonly<Record<string, Tensor>>): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  for (const [name, t] of Object.entries(sd)) out[name] = { dtype: "F32", shape: t.shape.slice(), data: t.data as TensorInput["data"] };
  return out;
}

/** The float tensors (copied to float32) and metadata of a safetensors file read from `source`. */
export function fromFile(file: ReturnType<typeof readSafetensors>, source: string): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const tensors: Record<string, Tensor> = {};
  for (const [name, e] of file.tensors) {
    if (!isFloatDtype(e.dtype)) throw new CheckpointError(`${source}: tensor ${name} has dtype ${e.dtype}, expected a float dtype`, "state dicts hold float parameters only");
    // copy: the entry may be a view into the file's bytes
    const data = e.dtype === "F32" ? (e.data as Float32Array).slice() : toFloat32(e);
    tensors[name] = new Tensor(data, e.shape);
  }
  return { tensors, metadata: file.metadata };
}
