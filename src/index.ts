// The library's public surface: re-exports only.
export * from "./core/errors.js";
export * from "./core/rng.js";
export * from "./core/config.js";
export * from "./io/atomic.js";
export * from "./io/safetensors.js";
export * from "./io/rundir.js";
