/**
 * One mote running a script against an input trace in virtual time (what
 * `terra run` does): the VM, the configuration's component set answered
 * locally (TerraNet or TerraGrp), sensor readings from the trace, and the
 * record of every output, runtime error and statistic.
 */
import type { Configuration } from "../compiler/config";
import { runRealtime, runVirtual, type TimedInput, type WallClock } from "../vm/driver";
import { Vm, type VmStats } from "../vm/engine";
import type { VerifiedCapsule } from "../vm/verify";
import { ComponentHost, type OutputRecord } from "./host";
import { installTerraGrp, standaloneGroups } from "./terragrp/index";
import { DEFAULT_READINGS, installTerraNet, type LocalState, type SensorSource, standaloneRadio } from "./terranet/index";
import type { TraceEntry } from "./trace";

/** Inputs that answer a request (REQ_TEMP -> TEMP, ...): trace entries for them set the sensor's reading. */
export const REQUESTED_INPUTS: ReadonlySet<string> = new Set(["TEMP", "PHOTO", "VOLTS", "MIC", "PORT_A", "PORT_B"]);

export const ERROR_NAMES: Readonly<Record<number, string>> = {
  10: "division by zero",
  11: "array index out of range",
  20: "track stack overflow",
  21: "watchdog: reaction too long",
};

export interface RuntimeErrorRecord {
  at_ms: number;
  code: number;
  message: string;
  pc: number;
}

export interface RunOptions {
  trace: TraceEntry[];
  /** Run until this logical time (ms, inclusive); default: the last trace entry's time. */
  until?: number;
  nodeId?: number;
  seed?: number;
  /** Reactions without the VM becoming idle before the run stops (vm/driver.ts; default 1e6). */
  maxReactions?: number;
}

export interface RunResult {
  outputs: OutputRecord[];
  errors: RuntimeErrorRecord[];
  stats: VmStats;
  halted: boolean;
  state: LocalState;
  /** Logical time when the run stopped. */
  end_ms: number;
}

/** Sensor readings that change at the times the trace gives (defaults before the first). */
export class TraceSensors implements SensorSource {
  private steps = new Map<string, { at: number; v: number }[]>();

  constructor(entries: TraceEntry[]) {
    for (const e of entries) {
      if (!REQUESTED_INPUTS.has(e.event)) continue;
      const list = this.steps.get(e.event) ?? [];
      list.push({ at: e.at, v: typeof e.data === "number" ? e.data : 0 });
      this.steps.set(e.event, list);
    }
  }

  read(sensor: string, now: number): number {
    let v = DEFAULT_READINGS[sensor] ?? 0;
    for (const s of this.steps.get(sensor) ?? []) {
      if (s.at > now) break;
      v = s.v;
    }
    return v;
  }
}

/** Build a mote (VM + component host) for a configuration. */
export function createMote(capsule: VerifiedCapsule, cfg: Configuration, opts: { nodeId: number; seed?: number; sensors: SensorSource }): { vm: Vm; host: ComponentHost; state: LocalState } {
  const host = new ComponentHost(cfg);
  const grp = cfg.functions.has("groupInit");
  const state = grp
    ? installTerraGrp(host, { nodeId: opts.nodeId, seed: opts.seed, sensors: opts.sensors, radio: standaloneRadio, groups: standaloneGroups })
    : installTerraNet(host, { nodeId: opts.nodeId, seed: opts.seed, sensors: opts.sensors, radio: standaloneRadio });
  const vm = new Vm(capsule, host);
  host.vm = vm;
  return { vm, host, state };
}

/** A mote set up for a run: start it with the virtual or the real-time driver, then collect the result. */
function prepare(capsule: VerifiedCapsule, cfg: Configuration, opts: RunOptions & { onOutput?: (r: OutputRecord) => void }) {
  const outputs: OutputRecord[] = [];
  const errors: RuntimeErrorRecord[] = [];
  const { vm, host, state } = createMote(capsule, cfg, { nodeId: opts.nodeId ?? 1, seed: opts.seed, sensors: new TraceSensors(opts.trace) });
  host.onOutput = (r) => {
    outputs.push(r);
    opts.onOutput?.(r);
  };
  host.onError = (code, pc) => errors.push({ at_ms: vm.now, code, message: ERROR_NAMES[code] ?? `error ${code}`, pc });
  const inputs: TimedInput[] = opts.trace
    .filter((e) => !REQUESTED_INPUTS.has(e.event))
    .map((e) => ({ at: e.at, id: e.input.anyId ?? e.input.filteredId!, aux: e.aux, data: e.data }));
  const last = opts.trace.length ? opts.trace[opts.trace.length - 1].at : 0;
  const until = opts.until ?? last;
  const result = (): RunResult => ({ outputs, errors, stats: { ...vm.stats }, halted: vm.halted, state, end_ms: Math.min(vm.now, until) });
  return { vm, inputs, until, result };
}

/** Run one mote against a trace in virtual time. @throws StallError (vm/driver.ts) when virtual time cannot advance */
export function runMote(capsule: VerifiedCapsule, cfg: Configuration, opts: RunOptions): RunResult {
  const m = prepare(capsule, cfg, opts);
  runVirtual(m.vm, m.inputs, m.until + 1, { maxReactions: opts.maxReactions });
  return m.result();
}

/**
 * Run one mote with logical time following the wall clock (`terra run
 * --realtime`); `onOutput` sees each output as it happens. Same outputs as runMote.
 */
export async function runMoteRealtime(capsule: VerifiedCapsule, cfg: Configuration, opts: RunOptions & { onOutput?: (r: OutputRecord) => void; clock?: WallClock }): Promise<RunResult> {
  const m = prepare(capsule, cfg, opts);
  await runRealtime(m.vm, m.inputs, m.until + 1, opts.clock, { maxReactions: opts.maxReactions });
  return m.result();
}
