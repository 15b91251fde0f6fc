/**
 * What the CoAP gateway fronts: a network of motes with a base station. The
 * gateway only needs this interface; implementations are the simulated
 * network of this module (`terra gateway --sim`: the network simulator of
 * components/sim with dissemination, in real time) and the UDP network of
 * host motes (udp-network.ts, `terra gateway --udp`).
 */
import type { KeyObject } from "node:crypto";
import type { Configuration } from "../../compiler/config";
import { loadCapsule } from "../../vm/verify";
import { type DissNode, type DissParams, type RejectionRecord } from "../dissemination/index";
import { type AuthMode, type ManifestAuth, parseHeader, type Rejection, sha256, toHex } from "../security/index";
import { buildTopology, parseSensorSpec, Simulator } from "../sim/index";
import { CH } from "../sim/sensors";

/** The network cannot take a capsule now (the gateway answers 5.03 Service Unavailable). */
export class NetworkUnavailable extends Error {}

/** What the network is (GET /vm, `terra status`). */
export interface NetworkInfo {
  /** How the motes are run (e.g. "simulator"). */
  kind: string;
  configName: string;
  configId: number;
  /** Script space of the motes, bytes, and the platform it is for. */
  scriptSpace: number;
  platform: string;
  auth: AuthMode;
  motes: number;
  baseStation: number;
}

/** The program the base station runs (what the network converges to). */
export interface ProgramInfo {
  version: number;
  capsuleBytes: number;
  codeBytes: number;
  blocks: number;
  blockBytes: number;
  signed: boolean;
  /** SHA-256 of the capsule bytes, hex. */
  sha256: string;
  /** The base station's VM: running, halted (the program terminated or faulted), or off. */
  state: "running" | "halted" | "off";
}

export interface MoteStatus {
  id: number;
  up: boolean;
  /** Installed program version (0: none). */
  version: number;
  state: "running" | "halted" | "off" | "empty";
  /** A newer version being received: segments held / total. */
  receiving?: { version: number; have: number; of: number };
  /** Latest refusals at this mote, oldest first. */
  rejections: RejectionRecord[];
}

/** ProgramInfo of an installed capsule (its header, size and SHA-256) in the given VM state. */
export function programInfo(cap: Uint8Array, state: ProgramInfo["state"]): ProgramInfo {
  const h = parseHeader(cap);
  return {
    version: h.programVersion, capsuleBytes: cap.length, codeBytes: h.codeBytes, blocks: h.blocks, blockBytes: h.blockBytes, signed: h.signed,
    sha256: toHex(sha256(cap)), state,
  };
}

/** A network the gateway can deploy to and read from. */
export interface MoteNetwork {
  info(): NetworkInfo;
  program(): ProgramInfo | undefined;
  /**
   * Hand a signed capsule to the base station (which checks it again).
   * @returns undefined when accepted, or the base station's rejection.
   * @throws NetworkUnavailable when the base station cannot be reached.
   */
  deploy(capsule: Uint8Array): Rejection | undefined;
  motes(): MoteStatus[];
  /** Sensor resource names every mote offers (lower case). */
  sensors(): string[];
  /** Current value of a mote's sensor, or undefined for an unknown mote or sensor. */
  read(id: number, sensor: string): number | undefined;
  close(): void;
}

const SENSORS: Record<string, number> = { temp: CH.TEMP, photo: CH.PHOTO, volts: CH.VOLTS, mic: CH.MIC };

export interface SimNetworkOptions {
  /** The program every mote has at the start (a factory image; may be unsigned). */
  initial: Uint8Array;
  config: Configuration;
  nodes: number;
  /** Grid or random layout, 10 m spacing, 15 m radio range (as `terra sim`); mote 1 is the base station. */
  topology: "grid" | "random";
  loss: number;
  seed: number;
  auth: ManifestAuth;
  /** The network's Ed25519 public key (the base station checks capsules with it). */
  publicKey: KeyObject;
  /** Platform whose script space the motes have (default "host"). */
  platform?: string;
  params?: Partial<DissParams>;
  /** Sensor model (components/sim/sensors.ts; default "sine"). */
  sensors?: string;
  /** Real time (default) or driven by hand (tests call `advance`). */
  realtime?: boolean;
}

/** Wall-clock step of the real-time driver, ms. */
const TICK_MS = 10;
/** Most simulated time one step may cover (a network slower than real time lags instead of blocking the gateway). */
const MAX_STEP_MS = 250;

/**
 * A simulated network in this process: components/sim's Simulator with
 * dissemination, every mote running its installed capsule in a VM, driven in
 * real time (simulated ms follow the wall clock). Mote 1 is the base station.
 */
export class SimNetwork implements MoteNetwork {
  readonly sim: Simulator;
  private space: number;
  private platform: string;
  private timer: ReturnType<typeof setInterval> | undefined;

  /** @throws RangeError for bad sizes; Error when the platform has no script space in the configuration or the initial capsule does not load. */
  constructor(readonly o: SimNetworkOptions) {
    if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 4096) throw new RangeError(`--nodes must be 1..4096, got ${o.nodes}`);
    this.platform = o.platform ?? "host";
    const space = o.config.sizes.get(this.platform);
    if (space === undefined) throw new Error(`configuration ${o.config.name} has no script space for platform ${this.platform} (it has: ${[...o.config.sizes.keys()].join(", ")})`);
    this.space = space;
    const topology = buildTopology({ kind: o.topology, nodes: o.nodes, spacing: 10, range: 15, loss: { kind: "uniform", loss: o.loss }, seed: o.seed });
    this.sim = new Simulator({
      capsule: loadCapsule(o.initial, { sha256 }), cfg: o.config, topology, sensors: parseSensorSpec(o.sensors ?? "sine"), seed: o.seed, bootJitterMs: 200,
      dissemination: { auth: o.auth, publicKey: o.publicKey, initial: o.initial, scriptSpace: space, params: o.params },
    });
    this.sim.runUntil(201);
    if (o.realtime !== false) {
      let wall = performance.now();
      this.timer = setInterval(() => {
        const t = performance.now();
        const ms = Math.min(MAX_STEP_MS, t - wall);
        wall = t;
        this.sim.runUntil(this.sim.now / 1000 + ms);
      }, TICK_MS);
    }
  }

  private get diss() {
    return this.sim.diss!;
  }

  /** Advance simulated time by hand (when not real time). */
  advance(toMs: number): void {
    this.sim.runUntil(toMs);
  }

  /** The protocol instance of mote `id` (undefined while it is off or for an unknown id). */
  node(id: number): DissNode | undefined {
    const i = this.sim.topo.indexOf.get(id);
    return i === undefined ? undefined : (this.diss.node(i) as DissNode | null) ?? undefined;
  }

  private state(i: number): MoteStatus["state"] {
    if (!this.sim.up(i)) return "off";
    const vm = this.sim.vm(i);
    return !vm ? "empty" : vm.halted ? "halted" : "running";
  }

  info(): NetworkInfo {
    return {
      kind: "simulated network (components/sim, real time)", configName: this.o.config.name, configId: this.o.config.id, scriptSpace: this.space,
      platform: this.platform, auth: this.o.auth.mode, motes: this.sim.n, baseStation: this.sim.ids[this.sim.base],
    };
  }

  program(): ProgramInfo | undefined {
    const cap = this.diss.node(this.sim.base)?.installed;
    if (!cap) return undefined;
    const st = this.state(this.sim.base);
    return programInfo(cap, st === "empty" ? "halted" : st);
  }

  deploy(capsule: Uint8Array): Rejection | undefined {
    if (!this.sim.up(this.sim.base)) throw new NetworkUnavailable(`the base station (mote ${this.sim.ids[this.sim.base]}) is powered off`);
    return this.diss.inject(capsule);
  }

  motes(): MoteStatus[] {
    const out: MoteStatus[] = [];
    for (let i = 0; i < this.sim.n; i++) {
      const n = this.diss.node(i) as DissNode | null;
      const r = n?.receiving;
      out.push({
        id: this.sim.ids[i], up: this.sim.up(i), version: this.diss.version(i), state: this.state(i),
        ...(r ? { receiving: { version: r.version, have: r.have, of: r.segments } } : {}),
        rejections: [...this.diss.rejectionsOf(i)],
      });
    }
    return out;
  }

  sensors(): string[] {
    return [...Object.keys(SENSORS), "leds"];
  }

  read(id: number, sensor: string): number | undefined {
    const i = this.sim.topo.indexOf.get(id);
    if (i === undefined) return undefined;
    if (sensor === "leds") return this.sim.local.leds[i];
    const ch = SENSORS[sensor];
    return ch === undefined ? undefined : this.sim.sensor(i, ch);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
