/**
 * Dissemination reaches every connected mote: 0/20/40 % loss, grid and random
 * topologies, Ed25519 and PSK networks, successive versions; the acceptance
 * configuration (400 motes, 20x20 grid, 20 % loss, 1 KB) under CSMA with
 * collisions, against flooding.
 */
import { describe, expect, it } from "vitest";
import { FRAME_ADV, FRAME_DATA, FRAME_FLOOD, FRAME_REQ } from "../components/dissemination";
import { capsule, testNet, versions } from "./helpers/net";

const T0 = 2000;

describe("convergence", () => {
  for (const loss of [0, 0.2, 0.4]) {
    for (const topology of ["grid", "random"] as const) {
      it(`100 motes, ${topology}, ${loss * 100} % loss: every connected mote installs the 1 KB capsule`, () => {
        const net = testNet({ n: 100, topology, loss, seed: 3 });
        const cap = capsule(2, 1024);
        net.deploy(T0, cap);
        const t = net.tb.runUntil(() => net.allCovered(2, net.reach), 300_000);
        expect(t, JSON.stringify(versions(net))).toBeDefined();
        expect(net.violations).toEqual([]);
        // each mote installed it exactly once, and from then on runs it
        for (const m of net.tb.motes) if (net.reach[m.index]) expect(m.installs.filter((i) => i.version === 2).length).toBe(1);
        const installed = net.tb.motes.filter((m) => net.reach[m.index]).map((m) => net.dnode(m.id).installed!);
        for (const c of installed) expect(Buffer.from(c).equals(Buffer.from(cap))).toBe(true);
      });
    }
  }

  it("a PSK network (HMAC-SHA-256 tags) converges at 20 % loss and installs the same signed bytes", () => {
    const net = testNet({ n: 64, loss: 0.2, auth: "psk", seed: 5 });
    const cap = capsule(7, 2000);
    net.deploy(T0, cap);
    expect(net.tb.runUntil(() => net.allCovered(7, net.reach), 300_000)).toBeDefined();
    expect(net.violations).toEqual([]);
    expect(Buffer.from(net.dnode(64).installed!).equals(Buffer.from(cap))).toBe(true);
  });

  it("successive versions: a newer one overtakes an older one still spreading; nobody installs an older one afterwards", () => {
    const net = testNet({ n: 49, loss: 0.2, seed: 9 });
    net.deploy(T0, capsule(2, 600));
    net.deploy(T0 + 1500, capsule(3, 900));
    expect(net.tb.runUntil(() => net.allCovered(3, net.reach), 300_000)).toBeDefined();
    expect(net.violations).toEqual([]);
    for (const m of net.tb.motes) {
      const vs = m.installs.map((i) => i.version);
      expect([...vs].sort()).toEqual(vs); // monotonic
    }
  });

  it("a steady network sends few frames: Trickle's interval grows to Imax", () => {
    const net = testNet({ n: 25, loss: 0, seed: 2 });
    net.deploy(T0, capsule(2, 300));
    const t = net.tb.runUntil(() => net.allCovered(2), 60_000)!;
    net.tb.run(t + 300_000);
    const before = net.tb.framesSent;
    net.tb.run(t + 600_000);
    const perMotePerMinute = (net.tb.framesSent - before) / 25 / 5;
    expect(perMotePerMinute).toBeLessThan(1.5);
    for (const m of net.tb.motes) expect(net.dnode(m.id).trickleInterval).toBe(64_000);
  });

  it("acceptance: 1 KB to all 400 motes of a 20x20 grid at 20 % loss (CSMA, collisions) in <= 60 s with <= 0.3x the frames of flooding", () => {
    const run = (protocol: "trickle" | "flood") => {
      const net = testNet({ n: 400, loss: 0.2, seed: 1, mac: "csma", protocol });
      net.deploy(T0, capsule(2, 1024));
      net.tb.run(T0);
      const f0 = net.tb.framesSent;
      const t = net.tb.runUntil(() => net.allCovered(2), 400_000, 100);
      expect(net.violations).toEqual([]);
      return { s: t === undefined ? Infinity : (t - T0) / 1000, frames: (net.tb.framesSent - f0) / 400, by: net.tb.framesByType() };
    };
    const tr = run("trickle");
    const fl = run("flood");
    expect(tr.s).toBeLessThanOrEqual(60);
    expect(tr.frames).toBeLessThanOrEqual(0.3 * fl.frames);
    expect(tr.by.get(FRAME_FLOOD)).toBeUndefined();
    expect((tr.by.get(FRAME_ADV) ?? 0) + (tr.by.get(FRAME_REQ) ?? 0) + (tr.by.get(FRAME_DATA) ?? 0)).toBeGreaterThan(0);
    console.log(`acceptance: trickle ${tr.s} s, ${tr.frames.toFixed(1)} frames/mote; flooding ${fl.s} s, ${fl.frames.toFixed(1)} frames/mote`);
  });
});
