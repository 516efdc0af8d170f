// `mesa inspect FILE.safetensors [--json]`: every tensor of a checkpoint (name, dtype, shape, numel, and
// mean/std/min/max of float tensors) and its metadata — the everyday tool for looking into a checkpoint.
import type { Command } from "commander";
import { statSync } from "node:fs";
import { isFloatDtype, loadSafetensorsFile, toFloat32, type SafetensorsEntry } from "../io/safetensors.js";
import { formatNumber, formatTable, printJson } from "./output.js";

export interface TensorStats {
  name: string;
  dtype: string;
  shape: number[];
  numel: number;
  /** statistics over the finite values of float tensors (std is the population std); null otherwise */
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
  /** count of NaN and ±infinity values (float tensors) */
  nonFinite: number | null;
}

/** Summary statistics of one tensor, computed in float64 over its finite values. */
export function tensorStats(name: string, t: SafetensorsEntry): TensorStats {
  const numel = t.data.length;
  const base = { name, dtype: t.dtype, shape: t.shape, numel };
  if (!isFloatDtype(t.dtype)) return { ...base, mean: null, std: null, min: null, max: null, nonFinite: null };
  const values = t.dtype === "F64" ? (t.data as Float64Array) : toFloat32(t);
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    count++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (count === 0) return { ...base, mean: null, std: null, min: null, max: null, nonFinite: numel };
  // sums of values scaled by the largest magnitude, so float64 values near 1e308 do not overflow
  const scale = Math.max(Math.abs(min), Math.abs(max)) || 1;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) sum += v / scale;
  }
  const scaledMean = sum / count;
  let squares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) squares += (v / scale - scaledMean) ** 2;
  }
  return { ...base, mean: scaledMean * scale, std: Math.sqrt(squares / count) * scale, min, max, nonFinite: numel - count };
}

/** Compact numbers for the table: exponent form for very large or very small magnitudes. */
function formatStat(x: number | null): string {
  if (x === null) return "-";
  const abs = Math.abs(x);
  return abs !== 0 && (abs >= 1e6 || abs < 1e-3) ? x.toExponential(3) : formatNumber(x);
}

const natural = new Intl.Collator("en", { numeric: true });

export function register(program: Command): void {
  program
    .command("inspect")
    .description("list the tensors (name, dtype, shape, numel; mean/std/min/max of float tensors) and metadata of a .safetensors file")
    .argument("<file>", "a .safetensors file (e.g. runs/<run>/checkpoints/step-N.safetensors)")
    .option("--json", "print one JSON object")
    .action((file: string, options: { json?: boolean }) => {
      const { tensors, metadata } = loadSafetensorsFile(file);
      const stats = [...tensors.entries()]
        .sort(([a], [b]) => natural.compare(a, b))
        .map(([name, t]) => tensorStats(name, t));
      const totalNumel = stats.reduce((a, s) => a + s.numel, 0);
      if (options.json) {
        printJson({ file, bytes: statSync(file).size, tensorCount: stats.length, totalNumel, metadata, tensors: stats });
        return;
      }
      const rows = stats.map((s) => [
        s.name, s.dtype, `[${s.shape.join(", ")}]`, s.numel, formatStat(s.mean), formatStat(s.std), formatStat(s.min), formatStat(s.max),
        s.nonFinite ? String(s.nonFinite) : "",
      ]);
      const lines = [
        `${file}: ${stats.length} tensor${stats.length === 1 ? "" : "s"}, ${totalNumel} values, ${statSync(file).size} bytes`,
        "",
        formatTable(["tensor", "dtype", "shape", "numel", "mean", "std", "min", "max", "nan/inf"], rows),
      ];
      const keys = Object.keys(metadata).sort();
      lines.push("", keys.length === 0 ? "metadata: (none)" : "metadata:");
      for (const k of keys) {
        const v = metadata[k]!;
        lines.push(`  ${k}: ${v.length > 100 ? `${v.slice(0, 97)}...` : v}`);
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
