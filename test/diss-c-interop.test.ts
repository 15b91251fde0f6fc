/**
 * C motes (firmware-host/build/host/terra-diss-mote, diss/diss.c) and
 * TypeScript motes (DissNode over components/dissemination/udp.ts) on one UDP
 * multicast network on the loopback interface, as real processes in real
 * time: mixed multi-hop lines converge to the injected version whichever kind
 * the base station is, with and without 20 % loss and in both
 * authentication modes; a C mote killed mid-transfer resumes from its
 * re-verified store and installs only the complete capsule; C motes refuse
 * tampered blocks, foreign signatures, replays and oversized capsules with
 * the reason logged; and the two frame codecs agree byte for byte.
 *
 * The binary is built with make first: a build failure fails every test.
 */
import { spawn, spawnSync } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodeFrame, encodeFrame, FRAME_ADV, FRAME_DATA, FRAME_FLOOD, FRAME_REQ, type Frame, manifestChunks, MAX_BITMAP_BYTES, MAX_FRAME_BYTES,
  type MoteEvent, type Radio,
} from "../components/dissemination";
import { formatPsk, generateNetworkKey, publicKeyPem } from "../components/security";
import { capsule, CFG, KEYS, PSK, V1 } from "./helpers/net";
import { dissMoteBin as bin, GROUP, UdpNet } from "./helpers/udpnet";

let dir: string;
const file = (name: string, data: Uint8Array | string): string => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "terra-diss-c-"));
  file("net.pub", publicKeyPem(KEYS.publicKey));
  file("net.psk", formatPsk(PSK));
  file("v1.cap", V1);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A line 1 - 2 - ... - n: each mote hears its two neighbours. */
const lineNeighbours = (id: number, n: number): number[] => [id - 1, id + 1].filter((x) => x >= 1 && x <= n);

/** Run a line of n motes alternating kinds (the base, mote 1, of kind `base`), inject `cap` at the base; @returns ms from the injection to the last install. */
async function lineRun(o: { n: number; base: "ts" | "c"; loss: number; cap: Uint8Array; auth?: "ed25519" | "psk"; timeoutMs: number; net: UdpNet }): Promise<number> {
  const { net, n } = o;
  const other = o.base === "ts" ? "c" : "ts";
  for (let id = 2; id <= n; id++) await net.start({ id, kind: id % 2 === 1 ? o.base : other, neighbours: lineNeighbours(id, n), loss: o.loss, auth: o.auth });
  const v = new DataView(o.cap.buffer, o.cap.byteOffset).getUint32(4, true);
  if (o.base === "c") {
    await net.start({ id: 1, kind: "c", neighbours: [2], loss: o.loss, auth: o.auth }, { inject: o.cap, injectAt: 200 });
    await net.booted();
  } else {
    await net.start({ id: 1, kind: "ts", neighbours: [2], loss: o.loss, auth: o.auth });
    await net.booted();
    await new Promise((r) => setTimeout(r, 200));
    expect(net.mote(1).ts!.inject(o.cap)).toBeUndefined();
  }
  await net.until(() => net.events(1, "inject").length > 0, 10_000, "the injection");
  const inj = net.events(1, "inject")[0];
  expect(inj.ok, JSON.stringify(inj)).toBe(true);
  const all = () => [...net.motes.keys()].every((id) => net.version(id) === v);
  await net.until(all, o.timeoutMs, `every mote to install version ${v}`);
  const last = Math.max(...[...net.motes.keys()].map((id) => net.events(id, "install").find((e) => e.version === v)!.wall));
  return last - inj.wall;
}

/** Checks after a run: every C mote ends with no malformed frame heard and a running VM on `version`; nobody rejected anything. */
async function checkEnd(net: UdpNet, version: number, bytes: number): Promise<void> {
  await net.close();
  for (const [id, m] of net.motes) {
    expect(net.events(id, "reject"), `mote ${id} rejections`).toEqual([]);
    const installs = net.events(id, "install").filter((e) => e.version === version);
    expect(installs.map((e) => e.bytes), `mote ${id} installs`).toEqual([bytes]);
    const end = net.events(id, "end")[0];
    expect(end, `mote ${id} logged its end`).toBeDefined();
    expect((end.stats as { malformed: number }).malformed, `${m.spec.kind} mote ${id} heard no malformed frame`).toBe(0);
    if (m.spec.kind !== "c") continue;
    expect(end.vm, `C mote ${id}'s VM runs version ${version}`).toMatchObject({ version });
    expect(readFileSync(join(m.store, "installed"))).toEqual(Buffer.from(capsuleOf(version)));
  }
}

const CAPS = new Map<number, Uint8Array>();
const capsuleOf = (version: number): Uint8Array => CAPS.get(version)!;
const V2 = capsule(2, 1024);
CAPS.set(2, V2);

describe("C and TypeScript motes on one UDP network", () => {
  for (const base of ["ts", "c"] as const) {
    it(`a mixed line of 8 motes converges to the version injected at a ${base === "ts" ? "TypeScript" : "C"} base station`, async () => {
      const net = new UdpNet(dir);
      await net.capture();
      try {
        const ms = await lineRun({ net, n: 8, base, loss: 0, cap: V2, timeoutMs: 30_000 });
        console.log(`line of 8, ${base} base, 0 % loss, 1 KB: converged in ${ms} ms`);
      } finally {
        await checkEnd(net, 2, V2.length);
      }
      // every frame a C mote sent decodes with frames.ts and encodes back to the same bytes
      const cFrames = net.captured.filter((d) => net.mote(d.from).spec.kind === "c");
      const kinds = new Set(cFrames.map((d) => d.frame[0]));
      expect(kinds.has(FRAME_ADV) && kinds.has(FRAME_REQ) && kinds.has(FRAME_DATA)).toBe(true);
      for (const { frame } of cFrames) {
        const f = decodeFrame(frame);
        expect(typeof f, Buffer.from(frame).toString("hex")).toBe("object");
        expect(encodeFrame(f as Frame)).toEqual(frame);
      }
    });
  }

  for (const base of ["ts", "c"] as const) {
    it(`converges at 20 % loss (line of 8, ${base} base station)`, async () => {
      const net = new UdpNet(dir);
      try {
        const ms = await lineRun({ net, n: 8, base, loss: 0.2, cap: V2, timeoutMs: 40_000 });
        console.log(`line of 8, ${base} base, 20 % loss, 1 KB: converged in ${ms} ms`);
      } finally {
        await checkEnd(net, 2, V2.length);
      }
    });
  }

  it("psk mode (HMAC-SHA-256 manifest and block tags): a mixed line of 6 converges, C motes relaying", async () => {
    const net = new UdpNet(dir);
    try {
      const ms = await lineRun({ net, n: 6, base: "ts", loss: 0, cap: V2, auth: "psk", timeoutMs: 30_000 });
      console.log(`line of 6, psk, ts base: converged in ${ms} ms`);
    } finally {
      await checkEnd(net, 2, V2.length);
    }
  });

  it("a C mote killed mid-transfer resumes from its re-verified store and installs only the complete capsule", async () => {
    const big = capsule(3, 6000);
    CAPS.set(3, big);
    const net = new UdpNet(dir);
    try {
      // a slow TypeScript source (30 ms between DATA frames: ~3 s for the 94 blocks) and one C mote
      const src = await net.start({ id: 1, kind: "ts", neighbours: [2], params: { dataGapMs: 30 } });
      await net.start({ id: 2, kind: "c", neighbours: [1] });
      await net.booted();
      expect(src.ts!.inject(big)).toBeUndefined();
      const c = net.mote(2);
      const blockFiles = () => (existsSync(c.store) ? readdirSync(c.store).filter((f) => /^fetch\.\d+$/.test(f)) : []);
      await net.until(() => blockFiles().length >= 20, 20_000, "20 verified blocks at the C mote");
      await net.stop(2, "SIGKILL");
      const kept = blockFiles().length;
      const blocks = Math.ceil((big.length - 65) / 64);
      expect(kept).toBeGreaterThanOrEqual(20);
      expect(kept).toBeLessThan(blocks);
      expect(existsSync(join(c.store, "fetch.manifest"))).toBe(true);
      // the old program is what the store holds: no partial capsule was installed
      expect(readFileSync(join(c.store, "installed"))).toEqual(Buffer.from(V1));
      expect(net.events(2, "install").map((e) => e.version)).toEqual([1]);
      // flash corruption while it was off: one stored block is re-checked at boot and dropped
      const victim = join(c.store, blockFiles()[0]);
      const bytes = readFileSync(victim);
      bytes[0] ^= 0xff;
      writeFileSync(victim, bytes);
      await net.start({ id: 2, kind: "c", neighbours: [1] });
      await net.until(() => net.version(2) === 3, 30_000, "the restarted C mote to install version 3");
      const restored = net.events(2, "manifest").find((e) => e.restored === true);
      expect(restored, "the manifest was restored at boot").toBeDefined();
      expect(restored!.blocks).toBe(kept - 1);
      const boots = net.events(2, "boot");
      expect(boots.map((e) => e.version)).toEqual([1, 1]);
      expect(net.events(2, "install").map((e) => [e.version, e.bytes])).toEqual([[1, V1.length], [1, V1.length], [3, big.length]]);
      expect(readFileSync(join(c.store, "installed"))).toEqual(Buffer.from(big));
      expect(readdirSync(c.store).filter((f) => f.startsWith("fetch."))).toEqual([]);
    } finally {
      await net.close();
    }
    const end = net.events(2, "end").at(-1)!;
    expect(end.stats).toMatchObject({ corruptStore: 1, malformed: 0 });
    expect(net.events(2, "reject")).toEqual([]);
  });

  it("C motes refuse tampered blocks, foreign signatures, replayed versions and oversized capsules, log why, and never run them", async () => {
    const net = new UdpNet(dir);
    const v5 = capsule(5, 1024);
    const other = generateNetworkKey();
    const forged = capsule(6, 1024, { key: other });
    const v4 = capsule(4, 1024);
    const huge = capsule(7, 3000);
    try {
      // 1 -> 2: a TypeScript mote with a genuine version 5 whose radio flips a byte of every block it sends
      const flip: (r: Radio) => Radio = (r) => ({
        send: (frame, dest) => {
          const f = decodeFrame(frame);
          const chunks = manifestChunks("ed25519", Math.ceil((v5.length - 65) / 64));
          if (typeof f === "object" && f.type === FRAME_DATA && f.segment >= chunks) {
            const bad = frame.slice();
            bad[bad.length - 1] ^= 0x01;
            r.send(bad, dest);
          } else r.send(frame, dest);
        },
      });
      await net.start({ id: 1, kind: "ts", neighbours: [2], initial: v5, wrapRadio: flip });
      await net.start({ id: 2, kind: "c", neighbours: [1] });
      // 3 -> 4: version 6 signed by another key (its holder authenticates with that key)
      await net.start({ id: 3, kind: "ts", neighbours: [4], initial: forged, auth25519: { mode: "ed25519", publicKey: other.publicKey } });
      await net.start({ id: 4, kind: "c", neighbours: [3] });
      // 5 -> 6: a replay: the C mote runs version 5 and hears version 4; then version 4 is injected at it
      await net.start({ id: 5, kind: "ts", neighbours: [6], initial: v4 });
      await net.start({ id: 6, kind: "c", neighbours: [5], initial: v5 }, { inject: v4, injectAt: 300 });
      // 7 -> 8: a genuine version 7 that needs more script space than the C mote has
      await net.start({ id: 7, kind: "ts", neighbours: [8], initial: huge });
      await net.start({ id: 8, kind: "c", neighbours: [7], args: ["--script-space", "2048"] });
      await net.booted();
      const reasons = (id: number) => net.events(id, "reject").map((e) => e.reason);
      await net.until(() => reasons(2).includes("tampered") && reasons(4).includes("bad-signature") && reasons(6).includes("rollback") && reasons(8).includes("too-large"), 20_000, "the four rejections");
      await new Promise((r) => setTimeout(r, 1000)); // time to (wrongly) install anything
    } finally {
      await net.close();
    }
    const one = (id: number, reason: string) => net.events(id, "reject").find((e) => e.reason === reason)!;
    expect(one(2, "tampered")).toMatchObject({ version: 5, from: 1 });
    expect(one(2, "tampered").detail).toMatch(/block \d+ does not match its signed digest/);
    expect(one(4, "bad-signature")).toMatchObject({ version: 6, from: 3 });
    expect(one(6, "rollback")).toMatchObject({ version: 4 });
    expect(one(6, "rollback").detail).toBe("version 4 is not newer than the installed version 5");
    expect(net.events(6, "inject")[0]).toMatchObject({ ok: false, reason: "rollback" });
    expect(one(8, "too-large")).toMatchObject({ version: 7, from: 7 });
    expect(one(8, "too-large").detail).toMatch(/needs \d+ bytes of script space, the motes have 2048/);
    // nothing refused was installed, stored or run
    for (const [id, v] of [[2, 1], [4, 1], [6, 5], [8, 1]]) {
      expect(net.events(id, "install").map((e) => e.version), `mote ${id}`).toEqual([v]);
      const end = net.events(id, "end")[0];
      expect(end.vm, `mote ${id}`).toMatchObject({ version: v });
      expect(readFileSync(join(net.mote(id).store, "installed"))).toEqual(Buffer.from(v === 5 ? v5 : V1));
    }
    // the replayed version 4 was never even asked for over the air
    expect((net.events(6, "end")[0].stats as { sent: { req: number } }).sent.req).toBe(0);
    expect((net.events(2, "end")[0].stats as { tamperedBlocks: number }).tamperedBlocks).toBeGreaterThan(0);
  });

  it("a C mote survives garbage datagrams: malformed frames and segments are counted and dropped", async () => {
    const net = new UdpNet(dir);
    await net.start({ id: 2, kind: "c", neighbours: [1] });
    await net.booted();
    const sock = dgram.createSocket({ type: "udp4", reuseAddr: true });
    await new Promise<void>((res) => sock.bind(0, "127.0.0.1", () => res()));
    sock.setMulticastInterface("127.0.0.1");
    const send = (from: number, bytes: Uint8Array) => new Promise<void>((res) => sock.send(Uint8Array.from([from & 0xff, from >> 8, 0xff, 0xff, ...bytes]), net.port, GROUP, () => res()));
    const rnd = (n: number, seed: number) => fc.sample(fc.uint8Array({ minLength: n, maxLength: n }), { numRuns: 1, seed })[0];
    try {
      for (const b of fc.sample(fc.uint8Array({ maxLength: 300 }), { numRuns: 300, seed: 9 })) await send(1, b);
      await new Promise((r) => setTimeout(r, 300)); // let the mote drain the burst: a full socket buffer would drop what follows
      await send(1, encodeFrame({ type: FRAME_ADV, version: 9, configId: CFG, blocks: 0xffff })); // more blocks than the mote takes
      await send(1, encodeFrame({ type: FRAME_REQ, version: 1, target: 2, first: 0xffff, bitmap: new Uint8Array(MAX_BITMAP_BYTES).fill(0xff) }));
      await send(1, encodeFrame({ type: FRAME_ADV, version: 9, configId: CFG, blocks: 16 })); // then a forged manifest for it
      await send(1, encodeFrame({ type: FRAME_DATA, version: 9, segment: 40, payload: rnd(50, 1) })); // out of range
      await send(1, encodeFrame({ type: FRAME_DATA, version: 9, segment: 0, payload: rnd(95, 2) })); // wrong length
      for (const [seg, n] of [[0, 96], [1, 96], [2, 57]]) await send(1, encodeFrame({ type: FRAME_DATA, version: 9, segment: seg, payload: rnd(n, 3 + seg) }));
      for (const short of [[], [1], [1, 2, 3]]) await new Promise<void>((res) => sock.send(Uint8Array.from(short), net.port, GROUP, () => res()));
      await net.until(() => net.events(2, "reject").length > 0, 10_000, "the forged manifest's rejection");
    } finally {
      sock.close();
      await net.close();
    }
    expect(net.mote(2).stderr).toEqual([]);
    // as DissNode: the forged manifest's header does not parse, so no version is claimed
    expect(net.events(2, "reject")[0]).toMatchObject({ reason: "malformed", version: 0, from: 1, detail: 'manifest: not a Terra-TS capsule (magic is not "TC")' });
    const end = net.events(2, "end")[0];
    expect(end.stats).toMatchObject({ tooManyBlocks: 1, installs: 0 });
    expect((end.stats as { malformed: number }).malformed).toBeGreaterThan(200);
    expect((end.udp as { bad: number }).bad).toBeGreaterThanOrEqual(3); // shorter than a datagram header + 1 byte
    expect(net.events(2, "install").map((e) => e.version)).toEqual([1]);
    expect(readFileSync(join(net.mote(2).store, "installed"))).toEqual(Buffer.from(V1));
  });

  it("`terra mote` (the TypeScript mote's CLI) installs what a C base station injects, and refuses bad flags", async () => {
    const cli = (args: string[]) => [process.execPath, ["--import", "tsx", "cli/main.ts", "mote", ...args]] as const;
    const net = new UdpNet(dir);
    const store = join(dir, `cli-${net.port}`);
    const [node, args] = cli(["--id", "2", "--store", store, "--key", join(dir, "net.pub"), "--capsule", join(dir, "v1.cap"), "--udp", `${GROUP}:${net.port}`,
      "--neighbours", "1", "--duration", "20000"]);
    const p = spawn(node, args, { stdio: ["ignore", "pipe", "pipe"] });
    const events: MoteEvent[] = [];
    let buf = "";
    p.stdout.on("data", (c: Buffer) => {
      buf += c.toString();
      for (let k; (k = buf.indexOf("\n")) >= 0; buf = buf.slice(k + 1)) events.push(JSON.parse(buf.slice(0, k)) as MoteEvent);
    });
    const closed = new Promise((res) => p.on("close", res));
    try {
      await net.until(() => events.some((e) => e.ev === "boot"), 15_000, "terra mote to boot");
      await net.start({ id: 1, kind: "c", neighbours: [2] }, { inject: V2, injectAt: 100 });
      await net.until(() => events.some((e) => e.ev === "install" && e.version === 2), 20_000, "terra mote to install version 2");
    } finally {
      p.kill("SIGTERM");
      await closed;
      await net.close();
    }
    expect(events.find((e) => e.ev === "end")).toMatchObject({ version: 2, stats: { malformed: 0 } });
    expect(readFileSync(join(store, "installed"))).toEqual(Buffer.from(V2));
    const [n2, bad] = cli(["--id", "2", "--store", store, "--key", join(dir, "net.pub"), "--loss", "2"]);
    const r = spawnSync(n2, bad, { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--loss takes a probability in \[0, 1\), got "2"/);
  });

  it("property: the C frame codec and frames.ts agree byte for byte on valid and arbitrary frames", () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const frame = fc.oneof(
      fc.record({ type: fc.constant(FRAME_ADV), version: u32, configId: u32, blocks: u16 }),
      fc.record({ type: fc.constant(FRAME_REQ), version: u32, target: u16, first: u16, bitmap: fc.uint8Array({ minLength: 1, maxLength: MAX_BITMAP_BYTES }) }),
      fc.record({ type: fc.constant(FRAME_DATA), version: u32, segment: u16, payload: fc.uint8Array({ minLength: 1, maxLength: MAX_FRAME_BYTES - 7 }) }),
      fc.record({ type: fc.constant(FRAME_FLOOD), round: u16, version: u32, configId: u32, blocks: u16, segment: u16, payload: fc.uint8Array({ minLength: 1, maxLength: MAX_FRAME_BYTES - 15 }) }),
    ) as fc.Arbitrary<Frame>;
    const valid = fc.sample(frame, { numRuns: 400, seed: 5 }).map((f) => encodeFrame(f));
    const arbitrary = fc.sample(
      fc.tuple(fc.uint8Array({ maxLength: 130 }), fc.constantFrom(0xd1, 0xd2, 0xd3, 0xd4, 0x00)).map(([b, t]) => (b.length ? Uint8Array.from([t, ...b.subarray(1)]) : b)),
      { numRuns: 400, seed: 6 },
    );
    const inputs = [...valid, ...arbitrary];
    const r = spawnSync(bin(), ["--decode"], { input: inputs.map((b) => Buffer.from(b).toString("hex")).join("\n") + "\n", encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBe(inputs.length);
    inputs.forEach((b, i) => {
      const ts = decodeFrame(b);
      const c = lines[i];
      const hex = Buffer.from(b).toString("hex");
      if (typeof ts === "string") {
        expect(c.malformed, `${hex}: TS says ${ts}`).toBeDefined();
        return;
      }
      const { bitmap, payload, ...fields } = ts as Frame & { bitmap?: Uint8Array; payload?: Uint8Array };
      expect(c, hex).toMatchObject(fields);
      const bytes = bitmap ?? payload;
      if (bytes) expect(c[bitmap ? "bitmap" : "payload"], hex).toBe(Buffer.from(bytes).toString("hex"));
      expect(c.encoded, hex).toBe(hex);
    });
  });

  it("bad flags and files give clear errors and exit codes, never a crash", () => {
    const run = (args: string[]) => spawnSync(bin(), args, { encoding: "utf8" });
    const cases: [string[], number, RegExp][] = [
      [["--id", "1"], 2, /--store DIR is required/],
      [["--id", "0", "--store", dir], 2, /--id 0: not a number in 1..65534/],
      [["--id", "1", "--store", join(dir, "s"), "--key", join(dir, "net.pub"), "--udp", "127.0.0.1:5000"], 2, /not an IPv4 multicast group/],
      [["--id", "1", "--store", join(dir, "s"), "--key", join(dir, "net.pub"), "--loss", "1.5"], 2, /--loss takes a probability/],
      [["--id", "1", "--store", join(dir, "s"), "--key", join(dir, "net.pub"), "--neighbours", "2,x"], 2, /comma-separated list/],
      [["--id", "1", "--store", join(dir, "s"), "--key", join(dir, "v1.cap")], 1, /not a PEM public key/],
      [["--id", "1", "--store", join(dir, "s"), "--psk", join(dir, "net.pub")], 1, /hex digits/],
      [["--id", "1", "--store", join(dir, "s"), "--key", join(dir, "missing.pem")], 1, /No such file/],
      [["--id", "1", "--store", join(dir, "s"), "--key", join(dir, "net.pub"), "--capsule", join(dir, "net.pub")], 1, /not a Terra-TS capsule/],
      [["--id", "1", "--store", join(dir, "v1.cap"), "--key", join(dir, "net.pub")], 1, /not a directory/],
      [["--id", "1", "--store", join(dir, "s"), "--key", join(dir, "net.pub"), "--frobnicate", "1"], 2, /unknown flag --frobnicate/],
    ];
    for (const [args, code, msg] of cases) {
      const r = run(args);
      expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(code);
      expect(r.stderr).toMatch(msg);
    }
  });
});
