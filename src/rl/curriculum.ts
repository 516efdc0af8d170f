// Curricula: a run may train on easier levels first (smaller mazes, closer keys) and end on its own level
// distribution. A stage lasts until a fraction of the run's updates, so a curriculum scales with --steps; its
// env parameters go on top of the run's distribution and envParams, and every stage must keep the observation
// shape and the actions (one policy sees them all). Stages follow each other in order; after the last one the
// run trains on its own levels, which are also what it is evaluated on.
import { z } from "zod";
import { ConfigError } from "../core/errors.js";
import { type AnyEnvDefinition, VecEnv } from "../envs/engine.js";

export const curriculumStageSchema = z
  .object({
    /** the stage ends when this fraction of the run's updates is done (0 < until < 1, increasing stage by stage) */
    until: z.number().gt(0).lt(1),
    /** env parameters of the stage, on top of the run's distribution and envParams */
    envParams: z.record(z.string(), z.unknown()),
  })
  .strict();
export type CurriculumStage = z.output<typeof curriculumStageSchema>;

/** Which env each update of a run trains on; PPO asks it at every update (see trainPPO). */
export interface EnvCurriculum {
  /** stage of update `update` (1-based) of `numIterations`: 0 … stages − 1, or `stages` for the run's own levels */
  stageOf(update: number, numIterations: number): number;
  /** the env of stage `stage` (the same object every time it is asked) */
  envFor(stage: number): VecEnv;
}

/** A run's curriculum: its stages' envs, built on first use, `n` copies each. */
export class Curriculum implements EnvCurriculum {
  private readonly envs: (VecEnv | undefined)[];

  constructor(
    readonly def: AnyEnvDefinition,
    readonly distribution: string,
    readonly envParams: Readonly<Record<string, unknown>>,
    readonly stages: readonly CurriculumStage[],
    readonly n: number,
  ) {
    this.envs = new Array<VecEnv | undefined>(stages.length + 1);
  }

  stageOf(update: number, numIterations: number): number {
    const done = (Math.max(update, 1) - 1) / numIterations; // fraction of the run's updates finished before this one
    const s = this.stages.findIndex((stage) => done < stage.until);
    return s < 0 ? this.stages.length : s;
  }

  envFor(stage: number): VecEnv {
    if (!(Number.isInteger(stage) && stage >= 0 && stage <= this.stages.length)) throw new RangeError(`curriculum stage ${stage} is out of range [0, ${this.stages.length}]`);
    return (this.envs[stage] ??= new VecEnv(this.def, { n: this.n, distribution: this.distribution, params: this.paramsOf(stage) }));
  }

  /** env parameter overrides of stage `stage` (the run's own for the last) */
  paramsOf(stage: number): Record<string, unknown> {
    return stage < this.stages.length ? { ...this.envParams, ...this.stages[stage]!.envParams } : { ...this.envParams };
  }
}

/**
 * Checks a curriculum against its run before any work: stages in increasing `until` order, each stage's parameters
 * valid for the env, and the same observation shape and actions as the run's own levels. `path` names the config
 * field in messages (e.g. "curriculum" or a flag).
 */
export function checkCurriculum(def: AnyEnvDefinition, distribution: string, envParams: Readonly<Record<string, unknown>>, stages: readonly CurriculumStage[], source: string, path = "curriculum"): void {
  if (stages.length === 0) return;
  const own = new VecEnv(def, { n: 1, distribution, params: envParams });
  const shape = own.obsShape.join("×");
  stages.forEach((stage, s) => {
    const where = `${source}: ${path}[${s}]`;
    if (s > 0 && stage.until <= stages[s - 1]!.until) {
      throw new ConfigError(`${where}.until is ${stage.until}, not after the previous stage's ${stages[s - 1]!.until}`, "list the stages in order, each ending at a larger fraction of the run (0 < until < 1)");
    }
    let env: VecEnv;
    try {
      env = new VecEnv(def, { n: 1, distribution, params: { ...envParams, ...stage.envParams } });
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(`${where}.envParams: ${err.message}`, err.hint);
      throw err;
    }
    if (env.obsShape.join("×") !== shape || env.actionNames.join(",") !== own.actionNames.join(",")) {
      throw new ConfigError(
        `${where}.envParams change the observation (${env.obsShape.join("×")} vs the run's ${shape}) or the actions`,
        "a curriculum stage may change the levels but not the observation's size or the actions: keep the parameters that set the grid size (e.g. maxCells, mazeCells) as the run has them",
      );
    }
  });
}
