/**
 * Churn and partitions in the simulator: motes rebooting mid-transfer resume
 * from what they persisted (re-verified) and never run a partial capsule;
 * the old program runs until the new one is complete, then the VM switches
 * in one step; a network cut in two by motes that are off converges once
 * they come back; persistence across reboots (memory and file stores).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DissNode, FileStore, KEY_INSTALLED, KEY_MANIFEST } from "../components/dissemination";
import { Rng } from "../components/sim/rng";
import { ManualClock } from "./helpers/adversary";
import { capsule, CFG, churn, KEYS, testNet, versions } from "./helpers/net";

const T0 = 2000;

describe("churn", () => {
  for (const loss of [0, 0.2, 0.4]) {
    it(`motes rebooting mid-transfer (${loss * 100} % loss) resume, converge, and install only complete verified capsules`, () => {
      const net = testNet({ n: 100, loss, seed: 11 });
      const cap = capsule(2, 4096);
      net.deploy(T0, cap);
      const rng = new Rng(42);
      const resumed: { id: number; before: number; after: number }[] = [];
      const down: { id: number; at: number; before?: number }[] = [];
      // for 20 s, every 100 ms: motes caught mid-transfer power off with probability 0.2 (off for 0.2..3 s), plus one random mote
      const t = net.runUntil(() => {
        const now = net.now;
        for (const d of down.filter((x) => x.at <= now)) {
          net.sim.power(net.index(d.id), true);
          if (d.before !== undefined) resumed.push({ id: d.id, before: d.before, after: net.dnode(d.id).receiving?.have ?? Infinity }); // Infinity: it completed at boot
          down.splice(down.indexOf(d), 1);
        }
        if (now > T0 && now < T0 + 20_000) {
          const victims: number[] = [];
          for (let id = 2; id <= 100; id++) {
            const r = net.up(id) ? net.dnode(id).receiving : undefined;
            if (r && r.manifest && r.have > r.segments / 4 && r.have < (3 * r.segments) / 4 && rng.next() < 0.2) victims.push(id);
          }
          const any = 2 + Math.floor(rng.next() * 99);
          if (net.up(any) && !victims.includes(any)) victims.push(any);
          for (const id of victims) {
            const r = net.dnode(id).receiving;
            down.push({ id, at: now + 200 + rng.next() * 2800, before: r?.manifest ? r.have : undefined });
            net.sim.power(net.index(id), false);
          }
        }
        return now > T0 + 25_000 && down.length === 0 && net.allCovered(2);
      }, 400_000, 100);
      expect(t, JSON.stringify(versions(net))).toBeDefined();
      expect(net.violations).toEqual([]);
      // right after power-on each of them held at least the verified segments it had before
      expect(resumed.length).toBeGreaterThan(10);
      for (const r of resumed) expect(r.after).toBeGreaterThanOrEqual(r.before);
      for (let id = 1; id <= 100; id++) expect(net.diss.installs.filter((x) => x.node === id && x.version === 2).length).toBeLessThanOrEqual(1);
      // every mote that installed it runs it
      for (let i = 0; i < 100; i++) expect(net.sim.vm(i)!.capsule.programVersion).toBe(2);
    });
  }

  it("churn from a schedule (reboots and stops during the transfer) at 20 % loss: every mote on at the end converges", () => {
    const actions = [];
    for (let k = 0; k < 40; k++) actions.push(churn(T0 + 500 + k * 300, "reboot", 2 + ((k * 37) % 99)));
    actions.push(churn(T0 + 1000, "stop", 55), churn(T0 + 30_000, "start", 55));
    const net = testNet({ n: 100, loss: 0.2, seed: 12, churn: actions });
    net.deploy(T0, capsule(2, 2048));
    expect(net.runUntil(() => net.now > T0 + 30_000 && net.allCovered(2), 300_000)).toBeDefined();
    expect(net.violations).toEqual([]);
    expect(net.sim.boots[net.index(2)]).toBeGreaterThan(1);
  });

  it("a rebooted mote restores its verified blocks from the store instead of fetching them again", () => {
    const net = testNet({ n: 9, topology: "line", loss: 0, seed: 4 });
    net.deploy(T0, capsule(2, 4096));
    // stop when mote 5 has some blocks but not all
    net.runUntil(() => {
      const r = net.dnode(5).receiving;
      return !!r && r.manifest && r.have > 10 && r.have < r.segments - 10;
    }, 120_000, 5);
    const before = net.dnode(5).receiving!;
    const i = net.index(5);
    expect(net.diss.stores[i].keys()).toContain(KEY_MANIFEST);
    const vmBefore = net.sim.vm(i);
    net.sim.power(i, false);
    net.sim.power(i, true);
    const after = net.dnode(5).receiving!;
    expect(after).toMatchObject({ version: 2, manifest: true, have: before.have });
    expect(net.dnode(5).installedVersion).toBe(1); // still the old program
    expect(net.sim.vm(i)).not.toBe(vmBefore); // rebooted...
    expect(net.sim.vm(i)!.capsule.programVersion).toBe(1); // ...on the old program, not on a part of the new one
    expect(net.runUntil(() => net.allCovered(2), 120_000)).toBeDefined();
    expect(net.violations).toEqual([]);
  });

  it("the old program keeps running until the whole capsule is verified, then the VM switches in one step", () => {
    const net = testNet({ n: 16, loss: 0.3, seed: 8 });
    const first = Array.from({ length: 16 }, (_, i) => net.sim.vm(i));
    net.deploy(T0, capsule(2, 2048));
    const switched = new Set<number>();
    // sample every 10 ms: each mote runs its first VM (version 1) until it has version 2, then another VM on version 2
    const ok = net.runUntil(() => {
      for (let i = 0; i < 16; i++) {
        const vm = net.sim.vm(i)!;
        if (net.diss.version(i) === 1) {
          expect(vm).toBe(first[i]);
          expect(vm.halted).toBe(false);
        } else {
          expect(vm).not.toBe(first[i]);
          expect(vm.capsule.programVersion).toBe(2);
          switched.add(i);
        }
      }
      return net.allCovered(2);
    }, 120_000, 10);
    expect(ok).toBeDefined();
    expect(switched.size).toBe(16);
    expect(net.violations).toEqual([]);
  });
});

describe("partitions", () => {
  it("a grid cut in two by a column of motes that are off converges after they come back", () => {
    // column 5 of the 10x10 grid (10 m apart, 15 m range) is off during [1 s, 60 s): columns 6..9 hear nobody of 0..4
    const wall = Array.from({ length: 10 }, (_, r) => r * 10 + 5);
    const net = testNet({ n: 100, loss: 0.2, seed: 13, churn: [...wall.map((id) => churn(1000, "stop", id)), ...wall.map((id) => churn(60_000, "start", id))] });
    net.deploy(T0, capsule(2, 1024));
    net.run(59_000);
    for (let id = 1; id <= 100; id++) {
      const col = (id - 1) % 10;
      if (col === 4) expect(net.up(id)).toBe(false);
      else expect(net.diss.version(net.index(id))).toBe(col < 4 ? 2 : 1);
    }
    const t = net.runUntil(() => net.allCovered(2), 200_000);
    expect(t).toBeDefined();
    expect(t! - 60_000).toBeLessThan(40_000);
    expect(net.violations).toEqual([]);
  });

  it("two halves that each received a different version converge to the newest", () => {
    const wall = Array.from({ length: 6 }, (_, r) => r * 6 + 4);
    const net = testNet({ n: 36, loss: 0.1, seed: 17, churn: [...wall.map((id) => churn(1000, "stop", id)), ...wall.map((id) => churn(30_000, "start", id))] });
    net.deploy(T0, capsule(2, 700));
    net.run(20_000);
    // the far side gets version 3 from a second gateway mote (36) while cut off
    const v3 = capsule(3, 900);
    net.legit.add(Buffer.from(v3).toString("hex"));
    expect(net.dnode(36).inject(v3)).toBeUndefined();
    net.run(29_000);
    expect(net.dnode(1).installedVersion).toBe(2);
    expect(net.dnode(35).installedVersion).toBe(3);
    expect(net.runUntil(() => net.allCovered(3), 200_000)).toBeDefined();
    expect(net.violations).toEqual([]);
  });
});

describe("persistence", () => {
  it("a host mote with a file store keeps its installed capsule and partial transfer across restarts", () => {
    const dir = mkdtempSync(join(tmpdir(), "terra-store-"));
    try {
      const cap = capsule(5, 1500);
      const store = new FileStore(dir);
      const mk = () => new DissNode({ id: 1, configId: CFG, scriptSpace: 65535, auth: { mode: "ed25519", publicKey: KEYS.publicKey }, store: new FileStore(dir), clock: new ManualClock(), rng: new Rng(1), radio: { send() {} } });
      const a = mk();
      a.boot();
      expect(a.inject(cap)).toBeUndefined();
      a.stop();
      expect(store.keys()).toContain(KEY_INSTALLED);
      const b = mk();
      b.boot();
      expect(b.installedVersion).toBe(5);
      expect(Buffer.from(b.installed!).equals(Buffer.from(cap))).toBe(true);
      // a corrupted installed record is discarded at boot, never run
      const bad = store.get(KEY_INSTALLED)!;
      bad[bad.length - 70] ^= 1;
      store.set(KEY_INSTALLED, bad);
      const c = mk();
      c.boot();
      expect(c.installedVersion).toBe(0);
      expect(c.stats.corruptStore).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a stored block that was altered in flash is dropped at boot and fetched again", () => {
    const net = testNet({ n: 4, topology: "line", loss: 0, seed: 1 });
    net.deploy(T0, capsule(2, 3000));
    net.runUntil(() => (net.dnode(4).receiving?.have ?? 0) > 8, 60_000, 5);
    const i = net.index(4);
    net.sim.power(i, false);
    const st = net.diss.stores[i];
    expect(st.get(KEY_MANIFEST)).toBeDefined();
    const k = st.keys().find((x) => x !== KEY_MANIFEST && x.startsWith("fetch."))!;
    const b = st.get(k)!;
    b[0] ^= 0xff;
    st.set(k, b);
    net.sim.power(i, true);
    expect(net.dnode(4).stats.corruptStore).toBe(1);
    expect(st.get(k)).toBeUndefined();
    expect(net.runUntil(() => net.allCovered(2), 60_000)).toBeDefined();
    expect(net.violations).toEqual([]);
  });

  it("a mote whose installed capsule was corrupted in flash boots without a program and gets the current one again", () => {
    const net = testNet({ n: 9, loss: 0, seed: 2 });
    net.deploy(T0, capsule(2, 800));
    expect(net.runUntil(() => net.allCovered(2), 60_000)).toBeDefined();
    const i = net.index(9);
    net.sim.power(i, false);
    const st = net.diss.stores[i];
    const bad = st.get(KEY_INSTALLED)!;
    bad[100] ^= 1;
    st.set(KEY_INSTALLED, bad);
    net.sim.power(i, true);
    expect(net.diss.version(i)).toBe(0);
    expect(net.sim.vm(i)).toBeNull();
    expect(net.runUntil(() => net.diss.version(i) === 2, net.now + 120_000)).toBeDefined();
    expect(net.sim.vm(i)!.capsule.programVersion).toBe(2);
    expect(net.violations).toEqual([]);
  });
});
