/**
 * `terra bench [target] [--json] [--quick]`: runs benchmarks of bench/,
 * prints their tables and writes bench/results/<target>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import "../bench/index";
import { benchTargets, machine } from "../bench/registry";
import { UsageError } from "./util";

export function registerBench(program: Command): void {
  program.command("bench")
    .description(`run benchmarks and save bench/results/<target>.json (targets: all, ${benchTargets().map((t) => t.name).join(", ")})`)
    .argument("[target]", "benchmark to run", "all")
    .option("--json", "print the results as one JSON object")
    .option("--quick", "shorter runs (smoke test)")
    .option("--out <dir>", "directory for result files", "bench/results")
    .action(async (target: string, opts: { json?: boolean; quick?: boolean; out: string }) => {
      const all = benchTargets();
      const chosen = target === "all" ? all : all.filter((t) => t.name === target);
      if (!chosen.length) throw new UsageError(`unknown benchmark "${target}" (targets: all, ${all.map((t) => t.name).join(", ")})`);
      const results: Record<string, unknown> = {};
      const m = await machine();
      for (const t of chosen) {
        if (!opts.json) process.stderr.write(`== ${t.name}: ${t.description}\n`);
        const out = await t.run({ quick: !!opts.quick });
        const full = { ...out.result, machine: m, date: new Date().toISOString() };
        results[t.name] = full;
        mkdirSync(resolve(opts.out), { recursive: true });
        writeFileSync(resolve(opts.out, `${t.name}.json`), `${JSON.stringify(full, null, 2)}\n`);
        if (!opts.json) process.stdout.write(`${out.table}\n\n`);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(chosen.length === 1 ? results[chosen[0].name] : results, null, 2)}\n`);
    });
}
