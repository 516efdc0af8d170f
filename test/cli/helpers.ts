// Runs CLI commands in-process on their own commander program, capturing stdout and stderr; a command's error
// rejects the promise (so tests can match its message and hint).
import { Command } from "commander";
import { vi } from "vitest";

export async function runCommand(registers: readonly ((program: Command) => void)[], ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const program = new Command().exitOverride();
  for (const register of registers) register(program);
  for (const sub of program.commands) sub.exitOverride();
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(args, { from: "user" });
  } finally {
    vi.restoreAllMocks();
  }
  return { stdout, stderr };
}
