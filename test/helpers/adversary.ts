/**
 * Test-only: dissemination protocol instances driven by hand, without the
 * network simulator's radio model.
 *
 *  - ManualClock: a Scheduler whose time only moves when the test says so
 *    (unit tests of Trickle and of one mote's persistence).
 *  - Adversary: DissNode motes on a topology's links where every delivery
 *    goes through a hook that may drop, duplicate, delay (reorder) or corrupt
 *    it, for the fast-check property "any sequence of lost, duplicated and
 *    reordered frames still converges". Frames arrive 1 ms after they are
 *    sent (plus the hook's delay); there is no MAC, no air time and no
 *    collision: the simulator (components/sim) is where those are modelled.
 */
import type { KeyObject } from "node:crypto";
import { DissNode, MemoryStore, type Scheduler, type Timer } from "../../components/dissemination";
import type { ManifestAuth } from "../../components/security";
import { Rng, streamSeed } from "../../components/sim/rng";
import { reachableFrom, type Topology } from "../../components/sim/topology";

/** Timers on a virtual clock (ms), run in time order, ties in the order they were set. */
export class ManualClock implements Scheduler {
  private t = 0;
  private seq = 0;
  private q: { t: number; seq: number; fn: () => void; dead: boolean }[] = [];

  now(): number {
    return this.t;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const e = { t: this.t + Math.max(0, delayMs), seq: this.seq++, fn, dead: false };
    // keep the queue sorted (by time, then order of setting): tests schedule few timers
    let k = this.q.length;
    while (k > 0 && (this.q[k - 1].t > e.t || (this.q[k - 1].t === e.t && this.q[k - 1].seq > e.seq))) k--;
    this.q.splice(k, 0, e);
    return { cancel: () => { e.dead = true; } };
  }

  /** Run every timer due before `until` (ms); afterwards now() = until. */
  runUntil(until: number): void {
    while (this.q.length && this.q[0].t < until) {
      const e = this.q.shift()!;
      if (e.dead) continue;
      this.t = e.t;
      e.fn();
    }
    if (until > this.t) this.t = until;
  }

  /** Run for `ms` more. */
  advance(ms: number): void {
    this.runUntil(this.t + ms);
  }
}

/** What the hook decides for one delivery: extra delays of the copies to deliver ([] drops it), and optionally other bytes. */
export type Perturbation = { delays: number[]; frame?: Uint8Array } | undefined;

export interface Delivery {
  from: number;
  to: number;
  frame: Uint8Array;
  /** Time sent, ms. */
  at: number;
}

export interface AdversaryOptions {
  topology: Topology;
  configId: number;
  auth: ManifestAuth;
  publicKey: KeyObject;
  seed: number;
  /** Independent loss per delivery, 0..1 (before the hook). */
  loss: number;
  perturb: (d: Delivery) => Perturbation;
  /** Every install, for invariants. */
  onInstall: (id: number, capsule: Uint8Array, version: number) => void;
  /** A capsule in every mote's store at the start. */
  initial?: Uint8Array;
}

/** Motes 1..n of the topology running DissNode, mote 1 the base station, all booted at time 0. */
export class Adversary {
  readonly clock = new ManualClock();
  readonly nodes: DissNode[];
  /** Motes mote 1 reaches over the topology's links (by index). */
  readonly reach: Uint8Array;
  private readonly loss: Rng;

  constructor(readonly o: AdversaryOptions) {
    const t = o.topology;
    this.loss = new Rng(streamSeed(o.seed, 1));
    this.reach = reachableFrom(t, 0);
    this.nodes = [];
    for (let i = 0; i < t.n; i++) {
      const id = t.ids[i];
      const store = new MemoryStore();
      if (o.initial) store.set("installed", o.initial);
      this.nodes.push(new DissNode({
        id, configId: o.configId, scriptSpace: 65535, auth: o.auth, publicKey: o.publicKey, store, clock: this.clock,
        rng: new Rng(streamSeed(o.seed, 2, id)), radio: { send: (frame) => this.send(i, frame) },
        onInstall: (capsule, version) => o.onInstall(id, capsule, version),
      }));
    }
    for (const n of this.nodes) n.boot();
  }

  private send(i: number, frame: Uint8Array): void {
    const t = this.o.topology;
    const from = t.ids[i];
    for (let k = t.outStart[i]; k < t.outStart[i + 1]; k++) {
      const j = t.outNbr[k];
      if (this.loss.next() < this.o.loss) continue;
      const p = this.o.perturb({ from, to: t.ids[j], frame, at: this.clock.now() });
      const copy = (p?.frame ?? frame).slice();
      for (const d of p ? p.delays : [0]) this.clock.setTimer(1 + d, () => this.nodes[j].receive(copy.slice(), from));
    }
  }

  /** Every mote mote 1 reaches runs `version` or newer. */
  allCovered(version: number): boolean {
    return this.nodes.every((n, i) => !this.reach[i] || n.installedVersion >= version);
  }

  /** Run until `done()` holds (checked every `stepMs`) or `maxMs`; @returns the time it first held, or undefined. */
  runUntil(done: () => boolean, maxMs: number, stepMs = 250): number | undefined {
    if (done()) return this.clock.now();
    while (this.clock.now() < maxMs) {
      this.clock.advance(stepMs);
      if (done()) return this.clock.now();
    }
    return undefined;
  }
}
