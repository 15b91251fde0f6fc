/**
 * The CoAP gateway through node-coap's client, in-process, in front of a
 * simulated network (SimNetwork: the network simulator in real time):
 * discovery (RFC 6690), GET /vm as JSON and CBOR, block-wise PUT (RFC 7959)
 * of a signed capsule that then reaches every simulated mote over the
 * simulated radio, observation (RFC 7641) of sensors, and every error code
 * with its diagnostic payload.
 */
import { createSocket } from "node:dgram";
import { decode as cborDecode } from "cborg";
import { generate, parse } from "coap-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileFile } from "../cli/util";
import { formatStatus } from "../cli/deploy";
import { syntheticCapsule } from "../components/dissemination";
import { coapObserve, coapRequest, Gateway, SimNetwork } from "../components/gateway";
import { encodeFrame, FRAME_ADV, FRAME_DATA } from "../components/dissemination";
import { generateNetworkKey, parseHeader, signCapsuleWith } from "../components/security";

const key = generateNetworkKey();
const init = compileFile("examples/counter.terra", {});
let net: SimNetwork;
let gw: Gateway;
let u: string;

const put = (cap: Uint8Array, o: { block1?: number; contentFormat?: string | number; query?: string } = {}) =>
  coapRequest(`${u}/vm`, { method: "PUT", payload: cap, contentFormat: o.contentFormat ?? "application/octet-stream", block1: o.block1 ?? 2, query: o.query });
const signed = (file: string, version: number) => signCapsuleWith(compileFile(file, { programVersion: version }).capsule!, key.privateKey);
const json = async (path: string) => JSON.parse((await coapRequest(`${u}${path}`)).payload.toString());
const until = async (f: () => Promise<boolean>, ms: number) => {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
};

beforeAll(async () => {
  net = new SimNetwork({
    initial: init.capsule!, config: init.config!, nodes: 9, topology: "grid", loss: 0.1, seed: 1,
    auth: { mode: "ed25519", publicKey: key.publicKey }, publicKey: key.publicKey, platform: "telosb",
  });
  gw = new Gateway({ network: net, publicKey: key.publicKey, port: 0, address: "::1", sampleMs: 100, maxUploadBytes: 8192 });
  u = `coap://[::1]:${await gw.start()}`;
});
afterAll(async () => {
  await gw.close();
  net.close();
});

describe("resources", () => {
  it("/.well-known/core lists /vm, /vm/motes and every mote's sensors in link format, with query filtering", async () => {
    const r = await coapRequest(`${u}/.well-known/core`);
    expect(r.code).toBe("2.05");
    const text = r.payload.toString(); // more than 1 KB: node-coap sends it block-wise (Block2)
    expect(text.length).toBeGreaterThan(1024);
    expect(text).toMatch(/^<\/vm>;rt="terra.vm";if="core.p";ct="50 60 42";/);
    expect(text).toContain('</vm/motes>;rt="terra.motes"');
    expect(text).toContain('</motes/9/temp>;rt="terra.sensor.temp";if="core.s";ct=0;obs');
    const f = await coapRequest(`${u}/.well-known/core?rt=terra.vm`);
    expect(f.format).toBe("application/link-format");
    expect(f.payload.toString().split(",").length).toBe(1);
    const g = await coapRequest(`${u}/.well-known/core?href=/motes/3*`);
    expect(g.payload.toString().split(",").length).toBe(5);
  });

  it("GET /vm: the program, its sizes and state as JSON, and the same as CBOR", async () => {
    const r = await coapRequest(`${u}/vm`);
    expect(r.code).toBe("2.05");
    expect(r.format).toBe("application/json");
    const doc = JSON.parse(r.payload.toString());
    expect(doc).toMatchObject({ version: 1, state: "running", capsule_bytes: init.capsule!.length, config: "TerraNet_MsgQ", script_space: 4224, platform: "telosb", auth: "ed25519", motes: 9 });
    const c = await coapRequest(`${u}/vm`, { accept: "application/cbor" });
    expect(c.format).toBe("application/cbor");
    expect(cborDecode(c.payload)).toEqual(doc);
    const bad = await coapRequest(`${u}/vm`, { accept: "text/plain" });
    expect(bad.code).toBe("4.06");
    expect(bad.payload.toString()).toMatch(/json .*cbor/);
  });

  it("GET /vm/motes: every mote's version and state", async () => {
    const motes = await json("/vm/motes");
    expect(motes.length).toBe(9);
    expect(motes[0]).toMatchObject({ id: 1, up: true, version: 1, state: "running", rejections: [] });
  });

  it("a sensor is observable (RFC 7641): notifications follow its value", async () => {
    const values: string[] = [];
    const obs = coapObserve(`${u}/motes/4/mic`, (p) => values.push(p.toString()));
    const first = await obs.first;
    expect(first.code).toBe("2.05");
    expect(first.format).toBe("text/plain");
    expect(Number(first.payload.toString())).toBeGreaterThan(0);
    expect(await until(async () => values.length >= 3, 5000)).toBe(true);
    obs.close();
    expect(new Set(values).size).toBeGreaterThan(1);
    const leds = await coapRequest(`${u}/motes/2/leds`);
    expect(leds.code).toBe("2.05");
    expect((await coapRequest(`${u}/motes/10/temp`)).code).toBe("4.04");
    expect((await coapRequest(`${u}/motes/2/humidity`)).code).toBe("4.04");
  });
});

describe("deploying", () => {
  it("a block-wise PUT of a signed capsule is accepted (2.04) and every mote then runs it", async () => {
    const cap = signed("examples/alarm.terra", 2);
    expect(parseHeader(cap).blocks).toBeGreaterThan(1);
    const r = await put(cap, { block1: 1, query: "name=alarm.terra" }); // 32-byte CoAP blocks
    expect(r.code).toBe("2.04");
    expect(JSON.parse(r.payload.toString())).toMatchObject({ version: 2, capsule_bytes: cap.length, status: "disseminating" });
    expect(await until(async () => (await json("/vm")).coverage.running_version === 9, 30_000)).toBe(true);
    const doc = await json("/vm");
    expect(doc).toMatchObject({ program: "alarm.terra", version: 2, signed: true, state: "running" });
    for (const m of await json("/vm/motes")) expect(m.version).toBe(2);
    // it travelled over the simulated radio, and every simulated mote's VM runs it
    expect(net.sim.diss!.frames().data).toBeGreaterThan(0);
    for (let i = 0; i < net.sim.n; i++) expect(net.sim.vm(i)!.capsule.programVersion).toBe(2);
    expect(net.sim.diss!.injections).toMatchObject([{ version: 2, outcome: "accepted" }]);
  });

  it("refusals have the right code, a diagnostic, and appear in GET /vm", async () => {
    const code = async (cap: Uint8Array, o = {}) => {
      const r = await put(cap, o);
      return `${r.code} ${r.payload.toString().split(":")[0]}`;
    };
    const v3 = signed("examples/alarm.terra", 3);
    const raw = compileFile("examples/alarm.terra", { programVersion: 3 }).capsule!;
    expect(await code(raw)).toBe("4.01 unsigned");
    const tampered = v3.slice();
    tampered[80] ^= 1;
    expect(await code(tampered)).toBe("4.01 tampered");
    const reversioned = v3.slice();
    reversioned[4] = 7;
    expect(await code(reversioned)).toBe("4.01 bad-signature");
    expect(await code(signCapsuleWith(raw, generateNetworkKey().privateKey))).toBe("4.01 bad-signature");
    expect(await code(signed("examples/alarm.terra", 2))).toBe("4.09 rollback");
    expect(await code(signed("examples/monitor.terra", 5))).toBe("4.22 wrong-config");
    const big = signCapsuleWith(syntheticCapsule({ bytes: 5000, configId: init.config!.id, version: 6 }), key.privateKey);
    expect(await code(big)).toBe("4.13 too-large");
    expect(await code(Uint8Array.from([1, 2, 3, 4]))).toBe("4.00 malformed");
    expect(await code(v3, { contentFormat: "text/plain" })).toBe("4.15 PUT /vm takes a signed capsule as application/octet-stream (Content-Format 42)");
    const doc = await json("/vm");
    expect(doc.version).toBe(2);
    expect(doc.rejections.map((r: { code: string; reason: string }) => `${r.code} ${r.reason}`)).toEqual([
      "4.01 unsigned", "4.01 tampered", "4.01 bad-signature", "4.01 bad-signature", "4.09 rollback", "4.22 wrong-config", "4.13 too-large", "4.00 malformed",
    ]);
    // nothing of that reached a mote
    for (const m of await json("/vm/motes")) expect(m.version).toBe(2);
  });

  it("an upload bigger than the limit is cut short with 4.13 and Size1", async () => {
    const r = await put(new Uint8Array(20_000), { block1: 6 });
    expect(r.code).toBe("4.13");
    expect(r.headers.Size1).toBe(8192);
  });

  it("a block-wise upload with a missing block gets 4.08; bad methods 4.05; unknown paths 4.04", async () => {
    const sock = createSocket("udp6");
    const port = Number(new URL(u.replace("[::1]", "localhost")).port);
    const reply = await new Promise<ReturnType<typeof parse>>((resolve) => {
      sock.on("message", (m) => resolve(parse(m)));
      // block 2 (64-byte blocks, more follow) of an upload that never sent blocks 0 and 1
      sock.send(generate({ code: "0.03", messageId: 77, token: Buffer.of(9), confirmable: true, options: [{ name: "Uri-Path", value: Buffer.from("vm") }, { name: "Block1", value: Buffer.of(0x2a) }], payload: Buffer.alloc(64) }), port, "::1");
    });
    sock.close();
    expect(reply.code).toBe("4.08");
    expect(reply.payload.toString()).toMatch(/block 0 never arrived/);
    expect((await coapRequest(`${u}/vm`, { method: "DELETE" })).code).toBe("4.05");
    expect((await coapRequest(`${u}/.well-known/core`, { method: "POST" })).code).toBe("4.05");
    const nf = await coapRequest(`${u}/nothing/here`);
    expect(nf.code).toBe("4.04");
    expect(nf.payload.toString()).toMatch(/well-known\/core/);
    expect((await coapRequest(`${u}/vm?flavour=x`, { method: "PUT", payload: Uint8Array.of(1) })).code).toBe("4.00");
  });

  it("capsules refused at motes show their reason in /vm/motes and `terra status`", async () => {
    // an attacker next to mote 5 advertises version 9 and sends a manifest signed by another key
    const rogue = generateNetworkKey();
    const evil = signCapsuleWith(compileFile("examples/counter.terra", { programVersion: 9 }).capsule!, rogue.privateKey);
    const h = parseHeader(evil);
    const { buildManifest } = await import("../components/security");
    const m = buildManifest(evil, { mode: "ed25519" });
    const node = net.node(5)!;
    node.receive(encodeFrame({ type: FRAME_ADV, version: 9, configId: h.configId, blocks: h.blocks }), 999);
    for (let i = 0; i * 96 < m.length; i++) node.receive(encodeFrame({ type: FRAME_DATA, version: 9, segment: i, payload: m.slice(i * 96, (i + 1) * 96) }), 999);
    const motes = await json("/vm/motes");
    expect(motes[4].rejections[0]).toMatchObject({ reason: "bad-signature", version: 9, from: 999 });
    expect(motes[4].version).toBe(2);
    const text = formatStatus(u, await json("/vm"), motes);
    expect(text).toMatch(/mote 5: bad-signature: the manifest's Ed25519 signature does not verify with the network key \(version 9\) from mote 999/);
    expect(text).toMatch(/4\.09 rollback: version 2 is not newer than the installed version 2/);
  });
});

describe("observing large documents", () => {
  it("/vm/motes of a network too big for one notification falls back to a plain block-wise GET (RFC 7641 §4.1)", async () => {
    const big = new SimNetwork({
      initial: init.capsule!, config: init.config!, nodes: 64, topology: "grid", loss: 0, seed: 1,
      auth: { mode: "ed25519", publicKey: key.publicKey }, publicKey: key.publicKey, realtime: false,
    });
    const g = new Gateway({ network: big, publicKey: key.publicKey, port: 0, address: "::1" });
    const bu = `coap://[::1]:${await g.start()}`;
    try {
      const seen: Buffer[] = [];
      const obs = coapObserve(`${bu}/vm/motes`, (p) => seen.push(p));
      const r = await obs.first;
      obs.close();
      expect(r.code).toBe("2.05");
      expect(r.headers.Observe).toBeUndefined();
      const small = coapObserve(`${bu}/vm`, () => {});
      const s = await small.first;
      small.close();
      expect(s.headers.Observe).toBeDefined();
      const all = await coapRequest(`${bu}/vm/motes`);
      expect(JSON.parse(all.payload.toString()).length).toBe(64);
    } finally {
      await g.close();
      big.close();
    }
  });
});
