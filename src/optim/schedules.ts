// Learning-rate schedules as pure functions of the step: constant, linear (PPO's annealing to 0), cosine, with
// optional linear warmup. Use: `opt.lr = schedule(step)` before `opt.step()`.
import { ConfigError } from "../core/errors.js";

export type Schedule = (step: number) => number;

function check(name: string, totalSteps: number, warmupSteps: number): void {
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new ConfigError(`${name} schedule: totalSteps must be a positive integer, got ${totalSteps}`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0 || warmupSteps > totalSteps) {
    throw new ConfigError(`${name} schedule: warmupSteps must be an integer in [0, totalSteps], got ${warmupSteps}`);
  }
}

export function constantSchedule(lr: number): Schedule {
  return () => lr;
}

/** From `start` at step 0 to `end` at `totalSteps` (held after), after `warmupSteps` of linear warmup from 0. */
export function linearSchedule(start: number, end: number, totalSteps: number, warmupSteps = 0): Schedule {
  check("linear", totalSteps, warmupSteps);
  return (step) => {
    if (step < warmupSteps) return (start * (step + 1)) / warmupSteps;
    const frac = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return start + (end - start) * frac;
  };
}

/** Cosine from `start` to `end` over `totalSteps` (held after), after `warmupSteps` of linear warmup. */
export function cosineSchedule(start: number, end: number, totalSteps: number, warmupSteps = 0): Schedule {
  check("cosine", totalSteps, warmupSteps);
  return (step) => {
    if (step < warmupSteps) return (start * (step + 1)) / warmupSteps;
    const frac = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return end + 0.5 * (start - end) * (1 + Math.cos(Math.PI * frac));
  };
}
