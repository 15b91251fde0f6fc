/**
 * Serial capsule loading (docs/serial.md): the frames `terra load` writes
 * (components/serial/load.ts) and a MicaZ image on simavr taking capsules
 * over its UART (firmware-host/comp/serial.c, simrun -u): it stops its
 * script, boots the new one at the clock's time, refuses what its loader
 * refuses and then waits for another, and survives a noisy line; `terra
 * load` to it with --sim, and with --port through a pseudo-terminal (socat,
 * installed by .ci/install-toolchains.sh).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc16xmodem } from "crc";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { encodeFrame, type MoteLink, SERIAL_DATA_MAX, SerialLoadError, type SerialCommand, sendCapsule } from "../components/serial/load";
import { onLines, streamLink } from "../components/serial/link";
import { FIRMWARE_DIR, make, rejectReasons, startMicaz } from "../firmware-host/harness";
import { compileSource } from "./helpers/genprog";

/** A reading of a frame by the rules of docs/serial.md, independent of the encoder. */
function decodeFrame(f: Uint8Array): { cmd: string; arg: number; data: Uint8Array } {
  expect(f[0]).toBe(0x7e);
  expect(f[f.length - 1]).toBe(0x7e);
  const body: number[] = [];
  for (let i = 1; i < f.length - 1; i++) {
    expect(f[i]).not.toBe(0x7e);
    body.push(f[i] === 0x7d ? f[++i] ^ 0x20 : f[i]);
  }
  expect(crc16xmodem(Buffer.from(body))).toBe(0); // the CRC, big-endian, makes the whole frame's CRC 0
  return { cmd: String.fromCharCode(body[0]), arg: body[1] | (body[2] << 8), data: new Uint8Array(body.slice(3, -2)) };
}

test("frames: command, argument and data come back from the escaped, CRC-checked bytes; out-of-range frames throw", () => {
  fc.assert(
    fc.property(fc.constantFrom<SerialCommand>("L", "D", "G"), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: SERIAL_DATA_MAX }), (cmd, arg, data) => {
      expect(decodeFrame(encodeFrame(cmd, arg, data))).toEqual({ cmd, arg, data });
    }),
  );
  expect(() => encodeFrame("D", 0, new Uint8Array(65))).toThrow(RangeError);
  expect(() => encodeFrame("L", 0x10000)).toThrow(RangeError);
});

test("a mote that does not answer: the frame is sent again, then a SerialLoadError says what to check", async () => {
  let writes = 0;
  const silent: MoteLink = { write: () => void writes++, onLine: () => () => {} };
  await expect(sendCapsule(silent, new Uint8Array(10), { answerMs: 20, retries: 2 })).rejects.toThrow(/no answer from the mote to the load's start after 3 tries of 20 ms: is it running a serial-loading image/);
  expect(writes).toBe(3);
  await expect(sendCapsule(silent, new Uint8Array(0))).rejects.toThrow(RangeError);
  await expect(sendCapsule(silent, new Uint8Array(10), { dataBytes: 65 })).rejects.toThrow(RangeError);
});

/** A TerraNet script sending a frame of type `type` with its getTime() every second, and changing its LEDs then (optionally after `extra` statements). */
const sender = (type: number, extra = "") => `#include "TerraNet.defs"
pktype valMsg from radioMsg with
  var ulong v;
  var ulong k;
end
var valMsg msg;
var ubyte l;
msg.type = ${type};
msg.k = 0x7e7d7e7d;
${extra}
loop do
  msg.v = getTime();
  l = l + 1;
  emit LEDS(l);
  emit SEND(msg);
  await 1s;
end
`;

function capsule(source: string): Uint8Array {
  const r = compileSource(source);
  expect(r.ok, JSON.stringify(r.diagnostics)).toBe(true);
  return r.capsule!;
}

/** The radio frames ("R hex") the mote printed since `from` (an index into `lines`), as [type, getTime()]. */
const sends = (lines: string[], from = 0) =>
  lines.slice(Math.max(from, 0)).flatMap((l) => {
    const m = /^R ([0-9a-f]+)$/.exec(l);
    if (!m) return [];
    const b = Buffer.from(m[1], "hex");
    return [[b[0], b.readUInt32LE(5)] as [number, number]];
  });

/** Wait until `ok` holds for the mote's lines (simulated time runs faster than the wall clock here). */
async function until(lines: string[], ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`${what}; the mote printed:\n${lines.slice(-20).join("\n")}`);
}

describe("a MicaZ image (simavr) takes capsules over its UART", () => {
  let mote: ReturnType<typeof startMicaz>;
  let link: MoteLink;
  const lines: string[] = [];
  /** The LEDs' changes: simulated ms (from the cycle count, not the firmware's clock) */
  const ledMs: number[] = [];

  beforeAll(() => {
    const elf = `${FIRMWARE_DIR}/build/micaz/terra-micaz.elf`;
    make("micaz", [elf]);
    mote = startMicaz(elf, { leds: true });
    link = streamLink(mote.stdout!, mote.stdin!);
    link.onLine((l) => lines.push(l));
    onLines(mote.stderr!, (l) => {
      const m = /^leds \d+ (\d+)$/.exec(l);
      if (m) ledMs.push(Number(m[1]));
    });
  }, 300_000);

  afterAll(() => {
    mote?.kill();
  });

  test("a capsule replaces the running script and boots at the clock's time; a second one replaces it", async () => {
    // the image's own script (apps/blink.terra) runs first: it sends type-1 frames every 10 s
    await until(lines, () => sends(lines).some(([t]) => t === 1), "no frame of blink.terra");
    const first = capsule(sender(7));
    // the capsule has bytes that frames must escape (0x7e, 0x7d)
    expect(first.some((b) => b === 0x7e) && first.some((b) => b === 0x7d)).toBe(true);
    const progress: number[] = [];
    const from = lines.length;
    const r = await sendCapsule(link, first, { dataBytes: 32, onProgress: (n) => progress.push(n) });
    expect(r.resent).toBe(0);
    expect(r.frames).toBe(2 + Math.ceil(first.length / 32));
    expect(progress.at(-1)).toBe(first.length);
    // what the mote sends after its answer "A <bytes>" (loaded, booting)
    const booted = lines.indexOf(`A ${first.length}`, from);
    expect(booted).toBeGreaterThan(0);
    await until(lines, () => sends(lines, booted).length >= 3, "fewer than 3 frames of the new script");
    const after = sends(lines, booted);
    // only the new script's frames, a second apart, starting at the time of the load (not at 0)
    expect(after.every(([t]) => t === 7), JSON.stringify(after)).toBe(true);
    expect(after[0][1]).toBeGreaterThan(10_000); // blink.terra had sent its first frame at 10 s
    expect(after[1][1] - after[0][1]).toBe(1000);
    expect(after[2][1] - after[1][1]).toBe(1000);
    // and the script keeps to the mote's clock: its LEDs change a second apart by the simulated cycles, at
    // the times of its frames (the board's millisecond is 7,372 cycles of 7,372.8: it gains 0.011%)
    await until(lines, () => ledMs.filter((ms) => ms > after[0][1] - 50).length >= 3, "fewer than 3 LED changes");
    const changes = ledMs.filter((ms) => ms > after[0][1] - 50).slice(0, 3);
    expect(changes[1] - changes[0]).toBeGreaterThanOrEqual(999);
    expect(changes[2] - changes[1]).toBeLessThanOrEqual(1000);
    const frameAt = (ms: number) => Math.min(...after.map(([, t]) => Math.abs(t - ms)));
    expect(frameAt(changes[0])).toBeLessThanOrEqual(2 + changes[0] * 0.00011);

    const second = capsule(sender(8));
    const from2 = lines.length;
    await sendCapsule(link, second);
    const booted2 = lines.indexOf(`A ${second.length}`, from2);
    await until(lines, () => sends(lines, booted2).length >= 2, "no frames of the second script");
    expect(sends(lines, booted2).every(([t]) => t === 8)).toBe(true);
  }, 60_000);

  test("what the mote refuses, with the reason; it then waits for another capsule", async () => {
    const reasons = rejectReasons();
    // another configuration: the image's components are TerraNet's
    await expect(sendCapsule(link, capsule('#include "TerraGrp.defs"\nemit LEDS(1);\nawait FOREVER;\n'))).rejects.toThrow(/another configuration: include TerraNet\.defs/);
    // longer than the VM's block (MEM 3072)
    await expect(sendCapsule(link, new Uint8Array(3073))).rejects.toThrow(/the capsule \(3073 B\) is larger than the mote's VM block \(3072 B\)/);
    // one the loader rejects: a valid capsule whose variables do not fit the block (TVM_E_MEMORY at byte 0)
    const e = await sendCapsule(link, capsule('#include "TerraNet.defs"\nvar ubyte[3100] big;\nbig[3] = 1;\nawait FOREVER;\n')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SerialLoadError);
    expect((e as SerialLoadError).message).toBe("the mote rejected the capsule at byte 0 (reason " + reasons.indexOf("TVM_E_MEMORY") + ")");
    // the verifier's verdicts on the wire are those of make app's images (test/c-sim.test.ts) and of the
    // TypeScript verifier (test/c-verify.test.ts): the same core/verify.c
    // a script that ends: "H", and the mote waits
    const from = lines.length;
    await sendCapsule(link, capsule('#include "TerraNet.defs"\nemit LEDS(2);\n'));
    await until(lines, () => lines.slice(from).includes("H"), "no H after the script ended");
    // still listening
    const from2 = lines.length;
    await sendCapsule(link, capsule(sender(10)));
    await until(lines, () => sends(lines, from2).some(([t]) => t === 10), "no frame after the refusals");
  }, 60_000);

  test("a mote busy with a CPU-bound chain of reactions (the §8.2 loop) still takes a capsule", async () => {
    const busy = capsule(readFileSync(`${FIRMWARE_DIR}/apps/bench_cpu.terra`, "utf8"));
    const from = lines.length;
    await sendCapsule(link, busy);
    const booted = lines.indexOf(`A ${busy.length}`, from);
    // its frame every 10 s carries the loop's count (at offset 5): the chain runs
    await until(lines, () => sends(lines, booted).length >= 1, "no frame of the CPU-bound loop");
    expect(sends(lines, booted)[0]).toEqual([1, expect.any(Number)]);
    expect(sends(lines, booted)[0][1]).toBeGreaterThan(10_000);
    const from2 = lines.length;
    await sendCapsule(link, capsule(sender(12)));
    await until(lines, () => sends(lines, from2).some(([t]) => t === 12), "no frame of the script loaded over the busy one");
  }, 60_000);

  test("random bytes on the line (no frame of ours among them) change nothing: the script runs on, and the next load works", async () => {
    const noise = fc.sample(fc.uint8Array({ minLength: 200, maxLength: 400 }), { numRuns: 20, seed: 7 });
    // with the flag byte often enough for frames to start and end in the noise
    const bytes = noise.map((b) => b.map((x, i) => (i % 23 === 0 ? 0x7e : x)));
    await sendCapsule(link, capsule(sender(14)));
    const from = lines.length;
    for (const b of bytes) link.write(b);
    await new Promise((r) => setTimeout(r, 200));
    const after = lines.length;
    await until(lines, () => sends(lines, after).filter(([t]) => t === 14).length >= 2, "the running script stopped after the noise");
    expect(lines.slice(from).filter((l) => /^(S|A|X|H)\b/.test(l))).toEqual([]);
    const from2 = lines.length;
    await sendCapsule(link, capsule(sender(13)));
    await until(lines, () => sends(lines, from2).some(([t]) => t === 13), "no frame of the script loaded after the noise");
  }, 60_000);

  test("a noisy line: damaged, cut and stray frames are sent again, and the mote runs the capsule it was sent", async () => {
    let frame = 0;
    const noisy: MoteLink = {
      onLine: link.onLine,
      write: (bytes) => {
        frame++;
        const b = new Uint8Array(bytes);
        if (frame === 2) b[5] ^= 0x10; // a flipped bit in the first DATA frame
        if (frame === 4) return link.write(b.subarray(0, b.length - 3)); // cut short (the next frame's flag ends it)
        if (frame === 6) link.write(Uint8Array.of(0x12, 0x7e, 0x7d, 0x7e, 0x44, 0x00)); // stray bytes
        link.write(b);
      },
    };
    const c = capsule(sender(11, "var ulong[40] pad;\npad[39] = 5;\nmsg.k = pad[39];"));
    const from = lines.length;
    const r = await sendCapsule(noisy, c, { dataBytes: 16, answerMs: 300 });
    expect(r.resent).toBeGreaterThanOrEqual(2);
    await until(lines, () => sends(lines, from).some(([t]) => t === 11), "no frame of the script sent over the noisy line");
  }, 60_000);
});

describe("the MicaZ keeps the last capsule loaded over its UART across resets (EEPROM)", () => {
  const elf = `${FIRMWARE_DIR}/build/micaz/terra-micaz.elf`;
  /** One power-on of the mote with the EEPROM in `ee`: its lines, a link to it, and the end of the run (SIGTERM saves the EEPROM). */
  function powerOn(ee: string, realtime = false) {
    const p = startMicaz(elf, { eeprom: ee, realtime });
    const lines: string[] = [];
    const link = streamLink(p.stdout!, p.stdin!);
    link.onLine((l) => lines.push(l));
    const ended = new Promise<void>((r) => p.on("exit", () => r()));
    return { lines, link, off: async () => (p.kill(), ended) };
  }

  beforeAll(() => make("micaz", [elf]), 300_000);

  test("a reset boots the kept capsule (\"K len\"); a damaged record, or one cut short by a reset, is not booted", async () => {
    const ee = join(mkdtempSync(join(tmpdir(), "terra-ee-")), "eeprom.bin");
    const kept = capsule(sender(20));
    let m = powerOn(ee);
    await sendCapsule(m.link, kept);
    // the EEPROM takes ~8.5 ms per byte (3.4 on simavr), in the background: the script runs meanwhile,
    // and the mote says "K len" when the record is complete
    const loaded = m.lines.indexOf(`A ${kept.length}`);
    await until(m.lines, () => m.lines.includes(`K ${kept.length}`), "no K line after the load");
    expect(m.lines.indexOf(`K ${kept.length}`)).toBeGreaterThan(loaded);
    expect(sends(m.lines, loaded).some(([t]) => t === 20)).toBe(true);
    // the same capsule again: the writer skips the bytes that did not change (but one in 8) and still ends with a record
    const again = m.lines.length;
    await sendCapsule(m.link, kept);
    await until(m.lines, () => m.lines.slice(again).includes(`K ${kept.length}`), "no K line after loading the same capsule again");
    await m.off();
    expect(readFileSync(ee).length).toBe(4096);

    m = powerOn(ee);
    await until(m.lines, () => sends(m.lines).length >= 2, "no frames after the reset");
    expect(m.lines[0]).toBe(`K ${kept.length}`);
    expect(sends(m.lines).every(([t]) => t === 20)).toBe(true);
    await m.off();

    // one byte of the kept capsule damaged: its CRC fails, and the flash capsule (blink.terra, type 1) boots
    const bytes = readFileSync(ee);
    bytes[4 + 20] ^= 1;
    writeFileSync(ee, bytes);
    m = powerOn(ee);
    await until(m.lines, () => sends(m.lines).length >= 2, "no frames after a damaged record");
    expect(m.lines.some((l) => l.startsWith("K "))).toBe(false);
    expect(sends(m.lines).every(([t]) => t === 1)).toBe(true);
    await m.off();

    // a reset while the record is being written (in real time: the script's first frame comes right after
    // the writing begins, which takes ~1 s of simulated time): no record, not half a one
    m = powerOn(ee, true);
    const long = capsule(sender(21, "var ulong[60] pad;\npad[59] = 5;\nmsg.k = pad[59] + pad[1];"));
    await sendCapsule(m.link, long);
    await until(m.lines, () => sends(m.lines).some(([t]) => t === 21), "no frame of the script whose record is cut");
    await m.off();
    expect(m.lines).not.toContain(`K ${long.length}`);
    expect(readFileSync(ee)[1]).toBe(0xff); // the length's high byte, written first: cut short indeed
    m = powerOn(ee);
    await until(m.lines, () => sends(m.lines).length >= 2, "no frames after a reset during the write");
    expect(m.lines.some((l) => l.startsWith("K "))).toBe(false);
    expect(sends(m.lines).every(([t]) => t === 1)).toBe(true);
    await m.off();
  }, 120_000);
});

test("terra load: a script to a simulated MicaZ, and the bad inputs", () => {
  const dir = mkdtempSync(join(tmpdir(), "terra-load-"));
  const script = join(dir, "s.terra");
  writeFileSync(script, sender(7));
  // runs through tsx (the cli test covers the bundle); --watch 1: a second of the mote's output
  const terra = (...args: string[]) => {
    const r = spawnSync("npx", ["tsx", "cli/main.ts", "load", ...args], { encoding: "utf8", timeout: 120_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const ok = terra(script, "--sim", "--watch", "1");
  expect(ok.code, ok.err).toBe(0);
  expect(ok.out).toMatch(new RegExp(`${script}: \\d+ bytes loaded in \\d+ frames \\(0 sent again\\) in \\d+ ms; the mote runs it$`, "m"));
  expect(ok.out).toMatch(/s\.terra: kept in the mote's EEPROM for its next power-on \(\d+ ms\)$/m);
  expect(ok.out).toMatch(/^mote: R 07/m);
  expect(terra(script).err).toMatch(/give the mote: --port <device> or --sim/);
  expect(terra(script, "--sim", "--port", "/dev/null").code).toBe(2);
  expect(terra(script, "--port", join(dir, "nope")).err).toMatch(/--port \S+nope: cannot open it \(ENOENT\)/);
  expect(terra(script, "--port", "/dev/null").err).toMatch(/--port \/dev\/null: not a serial device/);
  expect(terra(script, "--sim", join(dir, "none.elf")).err).toMatch(/--sim \S+none\.elf: no such image/);
  expect(terra(script, "--sim", "--frame-bytes", "65").code).toBe(2);
  // --port: a serial device, here a pseudo-terminal (socat) whose other end is the simulated MicaZ's UART
  const tty = join(dir, "ttyMote");
  const sim = `${FIRMWARE_DIR}/build/micaz/simrun -q -u -r ${FIRMWARE_DIR}/build/micaz/terra-micaz.elf`;
  const socat = spawn("socat", [`PTY,link=${tty},rawer`, `EXEC:${sim}`], { stdio: "ignore" });
  try {
    for (let i = 0; i < 100 && !existsSync(tty); i++) spawnSync("sleep", ["0.05"]);
    const viaPort = terra(script, "--port", tty, "--watch", "2");
    expect(viaPort.code, viaPort.err).toBe(0);
    expect(viaPort.out).toMatch(/bytes loaded in \d+ frames/);
    expect(viaPort.out).toMatch(/^mote: R 07/m);
  } finally {
    socat.kill();
  }
  // an image with a smaller block (MEM=1024) than the MicaZ default terra load checks against: the mote's own refusal
  make("micaz", ["app"], { APP_CAP: `${FIRMWARE_DIR}/build/micaz/blink.cap`, OUT: dir, NAME: "small", MEM: "1024" });
  const big = join(dir, "big.terra");
  writeFileSync(big, '#include "TerraNet.defs"\nvar ubyte[1500] b;\nb[3] = 1;\nawait FOREVER;\n');
  const small = terra(big, "--sim", join(dir, "small.elf"), "--watch", "0");
  expect(small.code).toBe(1);
  expect(small.err).toMatch(/big\.terra: the mote rejected the capsule at byte 0 \(reason \d+\): TVM_E_MEMORY/);
  const grp = join(dir, "g.terra");
  writeFileSync(grp, '#include "TerraGrp.defs"\nemit LEDS(1);\nawait FOREVER;\n');
  const g = terra(grp, "--sim");
  expect(g.code).toBe(1);
  expect(g.err).toMatch(/g\.terra: capsule byte 8: configuration id 0x[0-9a-f]{8}, the images run TerraNet\.defs scripts/);
}, 300_000);
