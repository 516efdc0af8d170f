// Output conventions shared by every command: with --json exactly one JSON object on stdout; otherwise a
// readable table. Progress and logs always go to stderr so stdout stays machine-readable.

/** Prints `result` as one JSON object on stdout. */
export function printJson(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

/** Formats rows as an aligned text table with a header row. */
export function formatTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((row) => row.map((c) => (typeof c === "number" ? formatNumber(c) : c)));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  const line = (row: readonly string[]): string =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(cells[0]!), widths.map((w) => "─".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

/** A number with up to 4 significant decimals, integers as they are. */
export function formatNumber(x: number): string {
  if (Number.isInteger(x)) return String(x);
  if (!Number.isFinite(x)) return String(x);
  const abs = Math.abs(x);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return x.toExponential(3);
  return x.toFixed(4).replace(/\.?0+$/, "");
}

/** Writes a log line to stderr. */
export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}
