// A runs folder for the dashboard tests, made the way a user makes one: a tiny `mesa train` run, `mesa eval`
// recordings on train and deploy levels, a tiny `mesa experiment misgeneralization`, a tiny `mesa icl` and a
// `mesa validate --json` report —
// plus a folder of results in formats no view knows (a table and a matrix), to check they are shown anyway.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../bin/mesa.js", import.meta.url));

function mesa(cwd: string, ...args: string[]): string {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd });
  if (r.status !== 0) throw new Error(`mesa ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export interface Fixture {
  /** a temporary folder; `runs` lies inside it, so tests can put things beside (outside) the runs folder */
  base: string;
  /** the runs folder */
  runs: string;
  /** id (relative path) of the trained points-bug run */
  trainRun: string;
  /** id of the icl run */
  iclRun: string;
  /** id of the experiment's results folder */
  experiment: string;
  /** id of the folder holding `mesa validate --json`'s report */
  validity: string;
}

export function buildFixture(prefix: string): Fixture {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const runs = join(base, "runs");
  const train = JSON.parse(mesa(base, "train", "--env", "points-bug", "--steps", "8192", "--num-envs", "8", "--seed", "1", "--out", "runs", "--json")) as { run_dir: string };
  const trainRun = train.run_dir.replace(/^runs\//, "");
  mesa(base, "eval", train.run_dir, "--distribution", "train", "--episodes", "20", "--record", "2", "--json");
  mesa(base, "eval", train.run_dir, "--distribution", "deploy", "--episodes", "20", "--record", "2", "--json");
  mesa(base, "experiment", "misgeneralization", "--env", "points-bug", "--vary", "coins=1,2", "--seeds", "2", "--steps", "2048", "--episodes", "10", "--out", "runs/experiment-misgeneralization", "--json");
  mesa(base, "icl", "--steps", "40", "--batch", "32", "--runs", "runs", "--json");
  const iclRun = readdirSync(runs).find((n) => n.startsWith("icl-"))!;
  // `mesa validate --json` saved into the runs folder (it exits 1 when a check fails, after printing the report)
  const validity = spawnSync(process.execPath, [bin, "validate", "coin-run", "--episodes", "100", "--json"], { encoding: "utf8", cwd: base });
  if (!validity.stdout.trim().startsWith("{")) throw new Error(`mesa validate printed no report (${validity.status}): ${validity.stderr}`);
  mkdirSync(join(runs, "validity"));
  writeFileSync(join(runs, "validity", "validity.json"), validity.stdout);
  // results of a kind the dashboard has no special view for: it must still show the table and the matrix
  mkdirSync(join(runs, "probe-study"), { recursive: true });
  writeFileSync(
    join(runs, "probe-study", "probe_accuracy.json"),
    JSON.stringify({
      layers: [
        { layer: "blocks.0.hook_resid_post", accuracy: 0.91, auroc: 0.97 },
        { layer: "blocks.1.hook_resid_post", accuracy: 0.64, auroc: 0.7 },
      ],
      patching_effect: [
        [0.1, -0.4, 0.8],
        [0.0, 0.5, -0.9],
        [0.3, 0.2, 0.1],
      ],
    }),
  );
  return { base, runs, trainRun, iclRun, experiment: "experiment-misgeneralization", validity: "validity" };
}
