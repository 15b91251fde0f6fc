/**
 * Frames (byte-exact layouts of docs/dissemination.md), decoding of arbitrary
 * bytes (never throws), and the Trickle timer (RFC 6206 §4.2 rules).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ADV_BYTES, decodeFrame, encodeFrame, FRAME_ADV, FRAME_DATA, FRAME_FLOOD, FRAME_REQ, type Frame, MAC_OVERHEAD_BYTES, manifestChunks,
  MAX_BITMAP_BYTES, MAX_BLOCK_BYTES, MAX_FRAME_BYTES, MANIFEST_CHUNK_BYTES, Trickle,
} from "../components/dissemination";
import { manifestBytes, TAG_BYTES } from "../components/security";
import { Rng } from "../components/sim/rng";
import { ManualClock } from "./helpers/adversary";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("frames", () => {
  it("ADV, REQ, DATA and FLOOD have the documented byte layouts (little-endian)", () => {
    expect(hex(encodeFrame({ type: FRAME_ADV, version: 0x01020304, configId: 0xa1b2c3d4, blocks: 0x0102 }))).toBe("d1" + "04030201" + "d4c3b2a1" + "0201");
    expect(hex(encodeFrame({ type: FRAME_REQ, version: 7, target: 0x0203, first: 0x0010, bitmap: Uint8Array.of(0x81, 0x01) }))).toBe("d2" + "07000000" + "0302" + "1000" + "02" + "8101");
    expect(hex(encodeFrame({ type: FRAME_DATA, version: 9, segment: 0x0304, payload: Uint8Array.of(0xaa, 0xbb) }))).toBe("d3" + "09000000" + "0403" + "aabb");
    expect(hex(encodeFrame({ type: FRAME_FLOOD, round: 0x0102, version: 9, configId: 1, blocks: 3, segment: 4, payload: Uint8Array.of(0xcc) }))).toBe("d4" + "0201" + "09000000" + "01000000" + "0300" + "0400" + "cc");
    expect(ADV_BYTES).toBe(11);
  });

  it("every frame fits an IEEE 802.15.4 frame of 127 bytes with the MAC overhead", () => {
    expect(MAX_FRAME_BYTES + MAC_OVERHEAD_BYTES).toBe(127);
    // the largest DATA: a manifest chunk, or a block of MAX_BLOCK_BYTES with its PSK tag
    expect(encodeFrame({ type: FRAME_DATA, version: 1, segment: 1, payload: new Uint8Array(Math.max(MANIFEST_CHUNK_BYTES, MAX_BLOCK_BYTES + TAG_BYTES)) }).length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(encodeFrame({ type: FRAME_FLOOD, round: 1, version: 1, configId: 1, blocks: 1, segment: 1, payload: new Uint8Array(Math.max(MANIFEST_CHUNK_BYTES, MAX_BLOCK_BYTES + TAG_BYTES)) }).length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(encodeFrame({ type: FRAME_REQ, version: 1, target: 1, first: 0, bitmap: new Uint8Array(MAX_BITMAP_BYTES) }).length).toBe(MAX_FRAME_BYTES);
    expect(() => encodeFrame({ type: FRAME_DATA, version: 1, segment: 1, payload: new Uint8Array(MAX_FRAME_BYTES) })).toThrow(RangeError);
  });

  it("manifest chunk counts follow the manifest sizes of both modes", () => {
    expect(manifestBytes("ed25519", 17)).toBe(56 + 8 * 17 + 65);
    expect(manifestChunks("ed25519", 17)).toBe(3);
    expect(manifestBytes("psk", 17)).toBe(56 + 65 + 8);
    expect(manifestChunks("psk", 500)).toBe(2);
  });

  it("property: valid frames round-trip through encode/decode", () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const frame: fc.Arbitrary<Frame> = fc.oneof(
      fc.record({ type: fc.constant(FRAME_ADV), version: u32, configId: u32, blocks: u16 }),
      fc.record({ type: fc.constant(FRAME_REQ), version: u32, target: u16, first: u16, bitmap: fc.uint8Array({ minLength: 1, maxLength: MAX_BITMAP_BYTES }) }),
      fc.record({ type: fc.constant(FRAME_DATA), version: u32, segment: u16, payload: fc.uint8Array({ minLength: 1, maxLength: MAX_FRAME_BYTES - 7 }) }),
      fc.record({ type: fc.constant(FRAME_FLOOD), round: u16, version: u32, configId: u32, blocks: u16, segment: u16, payload: fc.uint8Array({ minLength: 1, maxLength: MAX_FRAME_BYTES - 15 }) }),
    ) as fc.Arbitrary<Frame>;
    fc.assert(fc.property(frame, (f) => {
      const d = decodeFrame(encodeFrame(f));
      expect(d).toEqual(f);
    }), { numRuns: 500 });
  });

  it("property: arbitrary bytes decode to a frame or a reason, never an exception", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 140 }), fc.constantFrom(0xd1, 0xd2, 0xd3, 0xd4, 0x00), (b, t) => {
      const bytes = b.length ? Uint8Array.from([t, ...b.subarray(1)]) : b;
      const d = decodeFrame(bytes);
      if (typeof d !== "string") expect(encodeFrame(d)).toEqual(bytes);
    }), { numRuns: 1000 });
    expect(decodeFrame(new Uint8Array(0))).toBe("empty frame");
    expect(decodeFrame(Uint8Array.of(0xd2, 0, 0, 0, 0, 0, 0, 0, 0, 5, 1))).toMatch(/bitmap/);
  });
});

describe("Trickle (RFC 6206)", () => {
  it("transmits once per interval at t in [I/2, I), doubling I up to Imax", () => {
    const c = new ManualClock();
    const sent: number[] = [];
    const t = new Trickle(c, new Rng(3), { iminMs: 100, imaxMs: 800, k: 1 }, () => sent.push(c.now()));
    t.start();
    c.runUntil(100 + 200 + 400 + 800 + 800);
    // intervals [0,100) [100,300) [300,700) [700,1500) [1500,2300)
    const bounds = [[50, 100], [200, 300], [500, 700], [1100, 1500], [1900, 2300]];
    expect(sent.length).toBe(5);
    sent.forEach((s, i) => {
      expect(s).toBeGreaterThanOrEqual(bounds[i][0]);
      expect(s).toBeLessThan(bounds[i][1]);
    });
    expect(t.interval).toBe(800);
  });

  it("k consistent transmissions heard before t suppress it", () => {
    const c = new ManualClock();
    let sent = 0;
    const t = new Trickle(c, new Rng(5), { iminMs: 1000, imaxMs: 1000, k: 2 }, () => sent++);
    t.start();
    t.consistent();
    c.runUntil(999);
    expect(sent).toBe(1); // c = 1 < k = 2
    c.runUntil(1001);
    t.consistent();
    t.consistent();
    c.runUntil(1999);
    expect(sent).toBe(1);
    expect(t.suppressed).toBe(1);
  });

  it("an inconsistency resets I to Imin (and does nothing when I is Imin)", () => {
    const c = new ManualClock();
    const t = new Trickle(c, new Rng(7), { iminMs: 100, imaxMs: 6400, k: 1 }, () => {});
    t.start();
    c.runUntil(10_000);
    expect(t.interval).toBe(6400);
    t.inconsistent();
    expect(t.interval).toBe(100);
    t.inconsistent();
    expect(t.interval).toBe(100);
    expect(() => new Trickle(c, new Rng(1), { iminMs: 100, imaxMs: 50, k: 1 }, () => {})).toThrow(/Imin/);
  });
});
