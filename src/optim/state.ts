// Optimizer state in safetensors files: the buffers (`state.i.exp_avg` …) as tensors, the step and
// hyperparameters as JSON metadata — beside nn/state.ts (module state dicts), which it builds on.
import { CheckpointError } from "../core/errors.js";
import { loadSafetensorsFile, saveSafetensorsFile } from "../io/safetensors.js";
import { fromFile, toEntries } from "../nn/state.js";
import type { Optimizer } from "./optimizer.js";

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

