/**
 * Dissemination: time for a new capsule to reach every mote and radio frames
 * per mote, for the Trickle-based protocol and for naive flooding run in the
 * same network simulator (components/sim with its dissemination component:
 * IEEE 802.15.4 CSMA-CA, collisions, hidden terminals, per-link loss), next
 * to Trickle's published propagation figures.
 *
 * Configurations: 25, 100 and 400 motes; grid (10 m apart, 15 m range: 8
 * neighbours) and random (same area, 18 m range: about 10 neighbours);
 * 0, 20 and 40 % frame loss per link; capsules of 100 B, 1 KB and 4 KB
 * (unsigned size; the signature adds 65 B). The motes run an idle script
 * (the radio carries dissemination only). Mote 1, at a corner, is the base
 * station; motes boot within the first second and the capsule is injected at
 * 2 s; "coverage" is every mote the base station reaches. Frames: the
 * dissemination frames the motes sent from the injection until the last of
 * them installed the capsule (advertisements, requests, data; FLOOD frames
 * for flooding), divided by the motes. The flooding baseline is naive
 * (components/dissemination/flood.ts: every mote relays each segment once
 * per round as soon as it has verified it); for the acceptance configuration
 * a flood paced to avoid collisions is run too. A run that has not covered
 * the network MAX_SIM_S simulated seconds after the injection has no
 * coverage time (null) and counts the frames sent until then. Every figure
 * is the median of the runs with seeds 1, 2 and 3 (seed 1 only with
 * --quick); seeds change the random topologies, the boot times, the losses
 * and every protocol and MAC draw.
 *
 * Reference: Levis et al., "Trickle: A Self-Regulating Algorithm for Code
 * Propagation and Maintenance in Wireless Sensor Networks", NSDI 2004, §5.2:
 * 400 motes (TOSSIM, 20x20 grid), a small capsule reaches every mote in 16 s
 * to 70 s depending on the spacing (density) of the grid.
 */
import { existsSync, readFileSync } from "node:fs";
import { builtinDefsDir, sha256 } from "../cli/util";
import { compile } from "../compiler/compile";
import { DEFAULT_FLOOD_PARAMS, DEFAULT_PARAMS, type DissParams, type FloodParams, syntheticCapsule } from "../components/dissemination/index";
import { generateNetworkKey, type NetworkKeyPair, signCapsuleWith } from "../components/security/index";
import type { DissProtocol } from "../components/sim/dissemination";
import { buildTopology, parseSensorSpec, Simulator } from "../components/sim/index";
import { loadCapsule } from "../vm/verify";
import { registerBench, table } from "./registry";

const INJECT_MS = 2000;
const MAX_SIM_S = 300;
/** Flooding with relays spread out: the parameters with the fewest frames we found for it (400-mote grid, 20 %, 1 KB). */
export const PACED_FLOOD: Partial<FloodParams> = { gapMs: 50, jitterMs: 100, roundMs: 10_000 };

export interface DissRun {
  coverage_time_s: number | null;
  frames_per_mote: number;
  /** Reachable motes that installed the capsule. */
  covered: number;
  /** Motes the base station reaches. */
  connected: number;
  adv_per_mote?: number;
  req_per_mote?: number;
  data_per_mote?: number;
  /** Wall time of the run, s. */
  wall_s: number;
}

let network: { keys: NetworkKeyPair; initial: Uint8Array; script: ReturnType<typeof compile> } | undefined;

/** The idle script every mote runs, signed as version 1, and the bench's key (made once). */
function setup() {
  if (network) return network;
  const readFile = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
  const script = compile("idle.terra", `#include "TerraNet.defs"\nawait FOREVER;\n`, { includeDirs: [], builtinDir: builtinDefsDir(), readFile, sha256 });
  if (!script.ok) throw new Error(`bench dissemination: the idle script does not compile: ${script.diagnostics[0]?.message}`);
  const keys = generateNetworkKey();
  network = { keys, initial: signCapsuleWith(script.capsule!, keys.privateKey), script };
  return network;
}

/** One protocol on one configuration, in the network simulator. */
export function runDissemination(o: {
  motes: number; topology: "grid" | "random"; loss: number; bytes: number; protocol: DissProtocol; seed?: number; floodParams?: Partial<FloodParams>;
  params?: Partial<DissParams>;
}): DissRun {
  const { keys, initial, script } = setup();
  const seed = o.seed ?? 1;
  const t0 = performance.now();
  const topology = buildTopology({
    kind: o.topology, nodes: o.motes, spacing: 10, range: o.topology === "grid" ? 15 : 18, loss: { kind: "uniform", loss: o.loss }, seed,
  });
  const sim = new Simulator({
    capsule: loadCapsule(initial, { sha256 }), cfg: script.config!, topology, sensors: parseSensorSpec("constant"), seed, bootJitterMs: 1000,
    dissemination: {
      protocol: o.protocol, auth: { mode: "ed25519", publicKey: keys.publicKey }, publicKey: keys.publicKey, initial, scriptSpace: 65535,
      floodParams: o.floodParams, params: o.params,
    },
  });
  const diss = sim.diss!;
  const cap = signCapsuleWith(syntheticCapsule({ bytes: o.bytes, configId: script.config!.id, version: 2 }), keys.privateKey);
  diss.injectAt(INJECT_MS, cap);
  sim.runUntil(INJECT_MS + 1);
  const first = diss.injections[0];
  if (first?.outcome !== "accepted") throw new Error(`bench: the base station did not take the capsule: ${first?.rejection?.detail ?? first?.outcome}`);
  for (let t = INJECT_MS + 1000; t <= INJECT_MS + MAX_SIM_S * 1000 && diss.progress()!.coverageMs === null; t += 1000) sim.runUntil(t);
  const p = diss.progress()!;
  const f = diss.deploymentFrames()!;
  const n = o.motes;
  const per = (x: number) => round(x / n, 2);
  return {
    coverage_time_s: p.coverageMs === null ? null : round((p.coverageMs - INJECT_MS) / 1000, 2),
    frames_per_mote: per(f.total),
    covered: p.installed,
    connected: p.reachable,
    ...(o.protocol === "trickle" ? { adv_per_mote: per(f.adv), req_per_mote: per(f.req), data_per_mote: per(f.data) } : {}),
    wall_s: round((performance.now() - t0) / 1000, 2),
  };
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/** Median of numbers where null (not covered) counts as larger than any number. */
function median(xs: (number | null)[]): number | null {
  const s = [...xs].sort((a, b) => (a === null ? 1 : b === null ? -1 : a - b));
  return s[(s.length - 1) >> 1];
}

/** One configuration over several seeds: the median of each figure. */
function medianRun(seeds: number[], o: Omit<Parameters<typeof runDissemination>[0], "seed">): DissRun & { per_seed: (number | null)[] } {
  const runs = seeds.map((seed) => runDissemination({ ...o, seed }));
  const m = (f: (r: DissRun) => number | null | undefined) => median(runs.map((r) => f(r) ?? null));
  return {
    coverage_time_s: m((r) => r.coverage_time_s),
    frames_per_mote: m((r) => r.frames_per_mote)!,
    covered: m((r) => r.covered)!,
    connected: m((r) => r.connected)!,
    ...(o.protocol === "trickle" ? { adv_per_mote: m((r) => r.adv_per_mote)!, req_per_mote: m((r) => r.req_per_mote)!, data_per_mote: m((r) => r.data_per_mote)! } : {}),
    wall_s: round(runs.reduce((a, r) => a + r.wall_s, 0), 2),
    per_seed: runs.map((r) => r.coverage_time_s),
  };
}

registerBench({
  name: "dissemination",
  description: "capsule dissemination in the network simulator: time to full coverage and frames per mote, Trickle-based protocol vs naive flooding",
  run({ quick }) {
    const motes = quick ? [25, 100] : [25, 100, 400];
    const sizes = quick ? [1024] : [100, 1024, 4096];
    const losses = [0, 0.2, 0.4];
    const seeds = quick ? [1] : [1, 2, 3];
    const configurations: Record<string, unknown>[] = [];
    const rows: (string | number)[][] = [];
    const t0 = performance.now();
    for (const n of motes) for (const topology of ["grid", "random"] as const) for (const loss of losses) for (const bytes of sizes) {
      const tr = medianRun(seeds, { motes: n, topology, loss, bytes, protocol: "trickle" });
      const fl = medianRun(seeds, { motes: n, topology, loss, bytes, protocol: "flood" });
      // a ratio only when both covered the network (the frames of a flood that never covers are a lower bound)
      const ratio = fl.coverage_time_s !== null && tr.coverage_time_s !== null && fl.frames_per_mote > 0 ? round(tr.frames_per_mote / fl.frames_per_mote, 3) : null;
      configurations.push({
        motes: n, topology, loss, capsule_bytes: bytes, connected: tr.connected,
        coverage_time_s: tr.coverage_time_s, frames_per_mote: tr.frames_per_mote, covered: tr.covered,
        adv_per_mote: tr.adv_per_mote, req_per_mote: tr.req_per_mote, data_per_mote: tr.data_per_mote,
        flooding_coverage_time_s: fl.coverage_time_s, flooding_frames_per_mote: fl.frames_per_mote, flooding_covered: fl.covered,
        frames_ratio: ratio, coverage_time_s_per_seed: tr.per_seed, flooding_coverage_time_s_per_seed: fl.per_seed, wall_s: round(tr.wall_s + fl.wall_s, 2),
      });
      const s = (x: number | null) => (x === null ? `>${MAX_SIM_S}` : x.toFixed(1));
      rows.push([n, topology, `${loss * 100}%`, bytes, s(tr.coverage_time_s), tr.frames_per_mote.toFixed(1), s(fl.coverage_time_s), fl.frames_per_mote.toFixed(1), ratio === null ? "-" : ratio.toFixed(2)]);
    }
    // the acceptance configuration against a flood paced to avoid collisions (the best flooding parameters we found)
    const accMotes = quick ? 100 : 400;
    const paced = medianRun(seeds, { motes: accMotes, topology: "grid", loss: 0.2, bytes: 1024, protocol: "flood", floodParams: PACED_FLOOD });
    const acc = configurations.find((c) => c.motes === accMotes && c.topology === "grid" && c.loss === 0.2 && c.capsule_bytes === 1024);
    // Trickle's Imin on the acceptance configuration (full runs only)
    const iminSweep = quick ? [] : [250, 500, 1000, 2000].map((iminMs) => {
      const r = medianRun(seeds, { motes: 400, topology: "grid", loss: 0.2, bytes: 1024, protocol: "trickle", params: { iminMs } });
      return { imin_ms: iminMs, coverage_time_s: r.coverage_time_s, frames_per_mote: r.frames_per_mote };
    });
    const result = {
      network: "network simulator (components/sim): IEEE 802.15.4 at 250 kbit/s, unslotted CSMA-CA, collisions, 127-byte frames; grid 10 m apart with 15 m range, random with 18 m range",
      flooding: { ...DEFAULT_FLOOD_PARAMS, maxRounds: null, note: "naive: every mote relays each segment once per round as soon as it has verified it" },
      trickle: { imin_ms: DEFAULT_PARAMS.iminMs, imax_ms: DEFAULT_PARAMS.imaxMs, k: DEFAULT_PARAMS.k },
      inject_at_ms: INJECT_MS,
      seeds,
      statistic: seeds.length > 1 ? `median of ${seeds.length} seeds` : "one seed",
      max_simulated_s: MAX_SIM_S,
      wall_s: round((performance.now() - t0) / 1000, 1),
      configurations,
      acceptance: acc ? {
        config: `${accMotes} motes, ${accMotes === 400 ? "20x20" : "10x10"} grid, 20 % loss, 1 KB`, coverage_time_s: acc.coverage_time_s, coverage_time_s_per_seed: acc.coverage_time_s_per_seed, frames_per_mote: acc.frames_per_mote,
        flooding_coverage_time_s: acc.flooding_coverage_time_s, flooding_frames_per_mote: acc.flooding_frames_per_mote, frames_ratio: acc.frames_ratio,
        target: "<= 60 s and <= 0.3x flooding",
        paced_flooding: { params: PACED_FLOOD, coverage_time_s: paced.coverage_time_s, frames_per_mote: paced.frames_per_mote },
        paced_frames_ratio: paced.frames_per_mote ? round((acc.frames_per_mote as number) / paced.frames_per_mote, 3) : null,
      } : null,
      imin_sweep_400_grid_20pct_1kb: iminSweep,
      reference: { source: "Levis et al., NSDI 2004, section 5.2 (TOSSIM)", motes: 400, small_capsule_coverage_s: [16, 70] },
    };
    const tbl = table(["motes", "topology", "loss", "capsule B", "coverage s", "frames/mote", "flooding s", "flooding frames/mote", "ratio"], rows);
    const notes = [
      "",
      `Trickle Imin ${DEFAULT_PARAMS.iminMs} ms, Imax ${DEFAULT_PARAMS.imaxMs / 1000} s, k ${DEFAULT_PARAMS.k}; capsule injected at the corner mote at ${INJECT_MS / 1000} s; coverage s: after the injection; ${result.statistic} (${seeds.join(", ")}).`,
      `Flooding paced to avoid collisions (relay gap ${PACED_FLOOD.gapMs} ms, jitter ${PACED_FLOOD.jitterMs} ms, rounds every ${PACED_FLOOD.roundMs! / 1000} s), ${accMotes} grid, 20 %, 1 KB: ${paced.coverage_time_s ?? `>${MAX_SIM_S}`} s, ${paced.frames_per_mote} frames/mote.`,
      ...(iminSweep.length ? [`Trickle Imin, 400 grid, 20 %, 1 KB: ${iminSweep.map((x) => `${x.imin_ms} ms ${x.coverage_time_s} s / ${x.frames_per_mote} frames`).join("; ")}.`] : []),
      "Published (Levis et al., NSDI 2004, §5.2): 400 motes, a small capsule covers the network in 16 s to 70 s.",
      `Wall time ${result.wall_s} s.`,
    ];
    return { result, table: tbl + notes.join("\n") };
  },
});
