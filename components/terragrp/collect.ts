/**
 * Collection to the base station (the role CTP plays under Terra's
 * SEND_BS): every mote keeps a route to the base station over a tree the
 * motes build themselves, and forwards messages hop by hop to it.
 *
 * - Routing: each mote advertises its hop count and path cost (ETX to the
 *   base station, in tenths; both 0 at the base station) in beacons paced
 *   by a Trickle timer (128 ms doubling up to 512 s; 2 s for a mote that
 *   boots without a route, whose beacons can only pull; back to 128 ms when a
 *   mote gains or loses its route or, beaconing less often than every 4 s,
 *   hears a neighbour without a route (pull bit); to 512 ms when a message
 *   from a child advertises no more hops than the mote has).
 * - Parent choice: among the neighbours advertising fewer hops than the
 *   mote's own (any neighbour with a route when it has none), never one
 *   whose parent is the mote, nor one over a dead link, the one minimising
 *   neighbour cost + link ETX,
 *   switching only for a gain of 1.5 ETX. Hop counts therefore never grow
 *   while a mote keeps its route, and no mote can take one of its
 *   descendants as parent, even from stale beacons: the tree is loop-free
 *   by construction. A mote left without such a neighbour (its parent lost
 *   its route, or the link to it died) gives its route up, says so at once
 *   (beacon without route, pull bit), and after a 1 s hold-down takes any
 *   neighbour with a route again.
 * - Link estimation: inbound quality from beacon sequence gaps (windows of
 *   3 expected beacons), ETX = 1/q²; once data has been sent on a link,
 *   its ETX comes from acks (an average, starting from the beacon
 *   estimate, over windows of 5 transmissions, a window without any ack
 *   counting as ETX 10; beacon estimates are capped at ETX 20). A link
 *   with 15 unacknowledged transmissions in a row is dead (the neighbour
 *   is gone): no route may use it until a beacon comes over it again.
 * - Forwarding: a queue of 8 messages per mote; the head goes to the parent
 *   with a link-layer ack, up to 30 attempts (as CTP; 1-16 ms apart,
 *   re-choosing the parent in between) before it is dropped; duplicates
 *   (origin, sequence number, time-has-lived: as in CTP, a message that
 *   went round a loop is not a duplicate) are filtered; a message whose
 *   time-has-lived exceeds 255 hops is dropped.
 */
import { AM, type SimContext, TIMER } from "../sim/context";
import { ACK_WAIT_US, BROADCAST_ADDR } from "../sim/radio";

const INF = 0xffff;
const NO_HOPS = 0xff;
const I_MIN_MS = 128;
const I_MAX_MS = 512_000;
/** Beacon interval after a data-path inconsistency. */
const I_INCONSISTENT_MS = 512;
/** A pull resets the beacon interval only when it has grown beyond this (a mote beaconing often already answers). */
const I_PULL_MS = 4096;
/** First beacon interval of a mote booting without a route (its beacons can only pull). */
const I_BOOT_MS = 2048;
const HOLD_US = 1_000_000;
const QUEUE = 8;
const MAX_TRIES = 30;
const MAX_THL = 255;
/** Data header: origin (2), sequence number, time-has-lived, sender's cost (2), sender's hops, collect id. */
const HEADER = 8;
/** Beacon: options (bit 0: pull), parent id (2), cost (2), sequence number, hops. */
const BEACON_LEN = 7;
/** Cost units per ETX. */
const U = 10;
/** Beacon-based link costs are capped here (cost units). */
const MAX_LINK = 20 * U;
/** Consecutive unacknowledged transmissions after which a link is dead (the neighbour is gone). */
const DEAD_LINK = 15;

export interface CollectStats {
  beacons: number;
  data_transmissions: number;
  delivered: number;
  dropped_retries: number;
  dropped_queue: number;
  dropped_thl: number;
  duplicates: number;
  inconsistencies: number;
  parent_changes: number;
  routes_lost: number;
}

export class Collection {
  readonly msgLen: number;
  private readonly frameLen: number;
  readonly cost: Uint16Array;
  readonly hops: Uint8Array;
  /** In-slot (topology inNbr index) of the parent, or -1. */
  readonly parentSlot: Int32Array;
  private readonly holding: Uint8Array;
  private readonly beaconSeq: Uint8Array;
  private readonly trickle: Float64Array;
  private readonly dataSeq: Uint8Array;
  private readonly queues: (Uint8Array | null)[];
  private readonly qHead: Uint8Array;
  readonly qCount: Uint8Array;
  private readonly sending: Uint8Array;
  private readonly tries: Uint8Array;
  private readonly dup: Int32Array;
  private readonly dupPos: Uint8Array;
  // per in-slot (receiver's view of a link)
  private readonly nbCost: Uint16Array;
  private readonly nbHops: Uint8Array;
  private readonly nbPar: Uint16Array;
  private readonly nbSeq: Int16Array;
  private readonly nbRcv: Uint8Array;
  private readonly nbMiss: Uint8Array;
  private readonly nbQ: Float32Array;
  private readonly nbDataEtx: Float32Array;
  private readonly nbTx: Uint8Array;
  private readonly nbAck: Uint8Array;
  private readonly nbFail: Uint8Array;
  readonly stats: CollectStats = {
    beacons: 0, data_transmissions: 0, delivered: 0, dropped_retries: 0, dropped_queue: 0, dropped_thl: 0, duplicates: 0, inconsistencies: 0, parent_changes: 0, routes_lost: 0,
  };

  constructor(private readonly ctx: SimContext, msgLen: number) {
    const n = ctx.n;
    const e = ctx.topo.inNbr.length;
    this.msgLen = msgLen;
    this.frameLen = HEADER + msgLen;
    this.cost = new Uint16Array(n).fill(INF);
    this.hops = new Uint8Array(n).fill(NO_HOPS);
    this.parentSlot = new Int32Array(n).fill(-1);
    this.holding = new Uint8Array(n);
    this.beaconSeq = new Uint8Array(n);
    this.trickle = new Float64Array(n);
    this.dataSeq = new Uint8Array(n);
    this.queues = new Array<Uint8Array | null>(n).fill(null);
    this.qHead = new Uint8Array(n);
    this.qCount = new Uint8Array(n);
    this.sending = new Uint8Array(n);
    this.tries = new Uint8Array(n);
    this.dup = new Int32Array(n * 8);
    this.dupPos = new Uint8Array(n);
    this.nbCost = new Uint16Array(e).fill(INF);
    this.nbHops = new Uint8Array(e).fill(NO_HOPS);
    this.nbPar = new Uint16Array(e);
    this.nbSeq = new Int16Array(e).fill(-1);
    this.nbRcv = new Uint8Array(e);
    this.nbMiss = new Uint8Array(e);
    this.nbQ = new Float32Array(e);
    this.nbDataEtx = new Float32Array(e);
    this.nbTx = new Uint8Array(e);
    this.nbAck = new Uint8Array(e);
    this.nbFail = new Uint8Array(e);
  }

  /** Node id of mote i's parent, or 0. */
  parentId(i: number): number {
    const k = this.parentSlot[i];
    return k < 0 ? 0 : this.ctx.ids[this.ctx.topo.inNbr[k]];
  }

  /** Mote index of i's parent, or -1. */
  parent(i: number): number {
    const k = this.parentSlot[i];
    return k < 0 ? -1 : this.ctx.topo.inNbr[k];
  }

  /** A mote boots (or reboots): no route, empty queue, neighbour table forgotten, beacons start. */
  boot(i: number): void {
    const ctx = this.ctx;
    const root = i === ctx.base;
    this.cost[i] = root ? 0 : INF;
    this.hops[i] = root ? 0 : NO_HOPS;
    this.parentSlot[i] = -1;
    this.holding[i] = 0;
    this.qHead[i] = 0;
    this.qCount[i] = 0;
    this.sending[i] = 0;
    this.tries[i] = 0;
    this.dup.fill(0, i * 8, i * 8 + 8);
    const s = ctx.topo.inStart;
    for (let k = s[i]; k < s[i + 1]; k++) {
      this.nbCost[k] = INF;
      this.nbHops[k] = NO_HOPS;
      this.nbSeq[k] = -1;
      this.nbRcv[k] = 0;
      this.nbMiss[k] = 0;
      this.nbQ[k] = 0;
      this.nbDataEtx[k] = 0;
      this.nbTx[k] = 0;
      this.nbAck[k] = 0;
      this.nbFail[k] = 0;
    }
    this.trickle[i] = root ? I_MIN_MS : I_BOOT_MS;
    ctx.setTimer(i, TIMER.CTP_BEACON, this.beaconDelayUs(i));
  }

  /** A mote stops: its neighbours keep their (stale) view of it, as real ones would. */
  stop(i: number): void {
    this.qCount[i] = 0;
    this.sending[i] = 0;
  }

  private beaconDelayUs(i: number): number {
    const I = this.trickle[i];
    return Math.floor((I / 2 + this.ctx.rng.next(i) * (I / 2)) * 1000);
  }

  /** Back to a short beacon interval (Trickle's reaction to news). */
  private resetTrickle(i: number, to: number): void {
    if (this.trickle[i] <= to) return;
    this.trickle[i] = to;
    this.ctx.setTimer(i, TIMER.CTP_BEACON, this.beaconDelayUs(i));
  }

  /** Trickle timer: send a beacon, double the interval. */
  beaconTimer(i: number): void {
    const ctx = this.ctx, radio = ctx.radio;
    if (radio.queued(i) < 4) {
      const f = radio.alloc(i, AM.CTP_BEACON, BROADCAST_ADDR, BEACON_LEN, false, 0, 0);
      const d = radio.data, o = f * 128;
      const pid = this.parentId(i), c = this.cost[i];
      d[o] = c === INF ? 1 : 0; // pull: I have no route
      d[o + 1] = pid & 0xff;
      d[o + 2] = pid >> 8;
      d[o + 3] = c & 0xff;
      d[o + 4] = c >> 8;
      d[o + 5] = this.beaconSeq[i] = (this.beaconSeq[i] + 1) & 0xff;
      d[o + 6] = this.hops[i];
      if (radio.send(f, ctx.now)) this.stats.beacons++;
    }
    this.trickle[i] = Math.min(this.trickle[i] * 2, I_MAX_MS);
    ctx.setTimer(i, TIMER.CTP_BEACON, this.beaconDelayUs(i));
  }

  private slotOf(r: number, s: number): number {
    const st = this.ctx.topo.inStart, nb = this.ctx.topo.inNbr;
    // in-lists are sorted by sender index: binary search
    let lo = st[r], hi = st[r + 1] - 1;
    while (lo <= hi) {
      const m = (lo + hi) >> 1;
      const v = nb[m];
      if (v === s) return m;
      if (v < s) lo = m + 1;
      else hi = m - 1;
    }
    return -1;
  }

  /** Link ETX (in cost units) of in-slot k: from acks once data went over it, else from beacons (never "broken"). */
  private linkCost(k: number): number {
    if (this.nbDataEtx[k] > 0) return Math.round(this.nbDataEtx[k] * U);
    return this.beaconCost(k);
  }

  private beaconCost(k: number): number {
    let q = this.nbQ[k];
    if (q === 0) {
      const r = this.nbRcv[k], m = this.nbMiss[k];
      q = r + m > 0 ? r / (r + m) : 0.5;
    }
    if (q < 0.1) q = 0.1;
    return Math.min(MAX_LINK - 1, Math.round(U / (q * q)));
  }

  /** Cost of the route through in-slot k, or INF when k cannot be i's parent. */
  private routeCost(i: number, k: number): number {
    if (k < 0 || this.nbCost[k] === INF || this.nbHops[k] === NO_HOPS || this.nbPar[k] === this.ctx.ids[i] || this.nbFail[k] >= DEAD_LINK) return INF;
    return Math.min(INF - 1, this.nbCost[k] + this.linkCost(k));
  }

  /** Re-choose mote i's parent from its neighbour table (and send queued messages, unless `kickNow` is false). */
  private choose(i: number, kickNow = true): void {
    const ctx = this.ctx;
    if (i === ctx.base || this.holding[i]) return;
    const st = ctx.topo.inStart;
    const myHops = this.hops[i];
    const cur = this.parentSlot[i];
    // the current parent stays usable while it routes, not through i, over a working link, with fewer hops
    let curCost = this.routeCost(i, cur);
    if (cur >= 0 && this.nbHops[cur] >= myHops) curCost = INF;
    let best = -1, bestCost = INF;
    for (let k = st[i]; k < st[i + 1]; k++) {
      if (this.nbHops[k] >= myHops) continue; // feasibility: strictly fewer hops
      const c = this.routeCost(i, k);
      if (c < bestCost) {
        bestCost = c;
        best = k;
      }
    }
    let slot = cur, cost = curCost;
    if (best >= 0 && best !== cur && (curCost === INF || bestCost + 15 < curCost)) {
      slot = best;
      cost = bestCost;
      this.stats.parent_changes++;
      if (ctx.tracing) ctx.traceEvent(i, "parent", { parent: ctx.ids[ctx.topo.inNbr[best]], hops: this.nbHops[best] + 1, cost: bestCost / U });
    }
    const had = this.cost[i] !== INF;
    if (cost === INF) {
      this.parentSlot[i] = -1;
      this.cost[i] = INF;
      this.hops[i] = NO_HOPS;
      if (had) {
        // give the route up: tell the neighbours at once; any route will do after the hold-down
        this.stats.routes_lost++;
        if (ctx.tracing) {
          const why = cur < 0 ? "no parent" : this.nbCost[cur] === INF ? "parent has no route" : this.nbPar[cur] === ctx.ids[i] ? "parent routes through us" : this.nbHops[cur] >= myHops ? "parent has more hops" : "link dead";
          ctx.traceEvent(i, "no_route", { reason: why });
        }
        this.holding[i] = 1;
        this.resetTrickle(i, I_MIN_MS);
        ctx.setTimer(i, TIMER.CTP_HOLD, HOLD_US);
      }
      return;
    }
    this.parentSlot[i] = slot;
    this.cost[i] = cost;
    this.hops[i] = this.nbHops[slot] + 1;
    if (!had) this.resetTrickle(i, I_MIN_MS);
    if (kickNow && this.qCount[i] > 0) this.kick(i);
  }

  /** End of the hold-down after giving a route up. */
  holdTimer(i: number): void {
    this.holding[i] = 0;
    this.choose(i);
  }

  private beaconReceived(r: number, s: number, o: number): void {
    const d = this.ctx.radio.data;
    const k = this.slotOf(r, s);
    if (k < 0) return;
    const pull = d[o] & 1, par = d[o + 1] | (d[o + 2] << 8), cost = d[o + 3] | (d[o + 4] << 8), seq = d[o + 5], hops = d[o + 6];
    const last = this.nbSeq[k];
    if (last >= 0) {
      const gap = (seq - last) & 0xff;
      if (gap === 0) return;
      this.nbRcv[k]++;
      this.nbMiss[k] = Math.min(200, this.nbMiss[k] + Math.min(gap - 1, 20));
      if (this.nbRcv[k] + this.nbMiss[k] >= 3) {
        const q = this.nbRcv[k] / (this.nbRcv[k] + this.nbMiss[k]);
        this.nbQ[k] = this.nbQ[k] === 0 ? q : 0.7 * this.nbQ[k] + 0.3 * q;
        this.nbRcv[k] = 0;
        this.nbMiss[k] = 0;
      }
    } else {
      this.nbRcv[k] = 1;
      this.nbMiss[k] = 0;
    }
    this.nbSeq[k] = seq;
    if (this.nbFail[k] >= DEAD_LINK) {
      // a link given up for dead carries beacons again: judge it by beacons until data says otherwise
      this.nbFail[k] = 0;
      this.nbDataEtx[k] = 0;
      this.nbTx[k] = 0;
      this.nbAck[k] = 0;
    }
    this.nbCost[k] = cost;
    this.nbHops[k] = cost === INF ? NO_HOPS : hops;
    this.nbPar[k] = par;
    if (pull && this.cost[r] !== INF && this.trickle[r] > I_PULL_MS) this.resetTrickle(r, I_MIN_MS);
    // only the parent's news, or a neighbour now clearly better than the route, can change the choice
    if (k === this.parentSlot[r] || this.cost[r] === INF || (this.nbHops[k] < this.hops[r] && this.routeCost(r, k) + 15 < this.cost[r])) this.choose(r);
  }

  /** SEND_BS by mote i: msg is the msgBS_t bytes. @returns 0 (queued) or 1 (FAIL: queue full). */
  send(i: number, msg: Uint8Array): number {
    const ctx = this.ctx;
    const seq = (this.dataSeq[i] = (this.dataSeq[i] + 1) & 0xff);
    if (i === ctx.base) {
      this.stats.delivered++;
      ctx.baseStation({ t_ms: ctx.now / 1000, via: "SEND_BS", origin: ctx.ids[i], hops: 0, bytes: msg.slice(0, this.msgLen) });
      return 0;
    }
    if (this.qCount[i] >= QUEUE) {
      this.stats.dropped_queue++;
      return 1;
    }
    const e = this.queue(i), o = this.tail(i);
    const id = ctx.ids[i];
    e[o] = id & 0xff;
    e[o + 1] = id >> 8;
    e[o + 2] = seq;
    e[o + 3] = 0; // time has lived
    e[o + 7] = 0;
    for (let b = 0; b < this.msgLen; b++) e[o + HEADER + b] = msg[b];
    this.qCount[i]++;
    this.kick(i);
    return 0;
  }

  /** Mote i's queue (allocated on first use). */
  private queue(i: number): Uint8Array {
    return this.queues[i] ?? (this.queues[i] = new Uint8Array(QUEUE * this.frameLen));
  }

  /** Offset of the next free entry of mote i's queue. */
  private tail(i: number): number {
    return ((this.qHead[i] + this.qCount[i]) % QUEUE) * this.frameLen;
  }

  /** Send the head of mote i's queue to its parent (after `delayUs`), if it has one and nothing is in flight. */
  private kick(i: number, delayUs = 0): void {
    if (this.sending[i] || this.qCount[i] === 0) return;
    const k = this.parentSlot[i];
    if (k < 0) return; // wait for a route
    const ctx = this.ctx, radio = ctx.radio;
    const p = ctx.topo.inNbr[k];
    const f = radio.alloc(i, AM.CTP_DATA, ctx.ids[p], this.frameLen, true, 0, k, true);
    const q = this.queues[i]!, h = this.qHead[i] * this.frameLen;
    const d = radio.data, o = f * 128;
    for (let b = 0; b < this.frameLen; b++) d[o + b] = q[h + b];
    d[o + 4] = this.cost[i] & 0xff;
    d[o + 5] = this.cost[i] >> 8;
    d[o + 6] = this.hops[i];
    this.sending[i] = 1;
    this.stats.data_transmissions++;
    if (!radio.send(f, ctx.now, delayUs)) {
      this.sending[i] = 0;
      ctx.setTimer(i, TIMER.CTP_SEND, (1 + ctx.rng.int(i, 16)) * 1000);
    }
  }

  /** CTP_SEND timer: retry the head of the queue. */
  retryTimer(i: number): void {
    this.kick(i);
  }

  sendDone(i: number, f: number, acked: boolean): void {
    const ctx = this.ctx;
    if (ctx.radio.fProto[f] !== AM.CTP_DATA) return;
    const k = ctx.radio.fToken[f];
    this.sending[i] = 0;
    // data-driven link estimate
    this.nbTx[k]++;
    if (acked) {
      this.nbAck[k]++;
      this.nbFail[k] = 0;
    } else if (this.nbFail[k] < 255) this.nbFail[k]++;
    if (this.nbTx[k] >= 5) {
      const sample = this.nbAck[k] === 0 ? 10 : this.nbTx[k] / this.nbAck[k];
      const prev = this.nbDataEtx[k] > 0 ? this.nbDataEtx[k] : this.beaconCost(k) / U;
      this.nbDataEtx[k] = 0.7 * prev + 0.3 * sample;
      this.nbTx[k] = 0;
      this.nbAck[k] = 0;
    } else if (!acked && this.nbDataEtx[k] > 0) {
      this.nbDataEtx[k] += 0.5;
    }
    if (acked) {
      this.pop(i);
      this.kick(i);
      return;
    }
    if (++this.tries[i] >= MAX_TRIES) {
      this.stats.dropped_retries++;
      if (ctx.tracing) ctx.traceEvent(i, "ctp_drop", { reason: "retries", to: ctx.ids[ctx.topo.inNbr[k]] });
      this.pop(i);
    }
    this.choose(i, false);
    // retry after the ack wait (reported early by the radio) and 1-16 ms; without a route, kick waits for one
    this.kick(i, ACK_WAIT_US + (1 + ctx.rng.int(i, 16)) * 1000);
  }

  private pop(i: number): void {
    this.qHead[i] = (this.qHead[i] + 1) % QUEUE;
    this.qCount[i]--;
    this.tries[i] = 0;
  }

  /** A collection frame (beacon or data) reached mote r. */
  receive(r: number, f: number): void {
    const ctx = this.ctx, radio = ctx.radio;
    const s = radio.fSrc[f], o = f * 128, d = radio.data;
    if (radio.fProto[f] === AM.CTP_BEACON) {
      this.beaconReceived(r, s, o);
      return;
    }
    // data: duplicate? (the time-has-lived is part of the key, as in CTP)
    const origin = d[o] | (d[o + 1] << 8), seq = d[o + 2];
    const key = ((origin << 16) | (seq << 8) | d[o + 3]) + 1;
    const base = r * 8;
    for (let k = 0; k < 8; k++) {
      if (this.dup[base + k] === key) {
        this.stats.duplicates++;
        return;
      }
    }
    this.dup[base + this.dupPos[r]] = key;
    this.dupPos[r] = (this.dupPos[r] + 1) & 7;
    const thl = d[o + 3] + 1;
    if (r === ctx.base) {
      this.stats.delivered++;
      ctx.baseStation({ t_ms: ctx.now / 1000, via: "SEND_BS", origin, hops: thl, bytes: d.slice(o + HEADER, o + HEADER + this.msgLen) });
      return;
    }
    if (this.hops[r] !== NO_HOPS && d[o + 6] <= this.hops[r]) {
      // the sender's view of us is stale: advertise our route soon
      this.stats.inconsistencies++;
      this.resetTrickle(r, I_INCONSISTENT_MS);
    }
    if (thl > MAX_THL) {
      this.stats.dropped_thl++;
      return;
    }
    if (this.qCount[r] >= QUEUE) {
      this.stats.dropped_queue++;
      return;
    }
    const e = this.queue(r), t = this.tail(r);
    for (let b = 0; b < this.frameLen; b++) e[t + b] = d[o + b];
    e[t + 3] = thl;
    this.qCount[r]++;
    this.kick(r);
  }
}
