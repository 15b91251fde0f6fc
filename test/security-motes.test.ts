/**
 * Attacks at the motes of a simulated network: forged manifests, tampered
 * blocks, replayed and oversized capsules, capsules of another VM
 * configuration, unsigned or tampered capsules injected at the base station.
 * None is ever installed or run; each leaves a rejection with its reason
 * (what `terra status` and the `terra sim` summary show).
 */
import { describe, expect, it } from "vitest";
import {
  BROADCAST, encodeFrame, FRAME_ADV, FRAME_DATA, MANIFEST_CHUNK_BYTES, type RejectionRecord,
} from "../components/dissemination";
import { blockTag, buildManifest, generateNetworkKey, parseHeader, signCapsuleWith } from "../components/security";
import { syntheticCapsule } from "../components/dissemination";
import { capsule, CFG, KEYS, OTHER_CFG, PSK, type TestNet, testNet } from "./helpers/net";

const T0 = 2000;
const ATTACKER = 999;

/** The attacker's radio: frames heard by the given motes (as if in range). */
function air(net: TestNet, victims: number[], frame: Uint8Array): void {
  for (const id of victims) if (net.up(id)) net.dnode(id).receive(frame, ATTACKER);
}

/** Version installed at mote `id`. */
const version = (net: TestNet, id: number) => net.diss.version(net.index(id));

/** Advertise a capsule's version and push its manifest and blocks, unsolicited. */
function push(net: TestNet, victims: number[], cap: Uint8Array, opts: { mode?: "ed25519" | "psk"; tamper?: (block: number, p: Uint8Array) => Uint8Array; manifest?: Uint8Array } = {}): void {
  const mode = opts.mode ?? "ed25519";
  const h = parseHeader(cap);
  air(net, victims, encodeFrame({ type: FRAME_ADV, version: h.programVersion, configId: h.configId, blocks: h.blocks }));
  const man = opts.manifest ?? buildManifest(cap, { mode, psk: PSK });
  const chunks = Math.ceil(man.length / MANIFEST_CHUNK_BYTES);
  const segs: Uint8Array[] = [];
  for (let i = 0; i < chunks; i++) segs.push(man.slice(i * MANIFEST_CHUNK_BYTES, (i + 1) * MANIFEST_CHUNK_BYTES));
  for (let j = 0; j < h.blocks; j++) {
    const b = cap.slice(j * h.blockBytes, Math.min(h.unsignedBytes, (j + 1) * h.blockBytes));
    segs.push(mode === "psk" ? Uint8Array.from([...b, ...blockTag(PSK, h, j, b)]) : b);
  }
  segs.forEach((p, seg) => air(net, victims, encodeFrame({ type: FRAME_DATA, version: h.programVersion, segment: seg, payload: opts.tamper && seg >= chunks ? opts.tamper(seg - chunks, p) : p })));
}

function reasons(net: TestNet, ids: number[]): string[] {
  return [...new Set(ids.flatMap((id) => net.diss.rejectionsOf(net.index(id)).map((r: RejectionRecord) => r.reason)))];
}

const VICTIMS = [5, 6, 7, 10, 11, 12];

describe("attacks at the motes", () => {
  it("a manifest signed by another key is rejected (bad-signature); nothing is installed", () => {
    const net = testNet({ n: 16, loss: 0, seed: 2 });
    const rogue = generateNetworkKey();
    const evil = capsule(50, 500, { key: rogue });
    net.run(1000);
    push(net, VICTIMS, evil);
    net.run(30_000);
    for (let id = 1; id <= 16; id++) expect(version(net, id)).toBe(1);
    for (let i = 0; i < 16; i++) expect(net.sim.vm(i)!.capsule.programVersion).toBe(1);
    expect(reasons(net, VICTIMS)).toEqual(["bad-signature"]);
    expect(net.violations).toEqual([]);
    // the network still takes the genuine next version
    net.deploy(31_000, capsule(2, 500));
    expect(net.runUntil(() => net.allCovered(2), 120_000)).toBeDefined();
  });

  it("a forged manifest cannot pin motes to a fake version: the genuine one still arrives", () => {
    const net = testNet({ n: 16, loss: 0.1, seed: 3 });
    // an advertisement of a huge version nobody holds, then the genuine deployment
    net.run(1000);
    air(net, VICTIMS, encodeFrame({ type: FRAME_ADV, version: 0xfffffff0, configId: CFG, blocks: 9 }));
    net.deploy(T0, capsule(2, 800));
    expect(net.runUntil(() => net.allCovered(2), 200_000)).toBeDefined();
    expect(net.violations).toEqual([]);
  });

  it("tampered blocks are rejected (tampered) and never relayed; the genuine blocks complete the capsule", () => {
    const net = testNet({ n: 16, loss: 0, seed: 4 });
    const cap = capsule(2, 2000);
    net.deploy(T0, cap);
    // the attacker replays the genuine manifest but flips one byte of every block, at the same time
    net.run(T0 + 1);
    push(net, VICTIMS, cap, { tamper: (_j, p) => Uint8Array.from(p, (x, i) => (i === 5 ? x ^ 1 : x)) });
    expect(net.runUntil(() => net.allCovered(2), 120_000)).toBeDefined();
    expect(net.violations).toEqual([]);
    const tampered = VICTIMS.reduce((a, id) => a + net.dnode(id).stats.tamperedBlocks, 0);
    expect(tampered).toBeGreaterThan(0);
    expect(reasons(net, VICTIMS)).toContain("tampered");
    for (const id of VICTIMS) expect(Buffer.from(net.dnode(id).installed!).equals(Buffer.from(cap))).toBe(true);
  });

  it("tampered blocks with forged tags in a PSK network are rejected", () => {
    const net = testNet({ n: 9, loss: 0, seed: 5, auth: "psk" });
    const cap = capsule(2, 700);
    net.deploy(T0, cap);
    net.run(T0 + 1);
    push(net, [5, 6], cap, { mode: "psk", tamper: (_j, p) => Uint8Array.from(p, (x, i) => (i === 0 ? x ^ 0x80 : x)) });
    expect(net.runUntil(() => net.allCovered(2), 120_000)).toBeDefined();
    expect(net.violations).toEqual([]);
    expect(reasons(net, [5, 6])).toContain("tampered");
  });

  it("a replayed older version is ignored by motes and refused by the base station (rollback)", () => {
    const net = testNet({ n: 16, loss: 0, seed: 6 });
    const v2 = capsule(2, 600);
    const v3 = capsule(3, 600);
    net.deploy(T0, v2);
    net.deploy(T0 + 10_000, v3);
    net.runUntil(() => net.allCovered(3), 120_000);
    push(net, VICTIMS, v2);
    net.run(net.now + 20_000);
    for (let id = 1; id <= 16; id++) expect(version(net, id)).toBe(3);
    expect(net.diss.inject(v2)).toMatchObject({ reason: "rollback" });
    expect(net.diss.inject(v3)).toMatchObject({ reason: "rollback" });
    expect(net.dnode(1).rejections.map((r) => r.reason)).toEqual(["rollback", "rollback"]);
    expect(net.diss.injections.map((j) => j.outcome)).toEqual(["accepted", "accepted", "refused", "refused"]);
    expect(net.violations).toEqual([]);
  });

  it("a genuine capsule larger than a mote's script space is refused by that mote (too-large), once", () => {
    // motes 5 and 6 are MicaZ-sized (1920 bytes of script space)
    const net = testNet({ n: 16, loss: 0, seed: 7, scriptSpaceOf: (id) => (id === 5 || id === 6 ? 1920 : 65535) });
    net.deploy(T0, capsule(2, 3000));
    net.run(60_000);
    expect(net.dnode(5).installedVersion).toBe(1);
    expect(net.dnode(6).installedVersion).toBe(1);
    expect(net.dnode(16).installedVersion).toBe(2);
    expect(net.dnode(5).rejections.map((r) => r.reason)).toEqual(["too-large"]);
    expect(net.violations).toEqual([]);
  });

  it("a capsule of another VM configuration is refused at the base station (wrong-config) and ignored by motes", () => {
    const net = testNet({ n: 9, loss: 0, seed: 8 });
    const other = capsule(4, 500, { configId: OTHER_CFG });
    expect(net.diss.inject(other)).toMatchObject({ reason: "wrong-config" });
    net.run(1000);
    push(net, [5], other);
    net.run(20_000);
    expect(net.dnode(5).installedVersion).toBe(1);
    expect(net.dnode(5).stats.otherConfig).toBeGreaterThan(0);
  });

  it("the base station refuses unsigned, tampered, re-versioned and oversized capsules with precise reasons", () => {
    const net = testNet({ n: 4, loss: 0, seed: 9, scriptSpaceOf: () => 4000 });
    const raw = syntheticCapsule({ bytes: 500, configId: CFG, version: 2 });
    expect(net.diss.inject(raw)).toMatchObject({ reason: "unsigned" });
    const good = signCapsuleWith(raw, KEYS.privateKey);
    const body = good.slice();
    body[100] ^= 1;
    expect(net.diss.inject(body)).toMatchObject({ reason: "tampered" });
    const reversioned = good.slice();
    reversioned[4] = 9; // version 9 without a new signature
    expect(net.diss.inject(reversioned)).toMatchObject({ reason: "bad-signature" });
    expect(net.diss.inject(capsule(2, 5000))).toMatchObject({ reason: "too-large" });
    expect(net.diss.inject(good.slice(0, 300))).toMatchObject({ reason: "malformed" });
    expect(net.sim.vm(0)!.capsule.programVersion).toBe(1); // nothing refused ran
    expect(net.diss.inject(good)).toBeUndefined();
    expect(net.sim.vm(0)!.capsule.programVersion).toBe(2);
    for (let id = 2; id <= 4; id++) expect(version(net, id)).toBe(1);
  });

  it("malformed frames are counted and dropped", () => {
    const net = testNet({ n: 4, loss: 0, seed: 10 });
    air(net, [2], Uint8Array.of(0xd1, 1, 2));
    air(net, [2], Uint8Array.of(0x42));
    air(net, [2], new Uint8Array(200));
    air(net, [2], encodeFrame({ type: FRAME_DATA, version: 77, segment: 3, payload: Uint8Array.of(1) }));
    expect(net.dnode(2).stats.malformed).toBe(3);
    expect(BROADCAST).toBe(0xffff);
  });
});
