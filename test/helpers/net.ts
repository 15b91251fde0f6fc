/**
 * Test harness for dissemination on the network simulator (components/sim
 * with its dissemination component): networks of motes running an idle
 * script whose stores hold a signed version 1, signed test capsules of any
 * size for the same VM configuration, and the global invariant every test
 * checks: no mote ever installs a capsule whose body hash or signature does
 * not verify, or that the test did not deploy.
 */
import { DissNode, type DissParams, syntheticCapsule } from "../../components/dissemination";
import { buildTopology, type ChurnAction, parseSensorSpec, Simulator, type Topology } from "../../components/sim";
import type { SimDissemination } from "../../components/sim/dissemination";
import { reachableFrom } from "../../components/sim/topology";
import { checkSignedCapsule, generateNetworkKey, generatePsk, type ManifestAuth, type NetworkKeyPair, sha256, signCapsuleWith, toHex } from "../../components/security";
import { loadCapsule } from "../../vm/verify";
import { mustBuild } from "./script";

/** The script every test mote runs: it only waits (dissemination is what is under test). */
const IDLE = `#include "TerraNet.defs"\nawait FOREVER;\n`;
const compiled = mustBuild(IDLE);
export const CONFIG = compiled.config!;
export const CFG = CONFIG.id;
export const OTHER_CFG = (CFG ^ 0x5a5a5a5a) >>> 0;
/** One key pair and PSK for all tests of a file. */
export const KEYS: NetworkKeyPair = generateNetworkKey();
export const PSK = generatePsk();
/** Version 1: the program every mote has at the start. */
export const V1 = signCapsuleWith(compiled.capsule!, KEYS.privateKey);

/** A signed synthetic capsule of `bytes` unsigned bytes for the test configuration. */
export function capsule(version: number, bytes = 1024, opts: { key?: NetworkKeyPair; configId?: number; seed?: number; blockBytes?: number } = {}): Uint8Array {
  const raw = syntheticCapsule({ bytes, configId: opts.configId ?? CFG, version, seed: opts.seed ?? version, blockBytes: opts.blockBytes });
  return signCapsuleWith(raw, (opts.key ?? KEYS).privateKey);
}

export function authFor(mode: "ed25519" | "psk"): ManifestAuth {
  return mode === "ed25519" ? { mode, publicKey: KEYS.publicKey } : { mode, psk: PSK };
}

export interface Scenario {
  n: number;
  /** grid (10 m apart, range 15 m: 8 neighbours), random (range 18 m), line (one neighbour each way), or a built topology. */
  topology?: "grid" | "random" | "line" | Topology;
  loss: number;
  seed?: number;
  protocol?: "trickle" | "flood";
  auth?: "ed25519" | "psk";
  params?: Partial<DissParams>;
  scriptSpaceOf?: (id: number) => number;
  churn?: ChurnAction[];
  /** Motes boot at a random ms in [0, bootJitterMs) (default 500). */
  bootJitterMs?: number;
  /** The signed program every mote has at the start (default V1, the idle script; it must be for the test configuration). */
  initial?: Uint8Array;
}

export interface TestNet {
  sim: Simulator;
  diss: SimDissemination;
  /** Capsules deployed legitimately (hex): the only ones a mote may install. */
  legit: Set<string>;
  /** Invariant violations seen (must stay empty). */
  violations: string[];
  /** Motes the base station reaches (by index). */
  reach: Uint8Array;
  /** Simulated time, ms. */
  readonly now: number;
  /** Mark a capsule legitimate and give it to the base station at time `at` (ms). */
  deploy(at: number, cap: Uint8Array): void;
  /** Run until `until` ms. */
  run(until: number): void;
  /** Run until `done()` holds (checked every `stepMs`) or `maxMs`; @returns the time it first held, or undefined. */
  runUntil(done: () => boolean, maxMs: number, stepMs?: number): number | undefined;
  /** Every mote the base station reaches is on and runs `version` or newer. */
  allCovered(version: number): boolean;
  index(id: number): number;
  /** The protocol instance of mote `id` (undefined while it is off). */
  dnode(id: number): DissNode;
  up(id: number): boolean;
}

export function topologyOf(s: Pick<Scenario, "n" | "topology" | "loss" | "seed">): Topology {
  if (typeof s.topology === "object") return s.topology;
  const kind = s.topology ?? "grid";
  return buildTopology({ kind, nodes: s.n, spacing: 10, range: kind === "random" ? 18 : 15, loss: { kind: "uniform", loss: s.loss }, seed: s.seed ?? 1 });
}

/** Build a network (mote 1, at a corner, is the base station); returns with every mote booted. */
export function testNet(s: Scenario): TestNet {
  const topo = topologyOf(s);
  const initial = s.initial ?? V1;
  const legit = new Set<string>([toHex(initial)]);
  const violations: string[] = [];
  const jitter = s.bootJitterMs ?? 500;
  const sim = new Simulator({
    capsule: loadCapsule(initial, { sha256 }), cfg: CONFIG, topology: topo, sensors: parseSensorSpec("constant"), seed: s.seed ?? 1, bootJitterMs: jitter,
    churn: s.churn,
    dissemination: {
      protocol: s.protocol, auth: authFor(s.auth ?? "ed25519"), publicKey: KEYS.publicKey, initial, scriptSpace: 65535, scriptSpaceOf: s.scriptSpaceOf,
      params: s.params,
      onInstall: (id, cap, version) => {
        const r = checkSignedCapsule(cap, { publicKey: KEYS.publicKey, configId: CFG, installedVersion: 0, scriptSpace: 65535 });
        if (!r.ok) violations.push(`mote ${id} installed version ${version} that fails verification: ${r.rejection.reason}`);
        if (!legit.has(toHex(cap))) violations.push(`mote ${id} installed version ${version}, which was never deployed`);
      },
    },
  });
  const diss = sim.diss!;
  sim.runUntil(jitter + 1);
  const reach = reachableFrom(topo, sim.base);
  const index = (id: number) => {
    const i = topo.indexOf.get(id);
    if (i === undefined) throw new RangeError(`no mote ${id}`);
    return i;
  };
  const net: TestNet = {
    sim, diss, legit, violations, reach,
    get now() {
      return sim.now / 1000;
    },
    deploy(at, cap) {
      legit.add(toHex(cap));
      diss.injectAt(at, cap);
    },
    run: (until) => sim.runUntil(until),
    runUntil(done, maxMs, stepMs = 50) {
      if (done()) return net.now;
      while (net.now < maxMs) {
        sim.runUntil(Math.min(maxMs, net.now + stepMs));
        if (done()) return net.now;
      }
      return undefined;
    },
    allCovered(v) {
      for (let i = 0; i < topo.n; i++) if (reach[i] && diss.version(i) < v) return false;
      return true;
    },
    index,
    dnode: (id) => diss.node(index(id)) as DissNode,
    up: (id) => sim.up(index(id)),
  };
  return net;
}

/** Versions installed per mote (for failure messages). */
export function versions(net: TestNet): Record<number, number> {
  const out: Record<number, number> = {};
  for (let i = 0; i < net.sim.n; i++) out[net.sim.ids[i]] = net.diss.version(i);
  return out;
}

/** A churn action for Simulator.addChurn / Scenario.churn. */
export const churn = (atMs: number, action: ChurnAction["action"], node: number): ChurnAction => ({ atMs, action, node, file: "test", line: 0 });
