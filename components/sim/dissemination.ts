/**
 * Capsule dissemination inside the network simulator (issue 5, phase 2):
 * every mote runs the dissemination protocol of components/dissemination
 * (DissNode, or the FloodNode baseline) on the simulator's clock, its own
 * random stream, the shared radio medium (frames go through the mote's
 * 802.15.4 MAC queue, CSMA-CA, and collide with the script's own traffic)
 * and a per-mote store that outlives the mote's reboots, as flash does.
 *
 * Wiring (docs/dissemination.md "In the simulator"):
 *  - a dissemination frame is sent as a broadcast whose active-message type
 *    is its first byte (0xD1..0xD4, the frame's dispatch byte) and whose
 *    payload is the rest of the frame, so it takes the air time of
 *    6 + 13 + (frame - 1) bytes;
 *  - timers are events of the simulator's queue (kind DISS_TIMER, tagged
 *    with the mote's power epoch: a timer of a mote switched off never fires);
 *  - power-on builds a new protocol instance on the mote's store (RAM is
 *    lost, flash is not) before its VM starts: the VM runs the capsule the
 *    store holds, so a mote that reboots mid-transfer resumes from its
 *    verified blocks and never runs a partial capsule;
 *  - an install hands the verified capsule to the simulator, which replaces
 *    the mote's VM in one step (the old program runs until then; the new one
 *    boots fresh).
 *
 * Nothing of this exists unless the simulator is given `dissemination`
 * options: a run without it has no per-frame or per-mote cost.
 */
import type { KeyObject } from "node:crypto";
import { loadCapsule, type VerifiedCapsule } from "../../vm/verify";
import { DEFAULT_FLOOD_PARAMS, FloodNode, type FloodParams } from "../dissemination/flood";
import { FRAME_ADV, FRAME_DATA, FRAME_FLOOD, FRAME_REQ } from "../dissemination/frames";
import { DEFAULT_PARAMS, DissNode, type DissParams, type RejectionRecord } from "../dissemination/node";
import { KEY_INSTALLED, MemoryStore } from "../dissemination/store";
import type { Scheduler, Timer } from "../dissemination/types";
import { parseHeader, type Rejection, sha256, toHex } from "../security/capsule";
import type { ManifestAuth } from "../security/manifest";
import type { EventQueue } from "./events";
import { BROADCAST_ADDR, type Radio } from "./radio";
import { Purpose, Rng, streamSeed } from "./rng";
import { reachableFrom, type Topology } from "./topology";

/** Simulator event kinds of this component (the simulator routes them to `timer` and `injection`). */
export const DISS_TIMER = 9;
export const DISS_INJECT = 10;

/** Rejections remembered per mote across its reboots (oldest dropped first). */
const KEEP_REJECTIONS = 16;

export type DissProtocol = "trickle" | "flood";
export type AnyDissNode = DissNode | FloodNode;

export interface DisseminationOptions {
  /** "trickle" (DissNode, default) or "flood" (the naive flooding baseline). */
  protocol?: DissProtocol;
  /** How motes authenticate manifests and blocks. */
  auth: ManifestAuth;
  /** The network's Ed25519 public key (the base station checks injected capsules with it). */
  publicKey: KeyObject;
  /** The capsule in every mote's store at the start (a factory image: signed, or unsigned and then not relayable). */
  initial: Uint8Array;
  /** Script space of every mote, bytes. */
  scriptSpace: number;
  /** Per-mote script space (by node id), overriding `scriptSpace`. */
  scriptSpaceOf?: (id: number) => number;
  /** The motes' VMs execute float instructions (default true). */
  float?: boolean;
  params?: Partial<DissParams>;
  floodParams?: Partial<FloodParams>;
  /** Every install (after the VM switched), with the simulated time in ms. */
  onInstall?: (id: number, capsule: Uint8Array, version: number, tMs: number) => void;
  /** Every refusal at a mote. */
  onReject?: (id: number, r: RejectionRecord) => void;
}

/** What the dissemination component needs of the simulator. */
export interface DissHost {
  readonly n: number;
  readonly ids: Int32Array;
  readonly base: number;
  readonly topo: Topology;
  readonly radio: Radio;
  readonly queue: EventQueue;
  /** Simulated time (µs) of the event being handled. */
  readonly now: number;
  /** Replace mote i's program by `capsule` (a new VM, booted now). */
  installProgram(i: number, capsule: VerifiedCapsule | undefined): void;
  readonly tracing: boolean;
  traceEvent(i: number, kind: string, data: Record<string, unknown>): void;
}

/** An injection at the base station and its outcome. */
export interface Injection {
  t_ms: number;
  version: number;
  capsule_bytes: number;
  blocks: number;
  /** accepted, refused by the base station's checks (`rejection`), or not delivered: the base station was off. */
  outcome: "accepted" | "refused" | "base station off";
  rejection?: Rejection;
}

/** The base station is powered off: it cannot take a capsule. */
export class BaseStationOff extends Error {}

/** Frames by dissemination frame type: ADV, REQ, DATA, FLOOD. */
export interface DissFrames {
  adv: number;
  req: number;
  data: number;
  flood: number;
  total: number;
}

/** The deployment being followed: coverage of the motes the base station reaches. */
interface Tracking {
  version: number;
  injectedUs: number;
  framesAtInject: DissFrames;
  reach: Uint8Array;
  target: number;
  count: number;
  /** Per mote: first install of `version` (or newer), µs; NaN: not yet. */
  at: Float64Array;
  coverageUs: number | null;
  framesAtCoverage: DissFrames | null;
}

const typeSlot = (t: number): number => (t === FRAME_ADV ? 0 : t === FRAME_REQ ? 1 : t === FRAME_DATA ? 2 : 3);

export class SimDissemination {
  readonly protocol: DissProtocol;
  /** Each mote's flash: survives power cycles. */
  readonly stores: MemoryStore[];
  private readonly nodes: (AnyDissNode | null)[];
  /** Per mote: dissemination frames sent, by type (ADV, REQ, DATA, FLOOD). */
  private readonly sent: Uint32Array;
  /** Frames the MAC refused (queue full). */
  macQueueDrops = 0;
  /** Every install: node id, version, simulated ms. */
  readonly installs: { node: number; version: number; t_ms: number }[] = [];
  readonly injections: Injection[] = [];
  private readonly rejections: (RejectionRecord[] | undefined)[];
  rejectionCount = 0;
  readonly rejectionsByReason: Record<string, number> = {};
  private readonly timers = new Map<number, () => void>();
  private nextTimer = 1;
  private readonly pending: Uint8Array[] = [];
  private booting = -1;
  private readonly programs = new Map<string, VerifiedCapsule | undefined>();
  private track: Tracking | null = null;
  private readonly boots: Uint32Array;
  /** Configuration id of the motes' VM (the initial capsule's). */
  readonly configId: number;

  constructor(private readonly sim: DissHost, readonly o: DisseminationOptions, private readonly seed: number) {
    const n = sim.n;
    this.configId = parseHeader(o.initial).configId;
    this.protocol = o.protocol ?? "trickle";
    this.stores = [];
    for (let i = 0; i < n; i++) {
      const s = new MemoryStore();
      s.set(KEY_INSTALLED, o.initial);
      this.stores.push(s);
    }
    this.nodes = new Array<AnyDissNode | null>(n).fill(null);
    this.sent = new Uint32Array(n * 4);
    this.rejections = new Array<RejectionRecord[] | undefined>(n).fill(undefined);
    this.boots = new Uint32Array(n);
  }

  /** Trickle parameters in force (defaults merged with the options). */
  get params(): DissParams {
    return { ...DEFAULT_PARAMS, ...this.o.params };
  }

  get floodParams(): FloodParams {
    return { ...DEFAULT_FLOOD_PARAMS, ...this.o.floodParams };
  }

  /** Mote i's protocol instance (null while it is off). */
  node(i: number): AnyDissNode | null {
    return this.nodes[i];
  }

  /** Version installed at mote i (0: none or off). */
  version(i: number): number {
    return this.nodes[i]?.installedVersion ?? 0;
  }

  /** Refusals at mote i, across its reboots (the latest KEEP_REJECTIONS). */
  rejectionsOf(i: number): RejectionRecord[] {
    return this.rejections[i] ?? [];
  }

  // ---- simulator hooks ----------------------------------------------------------

  /** Mote i powers on: a new protocol instance on its store. @returns the program its VM runs (undefined: none). */
  boot(i: number): VerifiedCapsule | undefined {
    const id = this.sim.ids[i];
    const sim = this.sim;
    const boot = ++this.boots[i];
    const clock: Scheduler = {
      now: () => sim.now / 1000,
      setTimer: (delayMs, fn) => this.setTimer(i, delayMs, fn),
    };
    const common = {
      id, configId: this.configId, scriptSpace: this.o.scriptSpaceOf?.(id) ?? this.o.scriptSpace, auth: this.o.auth,
      publicKey: this.o.publicKey, float: this.o.float, store: this.stores[i], clock,
      rng: new Rng(streamSeed(this.seed ^ Math.imul(boot, 0x9e3779b1), Purpose.DISSEMINATION, id)),
      radio: { send: (frame: Uint8Array) => this.send(i, frame) },
      onInstall: (capsule: Uint8Array, version: number) => this.installed(i, capsule, version),
    };
    const node = this.protocol === "trickle"
      ? new DissNode({ ...common, params: this.o.params, onReject: (r) => this.rejected(i, r) })
      : new FloodNode({ ...common, params: this.o.floodParams });
    this.nodes[i] = node;
    this.booting = i;
    try {
      node.boot();
    } finally {
      this.booting = -1;
    }
    const cap = node.installed;
    return cap ? this.program(cap) : undefined;
  }

  /** Mote i powers off: its timers die with its RAM; the store stays. */
  stop(i: number): void {
    this.nodes[i]?.stop();
    this.nodes[i] = null;
  }

  /** A dissemination frame f reached mote i. */
  receive(i: number, f: number): void {
    const node = this.nodes[i];
    if (!node) return;
    const r = this.sim.radio;
    const len = r.fLen[f];
    const frame = new Uint8Array(len + 1);
    frame[0] = r.fProto[f];
    frame.set(r.data.subarray(f * 128, f * 128 + len), 1);
    node.receive(frame, this.sim.ids[r.fSrc[f]]);
  }

  /** A DISS_TIMER event; `live`: the mote has not been power-cycled since it was set. */
  timer(id: number, live: boolean): void {
    const fn = this.timers.get(id);
    if (!fn) return;
    this.timers.delete(id);
    if (live) fn();
  }

  /** A DISS_INJECT event. */
  injection(k: number): void {
    const cap = this.pending[k];
    this.pending[k] = new Uint8Array(0);
    try {
      this.inject(cap);
    } catch (e) {
      if (!(e instanceof BaseStationOff)) throw e;
    }
  }

  // ---- deployments ----------------------------------------------------------------

  /** Give the base station a signed capsule at simulated time `atMs` (it checks it, installs it and the network learns it). */
  injectAt(atMs: number, capsule: Uint8Array): void {
    this.pending.push(capsule.slice());
    this.sim.queue.push(Math.max(atMs * 1000, this.sim.now), DISS_INJECT, this.sim.base, this.pending.length - 1, 0);
  }

  /**
   * Give the base station a signed capsule now.
   * @returns undefined when accepted, or the base station's rejection.
   * @throws BaseStationOff when it is powered off (the injection is recorded as such).
   */
  inject(capsule: Uint8Array): Rejection | undefined {
    const b = this.sim.base;
    const node = this.nodes[b];
    let version = 0, blocks = 0;
    try {
      const h = parseHeader(capsule);
      version = h.programVersion;
      blocks = h.blocks;
    } catch {
      // the base station's check reports it
    }
    const rec: Injection = { t_ms: this.sim.now / 1000, version, capsule_bytes: capsule.length, blocks, outcome: "accepted" };
    this.injections.push(rec);
    if (!node) {
      rec.outcome = "base station off";
      throw new BaseStationOff(`the base station (node ${this.sim.ids[b]}) is powered off`);
    }
    const previous = this.track;
    this.startTracking(version, this.frames());
    const r = node.inject(capsule);
    if (r) {
      rec.outcome = "refused";
      rec.rejection = r;
      this.track = previous;
    }
    return r;
  }

  private startTracking(version: number, frames: DissFrames): void {
    const reach = reachableFrom(this.sim.topo, this.sim.base);
    let target = 0;
    for (let i = 0; i < reach.length; i++) target += reach[i];
    this.track = {
      version, injectedUs: this.sim.now, framesAtInject: frames, reach, target, count: 0,
      at: new Float64Array(this.sim.n).fill(NaN), coverageUs: null, framesAtCoverage: null,
    };
  }

  /** Motes powered on that run `version` or newer. */
  covered(version: number): number {
    let c = 0;
    for (let i = 0; i < this.sim.n; i++) if ((this.nodes[i]?.installedVersion ?? 0) >= version) c++;
    return c;
  }

  /** The deployment followed (the last accepted injection): motes the base station reaches, and how many have installed it. */
  progress(): { version: number; installed: number; reachable: number; coverageMs: number | null } | null {
    const t = this.track;
    return t ? { version: t.version, installed: t.count, reachable: t.target, coverageMs: t.coverageUs === null ? null : t.coverageUs / 1000 } : null;
  }

  /** Per mote: when it first installed the followed version (ms), or null. */
  installedAt(i: number): number | null {
    const t = this.track;
    return t && !Number.isNaN(t.at[i]) ? t.at[i] / 1000 : null;
  }

  /** Dissemination frames sent so far, by type (all motes, or mote i). */
  frames(i?: number): DissFrames {
    const s = this.sent;
    const out = { adv: 0, req: 0, data: 0, flood: 0, total: 0 };
    const from = i === undefined ? 0 : i, to = i === undefined ? this.sim.n : i + 1;
    for (let k = from; k < to; k++) {
      out.adv += s[4 * k];
      out.req += s[4 * k + 1];
      out.data += s[4 * k + 2];
      out.flood += s[4 * k + 3];
    }
    out.total = out.adv + out.req + out.data + out.flood;
    return out;
  }

  /** Frames of the followed deployment: from its injection until coverage (or until now when not covered). */
  deploymentFrames(): DissFrames | null {
    const t = this.track;
    if (!t) return null;
    const end = t.framesAtCoverage ?? this.frames();
    const a = t.framesAtInject;
    return { adv: end.adv - a.adv, req: end.req - a.req, data: end.data - a.data, flood: end.flood - a.flood, total: end.total - a.total };
  }

  /** Injection time of the followed deployment, ms. */
  get injectedMs(): number | null {
    return this.track ? this.track.injectedUs / 1000 : null;
  }

  // ---- internals ------------------------------------------------------------------

  private setTimer(i: number, delayMs: number, fn: () => void): Timer {
    const id = this.nextTimer;
    this.nextTimer = this.nextTimer >= 0x7ffffffe ? 1 : this.nextTimer + 1;
    this.timers.set(id, fn);
    const sim = this.sim;
    sim.queue.push(sim.now + Math.max(0, Math.round(delayMs * 1000)), DISS_TIMER, i, id, sim.radio.epoch[i]);
    return { cancel: () => this.timers.delete(id) };
  }

  private send(i: number, frame: Uint8Array): void {
    const r = this.sim.radio;
    const f = r.alloc(i, frame[0], BROADCAST_ADDR, frame.length - 1, false, 0, 0);
    r.data.set(frame.subarray(1), f * 128);
    this.sent[4 * i + typeSlot(frame[0])]++;
    if (!r.send(f, this.sim.now)) this.macQueueDrops++;
  }

  /** The verified program of an installed capsule (cached: every mote installs the same few). */
  private program(capsule: Uint8Array): VerifiedCapsule | undefined {
    const key = toHex(sha256(capsule));
    if (this.programs.has(key)) return this.programs.get(key);
    let vc: VerifiedCapsule | undefined;
    try {
      vc = loadCapsule(capsule, { sha256, float: this.o.float ?? true });
    } catch {
      vc = undefined; // the protocol verified it before installing: unreachable unless the VM's options differ
    }
    this.programs.set(key, vc);
    return vc;
  }

  private installed(i: number, capsule: Uint8Array, version: number): void {
    const sim = this.sim;
    const tMs = sim.now / 1000;
    this.installs.push({ node: sim.ids[i], version, t_ms: tMs });
    const t = this.track;
    if (t && version >= t.version && t.reach[i] && Number.isNaN(t.at[i])) {
      t.at[i] = sim.now;
      if (++t.count === t.target) {
        t.coverageUs = sim.now;
        t.framesAtCoverage = this.frames();
      }
    }
    if (sim.tracing) sim.traceEvent(i, "install", { version, bytes: capsule.length });
    // at power-on the simulator starts the VM on what the store holds, after this
    if (this.booting !== i) sim.installProgram(i, this.program(capsule));
    this.o.onInstall?.(sim.ids[i], capsule, version, tMs);
  }

  private rejected(i: number, r: RejectionRecord): void {
    const list = (this.rejections[i] ??= []);
    list.push(r);
    if (list.length > KEEP_REJECTIONS) list.shift();
    this.rejectionCount++;
    this.rejectionsByReason[r.reason] = (this.rejectionsByReason[r.reason] ?? 0) + 1;
    if (this.sim.tracing) this.sim.traceEvent(i, "reject", { reason: r.reason, detail: r.detail, version: r.version ?? null, from: r.from ?? null });
    this.o.onReject?.(this.sim.ids[i], r);
  }
}

/** Is `proto` (a frame's active-message type) a dissemination frame? */
export const isDissFrame = (proto: number): boolean => proto >= FRAME_ADV && proto <= FRAME_FLOOD;
