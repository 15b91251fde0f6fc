/**
 * The network simulator: many motes, each running the same capsule in its
 * own VM, interleaved in simulated time by one discrete-event queue, with
 * the radio medium of radio.ts and the networked TerraNet/TerraGrp
 * components of components/terranet and components/terragrp.
 *
 * Time: the queue is in µs; a mote's VM sees whole milliseconds since its
 * own boot (so getTime() and timers behave as in `terra run`, and a rebooted
 * mote starts again from 0). Each mote follows the order of work of
 * docs/vm.md through the Vm's own scheduling (boot, enqueue, runPending,
 * nextDeadline, advanceTo): its next timer deadline is an event in the
 * queue, an input arriving at time t (a frame, a protocol result) is handled
 * at ⌊t⌋ ms after anything due earlier, and a timer due in the same
 * millisecond as an input fires first.
 *
 * Determinism: events at the same µs run in the order they were scheduled;
 * every random choice comes from streams seeded by `seed` (rng.ts); so the
 * same inputs and seed give the same run and the same trace, byte for byte.
 */
import type { Configuration, InputEvent } from "../../compiler/config";
import type { RecordType } from "../../compiler/types";
import { Vm, type VmHost } from "../../vm/engine";
import { ISA } from "../../vm/isa";
import type { VerifiedCapsule } from "../../vm/verify";
import { decodeRecord } from "../host";
import { Collection } from "../terragrp/collect";
import { GroupServices } from "../terragrp/grp";
import { LocalOps, TerraNetRadio } from "../terranet/net";
import { AM, type BaseStationMessage, N_TIMERS, type SimContext, TIMER } from "./context";
import { DISS_INJECT, DISS_TIMER, type DisseminationOptions, SimDissemination } from "./dissemination";
import { FRAME_ADV, FRAME_DATA, FRAME_FLOOD, FRAME_REQ } from "../dissemination/frames";
import { EventQueue } from "./events";
import { PROTO_ACK, Radio, type RadioClient } from "./radio";
import { Purpose, Rng, RngBank, streamSeed } from "./rng";
import type { ChurnAction } from "./schedule";
import { CH, Sensors, type SensorSpec } from "./sensors";
import type { Topology } from "./topology";

/** Simulator event kinds besides the radio's (radio.ts EV: 1..3) and dissemination's (dissemination.ts: 9, 10). */
const WAKE = 0, TIMER_EV = 6, BOOT = 7, CHURN = 8;
/** Dissemination frames travel with their dispatch byte as active-message type. */
const DISS_NAMES: Record<number, string> = { [FRAME_ADV]: "diss_adv", [FRAME_REQ]: "diss_req", [FRAME_DATA]: "diss_data", [FRAME_FLOOD]: "diss_flood" };

/** Output and function handlers, resolved once per configuration by name. */
const enum O {
  NONE, LEDS, LED0, LED1, LED2, REQ_TEMP, REQ_PHOTO, REQ_VOLTS, REQ_MIC, SET_PORT_A, SET_PORT_B, CFG_PORT_A, CFG_PORT_B,
  REQ_PORT_A, REQ_PORT_B, CFG_INT_A, CFG_INT_B, BEEP, REQ_CUSTOM_A, REQ_CUSTOM, SEND, SEND_ACK, SEND_BS, SEND_GR, AGGREG,
}
const OUTPUT_NAMES: Record<string, O> = {
  LEDS: O.LEDS, LED0: O.LED0, LED1: O.LED1, LED2: O.LED2, REQ_TEMP: O.REQ_TEMP, REQ_PHOTO: O.REQ_PHOTO, REQ_VOLTS: O.REQ_VOLTS,
  REQ_MIC: O.REQ_MIC, SET_PORT_A: O.SET_PORT_A, SET_PORT_B: O.SET_PORT_B, CFG_PORT_A: O.CFG_PORT_A, CFG_PORT_B: O.CFG_PORT_B,
  REQ_PORT_A: O.REQ_PORT_A, REQ_PORT_B: O.REQ_PORT_B, CFG_INT_A: O.CFG_INT_A, CFG_INT_B: O.CFG_INT_B, BEEP: O.BEEP,
  REQ_CUSTOM_A: O.REQ_CUSTOM_A, REQ_CUSTOM: O.REQ_CUSTOM, SEND: O.SEND, SEND_ACK: O.SEND_ACK, SEND_BS: O.SEND_BS,
  SEND_GR: O.SEND_GR, AGGREG: O.AGGREG,
};
const enum F {
  NONE, GET_NODE_ID, RANDOM, GET_MEM, GET_TIME, SET_RF_POWER, STAT1, Q_PUT, Q_GET, Q_SIZE, Q_CLEAR, GROUP_INIT, AGGREG_INIT, GET_PARENT,
}
const FUNCTION_NAMES: Record<string, F> = {
  getNodeId: F.GET_NODE_ID, random: F.RANDOM, getMem: F.GET_MEM, getTime: F.GET_TIME, setRFPower: F.SET_RF_POWER, stat1: F.STAT1,
  qPut: F.Q_PUT, qGet: F.Q_GET, qSize: F.Q_SIZE, qClear: F.Q_CLEAR, groupInit: F.GROUP_INIT, aggregInit: F.AGGREG_INIT, getParent: F.GET_PARENT,
};

/** Reactions and async slices one mote may run at one wake-up before it is stopped as stuck (vm/driver.ts StallError). */
const MAX_SLICES = 1_000_000;

export interface SimOptions {
  capsule: VerifiedCapsule;
  cfg: Configuration;
  topology: Topology;
  sensors: SensorSpec;
  seed: number;
  /** Node id of the base station (default 1, else the lowest id). */
  base?: number;
  /** Motes boot at a random whole ms in [0, bootJitterMs) (default 1000; 0: all at once). */
  bootJitterMs?: number;
  churn?: ChurnAction[];
  /** Receives one JSON line per event when set. */
  trace?: (line: string) => void;
  /** VM input queue entries (default: the VM's default, 8). */
  queueCapacity?: number;
  /**
   * Capsule dissemination (dissemination.ts): every mote runs the protocol,
   * keeps a store across reboots and runs the program its store holds
   * (`initial` at the start; `capsule` must be its verified form).
   */
  dissemination?: DisseminationOptions;
}

export interface RuntimeError {
  t_ms: number;
  node: number;
  code: number;
  pc: number;
}

export interface NodeReport {
  id: number;
  index: number;
  up: boolean;
  halted: boolean;
  boots: number;
  leds: number;
  outputs: Record<string, number>;
  reactions: number;
  instructions: number;
  max_reaction_instructions: number;
  queue_overflows: number;
  errors: number;
  frames_sent: number;
  frames_received: number;
  parent: number | null;
  hops: number | null;
  fault?: string;
  /** With dissemination: the installed program version (0: none or off), when the followed deployment was installed (ms), frames sent. */
  version?: number;
  installed_ms?: number | null;
  diss_frames?: number;
}

/**
 * The host of every mote's VM: a VM only calls its host while the simulator
 * runs that mote (boot or runMote, which set `active`), so one object serves
 * all motes (no per-mote object, one memory access less per callback).
 */
class SharedHost implements VmHost {
  constructor(private readonly sim: Simulator) {}

  output(id: number, value: number | Uint8Array): void {
    this.sim.output(this.sim.active, id, value);
  }

  call(id: number, args: Int32Array): number {
    return this.sim.call(this.sim.active, id, args);
  }

  error(code: number, pc: number): void {
    this.sim.vmError(this.sim.active, code, pc);
  }
}

export class Simulator implements SimContext, RadioClient {
  readonly cfg: Configuration;
  readonly capsule: VerifiedCapsule;
  readonly topo: Topology;
  readonly n: number;
  readonly ids: Int32Array;
  readonly base: number;
  readonly queue = new EventQueue(4096);
  readonly radio: Radio;
  readonly rng: RngBank;
  readonly sensors: Sensors;
  readonly local: LocalOps;
  readonly net: TerraNetRadio | null;
  readonly grp: GroupServices | null;
  readonly collect: Collection | null;
  /** Capsule dissemination, when enabled. */
  readonly diss: SimDissemination | null;
  /** Simulated time (µs) of the event being handled. */
  now = 0;
  readonly tracing: boolean;
  readonly baseLog: BaseStationMessage[] = [];
  readonly runtimeErrors: RuntimeError[] = [];
  /** Total events handled. */
  events = 0;

  private readonly vms: (Vm | null)[];
  private readonly host: SharedHost;
  /** Per mote, interleaved (what a wake-up reads): [4i] time of its live wake-up event (µs, Infinity: none), [4i+1] boot time (ms), [4i+2] stuck (1/0). */
  private readonly mt: Float64Array;
  private readonly timerGen: Uint32Array;
  private readonly dirty: Int32Array;
  private nDirty = 0;
  private readonly isDirty: Uint8Array;
  /** The mote whose VM is running (its host callbacks are for it), or -1. */
  active = -1;
  // accumulated stats of VMs that were stopped or rebooted
  private readonly accReactions: Float64Array;
  private readonly accInstructions: Float64Array;
  private readonly accOverflows: Float64Array;
  private readonly accErrors: Float64Array;
  private readonly maxReaction: Uint32Array;
  readonly boots: Uint16Array;
  private readonly faults = new Map<number, string>();
  private readonly outKind = new Uint8Array(256);
  private readonly outIndex = new Int16Array(256).fill(-1);
  private readonly outNames: string[] = [];
  private readonly outCounts: Uint32Array;
  private readonly funcKind = new Uint8Array(256);
  private readonly inputById: (InputEvent | undefined)[] = [];
  private readonly outputRec: (RecordType | null | undefined)[] = [];
  private readonly churn: ChurnAction[];
  private readonly traceSink: ((line: string) => void) | undefined;
  private readonly queueCapacity: number | undefined;
  private readonly scriptSeeds: (i: number) => number;

  constructor(opts: SimOptions) {
    this.cfg = opts.cfg;
    this.capsule = opts.capsule;
    this.topo = opts.topology;
    const n = (this.n = this.topo.n);
    this.ids = this.topo.ids;
    const baseId = opts.base ?? (this.topo.indexOf.has(1) ? 1 : this.ids[0]);
    const b = this.topo.indexOf.get(baseId);
    if (b === undefined) throw new RangeError(`base station ${baseId} is not a node of the topology`);
    this.base = b;
    this.traceSink = opts.trace;
    this.tracing = !!opts.trace;
    this.queueCapacity = opts.queueCapacity;
    this.radio = new Radio(this.topo, this.queue, opts.seed);
    this.radio.client = this;
    if (this.tracing) this.observeRadio();
    this.rng = new RngBank(n, opts.seed, Purpose.PROTOCOL);
    this.sensors = new Sensors(opts.sensors, n, this.ids, opts.seed);
    this.scriptSeeds = (i) => streamSeed(opts.seed, Purpose.SCRIPT_RANDOM, this.ids[i]);
    this.local = new LocalOps(this, opts.cfg, this.scriptSeeds);
    const radioMsg = opts.cfg.records.get("radioMsg");
    const hasOut = (s: string) => opts.cfg.outputs.has(s);
    this.net = radioMsg && (hasOut("SEND") || hasOut("SEND_ACK") || opts.cfg.functions.has("qPut")) ? new TerraNetRadio(this, opts.cfg, radioMsg) : null;
    const msgBS = opts.cfg.records.get("msgBS_t");
    this.collect = hasOut("SEND_BS") ? new Collection(this, msgBS?.size ?? 17) : null;
    this.grp = opts.cfg.functions.has("groupInit") || hasOut("SEND_GR") || hasOut("AGGREG") ? new GroupServices(this, opts.cfg, this.local, this.collect) : null;
    this.diss = opts.dissemination ? new SimDissemination(this, opts.dissemination, opts.seed) : null;

    // dispatch tables; outputs are counted per mote only for those the capsule emits (any, when new programs may arrive)
    const emitted = this.diss ? null : emittedOutputs(opts.capsule);
    for (const o of opts.cfg.outputs.values()) {
      this.outKind[o.id] = OUTPUT_NAMES[o.name] ?? O.NONE;
      this.outputRec[o.id] = o.arg.kind === "record" ? o.arg.rec : o.arg.kind === "void" ? null : undefined;
      if (emitted && !emitted.has(o.id)) continue;
      this.outIndex[o.id] = this.outNames.length;
      this.outNames.push(o.name);
    }
    for (const f of opts.cfg.functions.values()) this.funcKind[f.id] = FUNCTION_NAMES[f.name] ?? F.NONE;
    for (const e of opts.cfg.inputs.values()) {
      if (e.anyId !== null) this.inputById[e.anyId] = e;
      if (e.filteredId !== null) this.inputById[e.filteredId] = e;
    }
    this.outCounts = new Uint32Array(n * Math.max(1, this.outNames.length));

    this.vms = new Array<Vm | null>(n).fill(null);
    this.host = new SharedHost(this);
    this.mt = new Float64Array(n * 4);
    for (let i = 0; i < n; i++) this.mt[4 * i] = Infinity;
    this.timerGen = new Uint32Array(n * N_TIMERS);
    this.dirty = new Int32Array(n);
    this.isDirty = new Uint8Array(n);
    this.accReactions = new Float64Array(n);
    this.accInstructions = new Float64Array(n);
    this.accOverflows = new Float64Array(n);
    this.accErrors = new Float64Array(n);
    this.maxReaction = new Uint32Array(n);
    this.boots = new Uint16Array(n);

    // boots: every mote present at the start, at a random ms of the jitter window
    this.churn = [...(opts.churn ?? [])].sort((a, b) => a.atMs - b.atMs || a.line - b.line);
    const absent = new Set<number>();
    const firstAction = new Map<number, ChurnAction>();
    for (const a of this.churn) if (!firstAction.has(a.node)) firstAction.set(a.node, a);
    for (const [id, a] of firstAction) if (a.action === "add") absent.add(id);
    const jitter = opts.bootJitterMs ?? 1000;
    const bootRng = new Rng(streamSeed(opts.seed, Purpose.BOOT));
    for (let i = 0; i < n; i++) {
      const at = jitter > 0 ? bootRng.int(jitter) : 0;
      if (!absent.has(this.ids[i])) this.queue.push(at * 1000, BOOT, i, 0, 0);
    }
    this.churn.forEach((a, k) => {
      if (!this.topo.indexOf.has(a.node)) throw new RangeError(`${a.file}:${a.line}: node ${a.node} is not in the topology`);
      this.queue.push(a.atMs * 1000, CHURN, this.topo.indexOf.get(a.node)!, k, 0);
    });
  }

  // ---- SimContext ----------------------------------------------------------------

  vm(i: number): Vm | null {
    return this.vms[i];
  }

  up(i: number): boolean {
    return this.radio.alive[i] === 1;
  }

  localMs(i: number): number {
    return Math.floor(this.now / 1000) - this.mt[4 * i + 1];
  }

  raise(i: number, id: number, aux: number, data: number | Uint8Array): void {
    if (id < 0) return;
    const vm = this.vms[i];
    if (!vm || vm.halted) return;
    if (this.tracing) this.traceInput(i, id, aux, data);
    vm.enqueue(id, aux, data);
    if (i !== this.active && !this.isDirty[i]) {
      this.isDirty[i] = 1;
      this.dirty[this.nDirty++] = i;
    }
  }

  sensor(i: number, ch: number): number {
    return this.sensors.read(i, ch, Math.floor(this.now / 1000));
  }

  setTimer(i: number, timer: number, delayUs: number): void {
    const k = i * N_TIMERS + timer;
    const gen = (this.timerGen[k] = (this.timerGen[k] + 1) & 0x0fffffff);
    this.queue.push(this.now + delayUs, TIMER_EV, i, timer | (gen << 3), this.radio.epoch[i]);
  }

  cancelTimer(i: number, timer: number): void {
    const k = i * N_TIMERS + timer;
    this.timerGen[k] = (this.timerGen[k] + 1) & 0x0fffffff;
  }

  baseStation(m: BaseStationMessage): void {
    this.baseLog.push(m);
    if (this.tracing) {
      const rec = this.cfg.records.get(m.via === "SEND_BS" ? "msgBS_t" : "radioMsg");
      this.emitTrace(this.base, "bs", { via: m.via, origin: m.origin, hops: m.hops, msg: rec ? decodeRecord(rec, m.bytes) : Array.from(m.bytes) });
    }
  }

  traceEvent(i: number, kind: string, data: Record<string, unknown>): void {
    this.emitTrace(i, kind, data);
  }

  // ---- VM host ---------------------------------------------------------------------

  output(i: number, id: number, v: number | Uint8Array): void {
    const oi = this.outIndex[id];
    if (oi >= 0) this.outCounts[i * this.outNames.length + oi]++;
    if (this.tracing) this.traceOutput(i, id, v);
    const L = this.local;
    switch (this.outKind[id] as O) {
      case O.LEDS: L.leds[i] = (v as number) & 7; return;
      case O.LED0: L.led(i, 0, v as number); return;
      case O.LED1: L.led(i, 1, v as number); return;
      case O.LED2: L.led(i, 2, v as number); return;
      case O.REQ_TEMP: L.request(i, CH.TEMP); return;
      case O.REQ_PHOTO: L.request(i, CH.PHOTO); return;
      case O.REQ_VOLTS: L.request(i, CH.VOLTS); return;
      case O.REQ_MIC: L.request(i, CH.MIC); return;
      case O.SET_PORT_A: L.setPort(i, 0, v as number); return;
      case O.SET_PORT_B: L.setPort(i, 1, v as number); return;
      case O.CFG_PORT_A: L.cfgPort(i, 0, v as number); return;
      case O.CFG_PORT_B: L.cfgPort(i, 1, v as number); return;
      case O.REQ_PORT_A: L.reqPort(i, 0); return;
      case O.REQ_PORT_B: L.reqPort(i, 1); return;
      case O.CFG_INT_A: L.cfgInt(i, 0, v as number); return;
      case O.CFG_INT_B: L.cfgInt(i, 1, v as number); return;
      case O.BEEP: L.beep[i] = v as number; return;
      case O.REQ_CUSTOM_A: L.customA(i, v as number); return;
      case O.REQ_CUSTOM: L.custom(i); return;
      case O.SEND: this.net?.send(i, v as Uint8Array, false); return;
      case O.SEND_ACK: this.net?.send(i, v as Uint8Array, true); return;
      case O.SEND_BS: this.grp?.sendBS(i, v as Uint8Array); return;
      case O.SEND_GR: this.grp?.sendGR(i, v as Uint8Array); return;
      case O.AGGREG: this.grp?.aggreg(i, v as Uint8Array); return;
      default: return;
    }
  }

  call(i: number, id: number, a: Int32Array): number {
    switch (this.funcKind[id] as F) {
      case F.GET_NODE_ID: return this.ids[i];
      case F.RANDOM: return this.local.random(i);
      case F.GET_MEM: return this.local.getMem(i, a[0]);
      case F.GET_TIME: return this.vms[i]!.now | 0;
      case F.SET_RF_POWER: return 0;
      case F.STAT1: return this.local.stat(i, a[0], a[1], a[2]);
      case F.Q_PUT: return this.net ? this.net.qPut(i, a[0]) : 1;
      case F.Q_GET: return this.net ? this.net.qGet(i, a[0]) : 1;
      case F.Q_SIZE: return this.net ? this.net.qCount[i] : 0;
      case F.Q_CLEAR: return this.net ? this.net.qClear(i) : 1;
      case F.GROUP_INIT: return this.grp ? this.grp.groupInit(i, a) : 1;
      case F.AGGREG_INIT: return this.grp ? this.grp.aggregInit(i, a) : 1;
      case F.GET_PARENT: return this.grp ? this.grp.getParent(i) : 0;
      default: return 1; // FAIL: not implemented by this component set
    }
  }

  vmError(i: number, code: number, pc: number): void {
    const vm = this.vms[i];
    this.runtimeErrors.push({ t_ms: this.now / 1000, node: this.ids[i], code, pc });
    if (this.tracing) this.emitTrace(i, "error", { code, pc, at_ms: vm ? vm.now : 0 });
  }

  // ---- radio client ----------------------------------------------------------------

  receive(node: number, f: number): void {
    switch (this.radio.fProto[f]) {
      case AM.USRMSG: this.net?.receive(node, f); return;
      case AM.SENDGR: this.grp?.receive(node, f); return;
      case AM.CTP_BEACON:
      case AM.CTP_DATA: this.collect?.receive(node, f); return;
      case FRAME_ADV:
      case FRAME_REQ:
      case FRAME_DATA:
      case FRAME_FLOOD: this.diss?.receive(node, f); return;
    }
  }

  sendDone(node: number, f: number, error: number, acked: boolean): void {
    switch (this.radio.fProto[f]) {
      case AM.USRMSG: this.net?.sendDone(node, f, error, acked); return;
      case AM.CTP_DATA: this.collect?.sendDone(node, f, acked); return;
    }
  }

  // ---- motes -----------------------------------------------------------------------

  private bootMote(i: number): void {
    if (!this.radio.alive[i]) this.radio.setAlive(i, true);
    this.boots[i]++;
    this.local.reset(i);
    this.net?.reset(i);
    this.grp?.reset(i);
    this.collect?.boot(i);
    // with dissemination the mote runs what its store holds (read by the protocol at power-on)
    this.startProgram(i, this.diss ? this.diss.boot(i) : this.capsule, "boot");
  }

  /**
   * Replace mote i's program now (an install by dissemination): the old VM
   * stops, the script's services forget it (LEDs, ports, send queue, groups),
   * and the new program boots fresh; the radio and the collection tree go on.
   */
  installProgram(i: number, capsule: VerifiedCapsule | undefined): void {
    if (!this.radio.alive[i]) return;
    const old = this.vms[i];
    if (old) {
      this.accumulate(i, old);
      this.vms[i] = null;
    }
    this.local.reset(i);
    this.net?.reset(i);
    if (this.grp) {
      this.grp.reset(i);
      for (const t of [TIMER.AGG, TIMER.ELECTION, TIMER.RENEW, TIMER.LEADER_Q]) this.cancelTimer(i, t);
    }
    this.startProgram(i, capsule, "install");
  }

  /** Start a VM on `capsule` at mote i, its logical time 0 now (no program: the mote runs nothing). */
  private startProgram(i: number, capsule: VerifiedCapsule | undefined, why: "boot" | "install"): void {
    this.mt[4 * i + 1] = Math.floor(this.now / 1000);
    this.mt[4 * i] = Infinity;
    this.mt[4 * i + 2] = 0;
    this.faults.delete(i);
    if (this.tracing) this.emitTrace(i, why === "boot" ? "boot" : "program", capsule ? {} : { empty: true });
    if (!capsule) {
      this.vms[i] = null;
      return;
    }
    const vm = new Vm(capsule, this.host, this.queueCapacity === undefined ? undefined : { queueCapacity: this.queueCapacity });
    this.vms[i] = vm;
    this.active = i;
    try {
      vm.boot();
    } catch (e) {
      this.fault(i, e);
    }
    this.active = -1;
    this.runMote(i);
  }

  private stopMote(i: number, why: "stop" | "reboot"): void {
    const vm = this.vms[i];
    if (vm) {
      this.accumulate(i, vm);
      this.vms[i] = null;
    }
    this.collect?.stop(i);
    this.diss?.stop(i);
    if (this.radio.alive[i]) this.radio.setAlive(i, false);
    this.mt[4 * i] = Infinity;
    if (this.tracing && why === "stop") this.emitTrace(i, "stop", {});
  }

  private accumulate(i: number, vm: Vm): void {
    const s = vm.stats;
    this.accReactions[i] += s.reactions;
    this.accInstructions[i] += s.instructions;
    this.accOverflows[i] += s.queueOverflows;
    this.accErrors[i] += s.errors;
    if (s.maxReactionInstructions > this.maxReaction[i]) this.maxReaction[i] = s.maxReactionInstructions;
  }

  private fault(i: number, e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    if (!this.faults.has(i)) this.faults.set(i, msg);
    if (this.tracing) this.emitTrace(i, "fault", { reason: msg });
  }

  /** Bring mote i to the current time and run everything due. */
  private runMote(i: number): void {
    const vm = this.vms[i];
    const mt = this.mt, m = 4 * i;
    if (!vm || vm.halted || mt[m + 2]) return;
    const local = Math.floor(this.now / 1000) - mt[m + 1];
    this.active = i;
    try {
      if (local > vm.now) vm.advanceTo(local);
      const k = vm.runPending(MAX_SLICES);
      if (k >= MAX_SLICES && !vm.halted) {
        mt[m + 2] = 1;
        this.fault(i, new Error(`more than ${MAX_SLICES} reactions and async slices at logical time ${vm.now} ms: the mote is never idle (an async block that does not finish, or a loop awaiting an input that a component raises at once)`));
      }
    } catch (e) {
      this.fault(i, e);
    }
    this.active = -1;
    if (vm.halted || mt[m + 2]) return;
    const nd = vm.nextDeadline();
    if (nd !== undefined) {
      const t = (nd + mt[m + 1]) * 1000;
      if (t < mt[m]) {
        mt[m] = t;
        this.queue.push(t, WAKE, i, 0, 0);
      }
    }
  }

  private flushDirty(): void {
    while (this.nDirty > 0) {
      const i = this.dirty[--this.nDirty];
      this.isDirty[i] = 0;
      this.runMote(i);
    }
  }

  // ---- the event loop --------------------------------------------------------------

  /** Handle every event before `untilMs` (exclusive); afterwards `now` is untilMs (in µs). */
  runUntil(untilMs: number): void {
    const q = this.queue, radio = this.radio;
    const until = untilMs * 1000;
    while (q.length > 0 && q.peekTime() < until) {
      const id = q.pop();
      const t = q.lastTime;
      const kind = q.kind[id], i = q.node[id], arg = q.arg[id], epoch = q.epoch[id];
      this.now = t;
      this.events++;
      switch (kind) {
        case WAKE:
          // live only if it is the mote's current wake-up (stopping or rebooting a mote resets it)
          if (t !== this.mt[4 * i]) break;
          this.mt[4 * i] = Infinity;
          this.runMote(i);
          break;
        case TIMER_EV: {
          if (epoch !== radio.epoch[i]) break;
          const timer = arg & 7;
          if (this.timerGen[i * N_TIMERS + timer] !== arg >>> 3) break;
          this.protocolTimer(i, timer);
          break;
        }
        case BOOT:
          this.bootMote(i);
          break;
        case CHURN:
          this.churnAction(i, this.churn[arg]);
          break;
        case DISS_TIMER:
          this.diss!.timer(arg, epoch === radio.epoch[i]);
          break;
        case DISS_INJECT:
          this.diss!.injection(arg);
          break;
        default:
          radio.handle(kind, i, arg, epoch, t);
      }
      if (this.nDirty > 0) this.flushDirty();
    }
    if (this.now < until) this.now = until;
  }

  private protocolTimer(i: number, timer: number): void {
    switch (timer) {
      case TIMER.CTP_BEACON: this.collect?.beaconTimer(i); return;
      case TIMER.CTP_SEND: this.collect?.retryTimer(i); return;
      case TIMER.CTP_HOLD: this.collect?.holdTimer(i); return;
      case TIMER.AGG: this.grp?.aggTimer(i); return;
      case TIMER.ELECTION: this.grp?.electionTimer(i); return;
      case TIMER.RENEW: this.grp?.renewTimer(i); return;
      case TIMER.LEADER_Q: this.grp?.leaderQTimer(i); return;
    }
  }

  /** Power mote i on or off now (as churn's start and stop; between events, e.g. from a test or a driver). */
  power(i: number, on: boolean): void {
    const up = this.radio.alive[i] === 1;
    if (on && !up) this.bootMote(i);
    else if (!on && up) this.stopMote(i, "stop");
    if (this.nDirty > 0) this.flushDirty();
  }

  /** Schedule one more churn action (at its time, or now if that has passed). */
  addChurn(a: ChurnAction): void {
    const i = this.topo.indexOf.get(a.node);
    if (i === undefined) throw new RangeError(`${a.file}:${a.line}: node ${a.node} is not in the topology`);
    this.churn.push(a);
    this.queue.push(Math.max(a.atMs * 1000, this.now), CHURN, i, this.churn.length - 1, 0);
  }

  private churnAction(i: number, a: ChurnAction): void {
    const up = this.radio.alive[i] === 1;
    if (this.tracing) this.emitTrace(i, "churn", { action: a.action });
    switch (a.action) {
      case "stop":
        if (up) this.stopMote(i, "stop");
        break;
      case "start":
      case "add":
        if (!up) this.bootMote(i);
        break;
      case "reboot":
        if (up) this.stopMote(i, "reboot");
        this.bootMote(i);
        break;
    }
  }

  // ---- trace -----------------------------------------------------------------------

  private emitTrace(i: number, kind: string, data: Record<string, unknown>): void {
    if (!this.traceSink) return;
    this.traceSink(JSON.stringify({ t: this.now / 1000, node: i >= 0 ? this.ids[i] : null, kind, ...data }));
  }

  private traceOutput(i: number, id: number, v: number | Uint8Array): void {
    const rec = this.outputRec[id];
    const value = rec === null ? null : typeof v === "number" ? v : rec ? decodeRecord(rec, v) : Array.from(v);
    this.emitTrace(i, "out", { event: this.outputName(id), value });
  }

  private outputName(id: number): string {
    for (const o of this.cfg.outputs.values()) if (o.id === id) return o.name;
    return `output#${id}`;
  }

  private traceInput(i: number, id: number, aux: number, data: number | Uint8Array): void {
    const e = this.inputById[id];
    const t = e?.type;
    const value = !t || t.kind === "void" ? null : typeof data === "number" ? data : t.kind === "record" ? decodeRecord(t.rec, data) : Array.from(data);
    this.emitTrace(i, "in", { event: e?.name ?? `input#${id}`, aux, value });
  }

  private observeRadio(): void {
    const r = this.radio;
    const name = (p: number) => (p === AM.USRMSG ? "radioMsg" : p === AM.SENDGR ? "group" : p === AM.CTP_BEACON ? "ctp_beacon" : p === AM.CTP_DATA ? "ctp_data" : p === PROTO_ACK ? "ack" : DISS_NAMES[p] ?? `am${p}`);
    const dst = (f: number) => (r.fDst[f] === 0xffff ? "all" : r.fDst[f]);
    r.observer = {
      tx: (s, f) => this.emitTrace(s, "tx", { proto: name(r.fProto[f]), dst: dst(f), bytes: r.fLen[f], dsn: r.fDsn[f] }),
      rx: (n, f) => this.emitTrace(n, "rx", { proto: name(r.fProto[f]), src: this.ids[r.fSrc[f]], dst: dst(f), dsn: r.fDsn[f] }),
      drop: (n, f, _t, why) => this.emitTrace(n, why === "loss" ? "lost" : "collision", { proto: name(r.fProto[f]), src: this.ids[r.fSrc[f]] }),
    };
  }

  // ---- reports ---------------------------------------------------------------------

  /** Per-mote report (VM stats include earlier incarnations of rebooted motes). */
  nodeReport(i: number): NodeReport {
    const vm = this.vms[i];
    const s = vm?.stats;
    const outputs: Record<string, number> = {};
    const m = this.outNames.length;
    for (let k = 0; k < m; k++) {
      const c = this.outCounts[i * m + k];
      if (c) outputs[this.outNames[k]] = c;
    }
    let hops: number | null = null;
    const parent = this.collect ? this.collect.parent(i) : -1;
    if (this.collect) {
      if (i === this.base) hops = 0;
      else {
        let h = 0, j = i;
        while (j >= 0 && j !== this.base && h <= this.n) {
          j = this.collect.parent(j);
          h++;
        }
        hops = j === this.base ? h : null;
      }
    }
    const r: NodeReport = {
      id: this.ids[i],
      index: i,
      up: this.radio.alive[i] === 1,
      halted: !!vm?.halted,
      boots: this.boots[i],
      leds: this.local.leds[i],
      outputs,
      reactions: this.accReactions[i] + (s?.reactions ?? 0),
      instructions: this.accInstructions[i] + (s?.instructions ?? 0),
      max_reaction_instructions: Math.max(this.maxReaction[i], s?.maxReactionInstructions ?? 0),
      queue_overflows: this.accOverflows[i] + (s?.queueOverflows ?? 0),
      errors: this.accErrors[i] + (s?.errors ?? 0),
      frames_sent: this.radio.sentBy[i],
      frames_received: this.radio.recvBy[i],
      parent: this.collect ? (parent >= 0 ? this.ids[parent] : null) : null,
      hops,
    };
    const fault = this.faults.get(i) ?? vm?.fault;
    if (fault) r.fault = fault;
    if (this.diss) {
      r.version = this.diss.version(i);
      r.installed_ms = this.diss.installedAt(i);
      r.diss_frames = this.diss.frames(i).total;
    }
    return r;
  }

  /** Total VM instructions executed so far (all motes, all incarnations). */
  totalInstructions(): number {
    let t = 0;
    for (let i = 0; i < this.n; i++) t += this.accInstructions[i] + (this.vms[i]?.stats.instructions ?? 0);
    return t;
  }

  totalReactions(): number {
    let t = 0;
    for (let i = 0; i < this.n; i++) t += this.accReactions[i] + (this.vms[i]?.stats.reactions ?? 0);
    return t;
  }

  /** Simulated time of the next event (ms), or Infinity. */
  nextEventMs(): number {
    return this.queue.peekTime() / 1000;
  }
}

const OUTPUT_OPS: ReadonlySet<number> = new Set(ISA.filter((x) => x.name === "out" || x.name === "outv" || x.name === "outk" || x.name === "outr").map((x) => x.op));

/** Output event ids the capsule's code emits (operand 1 of out, outv, outk, outr). */
function emittedOutputs(c: VerifiedCapsule): Set<number> {
  const ids = new Set<number>();
  for (let pc = 0; pc < c.code.length; pc++) if (c.instrStarts[pc] && OUTPUT_OPS.has(c.code[pc])) ids.add(c.code[pc + 1]);
  return ids;
}
