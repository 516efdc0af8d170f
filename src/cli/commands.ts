// The registry of CLI commands: one file per command under src/cli/, one line here to register it.
import type { Command } from "commander";
import { register as demo } from "./demo.js";
import { register as inspect } from "./inspect.js";

export const commands: readonly ((program: Command) => void)[] = [
  demo,
  inspect,
];
