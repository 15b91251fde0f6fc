/**
 * A UDP transport for DissNode: TypeScript motes and the C motes of
 * firmware-host (build/host/terra-diss-mote, diss/diss.c) on one network of
 * real processes (docs/dissemination.md "C motes and the UDP network").
 *
 * Transport: IPv4 multicast. Every mote joins one group (default
 * 239.255.42.99:47474) on one interface (default 127.0.0.1: the datagrams
 * never leave the host) and sends each frame as one datagram:
 *
 *   source address u16 LE | destination u16 LE (0xFFFF) | frame (frames.ts)
 *
 * Every mote hears every datagram of the group; a radio neighbourhood is
 * kept by the receiver: it drops its own datagrams (looped back), those of
 * motes not in its `neighbours` list (when given: multi-hop topologies on
 * one group) and, with probability `loss`, any other (a seeded stream, so a
 * run's losses are reproducible per mote).
 *
 * Time is the process's monotonic clock (ms since the mote started); timers
 * are setTimeout. The store is a FileStore directory (store.ts), the same
 * record names the C motes write.
 */
import dgram from "node:dgram";
import { isIPv4 } from "node:net";
import { Rng, streamSeed } from "../sim/rng";
import { BROADCAST } from "./frames";
import { DissNode, type DissNodeOptions, type RejectionRecord } from "./node";
import { FileStore } from "./store";
import type { Radio, Scheduler, Store, Timer } from "./types";

/** Bytes before the frame in a datagram: source and destination addresses. */
export const UDP_HEADER_BYTES = 4;
export const DEFAULT_UDP_GROUP = "239.255.42.99";
export const DEFAULT_UDP_PORT = 47474;
export const DEFAULT_UDP_IFACE = "127.0.0.1";

/** A datagram: source u16 LE | destination u16 LE | frame. @throws RangeError for an address that is not a u16. */
export function encodeDatagram(from: number, frame: Uint8Array, dest = BROADCAST): Uint8Array {
  for (const [v, what] of [[from, "source"], [dest, "destination"]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`${what} address ${v} is not a u16`);
  }
  const out = new Uint8Array(UDP_HEADER_BYTES + frame.length);
  out[0] = from & 0xff;
  out[1] = from >> 8;
  out[2] = dest & 0xff;
  out[3] = dest >> 8;
  out.set(frame, UDP_HEADER_BYTES);
  return out;
}

/** Split a datagram; a string says why it is not one (shorter than the header and one frame byte). Never throws. */
export function decodeDatagram(b: Uint8Array): { from: number; dest: number; frame: Uint8Array } | string {
  if (b.length < UDP_HEADER_BYTES + 1) return `datagram of ${b.length} bytes (at least ${UDP_HEADER_BYTES + 1})`;
  return { from: b[0] | (b[1] << 8), dest: b[2] | (b[3] << 8), frame: b.slice(UDP_HEADER_BYTES) };
}

/** Real time: ms since construction (monotonic), timers on setTimeout. */
export class RealTimeClock implements Scheduler {
  private readonly t0 = performance.now();

  now(): number {
    return performance.now() - this.t0;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const h = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(h) };
  }
}

export interface UdpRadioOptions {
  /** This mote's 16-bit address (1..65534). */
  id: number;
  /** Multicast group (IPv4, 224.0.0.0/4; default DEFAULT_UDP_GROUP). */
  group?: string;
  /** UDP port (default DEFAULT_UDP_PORT). */
  port?: number;
  /** Interface address the group is joined on (default 127.0.0.1). */
  iface?: string;
  /** Motes this one hears (default: every mote of the group). */
  neighbours?: readonly number[];
  /** Probability of dropping a received frame, [0, 1) (default 0). */
  loss?: number;
  /** Seed of the loss stream (default 1). */
  seed?: number;
}

/** Counters of a UdpRadio (datagrams). */
export interface UdpRadioStats {
  sent: number;
  /** Delivered to the protocol. */
  heard: number;
  /** Dropped by the emulated loss. */
  lost: number;
  /** From a mote that is not a neighbour (or our own, looped back). */
  notNeighbour: number;
  /** Shorter than a datagram header and one byte. */
  bad: number;
  /** Sends the socket refused (the frame is lost, as on a radio). */
  sendErrors: number;
}

/**
 * One mote's radio on the UDP multicast network. `open` binds and joins the
 * group; frames heard from neighbours go to `onFrame(frame, from)`.
 */
export class UdpRadio implements Radio {
  readonly stats: UdpRadioStats = { sent: 0, heard: 0, lost: 0, notNeighbour: 0, bad: 0, sendErrors: 0 };
  private readonly rng: Rng;
  private readonly hears: ReadonlySet<number> | undefined;
  private closed = false;

  private constructor(
    readonly o: Required<Omit<UdpRadioOptions, "neighbours">> & { neighbours?: readonly number[] },
    private readonly sock: dgram.Socket,
    private readonly onFrame: (frame: Uint8Array, from: number) => void,
  ) {
    this.rng = new Rng(streamSeed(o.seed, 7, o.id));
    this.hears = o.neighbours ? new Set(o.neighbours) : undefined;
    sock.on("message", (m) => this.deliver(new Uint8Array(m.buffer, m.byteOffset, m.length)));
  }

  /**
   * Bind the group's port (shared: SO_REUSEADDR), join the group on `iface`,
   * loop multicast back to this host, TTL 1.
   * @throws RangeError for bad options; the socket's Error (with the address) when binding or joining fails.
   */
  static async open(opts: UdpRadioOptions, onFrame: (frame: Uint8Array, from: number) => void): Promise<UdpRadio> {
    const o = {
      id: opts.id, group: opts.group ?? DEFAULT_UDP_GROUP, port: opts.port ?? DEFAULT_UDP_PORT, iface: opts.iface ?? DEFAULT_UDP_IFACE,
      loss: opts.loss ?? 0, seed: opts.seed ?? 1, neighbours: opts.neighbours,
    };
    if (!Number.isInteger(o.id) || o.id < 1 || o.id > 0xfffe) throw new RangeError(`mote id ${o.id} is not in 1..65534`);
    if (!isIPv4(o.group) || (Number(o.group.split(".")[0]) & 0xf0) !== 0xe0) throw new RangeError(`${o.group} is not an IPv4 multicast group (224.0.0.0/4)`);
    if (!isIPv4(o.iface)) throw new RangeError(`interface ${o.iface} is not an IPv4 address`);
    if (!Number.isInteger(o.port) || o.port < 1 || o.port > 0xffff) throw new RangeError(`port ${o.port} is not in 1..65535`);
    if (!(o.loss >= 0 && o.loss < 1)) throw new RangeError(`loss ${o.loss} is not a probability in [0, 1)`);
    for (const n of o.neighbours ?? []) if (!Number.isInteger(n) || n < 1 || n > 0xfffe) throw new RangeError(`neighbour ${n} is not a mote id 1..65534`);
    const sock = dgram.createSocket({ type: "udp4", reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      sock.once("error", (e) => reject(new Error(`udp ${o.group}:${o.port} on ${o.iface}: ${e.message}`)));
      sock.bind(o.port, o.group, () => {
        try {
          sock.addMembership(o.group, o.iface);
          sock.setMulticastInterface(o.iface);
          sock.setMulticastLoopback(true);
          sock.setMulticastTTL(1);
          resolve();
        } catch (e) {
          sock.close();
          reject(new Error(`udp: joining ${o.group} on ${o.iface}: ${(e as Error).message}`));
        }
      });
    });
    sock.removeAllListeners("error");
    sock.on("error", () => {}); // send errors are counted by send's callback: the frame is lost, as on a radio
    return new UdpRadio(o, sock, onFrame);
  }

  /** Broadcast one frame (dest is carried, every neighbour hears it). */
  send(frame: Uint8Array, dest: number): void {
    if (this.closed) return;
    this.stats.sent++;
    this.sock.send(encodeDatagram(this.o.id, frame, dest), this.o.port, this.o.group, (e) => {
      if (e) this.stats.sendErrors++;
    });
  }

  private deliver(b: Uint8Array): void {
    const d = decodeDatagram(b);
    if (typeof d === "string") {
      this.stats.bad++;
      return;
    }
    if (d.from === this.o.id || (this.hears && !this.hears.has(d.from))) {
      this.stats.notNeighbour++;
      return;
    }
    if (this.o.loss > 0 && this.rng.next() < this.o.loss) {
      this.stats.lost++;
      return;
    }
    this.stats.heard++;
    this.onFrame(d.frame, d.from);
  }

  /** Leave the group and close the socket. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}

/** One line of a mote's log (the C motes print the same objects): t ms since start, wall Unix ms. */
export interface MoteEvent {
  t: number;
  wall: number;
  id: number;
  ev: string;
  [field: string]: unknown;
}

export interface UdpMoteOptions extends Omit<DissNodeOptions, "store" | "clock" | "rng" | "radio" | "onInstall" | "onReject"> {
  udp: Omit<UdpRadioOptions, "id">;
  /** Where the mote keeps its records (a FileStore directory), or a store of the caller's. */
  store: string | Store;
  /** A factory image written as the installed record when the store has none. */
  initial?: Uint8Array;
  /** Seed of the protocol's random stream (default 1). */
  seed?: number;
  /** Every event (start, boot, install, reject, end), as the C motes log them. */
  log?: (e: MoteEvent) => void;
  /** Wrap the radio the protocol sends on (tests: an adversary that alters frames). */
  wrapRadio?: (radio: Radio) => Radio;
}

/** A TypeScript mote on the UDP network: DissNode + UdpRadio + RealTimeClock + a store. */
export class UdpMote {
  private constructor(
    readonly node: DissNode,
    readonly radio: UdpRadio,
    readonly clock: RealTimeClock,
    private readonly log: (ev: string, f?: Record<string, unknown>) => void,
  ) {}

  /**
   * Open the radio, build the DissNode and boot it.
   * @throws as UdpRadio.open, and Error from the store (a directory that cannot be used).
   */
  static async start(o: UdpMoteOptions): Promise<UdpMote> {
    const store = typeof o.store === "string" ? new FileStore(o.store) : o.store;
    if (o.initial && !store.get("installed")) store.set("installed", o.initial);
    let mote: UdpMote | undefined;
    const pending: [Uint8Array, number][] = [];
    const radio = await UdpRadio.open({ ...o.udp, id: o.id }, (frame, from) => {
      if (mote) mote.node.receive(frame, from);
      else pending.push([frame, from]);
    });
    const clock = new RealTimeClock();
    const emit = (ev: string, f: Record<string, unknown> = {}) => o.log?.({ t: Math.round(clock.now()), wall: Date.now(), id: o.id, ev, ...f });
    const { udp: _udp, store: _store, initial: _initial, seed, log: _log, wrapRadio, ...nodeOpts } = o;
    const node = new DissNode({
      ...nodeOpts, store, clock, rng: new Rng(streamSeed(seed ?? 1, 8, o.id)), radio: wrapRadio ? wrapRadio(radio) : radio,
      onInstall: (capsule, version) => emit("install", { version, bytes: capsule.length }),
      onReject: (r: RejectionRecord) => emit("reject", { reason: r.reason, version: r.version ?? 0, ...(r.from !== undefined ? { from: r.from } : {}), detail: r.detail }),
    });
    mote = new UdpMote(node, radio, clock, emit);
    emit("start", { mode: o.auth.mode, config: o.configId >>> 0, udp: `${radio.o.group}:${radio.o.port}` });
    node.boot();
    emit("boot", { version: node.installedVersion });
    for (const [f, from] of pending) node.receive(f, from);
    return mote;
  }

  /** Base station: check and install a capsule from the gateway (DissNode.inject), logged as `inject`. */
  inject(capsule: Uint8Array): ReturnType<DissNode["inject"]> {
    const r = this.node.inject(capsule);
    const v = capsule.length >= 8 ? new DataView(capsule.buffer, capsule.byteOffset, capsule.byteLength).getUint32(4, true) : 0;
    this.log("inject", { version: v, ok: r === undefined, ...(r ? { reason: r.reason } : {}) });
    return r;
  }

  /** Stop the protocol, log `end` with the statistics, close the radio. */
  async stop(): Promise<void> {
    this.node.stop();
    const rc = this.node.receiving;
    this.log("end", { version: this.node.installedVersion, receiving: rc?.version ?? 0, stats: this.node.stats, udp: this.radio.stats });
    await this.radio.close();
  }
}
