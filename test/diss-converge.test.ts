/**
 * Dissemination in the network simulator reaches every connected mote: 0/20/40 %
 * loss, grid and random topologies, Ed25519 and PSK networks, successive
 * versions, with the script's own radio traffic on the same air; the
 * acceptance configuration (400 motes, 20x20 grid, 20 % loss, 1 KB) against
 * naive flooding in the same simulator.
 */
import { describe, expect, it } from "vitest";
import { signCapsuleWith } from "../components/security";
import { capsule, KEYS, testNet, versions } from "./helpers/net";
import { mustBuild } from "./helpers/script";

const T0 = 2000;

describe("convergence in the simulator", () => {
  for (const loss of [0, 0.2, 0.4]) {
    for (const topology of ["grid", "random"] as const) {
      it(`100 motes, ${topology}, ${loss * 100} % loss: every connected mote installs the 1 KB capsule and runs it`, () => {
        const net = testNet({ n: 100, topology, loss, seed: 3 });
        const cap = capsule(2, 1024);
        net.deploy(T0, cap);
        const t = net.runUntil(() => net.allCovered(2), 300_000);
        expect(t, JSON.stringify(versions(net))).toBeDefined();
        expect(net.violations).toEqual([]);
        for (let i = 0; i < net.sim.n; i++) {
          if (!net.reach[i]) continue;
          // installed exactly once, the deployed bytes, and the mote's VM runs that program
          expect(net.diss.installs.filter((x) => x.node === net.sim.ids[i] && x.version === 2).length).toBe(1);
          expect(Buffer.from(net.diss.node(i)!.installed!).equals(Buffer.from(cap))).toBe(true);
          expect(net.sim.vm(i)!.capsule.programVersion).toBe(2);
        }
        expect(net.diss.progress()).toMatchObject({ version: 2, installed: net.diss.progress()!.reachable, coverageMs: t === undefined ? null : expect.any(Number) });
      });
    }
  }

  it("a PSK network (HMAC-SHA-256 tags) converges at 20 % loss and installs the same signed bytes", () => {
    const net = testNet({ n: 64, loss: 0.2, auth: "psk", seed: 5 });
    const cap = capsule(7, 2000);
    net.deploy(T0, cap);
    expect(net.runUntil(() => net.allCovered(7), 300_000)).toBeDefined();
    expect(net.violations).toEqual([]);
    expect(Buffer.from(net.dnode(64).installed!).equals(Buffer.from(cap))).toBe(true);
  });

  it("successive versions: a newer one overtakes an older one still spreading; nobody installs an older one afterwards", () => {
    const net = testNet({ n: 49, loss: 0.2, seed: 9 });
    net.deploy(T0, capsule(2, 600));
    net.deploy(T0 + 1500, capsule(3, 900));
    expect(net.runUntil(() => net.allCovered(3), 300_000)).toBeDefined();
    expect(net.violations).toEqual([]);
    for (let i = 0; i < net.sim.n; i++) {
      const vs = net.diss.installs.filter((x) => x.node === net.sim.ids[i]).map((x) => x.version);
      expect([...vs].sort()).toEqual(vs); // monotonic
    }
  });

  it("dissemination shares the air with the script's own traffic: frames collide, the capsule still arrives", () => {
    const chatty = mustBuild(`#include "TerraNet.defs"
var radioMsg m;
m.type = 7;
m.source = getNodeId();
m.target = BROADCAST;
loop do
    await 40ms;
    emit SEND(m);
    await SEND_DONE;
end
`);
    const v1 = signCapsuleWith(chatty.capsule!, KEYS.privateKey);
    const quiet = testNet({ n: 49, loss: 0.1, seed: 4 });
    const busy = testNet({ n: 49, loss: 0.1, seed: 4, initial: v1 });
    const run = (net: typeof quiet) => {
      net.deploy(T0, capsule(2, 1024));
      const t = net.runUntil(() => net.allCovered(2), 300_000);
      expect(net.violations).toEqual([]);
      return { t: t!, collisions: net.sim.radio.stats.collisions };
    };
    const a = run(quiet), b = run(busy);
    expect(b.t).toBeDefined();
    expect(b.collisions).toBeGreaterThan(2 * a.collisions);
    // the script's frames kept going out until the new program (which halts) replaced it
    expect(busy.sim.radio.stats.frames_sent - busy.diss.frames().total).toBeGreaterThan(49 * 20);
  });

  it("a steady network sends few frames: Trickle's interval grows to Imax", () => {
    const net = testNet({ n: 25, loss: 0, seed: 2 });
    net.deploy(T0, capsule(2, 300));
    const t = net.runUntil(() => net.allCovered(2), 60_000)!;
    net.run(t + 300_000);
    const before = net.diss.frames().total;
    net.run(t + 600_000);
    const perMotePerMinute = (net.diss.frames().total - before) / 25 / 5;
    expect(perMotePerMinute).toBeLessThan(1.5);
    for (let i = 0; i < 25; i++) expect((net.diss.node(i) as { trickleInterval: number }).trickleInterval).toBe(64_000);
  });

  it("acceptance: 1 KB to all 400 motes of a 20x20 grid at 20 % loss in <= 60 s with <= 0.3x the frames of naive flooding", () => {
    const run = (protocol: "trickle" | "flood") => {
      const net = testNet({ n: 400, loss: 0.2, seed: 1, protocol, bootJitterMs: 1000 });
      net.deploy(T0, capsule(2, 1024));
      const t = net.runUntil(() => net.diss.progress()?.coverageMs != null, T0 + 300_000, 1000);
      expect(net.violations).toEqual([]);
      const p = net.diss.progress()!;
      const f = net.diss.deploymentFrames()!;
      return { s: t === undefined ? Infinity : (p.coverageMs! - T0) / 1000, frames: f.total / 400, f };
    };
    const tr = run("trickle");
    const fl = run("flood");
    expect(tr.s).toBeLessThanOrEqual(60);
    expect(tr.frames).toBeLessThanOrEqual(0.3 * fl.frames);
    expect(tr.f.flood).toBe(0);
    expect(fl.f.adv + fl.f.req + fl.f.data).toBe(0);
    console.log(`acceptance (simulator): trickle ${tr.s} s, ${tr.frames.toFixed(1)} frames/mote; flooding ${fl.s} s, ${fl.frames.toFixed(1)} frames/mote`);
  });
});
