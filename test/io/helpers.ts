// Shared by the io tests.
import type { MesaError } from "../../src/core/errors.js";

/** The error `fn` throws (typed as mesa's, whose message and hint the tests read); fails the test if none. */
export function thrown(fn: () => unknown): MesaError {
  try {
    fn();
  } catch (err) {
    return err as MesaError;
  }
  throw new Error("expected an error");
}
