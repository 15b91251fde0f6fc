/**
 * Benchmark registry: every benchmark is a module of bench/ that registers a
 * target here; `terra bench <target>` runs it, prints a table and saves
 * bench/results/<target>.json (one JSON object, also printed with --json).
 */

/** What a benchmark returns: a JSON-able result and the table to print. */
export interface BenchOutput {
  result: Record<string, unknown>;
  table: string;
}

export interface BenchTarget {
  name: string;
  description: string;
  run(opts: { quick: boolean }): Promise<BenchOutput> | BenchOutput;
}

const targets = new Map<string, BenchTarget>();

export function registerBench(t: BenchTarget): void {
  targets.set(t.name, t);
}

export function benchTargets(): BenchTarget[] {
  return [...targets.values()];
}

/** Machine description for result files (figures are only comparable on the same machine). */
export async function machine(): Promise<Record<string, unknown>> {
  const os = await import("node:os");
  return { cpu: os.cpus()[0]?.model ?? "unknown", cores: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.arch()}` };
}

/** Format rows as an aligned text table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const w = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r, k) => r.map((c, i) => (k > 0 && /^[-\d.,%x× ]+$/.test(c) ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ").trimEnd())
    .flatMap((line, k) => (k === 0 ? [line, w.map((x) => "-".repeat(x)).join("  ")] : [line])).join("\n");
}
