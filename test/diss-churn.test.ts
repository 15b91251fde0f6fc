/**
 * Churn and partitions: motes rebooting mid-transfer resume from what they
 * persisted (re-verified) and never run a partial capsule; the old program
 * runs until the new one is complete; a partitioned network converges once
 * the partition heals; persistence across reboots (memory and file stores).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  blockKey, BROADCAST, DissNode, FileStore, KEY_INSTALLED, KEY_MANIFEST, MemoryStore, type Scheduler, type Timer, XorShift32,
} from "../components/dissemination";
import { capsule, CFG, KEYS, testNet, versions } from "./helpers/net";

const T0 = 2000;

describe("churn", () => {
  it("motes rebooting mid-transfer (20 % loss) resume, converge, and install only complete verified capsules", () => {
    const net = testNet({ n: 100, loss: 0.2, seed: 11 });
    const cap = capsule(2, 4096);
    net.deploy(T0, cap);
    const rng = new XorShift32(42);
    const resumed: { id: number; before: number; after?: number }[] = [];
    // for 20 s: every 100 ms, motes caught mid-transfer reboot with probability 0.2 (down 0.2..3 s), plus one random mote
    for (let t = T0 + 100; t < T0 + 20_000; t += 100) {
      net.tb.at(t, () => {
        const victims = net.tb.motes.filter((m) => {
          const r = m.up && m.id !== 1 ? net.dnode(m.id).receiving : undefined;
          return !!r && r.manifest && r.have > r.segments / 4 && r.have < (3 * r.segments) / 4 && rng.next() < 0.2;
        }).map((m) => m.id);
        const any = 2 + Math.floor(rng.next() * 99);
        if (net.tb.mote(any).up && !victims.includes(any)) victims.push(any);
        for (const id of victims) {
          const r = net.dnode(id).receiving;
          const rec: { id: number; before: number; after?: number } | undefined = r?.manifest ? { id, before: r.have } : undefined;
          net.tb.powerOff(id);
          const down = 200 + rng.next() * 2800;
          net.tb.at(net.tb.now + down, () => {
            net.tb.powerOn(id);
            if (rec) {
              rec.after = net.dnode(id).receiving?.have ?? Infinity; // Infinity: it completed at boot
              resumed.push(rec);
            }
          });
        }
      });
    }
    const t = net.tb.runUntil(() => net.tb.now > T0 + 25_000 && net.allCovered(2), 400_000);
    expect(t, JSON.stringify(versions(net))).toBeDefined();
    expect(net.violations).toEqual([]);
    // right after power-on each of them held at least the verified segments it had before
    expect(resumed.length).toBeGreaterThan(10);
    for (const r of resumed) expect(r.after).toBeGreaterThanOrEqual(r.before);
    for (const m of net.tb.motes) expect(m.installs.filter((i) => i.version === 2).length).toBeLessThanOrEqual(1);
  });

  it("a rebooted mote restores its verified blocks from the store instead of fetching them again", () => {
    const net = testNet({ n: 9, topology: "line", loss: 0, seed: 4 });
    const cap = capsule(2, 4096);
    net.deploy(T0, cap);
    // stop when mote 5 has some blocks but not all
    net.tb.runUntil(() => {
      const r = net.dnode(5).receiving;
      return !!r && r.manifest && r.have > 10 && r.have < r.segments - 10;
    }, 120_000, 5);
    const before = net.dnode(5).receiving!;
    expect(net.tb.mote(5).store.keys()).toContain(KEY_MANIFEST);
    net.tb.powerOff(5);
    net.tb.powerOn(5);
    const after = net.dnode(5).receiving!;
    expect(after.version).toBe(2);
    expect(after.manifest).toBe(true);
    expect(after.have).toBe(before.have);
    expect(net.dnode(5).installedVersion).toBe(0); // still the old program (none)
    expect(net.tb.runUntil(() => net.allCovered(2), 120_000)).toBeDefined();
    expect(net.violations).toEqual([]);
  });

  it("the old program keeps running until the whole capsule is verified, then switches in one step", () => {
    const old = capsule(1, 200);
    const net = testNet({ n: 16, loss: 0.3, seed: 8, initial: old });
    const cap = capsule(2, 2048);
    net.deploy(T0, cap);
    const seen: number[] = [];
    // sample every 10 ms: a mote's installed capsule is always exactly the old or the new one
    const ok = net.tb.runUntil(() => {
      for (const m of net.tb.motes) {
        const c = net.dnode(m.id).installed;
        const v = net.dnode(m.id).installedVersion;
        seen.push(v);
        if (v === 1) expect(Buffer.from(c!).equals(Buffer.from(old))).toBe(true);
        else expect(Buffer.from(c!).equals(Buffer.from(cap))).toBe(true);
      }
      return net.allCovered(2);
    }, 120_000, 10);
    expect(ok).toBeDefined();
    expect(seen).toContain(1);
    expect(net.violations).toEqual([]);
  });
});

describe("partitions", () => {
  it("a network cut in two converges after the partition heals", () => {
    const net = testNet({ n: 100, loss: 0.2, seed: 13 });
    // columns 5..9 of the 10x10 grid are cut off from 0..4 during [0, 60 s)
    const far = net.tb.motes.filter((m) => (m.id - 1) % 10 >= 5).map((m) => m.id);
    net.tb.partition(far, 0, 60_000);
    net.deploy(T0, capsule(2, 1024));
    net.tb.run(59_000);
    const farSet = new Set(far);
    for (const m of net.tb.motes) expect(m.node.installedVersion).toBe(farSet.has(m.id) ? 0 : 2);
    const t = net.tb.runUntil(() => net.allCovered(2), 200_000);
    expect(t).toBeDefined();
    expect(t! - 60_000).toBeLessThan(40_000);
    expect(net.violations).toEqual([]);
  });

  it("two partitions that each received a different version converge to the newest", () => {
    const net = testNet({ n: 36, loss: 0.1, seed: 17 });
    const far = net.tb.motes.filter((m) => m.id > 18).map((m) => m.id);
    net.tb.partition(far, 0, 30_000);
    net.deploy(T0, capsule(2, 700));
    net.tb.run(20_000);
    // the far side gets version 3 from a second gateway mote (36) while cut off
    const v3 = capsule(3, 900);
    net.legit.add(Buffer.from(v3).toString("hex"));
    net.tb.at(21_000, () => expect(net.dnode(36).inject(v3)).toBeUndefined());
    net.tb.run(29_000);
    expect(net.dnode(1).installedVersion).toBe(2);
    expect(net.tb.runUntil(() => net.allCovered(3), 200_000)).toBeDefined();
    expect(net.violations).toEqual([]);
  });
});

describe("persistence", () => {
  /** A minimal scheduler for a single mote. */
  function clock(): Scheduler & { run(ms: number): void } {
    let now = 0;
    const timers: { t: number; fn: () => void; dead: boolean }[] = [];
    return {
      now: () => now,
      setTimer(d, fn): Timer {
        const e = { t: now + d, fn, dead: false };
        timers.push(e);
        return { cancel: () => { e.dead = true; } };
      },
      run(ms) {
        const end = now + ms;
        for (;;) {
          timers.sort((a, b) => a.t - b.t);
          const e = timers.find((x) => !x.dead && x.t <= end);
          if (!e) break;
          e.dead = true;
          now = e.t;
          e.fn();
        }
        now = end;
      },
    };
  }

  it("a host mote with a file store keeps its installed capsule and partial transfer across restarts", () => {
    const dir = mkdtempSync(join(tmpdir(), "terra-store-"));
    try {
      const cap = capsule(5, 1500);
      const store = new FileStore(dir);
      const mk = () => new DissNode({ id: 1, configId: CFG, scriptSpace: 65535, auth: { mode: "ed25519", publicKey: KEYS.publicKey }, store: new FileStore(dir), clock: clock(), rng: new XorShift32(1), radio: { send() {} } });
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
    net.tb.runUntil(() => (net.dnode(4).receiving?.have ?? 0) > 8, 60_000, 5);
    net.tb.powerOff(4);
    const st = net.tb.mote(4).store as MemoryStore;
    expect(st.get(KEY_MANIFEST)).toBeDefined();
    const k = st.keys().find((x) => x !== KEY_MANIFEST && x.startsWith("fetch."))!;
    const b = st.get(k)!;
    b[0] ^= 0xff;
    st.set(k, b);
    net.tb.powerOn(4);
    expect(net.dnode(4).stats.corruptStore).toBe(1);
    expect(st.get(k)).toBeUndefined();
    expect(net.tb.runUntil(() => net.allCovered(2), 60_000)).toBeDefined();
    expect(net.violations).toEqual([]);
    expect(blockKey(3)).toBe("fetch.3");
    expect(BROADCAST).toBe(0xffff);
  });
});
