// Typed errors a user can act on: each carries a message (what is wrong) and a hint (how to fix it).
// The CLI prints both and exits with `exitCode`; no stack trace unless --debug.

export class MesaError extends Error {
  /** process exit code the CLI uses: 2 for usage/config errors, 1 for failures */
  readonly exitCode: number = 1;
  /** one line on how to fix it, printed under the message */
  readonly hint: string | undefined;

  constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** A bad command line: unknown flag, missing argument, value out of range. */
export class UsageError extends MesaError {
  override readonly exitCode = 2;
}

/** A config or spec that fails validation; the message lists every problem with its path. */
export class ConfigError extends MesaError {
  override readonly exitCode = 2;
}

/** A checkpoint or tensor file that cannot be read or written (malformed safetensors, missing tensor…). */
export class CheckpointError extends MesaError {}

/** A run directory that is missing, half-written or corrupt; the message names the file. */
export class RunDirError extends MesaError {}

/** Tensor shapes that do not fit an op; the message names the op and both shapes. */
export class ShapeError extends MesaError {}

/** Training diverged (NaN/inf in loss or weights). */
export class DivergenceError extends MesaError {}

/** An autograd misuse: backward on a tensor that does not require grad, or on a non-scalar without a gradient. */
export class AutogradError extends MesaError {}

/** A tensor of the wrong element type (e.g. float values where integer indices are expected). */
export class DTypeError extends MesaError {}

/** A NaN or infinity produced by an op while MESA_DEBUG_NAN=1; the message names the op. */
export class NonFiniteError extends MesaError {}

/** A hook name that matches no hook point, or a hook that returns an activation of the wrong shape. */
export class HookError extends MesaError {}

/** A file or folder that cannot be written or read: read-only filesystem, no permission, a folder where a file is expected. */
export class IoError extends MesaError {}

/** A run directory that another live process is writing (train, resume, demo…); the message names the holder. */
export class RunLockedError extends RunDirError {}

/** Work stopped by SIGINT/SIGTERM; exits with 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM). */
export class InterruptedError extends MesaError {
  override readonly exitCode: number;

  constructor(message: string, hint: string | undefined, signal: "SIGINT" | "SIGTERM") {
    super(message, hint);
    this.exitCode = signal === "SIGTERM" ? 143 : 130;
  }
}
