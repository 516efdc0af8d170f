// The reinforcement-learning layer: PPO (config, GAE, rollout buffer, fused loss, training loop, checkpoints),
// evaluation with confidence intervals, run directories, and the experiments built on them.
export * from "./config.js";
export * from "./gae.js";
export * from "./buffer.js";
export * from "./loss.js";
export * from "./sample.js";
export * from "./stats.js";
export * from "./ppo.js";
export * from "./evaluate.js";
export * from "./envstate.js";
export * from "./checkpoint.js";
export * from "./run.js";
export * from "./experiment.js";
export * from "./solve.js";
export * from "../io/plot.js";
export * from "./pictures.js";
