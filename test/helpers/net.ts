/**
 * Test harness for dissemination: networks of DissNode / FloodNode motes on
 * the deterministic testbed (components/dissemination/testbed.ts: lossy
 * broadcast links on a grid / random graph / line, optional CSMA and
 * collisions, reboot and partition scripting, a perturbation hook), signed
 * test capsules, and the global invariant every test checks: no mote ever
 * installs a capsule whose body hash or signature does not verify, or that
 * the test did not deploy.
 */
import { configId } from "../../vm/capsule";
import {
  type AnyNode, buildNetwork, DissNode, type DissParams, gridTopology, lineTopology, type Network, type NetworkSpec, randomTopology, reachable,
  syntheticCapsule, type Topology,
} from "../../components/dissemination";
import { checkSignedCapsule, generateNetworkKey, generatePsk, type ManifestAuth, type NetworkKeyPair, signCapsuleWith, toHex } from "../../components/security";

export const CFG = configId("DissTest", [1, 0, 0]);
export const OTHER_CFG = configId("OtherVM", [1, 0, 0]);
/** One key pair and PSK for all tests of a file (generation is cheap, but fixed keys keep failures reproducible within a run). */
export const KEYS: NetworkKeyPair = generateNetworkKey();
export const PSK = generatePsk();

/** A signed synthetic capsule of `bytes` unsigned bytes. */
export function capsule(version: number, bytes = 1024, opts: { key?: NetworkKeyPair; configId?: number; seed?: number; blockBytes?: number } = {}): Uint8Array {
  const raw = syntheticCapsule({ bytes, configId: opts.configId ?? CFG, version, seed: opts.seed ?? version, blockBytes: opts.blockBytes });
  return signCapsuleWith(raw, (opts.key ?? KEYS).privateKey);
}

export interface Scenario {
  n: number;
  topology?: "grid" | "random" | "line" | Topology;
  loss: number;
  seed?: number;
  protocol?: "trickle" | "flood";
  auth?: "ed25519" | "psk";
  mac?: "ideal" | "csma";
  params?: Partial<DissParams>;
  perturb?: NetworkSpec["perturb"];
  scriptSpaceOf?: (id: number) => number;
  initial?: Uint8Array;
}

export interface TestNet extends Network {
  /** Capsules deployed legitimately (hex): the only ones a mote may install. */
  legit: Set<string>;
  /** Invariant violations seen (must stay empty). */
  violations: string[];
  reach: boolean[];
  /** Mark a capsule legitimate and give it to the base station at time `at`. */
  deploy(at: number, cap: Uint8Array): void;
  dnode(id: number): DissNode;
}

export function authFor(mode: "ed25519" | "psk"): ManifestAuth {
  return mode === "ed25519" ? { mode, publicKey: KEYS.publicKey } : { mode, psk: PSK };
}

/** Build a network, every mote powered on at t in [0, 500) ms; returns at t = 501 ms. */
export function testNet(s: Scenario): TestNet {
  const topo = typeof s.topology === "object" ? s.topology
    : s.topology === "random" ? randomTopology(s.n, s.seed ?? 1)
    : s.topology === "line" ? lineTopology(s.n)
    : gridTopology(s.n);
  const legit = new Set<string>();
  const violations: string[] = [];
  const net = buildNetwork({
    topology: topo, protocol: s.protocol ?? "trickle", auth: authFor(s.auth ?? "ed25519"), publicKey: KEYS.publicKey, configId: CFG,
    loss: s.loss, seed: s.seed ?? 1, params: s.params, perturb: s.perturb, mac: s.mac, scriptSpaceOf: s.scriptSpaceOf, initial: s.initial,
    onInstall: (m, cap, version) => {
      const r = checkSignedCapsule(cap, { publicKey: KEYS.publicKey, configId: CFG, installedVersion: 0, scriptSpace: 65535 });
      if (!r.ok) violations.push(`mote ${m.id} installed version ${version} that fails verification: ${r.rejection.reason}`);
      if (!legit.has(toHex(cap))) violations.push(`mote ${m.id} installed version ${version}, which was never deployed`);
    },
  });
  net.tb.bootAll(0, 500);
  net.tb.run(501);
  return {
    ...net,
    legit,
    violations,
    reach: reachable(topo),
    deploy(at, cap) {
      legit.add(toHex(cap));
      net.tb.at(at, () => {
        const r = net.inject(cap);
        if (r) violations.push(`the base station refused a legitimate capsule: ${r.reason}: ${r.detail}`);
      });
    },
    dnode: (id) => net.tb.mote(id).node as DissNode,
  };
}

/** Versions installed per mote (for failure messages). */
export function versions(net: Network): Record<number, number> {
  const out: Record<number, number> = {};
  for (const m of net.tb.motes) out[m.id] = m.node.installedVersion;
  return out;
}

export type { AnyNode };
