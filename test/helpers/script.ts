/**
 * Compile a Céu-T script and run it on one mote, the way `terra run` does
 * (compiler/compile.ts + components/run.ts), for tests. Scripts may
 * #include "Test.defs" (test/fixtures/semantics) or the bundled configurations.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { compile, type CompileResult } from "../../compiler/compile";
import type { Diagnostic } from "../../compiler/diagnostics";
import { ComponentHost, type OutputRecord } from "../../components/host";
import { runMote } from "../../components/run";
import { parseTrace } from "../../components/trace";
import { runVirtual } from "../../vm/driver";
import { Vm } from "../../vm/engine";
import { loadCapsule } from "../../vm/verify";

export const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());
export const BUILTIN = resolve("components/defs");
export const FIXTURES = resolve("test/fixtures/semantics");

export function build(text: string, file = "test.terra"): CompileResult {
  return compile(file, text, {
    includeDirs: [FIXTURES],
    builtinDir: BUILTIN,
    readFile: (p) => (existsSync(p) ? readFileSync(p, "utf8") : undefined),
    sha256,
  });
}

/** Compile; throw with the diagnostics when it fails. */
export function mustBuild(text: string): CompileResult {
  const r = build(text);
  if (!r.ok) throw new Error(`compile failed:\n${r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code}: ${d.message}`).join("\n")}`);
  return r;
}

/** Errors and warnings as `line:col code` strings, for exact assertions. */
export function diagList(r: CompileResult, severity: "error" | "warning" = "error"): string[] {
  return r.diagnostics.filter((d: Diagnostic) => d.severity === severity).map((d) => `${d.line}:${d.column} ${d.code}`);
}

export interface Trace {
  at_ms: number;
  event: string;
  value?: unknown;
  aux?: number;
}

/** Run like `terra run --json`: outputs as [at_ms, event, value] triples. */
export function run(text: string, trace: Trace[] = [], until?: number) {
  const r = mustBuild(text);
  const entries = parseTrace("trace.json", JSON.stringify(trace), r.config!);
  const res = runMote(loadCapsule(r.capsule!, { sha256 }), r.config!, { trace: entries, until });
  return {
    ...res,
    out: res.outputs.map((o: OutputRecord) => [o.at_ms, o.event, o.value] as [number, string, unknown]),
    bound: r.report!.max_instructions_per_reaction,
  };
}

/**
 * Run with a bare host for the Test configuration: outputs recorded, functions
 * twice/fill/sum3 implemented; inputs given as raw occurrences.
 */
export function runBare(text: string, inputs: { at: number; event: string; aux?: number; data?: number | Uint8Array }[] = [], until = 100_000) {
  const r = mustBuild(text);
  const cfg = r.config!;
  const host = new ComponentHost(cfg);
  const out: [number, string, unknown][] = [];
  const errors: [number, number][] = [];
  host.onOutput = (o) => out.push([o.at_ms, o.event, o.value]);
  host.onError = (code) => errors.push([vm.now, code]);
  host.handleFunction("twice", (a) => a[0] * 2);
  host.handleFunction("sum3", (a) => a[0] + a[1] + a[2]);
  host.handleFunction("fill", (a) => {
    host.vm.view(a[0], 5).set([9, 1, 0, 0, 0]);
    return 0;
  });
  const vm = new Vm(loadCapsule(r.capsule!, { sha256 }), host);
  host.vm = vm;
  const timed = inputs.map((i) => {
    const ev = cfg.inputs.get(i.event)!;
    const data = i.data ?? 0;
    return { at: i.at, id: ev.anyId ?? ev.filteredId!, aux: i.aux ?? (typeof data === "number" ? data & 0xff : data[0]), data };
  });
  if (until >= 0) runVirtual(vm, timed, until + 1); // until < 0: leave the VM unbooted, for the caller to drive
  return { out, errors, vm, report: r.report!, stats: vm.stats };
}
