/**
 * The simulator's event queue: events ordered by (time, sequence number), so
 * that events at the same time run in the order they were scheduled
 * (deterministic, FIFO tie-breaking). Two 4-ary min-heaps: one for events
 * due within NEAR_US of when they are scheduled (radio events: many, short
 * lived) and one for later ones (mote timers, protocol timers), so that the
 * busy heap stays small; popping takes the smaller head of the two. Heaps
 * keep each entry's time and sequence number inline (no indirection when
 * comparing); payloads live in a pool of parallel typed arrays (no object
 * per event). Time is in microseconds of simulated time (a float64 holding
 * an integer).
 */

/** Sequence numbers of `first` events are this much lower: below every other event's (float64 holds them exactly). */
const FIRST_OFFSET = 2 ** 52;

/** Events due sooner than this after being scheduled go to the near heap. */
const NEAR_US = 50_000;

/** A 4-ary min-heap of (time, seq, id); time and seq interleaved in `key` (2 per entry). */
class Heap4 {
  key: Float64Array;
  hId: Int32Array;
  size = 0;

  constructor(cap: number) {
    this.key = new Float64Array(cap * 2);
    this.hId = new Int32Array(cap);
  }

  push(t: number, s: number, id: number): void {
    if (this.size === this.hId.length) {
      const n = this.size * 2;
      const a = new Float64Array(n * 2), c = new Int32Array(n);
      a.set(this.key);
      c.set(this.hId);
      this.key = a;
      this.hId = c;
    }
    const K = this.key, hI = this.hId;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pt = K[2 * p];
      if (pt < t || (pt === t && K[2 * p + 1] < s)) break;
      K[2 * i] = pt;
      K[2 * i + 1] = K[2 * p + 1];
      hI[i] = hI[p];
      i = p;
    }
    K[2 * i] = t;
    K[2 * i + 1] = s;
    hI[i] = id;
  }

  /** Remove the head (the caller read it from key[0], key[1], hId[0]). */
  pop(): void {
    const K = this.key, hI = this.hId;
    const n = --this.size;
    if (n === 0) return;
    const t = K[2 * n], s = K[2 * n + 1], id = hI[n];
    let i = 0;
    for (;;) {
      const c = 4 * i + 1;
      if (c >= n) break;
      let m = c, mt = K[2 * c], ms = K[2 * c + 1];
      const e = c + 4 < n ? c + 4 : n;
      for (let k = c + 1; k < e; k++) {
        const kt = K[2 * k];
        if (kt < mt || (kt === mt && K[2 * k + 1] < ms)) {
          m = k;
          mt = kt;
          ms = K[2 * k + 1];
        }
      }
      if (t < mt || (t === mt && s < ms)) break;
      K[2 * i] = mt;
      K[2 * i + 1] = ms;
      hI[i] = hI[m];
      i = m;
    }
    K[2 * i] = t;
    K[2 * i + 1] = s;
    hI[i] = id;
  }
}

export class EventQueue {
  private readonly near = new Heap4(1024);
  private readonly far = new Heap4(1024);
  /** Payload of pool entry i: kind, node, argument, node epoch when scheduled. */
  kind: Uint8Array;
  node: Int32Array;
  arg: Int32Array;
  epoch: Uint32Array;
  private free: Int32Array;
  private nFree = 0;
  private cap: number;
  private nextSeq = 0;
  /** The time of the event popped last: events may only be scheduled at or after it. */
  lastTime = 0;

  constructor(capacity = 1024) {
    this.cap = capacity;
    this.kind = new Uint8Array(capacity);
    this.node = new Int32Array(capacity);
    this.arg = new Int32Array(capacity);
    this.epoch = new Uint32Array(capacity);
    this.free = new Int32Array(capacity);
    for (let i = capacity - 1; i >= 0; i--) this.free[this.nFree++] = i;
  }

  get length(): number {
    return this.near.size + this.far.size;
  }

  /** Events scheduled since creation. */
  get scheduled(): number {
    return this.nextSeq;
  }

  private grow(): void {
    const n = this.cap * 2;
    const g = <T extends Uint8Array | Int32Array | Uint32Array>(a: T, C: new (n: number) => T): T => {
      const b = new C(n);
      b.set(a);
      return b;
    };
    this.kind = g(this.kind, Uint8Array);
    this.node = g(this.node, Int32Array);
    this.arg = g(this.arg, Int32Array);
    this.epoch = g(this.epoch, Uint32Array);
    const free = new Int32Array(n);
    free.set(this.free.subarray(0, this.nFree));
    for (let i = n - 1; i >= this.cap; i--) free[this.nFree++] = i;
    this.free = free;
    this.cap = n;
  }

  /**
   * Schedule an event at time t (µs). With `first`, it runs before the events scheduled without it
   * for the same time (still in scheduling order among its kind): a transmission that ends at t must
   * be off the air before one that starts at t, or the two would count as overlapping.
   */
  push(t: number, kind: number, node: number, arg: number, epoch: number, first = false): void {
    if (this.nFree === 0) this.grow();
    const id = this.free[--this.nFree];
    this.kind[id] = kind;
    this.node[id] = node;
    this.arg[id] = arg;
    this.epoch[id] = epoch;
    const seq = this.nextSeq++;
    (t - this.lastTime < NEAR_US ? this.near : this.far).push(t, first ? seq - FIRST_OFFSET : seq, id);
  }

  /** Time of the earliest event (Infinity when empty). */
  peekTime(): number {
    const a = this.near.size ? this.near.key[0] : Infinity;
    const b = this.far.size ? this.far.key[0] : Infinity;
    return a < b ? a : b;
  }

  /**
   * Remove the earliest event and return its pool index (its time is in
   * `lastTime`); its payload stays readable (kind[id], node[id], ...) until
   * the next push.
   */
  pop(): number {
    const a = this.near, b = this.far;
    let h = a;
    if (a.size === 0) h = b;
    else if (b.size !== 0) {
      const at = a.key[0], bt = b.key[0];
      if (bt < at || (bt === at && b.key[1] < a.key[1])) h = b;
    }
    const id = h.hId[0];
    this.lastTime = h.key[0];
    h.pop();
    this.free[this.nFree++] = id;
    return id;
  }

  clear(): void {
    for (const h of [this.near, this.far]) {
      for (let k = 0; k < h.size; k++) this.free[this.nFree++] = h.hId[k];
      h.size = 0;
    }
  }
}
