/**
 * Naive flooding: the baseline the benchmark compares the Trickle protocol
 * with. Same interfaces (ProtocolNode, Store, Scheduler, Radio), same
 * security (manifest first, every block checked, only verified segments
 * relayed), no advertisements, requests or suppression:
 *
 *  - The base station floods the whole object (manifest chunks then blocks)
 *    in rounds, one every `roundMs`, numbered 1, 2, ... (FLOOD frames).
 *  - Every mote rebroadcasts each segment once per round, the first time it
 *    hears it in that round, as soon as it has verified it (after a random
 *    jitter), whether or not it already had it.
 *  - Blocks heard before the manifest authenticates are buffered in RAM and
 *    checked when it does (flooding has no second chance within a round).
 *
 * Rounds repeat until `maxRounds` (default: forever); a benchmark stops
 * counting frames when every mote has installed the capsule, which is the
 * most favourable accounting for flooding.
 */
import { checkPolicy, checkSignedCapsule, type Rejection, sha256 } from "../security/capsule";
import { loadCapsule } from "../../vm/verify";
import { BROADCAST, decodeFrame, encodeFrame, FRAME_FLOOD, type FloodFrame, MAX_BLOCK_BYTES } from "./frames";
import { Held, Incoming } from "./object";
import { KEY_INSTALLED } from "./store";
import type { DissNodeOptions } from "./node";
import type { ProtocolNode, Timer } from "./types";

export interface FloodParams {
  /** Period of the base station's rounds, ms. */
  roundMs: number;
  /** A mote relays a segment after uniform [0, jitterMs) ms. */
  jitterMs: number;
  /** Spacing of one mote's frames, ms. */
  gapMs: number;
  /** Rounds the base station floods (Infinity: until stopped). */
  maxRounds: number;
}

export const DEFAULT_FLOOD_PARAMS: Readonly<FloodParams> = { roundMs: 5000, jitterMs: 10, gapMs: 8, maxRounds: Infinity };

/** As DissNodeOptions (node.ts), with flooding's parameters. */
export interface FloodNodeOptions
  extends Pick<DissNodeOptions, "id" | "configId" | "scriptSpace" | "auth" | "publicKey" | "float" | "store" | "clock" | "rng" | "radio" | "onInstall"> {
  params?: Partial<FloodParams>;
}

/** Serial-number comparison of u16 rounds (RFC 1982): a is newer than b. */
function newerRound(a: number, b: number): boolean {
  return a !== b && ((a - b) & 0xffff) < 0x8000;
}

export class FloodNode implements ProtocolNode {
  readonly p: FloodParams;
  readonly stats = { sent: 0, heard: 0, malformed: 0, tamperedBlocks: 0, badManifests: 0, installs: 0 };
  readonly rejections: Rejection[] = [];
  private held: Held | undefined;
  private inc: Incoming | undefined;
  /** Blocks heard before the manifest authenticated: segment -> payload. */
  private early = new Map<number, Uint8Array>();
  private round = 0;
  private seen = new Set<number>();
  private relayed = new Set<number>();
  private queue: { version: number; seg: number }[] = [];
  private txTimer: Timer | undefined;
  private roundTimer: Timer | undefined;
  private roundsStarted = 0;
  private running = false;

  constructor(private o: FloodNodeOptions) {
    this.p = { ...DEFAULT_FLOOD_PARAMS, ...o.params };
  }

  get installedVersion(): number {
    return this.held?.version ?? 0;
  }

  get installed(): Uint8Array | undefined {
    return this.held?.capsule;
  }

  boot(): void {
    this.running = true;
    const cap = this.o.store.get(KEY_INSTALLED);
    if (cap) {
      try {
        loadCapsule(cap, { sha256, float: this.o.float ?? true });
        this.held = new Held(cap, this.o.auth);
      } catch {
        this.o.store.delete(KEY_INSTALLED);
      }
    }
  }

  stop(): void {
    this.running = false;
    this.txTimer?.cancel();
    this.roundTimer?.cancel();
    this.txTimer = this.roundTimer = undefined;
    this.queue = [];
  }

  /** Base station: check and install a signed capsule, then flood it in rounds. */
  inject(capsule: Uint8Array): Rejection | undefined {
    const key = this.o.publicKey ?? (this.o.auth.mode === "ed25519" ? this.o.auth.publicKey : undefined);
    if (!key) return { reason: "bad-signature", detail: "no Ed25519 public key to check injected capsules" };
    const r = checkSignedCapsule(capsule, {
      publicKey: key, configId: this.o.configId, installedVersion: this.installedVersion, scriptSpace: this.o.scriptSpace, maxBlockBytes: MAX_BLOCK_BYTES, float: this.o.float,
    });
    if (!r.ok) {
      this.rejections.push(r.rejection);
      return r.rejection;
    }
    this.install(capsule);
    this.roundsStarted = 0;
    this.nextRound();
    return undefined;
  }

  private nextRound(): void {
    if (!this.running || !this.held || this.roundsStarted >= this.p.maxRounds) return;
    this.roundsStarted++;
    this.round = (this.round + 1) & 0xffff || 1;
    this.seen.clear();
    this.relayed.clear();
    for (let s = 0; s < this.held.segments; s++) this.enqueue(this.held.version, s);
    this.roundTimer = this.o.clock.setTimer(this.p.roundMs, () => this.nextRound());
  }

  receive(bytes: Uint8Array, _from: number): void {
    if (!this.running) return;
    const f = decodeFrame(bytes);
    if (typeof f === "string") {
      this.stats.malformed++;
      return;
    }
    if (f.type !== FRAME_FLOOD) return;
    this.stats.heard++;
    this.onFlood(f);
  }

  private onFlood(f: FloodFrame): void {
    if (f.configId !== this.o.configId >>> 0) return;
    const mine = this.installedVersion;
    if (f.version < mine) return;
    if (f.version > mine) {
      if (!this.inc || this.inc.version < f.version) {
        if (f.blocks === 0) return;
        this.inc = new Incoming(f.version, f.blocks, this.o.auth);
        this.early.clear();
      }
      if (this.inc.version !== f.version) return;
      this.offer(f.segment, f.payload);
    }
    if (newerRound(f.round, this.round) || this.round === 0) {
      this.round = f.round;
      this.seen.clear();
      this.relayed.clear();
    }
    if (f.round === this.round) {
      this.seen.add(f.segment);
      this.pump(f.version);
    }
  }

  private offer(seg: number, payload: Uint8Array): void {
    const inc = this.inc!;
    const r = inc.offer(seg, payload);
    if (r === "early") {
      if (!this.early.has(seg) && this.early.size < inc.blocks) this.early.set(seg, payload.slice());
      return;
    }
    if (typeof r === "object") {
      this.rejections.push(r.rejected);
      if (r.rejected.reason === "tampered") this.stats.tamperedBlocks++;
      else this.stats.badManifests++;
      return;
    }
    if (r === "manifest") {
      const pol = checkPolicy(inc.manifest!.header, { configId: this.o.configId, installedVersion: this.installedVersion, scriptSpace: this.o.scriptSpace, maxBlockBytes: MAX_BLOCK_BYTES });
      if (pol) {
        this.rejections.push(pol);
        this.inc = undefined;
        return;
      }
      const early = [...this.early];
      this.early.clear();
      for (const [s, p] of early) this.offer(s, p);
    }
    if (this.inc && this.inc.complete) {
      const a = this.inc.assemble();
      this.inc = undefined;
      if (!a.ok) {
        this.rejections.push(a.rejection);
        return;
      }
      try {
        loadCapsule(a.capsule, { sha256, float: this.o.float ?? true });
      } catch (e) {
        this.rejections.push({ reason: "unverifiable", detail: (e as Error).message });
        return;
      }
      this.install(a.capsule);
    }
  }

  /** Queue every segment seen this round that this mote can now vouch for. */
  private pump(version: number): void {
    for (const s of this.seen) {
      if (this.relayed.has(s)) continue;
      const ok = (this.held && this.held.version === version && this.held.has(s)) || (this.inc && this.inc.version === version && this.inc.has(s));
      if (ok) this.enqueue(version, s);
    }
  }

  private enqueue(version: number, seg: number): void {
    this.relayed.add(seg);
    this.queue.push({ version, seg });
    if (!this.txTimer) this.txTimer = this.o.clock.setTimer(this.o.rng.next() * this.p.jitterMs, () => this.transmit());
  }

  private transmit(): void {
    this.txTimer = undefined;
    const item = this.queue.shift();
    if (!item) return;
    const src = this.held?.version === item.version ? this.held : this.inc?.version === item.version ? this.inc : undefined;
    const payload = src?.segment(item.seg);
    if (src && payload) {
      const f: FloodFrame = { type: FRAME_FLOOD, round: this.round, version: item.version, configId: this.o.configId >>> 0, blocks: src.blocks, segment: item.seg, payload };
      this.stats.sent++;
      this.o.radio.send(encodeFrame(f), BROADCAST);
    }
    if (this.queue.length) this.txTimer = this.o.clock.setTimer(this.p.gapMs, () => this.transmit());
  }

  private install(capsule: Uint8Array): void {
    this.held = new Held(capsule, this.o.auth);
    this.o.store.set(KEY_INSTALLED, capsule);
    this.stats.installs++;
    this.o.onInstall?.(capsule, this.held.version);
  }
}
