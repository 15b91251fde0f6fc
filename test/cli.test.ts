/**
 * The `terra` command's contract, on the esbuild bundle users run: exit codes
 * (0 ok, 1 bad input, 2 usage), JSON shapes, diagnostics format.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageNeeds } from "../firmware-host/image";

const dir = mkdtempSync(join(tmpdir(), "terra-cli-"));
// Inside the repository, like dist/terra.mjs, so that it finds components/defs.
const bundle = join("dist", `terra-test-${process.pid}.mjs`);

beforeAll(() => {
  execFileSync("node", ["build.mjs", "--quiet"], { env: { ...process.env, TERRA_BUNDLE: bundle } });
}, 60_000);

afterAll(() => {
  rmSync(bundle, { force: true });
  rmSync(`${bundle}.map`, { force: true });
});

function terra(...args: string[]) {
  const r = spawnSync("node", [bundle, ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe("terra", () => {
  it("check: ok, or file:line:col: error[code]: message with the source line and a caret, exit 1", () => {
    expect(terra("check", "examples/counter.terra").code).toBe(0);
    const bad = file("bad.terra", '#include "TerraNet.defs"\nvar ubyte x;\nloop do\n  x = 1;\nend\n');
    const r = terra("check", bad);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${bad}:3:1: error[tight-loop]:`);
    expect(r.err).toMatch(/3 \| loop do\n\s+\| \^/);
  });

  it("check --json: {diagnostics: [{severity, code, file, line, column, message}]}", () => {
    const bad = file("bad2.terra", '#include "TerraNet.defs"\nemit NOPE(1);\n');
    const r = terra("check", bad, "--json");
    expect(r.code).toBe(1);
    const d = JSON.parse(r.out).diagnostics[0];
    expect(d).toMatchObject({ severity: "error", code: "undeclared", file: bad, line: 2, column: 6 });
    expect(typeof d.message).toBe("string");
  });

  it("compile --json reports sizes, bound and per-platform fit, and writes the capsule", () => {
    const out = join(dir, "c.cap");
    const r = terra("compile", "examples/counter.terra", "-o", out, "--json");
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out).report;
    for (const k of ["code_bytes", "data_bytes", "stack_bytes", "capsule_bytes", "blocks", "max_instructions_per_reaction"]) expect(typeof rep[k]).toBe("number");
    expect(rep.platforms.find((p: { platform: string }) => p.platform === "micaz")).toMatchObject({ fits: true });
    expect(terra("disasm", out).out).toMatch(/awaittw/);
  });

  it("compile reports whether Terra-TS's mote images load the capsule (their block, not the .defs figure)", () => {
    // 13,000 B of variables: within the 16,384 B the .defs give samr21 only
    const big = file("big.terra", '#include "TerraNet.defs"\nvar ubyte[13000] big;\nbig[3] = 1;\nawait FOREVER;\n');
    const r = terra("compile", big, "-o", join(dir, "big.cap"));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/telosb DOES NOT FIT .*samr21 fits \(13008\/16384 B\)/);
    const n = imageNeeds(readFileSync(join(dir, "big.cap")));
    expect(r.out).toContain(`Terra-TS mote images (capsule, verifier scratch or state, in the VM's block): micaz DOES NOT LOAD (${n}/3072 B); telosb DOES NOT LOAD (${n}/6144 B); samr21 loads (${n}/24576 B) (the script's state is the larger part`);
    // 170 statements, 1.7 KB of code: within MicaZ's 1,920 B by the .defs, and within its image's block
    const code = file("code.terra", `#include "TerraNet.defs"\nvar ulong v;\n${"v = v * 3 + 7;\n".repeat(170)}await FOREVER;\n`);
    const rc = terra("compile", code, "-o", join(dir, "code.cap"));
    expect(rc.out).toMatch(/ micaz fits \(\d+\/1920 B\)/);
    const nc = imageNeeds(readFileSync(join(dir, "code.cap")));
    expect(rc.out).toContain(`micaz loads (${nc}/3072 B); telosb loads (${nc}/6144 B); samr21 loads (${nc}/24576 B)`);
    // 500 statements, 5 KB of code: the verifier's scratch (a bit per code byte) is larger than the state
    const more = file("more.terra", `#include "TerraNet.defs"\nvar ulong v;\n${"v = v * 3 + 7;\n".repeat(500)}await FOREVER;\n`);
    const rm = terra("compile", more, "-o", join(dir, "more.cap"));
    const nm = imageNeeds(readFileSync(join(dir, "more.cap")));
    expect(rm.out).toContain(`micaz DOES NOT LOAD (${nm}/3072 B); telosb loads (${nm}/6144 B); samr21 loads (${nm}/24576 B) (the verifier's scratch, which grows with the code, is the larger part`);
    const small = file("small.terra", '#include "TerraNet.defs"\nvar ubyte[5000] big;\nbig[3] = 1;\nawait FOREVER;\n');
    const j = JSON.parse(terra("compile", small, "-o", join(dir, "small.cap"), "--json").out).report;
    expect(j.images.map((i: { platform: string; loads: boolean }) => [i.platform, i.loads])).toEqual([["micaz", false], ["telosb", true], ["samr21", true]]);
    const grp = file("grp.terra", '#include "TerraGrp.defs"\nawait FOREVER;\n');
    expect(terra("compile", grp, "-o", join(dir, "grp.cap")).out).toMatch(/Terra-TS mote images .*: they run TerraNet scripts only/);
  });

  it("run --json: {outputs: [{event, value, at_ms}], errors: [...]}", () => {
    const r = terra("run", "examples/counter.terra", "--inputs", "examples/counter.trace.json", "--until", "1000", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.outputs).toEqual([{ event: "LEDS", value: 1, at_ms: 500 }, { event: "LEDS", value: 2, at_ms: 1000 }]);
    expect(j.errors).toEqual([]);
  });

  it("run takes a compiled capsule too: the same outputs as its script, on both VMs; wrong files get one line each", () => {
    const cap = join(dir, "alarm.cap");
    expect(terra("compile", "examples/alarm.terra", "-o", cap).code).toBe(0);
    const args = ["--inputs", "examples/alarm.trace.json", "--until", "30000", "--json"];
    const fromScript = JSON.parse(terra("run", "examples/alarm.terra", ...args).out);
    for (const vm of ["ts", "c"]) {
      const r = terra("run", cap, ...args, "--vm", vm);
      expect(r.code, r.err).toBe(0);
      const j = JSON.parse(r.out);
      expect(j.outputs).toEqual(fromScript.outputs);
      expect(j.stats.bound).toBeNull(); // the compiler's bound is not in the capsule
    }
    // a capsule of a configuration that is not bundled (its id at byte 8 changed)
    const bytes = readFileSync(cap);
    bytes[8] ^= 0x55;
    const other = join(dir, "other.cap");
    writeFileSync(other, bytes);
    const o = terra("run", other);
    expect(o.code).toBe(1);
    expect(o.err).toMatch(/other\.cap: capsule byte 8: configuration id 0x[0-9a-f]{8} is not a bundled one \(TerraGrp\.defs 0x[0-9a-f]{8}, TerraNet\.defs 0x[0-9a-f]{8}\)/);
    // a capsule given as a script, and a binary file: one line, no dump of the bytes
    const c = terra("check", cap);
    expect(c.code).toBe(1);
    expect(c.err.trim()).toBe(`terra: script ${cap}: a binary file, not a Céu-T script (a capsule: terra run and terra disasm take capsules)`);
    const bin = join(dir, "noise.bin");
    writeFileSync(bin, Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff));
    const b = terra("compile", bin);
    expect(b.code).toBe(1);
    expect(b.err.trim()).toBe(`terra: script ${bin}: a binary file, not a Céu-T script`);
  });

  it("run --vm micaz|telosb|samr21: the mote firmware on its simulator prints what --vm ts prints, seed included; scripts it cannot run get one line each", () => {
    const args = ["--inputs", "examples/monitor.trace.json", "--until", "60000", "--seed", "7", "--node-id", "4", "--json"];
    const ts = terra("run", "examples/monitor.terra", ...args);
    expect(ts.code, ts.err).toBe(0);
    const seeded = file("seeded.terra", '#include "TerraNet.defs"\nloop i, 3 do\n  emit SET_PORT_A(random());\n  await 1s;\nend\n');
    const want = terra("run", seeded, "--seed", "99", "--json").out;
    for (const vm of ["micaz", "telosb", "samr21"]) {
      const r = terra("run", "examples/monitor.terra", ...args, "--vm", vm);
      expect(r.code, r.err).toBe(0);
      expect(r.out, vm).toBe(ts.out);
      expect(terra("run", seeded, "--seed", "99", "--json", "--vm", vm).out, vm).toBe(want);
    }
    const text = terra("run", "examples/counter.terra", "--inputs", "examples/counter.trace.json", "--vm", "micaz");
    expect(text.code).toBe(0);
    expect(text.out).toBe(terra("run", "examples/counter.terra", "--inputs", "examples/counter.trace.json").out);
    expect(text.err).toMatch(/^MicaZ \(ATmega128\) on simavr: stopped at \d+ ms: /);
    const float = file("float.terra", '#include "TerraNet.defs"\nvar float f = 1.5;\nemit LEDS(<ubyte>f);\n');
    const f = terra("run", float, "--vm", "micaz");
    expect(f.code).toBe(1);
    expect(f.err.trim()).toBe("terra: --vm micaz: the script uses float, which the micaz firmware is built without (FLOAT=0); --vm samr21, c and ts run it");
    expect(JSON.parse(terra("run", float, "--vm", "samr21", "--json").out).outputs).toEqual([{ event: "LEDS", value: 1, at_ms: 0 }]);
    const big = file("big.terra", '#include "TerraNet.defs"\nvar ubyte[2500] a;\na[1] = 3;\nemit LEDS(a[1]);\n');
    const b = terra("run", big, "--vm", "micaz");
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/^terra: --vm micaz: the capsule needs \d+ B of the VM's block .*, the micaz test build has 2304 B\n$/);
    // a trace too long for the test build's flash: one line, not the linker's output
    const echo = file("echo.terra", '#include "TerraNet.defs"\nloop do\n  var ubyte v = await CUSTOM;\n  emit LEDS(v);\nend\n');
    for (const [vm, n] of [["micaz", 4000], ["telosb", 2000]] as const) {
      const long = file(`long-${n}.json`, JSON.stringify(Array.from({ length: n }, (_, i) => ({ at_ms: i * 10, event: "CUSTOM", value: i & 255 }))));
      const l = terra("run", echo, "--inputs", long, "--vm", vm);
      expect(l.code, l.err).toBe(1);
      expect(l.err).toBe(`terra: --vm ${vm}: the capsule and its trace of ${n} entries do not fit the ${vm} test build's flash (a shorter trace helps)\n`);
    }
    const w = terra("run", "test/fixtures/c/weather.terra", "--vm", "telosb");
    expect(w.code).toBe(1);
    expect(w.err).toMatch(/the mote firmware has the components of TerraNet\.defs and TerraGrp\.defs only/);
    const stall = terra("run", "test/fixtures/c/stall.terra", "--until", "3000", "--vm", "micaz", "--max-reactions", "200");
    expect(stall.code).toBe(1);
    expect(stall.err).toBe(terra("run", "test/fixtures/c/stall.terra", "--until", "3000", "--max-reactions", "200").err);
    expect(terra("run", "examples/counter.terra", "--vm", "micaz", "--realtime").code).toBe(2);
    expect(terra("run", "examples/counter.terra", "--vm", "avr").code).toBe(2);
  }, 120_000);

  it("run --realtime: the same outputs as a virtual-time run, the last one no earlier on the wall clock than its logical time", () => {
    const args = ["run", "examples/counter.terra", "--inputs", "examples/counter.trace.json", "--until", "1000"];
    const t0 = Date.now();
    const real = terra(...args, "--realtime");
    const wall = Date.now() - t0;
    expect(real.code).toBe(0);
    expect(real.out).toBe(terra(...args).out);
    expect(real.out).toContain("1000 ms  LEDS 2");
    expect(wall).toBeGreaterThanOrEqual(1000);
    expect(terra(...args, "--realtime", "--json").code).toBe(2);
  });

  it("bad inputs: a missing file or malformed trace exit 1 with the place at fault; usage errors exit 2", () => {
    expect(terra("run", join(dir, "nope.terra")).code).toBe(1);
    const tr = file("t.json", '[\n  {"at_ms": 5, "event": "TEMP", "value": 100000}\n]\n');
    const r = terra("run", "examples/counter.terra", "--inputs", tr);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${tr}:2: field "value"`);
    expect(terra("run", "examples/counter.terra", "--until", "soon").code).toBe(2);
    expect(terra("frobnicate").code).toBe(2);
    const cap = file("x.cap", "not a capsule");
    const d = terra("disasm", cap);
    expect(d.code).toBe(1);
    expect(d.err).toContain("rejected");
  });
});
