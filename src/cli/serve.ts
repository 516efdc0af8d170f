// `mesa serve [--runs DIR] [--port 6006] [--host 127.0.0.1]`: the dashboard — runs, live curves, episode
// replays, experiment results — over a runs folder, read-only, on this machine only unless told otherwise.
import { resolve } from "node:path";
import type { Command } from "commander";
import { startServer } from "../server/server.js";
import { parseInteger } from "./args.js";
import { log, printJson } from "./output.js";

interface ServeFlags {
  runs: string;
  port: string;
  host: string;
  json?: boolean;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

export function register(program: Command): void {
  program
    .command("serve")
    .description("open the dashboard: runs, live training curves, episode replays and experiment results (read-only)")
    .option("--runs <dir>", "the folder of run directories to show (mesa train, eval, experiment and icl write there)", "runs")
    .option("--port <n>", "port to listen on (0: any free port)", "6006")
    .option("--host <address>", "address to listen on; the default serves this machine only", "127.0.0.1")
    .option("--json", "print one JSON object with the URL once listening (logs go to stderr)")
    .action(async (flags: ServeFlags) => {
      const port = parseInteger(flags.port, "--port", { min: 0, max: 65535, example: "6006 (or 0 for any free port)" });
      const runs = resolve(flags.runs);
      const server = await startServer({ runs, port, host: flags.host });
      if (flags.json) printJson({ url: server.url, host: server.host, port: server.port, runs });
      else process.stdout.write(`mesa serve: dashboard at ${server.url}  (runs folder ${runs}; Ctrl-C stops it)\n`);
      if (!LOOPBACK.has(flags.host)) log(`warning: listening on ${flags.host}: anyone who can reach this machine can read the runs folder (read-only)`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void server.close().then(done);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
