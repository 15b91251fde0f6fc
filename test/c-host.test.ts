/**
 * terra-mote, the C VM on the host: every example and fixture script (with
 * its trace when there is one) prints the same JSON as `terra run --json`;
 * `terra run --vm c` goes through it; configurations other than the bundled
 * ones come as JSON (--config); bad traces, rejected capsules and usage
 * mistakes fail cleanly with the same exit codes as terra run.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { moteBinary, runBatchC, type CJob } from "../cli/cvm";
import { compile } from "../compiler/compile";
import { runMote } from "../components/run";
import { parseTrace, TraceError } from "../components/trace";
import { configToJson } from "../firmware-host/config-json";
import { terraScripts } from "../firmware-host/harness";
import { StallError, stallMessage } from "../vm/driver";
import { loadCapsule } from "../vm/verify";

const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());
const ROOT = resolve(import.meta.dirname ?? ".", "..");
const DEFS = join(ROOT, "components/defs");

function compileFile(file: string) {
  const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
  return compile(file, readFileSync(file, "utf8"), { includeDirs: [dirname(file), join(dirname(file), "defs")], builtinDir: DEFS, readFile: read, sha256 });
}

/** Every script of examples/ and test/fixtures/, with its trace (NAME.trace.json) when there is one. */
function scripts(): { file: string; trace?: string }[] {
  return terraScripts([join(ROOT, "examples"), join(ROOT, "test/fixtures")]).map((file) => {
    const t = file.replace(/\.terra$/, ".trace.json");
    return { file, trace: existsSync(t) ? t : undefined };
  });
}

describe("terra-mote prints what terra run --json prints", () => {
  test("every example and fixture script, with its trace, for 10 minutes of virtual time", () => {
    const jobs: CJob[] = [];
    const expected: string[] = [];
    const names: string[] = [];
    for (const s of scripts()) {
      const r = compileFile(s.file);
      if (!r.ok) continue;
      let trace: ReturnType<typeof parseTrace> = [];
      let rawTrace: unknown[] | undefined;
      if (s.trace) {
        rawTrace = JSON.parse(readFileSync(s.trace, "utf8"));
        trace = parseTrace(s.trace, readFileSync(s.trace, "utf8"), r.config!);
      }
      const until = 600_000;
      let want: string;
      try {
        const res = runMote(loadCapsule(r.capsule!, { sha256 }), r.config!, { trace, until });
        want = JSON.stringify({ outputs: res.outputs, errors: res.errors, stats: { ...res.stats, halted: res.halted, end_ms: res.end_ms } });
      } catch (e) {
        want = `THROWS ${(e as Error).message}`;
      }
      jobs.push({ capsule: r.capsule!, config: r.config!, trace: rawTrace, until });
      expected.push(want);
      names.push(basename(s.file));
    }
    expect(names.length).toBeGreaterThanOrEqual(8);
    // test/fixtures/c/stall.terra: both VMs stop the run the same way
    expect(expected[names.indexOf("stall.terra")]).toMatch(/^THROWS more than 1000000 reactions at logical time 2000 ms without the mote becoming idle/);
    for (const dispatch of ["goto", "switch"] as const) {
      const got = runBatchC(jobs, { variant: dispatch });
      got.forEach((g, i) => {
        const text = "ok" in g ? JSON.stringify(g.ok) : `THROWS ${g.error}`;
        expect(text, `${names[i]} (${dispatch})`).toBe(expected[i]);
      });
    }
  });

  test("terra run --vm c prints the same JSON as terra run (CLI)", () => {
    const ex = join(ROOT, "examples/counter.terra");
    const trace = join(ROOT, "examples/counter.trace.json");
    const run = (vm: string) => spawnSync("npx", ["tsx", "cli/main.ts", "run", ex, "--inputs", trace, "--until", "60000", "--json", "--vm", vm], { cwd: ROOT, encoding: "utf8" });
    const ts = run("ts");
    const c = run("c");
    expect(ts.status).toBe(0);
    expect(c.status).toBe(0);
    expect(c.stdout).toBe(ts.stdout);
    const text = spawnSync("npx", ["tsx", "cli/main.ts", "run", ex, "--inputs", trace, "--until", "60000", "--vm", "c"], { cwd: ROOT, encoding: "utf8" });
    expect(text.status).toBe(0);
    expect(text.stdout).toBe(spawnSync("npx", ["tsx", "cli/main.ts", "run", ex, "--inputs", trace, "--until", "60000"], { cwd: ROOT, encoding: "utf8" }).stdout);
    const bad = spawnSync("npx", ["tsx", "cli/main.ts", "run", ex, "--vm", "java"], { cwd: ROOT, encoding: "utf8" });
    expect(bad.status).toBe(2);
  }, 120_000);
  test("the limit on reactions without the mote becoming idle: same verdicts, outputs and messages on both VMs", () => {
    const file = join(ROOT, "test/fixtures/c/burst.terra");
    const traceFile = file.replace(".terra", ".trace.json");
    const r = compileFile(file);
    expect(r.ok).toBe(true);
    const text = readFileSync(traceFile, "utf8");
    const trace = parseTrace(traceFile, text, r.config!);
    const runTs = (maxReactions: number) => {
      try {
        const res = runMote(loadCapsule(r.capsule!, { sha256 }), r.config!, { trace, until: 200, maxReactions });
        return { ok: { outputs: res.outputs, errors: res.errors, stats: { ...res.stats, halted: res.halted, end_ms: res.end_ms } } };
      } catch (e) {
        expect(e).toBeInstanceOf(StallError);
        return { error: (e as Error).message, stall: true };
      }
    };
    const limits = [10, 11];
    const got = runBatchC(limits.map((maxReactions) => ({ capsule: r.capsule!, config: r.config!, trace: JSON.parse(text), until: 200, maxReactions })));
    limits.forEach((m, i) => expect(got[i], `limit ${m}`).toEqual(runTs(m)));
    // five trace inputs at 100 ms, each followed by 11 reactions: a limit of 11 passes them all
    const ok = got[1] as { ok: { outputs: { event: string; value: unknown }[] } };
    expect(ok.ok.outputs.filter((o) => o.event === "LEDS").map((o) => o.value)).toEqual([1, 2, 3, 4, 5]);
    expect(got[0]).toEqual({ error: expect.stringMatching(/^more than 10 reactions at logical time 100 ms without the mote becoming idle/), stall: true });
  });

  test("terra run stops a run whose virtual time cannot advance with a message, not a stack trace or a hang (both VMs)", () => {
    const file = join(ROOT, "test/fixtures/c/stall.terra");
    const run = (...extra: string[]) => spawnSync("npx", ["tsx", "cli/main.ts", "run", file, "--until", "5000", ...extra], { cwd: ROOT, encoding: "utf8" });
    const ts = run();
    const c = run("--vm", "c");
    const want = `terra: ${file}: more than 1000000 reactions at logical time 2000 ms without the mote becoming idle`;
    for (const p of [ts, c]) {
      expect(p.status).toBe(1);
      expect(p.stdout).toBe("");
      expect(p.stderr.startsWith(want), p.stderr).toBe(true);
      expect(p.stderr).not.toMatch(/\n\s+at /);
    }
    expect(c.stderr).toBe(ts.stderr);
    const low = run("--max-reactions", "50", "--vm", "c");
    expect(low.stderr).toContain("more than 50 reactions at logical time 2000 ms");
    expect(run("--max-reactions", "many").status).toBe(2);
  }, 120_000);
});

describe("terra-mote command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "terra-mote-"));
  const bin = moteBinary();
  const r = compileFile(join(ROOT, "examples/counter.terra"));
  const cap = join(dir, "counter.cap");
  writeFileSync(cap, r.capsule!);
  const mote = (...args: string[]) => spawnSync(bin, args, { encoding: "utf8" });

  test("a capsule of a bundled configuration runs without --config", () => {
    const p = mote(cap, "--until", "1000");
    expect(p.status).toBe(0);
    expect(Object.keys(JSON.parse(p.stdout))).toEqual(["outputs", "errors", "stats"]);
  });

  test("another configuration comes as JSON with --config (test/fixtures/c/Weather.defs)", () => {
    const file = join(ROOT, "test/fixtures/c/weather.terra");
    const v = compileFile(file);
    expect(v.ok, v.diagnostics.map((d) => d.message).join("\n")).toBe(true);
    const vcap = join(dir, "weather.cap");
    const conf = join(dir, "weather.json");
    writeFileSync(vcap, v.capsule!);
    writeFileSync(conf, JSON.stringify(configToJson(v.config!)));
    expect(mote(vcap).status).toBe(1); // its configuration is not bundled
    const traceFile = file.replace(".terra", ".trace.json");
    const p = mote(vcap, "--config", conf, "--inputs", traceFile, "--until", "12000");
    expect(p.status, p.stderr).toBe(0);
    const trace = parseTrace(traceFile, readFileSync(traceFile, "utf8"), v.config!);
    const res = runMote(loadCapsule(v.capsule!, { sha256 }), v.config!, { trace, until: 12_000 });
    expect(res.outputs.length).toBeGreaterThan(10);
    expect(p.stdout.trim()).toBe(JSON.stringify({ outputs: res.outputs, errors: res.errors, stats: { ...res.stats, halted: res.halted, end_ms: res.end_ms } }));
  });

  const badTraces: [string, string][] = [
    ["not JSON", "[{"],
    ["not an array", '{"at_ms": 1}'],
    ["unknown field", '[{"at_ms": 1, "event": "TEMP", "value": 3, "when": 2}]'],
    ["negative time", '[{"at_ms": -1, "event": "TEMP", "value": 3}]'],
    ["decreasing times", '[{"at_ms": 5, "event": "TEMP", "value": 3},\n{"at_ms": 4, "event": "TEMP", "value": 3}]'],
    ["an output event", '[{"at_ms": 1, "event": "LED0", "value": 1}]'],
    ["an unknown event", '[{"at_ms": 1, "event": "NOPE"}]'],
    ["out of range", '[{"at_ms": 1, "event": "TEMP", "value": 70000}]'],
    ["a value on a void input", '[{"at_ms": 1, "event": "Q_READY", "value": 2}]'.replace("Q_READY", "INT_A").replace('"value": 2', '"value": "x"')],
    ["aux without selector", '[{"at_ms": 1, "event": "TEMP", "value": 3, "aux": 1}]'],
    ["a bad record field", '[{"at_ms": 1, "event": "RECEIVE", "value": {"nope": 1}}]'],
    ["a record too long", `[{"at_ms": 1, "event": "RECEIVE", "value": [${new Array(30).fill(1).join(",")}]}]`],
  ];
  test.each(badTraces)("a bad trace (%s) fails with exit code 1 and the same file, line and field as terra run", (_what, text) => {
    const t = join(dir, "bad.json");
    writeFileSync(t, text);
    const p = mote(cap, "--inputs", t);
    expect(p.status).toBe(1);
    expect(p.stdout).toBe("");
    let tsMessage = "";
    try {
      parseTrace(t, text, r.config!);
    } catch (e) {
      expect(e).toBeInstanceOf(TraceError);
      const te = e as TraceError;
      tsMessage = te.message;
      // same location: file:line and the field at fault
      expect(p.stderr).toContain(`${t}:${te.line}:`);
      if (te.field) expect(p.stderr).toContain(`"${te.field}"`);
    }
    expect(tsMessage).not.toBe("");
  });

  test("rejected capsules, usage mistakes and missing files", () => {
    const broken = Uint8Array.from(r.capsule!);
    broken[broken.length - 1] ^= 0xff;
    const bcap = join(dir, "broken.cap");
    writeFileSync(bcap, broken);
    const p = mote(bcap);
    expect(p.status).toBe(1);
    expect(p.stderr).toMatch(/rejected: .*capsule byte 24: body hash mismatch/);
    expect(mote().status).toBe(2);
    expect(mote(cap, "--until", "soon").status).toBe(2);
    expect(mote(cap, "--frobnicate").status).toBe(2);
    expect(mote(join(dir, "missing.cap")).status).toBe(1);
    expect(mote(cap, "--inputs", join(dir, "missing.json")).status).toBe(1);
    const folder = mote(dir);
    expect(folder.status).toBe(1);
    expect(folder.stderr).toBe(`terra-mote: capsule ${dir}: is a directory, not a file\n`);
    expect(mote(cap, "--config", dir).stderr).toBe(`terra-mote: configuration ${dir}: is a directory, not a file\n`);
  });

  test("--batch answers a line that is not a job object with its line number, and goes on", () => {
    const jobs = join(dir, "jobs.jsonl");
    writeFileSync(jobs, `not json\n\n[1]\n${JSON.stringify({ capsule: Buffer.from(r.capsule!).toString("hex"), until: 1000 })}\n`);
    const p = mote("--batch", jobs);
    expect(p.status).toBe(0);
    const lines = p.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.slice(0, 2)).toEqual([{ error: `${jobs}:1: a job is a JSON object on one line` }, { error: `${jobs}:3: a job is a JSON object on one line` }]);
    expect(lines[2].ok.stats.end_ms).toBe(1000);
  });

  test("a bad --config names the file and the line, field or id at fault, exit code 1", () => {
    const good = configToJson(r.config!);
    const cases: [string, string, string][] = [
      ["not JSON", '{"id": 1,\n"records": [}', ":2: not valid JSON"],
      ["not an object", "[1, 2]", ": not a configuration: expected the JSON object of firmware-host/config-json.ts"],
      ["no id", JSON.stringify({ ...good, id: "x" }), ': field "id": missing or not a configuration id'],
      ["no inputs", JSON.stringify({ ...good, inputs: undefined }), ': field "inputs": missing or not an array'],
      ["another configuration", JSON.stringify({ ...good, id: 5 }), `: configuration id 0x00000005, but ${cap} was compiled for 0x${(r.config!.id >>> 0).toString(16).padStart(8, "0")}`],
    ];
    for (const [what, text, message] of cases) {
      const conf = join(dir, "bad-config.json");
      writeFileSync(conf, text);
      const p = mote(cap, "--config", conf);
      expect(p.status, what).toBe(1);
      expect(p.stdout).toBe("");
      expect(p.stderr, what).toContain(`terra-mote: ${conf}${message}`);
    }
    const conf = join(dir, "good-config.json");
    writeFileSync(conf, JSON.stringify(good));
    expect(mote(cap, "--config", conf, "--until", "1000").stdout).toBe(mote(cap, "--until", "1000").stdout);
  });

  test("a run whose virtual time cannot advance exits with code 3 and the message of terra run", () => {
    const stall = compileFile(join(ROOT, "test/fixtures/c/stall.terra"));
    const scap = join(dir, "stall.cap");
    writeFileSync(scap, stall.capsule!);
    const p = mote(scap, "--until", "5000", "--max-reactions", "100");
    expect(p.status).toBe(3);
    expect(p.stdout).toBe("");
    expect(p.stderr).toBe(`terra-mote: ${stallMessage("reactions", 100, 2000)}\n`);
    expect(mote(scap, "--max-reactions", "-3").status).toBe(2);
  });
});
