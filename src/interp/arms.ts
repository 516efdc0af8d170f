// Policy arms evaluated side by side. The behaviour studies run one policy several ways over the same levels (as
// it is, steered at a hook, with the object hidden from its observation), each arm an evaluation of its own that
// depends only on its seed. With a second core and the compiled worker script, every arm runs in a worker thread
// holding a replica of the policy (rebuilt from its spec and parameters, kernels on one thread), so the arms share
// the machine's cores; otherwise, or when asked, one after the other on this thread. Either way each arm's episodes
// and actions are the same (tested), so where an arm ran never changes a figure. Retargeting's arms (retargeted,
// unedited, the goal shown at the target, random) run the same way (retargetArms).
import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { kernels } from "../core/kernels/index.js";
import { Rng } from "../core/rng.js";
import { Tensor } from "../core/tensor.js";
import type { AnyEnvDefinition } from "../envs/engine.js";
import { getEnvDefinition } from "../envs/make.js";
import type { ActorCritic, PolicySpec } from "../nn/models/policy.js";
import { type ActionSource, type EvaluationResult, evaluate, policyActions } from "../rl/evaluate.js";
import { type RetargetArm, type RetargetArmRun, type RetargetOptions, type RetargetResult, retargetArm, retargetArmsOf, tabulateRetarget } from "./retarget.js";
import { hiddenChannelActions, steeredActions } from "./steering.js";

/** What a steered arm adds: one vector for every copy, or the per-episode vector of the object in channel `channel`. */
export type ArmVector = { kind: "fixed"; data: Float32Array; shape: number[] } | { kind: "per-episode"; channel: number };

/** How an arm runs the policy. */
export type ArmKind =
  | { kind: "policy" }
  | {
      kind: "steered";
      hook: string;
      coef: number;
      vector: ArmVector;
    }
  | { kind: "hidden"; channel: number };

export interface Arm {
  arm: ArmKind;
  /** the action sampler's seed and stream label */
  rngSeed: number;
  rngLabel: string;
  greedy: boolean;
}

/** The levels every arm plays. */
export interface ArmSetting {
  distribution: string;
  params?: Record<string, unknown>;
  episodes: number;
  seed: number;
}

/** The action source of one arm on `policy`. */
export function armActions(policy: ActorCritic, arm: Arm): ActionSource {
  const rng = new Rng(arm.rngSeed, arm.rngLabel);
  const a = arm.arm;
  if (a.kind === "policy") return policyActions(policy, rng, arm.greedy);
  if (a.kind === "hidden") return hiddenChannelActions(policy, rng, a.channel, arm.greedy);
  const vector = a.vector.kind === "fixed" ? { kind: "fixed" as const, vector: new Tensor(a.vector.data, a.vector.shape) } : a.vector;
  return steeredActions(policy, rng, { hook: a.hook, coef: a.coef, vector, greedy: arm.greedy });
}

/** One arm's work: an evaluation over levels, or a retargeting arm (the first one also returns the targets). */
export type ArmTask = { kind: "evaluate"; setting: ArmSetting; arm: Arm } | { kind: "retarget"; options: RetargetOptions; arm: RetargetArm; records: boolean };

/** What the worker thread is given: the policy's spec and parameters, the env by name, and the task. */
export interface ArmWorkerInit {
  backend: string;
  spec: PolicySpec;
  params: Float32Array[];
  env: string;
  task: ArmTask;
}

export type ArmWorkerReply = { result: EvaluationResult } | { retarget: RetargetArmRun } | { error: string };

const SCRIPT = new URL("./arm_worker.js", import.meta.url);

/** Why the arms cannot run in worker threads here (null when they can). */
export function armWorkersUnavailable(def: AnyEnvDefinition): string | null {
  if (availableParallelism() < 2) return "one core";
  if (SCRIPT.protocol !== "file:" || !existsSync(fileURLToPath(SCRIPT))) return "the arm worker script is not built next to arms.js (running from TypeScript sources)";
  let registered: AnyEnvDefinition | undefined;
  try {
    registered = getEnvDefinition(def.name);
  } catch {
    registered = undefined;
  }
  // a worker rebuilds the environment from its name: an unregistered definition stays on this thread
  return registered === def ? null : `environment "${def.name}" is not the registered definition of that name`;
}

function inWorker(init: ArmWorkerInit): Promise<Exclude<ArmWorkerReply, { error: string }>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(SCRIPT, { workerData: init });
    let settled = false;
    worker.once("message", (reply: ArmWorkerReply) => {
      settled = true;
      if ("error" in reply) reject(new Error(`an evaluation arm failed in its worker thread: ${reply.error}`));
      else resolve(reply);
      void worker.terminate();
    });
    worker.once("error", (err) => {
      if (!settled) reject(new Error(`an evaluation arm's worker thread failed: ${err.message}`));
      settled = true;
    });
    worker.once("exit", (code) => {
      if (!settled) reject(new Error(`an evaluation arm's worker thread exited (code ${code}) before answering`));
      settled = true;
    });
  });
}

/**
 * Runs the tasks on replicas of `policy` in worker threads, one each, when `parallel` and they can run here; else one
 * after the other on this thread. The replies come back in the tasks' order, the same either way.
 */
async function runArmTasks(policy: ActorCritic, def: AnyEnvDefinition, tasks: readonly ArmTask[], parallel: boolean): Promise<Exclude<ArmWorkerReply, { error: string }>[]> {
  if (!parallel || tasks.length < 2 || armWorkersUnavailable(def) !== null) return tasks.map((task) => runArmTask(policy, def, task));
  const params = policy.parameters().map((p) => Float32Array.from(p.data));
  return Promise.all(tasks.map((task) => inWorker({ backend: kernels().name, spec: policy.spec, params, env: def.name, task })));
}

/** Evaluates every arm over the same levels (see runArmTasks for where). The results come back in the arms' order. */
export async function evaluateArms(policy: ActorCritic, def: AnyEnvDefinition, setting: ArmSetting, arms: readonly Arm[], parallel = true): Promise<EvaluationResult[]> {
  const replies = await runArmTasks(policy, def, arms.map((arm) => ({ kind: "evaluate" as const, setting, arm })), parallel);
  return replies.map((r) => (r as { result: EvaluationResult }).result);
}

/**
 * Retargeting's arms (see retarget in retarget.ts for what they measure), side by side in worker threads when they
 * can be (runArmTasks); the same result either way.
 */
export async function retargetArms(policy: ActorCritic, def: AnyEnvDefinition, options: RetargetOptions, parallel = true): Promise<RetargetResult> {
  const arms = retargetArmsOf(options);
  const replies = await runArmTasks(policy, def, arms.map((arm, k) => ({ kind: "retarget" as const, options, arm, records: k === 0 })), parallel);
  return tabulateRetarget(def, options, arms, replies.map((r) => (r as { retarget: RetargetArmRun }).retarget));
}

/** Runs one task on this thread (what a worker does with its replica). */
export function runArmTask(policy: ActorCritic, def: AnyEnvDefinition, task: ArmTask): Exclude<ArmWorkerReply, { error: string }> {
  if (task.kind === "evaluate") return { result: evaluate(def, armActions(policy, task.arm), task.setting) };
  return { retarget: retargetArm(policy, def, task.options, task.arm, task.records) };
}
