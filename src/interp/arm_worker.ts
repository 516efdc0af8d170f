// Worker-thread side of evaluateArms (arms.ts): rebuilds the policy from its spec and parameters and the
// environment from its name, runs one arm (an evaluation or a retargeting arm; kernels on one thread: the arms share
// the cores) and posts the result back.
import { parentPort, workerData } from "node:worker_threads";
import "../core/ops/index.js";
import { kernels, setBackend } from "../core/kernels/index.js";
import type { BackendName } from "../core/kernels/types.js";
import { Rng } from "../core/rng.js";
import { getEnvDefinition } from "../envs/make.js";
import "../nn/models/cnn_policy.js";
import "../nn/models/mlp_policy.js";
import "../nn/models/planner.js";
import { createPolicy } from "../nn/models/policy.js";
import { type ArmWorkerInit, type ArmWorkerReply, runArmTask } from "./arms.js";

const port = parentPort;
if (port === null) throw new Error("arm_worker.js must run as a worker thread");
const init = workerData as ArmWorkerInit;
let reply: ArmWorkerReply;
try {
  setBackend(init.backend as BackendName);
  kernels().setThreads(1);
  const policy = createPolicy(init.spec, new Rng(0, "arm-replica"));
  const params = policy.parameters();
  if (params.length !== init.params.length || params.some((p, i) => p.size !== init.params[i]!.length)) {
    throw new Error(`the replica's parameters (${params.map((p) => p.size).join(", ")}) differ from the policy's (${init.params.map((p) => p.length).join(", ")})`);
  }
  params.forEach((p, i) => p.data.set(init.params[i]!));
  reply = runArmTask(policy, getEnvDefinition(init.env), init.task);
} catch (err) {
  reply = { error: err instanceof Error ? err.message : String(err) };
}
port.postMessage(reply);
