/**
 * The C VM on simulated motes: the examples, the fixture scripts and a
 * subset of generated programs, compiled into the flash of a test build
 * (firmware-host/comp/suite.c, virtual time, standalone components), run on
 *   MicaZ   (ATmega128, simavr through firmware-host/build/micaz/simrun),
 *   SAMR21  (Cortex-M0+ build, qemu-system-arm -M microbit, semihosting),
 *   TelosB  (MSP430F1611, mspdebug's simulator),
 * print the same outputs, errors and statistics as `terra run --json`. Also:
 * every platform's firmware image builds; the MicaZ image runs in real time
 * (its blink script reports over the simulated radio every 10 s); on MicaZ
 * and TelosB in real time, a chain of input reactions sees the clock advance
 * and a timer end it on time; a MicaZ image refuses a capsule of another
 * configuration or one too big for its block.
 *
 * The simulators are part of CI (.ci/run installs them): a missing tool is a
 * failure, not a skip. C_SIM_RUNS sets the number of generated programs per
 * platform (default 30; the cases are split into as many test builds as the flash needs), C_SIM_SEED their
 * seed (default 1234); a program the test build's block cannot take must be
 * refused at load.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { compile } from "../compiler/compile";
import { parseTrace } from "../components/trace";
import { builtinConfig } from "../firmware-host/config-json";
import { buildSuite, decodeSuiteReport, expectedJson, FIRMWARE_DIR, make, missingTools, type MotePlatform, rejectReasons, runImage, SUITE_BLOCK_BYTES, SUITE_FLOAT, type SuiteCase, suiteChunks, terraScripts } from "../firmware-host/harness";
import { imageNeeds } from "../firmware-host/image";
import { arbCase, compileSource } from "./helpers/genprog";

const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());
const ROOT = resolve(import.meta.dirname ?? ".", "..");
const RUNS = Number(process.env.C_SIM_RUNS ?? 30);
const SEED = Number(process.env.C_SIM_SEED ?? 1234);
const NET = builtinConfig("TerraNet.defs").id;
const GRP = builtinConfig("TerraGrp.defs").id;

/** An image of a script of one's own (make app) in `dir`, with the make variables `vars`: its path. */
function appImage(platform: MotePlatform, dir: string, name: string, source: string, vars: Record<string, string> = {}): string {
  const r = compileSource(source);
  expect(r.ok).toBe(true);
  const cap = join(dir, `${name}.cap`);
  writeFileSync(cap, r.capsule!);
  make(platform, ["app"], { APP_CAP: cap, OUT: dir, NAME: name, ...vars });
  return join(dir, `${name}.elf`);
}

function scriptCases(): SuiteCase[] {
  const out: SuiteCase[] = [];
  const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
  const files = terraScripts([join(ROOT, "examples"), join(ROOT, "test/fixtures")]);
  files.push(join(FIRMWARE_DIR, "apps/blink.terra"));
  for (const f of files) {
    const r = compile(f, readFileSync(f, "utf8"), { includeDirs: [dirname(f)], builtinDir: join(ROOT, "components/defs"), readFile: read, sha256 });
    if (!r.ok || (r.config!.id !== NET && r.config!.id !== GRP)) continue;
    const t = f.replace(/\.terra$/, ".trace.json");
    const trace = existsSync(t) ? parseTrace(t, readFileSync(t, "utf8"), r.config!) : [];
    // a run that stalls (test/fixtures/c/stall.terra) stops after 1,000 reactions, not a million: the simulated MCUs are slow
    out.push({ name: f.slice(ROOT.length + 1), capsule: r.capsule!, config: r.config!, trace, until: 120_000, maxReactions: 1000 });
  }
  return out;
}

/** random() from a seed (terra run --seed), and from the node id without one: four bytes of each on SET_PORT_A. */
function seedCases(): SuiteCase[] {
  const r = compileSource(`#include "TerraNet.defs"\nloop i, 4 do\n  emit SET_PORT_A(random());\n  await 1s;\nend\n`);
  expect(r.ok).toBe(true);
  return [12345, undefined].map((seed) => ({ name: `random() seed ${seed}`, capsule: r.capsule!, config: r.config!, trace: [], until: 5000, nodeId: 3, seed }));
}

function generatedCases(float: boolean, n: number, seed: number): SuiteCase[] {
  return fc.sample(arbCase({ float }), { numRuns: n, seed }).map((c) => {
    const r = compileSource(c.source);
    // half of them with an explicit seed of random() (terra run --seed), the others seeded by the node id
    return { name: `genCase(${c.seed})`, capsule: r.capsule!, config: r.config!, trace: parseTrace("trace.json", JSON.stringify(c.trace), r.config!), until: c.until,
      seed: c.seed & 1 ? c.seed >>> 0 : undefined };
  });
}

describe.each(["micaz", "samr21", "telosb"] as const)("%s", (platform) => {
  test("the simulator and the cross tools are installed", () => {
    expect(missingTools(platform), "install the packages of shared/design/TOOLCHAINS.md (.ci/run does)").toEqual([]);
  });

  test("the firmware image and the core build", () => {
    make(platform, ["all"]);
    expect(existsSync(join(FIRMWARE_DIR, "build", platform, `terra-${platform}.elf`))).toBe(true);
  }, 300_000);

  test(`examples, fixtures and ${RUNS} generated programs print what terra run prints`, () => {
    const cases = [...scriptCases(), ...seedCases(), ...generatedCases(SUITE_FLOAT[platform], RUNS, SEED)]
      .filter((c) => SUITE_FLOAT[platform] || (c.capsule[3] & 1) === 0);
    expect(cases.length).toBeGreaterThan(RUNS);
    // one test build per chunk of cases that fits the flash
    const got = suiteChunks(cases).flatMap((chunk, k) => {
      const out = runImage(platform, buildSuite(platform, chunk, GRP, join(FIRMWARE_DIR, "build", "test", platform, String(k))));
      expect(out.stdout).toContain("\nZ");
      return decodeSuiteReport(out.stdout, chunk);
    });
    cases.forEach((c, i) => {
      // a capsule the test build's block cannot take is refused at load (TVM_E_MEMORY, offset 0)
      if (imageNeeds(c.capsule) > SUITE_BLOCK_BYTES[platform]) return expect(got[i], c.name).toBe("THROWS: reject 0");
      const want = expectedJson(c, sha256);
      // a stall's message is exact (test/fixtures/c/stall.terra); other failures only print their kind
      if (want.startsWith("THROWS") && !want.startsWith("THROWS: more than")) expect(got[i].startsWith("THROWS"), c.name).toBe(true);
      else expect(got[i], c.name).toBe(want);
    });
  }, 600_000);
});

test("MicaZ in real time: the default image blinks and reports every 10 s (simavr, 31 s)", () => {
  make("micaz", ["all"]);
  const out = runImage("micaz", join(FIRMWARE_DIR, "build/micaz/terra-micaz.elf"), { maxCycles: 7_372_800 * 31, leds: true });
  // LED0 toggles every 500 ms (simrun -l: "leds VALUE MS" at each change of PA0..PA2): off at reset, on
  // in the boot reaction (after the capsule's load, about 10 ms), then every 500 ms of the clock
  const leds = [...out.stderr.matchAll(/^leds (\d+) (\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
  expect(leds.length).toBeGreaterThan(60);
  for (let k = 3; k < leds.length; k++) {
    expect(leds[k][0], `change ${k}`).toBe(leds[k - 1][0] ^ 1);
    expect(Math.abs(leds[k][1] - leds[k - 1][1] - 500), `change ${k}`).toBeLessThanOrEqual(1);
  }
  const frames = out.stdout.split("\n").filter((l) => l.startsWith("R "));
  expect(frames.length).toBe(3);
  // the third frame counts 3 readings of the simulated temperature sensor
  expect(Buffer.from(frames[2].slice(2).trim(), "hex").readUInt32LE(7)).toBe(3);
  // the mote slept most of the time
  const end = /end \w+ (\d+) (\d+)/.exec(out.stderr)!;
  expect(Number(end[2]) / Number(end[1])).toBeLessThan(0.2);
}, 300_000);

test.each(["micaz", "telosb"] as const)("%s in real time: a chain of input reactions goes on at each clock tick with the clock's time, and a timer due ends it on time", (platform) => {
  // a CPU-bound loop (REQ_CUSTOM answered at once) never leaves the chain of input reactions; getTime()
  // must still step by at most 1 ms between iterations, and the 2 s timer must interrupt it at 2,000 ms
  // (mspdebug does not advance a sleeping CPU's timers: BOARD_SKIP_SLEEP, as the bench's TelosB images)
  const elf = appImage(platform, mkdtempSync(join(tmpdir(), "terra-app-")), "gap", `#include "TerraNet.defs"
pktype gapMsg from radioMsg with
  var ulong gap;
  var ulong n;
end
var gapMsg msg;
var ulong last = 0;
var ulong gap = 0;
var ulong n = 0;
msg.type = 1;
par/or do
  loop do
    emit REQ_CUSTOM();
    await CUSTOM;
    var ulong t = getTime();
    if n > 0 then
      if t - last > gap then
        gap = t - last;
      end
    end
    last = t;
    inc n;
  end
with
  await 2s;
end
msg.gap = gap;
msg.n = n;
emit SEND(msg);
await FOREVER;
`, { APP_DEFS: "-DRT_FRAME_TIME -DRT_STOP_MS=2100 -DBOARD_SKIP_SLEEP" });
  const out = runImage(platform, elf).stdout;
  const m = /^R ([0-9a-f]+) @(\d+)$/m.exec(out)!;
  expect(Number(m[2])).toBe(2000);
  const frame = Buffer.from(m[1], "hex");
  expect(frame.readUInt32LE(5)).toBe(1); // the largest step of getTime() between two iterations, ms
  expect(frame.readUInt32LE(9)).toBeGreaterThan(1000); // iterations in 2 s: the chain ran all along
}, 300_000);

test("SAMR21 image for qemu's micro:bit (QEMU=1, what bench c counts ARM instructions on): a script of one's own runs and sends its frame", () => {
  const elf = appImage("samr21", mkdtempSync(join(tmpdir(), "terra-app-")), "val", `#include "TerraNet.defs"
pktype valMsg from radioMsg with
  var ulong v;
end
var valMsg msg;
msg.type = 1;
var ulong acc = 1;
loop i, 100 do
  acc = acc * 3 + i;
end
msg.v = acc;
emit SEND(msg);
await FOREVER;
`, { QEMU: "1", APP_DEFS: "-DRT_STOP_MS=0 -DRT_FROZEN" });
  const out = runImage("samr21", elf, { timeoutMs: 60_000 }).stdout;
  const m = /^R ([0-9a-f]+)/m.exec(out);
  expect(m, out).not.toBeNull();
  let acc = 1;
  for (let i = 0; i < 100; i++) acc = (acc * 3 + i) >>> 0;
  expect(Buffer.from(m![1], "hex").readUInt32LE(5)).toBe(acc);
}, 300_000);

test("MicaZ image with NODE_ID=12 (TinyOS's install,12): the script's getNodeId() is 12; a NODE_ID out of range is a make error", () => {
  const dir = mkdtempSync(join(tmpdir(), "terra-app-"));
  const source = `#include "TerraNet.defs"
pktype idMsg from radioMsg with
  var ushort id;
end
var idMsg msg;
msg.type = 3;
msg.id = getNodeId();
emit SEND(msg);
await FOREVER;
`;
  expect(() => appImage("micaz", dir, "nid", source, { NODE_ID: "70000" })).toThrow(/NODE_ID=70000: use a number 0\.\.65535/);
  expect(() => appImage("micaz", dir, "nid", source, { NODE_ID: "x1" })).toThrow(/NODE_ID=x1: use a number 0\.\.65535/);
  const out = runImage("micaz", appImage("micaz", dir, "nid", source, { NODE_ID: "12" }), { maxCycles: 7_372_800 }).stdout;
  const m = /^R ([0-9a-f]+)$/m.exec(out);
  expect(m, out).not.toBeNull();
  expect(Buffer.from(m![1], "hex").readUInt16LE(5)).toBe(12);
}, 300_000);

test("MicaZ image: a capsule of another configuration or one too big for the VM's block is refused by make app, and at boot, with the reason", () => {
  const dir = mkdtempSync(join(tmpdir(), "terra-app-"));
  // make app's check (appcheck.ts), one line each
  expect(() => appImage("micaz", dir, "grp", '#include "TerraGrp.defs"\nemit LEDS(1);\nawait FOREVER;\n'))
    .toThrow(/APP_CAP=\S+grp\.cap: capsule byte 8: configuration id 0x[0-9a-f]{8}, the images run TerraNet\.defs scripts/);
  expect(() => appImage("micaz", dir, "big", '#include "TerraNet.defs"\nvar ubyte[3100] big;\nbig[3] = 1;\nawait FOREVER;\n'))
    .toThrow(/APP_CAP=\S+big\.cap: needs \d+ B of the VM's block .*, the image has 3072 B/);
  // without it (APP_CHECK=0), the mote's own loader refuses them at boot
  const image = (name: string, source: string) => runImage("micaz", appImage("micaz", dir, name, source, { APP_CHECK: "0" }), { maxCycles: 7_372_800 }).stdout;
  // the image's components are TerraNet's: a TerraGrp script would get the wrong events
  expect(image("grp", '#include "TerraGrp.defs"\nemit LEDS(1);\nawait FOREVER;\n')).toBe("X config\n");
  // 3,100 B of variables do not fit the MicaZ block (MEM 3072): TVM_E_MEMORY at byte 0
  const reasons = rejectReasons();
  expect(reasons.slice(0, 2)).toEqual(["TVM_OK", "TVM_E_TRUNCATED"]);
  expect(image("big", '#include "TerraNet.defs"\nvar ubyte[3100] big;\nbig[3] = 1;\nawait FOREVER;\n')).toBe(`X reject 0 ${reasons.indexOf("TVM_E_MEMORY")}\n`);
}, 300_000);
