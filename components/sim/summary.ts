/**
 * What `terra sim` reports after a run: what the base station received,
 * per-node LEDs and outputs, radio statistics, collection-tree statistics,
 * reactions and VM instructions per node. One JSON-able object, and a text
 * rendering of it.
 */
import type { RecordType } from "../../compiler/types";
import { decodeRecord } from "../host";
import type { BaseStationMessage } from "./context";
import type { DissFrames, Injection } from "./dissemination";
import type { NodeReport, Simulator } from "./simulator";

export interface SimMeta {
  script: string;
  config: string;
  platform: string;
  topology: string;
  nodes: number;
  seed: number;
  duration_ms: number;
  loss: string;
  sensors: string;
  wall_ms?: number;
  /** With dissemination: which network key signs the capsules (e.g. "ephemeral, generated for this run (fingerprint ...)"). */
  key?: string;
}

/** What dissemination did during the run (only with dissemination). */
export interface DissSummary {
  protocol: string;
  auth: string;
  key: string | null;
  trickle: { imin_ms: number; imax_ms: number; k: number };
  injections: Injection[];
  /** The deployment followed: the last injection the base station accepted. */
  version: number | null;
  injected_ms: number | null;
  /** Motes the base station reaches over the radio (links of the topology). */
  reachable: number;
  /** Of those, the motes that installed the version. */
  installed: number;
  /** Motes on at the end that run the version (or newer). */
  running: number;
  /** When the last reachable mote installed it (simulated ms), and that time after the injection (s). */
  coverage_ms: number | null;
  coverage_time_s: number | null;
  /** Install time after the injection over the motes that installed it, s. */
  install_after_s: { min: number; median: number; max: number } | null;
  /** Dissemination frames from the injection until coverage (until the end when not covered). */
  frames: DissFrames | null;
  frames_per_mote: number | null;
  /** Dissemination frames over the whole run, per mote (advertisements of a steady network included). */
  frames_per_mote_run: number;
  mac_queue_drops: number;
  rejections: { total: number; by_reason: Record<string, number>; latest: { node: number; t_ms: number; reason: string; detail: string; version?: number; from?: number }[] };
}

export interface BaseReceipt {
  t_ms: number;
  via: "SEND_BS" | "RECEIVE";
  origin: number;
  hops: number;
  type: string;
  msg: Record<string, unknown>;
}

export interface SimSummary extends SimMeta {
  base: number;
  sim_speed_x?: number;
  base_station: { node: number; received: number; messages: BaseReceipt[] };
  radio: Record<string, number>;
  collection?: Record<string, number>;
  groups?: Record<string, number>;
  totals: { reactions: number; instructions: number; queue_overflows: number; runtime_errors: number; faults: number; up: number; events: number };
  dissemination?: DissSummary;
  per_node: NodeReport[];
}

const r2 = (x: number) => Math.round(x * 100) / 100;

function dissSummary(sim: Simulator, key: string | undefined): DissSummary {
  const d = sim.diss!;
  const p = d.params;
  const prog = d.progress();
  const frames = d.deploymentFrames();
  const after: number[] = [];
  const inj = d.injectedMs;
  if (prog && inj !== null) for (let i = 0; i < sim.n; i++) {
    const t = d.installedAt(i);
    if (t !== null) after.push((t - inj) / 1000);
  }
  after.sort((a, b) => a - b);
  const latest: DissSummary["rejections"]["latest"] = [];
  for (let i = 0; i < sim.n; i++) for (const r of d.rejectionsOf(i)) {
    latest.push({ node: sim.ids[i], t_ms: r.at, reason: r.reason, detail: r.detail, ...(r.version !== undefined ? { version: r.version } : {}), ...(r.from !== undefined ? { from: r.from } : {}) });
  }
  latest.sort((a, b) => a.t_ms - b.t_ms);
  return {
    protocol: d.protocol,
    auth: d.o.auth.mode,
    key: key ?? null,
    trickle: { imin_ms: p.iminMs, imax_ms: p.imaxMs, k: p.k },
    injections: d.injections,
    version: prog?.version ?? null,
    injected_ms: inj,
    reachable: prog?.reachable ?? 0,
    installed: prog?.installed ?? 0,
    running: prog ? d.covered(prog.version) : 0,
    coverage_ms: prog?.coverageMs ?? null,
    coverage_time_s: prog?.coverageMs != null && inj !== null ? r2((prog.coverageMs - inj) / 1000) : null,
    install_after_s: after.length ? { min: r2(after[0]), median: r2(after[(after.length - 1) >> 1]), max: r2(after[after.length - 1]) } : null,
    frames,
    frames_per_mote: frames ? r2(frames.total / sim.n) : null,
    frames_per_mote_run: r2(d.frames().total / sim.n),
    mac_queue_drops: d.macQueueDrops,
    rejections: { total: d.rejectionCount, by_reason: { ...d.rejectionsByReason }, latest: latest.slice(-20) },
  };
}

/** Decode a base-station message: with the script's pktype of that packet when there is exactly one, else the packet's fields. */
export function decodeBaseMessage(records: Map<string, RecordType>, m: BaseStationMessage): { type: string; msg: Record<string, unknown> } {
  const base = records.get(m.via === "SEND_BS" ? "msgBS_t" : "radioMsg");
  if (!base) return { type: "bytes", msg: { bytes: Array.from(m.bytes) } };
  const views = [...records.values()].filter((r) => r.kind === "pktype" && r.base === base);
  if (views.length !== 1) return { type: base.name, msg: decodeRecord(base, m.bytes) };
  const pk = views[0];
  const msg = decodeRecord(pk, m.bytes);
  // the payload field the pktype's own fields overlay
  for (const f of base.fields.values()) if (f.dim !== null && f.offset + f.size === base.size && pk.fields.size > base.fields.size) delete msg[f.name];
  return { type: pk.name, msg };
}

export function summarize(sim: Simulator, meta: SimMeta): SimSummary {
  const nodes: NodeReport[] = [];
  for (let i = 0; i < sim.n; i++) nodes.push(sim.nodeReport(i));
  const messages = sim.baseLog.map((m) => {
    const d = decodeBaseMessage(sim.cfg.records, m);
    return { t_ms: Math.round(m.t_ms * 1000) / 1000, via: m.via, origin: m.origin, hops: m.hops, type: d.type, msg: d.msg };
  });
  const s: SimSummary = {
    ...meta,
    base: sim.ids[sim.base],
    base_station: { node: sim.ids[sim.base], received: messages.length, messages },
    radio: { ...sim.radio.stats },
    totals: {
      reactions: nodes.reduce((a, n) => a + n.reactions, 0),
      instructions: nodes.reduce((a, n) => a + n.instructions, 0),
      queue_overflows: nodes.reduce((a, n) => a + n.queue_overflows, 0),
      runtime_errors: sim.runtimeErrors.length,
      faults: nodes.filter((n) => n.fault).length,
      up: nodes.filter((n) => n.up).length,
      events: sim.events,
    },
    per_node: nodes,
  };
  if (meta.wall_ms !== undefined && meta.wall_ms > 0) s.sim_speed_x = Math.round((meta.duration_ms / meta.wall_ms) * 10) / 10;
  if (sim.collect) {
    const routed = nodes.filter((n) => n.hops !== null && n.up);
    s.collection = {
      ...sim.collect.stats,
      routed_nodes: routed.length,
      avg_hops: routed.length ? Math.round((routed.reduce((a, n) => a + n.hops!, 0) / routed.length) * 100) / 100 : 0,
      max_hops: routed.reduce((a, n) => Math.max(a, n.hops!), 0),
    };
  }
  if (sim.grp) s.groups = { ...sim.grp.stats };
  if (sim.diss) {
    // keep the per-mote list last in the JSON
    const { per_node, ...rest } = s;
    return { ...rest, dissemination: dissSummary(sim, meta.key), per_node };
  }
  return s;
}

const fmt = (x: number) => (Number.isInteger(x) ? x.toLocaleString("en-US") : x.toFixed(2));

function stats(xs: number[]): string {
  if (!xs.length) return "-";
  const sum = xs.reduce((a, b) => a + b, 0);
  return `min ${fmt(Math.min(...xs))}, mean ${fmt(Math.round((sum / xs.length) * 10) / 10)}, max ${fmt(Math.max(...xs))}`;
}

/** Text rendering. Per-node tables are printed in full up to `maxNodeRows` motes, else summarised. */
export function formatSummary(s: SimSummary, opts: { maxMessages?: number; maxNodeRows?: number } = {}): string {
  const maxMsg = opts.maxMessages ?? 100;
  const maxRows = opts.maxNodeRows ?? 64;
  const out: string[] = [];
  const dur = s.duration_ms >= 60000 ? `${fmt(s.duration_ms / 60000)} min` : `${fmt(s.duration_ms / 1000)} s`;
  out.push(`${s.script} (${s.config}, ${s.platform}) on ${s.nodes} motes: ${s.topology}; loss ${s.loss}; sensors ${s.sensors}; seed ${s.seed}`);
  out.push(`simulated ${dur}${s.wall_ms !== undefined ? ` in ${fmt(s.wall_ms / 1000)} s (${Math.round(s.sim_speed_x ?? 0).toLocaleString("en-US")}× real time)` : ""}, ${fmt(s.totals.events)} events`);
  out.push("");
  const bs = s.base_station;
  out.push(`Base station (node ${bs.node}) received ${bs.received} message${bs.received === 1 ? "" : "s"}`);
  const show = bs.messages.length > maxMsg ? [...bs.messages.slice(0, maxMsg - 10), null, ...bs.messages.slice(-10)] : bs.messages;
  for (const m of show) {
    if (!m) {
      out.push(`  ... ${bs.messages.length - maxMsg + 10} more (the --json summary and the --trace file have all)`);
      continue;
    }
    const t = `${(m.t_ms / 1000).toFixed(3)} s`.padStart(12);
    const via = m.via === "SEND_BS" ? `SEND_BS from node ${m.origin} (${m.hops} hop${m.hops === 1 ? "" : "s"})` : `RECEIVE from node ${m.origin}`;
    out.push(`${t}  ${via}: ${m.type} ${JSON.stringify(m.msg)}`);
  }
  out.push("");
  const r = s.radio;
  out.push("Radio");
  out.push(`  frames sent ${fmt(r.frames_sent)} (${fmt(r.retransmissions)} retransmissions), acks sent ${fmt(r.acks_sent)}`);
  out.push(`  receptions ${fmt(r.receptions)}, lost to the link ${fmt(r.lost)}, collisions ${fmt(r.collisions)}, missed while sending ${fmt(r.half_duplex)}, duplicates filtered ${fmt(r.duplicates)}`);
  out.push(`  acked ${fmt(r.acked)}, not acked ${fmt(r.not_acked)}, channel access failures ${fmt(r.channel_access_failures)}, MAC queue full ${fmt(r.queue_full)}`);
  if (s.collection) {
    const c = s.collection;
    out.push("Collection tree (SEND_BS)");
    out.push(`  ${fmt(c.routed_nodes)} of ${fmt(s.totals.up)} running motes have a route (mean ${fmt(c.avg_hops)} hops, at most ${fmt(c.max_hops)}); ${fmt(c.beacons)} beacons, ${fmt(c.parent_changes)} parent changes`);
    out.push(`  delivered ${fmt(c.delivered)}, dropped: ${fmt(c.dropped_retries)} after retries, ${fmt(c.dropped_queue)} queue full, ${fmt(c.dropped_thl)} too many hops; duplicates ${fmt(c.duplicates)}, routes lost ${fmt(c.routes_lost)}, inconsistencies ${fmt(c.inconsistencies)}`);
  }
  if (s.groups) {
    const g = s.groups;
    out.push("Groups");
    out.push(`  aggregations ${fmt(g.aggregations)} (${fmt(g.aggregation_answers)} answers), group messages ${fmt(g.group_messages)} (REC_GR delivered ${fmt(g.delivered_rec_gr)}), frames forwarded ${fmt(g.forwarded)}, elections ${fmt(g.elections)}`);
  }
  if (s.dissemination) out.push("", ...formatDissemination(s.dissemination, s.nodes));
  out.push("");
  const t = s.totals;
  out.push(`Motes: ${t.up} up at the end, ${t.faults} stopped by a fault; ${fmt(t.reactions)} reactions, ${fmt(t.instructions)} VM instructions; ${t.queue_overflows} input queue overflows, ${t.runtime_errors} runtime errors`);
  if (s.per_node.length <= maxRows) {
    const d = s.dissemination;
    out.push(`  node  up  leds  reactions  instructions  sent  recv  parent  hops${d ? "  version  installed" : ""}  outputs`);
    for (const n of s.per_node) {
      const leds = `${n.leds & 4 ? "2" : "-"}${n.leds & 2 ? "1" : "-"}${n.leds & 1 ? "0" : "-"}`;
      const outs = Object.entries(n.outputs).map(([k, v]) => `${k}×${v}`).join(" ");
      const v = d ? `  ${String(n.version ?? 0).padStart(7)}  ${(n.installed_ms != null ? `${(n.installed_ms / 1000).toFixed(3)} s` : "-").padStart(9)}` : "";
      out.push(
        `  ${String(n.id).padStart(4)}  ${n.up ? "yes" : " no"}  ${leds.padStart(4)}  ${String(n.reactions).padStart(9)}  ${String(n.instructions).padStart(12)}  ${String(n.frames_sent).padStart(4)}  ${String(n.frames_received).padStart(4)}  ${String(n.parent ?? "-").padStart(6)}  ${String(n.hops ?? "-").padStart(4)}${v}  ${outs}${n.fault ? `  FAULT: ${n.fault}` : ""}${n.boots > 1 ? `  (booted ${n.boots}×)` : ""}`,
      );
    }
  } else {
    out.push(`  reactions per mote: ${stats(s.per_node.map((n) => n.reactions))}`);
    out.push(`  VM instructions per mote: ${stats(s.per_node.map((n) => n.instructions))}`);
    const ledHist = new Map<number, number>();
    for (const n of s.per_node) ledHist.set(n.leds, (ledHist.get(n.leds) ?? 0) + 1);
    out.push(`  LEDs: ${[...ledHist].sort((a, b) => a[0] - b[0]).map(([l, c]) => `${l.toString(2).padStart(3, "0")}: ${c} motes`).join(", ")}`);
    const outs = new Map<string, number>();
    for (const n of s.per_node) for (const [k, v] of Object.entries(n.outputs)) outs.set(k, (outs.get(k) ?? 0) + v);
    out.push(`  outputs: ${[...outs].map(([k, v]) => `${k}×${fmt(v)}`).join(" ")}`);
    const faulty = s.per_node.filter((n) => n.fault);
    for (const n of faulty.slice(0, 10)) out.push(`  node ${n.id}: FAULT: ${n.fault}`);
    out.push("  (per-mote figures: --json)");
  }
  return `${out.join("\n")}\n`;
}

function formatDissemination(d: DissSummary, nodes: number): string[] {
  const out: string[] = [];
  const sec = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
  out.push(`Dissemination (${d.protocol === "trickle" ? `Trickle Imin ${fmt(d.trickle.imin_ms / 1000)} s, Imax ${fmt(d.trickle.imax_ms / 1000)} s, k ${d.trickle.k}` : "naive flooding"}; ${d.auth} manifests${d.key ? `; key: ${d.key}` : ""})`);
  for (const j of d.injections) {
    const what = `version ${j.version} (${fmt(j.capsule_bytes)} B in ${j.blocks} blocks)`;
    out.push(`  ${sec(j.t_ms).padStart(10)}  ${what} injected at the base station: ${j.outcome === "refused" ? `refused: ${j.rejection!.reason}: ${j.rejection!.detail}` : j.outcome}`);
  }
  if (d.version !== null && d.injected_ms !== null) {
    const cov = d.coverage_ms !== null
      ? `full coverage at ${sec(d.coverage_ms)} (${d.coverage_time_s} s after the injection)`
      : `not every reachable mote has it (${d.reachable - d.installed} missing)`;
    out.push(`  version ${d.version}: installed by ${d.installed} of the ${d.reachable} motes the base station reaches; ${cov}; ${d.running} motes run it at the end`);
    if (d.install_after_s) out.push(`  install time after the injection: min ${d.install_after_s.min} s, median ${d.install_after_s.median} s, max ${d.install_after_s.max} s`);
    const f = d.frames!;
    const per = (x: number) => fmt(Math.round((x / nodes) * 100) / 100);
    const kinds = d.protocol === "trickle" ? `ADV ${per(f.adv)}, REQ ${per(f.req)}, DATA ${per(f.data)}` : `FLOOD ${per(f.flood)}`;
    out.push(`  frames ${d.coverage_ms !== null ? "from the injection to coverage" : "since the injection"}: ${fmt(f.total)} (${per(f.total)} per mote: ${kinds}); whole run ${fmt(d.frames_per_mote_run)} per mote; MAC queue drops ${fmt(d.mac_queue_drops)}`);
  } else if (!d.injections.length) {
    out.push(`  nothing injected; ${fmt(d.frames_per_mote_run)} frames per mote (advertisements)`);
  }
  const r = d.rejections;
  out.push(`  rejections at motes: ${r.total}${r.total ? ` (${Object.entries(r.by_reason).map(([k, v]) => `${k} ${v}`).join(", ")})` : ""}`);
  for (const x of r.latest.slice(-5)) out.push(`    ${sec(x.t_ms).padStart(10)}  node ${x.node}: ${x.reason}: ${x.detail}${x.from !== undefined ? ` (from node ${x.from})` : ""}`);
  return out;
}
