/**
 * A whole network of one protocol on the testbed: every mote runs DissNode
 * (or FloodNode, for the comparison) with the same key, configuration and
 * script space; mote 1 is the base station. Shared by the tests, the
 * benchmark and the gateway's in-process network.
 */
import type { KeyObject } from "node:crypto";
import type { ManifestAuth } from "../security/manifest";
import { type DissParams, DissNode, type RejectionRecord } from "./node";
import { type FloodParams, FloodNode } from "./flood";
import { KEY_INSTALLED } from "./store";
import { type MoteContext, Testbed, type TestbedOptions, type Topology } from "./testbed";

export type ProtocolName = "trickle" | "flood";

export interface NetworkSpec {
  topology: Topology;
  protocol: ProtocolName;
  auth: ManifestAuth;
  /** The network's Ed25519 key (the base station checks injected capsules with it). */
  publicKey: KeyObject;
  configId: number;
  /** Script space of every mote, bytes (default 65535, the host platform). */
  scriptSpace?: number;
  /** Per-mote script space override (e.g. a small mote in the network). */
  scriptSpaceOf?: (id: number) => number;
  loss: number;
  seed: number;
  params?: Partial<DissParams>;
  floodParams?: Partial<FloodParams>;
  perturb?: TestbedOptions["perturb"];
  /** MAC model of the testbed (default "ideal"). */
  mac?: TestbedOptions["mac"];
  onInstall?: TestbedOptions["onInstall"];
  /** Called for every rejection at any mote. */
  onReject?: (id: number, r: RejectionRecord) => void;
  /** A capsule every mote has installed before the run (a factory image). */
  initial?: Uint8Array;
}

export type AnyNode = DissNode | FloodNode;

export interface Network {
  tb: Testbed<AnyNode>;
  spec: NetworkSpec;
  /** Give the base station (mote 1) a signed capsule; undefined when accepted. */
  inject(capsule: Uint8Array): ReturnType<DissNode["inject"]>;
  /** Motes (powered on) whose installed version is >= version. */
  covered(version: number): number;
  /** Every mote that can hear the base station (transitively) runs version (or newer). */
  allCovered(version: number, among?: boolean[]): boolean;
}

/**
 * Build the testbed network of `spec` (motes not yet powered on: call
 * `tb.bootAll`). With `initial`, every store starts with that capsule installed.
 */
export function buildNetwork(spec: NetworkSpec): Network {
  const space = (id: number) => spec.scriptSpaceOf?.(id) ?? spec.scriptSpace ?? 65535;
  const factory = (ctx: MoteContext): AnyNode => {
    const common = {
      id: ctx.id, configId: spec.configId, scriptSpace: space(ctx.id), auth: spec.auth, publicKey: spec.publicKey,
      store: ctx.store, clock: ctx.clock, rng: ctx.rng, radio: ctx.radio, onInstall: ctx.onInstall,
    };
    return spec.protocol === "trickle"
      ? new DissNode({ ...common, params: spec.params, onReject: (r) => spec.onReject?.(ctx.id, r) })
      : new FloodNode({ ...common, params: spec.floodParams });
  };
  const tb = new Testbed<AnyNode>(spec.topology, factory, { loss: spec.loss, seed: spec.seed, perturb: spec.perturb, onInstall: spec.onInstall, mac: spec.mac });
  if (spec.initial) for (const m of tb.motes) m.store.set(KEY_INSTALLED, spec.initial);
  const base = tb.motes[0];
  return {
    tb,
    spec,
    inject: (capsule) => base.node.inject(capsule),
    covered: (v) => tb.motes.filter((m) => m.up && m.node.installedVersion >= v).length,
    allCovered: (v, among) => tb.motes.every((m, i) => (among && !among[i]) || (m.up && m.node.installedVersion >= v)),
  };
}
