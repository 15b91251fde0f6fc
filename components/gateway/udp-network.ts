/**
 * A real network behind the CoAP gateway (`terra gateway --udp`): host motes
 * on the UDP dissemination network of components/dissemination/udp.ts, the C
 * `terra-diss-mote` of firmware-host and the TypeScript `terra mote` alike
 * (docs/dissemination.md "C motes and the UDP network").
 *
 * The gateway is the base station: a TypeScript mote (UdpMote: DissNode on
 * the multicast group, with its own id and store directory) that checks and
 * installs the capsules the gateway takes (`deploy` = `terra mote --inject`:
 * the same checks and Rejection reasons) and then serves them to the network
 * like any mote. It runs no VM (its program's state is "off") and offers no
 * sensors: the radio protocol carries none.
 *
 * What it knows of the other motes is what the radio says: every
 * advertisement (ADV) of the network's configuration carries the sender's
 * installed version, so a mote is listed from its first ADV on, with that
 * version and when it was last heard (any frame). Advertisements are not
 * authenticated (neither in the protocol nor here), and refusals at remote
 * motes are not sent over the radio, so /vm/motes and `terra status` show
 * the base station's refusals and the per-mote versions only.
 */
import type { KeyObject } from "node:crypto";
import {
  DEFAULT_PARAMS, DEFAULT_UDP_GROUP, DEFAULT_UDP_IFACE, DEFAULT_UDP_PORT, type DissParams, decodeFrame, FileStore, FRAME_ADV, KEY_INSTALLED,
  type MoteEvent, UdpMote, UdpRadio,
} from "../dissemination/index";
import { CapsuleError } from "../../vm/capsule";
import { type ManifestAuth, parseHeader, type Rejection } from "../security/index";
import { type MoteNetwork, type MoteStatus, type NetworkInfo, NetworkUnavailable, type ProgramInfo, programInfo } from "./network";

/** Script space the base station's policy assumes by default, bytes (the default of `terra mote` and `terra-diss-mote`). */
export const DEFAULT_SCRIPT_SPACE = 65535;
/** A mote is up while heard within this many Trickle Imax (a steady network advertises about once per Imax). */
export const UP_IMAX = 4;

export interface UdpNetworkOptions {
  /** Multicast group, port and interface (defaults of udp.ts: 239.255.42.99:47474 on 127.0.0.1). */
  udp?: { group?: string; port?: number; iface?: string };
  /** The base station's 16-bit address (default 1). */
  id?: number;
  /** The base station's store directory (records of docs/dissemination.md "Persistence"). */
  store: string;
  /** Factory image: the installed capsule when the store has none (its configuration is the network's). */
  initial?: Uint8Array;
  /** The network's Ed25519 public key (checks deployed capsules; the manifests too unless `psk`). */
  publicKey: KeyObject;
  /** The network's pre-shared key: psk mode (HMAC-SHA-256 manifest and block tags, docs/security.md). */
  psk?: Uint8Array;
  /** Script space the policy allows, bytes (default DEFAULT_SCRIPT_SPACE). */
  scriptSpace?: number;
  /** Name of the VM configuration, shown by GET /vm (default "unnamed": a capsule carries only its id). */
  configName?: string;
  /** Protocol parameters of the base station (the network's: Imax also sets when a silent mote is shown down). */
  params?: Partial<DissParams>;
  /** A mote not heard for this long is shown down, ms (default UP_IMAX x Imax). */
  upWindowMs?: number;
  /** Seed of the base station's protocol randomness (default 1). */
  seed?: number;
  /** The base station's events (start, boot, inject, install, reject, end), as `terra mote` logs them. */
  log?: (e: MoteEvent) => void;
}

/** A mote as heard on the radio: MoteStatus plus when its last frame arrived. */
export interface UdpMoteStatus extends MoteStatus {
  /** When the mote's last frame was heard (ISO 8601); absent for the base station. */
  lastHeard?: string;
}

interface Heard {
  version: number;
  /** performance.now() and Date.now() of the last frame. */
  mono: number;
  wall: number;
}

/** The network's VM configuration: the installed capsule's (in the store) or the factory image's. @throws Error when there is neither or it does not parse. */
function configIdOf(store: FileStore, initial: Uint8Array | undefined): number {
  const stored = store.get(KEY_INSTALLED);
  const cap = stored ?? initial;
  if (!cap) throw new Error(`the base station's store ${store.dir} has no installed capsule: give a factory image (--capsule)`);
  try {
    return parseHeader(cap).configId;
  } catch (e) {
    if (e instanceof CapsuleError) throw new Error(`${stored ? `${store.dir}/${KEY_INSTALLED}` : "the factory image"}: ${e.message}`);
    throw e;
  }
}

/**
 * The UDP dissemination network with the gateway as its base station.
 * Create with `UdpNetwork.open`; `close` leaves the group.
 */
export class UdpNetwork implements MoteNetwork {
  private readonly heard = new Map<number, Heard>();
  private closed = false;

  private constructor(
    private readonly o: UdpNetworkOptions,
    private readonly mote: UdpMote,
    private readonly listener: UdpRadio,
    private readonly configId: number,
    private readonly upWindowMs: number,
  ) {}

  /**
   * Join the group as the base station (id `o.id`, booted from its store or
   * the factory image) and start listening to the other motes.
   * @throws RangeError for bad options (id, group, port, interface, script space); Error when the store
   *   has no usable capsule and no factory image is given, or the socket cannot be bound or joined.
   */
  static async open(o: UdpNetworkOptions): Promise<UdpNetwork> {
    const id = o.id ?? 1;
    const space = o.scriptSpace ?? DEFAULT_SCRIPT_SPACE;
    if (!Number.isInteger(space) || space < 1 || space > 0xffffffff) throw new RangeError(`script space ${space} is not 1..4294967295 bytes`);
    let store: FileStore;
    try {
      store = new FileStore(o.store);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(`store ${o.store}: ${code === "EEXIST" || code === "ENOTDIR" ? "not a directory" : (e as Error).message}`);
    }
    const configId = configIdOf(store, o.initial);
    const imax = o.params?.imaxMs ?? DEFAULT_PARAMS.imaxMs;
    const udp = { group: o.udp?.group ?? DEFAULT_UDP_GROUP, port: o.udp?.port ?? DEFAULT_UDP_PORT, iface: o.udp?.iface ?? DEFAULT_UDP_IFACE };
    const auth: ManifestAuth = o.psk ? { mode: "psk", psk: o.psk } : { mode: "ed25519", publicKey: o.publicKey };
    // a second socket on the group hears what the base station's DissNode hears (UdpRadio drops the base's own datagrams)
    let net: UdpNetwork | undefined;
    const listener = await UdpRadio.open({ ...udp, id }, (frame, from) => net?.hear(frame, from));
    let mote: UdpMote;
    try {
      mote = await UdpMote.start({
        id, configId, scriptSpace: space, auth, publicKey: o.publicKey, store, initial: o.initial, seed: o.seed, params: o.params, udp, log: o.log,
      });
    } catch (e) {
      await listener.close();
      throw e;
    }
    net = new UdpNetwork(o, mote, listener, configId, o.upWindowMs ?? UP_IMAX * imax);
    return net;
  }

  /** A frame heard from mote `from`: an ADV of this configuration lists it with its version; any frame refreshes it. */
  private hear(frame: Uint8Array, from: number): void {
    const f = decodeFrame(frame);
    if (typeof f === "string") return;
    const known = this.heard.get(from);
    if (f.type === FRAME_ADV) {
      if (f.configId !== this.configId >>> 0) return; // a mote of another network
      this.heard.set(from, { version: f.version, mono: performance.now(), wall: Date.now() });
    } else if (known) {
      known.mono = performance.now();
      known.wall = Date.now();
    }
  }

  /** The base station's protocol instance (its DissNode). */
  get node(): UdpMote["node"] {
    return this.mote.node;
  }

  /** The group, the configuration (of the base station's capsule), the policy's script space, and the motes listed by `motes`. */
  info(): NetworkInfo {
    const r = this.mote.radio.o;
    return {
      kind: `UDP network ${r.group}:${r.port} on ${r.iface}`, configName: this.o.configName ?? "unnamed",
      configId: this.configId, scriptSpace: this.o.scriptSpace ?? DEFAULT_SCRIPT_SPACE, platform: "host", auth: this.o.psk ? "psk" : "ed25519",
      motes: this.heard.size + 1, baseStation: this.mote.node.id,
    };
  }

  /** The base station's installed capsule; its state is "off" (the gateway runs no VM). */
  program(): ProgramInfo | undefined {
    const cap = this.mote.node.installed;
    if (!cap) return undefined;
    return programInfo(cap, "off");
  }

  /**
   * Check a signed capsule at the base station (signature or PSK, version
   * newer, size, configuration, bytecode: DissNode.inject) and install it;
   * the motes then fetch it. @throws NetworkUnavailable once closed.
   */
  deploy(capsule: Uint8Array): Rejection | undefined {
    if (this.closed) throw new NetworkUnavailable("the base station has left the UDP network");
    return this.mote.inject(capsule);
  }

  /**
   * The base station first, then every mote heard advertising this
   * configuration, by id. `up`: heard within the up window; `state`:
   * "running" for a mote advertising a version (the radio does not say
   * whether its VM halted), "empty" for version 0, "off" when not up.
   * Remote motes' `rejections` are always empty (not reported over the radio).
   */
  motes(): UdpMoteStatus[] {
    const n = this.mote.node;
    const now = performance.now();
    const out: UdpMoteStatus[] = [{ id: n.id, up: !this.closed, version: n.installedVersion, state: "off", ...this.receiving(), rejections: [...n.rejections] }];
    for (const [id, h] of [...this.heard].sort((a, b) => a[0] - b[0])) {
      const up = now - h.mono <= this.upWindowMs;
      out.push({ id, up, version: h.version, state: !up ? "off" : h.version ? "running" : "empty", rejections: [], lastHeard: new Date(h.wall).toISOString() });
    }
    return out;
  }

  private receiving(): Pick<MoteStatus, "receiving"> {
    const r = this.mote.node.receiving;
    return r ? { receiving: { version: r.version, have: r.have, of: r.segments } } : {};
  }

  /** No sensors over UDP: the dissemination protocol carries none. */
  sensors(): string[] {
    return [];
  }

  /** Always undefined: no mote offers a sensor over UDP (the gateway answers 4.04). */
  read(): number | undefined {
    return undefined;
  }

  /** Stop the base station (it logs `end`) and leave the group. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.mote.stop(), this.listener.close()]);
  }
}
