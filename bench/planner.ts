// `npm run bench -- planner [--json]`: the glass-box planner's cost. (1) K-step value iteration alone, forward +
// backward over a batch of 1,024 coin-run observations (its default view window; K = 34, hard max; coin-run's own
// moves over each window — gravity, jumps —, the table the planner trains with, written to the peer): our fused kernel
// (nn/value_iteration.ts) against the same recursion written with the generic autograd ops (mul, add,
// indexSelect, max: 5 tape nodes per step) and against PyTorch (gather + max, bench/peers/planner_torch.py).
// (2) The whole planner policy (reward-map conv head, value iteration, logits and value) forward + backward on
// 1,024 coin-run observations, beside our CNN policy on the same batch and the same planner in PyTorch.
// Wall-clock ms, best of several rounds, at 1 and 2 threads on each side (the best is the headline). The issue's
// feasibility prototype (PyTorch, 6×12 grid, 24 steps) took 0.30 s per 1,024 samples for forward + backward.
// (3) Gated value iteration (learned passability) on maze-cheese's 17×17 grid with its planning horizon K = 160, a
// minibatch of 256 random problems, hard max: the successor-table kernel against the stencil over padded grids
// (core/kernels/gated_grid.ts), forward alone (a rollout step's inference) and forward + backward (a training step).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatNumber, formatTable, log, printJson } from "../src/cli/output.js";
import { kernels } from "../src/core/kernels/index.js";
import { add, mul } from "../src/core/ops/elementwise.js";
import { indexSelect } from "../src/core/ops/indexing.js";
import { max } from "../src/core/ops/reduce.js";
import { Rng } from "../src/core/rng.js";
import { Tensor } from "../src/core/tensor.js";
import { VecEnv } from "../src/envs/engine.js";
import { getEnvDefinition } from "../src/envs/make.js";
import "../src/nn/models/cnn_policy.js";
import "../src/nn/models/planner.js";
import { createPolicy } from "../src/nn/models/policy.js";
import { planQGated } from "../src/nn/gated_value_iteration.js";
import { type SuccessorTable, gridSuccessors, planQ } from "../src/nn/value_iteration.js";
import { runJson as runPeer } from "./nn.js";
import type { Benchmark } from "./registry.js";

/** A child's figures (all numbers here) or why it was skipped. */
function runJson(command: string, args: readonly string[]): { figures?: Record<string, number>; skipped?: string } {
  return runPeer(command, args) as { figures?: Record<string, number>; skipped?: string };
}

const BATCH = 1024;
const K = 34;

/** Best wall-clock ms per call over rounds (after a warm-up call). */
function wallBest(step: () => void, rounds = 7): number {
  step();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    step();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** coin-run train observations for BATCH copies (a few random steps in, so agents are spread out) */
function coinRunObs(): { env: VecEnv; obs: Tensor } {
  const env = new VecEnv(getEnvDefinition("coin-run"), { n: BATCH, distribution: "train" });
  env.reset(1);
  const rng = new Rng(1, "bench-planner-walk");
  const a = new Int32Array(BATCH);
  for (let t = 0; t < 6; t++) {
    for (let i = 0; i < BATCH; i++) a[i] = rng.int(env.numActions);
    env.step(a);
  }
  return { env, obs: new Tensor(env.obs.slice(), [BATCH, ...env.obsShape]) };
}

/** coin-run's own moves over each observed window: [BATCH, S, actions], what the planner plans with. */
function coinRunMoves(env: VecEnv, obs: Tensor): SuccessorTable {
  const [Ch, H, W] = env.obsShape as [number, number, number];
  const S = H * W;
  const A = env.numActions;
  const next = new Int32Array(BATCH * S * A);
  for (let b = 0; b < BATCH; b++) env.def.observedMoves!(obs.data, b * Ch * S, H, W, next, b * S * A);
  return { next, batch: BATCH, states: S, moves: A };
}

/** The value-iteration problem of those observations: coin-run's moves, random reward and continuation. */
function viProblem(env: VecEnv, obs: Tensor): { table: SuccessorTable; agent: Int32Array; R: Tensor; C: Tensor } {
  const [Ch, H, W] = env.obsShape;
  const S = H * W;
  const agentCh = env.channels.indexOf("agent");
  const agent = new Int32Array(BATCH);
  for (let b = 0; b < BATCH; b++) {
    for (let s = 0; s < S; s++) if (obs.data[(b * Ch + agentCh) * S + s]! > 0.5) agent[b] = s;
  }
  const rng = new Rng(2, "bench-planner-vi");
  const R = new Tensor(new Float32Array(BATCH * S).map(() => rng.uniform(-1, 1)), [BATCH, S]).requireGrad();
  const C = new Tensor(new Float32Array(BATCH * S).map(() => rng.uniform(0, 0.95)), [BATCH, S]).requireGrad();
  return { table: coinRunMoves(env, obs), agent, R, C };
}

/** The same recursion with generic autograd ops: E = R + C·V; V = max over moves of E gathered by the successor table. */
function viAutograd(table: SuccessorTable, agent: Int32Array, R: Tensor, C: Tensor): Tensor {
  const { batch: B, states: S, moves: M, next } = table;
  const flat = new Int32Array(B * S * M);
  for (let b = 0; b < B; b++) for (let i = 0; i < S * M; i++) flat[b * S * M + i] = b * S + next[b * S * M + i]!;
  const atFlat = new Int32Array(B * M);
  for (let b = 0; b < B; b++) for (let m = 0; m < M; m++) atFlat[b * M + m] = b * S + next[(b * S + agent[b]!) * M + m]!;
  let E = R;
  for (let k = 1; k < K; k++) {
    const V = max(indexSelect(E.reshape([B * S]), 0, flat).reshape([B, S, M]), 2); // [B, S]
    E = add(R, mul(C, V));
  }
  return indexSelect(E.reshape([B * S]), 0, atFlat).reshape([B, M]);
}

/** Gated value iteration's problems: maze-cheese's grid (19×19, K = 160), GATED_BATCH problems with random maps. */
const GATED_BATCH = 256;
const GATED_GRID = 17;
const GATED_K = 160;

/** Best ms of the gated kernel on the free grid, through the successor table or the stencil, forward alone or with its backward. */
function measureGated(stencil: boolean, backward: boolean): number {
  const [B, H, W] = [GATED_BATCH, GATED_GRID, GATED_GRID];
  const S = H * W;
  const rng = new Rng(3, "bench-planner-gated");
  const maps = [[-1, 1], [0, 0.99], [0, 1]].map(([lo, hi]) => new Float32Array(B * S).map(() => rng.uniform(lo!, hi!)));
  const at = Int32Array.from({ length: B }, () => rng.int(S));
  const table: SuccessorTable = { next: gridSuccessors(new Uint8Array(B * S), B, H, W), batch: B, states: S, moves: 5, ...(stencil ? { grid: { height: H, width: W } } : {}) };
  const upstream = new Float32Array(B * 5).fill(1);
  return wallBest(() => {
    const [r, c, g] = maps.map((d) => (backward ? new Tensor(d, [B, S]).requireGrad() : new Tensor(d, [B, S]))) as [Tensor, Tensor, Tensor];
    const { q } = planQGated(table, r, c, g, at, { iterations: GATED_K, backup: "max" });
    if (backward) q.backward(upstream);
  }, 5);
}

function measureOurs(threads: number): Record<string, number> {
  kernels().setThreads(threads);
  const { env, obs } = coinRunObs();
  const { table, agent, R, C } = viProblem(env, obs);
  const fused = wallBest(() => {
    R.grad = null;
    C.grad = null;
    planQ(table, R, C, agent, { iterations: K, backup: "max" }).q.sum().backward();
  });
  const generic = wallBest(() => {
    R.grad = null;
    C.grad = null;
    viAutograd(table, agent, R, C).sum().backward();
  }, 3);
  const spec = { obsShape: [...env.obsShape], numActions: env.numActions, env: { channels: [...env.channels], agentChannel: env.def.agent.channel, actions: [...env.actionNames], dynamics: "coin-run" } };
  const policyStep = (kind: string): number => {
    const p = createPolicy({ kind, ...spec, ...(kind === "planner" ? { options: { iterations: K } } : {}) }, new Rng(1, "init"));
    return wallBest(() => {
      p.zeroGrad();
      const o = p.forward(obs);
      o.logits.sum().add(o.value.sum()).backward();
    });
  };
  return {
    vi_fused_ms: fused, vi_autograd_ms: generic, planner_ms: policyStep("planner"), cnn_ms: policyStep("cnn"),
    gated_table_fwd_ms: measureGated(false, false), gated_stencil_fwd_ms: measureGated(true, false),
    gated_table_ms: measureGated(false, true), gated_stencil_ms: measureGated(true, true),
  };
}

export const benchmark: Benchmark = {
  description: "glass-box planner: value iteration fwd+bwd (fused vs generic autograd vs PyTorch) and the whole policy per 1,024 samples",
  async run({ json, args }) {
    if (args.includes("--child")) {
      printJson(measureOurs(Number(args.find((a) => a.startsWith("--threads="))?.slice("--threads=".length) ?? 1)));
      return;
    }
    // the observations go to the PyTorch peer as raw float32, so both sides plan on the same grids
    const dir = mkdtempSync(join(tmpdir(), "mesa-bench-planner-"));
    const { env, obs } = coinRunObs();
    const obsPath = join(dir, "obs.f32");
    writeFileSync(obsPath, obs.data);
    const table = coinRunMoves(env, obs);
    const nextPath = join(dir, "next.i32");
    writeFileSync(nextPath, table.next);
    const meta = JSON.stringify({ shape: obs.shape, channels: env.channels, actions: env.actionNames, K, batch: BATCH, moves: table.moves, next: nextPath });
    const ours: Record<string, Record<string, number>> = {};
    const torch: Record<string, Record<string, number>> = {};
    let skipped: string | undefined;
    try {
      for (const threads of [1, 2]) {
        if (!json) log(`[planner] mesa, ${threads} thread(s)…`);
        const o = runJson(process.execPath, [process.argv[1]!, "planner", "--child", `--threads=${threads}`, "--json"]);
        if (!o.figures) throw new Error(`the planner benchmark child failed: ${o.skipped}`);
        ours[threads] = o.figures;
        if (!json) log(`[planner] torch, ${threads} thread(s)…`);
        const t = runJson("/usr/bin/python3", [fileURLToPath(new URL("../../bench/peers/planner_torch.py", import.meta.url)), obsPath, meta, String(threads)]);
        if (t.figures) torch[threads] = t.figures;
        else skipped = t.skipped;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const best = (side: Record<string, Record<string, number>>, key: string): { ms: number; threads: number } | null => {
      let out: { ms: number; threads: number } | null = null;
      for (const [threads, f] of Object.entries(side)) if (f[key] !== undefined && (out === null || f[key]! < out.ms)) out = { ms: f[key]!, threads: Number(threads) };
      return out;
    };
    const keys = ["vi_fused_ms", "vi_autograd_ms", "planner_ms", "cnn_ms", "gated_table_fwd_ms", "gated_stencil_fwd_ms", "gated_table_ms", "gated_stencil_ms"] as const;
    const headline: Record<string, unknown> = {};
    for (const k of keys) headline[k] = best(ours, k);
    headline["torch_vi_ms"] = best(torch, "vi_ms");
    headline["torch_planner_ms"] = best(torch, "planner_ms");
    if (json) {
      const gated = { batch: GATED_BATCH, iterations: GATED_K, grid: [GATED_GRID, GATED_GRID] };
      printJson({ batch: BATCH, iterations: K, grid: obs.shape.slice(2), gated, ours, torch, best: headline, ...(skipped ? { skipped: { torch: skipped } } : {}) });
      return;
    }
    const cell = (x: { ms: number; threads: number } | null | undefined): string => (x ? `${formatNumber(Number(x.ms.toPrecision(3)))} (${x.threads}t)` : "-");
    const h = headline as Record<string, { ms: number; threads: number } | null>;
    const rows = [
      ["value iteration, fused kernel", cell(h["vi_fused_ms"]), ""],
      ["value iteration, generic autograd ops", cell(h["vi_autograd_ms"]), h["vi_autograd_ms"] && h["vi_fused_ms"] ? `fused is ${(h["vi_autograd_ms"].ms / h["vi_fused_ms"].ms).toFixed(1)}× faster` : ""],
      ["value iteration, PyTorch (gather + max)", cell(h["torch_vi_ms"]), h["torch_vi_ms"] && h["vi_fused_ms"] ? `fused is ${(h["torch_vi_ms"].ms / h["vi_fused_ms"].ms).toFixed(1)}× faster` : ""],
      ["planner policy, mesa", cell(h["planner_ms"]), ""],
      ["planner policy, PyTorch", cell(h["torch_planner_ms"]), h["torch_planner_ms"] && h["planner_ms"] ? `mesa is ${(h["torch_planner_ms"].ms / h["planner_ms"].ms).toFixed(2)}× faster` : ""],
      ["CNN policy, mesa (reference)", cell(h["cnn_ms"]), h["cnn_ms"] && h["planner_ms"] ? `planner costs ${(h["planner_ms"].ms / h["cnn_ms"].ms).toFixed(2)}× the CNN` : ""],
    ];
    process.stdout.write(`${formatTable([`fwd+bwd, ${BATCH} coin-run grids (${obs.shape[2]}×${obs.shape[3]}, K=${K}), best wall ms`, "ms (threads)", "ratio"], rows)}\n`);
    process.stdout.write("the issue's PyTorch prototype: 300 ms per 1,024 samples (6×12 grid, K = 24)\n");
    const faster = (old: string, now: string): string => (h[old] && h[now] ? `stencil is ${(h[old].ms / h[now].ms).toFixed(1)}× faster` : "");
    const gatedRows = [
      ["forward, successor table", cell(h["gated_table_fwd_ms"]), ""],
      ["forward, stencil", cell(h["gated_stencil_fwd_ms"]), faster("gated_table_fwd_ms", "gated_stencil_fwd_ms")],
      ["fwd+bwd, successor table", cell(h["gated_table_ms"]), ""],
      ["fwd+bwd, stencil", cell(h["gated_stencil_ms"]), faster("gated_table_ms", "gated_stencil_ms")],
    ];
    process.stdout.write(`${formatTable([`gated value iteration, ${GATED_BATCH} random ${GATED_GRID}×${GATED_GRID} grids (K=${GATED_K}, hard max), best wall ms`, "ms (threads)", "ratio"], gatedRows)}\n`);
    if (skipped) process.stdout.write(`skipped torch: ${skipped}\n`);
  },
};
