/**
 * The dissemination protocol of one mote, as a transport-independent state
 * machine (docs/dissemination.md). Inputs: frames heard (`receive`) and timer
 * expiries (through the injected Scheduler); outputs: frames handed to the
 * Radio and `onInstall` with a capsule that is complete and verified.
 *
 * Sketch (Trickle-based, after Terra's use of Trickle and Deluge):
 *  - Every mote advertises (ADV) its installed version with a Trickle timer
 *    (RFC 6206). Same version heard: consistent. Other version: inconsistent
 *    (interval back to Imin), so differences are advertised quickly and a
 *    steady network sends few frames.
 *  - A mote hearing a newer version asks the advertiser for what it misses
 *    (REQ with a bit vector of segments), after a random delay; a REQ for the
 *    same version overheard before its own goes out postpones it (request
 *    suppression: it will overhear the data).
 *  - The target answers with DATA frames, one every `dataGapMs`; a segment
 *    another mote sends first is dropped from its queue (data suppression).
 *    Every mote receiving the version keeps any DATA it overhears.
 *  - Manifest first: until the manifest authenticates (Ed25519 signature or
 *    PSK tag) only manifest chunks are requested and no block is kept; then
 *    each block is checked before it is kept, persisted or relayed.
 *  - Complete: body SHA-256, the bytecode verifier, then the installed record
 *    is replaced in one store write and `onInstall` runs; until then the old
 *    program keeps running. A mote that has just installed restarts Trickle
 *    at Imin and announces the version (up to 3 ADVs Trickle does not
 *    suppress, until it hears a request for it), so the front of the
 *    dissemination never waits for neighbours at long intervals to speak. A reboot resumes from the persisted manifest and
 *    blocks (re-checked), never from unverified data.
 */
import { loadCapsule } from "../../vm/verify";
import { type CapsuleHeader, checkPolicy, checkSignedCapsule, type Rejection, sha256 } from "../security/capsule";
import type { ManifestAuth } from "../security/manifest";
import { openManifest } from "../security/manifest";
import type { KeyObject } from "node:crypto";
import {
  type AdvFrame, BROADCAST, type DataFrame, decodeFrame, encodeFrame, FRAME_ADV, FRAME_DATA, FRAME_REQ, type Frame, frameName,
  MAX_BITMAP_BYTES, MAX_BLOCK_BYTES, type ReqFrame,
} from "./frames";
import { Held, Incoming } from "./object";
import { blockKey, KEY_INSTALLED, KEY_MANIFEST } from "./store";
import { Trickle } from "./trickle";
import type { ProtocolNode, Radio, Random, Scheduler, Store, Timer } from "./types";

/** Tunable protocol parameters (ms unless stated). */
export interface DissParams {
  /** Trickle Imin (RFC 6206): shortest advertisement interval. */
  iminMs: number;
  /** Trickle Imax = Imin x 2^doublings: longest advertisement interval in a steady network. */
  imaxMs: number;
  /** Trickle redundancy constant k: advertisements heard per interval that suppress one's own. */
  k: number;
  /** A first request waits uniform [0, requestDelayMs) (room for request suppression). */
  requestDelayMs: number;
  /** Quiet time after the last useful DATA before asking again. */
  requestTimeoutMs: number;
  /** Spacing of one mote's DATA frames. */
  dataGapMs: number;
  /** Unanswered requests to one advertiser before asking another. */
  maxRequestTries: number;
}

/**
 * Defaults: Imin 1 s, Imax 64 s (Imin x 2^6), k = 1: Levis et al. (NSDI
 * 2004) propagate code with tau_l = 1 s, tau_h = 1 min, k = 1. Propagation
 * does not wait for Trickle (a mote announces a version as soon as it has
 * installed it, and a neighbour asks at once), so a longer Imin costs little
 * time and saves advertisements; measured in the network simulator
 * (`terra bench dissemination`: 400-mote grid, 20 % loss, 1 KB, median of 3
 * seeds): Imin 250 ms gave 17.9 s and 23.2 frames/mote, 1 s gave 18.3 s and
 * 20.7 (docs/dissemination.md).
 */
export const DEFAULT_PARAMS: Readonly<DissParams> = {
  iminMs: 1000,
  imaxMs: 64_000,
  k: 1,
  requestDelayMs: 40,
  requestTimeoutMs: 150,
  dataGapMs: 8,
  maxRequestTries: 3,
};

/** A refused capsule, manifest or block, with when and from whom. */
export interface RejectionRecord extends Rejection {
  at: number;
  from?: number;
}

/** Per-mote counters (frames by type are counted where they are sent/heard). */
export interface DissStats {
  sent: { adv: number; req: number; data: number };
  heard: { adv: number; req: number; data: number };
  /** Frames that did not decode (dropped). */
  malformed: number;
  /** ADVs of another configuration. */
  otherConfig: number;
  /** DATA segments dropped from the send queue because another mote sent them (data suppression). */
  suppressedData: number;
  /** Requests postponed because an overheard one asked for the same version (request suppression). */
  suppressedReq: number;
  /** Blocks that failed their digest/tag. */
  tamperedBlocks: number;
  /** Manifests that failed authentication. */
  badManifests: number;
  /** Blocks heard before the manifest authenticated (dropped, asked again later). */
  early: number;
  /** Capsules installed. */
  installs: number;
  /** Store records that failed re-verification at boot (discarded). */
  corruptStore: number;
}

export interface DissNodeOptions {
  /** This mote's 16-bit address. */
  id: number;
  /** Configuration id of this mote's VM (vm/capsule.ts configId). */
  configId: number;
  /** Script space of this mote, bytes. */
  scriptSpace: number;
  /** How manifests and blocks are authenticated in this network. */
  auth: ManifestAuth;
  /** The network's Ed25519 public key, for `inject` (base station) when auth is psk. */
  publicKey?: KeyObject;
  /** The VM supports float instructions (default true). */
  float?: boolean;
  store: Store;
  clock: Scheduler;
  rng: Random;
  radio: Radio;
  params?: Partial<DissParams>;
  /** A complete, verified capsule was installed (the VM switches to it now). */
  onInstall?: (capsule: Uint8Array, version: number) => void;
  /** Something was refused (also kept in `rejections`). */
  onReject?: (r: RejectionRecord) => void;
  /**
   * Last check before installing: undefined to accept, or why not. Default:
   * the bytecode verifier (vm/verify.ts loadCapsule).
   */
  verifyProgram?: (capsule: Uint8Array) => string | undefined;
}

/** Advertisements a mote sends after installing a version, unless a request for it is heard first. */
export const ANNOUNCEMENTS = 3;

/** Rejections remembered per mote (oldest dropped first). */
export const MAX_REJECTIONS = 16;

interface Fetch {
  inc: Incoming;
  /** Motes that advertised the version, most recent first. */
  holders: number[];
  reqTimer: Timer | undefined;
  /** The pending request timer is the initial random delay (suppressible). */
  initial: boolean;
  triesWithHolder: number;
  unproductive: number;
  progressSinceRequest: boolean;
}

interface Serving {
  version: number;
  pending: Set<number>;
  timer: Timer | undefined;
}

export class DissNode implements ProtocolNode {
  readonly id: number;
  readonly p: DissParams;
  readonly stats: DissStats = {
    sent: { adv: 0, req: 0, data: 0 },
    heard: { adv: 0, req: 0, data: 0 },
    malformed: 0, otherConfig: 0, suppressedData: 0, suppressedReq: 0, tamperedBlocks: 0, badManifests: 0, early: 0, installs: 0, corruptStore: 0,
  };
  readonly rejections: RejectionRecord[] = [];
  private held: Held | undefined;
  private fetch: Fetch | undefined;
  private serving: Serving | undefined;
  private trickle: Trickle;
  /** Versions refused on policy or verification (not fetched again). */
  private refused = new Set<number>();
  private running = false;
  private announce: Timer | undefined;
  private announceLeft = 0;

  constructor(private o: DissNodeOptions) {
    this.id = o.id;
    this.p = { ...DEFAULT_PARAMS, ...o.params };
    this.trickle = new Trickle(o.clock, o.rng, { iminMs: this.p.iminMs, imaxMs: this.p.imaxMs, k: this.p.k }, () => this.advertise());
  }

  /** Installed program version (0: none). */
  get installedVersion(): number {
    return this.held?.version ?? 0;
  }

  /** The installed capsule bytes, or undefined. */
  get installed(): Uint8Array | undefined {
    return this.held?.capsule;
  }

  /** Version being received and its progress, or undefined. */
  get receiving(): { version: number; segments: number; have: number; manifest: boolean } | undefined {
    const f = this.fetch;
    if (!f) return undefined;
    let have = 0;
    for (let s = 0; s < f.inc.segments; s++) if (f.inc.has(s)) have++;
    return { version: f.inc.version, segments: f.inc.segments, have, manifest: f.inc.manifest !== undefined };
  }

  /** Trickle's current interval (ms), for tests and status. */
  get trickleInterval(): number {
    return this.trickle.interval;
  }

  boot(): void {
    this.running = true;
    this.restore();
    this.trickle.start();
  }

  stop(): void {
    this.running = false;
    this.trickle.stop();
    this.announce?.cancel();
    this.announce = undefined;
    this.fetch?.reqTimer?.cancel();
    if (this.fetch) this.fetch.reqTimer = undefined;
    this.serving?.timer?.cancel();
    this.serving = undefined;
  }

  /**
   * Base station: take a signed capsule from the gateway, check it fully
   * (signature, body hash, configuration, version, size, bytecode) and
   * install it; the network then learns it through advertisements.
   * @returns undefined when installed, or the rejection.
   */
  inject(capsule: Uint8Array): Rejection | undefined {
    const key = this.o.publicKey ?? (this.o.auth.mode === "ed25519" ? this.o.auth.publicKey : undefined);
    if (!key) {
      const r: Rejection = { reason: "bad-signature", detail: "this mote has no Ed25519 public key to check injected capsules" };
      this.reject(r);
      return r;
    }
    const res = checkSignedCapsule(capsule, {
      publicKey: key, configId: this.o.configId, installedVersion: this.installedVersion, scriptSpace: this.o.scriptSpace,
      maxBlockBytes: MAX_BLOCK_BYTES, float: this.o.float,
    });
    if (!res.ok) {
      this.reject(res.rejection);
      return res.rejection;
    }
    this.install(capsule);
    return undefined;
  }

  /** Handle a frame heard from mote `from`. Malformed frames are counted and dropped. */
  receive(bytes: Uint8Array, from: number): void {
    if (!this.running) return;
    const f = decodeFrame(bytes);
    if (typeof f === "string") {
      this.stats.malformed++;
      return;
    }
    switch (f.type) {
      case FRAME_ADV:
        this.stats.heard.adv++;
        this.onAdv(f, from);
        break;
      case FRAME_REQ:
        this.stats.heard.req++;
        this.onReq(f, from);
        break;
      case FRAME_DATA:
        this.stats.heard.data++;
        this.onData(f, from);
        break;
      default:
        break; // FLOOD frames belong to the flooding baseline
    }
  }

  // ---- persistence ------------------------------------------------------

  private restore(): void {
    const st = this.o.store;
    const cap = st.get(KEY_INSTALLED);
    this.held = undefined;
    if (cap) {
      try {
        const h = new Held(cap, this.o.auth);
        // flash integrity: the body hash (authenticity was checked before it was written)
        loadCapsule(cap, { sha256, float: this.o.float ?? true });
        this.held = h;
      } catch {
        this.stats.corruptStore++;
        st.delete(KEY_INSTALLED);
      }
    }
    const mbytes = st.get(KEY_MANIFEST);
    this.fetch = undefined;
    if (!mbytes) {
      this.clearFetchStore();
      return;
    }
    const r = openManifest(mbytes, this.o.auth);
    if (!r.ok || this.policy(r.manifest.header) !== undefined) {
      if (!r.ok) this.stats.corruptStore++;
      this.clearFetchStore();
      return;
    }
    const h = r.manifest.header;
    const inc = new Incoming(h.programVersion, h.blocks, this.o.auth);
    inc.restoreManifest(r.manifest);
    for (let j = 0; j < h.blocks; j++) {
      const b = st.get(blockKey(j));
      if (b && !inc.restoreBlock(j, b)) {
        this.stats.corruptStore++;
        st.delete(blockKey(j));
      }
    }
    this.fetch = this.newFetch(inc);
    if (inc.complete) this.finish();
  }

  private clearFetchStore(): void {
    for (const k of this.o.store.keys()) if (k.startsWith("fetch.")) this.o.store.delete(k);
  }

  private policy(h: CapsuleHeader): Rejection | undefined {
    return checkPolicy(h, { configId: this.o.configId, installedVersion: this.installedVersion, scriptSpace: this.o.scriptSpace, maxBlockBytes: MAX_BLOCK_BYTES });
  }

  // ---- advertisements ------------------------------------------------------

  private advertise(): void {
    const h = this.held;
    this.send({ type: FRAME_ADV, version: h?.version ?? 0, configId: this.o.configId >>> 0, blocks: h?.blocks ?? 0 });
  }

  private onAdv(f: AdvFrame, from: number): void {
    if (f.configId !== this.o.configId >>> 0) {
      this.stats.otherConfig++;
      return;
    }
    const mine = this.installedVersion;
    if (f.version === mine) {
      this.trickle.consistent();
      return;
    }
    this.trickle.inconsistent();
    if (f.version < mine || f.blocks === 0 || this.refused.has(f.version)) return;
    const cur = this.fetch;
    if (cur && cur.inc.version > f.version) return;
    if (!cur || cur.inc.version < f.version || (cur.inc.blocks !== f.blocks && !cur.inc.manifest)) {
      this.abandonFetch();
      this.fetch = this.newFetch(new Incoming(f.version, f.blocks, this.o.auth));
    }
    const fe = this.fetch!;
    const i = fe.holders.indexOf(from);
    if (i >= 0) fe.holders.splice(i, 1);
    fe.holders.unshift(from);
    if (!fe.reqTimer) this.scheduleRequest(this.o.rng.next() * this.p.requestDelayMs, true);
  }

  // ---- requesting -------------------------------------------------------

  private newFetch(inc: Incoming): Fetch {
    return { inc, holders: [], reqTimer: undefined, initial: false, triesWithHolder: 0, unproductive: 0, progressSinceRequest: false };
  }

  private abandonFetch(): void {
    if (!this.fetch) return;
    this.fetch.reqTimer?.cancel();
    this.fetch = undefined;
    this.clearFetchStore();
  }

  private scheduleRequest(delay: number, initial: boolean): void {
    const fe = this.fetch;
    if (!fe) return;
    fe.reqTimer?.cancel();
    fe.initial = initial;
    fe.reqTimer = this.o.clock.setTimer(delay, () => {
      fe.reqTimer = undefined;
      if (this.fetch === fe) this.request();
    });
  }

  private request(): void {
    const fe = this.fetch!;
    if (fe.progressSinceRequest) {
      fe.triesWithHolder = 0;
      fe.unproductive = 0;
    } else if (fe.triesWithHolder >= this.p.maxRequestTries && fe.holders.length > 1) {
      fe.holders.push(fe.holders.shift()!); // try another advertiser
      fe.triesWithHolder = 0;
    }
    if (!fe.progressSinceRequest && fe.unproductive >= this.p.maxRequestTries * (fe.holders.length + 1)) {
      fe.unproductive = 0;
      if (!fe.inc.manifest) {
        // nobody answers for this version (a stale or forged advertisement): forget it until advertised again
        this.abandonFetch();
      } else {
        // a genuine version (its manifest authenticated): keep what was verified, wait for fresh advertisements
        fe.holders = [];
      }
      return;
    }
    fe.progressSinceRequest = false;
    const holder = fe.holders[0];
    const miss = fe.inc.missing(MAX_BITMAP_BYTES * 8);
    if (holder === undefined || !miss) return;
    this.send({ type: FRAME_REQ, version: fe.inc.version, target: holder, first: miss.first, bitmap: miss.bitmap });
    fe.triesWithHolder++;
    fe.unproductive++;
    this.scheduleRequest(this.p.requestTimeoutMs + miss.count * this.p.dataGapMs, false);
  }

  /** Useful data arrived: push the re-request back to a quiet timeout. */
  private progress(fe: Fetch): void {
    fe.progressSinceRequest = true;
    if (!fe.initial) this.scheduleRequest(this.p.requestTimeoutMs, false);
  }

  // ---- serving ------------------------------------------------------------

  private source(version: number): Held | Incoming | undefined {
    if (this.held && this.held.version === version && this.held.manifest) return this.held;
    if (this.fetch && this.fetch.inc.version === version && this.fetch.inc.manifest) return this.fetch.inc;
    return undefined;
  }

  private onReq(f: ReqFrame, _from: number): void {
    if (this.announceLeft > 0 && this.held && f.version === this.held.version) {
      this.announceLeft = 0;
      this.announce?.cancel();
      this.announce = undefined;
    }
    if (f.target !== this.id) {
      const fe = this.fetch;
      if (!fe || fe.inc.version !== f.version) return;
      // a neighbour asks a mote I also heard advertising: ask the same one, so one answer serves both
      const hi = fe.holders.indexOf(f.target);
      if (hi > 0) {
        fe.holders.splice(hi, 1);
        fe.holders.unshift(f.target);
      }
      if (fe.initial && fe.reqTimer) {
        // someone asked for the same version first: listen to the answer instead
        this.stats.suppressedReq++;
        this.scheduleRequest(this.p.requestTimeoutMs + this.o.rng.next() * this.p.requestDelayMs, false);
      }
      return;
    }
    const src = this.source(f.version);
    if (!src) return;
    if (!this.serving || this.serving.version !== f.version) {
      this.serving?.timer?.cancel();
      this.serving = { version: f.version, pending: new Set(), timer: undefined };
    }
    const sv = this.serving;
    for (let i = 0; i < f.bitmap.length * 8; i++) {
      if (!(f.bitmap[i >> 3] & (1 << (i & 7)))) continue;
      const seg = f.first + i;
      if (src.has(seg)) sv.pending.add(seg);
    }
    if (sv.pending.size && !sv.timer) sv.timer = this.o.clock.setTimer(this.o.rng.next() * this.p.dataGapMs, () => this.sendNext());
  }

  private sendNext(): void {
    const sv = this.serving;
    if (!sv) return;
    sv.timer = undefined;
    const src = this.source(sv.version);
    if (!src || sv.pending.size === 0) {
      this.serving = undefined;
      return;
    }
    // a random pending segment: two motes answering the same area overhear each other and drop what the other sent
    let k = Math.floor(this.o.rng.next() * sv.pending.size);
    let seg = -1;
    for (const s of sv.pending) if (k-- === 0) {
      seg = s;
      break;
    }
    sv.pending.delete(seg);
    const payload = src.segment(seg);
    if (payload) this.send({ type: FRAME_DATA, version: sv.version, segment: seg, payload });
    if (sv.pending.size) sv.timer = this.o.clock.setTimer(this.p.dataGapMs, () => this.sendNext());
    else this.serving = undefined;
  }

  // ---- receiving data ------------------------------------------------------

  private onData(f: DataFrame, from: number): void {
    const sv = this.serving;
    if (sv && sv.version === f.version && sv.pending.delete(f.segment)) this.stats.suppressedData++;
    const fe = this.fetch;
    if (!fe || fe.inc.version !== f.version) return;
    // the sender is answering someone's request for this version: prefer it, and let it finish before asking
    const hi = fe.holders.indexOf(from);
    if (hi !== 0) {
      if (hi > 0) fe.holders.splice(hi, 1);
      fe.holders.unshift(from);
    }
    if (fe.initial && fe.reqTimer) {
      this.stats.suppressedReq++;
      this.scheduleRequest(this.p.requestTimeoutMs + this.o.rng.next() * this.p.requestDelayMs, false);
    }
    const r = fe.inc.offer(f.segment, f.payload);
    if (r === "early") {
      this.stats.early++;
      return;
    }
    if (r === "bad-length" || r === "out-of-range") {
      this.stats.malformed++;
      return;
    }
    if (r === "duplicate") return;
    if (typeof r === "object") {
      const rej = r.rejected;
      if (rej.reason === "tampered") {
        this.stats.tamperedBlocks++;
        this.reject(rej, from);
        return;
      }
      // the manifest did not authenticate: forget this attempt; a genuine advertisement restarts it
      this.stats.badManifests++;
      this.reject(rej, from);
      this.abandonFetch();
      return;
    }
    if (r === "manifest") {
      const m = fe.inc.manifest!;
      const pol = this.policy(m.header);
      if (pol) {
        this.reject(pol, from);
        this.refused.add(fe.inc.version);
        this.abandonFetch();
        return;
      }
      this.o.store.set(KEY_MANIFEST, m.bytes);
      fe.progressSinceRequest = true;
      // ask for the blocks now (the holder only sends what was asked)
      this.scheduleRequest(this.o.rng.next() * this.p.requestDelayMs, true);
      return;
    }
    if (f.segment < fe.inc.chunks) {
      // a manifest chunk, kept in RAM until the whole manifest authenticates
      this.progress(fe);
      return;
    }
    // a new verified block
    const j = f.segment - fe.inc.chunks;
    this.o.store.set(blockKey(j), f.payload);
    this.progress(fe);
    if (fe.inc.complete) this.finish();
  }

  private finish(): void {
    const fe = this.fetch!;
    const a = fe.inc.assemble();
    const version = fe.inc.version;
    if (!a.ok) {
      this.reject(a.rejection);
      this.refused.add(version);
      this.abandonFetch();
      return;
    }
    const why = this.o.verifyProgram ? this.o.verifyProgram(a.capsule) : defaultVerify(a.capsule, this.o.float ?? true);
    if (why !== undefined) {
      this.reject({ reason: "unverifiable", detail: why, version });
      this.refused.add(version);
      this.abandonFetch();
      return;
    }
    this.install(a.capsule);
  }

  private install(capsule: Uint8Array): void {
    const h = new Held(capsule, this.o.auth);
    this.o.store.set(KEY_INSTALLED, capsule); // the switch: one atomic record
    this.held = h;
    if (this.fetch && this.fetch.inc.version <= h.version) this.abandonFetch();
    this.stats.installs++;
    // New version: a fresh Trickle interval at Imin, and announcements that
    // Trickle cannot suppress. Without it a mote that has just installed is
    // silenced by the consistent advertisements of the neighbour it got the
    // capsule from, while the neighbours still behind, at long intervals,
    // rarely speak: the front of the dissemination would stall for intervals.
    this.trickle.reset();
    this.announceLeft = ANNOUNCEMENTS;
    this.scheduleAnnounce(this.o.rng.next() * this.p.requestDelayMs);
    this.o.onInstall?.(capsule, h.version);
  }

  /**
   * Install announcements: up to ANNOUNCEMENTS ADVs Trickle does not
   * suppress, the first at once, then spread over [Imin/2, Imin) and
   * [Imin, 2 Imin); a REQ heard for the version ends them (a neighbour knows).
   */
  private scheduleAnnounce(delay: number): void {
    this.announce?.cancel();
    this.announce = this.o.clock.setTimer(delay, () => {
      this.announce = undefined;
      if (this.announceLeft <= 0) return;
      this.announceLeft--;
      this.advertise();
      const k = ANNOUNCEMENTS - this.announceLeft; // 1, 2, ...
      if (this.announceLeft > 0) this.scheduleAnnounce((this.p.iminMs * (1 << (k - 1))) * (0.5 + 0.5 * this.o.rng.next()));
    });
  }

  private reject(r: Rejection, from?: number): void {
    const rec: RejectionRecord = { ...r, at: this.o.clock.now(), ...(from !== undefined ? { from } : {}) };
    this.rejections.push(rec);
    if (this.rejections.length > MAX_REJECTIONS) this.rejections.shift();
    this.o.onReject?.(rec);
  }

  private send(f: Frame): void {
    const name = frameName(f.type);
    if (name === "adv" || name === "req" || name === "data") this.stats.sent[name]++;
    this.o.radio.send(encodeFrame(f), BROADCAST);
  }
}

/** The default last check: the bytecode verifier accepts the capsule. */
export function defaultVerify(capsule: Uint8Array, float: boolean): string | undefined {
  try {
    loadCapsule(capsule, { sha256, float });
    return undefined;
  } catch (e) {
    return `the bytecode verifier refuses it: ${(e as Error).message}`;
  }
}
