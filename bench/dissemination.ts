/**
 * Dissemination: time for a new capsule to reach every mote and radio frames
 * per mote, for the Trickle-based protocol and for naive flooding run on the
 * same network (components/dissemination), next to Trickle's published
 * propagation figures.
 *
 * Configurations: 25, 100 and 400 motes; grid (range 1.5 spacings: 8
 * neighbours) and random (same area, range 1.8); 0, 20 and 40 % frame loss
 * per link; capsules of 100 B, 1 KB and 4 KB (unsigned size; the signature
 * adds 65 B). The flooding baseline is naive (components/dissemination/
 * flood.ts: relay each segment once per round as soon as it is verified);
 * for the acceptance configuration a flood paced to avoid collisions is run
 * too. Mote 1, at a corner, is the base station; the capsule is
 * injected 2 s after boot; "coverage" is every mote the base station can
 * reach. Frames: everything the motes sent from the injection until
 * coverage (advertisements, requests, data), divided by the motes.
 *
 * Phase 1 runs on the dissemination testbed with its CSMA-CA + collision
 * MAC model (components/dissemination/testbed.ts); phase 2 moves to the
 * network simulator (components/sim). A run that has not covered the network
 * after MAX_SIM_S simulated seconds reports coverage_time_s = null and the
 * frames sent until then.
 *
 * Reference: Levis et al., "Trickle: A Self-Regulating Algorithm for Code
 * Propagation and Maintenance in Wireless Sensor Networks", NSDI 2004, §5.2:
 * 400 motes (TOSSIM, 20x20 grid), a small capsule reaches every mote in 16 s
 * to 70 s depending on the spacing (density) of the grid.
 */
import { configId } from "../vm/capsule";
import { buildNetwork, DEFAULT_FLOOD_PARAMS, DEFAULT_PARAMS, type FloodParams, FRAME_ADV, FRAME_DATA, FRAME_REQ, gridTopology, type ProtocolName, randomTopology, reachable, syntheticCapsule } from "../components/dissemination/index";
import { generateNetworkKey, signCapsuleWith } from "../components/security/index";
import { registerBench, table } from "./registry";

const CFG = configId("BenchNet", [1, 0, 0]);
const INJECT_MS = 2000;
const MAX_SIM_S = 300;
/** Flooding with relays spread out: the parameters with the fewest frames we found for it (400-mote grid, 20 %, 1 KB). */
export const PACED_FLOOD: Partial<FloodParams> = { gapMs: 50, jitterMs: 100, roundMs: 10_000 };

export interface DissRun {
  coverage_time_s: number | null;
  frames_per_mote: number;
  covered: number;
  adv_per_mote?: number;
  req_per_mote?: number;
  data_per_mote?: number;
}

/** One protocol on one configuration. */
export function runDissemination(o: {
  motes: number; topology: "grid" | "random"; loss: number; bytes: number; protocol: ProtocolName; mac?: "ideal" | "csma"; seed?: number; floodParams?: Partial<FloodParams>;
}): DissRun & { connected: number } {
  const keys = generateNetworkKey();
  const topo = o.topology === "grid" ? gridTopology(o.motes) : randomTopology(o.motes, o.seed ?? 1);
  const reach = reachable(topo);
  const net = buildNetwork({
    topology: topo, protocol: o.protocol, auth: { mode: "ed25519", publicKey: keys.publicKey }, publicKey: keys.publicKey, configId: CFG,
    loss: o.loss, seed: o.seed ?? 1, mac: o.mac ?? "csma", floodParams: o.floodParams,
  });
  const cap = signCapsuleWith(syntheticCapsule({ bytes: o.bytes, configId: CFG, version: 2 }), keys.privateKey);
  net.tb.bootAll(0, 1000);
  net.tb.run(INJECT_MS);
  const f0 = net.tb.framesSent;
  const by0 = net.tb.framesByType();
  const r = net.inject(cap);
  if (r) throw new Error(`bench: the base station refused the capsule: ${r.detail}`);
  const t = net.tb.runUntil(() => net.allCovered(2, reach), INJECT_MS + MAX_SIM_S * 1000, 100);
  const n = o.motes;
  const by = net.tb.framesByType();
  const per = (type: number) => round(((by.get(type) ?? 0) - (by0.get(type) ?? 0)) / n, 2);
  return {
    coverage_time_s: t === undefined ? null : round((t - INJECT_MS) / 1000, 2),
    frames_per_mote: round((net.tb.framesSent - f0) / n, 2),
    covered: net.covered(2),
    connected: reach.filter(Boolean).length,
    ...(o.protocol === "trickle" ? { adv_per_mote: per(FRAME_ADV), req_per_mote: per(FRAME_REQ), data_per_mote: per(FRAME_DATA) } : {}),
  };
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

registerBench({
  name: "dissemination",
  description: "capsule dissemination: time to full coverage and frames per mote, Trickle-based protocol vs naive flooding",
  run({ quick }) {
    const motes = quick ? [25, 100] : [25, 100, 400];
    const sizes = quick ? [1024] : [100, 1024, 4096];
    const losses = [0, 0.2, 0.4];
    const configurations: Record<string, unknown>[] = [];
    const rows: (string | number)[][] = [];
    for (const n of motes) for (const topology of ["grid", "random"] as const) for (const loss of losses) for (const bytes of sizes) {
      const tr = runDissemination({ motes: n, topology, loss, bytes, protocol: "trickle" });
      const fl = runDissemination({ motes: n, topology, loss, bytes, protocol: "flood" });
      // a ratio only when both covered the network (frames of a flood that never covers are a lower bound)
      const ratio = fl.coverage_time_s !== null && tr.coverage_time_s !== null && fl.frames_per_mote > 0 ? round(tr.frames_per_mote / fl.frames_per_mote, 3) : null;
      configurations.push({
        motes: n, topology, loss, capsule_bytes: bytes, connected: tr.connected,
        coverage_time_s: tr.coverage_time_s, frames_per_mote: tr.frames_per_mote,
        adv_per_mote: tr.adv_per_mote, req_per_mote: tr.req_per_mote, data_per_mote: tr.data_per_mote,
        flooding_coverage_time_s: fl.coverage_time_s, flooding_frames_per_mote: fl.frames_per_mote, flooding_covered: fl.covered,
        frames_ratio: ratio,
      });
      const s = (x: number | null) => (x === null ? `>${MAX_SIM_S}` : x.toFixed(1));
      rows.push([n, topology, `${loss * 100}%`, bytes, s(tr.coverage_time_s), tr.frames_per_mote.toFixed(1), s(fl.coverage_time_s), fl.frames_per_mote.toFixed(1), ratio === null ? "-" : ratio.toFixed(2)]);
    }
    // the acceptance configuration against a flood paced to avoid collisions (the best flooding parameters we found),
    // and with the collision-free MAC (flooding's best case)
    const paced = runDissemination({ motes: 400, topology: "grid", loss: 0.2, bytes: 1024, protocol: "flood", floodParams: PACED_FLOOD });
    const ideal = {
      trickle: runDissemination({ motes: 400, topology: "grid", loss: 0.2, bytes: 1024, protocol: "trickle", mac: "ideal" }),
      flood: runDissemination({ motes: 400, topology: "grid", loss: 0.2, bytes: 1024, protocol: "flood", mac: "ideal" }),
    };
    const acc = configurations.find((c) => c.motes === 400 && c.topology === "grid" && c.loss === 0.2 && c.capsule_bytes === 1024);
    const result = {
      network: "dissemination testbed (phase 1), CSMA-CA with collisions, 250 kbit/s, 127-byte frames",
      flooding: { ...DEFAULT_FLOOD_PARAMS, maxRounds: null, note: "naive: every mote relays each segment once per round as soon as it has verified it" },
      trickle: { imin_ms: DEFAULT_PARAMS.iminMs, imax_ms: DEFAULT_PARAMS.imaxMs, k: DEFAULT_PARAMS.k },
      inject_after_boot_ms: INJECT_MS,
      max_simulated_s: MAX_SIM_S,
      configurations,
      acceptance: acc ? {
        config: "400 motes, 20x20 grid, 20 % loss, 1 KB", coverage_time_s: acc.coverage_time_s, frames_per_mote: acc.frames_per_mote,
        flooding_frames_per_mote: acc.flooding_frames_per_mote, frames_ratio: acc.frames_ratio, target: "<= 60 s and <= 0.3x flooding",
        paced_flooding: { params: PACED_FLOOD, coverage_time_s: paced.coverage_time_s, frames_per_mote: paced.frames_per_mote },
        paced_frames_ratio: acc.frames_per_mote && paced.frames_per_mote ? round((acc.frames_per_mote as number) / paced.frames_per_mote, 3) : null,
      } : null,
      ideal_mac_400_grid_20pct_1kb: {
        coverage_time_s: ideal.trickle.coverage_time_s, frames_per_mote: ideal.trickle.frames_per_mote,
        flooding_coverage_time_s: ideal.flood.coverage_time_s, flooding_frames_per_mote: ideal.flood.frames_per_mote,
      },
      reference: { source: "Levis et al., NSDI 2004, section 5.2 (TOSSIM)", motes: 400, small_capsule_coverage_s: [16, 70] },
    };
    const tbl = table(["motes", "topology", "loss", "capsule B", "coverage s", "frames/mote", "flooding s", "flooding frames/mote", "ratio"], rows);
    const notes = [
      "",
      `Trickle Imin ${DEFAULT_PARAMS.iminMs} ms, Imax ${DEFAULT_PARAMS.imaxMs / 1000} s, k ${DEFAULT_PARAMS.k}; capsule injected at the corner mote 2 s after boot.`,
      `Flooding paced to avoid collisions (relay gap ${PACED_FLOOD.gapMs} ms, jitter ${PACED_FLOOD.jitterMs} ms, rounds every ${PACED_FLOOD.roundMs! / 1000} s), 400 grid, 20 %, 1 KB: ${paced.coverage_time_s} s, ${paced.frames_per_mote} frames/mote.`,
      `Collision-free MAC, 400 grid, 20 %, 1 KB: ${ideal.trickle.coverage_time_s} s, ${ideal.trickle.frames_per_mote} frames/mote; flooding ${ideal.flood.coverage_time_s} s, ${ideal.flood.frames_per_mote} frames/mote.`,
      "Published (Levis et al., NSDI 2004, §5.2): 400 motes, a small capsule covers the network in 16 s to 70 s.",
    ];
    return { result, table: tbl + notes.join("\n") };
  },
});
