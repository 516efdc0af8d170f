// `mesa demo`: the whole goal-misgeneralization story on embedded defaults. Its pieces (environments, PPO)
// are still being built; until then it says plainly what it will do.
import type { Command } from "commander";
import { MesaError } from "../core/errors.js";

export function register(program: Command): void {
  program
    .command("demo")
    .description("train PPO on the train levels of points-bug, evaluate on train and deploy, show where objectives come apart")
    .option("--json", "print one JSON object with the results")
    .action(() => {
      throw new MesaError(
        "mesa demo is not built yet. When it is, it will train a PPO agent on the train levels of `points-bug` " +
          "(where collecting points and completing the level are the same policy), evaluate it on train and deploy " +
          "levels (where a glitch pays points again and again), print base reward and intended score side by side, " +
          "and draw a deployed episode.",
        "see the README's tour for what already works (mesa --help)",
      );
    });
}
