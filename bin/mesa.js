#!/usr/bin/env node
// The `mesa` binary: runs the compiled CLI (built into dist/ by `npm install` / `npm run build`).
import { existsSync } from "node:fs";

const entry = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("error: Mesa Lab is not built (dist/ is missing)\nhint: run `npm install` (or `npm run build`) in the mesa-lab folder\n");
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
