/**
 * A small deterministic network for dissemination protocols (phase 1 of
 * issue 5; the network simulator, components/sim, drives the same
 * ProtocolNode interface in phase 2). Used by the tests (test/helpers/net.ts),
 * the benchmark (bench/dissemination.ts) and `terra gateway`'s in-process
 * network (in real time, RealtimeRunner).
 *
 * Model:
 *  - motes at positions; a link between two motes within `range` (symmetric);
 *  - one radio per mote sending its queued frames one after the other: a
 *    random backoff of 0..7 unit periods of 320 us, then the air time of
 *    (6 PHY + 11 MAC + frame) bytes at 250 kbit/s (IEEE 802.15.4, 2.4 GHz);
 *  - at the end of a transmission every neighbour that is powered on and not
 *    cut off by a partition receives the frame independently with
 *    probability 1 - loss;
 *  - MAC "ideal" (default): no collisions; MAC "csma": unslotted CSMA-CA as
 *    IEEE 802.15.4 (backoff 0..2^BE-1 unit periods, BE 3..5, clear channel
 *    assessment against the neighbours' transmissions, at most 4 retries,
 *    then the frame is dropped) and collisions: a receiver hearing two
 *    overlapping transmissions, or transmitting itself, loses them (no
 *    capture effect; hidden terminals collide);
 *  - a perturbation hook may drop, duplicate, delay (reorder) or corrupt
 *    deliveries (property tests);
 *  - power-off cancels the mote's timers and empties its radio queue; its
 *    Store (a MemoryStore) survives, as flash does, and power-on builds a new
 *    protocol instance on it.
 * Time is virtual (ms, floating point); everything random comes from seeded
 * xorshift streams, so a run is a function of its seed.
 */
import { MAC_OVERHEAD_BYTES } from "./frames";
import { MemoryStore } from "./store";
import { type ProtocolNode, type Radio, type Random, type Scheduler, type Store, streamSeed, type Timer, XorShift32 } from "./types";

// ---- topologies ------------------------------------------------------------

export interface Topology {
  /** Mote ids (16-bit addresses), index = position in the arrays. */
  ids: number[];
  x: number[];
  y: number[];
  /** Neighbour indices per mote (symmetric). */
  nbrs: number[][];
  describe: string;
}

function linkByRange(ids: number[], x: number[], y: number[], range: number, describe: string): Topology {
  const n = ids.length;
  const nbrs: number[][] = Array.from({ length: n }, () => []);
  const r2 = range * range;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = x[i] - x[j], dy = y[i] - y[j];
      if (dx * dx + dy * dy <= r2 + 1e-9) {
        nbrs[i].push(j);
        nbrs[j].push(i);
      }
    }
  }
  return { ids, x, y, nbrs, describe };
}

/**
 * A grid of n motes, row by row, 1 unit apart, mote 1 (the base station) at
 * the corner; `range` in units (default 1.5: the 8 surrounding motes).
 */
export function gridTopology(n: number, range = 1.5): Topology {
  const cols = Math.ceil(Math.sqrt(n));
  const ids: number[] = [], x: number[] = [], y: number[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(i + 1);
    x.push(i % cols);
    y.push(Math.floor(i / cols));
  }
  return linkByRange(ids, x, y, range, `grid ${cols}x${Math.ceil(n / cols)}, range ${range}`);
}

/**
 * n motes uniform in the square the grid of n would fill (side ceil(sqrt n)),
 * mote 1 at the corner (0, 0); `range` in units (default 1.8: about 10
 * neighbours on average). Placements are drawn again (at most 100 times)
 * until every mote is connected to mote 1; `describe` says when none was.
 */
export function randomTopology(n: number, seed: number, range = 1.8): Topology {
  const side = Math.ceil(Math.sqrt(n));
  let t: Topology | undefined;
  for (let attempt = 0; attempt < 100; attempt++) {
    const rng = new XorShift32(streamSeed(seed, 5, attempt));
    const ids: number[] = [], x: number[] = [], y: number[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(i + 1);
      x.push(i === 0 ? 0 : rng.next() * side);
      y.push(i === 0 ? 0 : rng.next() * side);
    }
    t = linkByRange(ids, x, y, range, `random ${n} in ${side}x${side}, range ${range}, seed ${seed}${attempt ? ` (placement ${attempt + 1})` : ""}`);
    if (reachable(t).every(Boolean)) return t;
  }
  t!.describe += ", not connected";
  return t!;
}

/** n motes on a line, 1 unit apart, range 1 (a chain of n - 1 hops). */
export function lineTopology(n: number): Topology {
  return linkByRange(Array.from({ length: n }, (_, i) => i + 1), Array.from({ length: n }, (_, i) => i), new Array(n).fill(0), 1, `line of ${n}`);
}

/** Which motes can be reached from mote index `from` (breadth-first). */
export function reachable(t: Topology, from = 0): boolean[] {
  const seen = new Array(t.ids.length).fill(false);
  const q = [from];
  seen[from] = true;
  while (q.length) {
    const i = q.shift()!;
    for (const j of t.nbrs[i]) if (!seen[j]) {
      seen[j] = true;
      q.push(j);
    }
  }
  return seen;
}

/** Hop distance from mote index `from` to every mote (-1 when unreachable). */
export function hops(t: Topology, from = 0): number[] {
  const d = new Array(t.ids.length).fill(-1);
  const q = [from];
  d[from] = 0;
  while (q.length) {
    const i = q.shift()!;
    for (const j of t.nbrs[i]) if (d[j] < 0) {
      d[j] = d[i] + 1;
      q.push(j);
    }
  }
  return d;
}

// ---- the event queue ----------------------------------------------------------

interface Ev {
  t: number;
  seq: number;
  fn: () => void;
  dead: boolean;
}

class EventQueue {
  private h: Ev[] = [];
  private seq = 0;

  push(t: number, fn: () => void): Ev {
    const e: Ev = { t, seq: this.seq++, fn, dead: false };
    const h = this.h;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
    return e;
  }

  peek(): Ev | undefined {
    return this.h[0];
  }

  pop(): Ev | undefined {
    const h = this.h;
    if (!h.length) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }

  get size(): number {
    return this.h.length;
  }
}

/** IEEE 802.15.4 (2.4 GHz O-QPSK) timing, ms: unit backoff period (20 symbols), CCA (8 symbols), RX-to-TX turnaround (12 symbols). */
const UNIT_MS = 0.32;
const CCA_MS = 0.128;
const TURNAROUND_MS = 0.192;
/** macMaxCSMABackoffs. */
const MAX_CSMA_BACKOFFS = 4;

const less = (a: Ev, b: Ev) => a.t < b.t || (a.t === b.t && a.seq < b.seq);

// ---- the testbed ------------------------------------------------------------------

/** One delivery of a frame, as the perturbation hook sees it. */
export interface Delivery {
  from: number;
  to: number;
  frame: Uint8Array;
  at: number;
}

export interface TestbedOptions {
  /** Frame loss probability per link and delivery, 0..1. */
  loss: number;
  seed: number;
  /**
   * Perturb a delivery (after loss): return the extra delays (ms) of the
   * copies to deliver ([] drops it, [0, 3] duplicates it, [40] delays it past
   * later frames), and optionally replace the frame (corruption).
   */
  perturb?: (d: Delivery) => { delays: number[]; frame?: Uint8Array } | undefined;
  /** Radio bit rate, bit/s (default 250 000). */
  bitrate?: number;
  /** "ideal" (default): no collisions; "csma": CSMA-CA and collisions (see the module comment). */
  mac?: "ideal" | "csma";
  /** Called at every install, for global invariants (e.g. "never a bad capsule"). */
  onInstall?: (mote: TestMote<ProtocolNode>, capsule: Uint8Array, version: number) => void;
}

/** What a protocol factory gets for one mote's power-on. */
export interface MoteContext {
  id: number;
  index: number;
  store: Store;
  clock: Scheduler;
  rng: Random;
  radio: Radio;
  /** Wire this into the protocol's onInstall: the testbed records install times. */
  onInstall: (capsule: Uint8Array, version: number) => void;
}

export interface TestMote<N extends ProtocolNode> {
  id: number;
  index: number;
  store: MemoryStore;
  node: N;
  up: boolean;
  /** Power cycles (timers and deliveries of older generations are ignored). */
  gen: number;
  boots: number;
  /** Frames handed to the radio, by first byte (frame type). */
  sent: Map<number, number>;
  sentFrames: number;
  sentBytes: number;
  installs: { version: number; at: number }[];
  queue: Uint8Array[];
  busy: boolean;
  /** End of the current transmission (csma). */
  txEnd: number;
  /** Receptions in progress (csma). */
  rx: Reception[];
}

interface Reception {
  end: number;
  corrupted: boolean;
}

export class Testbed<N extends ProtocolNode> {
  readonly motes: TestMote<N>[];
  private byId = new Map<number, TestMote<N>>();
  private q = new EventQueue();
  private lossRng: XorShift32;
  private macRng: XorShift32;
  private cuts: { side: Set<number>; from: number; to: number }[] = [];
  private _now = 0;
  /** Deliveries lost to the loss model, to partitions, and received. */
  readonly counts = { lost: 0, cut: 0, delivered: 0, collided: 0, accessFailures: 0 };

  constructor(readonly topo: Topology, private factory: (ctx: MoteContext) => N, readonly opts: TestbedOptions) {
    if (!(opts.loss >= 0 && opts.loss <= 1)) throw new RangeError(`loss ${opts.loss} is not in 0..1`);
    this.lossRng = new XorShift32(streamSeed(opts.seed, 1));
    this.macRng = new XorShift32(streamSeed(opts.seed, 2));
    this.motes = topo.ids.map((id, index) => ({
      id, index, store: new MemoryStore(), node: undefined as unknown as N, up: false, gen: 0, boots: 0,
      sent: new Map(), sentFrames: 0, sentBytes: 0, installs: [], queue: [], busy: false, txEnd: -Infinity, rx: [],
    }));
    for (const m of this.motes) this.byId.set(m.id, m);
  }

  get now(): number {
    return this._now;
  }

  mote(id: number): TestMote<N> {
    const m = this.byId.get(id);
    if (!m) throw new RangeError(`no mote ${id}`);
    return m;
  }

  /** Schedule a scripted action at absolute time t (ms). */
  at(t: number, fn: () => void): void {
    this.q.push(Math.max(t, this._now), fn);
  }

  /** Power every mote on at `at`, spread uniformly over `spreadMs`. */
  bootAll(at = 0, spreadMs = 0): void {
    const r = new XorShift32(streamSeed(this.opts.seed, 6));
    for (const m of this.motes) this.at(at + r.next() * spreadMs, () => this.powerOn(m.id));
  }

  powerOn(id: number): void {
    const m = this.mote(id);
    if (m.up) return;
    m.up = true;
    m.gen++;
    m.boots++;
    const gen = m.gen;
    const clock: Scheduler = {
      now: () => this._now,
      setTimer: (delay, fn) => {
        const e = this.q.push(this._now + Math.max(0, delay), () => {
          if (m.gen === gen && m.up) fn();
        });
        return { cancel: () => { e.dead = true; } } satisfies Timer;
      },
    };
    const radio: Radio = { send: (frame) => this.transmit(m, gen, frame) };
    m.node = this.factory({
      id: m.id, index: m.index, store: m.store, clock, rng: new XorShift32(streamSeed(this.opts.seed, 7, m.id * 1024 + m.boots)), radio,
      onInstall: (capsule, version) => {
        m.installs.push({ version, at: this._now });
        this.opts.onInstall?.(m as unknown as TestMote<ProtocolNode>, capsule, version);
      },
    });
    m.node.boot();
  }

  powerOff(id: number): void {
    const m = this.mote(id);
    if (!m.up) return;
    m.node.stop();
    m.up = false;
    m.gen++;
    m.queue = [];
    m.busy = false;
    m.txEnd = -Infinity;
    m.rx = [];
  }

  /** Power a mote off now and on again `downMs` later. */
  reboot(id: number, downMs: number): void {
    this.powerOff(id);
    this.at(this._now + downMs, () => this.powerOn(id));
  }

  /** Cut every link between `side` and the other motes during [from, to). */
  partition(side: Iterable<number>, from: number, to: number): void {
    this.cuts.push({ side: new Set(side), from, to });
  }

  private cut(a: number, b: number, t: number): boolean {
    for (const c of this.cuts) if (t >= c.from && t < c.to && c.side.has(a) !== c.side.has(b)) return true;
    return false;
  }

  private transmit(m: TestMote<N>, gen: number, frame: Uint8Array): void {
    if (!m.up || m.gen !== gen) return;
    m.sent.set(frame[0], (m.sent.get(frame[0]) ?? 0) + 1);
    m.sentFrames++;
    m.sentBytes += frame.length;
    m.queue.push(frame.slice());
    if (!m.busy) this.startTx(m, gen);
  }

  private airtime(frame: Uint8Array): number {
    return ((6 + MAC_OVERHEAD_BYTES + frame.length) * 8 * 1000) / (this.opts.bitrate ?? 250_000);
  }

  private startTx(m: TestMote<N>, gen: number): void {
    const frame = m.queue.shift();
    if (!frame) {
      m.busy = false;
      return;
    }
    m.busy = true;
    if (this.opts.mac === "csma") {
      this.csma(m, gen, frame, 3, 0);
      return;
    }
    const backoff = Math.floor(this.macRng.next() * 8) * UNIT_MS;
    this.q.push(this._now + backoff + this.airtime(frame), () => {
      if (!m.up || m.gen !== gen) return;
      this.deliver(m, frame);
      this.startTx(m, gen);
    });
  }

  /** Unslotted CSMA-CA (IEEE 802.15.4-2006 §7.5.1.4): backoff, CCA, transmit or retry. */
  private csma(m: TestMote<N>, gen: number, frame: Uint8Array, be: number, nb: number): void {
    const backoff = Math.floor(this.macRng.next() * (1 << be)) * UNIT_MS;
    this.q.push(this._now + backoff + CCA_MS, () => {
      if (!m.up || m.gen !== gen) return;
      const busy = this.topo.nbrs[m.index].some((j) => this.motes[j].txEnd > this._now);
      if (busy) {
        if (nb + 1 > MAX_CSMA_BACKOFFS) {
          this.counts.accessFailures++;
          this.startTx(m, gen);
        } else {
          this.csma(m, gen, frame, Math.min(be + 1, 5), nb + 1);
        }
        return;
      }
      const end = this._now + TURNAROUND_MS + this.airtime(frame);
      m.txEnd = end;
      for (const r of m.rx) r.corrupted = true; // half duplex: it stops listening
      const rxs: (Reception | undefined)[] = [];
      for (const j of this.topo.nbrs[m.index]) {
        const dst = this.motes[j];
        if (!dst.up) {
          rxs.push(undefined);
          continue;
        }
        dst.rx = dst.rx.filter((r) => r.end > this._now);
        const rec: Reception = { end, corrupted: dst.txEnd > this._now };
        for (const r of dst.rx) {
          r.corrupted = true;
          rec.corrupted = true;
        }
        dst.rx.push(rec);
        rxs.push(rec);
      }
      this.q.push(end, () => {
        if (!m.up || m.gen !== gen) return;
        this.deliver(m, frame, rxs);
        this.startTx(m, gen);
      });
    });
  }

  private deliver(src: TestMote<N>, frame: Uint8Array, rxs?: (Reception | undefined)[]): void {
    const nb = this.topo.nbrs[src.index];
    for (let k = 0; k < nb.length; k++) {
      const dst = this.motes[nb[k]];
      if (!dst.up) continue;
      if (rxs) {
        const r = rxs[k];
        if (!r) continue;
        if (r.corrupted) {
          this.counts.collided++;
          continue;
        }
      }
      if (this.cut(src.id, dst.id, this._now)) {
        this.counts.cut++;
        continue;
      }
      if (this.lossRng.next() < this.opts.loss) {
        this.counts.lost++;
        continue;
      }
      const p = this.opts.perturb?.({ from: src.id, to: dst.id, frame, at: this._now });
      const delays = p ? p.delays : [0];
      const f = p?.frame ?? frame;
      for (const d of delays) {
        const gen = dst.gen;
        const go = () => {
          if (dst.up && dst.gen === gen) {
            this.counts.delivered++;
            dst.node.receive(f.slice(), src.id);
          }
        };
        if (d <= 0) go();
        else this.q.push(this._now + d, go);
      }
    }
  }

  /** Run every event before time `until` (ms); afterwards now = until. */
  run(until: number): void {
    for (;;) {
      const e = this.q.peek();
      if (!e || e.t >= until) break;
      this.q.pop();
      if (e.dead) continue;
      this._now = e.t;
      e.fn();
    }
    if (until > this._now) this._now = until;
  }

  /**
   * Run until `done()` holds (checked every `stepMs`) or `maxMs` is reached.
   * @returns the time it first held, or undefined.
   */
  runUntil(done: () => boolean, maxMs: number, stepMs = 50): number | undefined {
    if (done()) return this._now;
    while (this._now < maxMs) {
      this.run(Math.min(maxMs, this._now + stepMs));
      if (done()) return this._now;
    }
    return undefined;
  }

  /** Frames handed to radios so far, in all. */
  get framesSent(): number {
    let n = 0;
    for (const m of this.motes) n += m.sentFrames;
    return n;
  }

  /** Frames sent, by frame type byte. */
  framesByType(): Map<number, number> {
    const out = new Map<number, number>();
    for (const m of this.motes) for (const [k, v] of m.sent) out.set(k, (out.get(k) ?? 0) + v);
    return out;
  }
}

/**
 * Drive a testbed in real time: logical ms follow the wall clock (after a
 * start offset). `onTick(now)` runs after each step (e.g. to advance VMs).
 */
export class RealtimeRunner {
  private timer: ReturnType<typeof setInterval> | undefined;
  private t0 = 0;
  private base = 0;

  /** @param tb what to drive (a Testbed); tickMs: wall-clock step, ms; onTick: called after each step with the logical time. */
  constructor(private tb: { readonly now: number; run(until: number): void }, private tickMs = 10, private onTick?: (now: number) => void) {}

  start(): void {
    this.base = this.tb.now;
    this.t0 = performance.now();
    this.timer = setInterval(() => this.step(), this.tickMs);
  }

  /** Advance to the current wall-clock time now (also called by the interval). */
  step(): void {
    const target = this.base + (performance.now() - this.t0);
    this.tb.run(target);
    this.onTick?.(this.tb.now);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
