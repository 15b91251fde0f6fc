/**
 * The radio medium and each mote's MAC, modelled on IEEE 802.15.4 at
 * 2.4 GHz (the CC2420 of micaz/telosb): 250 kbit/s (32 µs per byte on the
 * air), frames of at most 127 bytes (PSDU) after a 6-byte synchronisation
 * header, unslotted CSMA-CA (random backoff in units of 320 µs, BE 3..5,
 * at most 4 extra backoffs, then a channel access failure), a 320 µs
 * window between the clear-channel assessment and the first bit on the air
 * (so neighbours that pick the same backoff slot collide), link-layer acks
 * (an 11-byte frame sent 192 µs after the data frame, without CSMA; the
 * channel counts as busy from the end of the data frame, turnaround
 * included), optional MAC retransmissions (after random delays whose range
 * doubles each time: 1-4 ms, 1-8 ms, ...), and duplicate filtering of
 * retransmitted frames.
 *
 * Events per transmission attempt are kept few: the clear-channel
 * assessment is evaluated when the attempt would start transmitting, from
 * each mote's last two idle/busy transitions (a busy period lasts at least
 * an ack, 352 µs, longer than the 320 µs look-back, so two transitions
 * always suffice).
 *
 * Reception: a receiver locks on the first frame it hears while idle; any
 * other transmission audible at that receiver while the frame is on the air
 * corrupts it (a collision: both frames are lost there, no capture), a
 * mote that transmits cannot receive (half duplex), and a frame that survives
 * is then kept with the link's packet reception ratio (an independent draw
 * per frame and receiver, from one seeded stream). Carrier sense hears the
 * same neighbours as reception, so hidden terminals collide.
 *
 * Everything per mote is in typed arrays; frames live in a pool of fixed
 * 128-byte slots; no closure or object is created per frame.
 */
import type { EventQueue } from "./events";
import { Purpose, Rng, RngBank, streamSeed } from "./rng";
import type { Topology } from "./topology";

export const BYTE_US = 32;
export const SYNC_BYTES = 6;
/** MAC header (FCF, DSN, PAN, destination, source, AM type) and FCS. */
export const MAC_OVERHEAD = 13;
export const MAX_PSDU = 127;
export const MAX_PAYLOAD = MAX_PSDU - MAC_OVERHEAD;
export const ACK_PSDU = 5;
export const BACKOFF_US = 320;
/** CCA (128 µs) plus RX-to-TX turnaround (192 µs). */
export const CCA_TO_TX_US = 320;
export const TURNAROUND_US = 192;
export const ACK_AIR_US = (SYNC_BYTES + ACK_PSDU) * BYTE_US;
/** How long a sender waits for an ack after its frame ended. */
export const ACK_WAIT_US = TURNAROUND_US + ACK_AIR_US + 96;
export const MIN_BE = 3;
export const MAX_BE = 5;
export const MAX_CSMA_BACKOFFS = 4;
export const MAC_QUEUE = 12;
export const BROADCAST_ADDR = 0xffff;
/** Pseudo-protocol of ack frames. */
export const PROTO_ACK = 0;

/** Air time (µs) of a frame with `payload` bytes. */
export const airTimeUs = (payload: number): number => (SYNC_BYTES + MAC_OVERHEAD + payload) * BYTE_US;

/** Event kinds the radio schedules (the simulator routes them back to `handle`). */
export const EV = { ATTEMPT: 1, TX_END: 2, ACK_TIMEOUT: 3 } as const;
/** CCA duration. */
export const CCA_US = 128;

/** MAC states. */
const IDLE = 0, BACKOFF = 1, TX = 2, WAIT_ACK = 3;

export interface RadioClient {
  /** A frame addressed to `node` (or broadcast) was received intact at time t (µs). */
  receive(node: number, f: number, t: number): void;
  /** The frame at the head of `node`'s queue is done: error 0 = sent; acked for ack-requested unicast frames. */
  sendDone(node: number, f: number, error: number, acked: boolean, t: number): void;
}

export interface RadioObserver {
  tx?(node: number, f: number, t: number): void;
  rx?(node: number, f: number, t: number): void;
  drop?(node: number, f: number, t: number, why: "loss" | "collision"): void;
}

export interface RadioStats {
  /** Frames put on the air (data frames, including retransmissions; acks apart). */
  frames_sent: number;
  acks_sent: number;
  retransmissions: number;
  /** Frame receptions (receiver, frame) delivered intact, including overheard ones. */
  receptions: number;
  /** Receptions lost to the link's reception ratio. */
  lost: number;
  /** Receptions lost because another transmission overlapped at the receiver. */
  collisions: number;
  /** Receptions missed because the receiver was transmitting. */
  half_duplex: number;
  /** Ack-requested unicast frames acknowledged / not acknowledged (after retries). */
  acked: number;
  not_acked: number;
  /** Frames dropped after too many busy clear-channel assessments. */
  channel_access_failures: number;
  /** Sends refused because the mote's MAC queue was full. */
  queue_full: number;
  /** Retransmitted frames filtered as duplicates by receivers. */
  duplicates: number;
}

export class Radio {
  // ---- frame pool (slot stride 128 bytes)
  data: Uint8Array;
  fLen: Uint8Array;
  fProto: Uint8Array;
  fSrc: Int32Array;
  fDst: Int32Array;
  fAck: Uint8Array;
  fRetries: Uint8Array;
  /** Retransmissions made so far. */
  fTries: Uint8Array;
  fDsn: Uint8Array;
  fToken: Int32Array;
  private fFree: Int32Array;
  private nFree = 0;
  private cap = 0;
  framesInUse = 0;

  // ---- per mote
  readonly n: number;
  readonly alive: Uint8Array;
  readonly epoch: Uint32Array;
  private readonly macQ: Int32Array;
  private readonly qHead: Uint8Array;
  readonly qCount: Uint8Array;
  private readonly state: Uint8Array;
  private readonly nb: Uint8Array;
  private readonly be: Uint8Array;
  private readonly acked: Uint8Array;
  /**
   * Physical-layer state of mote i, interleaved so that the loops over a
   * sender's neighbours touch one place per neighbour: ph[4i] transmissions
   * heard now, ph[4i+1] frame being received (-1: none), ph[4i+2] that frame
   * still intact (1/0), ph[4i+3] sending now (1/0).
   */
  private readonly ph: Int32Array;
  /** Per mote: times of the last two idle/busy transitions of its channel (busy: hearing a frame or sending): ch[2i], ch[2i+1]. */
  private readonly ch: Float64Array;
  private readonly dsn: Uint8Array;
  /** Per mote: the last 4 (source index << 8 | dsn) + 1 received, to drop retransmitted duplicates. */
  private readonly seen: Int32Array;
  private readonly seenPos: Uint8Array;
  /** Per mote: frames sent and received (for summaries). */
  readonly sentBy: Uint32Array;
  readonly recvBy: Uint32Array;

  private readonly macRng: RngBank;
  private readonly lossRng: Rng;
  readonly stats: RadioStats = {
    frames_sent: 0, acks_sent: 0, retransmissions: 0, receptions: 0, lost: 0, collisions: 0, half_duplex: 0,
    acked: 0, not_acked: 0, channel_access_failures: 0, queue_full: 0, duplicates: 0,
  };
  client!: RadioClient;
  observer: RadioObserver | null = null;

  constructor(readonly topo: Topology, private readonly q: EventQueue, seed: number) {
    const n = (this.n = topo.n);
    this.alive = new Uint8Array(n);
    this.epoch = new Uint32Array(n);
    this.macQ = new Int32Array(n * MAC_QUEUE);
    this.qHead = new Uint8Array(n);
    this.qCount = new Uint8Array(n);
    this.state = new Uint8Array(n);
    this.nb = new Uint8Array(n);
    this.be = new Uint8Array(n);
    this.acked = new Uint8Array(n);
    this.ph = new Int32Array(n * 4);
    for (let i = 0; i < n; i++) this.ph[4 * i + 1] = -1;
    this.ch = new Float64Array(n * 2).fill(-Infinity);
    this.dsn = new Uint8Array(n);
    this.seen = new Int32Array(n * 4);
    this.seenPos = new Uint8Array(n);
    this.sentBy = new Uint32Array(n);
    this.recvBy = new Uint32Array(n);
    this.macRng = new RngBank(n, seed, Purpose.MAC);
    this.lossRng = new Rng(streamSeed(seed, Purpose.LOSS));
    this.data = new Uint8Array(0);
    this.fLen = new Uint8Array(0);
    this.fProto = new Uint8Array(0);
    this.fSrc = new Int32Array(0);
    this.fDst = new Int32Array(0);
    this.fAck = new Uint8Array(0);
    this.fRetries = new Uint8Array(0);
    this.fTries = new Uint8Array(0);
    this.fDsn = new Uint8Array(0);
    this.fToken = new Int32Array(0);
    this.fFree = new Int32Array(0);
    this.growPool(Math.max(64, Math.min(4096, n * 2)));
  }

  private growPool(newCap: number): void {
    const old = this.cap;
    const g = <T extends Uint8Array | Int32Array>(a: T, C: new (n: number) => T, mult = 1): T => {
      const b = new C(newCap * mult);
      b.set(a);
      return b;
    };
    this.data = g(this.data, Uint8Array, 128);
    this.fLen = g(this.fLen, Uint8Array);
    this.fProto = g(this.fProto, Uint8Array);
    this.fSrc = g(this.fSrc, Int32Array);
    this.fDst = g(this.fDst, Int32Array);
    this.fAck = g(this.fAck, Uint8Array);
    this.fRetries = g(this.fRetries, Uint8Array);
    this.fTries = g(this.fTries, Uint8Array);
    this.fDsn = g(this.fDsn, Uint8Array);
    this.fToken = g(this.fToken, Int32Array);
    const free = new Int32Array(newCap);
    free.set(this.fFree.subarray(0, this.nFree));
    for (let i = newCap - 1; i >= old; i--) free[this.nFree++] = i;
    this.fFree = free;
    this.cap = newCap;
  }

  /**
   * A frame slot for `src` (its payload at data[f*128 ...]); fill it, then
   * `send` it (or `release` it). `earlyNoAck`: when no ack can come (the
   * destination did not get the frame), report the failure when the frame
   * ends instead of after the ack wait (ACK_WAIT_US later; for a protocol
   * that adds the wait to its own retry delay: one event less).
   */
  alloc(src: number, proto: number, dst: number, len: number, ackReq: boolean, retries: number, token: number, earlyNoAck = false): number {
    if (this.nFree === 0) this.growPool(this.cap * 2);
    const f = this.fFree[--this.nFree];
    this.framesInUse++;
    this.fSrc[f] = src;
    this.fProto[f] = proto;
    this.fDst[f] = dst;
    this.fLen[f] = len;
    this.fAck[f] = ackReq && dst !== BROADCAST_ADDR ? (earlyNoAck && retries === 0 ? 3 : 1) : 0;
    this.fRetries[f] = retries;
    this.fTries[f] = 0;
    this.fToken[f] = token;
    this.fDsn[f] = 0;
    return f;
  }

  release(f: number): void {
    this.fFree[this.nFree++] = f;
    this.framesInUse--;
  }

  /**
   * Queue frame f for its source; false (and the frame released) when the MAC
   * queue is full or the mote is off. `delayUs`: when the MAC is idle, wait
   * this long before the first backoff (a mote that is busy elsewhere).
   */
  send(f: number, t: number, delayUs = 0): boolean {
    const s = this.fSrc[f];
    if (!this.alive[s] || this.qCount[s] === MAC_QUEUE) {
      if (this.alive[s]) this.stats.queue_full++;
      this.release(f);
      return false;
    }
    this.fDsn[f] = this.dsn[s] = (this.dsn[s] + 1) & 0xff;
    let k = this.qHead[s] + this.qCount[s];
    if (k >= MAC_QUEUE) k -= MAC_QUEUE;
    this.macQ[s * MAC_QUEUE + k] = f;
    this.qCount[s]++;
    if (this.state[s] === IDLE) this.startCsma(s, t, delayUs);
    return true;
  }

  /** Frames waiting in (or being sent from) a mote's MAC queue. */
  queued(s: number): number {
    return this.qCount[s];
  }

  private head(s: number): number {
    return this.macQ[s * MAC_QUEUE + this.qHead[s]];
  }

  private startCsma(s: number, t: number, extraUs: number): void {
    this.state[s] = BACKOFF;
    this.nb[s] = 0;
    this.be[s] = MIN_BE;
    this.q.push(t + extraUs + this.macRng.int(s, 1 << MIN_BE) * BACKOFF_US + CCA_TO_TX_US, EV.ATTEMPT, s, 0, this.epoch[s]);
  }

  /** Power a mote on (true) or off: off drops its queue and any pending MAC work. */
  setAlive(s: number, on: boolean): void {
    if (!on) {
      const k0 = this.qCount[s] > 0 ? this.head(s) : -1;
      while (this.qCount[s] > 0) {
        const f = this.head(s);
        this.qHead[s] = (this.qHead[s] + 1) % MAC_QUEUE;
        this.qCount[s]--;
        // a frame on the air is released when its transmission ends
        if (!(this.state[s] === TX && this.ph[4 * s + 3] && k0 === f)) this.release(f);
      }
      this.qHead[s] = 0;
      this.state[s] = IDLE;
      this.ph[4 * s + 1] = -1;
    }
    this.alive[s] = on ? 1 : 0;
    this.epoch[s]++;
  }

  /** Handle a radio event popped by the simulator. */
  handle(kind: number, s: number, arg: number, epoch: number, t: number): void {
    switch (kind) {
      case EV.ATTEMPT: {
        // t: when the frame would go on the air; the CCA was CCA_TO_TX_US earlier
        if (epoch !== this.epoch[s] || this.state[s] !== BACKOFF) return;
        if (this.ph[4 * s + 3] || this.busyAt(s, t - CCA_TO_TX_US)) {
          this.backoffAgain(s, t, epoch);
          return;
        }
        this.state[s] = TX;
        this.stats.frames_sent++;
        this.sentBy[s]++;
        this.startTx(s, this.head(s), t);
        return;
      }
      case EV.TX_END:
        this.endTx(s, arg, t);
        return;
      case EV.ACK_TIMEOUT:
        if (epoch !== this.epoch[s] || this.state[s] !== WAIT_ACK || this.qCount[s] === 0 || this.head(s) !== arg) return;
        this.ackTimeout(s, t);
        return;
    }
  }

  /** Was mote s's channel busy at time x (at most 320 µs ago)? */
  private busyAt(s: number, x: number): boolean {
    const busy = this.ph[4 * s] > 0 || this.ph[4 * s + 3] === 1;
    const flips = (this.ch[2 * s] > x ? 1 : 0) + (this.ch[2 * s + 1] > x ? 1 : 0);
    return flips === 1 ? !busy : busy;
  }

  private transition(r: number, t: number): void {
    this.ch[2 * r + 1] = this.ch[2 * r];
    this.ch[2 * r] = t;
  }

  /** The channel was busy: one more backoff, or a channel access failure. */
  private backoffAgain(s: number, t: number, epoch: number): void {
    this.nb[s]++;
    if (this.nb[s] > MAX_CSMA_BACKOFFS) {
      this.stats.channel_access_failures++;
      this.complete(s, 1, false, t);
      return;
    }
    if (this.be[s] < MAX_BE) this.be[s]++;
    // the busy CCA ended CCA_TO_TX_US - CCA_US before t; then a backoff, a CCA and the turnaround
    this.q.push(t - CCA_TO_TX_US + CCA_US + this.macRng.int(s, 1 << this.be[s]) * BACKOFF_US + CCA_TO_TX_US, EV.ATTEMPT, s, 0, epoch);
  }

  private startTx(s: number, f: number, t: number): void {
    const ph = this.ph, ch = this.ch, alive = this.alive;
    const p = 4 * s;
    if (ph[p] === 0) this.transition(s, t);
    ph[p + 3] = 1;
    if (ph[p + 1] >= 0) {
      ph[p + 1] = -1;
      this.stats.half_duplex++;
    }
    const start = this.topo.outStart, nbr = this.topo.outNbr;
    for (let k = start[s], e = start[s + 1]; k < e; k++) {
      const r = nbr[k];
      const q = 4 * r;
      const a = ++ph[q];
      if (a === 1 && ph[q + 3] === 0) {
        ch[2 * r + 1] = ch[2 * r];
        ch[2 * r] = t;
        ph[q + 1] = f;
        ph[q + 2] = 1;
      } else {
        if (ph[q + 1] >= 0) ph[q + 2] = 0;
        if (alive[r]) {
          if (ph[q + 3]) this.stats.half_duplex++;
          else {
            this.stats.collisions++;
            if (this.observer?.drop) this.observer.drop(r, f, t, "collision");
          }
        }
      }
    }
    if (this.observer?.tx && this.fProto[f] !== PROTO_ACK) this.observer.tx(s, f, t);
    const air = this.fProto[f] === PROTO_ACK ? TURNAROUND_US + ACK_AIR_US : airTimeUs(this.fLen[f]);
    // off the air before a transmission that starts at the same instant (not a collision)
    this.q.push(t + air, EV.TX_END, s, f, this.epoch[s], true);
  }

  private endTx(s: number, f: number, t: number): void {
    const ph = this.ph, ch = this.ch, alive = this.alive;
    ph[4 * s + 3] = 0;
    if (ph[4 * s] === 0) this.transition(s, t);
    const start = this.topo.outStart, nbr = this.topo.outNbr, prr = this.topo.outPrr, ids = this.topo.ids;
    const isAck = this.fProto[f] === PROTO_ACK;
    const dst = this.fDst[f];
    const bcast = dst === BROADCAST_ADDR;
    let acker = -1;
    for (let k = start[s], e = start[s + 1]; k < e; k++) {
      const r = nbr[k];
      const q = 4 * r;
      if (--ph[q] === 0 && ph[q + 3] === 0) {
        ch[2 * r + 1] = ch[2 * r];
        ch[2 * r] = t;
      }
      if (ph[q + 1] !== f) continue;
      ph[q + 1] = -1;
      // a unicast frame only matters to its destination (other motes drop it on the address)
      if (!alive[r] || (!bcast && ids[r] !== dst)) continue;
      if (ph[q + 2] === 0) {
        this.stats.collisions++;
        if (this.observer?.drop) this.observer.drop(r, f, t, "collision");
      } else if (prr[k] >= 1 || this.lossRng.next() < prr[k]) {
        if (isAck) this.ackReceived(r, f, t);
        else if (this.deliver(r, f, t)) acker = r;
      } else {
        this.stats.lost++;
        if (this.observer?.drop) this.observer.drop(r, f, t, "loss");
      }
    }
    if (isAck) {
      // the sender learns the outcome when the ack would have ended
      this.ackDone(this.fToken[f], f, t);
      this.release(f);
      return;
    }
    if (this.state[s] !== TX || this.qCount[s] === 0 || this.head(s) !== f) {
      // the sender was switched off while the frame was on the air
      this.release(f);
      return;
    }
    if (this.fAck[f]) {
      this.state[s] = WAIT_ACK;
      this.acked[s] = 0;
      if (acker >= 0) {
        // the destination acknowledges: its ack (turnaround included) starts now that the data frame has ended everywhere
        const a = this.alloc(acker, PROTO_ACK, this.topo.ids[s], 0, false, 0, s);
        this.fDsn[a] = this.fDsn[f];
        this.fRetries[a] = this.epoch[s] & 0xff;
        this.stats.acks_sent++;
        this.startTx(acker, a, t);
      } else if (this.fAck[f] & 2) {
        // no ack on its way, and the sender's protocol accounts for the wait itself
        this.stats.not_acked++;
        this.complete(s, 0, false, t);
      } else {
        // no ack on its way: the sender waits until its ack timeout
        this.q.push(t + ACK_WAIT_US, EV.ACK_TIMEOUT, s, f, this.epoch[s]);
      }
    } else {
      this.complete(s, 0, false, t);
    }
  }

  private ackReceived(r: number, ack: number, _t: number): void {
    // r hears an ack: is it the one r waits for?
    if (this.fDst[ack] !== this.topo.ids[r] || this.state[r] !== WAIT_ACK || this.qCount[r] === 0) return;
    const f = this.head(r);
    if (this.fDsn[f] === this.fDsn[ack] && this.topo.ids[this.fSrc[ack]] === this.fDst[f]) this.acked[r] = 1;
  }

  /** The ack to mote w's frame ended (heard or not): w's wait is over. */
  private ackDone(w: number, ack: number, t: number): void {
    if (w < 0 || this.state[w] !== WAIT_ACK || this.qCount[w] === 0 || (this.epoch[w] & 0xff) !== this.fRetries[ack]) return;
    if (this.fDsn[this.head(w)] !== this.fDsn[ack]) return;
    this.ackTimeout(w, t);
  }

  private ackTimeout(s: number, t: number): void {
    if (this.acked[s]) {
      this.stats.acked++;
      this.complete(s, 0, true, t);
    } else if (this.fRetries[this.head(s)] > 0) {
      const f = this.head(s);
      this.fRetries[f]--;
      // retransmission after a random delay whose range doubles: 1-4 ms, 1-8 ms, 1-16 ms, ...
      const k = Math.min(this.fTries[f]++, 6);
      this.stats.retransmissions++;
      this.startCsma(s, t, (1 + this.macRng.int(s, 4 << k)) * 1000);
    } else {
      this.stats.not_acked++;
      this.complete(s, 0, false, t);
    }
  }

  /** Frame f reached r intact. @returns true when r acknowledges it. */
  private deliver(r: number, f: number, t: number): boolean {
    const dst = this.fDst[f];
    const me = this.topo.ids[r];
    this.stats.receptions++;
    if (dst !== BROADCAST_ADDR && dst !== me) return false; // not for r
    const src = this.fSrc[f];
    const acking = this.fAck[f] !== 0 && dst === me;
    // duplicate of a retransmitted frame?
    const key = ((src << 8) | this.fDsn[f]) + 1;
    const seen = this.seen, base = r * 4;
    if (seen[base] === key || seen[base + 1] === key || seen[base + 2] === key || seen[base + 3] === key) {
      this.stats.duplicates++;
      return acking;
    }
    seen[base + this.seenPos[r]] = key;
    this.seenPos[r] = (this.seenPos[r] + 1) & 3;
    this.recvBy[r]++;
    if (this.observer?.rx) this.observer.rx(r, f, t);
    this.client.receive(r, f, t);
    return acking;
  }

  private complete(s: number, error: number, acked: boolean, t: number): void {
    const f = this.head(s);
    this.qHead[s] = (this.qHead[s] + 1) % MAC_QUEUE;
    this.qCount[s]--;
    this.state[s] = IDLE;
    this.client.sendDone(s, f, error, acked, t);
    this.release(f);
    if (this.qCount[s] > 0 && this.alive[s]) this.startCsma(s, t, 0);
  }
}
