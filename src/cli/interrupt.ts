// SIGINT (Ctrl-C) and SIGTERM while a command trains: the first signal asks the work to stop at its next safe
// point (the AbortSignal passed to `fn`; PPO finishes its update and writes a checkpoint), and says so; a second
// signal exits at once — the run lock's exit hook (src/io/rundir.ts) then marks the run "interrupted" and
// releases its lock, and the run resumes from its last checkpoint. Commands whose work is one synchronous loop
// (evaluation) keep Node's default: the process ends at once, having written nothing yet.
import { InterruptedError } from "../core/errors.js";
import { log } from "./output.js";

type Signal = "SIGINT" | "SIGTERM";
const SIGNAL_NUMBER: Record<Signal, number> = { SIGINT: 2, SIGTERM: 15 };

/** The signal that interrupted the last `interruptible` call, if any. */
export interface Interruption {
  readonly signal: Signal | undefined;
}

/**
 * Runs `fn` with an AbortSignal that fires on the first SIGINT/SIGTERM; `what` names the work in the message
 * ("training", "the sweep"). Handlers are removed when `fn` settles.
 */
export async function interruptible<T>(what: string, fn: (signal: AbortSignal, interruption: Interruption) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const state: { signal: Signal | undefined } = { signal: undefined };
  const handler = (signal: Signal): void => {
    if (state.signal === undefined) {
      state.signal = signal;
      log(`\n${signal}: stopping ${what} at the end of the current update and saving a checkpoint (${signal === "SIGINT" ? "Ctrl-C" : "send it"} again to stop at once)`);
      controller.abort(signal);
      return;
    }
    log(`${signal}: stopping at once; the run is marked interrupted and resumes from its last checkpoint`);
    process.exit(128 + SIGNAL_NUMBER[signal]);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  try {
    return await fn(controller.signal, state);
  } finally {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  }
}

/** The error a command throws after its work stopped on a signal: what was saved and how to continue. */
export function interruptedError(signal: Signal | undefined, message: string, hint?: string): InterruptedError {
  return new InterruptedError(`interrupted by ${signal ?? "a signal"}: ${message}`, hint, signal ?? "SIGINT");
}
