// The interpretability toolkit: activation datasets with environment labels, probes with cross-validation,
// channel search, activation patching, steering vectors and retargeting, and the studies that run each beside
// its baselines. Works on any Module with hook points and any environment of the engine.
export * from "./linalg.js";
export * from "./metrics.js";
export * from "./probe.js";
export * from "./hooks.js";
export * from "./labels.js";
export * from "./dataset.js";
export * from "./observations.js";
export * from "./channels.js";
export * from "./patching.js";
export * from "./steering.js";
export * from "./retarget.js";
export * from "./studies.js";
export * from "./objective-inference.js";
export * from "./grid-levels.js";
export * from "./objective-report.js";
export * from "./heatmap.js";
export * from "./objective-experiment.js";
export * from "./detectors.js";
export * from "./maze_experiment.js";
