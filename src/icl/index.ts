// In-context learning as gradient descent (von Oswald et al. 2023): tasks, exact baselines, the LSA construction,
// the fused LSA kernel, comparisons, training and plots — re-exported as the `icl` namespace of the library.
export * from "./tasks.js";
export * from "./baselines.js";
export * from "./construction.js";
export * from "./lsa_kernel.js";
export * from "./lsa_weights.js";
export * from "./compare.js";
export * from "./train.js";
export * from "./plots.js";
export * from "./run.js";
