// Builds everything a fresh checkout needs: WebAssembly kernels from assembly/ (AssemblyScript, no system
// toolchain) into dist/wasm/, TypeScript into dist/, and the dashboard (web/, Vite) into dist/web/. Runs from
// `prepare`, so `npm install` builds.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quiet = process.argv.includes("--quiet");
// --wasm-only: rebuild the kernels and stop (kernel work while the TypeScript tree is mid-edit elsewhere)
const wasmOnly = process.argv.includes("--wasm-only");
const log = (msg) => { if (!quiet) process.stderr.write(`[build] ${msg}\n`); };

function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const s = statSync(path);
    newest = Math.max(newest, s.isDirectory() ? newestMtime(path) : s.mtimeMs);
  }
  return newest;
}

function bin(name) {
  return join(root, "node_modules", ".bin", name);
}

// 1. WebAssembly: each top-level assembly/*.ts is one module (helpers live in assembly/lib/).
const asmDir = join(root, "assembly");
const wasmOut = join(root, "dist", "wasm");
mkdirSync(wasmOut, { recursive: true });
const asmSources = existsSync(asmDir) ? readdirSync(asmDir).filter((f) => f.endsWith(".ts") && f !== "tsconfig.json") : [];
const asmNewest = existsSync(asmDir) ? newestMtime(asmDir) : 0;
for (const file of asmSources) {
  const out = join(wasmOut, file.replace(/\.ts$/, ".wasm"));
  if (existsSync(out) && statSync(out).mtimeMs >= asmNewest) continue;
  log(`asc ${file}`);
  execFileSync(
    bin("asc"),
    [join(asmDir, file), "--outFile", out, "--optimizeLevel", "3", "--shrinkLevel", "0", "--noAssert",
      "--enable", "simd", "--enable", "threads", "--runtime", "stub", "--importMemory", "--sharedMemory",
      "--initialMemory", "1", "--maximumMemory", "65536", "--converge"],
    { stdio: "inherit", cwd: root },
  );
}

// 2. TypeScript.
if (wasmOnly) process.exit(0);
log("tsc");
execFileSync(bin("tsc"), ["-p", join(root, "tsconfig.json")], { stdio: "inherit", cwd: root });

// 3. The dashboard (`mesa serve`): type-check web/ and bundle it with Vite into dist/web/, only when web/ or the
// API types it shares with the server changed since the last build.
const webDir = join(root, "web");
const webOut = join(root, "dist", "web", "index.html");
const webNewest = Math.max(newestMtime(webDir), statSync(join(root, "src", "server", "types.ts")).mtimeMs);
if (!existsSync(webOut) || statSync(webOut).mtimeMs < webNewest) {
  if (!existsSync(bin("vite"))) {
    process.stderr.write("[build] error: the dashboard needs Vite to build (a dev dependency); run `npm install` without --omit=dev\n");
    process.exit(1);
  }
  log("dashboard: tsc (web) + vite build");
  execFileSync(bin("tsc"), ["-p", join(webDir, "tsconfig.json")], { stdio: "inherit", cwd: root });
  execFileSync(bin("vite"), ["build", "--config", join(webDir, "vite.config.mjs")], { stdio: "inherit", cwd: root });
}
