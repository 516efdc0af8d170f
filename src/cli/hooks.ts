// `mesa hooks RUN [--filter TEXT] [--json]`: the hook points of a trained run's policy with their per-sample
// activation shapes — the names every interpretability command takes with --hook.
import type { Command } from "commander";
import { formatTable, printJson } from "./output.js";
import { openInterpRun } from "./interp_run.js";

export function register(program: Command): void {
  program
    .command("hooks")
    .description("list the hook points of a trained run's policy and their activation shapes (names for --hook)")
    .argument("<run_dir>", "run directory written by mesa train")
    .option("--filter <text>", "only hook names containing this text")
    .option("--json", "print one JSON object")
    .action((runDir: string, opts: { filter?: string; json?: boolean }) => {
      const run = openInterpRun(runDir);
      const hooks = run.hooks.filter((h) => opts.filter === undefined || h.name.includes(opts.filter));
      if (opts.json) {
        printJson({ run_dir: runDir, model: run.policy.kind, checkpoint_step: run.step, hooks: hooks.map((h) => ({ name: h.name, shape: h.shape, size: h.size, spatial: h.shape.length === 3 })) });
        return;
      }
      process.stdout.write(
        `${formatTable(
          ["hook", "shape per sample", "values", "kind"],
          hooks.map((h) => [h.name, `[${h.shape.join(", ")}]`, h.size, h.shape.length === 3 ? "spatial [C, h, w]" : "vector"]),
        )}\n`,
      );
      if (hooks.length === 0) process.stdout.write(`no hook name contains "${opts.filter}" (the model has ${run.hooks.length} hook points)\n`);
    });
}
