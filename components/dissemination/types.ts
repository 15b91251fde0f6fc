/**
 * What a dissemination state machine is given by whoever runs it (the
 * network simulator, components/sim/dissemination.ts; a host mote; a test
 * harness): a clock with timers, a deterministic random source (e.g.
 * components/sim/rng.ts Rng), a radio and a persistent store. Nothing here
 * reads the wall clock or Math.random, so runs are reproducible.
 */

/** A pending timer. */
export interface Timer {
  cancel(): void;
}

/** Logical time in milliseconds and one-shot timers on it. */
export interface Scheduler {
  /** Current time, ms (non-decreasing). */
  now(): number;
  /** Call `fn` once `delayMs` (>= 0) ms from now, unless cancelled. */
  setTimer(delayMs: number, fn: () => void): Timer;
}

/** Uniform random numbers in [0, 1) (a seeded stream per mote). */
export interface Random {
  next(): number;
}

/**
 * The mote's radio: `send` hands one frame (the 802.15.4 MAC payload,
 * <= MAX_FRAME_BYTES) to the MAC, which may queue it. `dest` is a 16-bit
 * short address or BROADCAST (0xFFFF).
 */
export interface Radio {
  send(frame: Uint8Array, dest: number): void;
}

/**
 * Persistent key-value records (flash on a mote, a directory on a host, a Map
 * that outlives simulated reboots in the harness). `set` is atomic per key.
 * Keys are short ASCII names: [a-z0-9.]+.
 */
export interface Store {
  get(key: string): Uint8Array | undefined;
  set(key: string, value: Uint8Array): void;
  delete(key: string): void;
  keys(): string[];
}

/** What the harness and the simulator drive: a protocol instance of one mote. */
export interface ProtocolNode {
  /** Power-on: read the store, start timers. */
  boot(): void;
  /** A frame heard on the radio from mote `from` (its MAC source address). */
  receive(frame: Uint8Array, from: number): void;
  /** Power-off: cancel every timer (the store keeps what was persisted). */
  stop(): void;
  /** Version of the capsule installed (0: none). */
  readonly installedVersion: number;
}
