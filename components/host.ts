/**
 * Binding between a VM and the component sets of a configuration: output
 * events and functions are dispatched by their configuration names (so any
 * .defs with Terra's names works), inputs are raised by name, records are
 * read and written with the configuration's layouts.
 */
import type { Configuration, InputEvent } from "../compiler/config";
import { BASIC_SIZE, type RecordType } from "../compiler/types";
import type { ScalarOutput, Vm, VmHost } from "../vm/engine";

/** An output handler: the emitted value (number, or a copy of the record's bytes). */
export type OutputHandler = (value: number | Uint8Array) => void;
/** A function handler: arguments first-first (records and pointers are var-area addresses). */
export type FunctionHandler = (args: Int32Array) => number;

/** What a mote did, for `terra run` and the simulator's trace. */
export interface OutputRecord {
  event: string;
  value: number | number[] | Record<string, unknown> | null;
  at_ms: number;
}

/**
 * The part of a VmHost every component set shares: name-based dispatch,
 * input raising, record access. Component sets register their handlers.
 */
export class ComponentHost implements VmHost {
  // Dispatch tables indexed by configuration id (ids are 0..254).
  private outNames: (string | undefined)[] = new Array(256).fill(undefined);
  private outHandlers: (OutputHandler | null)[] = new Array(256).fill(null);
  private fnHandlers: (FunctionHandler | null)[] = new Array(256).fill(null);
  private observer: ((r: OutputRecord) => void) | undefined = undefined;
  /**
   * The VM's fast path for scalar outputs, by id: the handler itself while no
   * observer is set (a no-op for unhandled ids), else a call of `output`.
   */
  readonly scalarOutputs: ScalarOutput[] = new Array(256).fill(ignoreOutput);
  vm!: Vm;
  /** Called for runtime errors. */
  onError: (code: number, pc: number) => void = () => {};

  constructor(readonly cfg: Configuration) {
    for (const o of cfg.outputs.values()) this.outNames[o.id] = o.name;
  }

  /** Called for every output event, handled or not (records are decoded only when it is set). */
  get onOutput(): ((r: OutputRecord) => void) | undefined {
    return this.observer;
  }

  set onOutput(f: ((r: OutputRecord) => void) | undefined) {
    this.observer = f;
    for (let id = 0; id < 256; id++) this.bindScalarOutput(id);
  }

  /** Register the handler of an output event, if the configuration declares it. */
  handleOutput(name: string, h: OutputHandler): void {
    const o = this.cfg.outputs.get(name);
    if (!o) return;
    this.outHandlers[o.id] = h;
    this.bindScalarOutput(o.id);
  }

  /** Point the fast-path entry of output `id` at what `output(id, value)` does for a number. */
  private bindScalarOutput(id: number): void {
    this.scalarOutputs[id] = this.observer ? (v) => this.output(id, v) : this.outHandlers[id] ?? ignoreOutput;
  }

  /** Register the implementation of a function, if the configuration declares it. */
  handleFunction(name: string, h: FunctionHandler): void {
    const f = this.cfg.functions.get(name);
    if (f) this.fnHandlers[f.id] = h;
  }

  output(id: number, value: number | Uint8Array): void {
    const v = typeof value === "number" ? value : value.slice();
    if (this.observer) this.report(this.outNames[id], id, v);
    const h = this.outHandlers[id];
    if (h) h(v);
  }

  private report(name: string | undefined, id: number, v: number | Uint8Array): void {
    const decl = name ? this.cfg.outputs.get(name) : undefined;
    this.observer!({
      event: name ?? `output#${id}`,
      value: decl && decl.arg.kind === "void" ? null
        : typeof v === "number" ? (decl?.arg.kind === "basic" && decl.arg.name === "float" ? floatOfBits(v) : v)
        : decl && decl.arg.kind === "record" ? decodeRecord(decl.arg.rec, v) : Array.from(v),
      at_ms: this.vm.now,
    });
  }

  call(id: number, args: Int32Array): number {
    const h = this.fnHandlers[id];
    return h ? h(args) : 1; // FAIL: the component set does not implement it
  }

  error(code: number, pc: number): void {
    this.onError(code, pc);
  }

  /** Raise an input occurrence by name; false when the VM's queue is full or the input is unknown. */
  raise(name: string, data: number | Uint8Array = 0, aux?: number): boolean {
    return this.raiser(name)(data, aux);
  }

  /**
   * A function raising input `name` (resolved once: for handlers on hot paths).
   * The selector defaults to the value's low byte, or a record's first byte.
   */
  raiser(name: string): (data?: number | Uint8Array, aux?: number) => boolean {
    const ev = this.cfg.inputs.get(name);
    if (!ev) return () => false;
    const id = ev.anyId ?? ev.filteredId!;
    return (data = 0, aux) => this.vm.enqueue(id, aux ?? (typeof data === "number" ? data & 0xff : data[0] ?? 0), data);
  }

  input(name: string): InputEvent | undefined {
    return this.cfg.inputs.get(name);
  }

  record(name: string): RecordType | undefined {
    return this.cfg.records.get(name);
  }

  /** Read a record argument (a var-area address) as bytes. */
  readRecord(addr: number, rec: RecordType): Uint8Array {
    return this.vm.view(addr, rec.size).slice();
  }

  writeRecord(addr: number, bytes: Uint8Array): void {
    this.vm.view(addr, bytes.length).set(bytes);
  }
}

/** The scalar-output entry of an output nobody handles or observes. */
const ignoreOutput: ScalarOutput = () => {};

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);
/** The float whose binary32 bits are `bits` (how the VM passes float values). */
export function floatOfBits(bits: number): number {
  I32[0] = bits;
  return F32[0];
}

/** Decode a record's bytes into an object of its fields (arrays for array fields). */
export function decodeRecord(rec: RecordType, bytes: Uint8Array): Record<string, unknown> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Record<string, unknown> = {};
  const get = (t: keyof typeof BASIC_SIZE, off: number): number => {
    if (off + BASIC_SIZE[t] > bytes.length) return 0;
    switch (t) {
      case "ubyte": return dv.getUint8(off);
      case "byte": return dv.getInt8(off);
      case "ushort": return dv.getUint16(off, true);
      case "short": return dv.getInt16(off, true);
      case "ulong": return dv.getUint32(off, true);
      case "long": return dv.getInt32(off, true);
      case "float": return dv.getFloat32(off, true);
    }
  };
  for (const f of rec.fields.values()) {
    if (f.dim === null) out[f.name] = get(f.elem, f.offset);
    else out[f.name] = Array.from({ length: f.dim }, (_, i) => get(f.elem, f.offset + i * BASIC_SIZE[f.elem]));
  }
  return out;
}

/** Field accessor for records the components build or read. */
export class RecordView {
  private dv: DataView;
  constructor(readonly rec: RecordType, readonly bytes: Uint8Array = new Uint8Array(rec.size)) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get(field: string, i = 0): number {
    const f = this.rec.fields.get(field);
    if (!f) return 0;
    const off = f.offset + i * BASIC_SIZE[f.elem];
    switch (f.elem) {
      case "ubyte": return this.dv.getUint8(off);
      case "byte": return this.dv.getInt8(off);
      case "ushort": return this.dv.getUint16(off, true);
      case "short": return this.dv.getInt16(off, true);
      case "ulong": return this.dv.getUint32(off, true);
      case "long": return this.dv.getInt32(off, true);
      case "float": return this.dv.getFloat32(off, true);
    }
  }

  set(field: string, v: number, i = 0): this {
    const f = this.rec.fields.get(field);
    if (!f) return this;
    const off = f.offset + i * BASIC_SIZE[f.elem];
    switch (BASIC_SIZE[f.elem]) {
      case 1: this.dv.setUint8(off, v & 0xff); break;
      case 2: this.dv.setUint16(off, v & 0xffff, true); break;
      default:
        if (f.elem === "float") this.dv.setFloat32(off, v, true);
        else this.dv.setUint32(off, v >>> 0, true);
    }
    return this;
  }
}
