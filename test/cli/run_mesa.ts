// Runs the `mesa` command line in this process (no Node start-up per call), capturing stdout and stderr, for
// tests of flags and messages. Tests that need a separate process (signals, locks held by another process) spawn
// bin/mesa.js instead.
import { main } from "../../src/cli/main.js";

export interface MesaResult {
  status: number;
  stdout: string;
  stderr: string;
}

export async function runMesa(...args: string[]): Promise<MesaResult> {
  const out: string[] = [];
  const err: string[] = [];
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  const capture = (sink: string[]) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      sink.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture(out);
  process.stderr.write = capture(err);
  let status: number;
  try {
    status = await main(["node", "mesa", ...args]);
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
  return { status, stdout: out.join(""), stderr: err.join("") };
}
