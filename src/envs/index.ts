// The environments layer: vectorized engine, the registered environments, single-env wrapper, scripted
// policies, episode recording and rendering. See engine.ts for the API.
export * from "./engine.js";
export * from "./registry.js";
export * from "./make.js";
export * from "./gym.js";
export * from "./scripted.js";
export * from "./render.js";
export * from "./record.js";
