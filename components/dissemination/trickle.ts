/**
 * The Trickle algorithm (RFC 6206 §4.2), on an injected Scheduler and Random.
 *
 *  1. Start: I = Imin (RFC: any value in [Imin, Imax]; Imin gives the
 *     quickest first advertisement after boot), then begin an interval.
 *  2. Interval start: c = 0, t uniform in [I/2, I).
 *  3. consistent(): c = c + 1.
 *  4. At t: transmit if k is infinite or c < k.
 *  5. Interval end: I = min(2 I, Imax), begin a new interval.
 *  6. inconsistent(): if I > Imin, I = Imin and begin a new interval
 *     (if I == Imin nothing happens).
 *  reset() is the protocol's own "external event" (§6): I = Imin and a new
 *  interval unconditionally.
 *
 * Units: ms. RFC 6206 states Imax as a number of doublings of Imin; here
 * `imaxMs` = Imin x 2^doublings is given directly (it must be >= Imin).
 */
import type { Random, Scheduler, Timer } from "./types";

export interface TrickleParams {
  /** Imin, ms. */
  iminMs: number;
  /** Imax, ms (Imin x 2^doublings). */
  imaxMs: number;
  /** Redundancy constant k (>= 1; Infinity disables suppression). */
  k: number;
}

export class Trickle {
  /** Current interval length I, ms. */
  interval = 0;
  /** Consistent transmissions heard in this interval. */
  counter = 0;
  /** Transmissions made / suppressed (statistics). */
  transmitted = 0;
  suppressed = 0;
  private tTimer: Timer | undefined;
  private endTimer: Timer | undefined;
  private running = false;

  constructor(private clock: Scheduler, private rng: Random, readonly p: TrickleParams, private transmit: () => void) {
    if (!(p.iminMs > 0) || !(p.imaxMs >= p.iminMs) || !(p.k >= 1)) {
      throw new RangeError(`Trickle: need 0 < Imin <= Imax and k >= 1 (got Imin ${p.iminMs} ms, Imax ${p.imaxMs} ms, k ${p.k})`);
    }
  }

  start(): void {
    this.running = true;
    this.interval = this.p.iminMs;
    this.begin();
  }

  stop(): void {
    this.running = false;
    this.tTimer?.cancel();
    this.endTimer?.cancel();
    this.tTimer = this.endTimer = undefined;
  }

  consistent(): void {
    this.counter++;
  }

  /** External event (RFC 6206 §6): I = Imin and a new interval, even when I is already Imin. */
  reset(): void {
    if (!this.running) return;
    this.interval = this.p.iminMs;
    this.begin();
  }

  inconsistent(): void {
    if (!this.running || this.interval <= this.p.iminMs) return;
    this.interval = this.p.iminMs;
    this.begin();
  }

  private begin(): void {
    this.tTimer?.cancel();
    this.endTimer?.cancel();
    this.counter = 0;
    const I = this.interval;
    const t = I / 2 + this.rng.next() * (I / 2);
    this.tTimer = this.clock.setTimer(t, () => {
      this.tTimer = undefined;
      if (this.counter < this.p.k) {
        this.transmitted++;
        this.transmit();
      } else {
        this.suppressed++;
      }
    });
    this.endTimer = this.clock.setTimer(I, () => {
      this.endTimer = undefined;
      this.interval = Math.min(2 * this.interval, this.p.imaxMs);
      this.begin();
    });
  }
}
