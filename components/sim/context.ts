/**
 * What the networked components (components/terranet/net.ts,
 * components/terragrp/{grp,collect}.ts) see of the simulator: motes by
 * index (0..n-1; `ids[i]` is the node id a script gets from getNodeId), the
 * radio, inputs to a mote's VM, sensors, per-mote protocol timers and the
 * base station's log.
 */
import type { Configuration } from "../../compiler/config";
import type { Vm } from "../../vm/engine";
import type { Radio } from "./radio";
import type { RngBank } from "./rng";
import type { Topology } from "./topology";

/** Protocol timers of a mote (one of each per mote; setting one again replaces it). */
export const TIMER = { CTP_BEACON: 0, CTP_SEND: 1, AGG: 2, ELECTION: 3, RENEW: 4, LEADER_Q: 5, CTP_HOLD: 6 } as const;
export const N_TIMERS = 7;

/** Radio protocols (TinyOS active-message types). */
export const AM = { USRMSG: 145, SENDGR: 140, CTP_DATA: 0x71, CTP_BEACON: 0x70 } as const;

export interface BaseStationMessage {
  /** Simulated time (ms) of the receipt. */
  t_ms: number;
  via: "SEND_BS" | "RECEIVE";
  /** Node id of the mote that sent it (SEND_BS: the origin; RECEIVE: radioMsg.source is in the data). */
  origin: number;
  /** Hops travelled (SEND_BS) or 1. */
  hops: number;
  bytes: Uint8Array;
}

export interface SimContext {
  readonly cfg: Configuration;
  readonly n: number;
  readonly ids: Int32Array;
  readonly topo: Topology;
  readonly radio: Radio;
  /** Index of the base station mote. */
  readonly base: number;
  /** Per-mote random streams for protocol decisions (backoffs, delays). */
  readonly rng: RngBank;
  /** Simulated time (µs) of the event being handled. */
  readonly now: number;
  vm(i: number): Vm | null;
  /** Is mote i powered on? */
  up(i: number): boolean;
  /** The VM's logical time at mote i (ms since its boot). */
  localMs(i: number): number;
  /** Queue an input occurrence for mote i's script (handled at the current time). id < 0: ignored. */
  raise(i: number, id: number, aux: number, data: number | Uint8Array): void;
  /** Sensor channel (sim/sensors.ts CH) of mote i now. */
  sensor(i: number, ch: number): number;
  setTimer(i: number, timer: number, delayUs: number): void;
  cancelTimer(i: number, timer: number): void;
  /** The base station received a message (its bytes are copied). */
  baseStation(m: BaseStationMessage): void;
  /** Trace a protocol event (only called when `tracing` is true). */
  traceEvent(i: number, kind: string, data: Record<string, unknown>): void;
  readonly tracing: boolean;
}

/** Id by which an input is raised (the unfiltered form, else the filtered one); -1 when the configuration lacks it. */
export function inputId(cfg: Configuration, name: string): number {
  const e = cfg.inputs.get(name);
  if (!e) return -1;
  return e.anyId ?? e.filteredId ?? -1;
}
