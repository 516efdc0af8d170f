// Builds everything a fresh checkout needs: WebAssembly kernels from assembly/ (AssemblyScript, no system
// toolchain) into dist/wasm/, then TypeScript into dist/. Runs from `prepare`, so `npm install` builds.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
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

// 1. WebAssembly: each top-level assembly/*.ts is one module (helpers live in assembly/lib/). A source with
// lines marked `// relaxed-simd: REPLACEMENT` is also built as NAME.relaxed.wasm with each marked line replaced
// (fused multiply-add and friends), which the host loads where the runtime has relaxed SIMD.
const asmDir = join(root, "assembly");
const wasmOut = join(root, "dist", "wasm");
mkdirSync(wasmOut, { recursive: true });
const asmSources = existsSync(asmDir) ? readdirSync(asmDir).filter((f) => f.endsWith(".ts") && !f.startsWith(".")) : [];
const asmNewest = existsSync(asmDir) ? newestMtime(asmDir) : 0;
const ascFlags = ["--optimizeLevel", "3", "--shrinkLevel", "0", "--noAssert", "--enable", "simd", "--enable", "threads",
  "--runtime", "stub", "--importMemory", "--sharedMemory", "--initialMemory", "1", "--maximumMemory", "65536", "--converge"];
const RELAXED_MARK = /^(\s*).*\/\/ relaxed-simd: (.*)$/gm;
for (const file of asmSources) {
  const source = join(asmDir, file);
  const out = join(wasmOut, file.replace(/\.ts$/, ".wasm"));
  const text = readFileSync(source, "utf8");
  const relaxed = RELAXED_MARK.test(text);
  RELAXED_MARK.lastIndex = 0;
  const relaxedOut = out.replace(/\.wasm$/, ".relaxed.wasm");
  const fresh = (path) => existsSync(path) && statSync(path).mtimeMs >= asmNewest;
  if (fresh(out) && (!relaxed || fresh(relaxedOut))) continue;
  log(`asc ${file}`);
  execFileSync(bin("asc"), [source, "--outFile", out, ...ascFlags], { stdio: "inherit", cwd: root });
  if (relaxed) {
    // compiled from a sibling file so relative imports of assembly/lib/ keep working
    const variant = join(asmDir, `.${file.replace(/\.ts$/, "")}.relaxed.tmp.ts`);
    writeFileSync(variant, text.replace(RELAXED_MARK, (_, indent, replacement) => `${indent}${replacement}`));
    try {
      log(`asc ${file} (relaxed SIMD)`);
      execFileSync(bin("asc"), [variant, "--outFile", relaxedOut, ...ascFlags, "--enable", "relaxed-simd"], { stdio: "inherit", cwd: root });
    } finally {
      rmSync(variant, { force: true });
    }
  }
}

// 2. TypeScript.
if (wasmOnly) process.exit(0);
log("tsc");
execFileSync(bin("tsc"), ["-p", join(root, "tsconfig.json")], { stdio: "inherit", cwd: root });
