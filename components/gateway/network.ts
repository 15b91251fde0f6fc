/**
 * What the CoAP gateway fronts: a network of motes with a base station. The
 * gateway only needs this interface; implementations are the in-process
 * network of this module (phase 1: DissNode motes with real VMs on the
 * dissemination testbed, in real time), and later the network simulator
 * (`terra gateway --sim`) and host-C motes over UDP.
 */
import type { Configuration } from "../../compiler/config";
import { loadCapsule } from "../../vm/verify";
import { runVirtual } from "../../vm/driver";
import type { Vm } from "../../vm/engine";
import { createMote } from "../run";
import { DEFAULT_READINGS, type LocalState, type SensorSource } from "../terranet/index";
import {
  type AnyNode, buildNetwork, type DissNode, type DissParams, gridTopology, type Network, randomTopology, RealtimeRunner, type RejectionRecord,
} from "../dissemination/index";
import type { ProtocolNode } from "../dissemination/types";
import { type AuthMode, type ManifestAuth, parseHeader, type Rejection, sha256, toHex } from "../security/index";
import type { KeyObject } from "node:crypto";

/** The network cannot take a capsule now (the gateway answers 5.03 Service Unavailable). */
export class NetworkUnavailable extends Error {}

/** What the network is (GET /vm, `terra status`). */
export interface NetworkInfo {
  /** How the motes are run: "in-process testbed", "simulator", "host motes". */
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

/** Sensor readings of the in-process network: smooth, deterministic functions of time and mote. */
export class DemoSensors implements SensorSource {
  constructor(private id: number) {}

  read(sensor: string, now: number): number {
    const ph = (this.id * 0.7) % (2 * Math.PI);
    switch (sensor) {
      case "TEMP": return Math.round(DEFAULT_READINGS.TEMP + 30 * Math.sin((2 * Math.PI * now) / 60_000 + ph));
      case "PHOTO": return Math.round(DEFAULT_READINGS.PHOTO + 300 * Math.max(0, Math.sin((2 * Math.PI * now) / 120_000 + ph)));
      case "VOLTS": return Math.max(2000, DEFAULT_READINGS.VOLTS - Math.floor(now / 60_000));
      case "MIC": return Math.round(50 + 40 * Math.sin((2 * Math.PI * now) / 7_000 + 3 * ph));
      default: return DEFAULT_READINGS[sensor] ?? 0;
    }
  }
}

const SENSORS: Record<string, string> = { temp: "TEMP", photo: "PHOTO", volts: "VOLTS", mic: "MIC" };

export interface LocalNetworkOptions {
  /** The program every mote runs at start (a factory image; may be unsigned). */
  initial: Uint8Array;
  config: Configuration;
  nodes: number;
  topology: "grid" | "random";
  loss: number;
  seed: number;
  auth: ManifestAuth;
  /** The network's Ed25519 public key (the base station checks capsules with it). */
  publicKey: KeyObject;
  /** Platform whose script space the motes have (default "host"). */
  platform?: string;
  params?: Partial<DissParams>;
  mac?: "ideal" | "csma";
  /** Real time (default) or driven by hand (tests call `advance`). */
  realtime?: boolean;
}

interface MoteVm {
  boots: number;
  version: number;
  vm?: Vm;
  state?: LocalState;
  halted: boolean;
}

/**
 * N motes in this process: DissNode on the testbed's lossy links, each with
 * a VM running its installed capsule (vm/engine.ts through components/run.ts
 * createMote), in real time. Mote 1 is the base station.
 */
export class LocalNetwork implements MoteNetwork {
  readonly net: Network;
  private vms = new Map<number, MoteVm>();
  private runner: RealtimeRunner | undefined;
  private space: number;
  private platform: string;

  /** @throws RangeError for bad sizes; Error when the platform has no script space in the configuration. */
  constructor(readonly o: LocalNetworkOptions) {
    if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 4096) throw new RangeError(`--nodes must be 1..4096, got ${o.nodes}`);
    this.platform = o.platform ?? "host";
    const space = o.config.sizes.get(this.platform);
    if (space === undefined) throw new Error(`configuration ${o.config.name} has no script space for platform ${this.platform} (it has: ${[...o.config.sizes.keys()].join(", ")})`);
    this.space = space;
    const topo = o.topology === "random" ? randomTopology(o.nodes, o.seed) : gridTopology(o.nodes);
    this.net = buildNetwork({
      topology: topo, protocol: "trickle", auth: o.auth, publicKey: o.publicKey, configId: o.config.id, scriptSpace: space, loss: o.loss, seed: o.seed,
      params: o.params, mac: o.mac, initial: o.initial,
    });
    this.net.tb.bootAll(0, 200);
    this.net.tb.run(201);
    this.tick(this.net.tb.now);
    if (o.realtime !== false) {
      this.runner = new RealtimeRunner(this.net.tb, 10, (now) => this.tick(now));
      this.runner.start();
    }
  }

  /** Advance logical time by hand (when not real time). */
  advance(toMs: number): void {
    this.net.tb.run(toMs);
    this.tick(this.net.tb.now);
  }

  /** Keep every mote's VM on its installed capsule, and advance the VMs to `now`. */
  private tick(now: number): void {
    const t = Math.floor(now);
    for (const m of this.net.tb.motes) {
      if (!m.up) {
        this.vms.delete(m.id);
        continue;
      }
      const v = m.node.installedVersion;
      let mv = this.vms.get(m.id);
      if (!mv || mv.boots !== m.boots || mv.version !== v) {
        mv = this.startVm(m.id, m.boots, v, (m.node as AnyNode as DissNode).installed, t);
        this.vms.set(m.id, mv);
      }
      if (mv.vm && !mv.halted && t + 1 > mv.vm.now) {
        try {
          runVirtual(mv.vm, [], t + 1);
          if (mv.vm.halted) mv.halted = true;
        } catch {
          mv.halted = true;
        }
      }
    }
  }

  private startVm(id: number, boots: number, version: number, capsule: Uint8Array | undefined, now: number): MoteVm {
    const mv: MoteVm = { boots, version, halted: false };
    if (!capsule) return mv;
    try {
      const cap = loadCapsule(capsule, { sha256 });
      const m = createMote(cap, this.o.config, { nodeId: id, sensors: new DemoSensors(id) });
      m.vm.advanceTo(now);
      mv.vm = m.vm;
      mv.state = m.state;
    } catch {
      mv.halted = true;
    }
    return mv;
  }

  info(): NetworkInfo {
    return {
      kind: "in-process testbed", configName: this.o.config.name, configId: this.o.config.id, scriptSpace: this.space, platform: this.platform,
      auth: this.o.auth.mode, motes: this.o.nodes, baseStation: 1,
    };
  }

  program(): ProgramInfo | undefined {
    const base = this.net.tb.mote(1);
    const cap = (base.node as ProtocolNode as DissNode)?.installed;
    if (!cap) return undefined;
    const h = parseHeader(cap);
    const mv = this.vms.get(1);
    return {
      version: h.programVersion, capsuleBytes: cap.length, codeBytes: h.codeBytes, blocks: h.blocks, blockBytes: h.blockBytes, signed: h.signed,
      sha256: toHex(sha256(cap)), state: !base.up ? "off" : mv?.halted || mv?.vm?.halted ? "halted" : "running",
    };
  }

  deploy(capsule: Uint8Array): Rejection | undefined {
    if (!this.net.tb.mote(1).up) throw new NetworkUnavailable("the base station (mote 1) is powered off");
    const r = this.net.inject(capsule);
    this.tick(this.net.tb.now);
    return r;
  }

  motes(): MoteStatus[] {
    return this.net.tb.motes.map((m) => {
      const n = m.node as DissNode | undefined;
      const mv = this.vms.get(m.id);
      const r = m.up ? n?.receiving : undefined;
      return {
        id: m.id, up: m.up, version: m.up ? n?.installedVersion ?? 0 : 0,
        state: !m.up ? "off" : !mv?.vm ? "empty" : mv.halted || mv.vm.halted ? "halted" : "running",
        ...(r ? { receiving: { version: r.version, have: r.have, of: r.segments } } : {}),
        rejections: n ? [...n.rejections] : [],
      };
    });
  }

  sensors(): string[] {
    return [...Object.keys(SENSORS), "leds"];
  }

  read(id: number, sensor: string): number | undefined {
    if (!Number.isInteger(id) || id < 1 || id > this.o.nodes) return undefined;
    if (sensor === "leds") return this.vms.get(id)?.state?.leds ?? 0;
    const name = SENSORS[sensor];
    return name === undefined ? undefined : new DemoSensors(id).read(name, this.net.tb.now);
  }

  close(): void {
    this.runner?.stop();
    this.runner = undefined;
  }
}
