/**
 * Test helper: build a capsule from assembly text and tables (SHA-256 from
 * node:crypto), run it in virtual time with a recording host, and return what
 * the script did.
 */
import { createHash } from "node:crypto";
import { type InputTable, type Sha256, NO_EVENT_ID, encodeCapsule } from "../../vm/capsule";
import { assembleText } from "../../vm/disasm";
import { Vm, type VmOptions } from "../../vm/engine";
import { type TimedInput, runVirtual } from "../../vm/driver";
import { FLOAT_INSTRS } from "../../vm/isa";
import { decodeInstr } from "../../vm/encode";
import { loadCapsule, requiredBounds } from "../../vm/verify";

export const sha256: Sha256 = (data) => new Uint8Array(createHash("sha256").update(data).digest());

/** An input table in test form: `any` = id of the form without selector, `filtered` = id of the E(aux) form. */
export interface TestInput {
  any?: number;
  filtered?: number;
  gates: number[];
}

export interface AsmSpec {
  asm: string;
  /** default 64 */
  varBytes?: number;
  /** defaults: what the code needs (requiredBounds) */
  slots?: number;
  stackCells?: number;
  trackDepth?: number;
  entry?: number;
  inputs?: TestInput[];
  timers?: number[];
  internals?: number[][];
  asyncs?: number[];
  /** default: Float when the code has float instructions */
  flags?: number;
  programVersion?: number;
}

function codeUsesFloat(code: Uint8Array): boolean {
  for (let pc = 0; pc < code.length;) {
    const d = decodeInstr(code, pc);
    if ("error" in d) return false;
    if (FLOAT_INSTRS.has(d.spec.name)) return true;
    pc = d.next;
  }
  return false;
}

/** Build capsule bytes from assembly and tables. */
export function buildCapsule(spec: AsmSpec): Uint8Array {
  const code = assembleText(spec.asm);
  const inputs: InputTable[] = (spec.inputs ?? []).map((i) => ({
    filteredId: i.filtered ?? NO_EVENT_ID,
    anyId: i.any ?? NO_EVENT_ID,
    gates: i.gates,
  }));
  const base = {
    flags: spec.flags ?? (codeUsesFloat(code) ? 1 : 0),
    programVersion: spec.programVersion ?? 1,
    configId: 0x12345678,
    varBytes: spec.varBytes ?? 64,
    slots: spec.slots ?? 255,
    stackCells: spec.stackCells ?? 255,
    trackDepth: spec.trackDepth ?? 255,
    blockBytes: 64,
    entry: spec.entry ?? 0,
    inputs,
    timers: spec.timers ?? [],
    internals: spec.internals ?? [],
    asyncs: spec.asyncs ?? [],
    code,
  };
  let need = { stackCells: 0, trackDepth: 0, slots: 0 };
  try {
    need = requiredBounds({ ...base, formatVersion: 1, bodyHash: new Uint8Array(32) });
  } catch {
    // an invalid capsule on purpose: keep the given or maximal bounds
    need = { stackCells: 255, trackDepth: 255, slots: 255 };
  }
  return encodeCapsule(
    {
      ...base,
      slots: spec.slots ?? need.slots,
      stackCells: spec.stackCells ?? need.stackCells,
      trackDepth: spec.trackDepth ?? need.trackDepth,
    },
    sha256,
  );
}

export interface Output {
  id: number;
  value: number | number[];
  at: number;
}

export interface RunOptions extends VmOptions {
  inputs?: TimedInput[];
  /** run until this logical time (exclusive; default 1_000_000) */
  until?: number;
  onOutput?: (id: number, value: number | Uint8Array, vm: Vm) => void;
  call?: (id: number, args: Int32Array, vm: Vm) => number;
  float?: boolean;
  maxAsyncSlices?: number;
}

export interface RunResult {
  outputs: Output[];
  /** output values only, in order */
  values: (number | number[])[];
  errors: { code: number; pc: number; at: number }[];
  calls: { id: number; args: number[]; at: number }[];
  vm: Vm;
}

/** A VM with a recording host over `bytes` (booted by runVirtual, or call vm.boot()). */
export function makeVm(bytes: Uint8Array, opts: RunOptions = {}): RunResult {
  const outputs: Output[] = [];
  const errors: { code: number; pc: number; at: number }[] = [];
  const calls: { id: number; args: number[]; at: number }[] = [];
  const c = loadCapsule(bytes, { sha256, float: opts.float });
  // eslint-disable-next-line prefer-const
  let vm: Vm;
  vm = new Vm(
    c,
    {
      output(id, value) {
        outputs.push({ id, value: typeof value === "number" ? value : Array.from(value), at: vm.now });
        opts.onOutput?.(id, value, vm);
      },
      call(id, args) {
        calls.push({ id, args: Array.from(args), at: vm.now });
        return opts.call ? opts.call(id, args, vm) : 0;
      },
      error(code, pc) {
        errors.push({ code, pc, at: vm.now });
      },
    },
    { queueCapacity: opts.queueCapacity, instructionLimit: opts.instructionLimit },
  );
  return {
    outputs,
    get values() {
      return outputs.map((o) => o.value);
    },
    errors,
    calls,
    vm,
  };
}

/** Build, verify, and run in virtual time until `opts.until`. */
export function runAsm(spec: AsmSpec, opts: RunOptions = {}): RunResult {
  const r = makeVm(buildCapsule(spec), opts);
  runVirtual(r.vm, opts.inputs ?? [], opts.until ?? 1_000_000, { maxAsyncSlices: opts.maxAsyncSlices });
  return r;
}

/** Shorthand for a trace input. */
export function inp(at: number, id: number, data: number | Uint8Array = 0, aux = 0): TimedInput {
  return { at, id, aux, data };
}
