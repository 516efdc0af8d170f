// `npm run bench -- [NAME ...] [--json]`: runs the named benchmarks (all when none is named).
import { MesaError } from "../src/core/errors.js";
import { cleanOwnEnvironment } from "./peer.js";
import { benchmarks } from "./registry.js";

// both sides run without the variables that pin OpenBLAS to a slower kernel: ours too, before any kernel loads
cleanOwnEnvironment();

const argv = process.argv.slice(2);
const json = argv.includes("--json");
const names = argv.filter((a) => !a.startsWith("--"));
const unknown = names.filter((n) => !(n in benchmarks));
if (unknown.length > 0) {
  process.stderr.write(`error: unknown benchmark ${unknown.join(", ")}\nhint: choose from ${Object.keys(benchmarks).join(", ")}\n`);
  process.exit(2);
}
const selected = names.length > 0 ? names : Object.keys(benchmarks);
if (json && selected.length !== 1) {
  process.stderr.write("error: --json needs exactly one benchmark name (it prints one JSON object)\n");
  process.exit(2);
}
try {
  for (const name of selected) {
    const bench = await benchmarks[name]!();
    if (!json) process.stdout.write(`\n=== ${name}: ${bench.description}\n`);
    await bench.run({ json, args: argv });
  }
} catch (err) {
  // a bad flag or config is the user's to fix: message and hint, as `mesa` prints them (other errors keep their stack)
  if (!(err instanceof MesaError)) throw err;
  process.stderr.write(`error: ${err.message}\n`);
  if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
  process.exit(err.exitCode);
}
