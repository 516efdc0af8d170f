// The benchmarks `npm run bench -- NAME [--json]` can run: one file per benchmark, one line here.
export interface Benchmark {
  /** one line on what it measures */
  description: string;
  /** runs the benchmark; prints a readable table to stdout, or exactly one JSON object when json is true */
  run(options: { json: boolean; args: readonly string[] }): Promise<void>;
}

export const benchmarks: Record<string, () => Promise<Benchmark>> = {
  core: () => import("./core.js").then((m) => m.benchmark),
  conv: () => import("./conv.js").then((m) => m.benchmark),
  envs: () => import("./envs.js").then((m) => m.benchmark),
  icl: () => import("./icl.js").then((m) => m.benchmark),
  rng: () => import("./rng.js").then((m) => m.benchmark),
  ppo: () => import("./ppo.js").then((m) => m.benchmark),
  "ppo-cnn": () => import("./ppo_cnn.js").then((m) => m.benchmark),
  nn: () => import("./nn.js").then((m) => m.benchmark),
  "wasm-threads": () => import("./wasm_threads.js").then((m) => m.benchmark),
  aisg: () => import("./aisg.js").then((m) => m.benchmark),
  planner: () => import("./planner.js").then((m) => m.benchmark),
  sweep: () => import("./sweep.js").then((m) => m.benchmark),
  serve: () => import("./serve.js").then((m) => m.benchmark),
};
