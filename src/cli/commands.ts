// The registry of CLI commands: one file per command under src/cli/, one line here to register it.
import type { Command } from "commander";
import { register as demo } from "./demo.js";
import { register as envs } from "./envs.js";
import { register as play } from "./play.js";
import { register as render } from "./render.js";
import { register as doctor } from "./doctor.js";
import { register as inspect } from "./inspect.js";
import { register as icl } from "./icl.js";
import { register as train } from "./train.js";
import { register as evalCommand } from "./eval.js";
import { register as experiment } from "./experiment.js";
import { register as validate } from "./validate.js";
import { register as serve } from "./serve.js";
import { register as trace } from "./trace.js";
import { register as hooks } from "./hooks.js";
import { register as probe } from "./probe.js";
import { register as activations } from "./activations.js";
import { register as channels } from "./channels.js";
import { register as patch } from "./patch.js";
import { register as steer } from "./steer.js";
import { register as retarget } from "./retarget.js";
import { register as objective } from "./objective.js";
import { register as inferObjective } from "./infer-objective.js";
import { register as sweep } from "./sweep.js";
import { register as worker } from "./worker.js";
import { register as organism } from "./organism.js";
import { register as safetyTrain } from "./safety-train.js";
import { register as detect } from "./detect.js";
import { register as mazeInterp } from "./experiment_maze_interp.js";

export const commands: readonly ((program: Command) => void)[] = [
  demo,
  envs,
  play,
  render,
  doctor,
  inspect,
  icl,
  train,
  evalCommand,
  experiment,
  validate,
  serve,
  trace,
  hooks,
  activations,
  probe,
  channels,
  patch,
  steer,
  retarget,
  objective,
  inferObjective,
  sweep,
  worker,
  organism,
  safetyTrain,
  detect,
  mazeInterp,
];
