/**
 * `terra bench fuzz`: libFuzzer (with AddressSanitizer and
 * UndefinedBehaviorSanitizer) over the C VM's capsule loader and engine
 * (firmware-host/fuzz/fuzz_capsule.c) for TERRA_FUZZ_SECONDS seconds
 * (default 60, 15 with --quick), from a seed corpus of real capsules: the
 * examples, the fixture scripts and the firmware's apps (test/c-fuzz.test.ts
 * replays generated programs and their mutants). Inputs that crash go
 * to firmware-host/build/fuzz/crashes; copy them to test/fixtures/c/crashes
 * once the bug is fixed (test/c-fuzz.test.ts replays them).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { builtinDefsDir, sha256 } from "../cli/util";
import { compile } from "../compiler/compile";
import { FIRMWARE_DIR, make, terraScripts } from "../firmware-host/harness";
import { registerBench, table } from "./registry";

function seedCorpus(dir: string): number {
  mkdirSync(dir, { recursive: true });
  let n = 0;
  const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
  for (const p of terraScripts([resolve("examples"), resolve("test/fixtures"), join(FIRMWARE_DIR, "apps")])) {
    const r = compile(p, readFileSync(p, "utf8"), { includeDirs: [dirname(p)], builtinDir: builtinDefsDir(), readFile: read, sha256 });
    if (r.ok) writeFileSync(join(dir, `${basename(p)}.cap`), r.capsule!), n++;
  }
  return n;
}

registerBench({
  name: "fuzz",
  description: "libFuzzer + ASan + UBSan over the C VM's loader and engine (TERRA_FUZZ_SECONDS, default 60)",
  run({ quick }) {
    const seconds = Number(process.env.TERRA_FUZZ_SECONDS ?? (quick ? 15 : 60));
    make("host", ["fuzz"]);
    const base = join(FIRMWARE_DIR, "build/fuzz");
    const corpus = join(base, "corpus");
    const crashes = join(base, "crashes");
    mkdirSync(crashes, { recursive: true });
    const seeds = seedCorpus(join(base, "seeds"));
    mkdirSync(corpus, { recursive: true });
    // artifacts of earlier runs stay in the directory: report only this run's
    const earlier = new Set(readdirSync(crashes));
    const t0 = Date.now();
    const r = spawnSync(join(FIRMWARE_DIR, "build/host/fuzz_capsule"), [
      `-max_total_time=${seconds}`, "-print_final_stats=1", `-artifact_prefix=${crashes}/`, "-timeout=10", "-rss_limit_mb=2048", corpus, join(base, "seeds"),
    ], { encoding: "utf8", maxBuffer: 1 << 28, env: { ...process.env, ASAN_OPTIONS: "detect_leaks=0" } });
    const wall = (Date.now() - t0) / 1000;
    const stat = (k: string) => Number(new RegExp(`stat::${k}:\\s+(\\d+)`).exec(r.stderr)?.[1] ?? NaN);
    const found = readdirSync(crashes).filter((f) => /^(crash|leak|timeout|oom)-/.test(f) && !earlier.has(f));
    const cov = /cov: (\d+) ft: (\d+)/g;
    let last: RegExpExecArray | null = null;
    for (let m = cov.exec(r.stderr); m; m = cov.exec(r.stderr)) last = m;
    const result = {
      seconds, wall_seconds: Number(wall.toFixed(1)), seed_capsules: seeds,
      executions: stat("number_of_executed_units"), executions_per_second: stat("average_exec_per_sec"),
      corpus_units: readdirSync(corpus).length, coverage_edges: last ? Number(last[1]) : null, features: last ? Number(last[2]) : null,
      crashes: found, exit_status: r.status, sanitizer_report: /ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer)|runtime error:/.test(r.stderr),
    };
    return {
      result,
      table: table(["measure", "value"], [
        ["fuzzing time (s)", seconds],
        ["executions", result.executions],
        ["executions/s", result.executions_per_second],
        ["corpus units", result.corpus_units],
        ["coverage (edges)", String(result.coverage_edges)],
        ["crashes / sanitizer reports", `${found.length} / ${result.sanitizer_report ? "yes" : "none"}`],
      ]),
    };
  },
});
