/**
 * Differential testing of the two VMs on random programs: fast-check
 * generates well-formed Céu-T scripts with random input traces
 * (test/helpers/genprog.ts); each is compiled once and run by `terra run`'s
 * engine (components/run.ts on the TypeScript VM) and by terra-mote (the C
 * VM, all cases in one --batch process, for both dispatch builds: computed
 * goto and switch). The JSON of `terra run --json` must be identical:
 * outputs, runtime errors and statistics.
 *
 * C_RANDOM_RUNS (default 1000) sets the number of programs.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { expect, test } from "vitest";
import { runBatchC, type CJob } from "../cli/cvm";
import { runMote } from "../components/run";
import { parseTrace } from "../components/trace";
import { loadCapsule } from "../vm/verify";
import { arbCase, compileSource, type GenCase } from "./helpers/genprog";

const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());
const RUNS = Number(process.env.C_RANDOM_RUNS ?? 1000);

/** What `terra run --json` prints for a case (without stats.bound), or "THROWS: message". */
function tsRun(c: GenCase, capsule: Uint8Array, cfg: NonNullable<ReturnType<typeof compileSource>["config"]>): string {
  try {
    const trace = parseTrace("trace.json", JSON.stringify(c.trace), cfg);
    const res = runMote(loadCapsule(capsule, { sha256 }), cfg, { trace, until: c.until });
    return JSON.stringify({ outputs: res.outputs, errors: res.errors, stats: { ...res.stats, halted: res.halted, end_ms: res.end_ms } });
  } catch (e) {
    return `THROWS: ${(e as Error).message}`;
  }
}

test(`${RUNS} generated programs with random traces: the TS VM and the C VM print the same JSON`, () => {
  const cases = fc.sample(arbCase(), { numRuns: RUNS, seed: 20240611 });
  const jobs: CJob[] = [];
  const expected: string[] = [];
  for (const c of cases) {
    const r = compileSource(c.source);
    expect(r.ok, `seed ${c.seed} does not compile:\n${r.diagnostics.map((d) => d.message).join("\n")}\n${c.source}`).toBe(true);
    expected.push(tsRun(c, r.capsule!, r.config!));
    jobs.push({ capsule: r.capsule!, config: r.config!, trace: c.trace, until: c.until });
  }
  // both dispatch builds of terra-mote (computed goto, the default on the host, and switch, as on AVR and MSP430)
  const variants = [runBatchC(jobs, { variant: "goto" }), runBatchC(jobs, { variant: "switch" })];
  let floats = 0;
  let errors = 0;
  for (const got of variants) cases.forEach((c, i) => {
    const g = got[i];
    const text = "ok" in g ? JSON.stringify(g.ok) : `THROWS: ${g.error}`;
    if (expected[i].startsWith("THROWS")) {
      expect(text.startsWith("THROWS"), `seed ${c.seed}: the TS VM throws (${expected[i]}), the C VM does not`).toBe(true);
    } else {
      expect(text, `seed ${c.seed} (genCase(${c.seed}))`).toBe(expected[i]);
    }
    if (c.usesFloat) floats++;
    if (text.includes('"code":1')) errors++;
  });
  floats /= variants.length;
  errors /= variants.length;
  // the generator exercises floats and runtime errors
  expect(floats).toBeGreaterThan(RUNS / 10);
  expect(errors).toBeGreaterThan(RUNS / 20);
}, 600_000);
