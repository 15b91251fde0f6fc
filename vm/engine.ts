/**
 * The Terra-TS virtual machine: trail scheduler, timers, input queue and the
 * instruction interpreter, exactly as docs/vm.md specifies (State, Reactions,
 * Order of work, Instructions with scheduling effects, Values and errors).
 *
 * No Node APIs: this runs in the browser bundle too.
 *
 * Speed: one dispatch loop (`run`) in a single function with the pc, eval
 * stack pointer and track-stack pointer in locals, a `switch` on the opcode
 * byte (the `Op` enum below is inlined to literals by esbuild so the switch
 * becomes a jump table), 16-bit control slots in a Uint16Array, multi-byte
 * var accesses assembled from bytes, floats reinterpreted through one shared
 * Float32Array/Int32Array pair, and nothing allocated per instruction or per
 * reaction (the event-data buffer, the input queue, the call-argument arrays
 * and the `outr` views are all preallocated).
 *
 * Beyond the contract (safety nets for capsules that pass the verifier but
 * were not produced by our compiler): a track-stack overflow (possible only
 * for hand-written code that re-executes a spawn before its trail ran) and
 * the optional per-reaction instruction limit are *faults*: the VM reports
 * them through `host.error` (codes ERR_TRACK_OVERFLOW, ERR_WATCHDOG), sets
 * `fault`, and halts as if by `term`.
 */
import { EVENT_DATA_BYTES, GATE_FILTERED, ISA } from "./isa";
import { type VerifiedCapsule, isVerified } from "./verify";

/** Runtime error codes (docs/vm.md, "Values and errors"). */
export const ERR_DIV_ZERO = 10;
export const ERR_INDEX = 11;
/** Fault: the track stack overflowed (Terra's E_STKOVF); the VM halts. */
export const ERR_TRACK_OVERFLOW = 20;
/** Fault: a reaction exceeded the `instructionLimit` option; the VM halts. */
export const ERR_WATCHDOG = 21;
/** Capacity of the error queue (errors raised in one reaction that get an ERROR reaction). */
export const ERROR_QUEUE_CAPACITY = 8;
/** The canonical NaN every float operation produces (IEEE-754 binary32 quiet NaN, positive). */
export const CANONICAL_NAN = 0x7fc00000;

/** The handler of one scalar output event: the emitted value (int32; a float as its binary32 bits). */
export type ScalarOutput = (value: number) => void;

export interface VmHost {
  /** Synchronous, during the reaction; may call vm.enqueue. A Uint8Array value is a view of the var area: copy it to keep it. */
  output(id: number, value: number | Uint8Array): void;
  /**
   * Optional fast path for scalar outputs (out, outv, outk): 256 handlers by
   * output id. When present, the VM calls `scalarOutputs[id](value)` instead
   * of `output(id, value)`, so every entry must do exactly what that call
   * would. Read once, when the VM is built; the host may replace entries later.
   */
  readonly scalarOutputs?: readonly ScalarOutput[];
  /** args first-argument-first; the array is reused by the VM: copy it to keep it. The result is wrapped to int32. */
  call(id: number, args: Int32Array): number;
  /** Runtime error notification (10 div by zero, 11 index; faults 20, 21). */
  error?(code: number, pc: number): void;
}

export interface VmStats {
  reactions: number;
  instructions: number;
  maxReactionInstructions: number;
  queueOverflows: number;
  /** Runtime errors raised (every one is reported through host.error). */
  errors: number;
  /** Errors that got no ERROR reaction: raised during an ERROR reaction, or beyond the error queue's 8 entries. */
  droppedErrors: number;
  /** Async slices run (each is also counted in `reactions`). */
  asyncSlices: number;
}

export interface VmOptions {
  /** Input queue entries (default 8). */
  queueCapacity?: number;
  /**
   * Watchdog: a reaction that executes more instructions than this is a
   * fault (the VM halts, ERR_WATCHDOG). Default: no limit. Checked when a
   * jump is taken or a trail ends, so a reaction may overrun it by at most
   * one straight-line run of code.
   */
  instructionLimit?: number;
}

/**
 * A host asked for a var-area view outside the var area (Vm.view). During a
 * function call the VM turns it into the script's ERROR 11 (a pointer and a
 * count past the var area); anywhere else it is a bug in the host.
 */
export class VmAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VmAccessError";
  }
}

/**
 * Opcodes, by mnemonic with "." written "_". Must equal vm/isa.ts: checked
 * when this module loads (and by test/vm-encode.test.ts). A same-file enum so
 * that esbuild inlines the values into the dispatch switch.
 */
enum Op {
  halt = 0x00, term = 0x01, jmp = 0x02, jmpw = 0x03, jz = 0x04, jzw = 0x05, jnz = 0x06, jnzw = 0x07,
  spawn = 0x08, spawnw = 0x09, join = 0x0a, kill = 0x0b, killf = 0x0c, fin = 0x0d, finend = 0x0e,
  emit = 0x0f, await = 0x10, awaitx = 0x11, awaitk = 0x12, awaiti = 0x13, awaitt = 0x14, awaittw = 0x15,
  awaitts = 0x16, awaitt32 = 0x17, awaittv = 0x18, async = 0x19, yield = 0x1a, evld_u8 = 0x1b,
  evld_i8 = 0x1c, evld_u16 = 0x1d, evld_i16 = 0x1e, evld_32 = 0x1f, evget = 0x20, out = 0x21, outv = 0x22,
  outk = 0x23, outr = 0x24, call = 0x25, callv = 0x26, push8 = 0x27, push16 = 0x28, push32 = 0x29,
  pusha = 0x2a, pop = 0x2b, dup = 0x2c, ld_u8 = 0x40, ld_i8 = 0x41, ld_u16 = 0x42, ld_i16 = 0x43,
  ld_32 = 0x44, ldw_u8 = 0x45, ldw_i8 = 0x46, ldw_u16 = 0x47, ldw_i16 = 0x48, ldw_32 = 0x49, st_8 = 0x4a,
  st_16 = 0x4b, st_32 = 0x4c, stw_8 = 0x4d, stw_16 = 0x4e, stw_32 = 0x4f, ldx_u8 = 0x50, ldx_i8 = 0x51,
  ldx_u16 = 0x52, ldx_i16 = 0x53, ldx_32 = 0x54, stx_8 = 0x55, stx_16 = 0x56, stx_32 = 0x57, set_8 = 0x60,
  set_16 = 0x61, set_32 = 0x62, setw_8 = 0x63, setw_16 = 0x64, setw_32 = 0x65, mov_8 = 0x66, mov_16 = 0x67,
  mov_32 = 0x68, movw_8 = 0x69, movw_16 = 0x6a, movw_32 = 0x6b, copy = 0x6c, inc_8 = 0x6d, inc_16 = 0x6e,
  inc_32 = 0x6f, incw_8 = 0x70, incw_16 = 0x71, incw_32 = 0x72, dec_8 = 0x73, dec_16 = 0x74, dec_32 = 0x75,
  decw_8 = 0x76, decw_16 = 0x77, decw_32 = 0x78, add = 0x80, sub = 0x81, mul = 0x82, div = 0x83, divu = 0x84,
  mod = 0x85, modu = 0x86, and = 0x87, or = 0x88, xor = 0x89, shl = 0x8a, shr = 0x8b, shru = 0x8c, eq = 0x8d,
  ne = 0x8e, lt = 0x8f, ltu = 0x90, le = 0x91, leu = 0x92, gt = 0x93, gtu = 0x94, ge = 0x95, geu = 0x96,
  land = 0x97, lor = 0x98, neg = 0x99, bnot = 0x9a, lnot = 0x9b, ext_u8 = 0x9c, ext_i8 = 0x9d,
  ext_u16 = 0x9e, ext_i16 = 0x9f, addf = 0xa0, subf = 0xa1, mulf = 0xa2, divf = 0xa3, eqf = 0xa4, nef = 0xa5,
  ltf = 0xa6, lef = 0xa7, gtf = 0xa8, gef = 0xa9, negf = 0xaa, i2f = 0xab, u2f = 0xac, f2i = 0xad,
  f2u = 0xae,
}

/** Mnemonic -> opcode as the engine implements it (for the consistency test). */
export const ENGINE_OPCODES: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (const [k, v] of Object.entries(Op)) if (typeof v === "number") m.set(k.replace("_", "."), v);
  for (const s of ISA) {
    if (m.get(s.name) !== s.op) throw new Error(`vm/engine.ts: opcode of ${s.name} is stale (isa.ts says 0x${s.op.toString(16)})`);
  }
  if (m.size !== ISA.length) throw new Error("vm/engine.ts: the engine implements an instruction isa.ts does not define");
  return m;
})();

/** Float reinterpretation scratch (one pair for every VM). */
const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

const EMPTY_ARGS = new Int32Array(0);
/**
 * The constants of the hot paths, as a same-file enum so that esbuild
 * inlines them: a module-level `const` becomes a `var` in the bundle, loaded
 * from the module context and type-checked at every use.
 */
enum K {
  /** `Shared.inWake` entry of an input id that wakes no gate. */
  WAKES_NONE = -1,
  /** `run` start: dequeue one input and wake its gates first. */
  RUN_INPUT = -2,
  /** Id field of a queue entry whose input id is outside 0..255 (`Shared.inWake` has WAKES_NONE there). */
  NO_INPUT = 256,
  /** vm/isa.ts GATE_FILTERED (checked when this module loads). */
  GATE_FILTERED = 0x8000,
  /** vm/isa.ts EVENT_DATA_BYTES (checked when this module loads). */
  EVENT_DATA_BYTES = 64,
}
if (K.GATE_FILTERED !== GATE_FILTERED || K.EVENT_DATA_BYTES !== EVENT_DATA_BYTES) {
  throw new Error("vm/engine.ts: GATE_FILTERED or EVENT_DATA_BYTES is stale (see isa.ts)");
}

/**
 * The first cell of a queue entry: bits 0-8 the input id (K.NO_INPUT when it
 * is not 0..255), bits 9-16 the selector, bits 17-23 the data length + 1
 * (0: a scalar, whose value is the entry's second cell).
 */
function queueHead(id: number, aux: number, len: number): number {
  return (id >>> 0 < 256 ? id & 0xff : K.NO_INPUT) | ((aux & 0xff) << 9) | ((len + 1) << 17);
}

/** What every VM of one capsule shares (derived from the capsule once; read-only but for the call scratch). */
interface Shared {
  // gate lists, flattened: list k is gates[start[k] .. start[k+1])
  inGates: Uint8Array;
  inStart: Uint16Array;
  ievGates: Uint8Array;
  ievStart: Uint16Array;
  timerGates: Uint8Array;
  asyncGates: Uint8Array;
  /**
   * By input id (257 entries: 0..255 and K.NO_INPUT), what a dequeued
   * occurrence wakes: the slot of its input's only gate (>= 0), K.WAKES_NONE
   * (unknown id or no gate), or -2 - ti when input table entry ti lists
   * several gates.
   */
  inWake: Int32Array;
  /** Call argument scratch by argument count (one VM runs at a time; hosts copy what they keep). */
  argBufs: Int32Array[];
  /** pc of each outr -> its index among the capsule's outr instructions (-1 elsewhere). */
  outrIndex: Int16Array;
  /** [address, length] of each outr's record, by index. */
  outrRanges: [number, number][];
}

const shared = new WeakMap<VerifiedCapsule, Shared>();

function sharedOf(c: VerifiedCapsule): Shared {
  let sh = shared.get(c);
  if (sh) return sh;
  const flatten = (lists: readonly (readonly number[])[]): [Uint8Array, Uint16Array] => {
    const start = new Uint16Array(lists.length + 1);
    let n = 0;
    lists.forEach((l, k) => {
      start[k] = n;
      n += l.length;
    });
    start[lists.length] = n;
    const gates = new Uint8Array(n);
    lists.forEach((l, k) => gates.set(l, start[k]));
    return [gates, start];
  };
  const [inGates, inStart] = flatten(c.inputs.map((i) => i.gates));
  const [ievGates, ievStart] = flatten(c.internals);
  const inWake = new Int32Array(K.NO_INPUT + 1).fill(K.WAKES_NONE);
  c.inputIndex.forEach((ti, id) => {
    if (ti < 0) return;
    const gates = c.inputs[ti].gates;
    if (gates.length === 1) inWake[id] = gates[0];
    else if (gates.length > 1) inWake[id] = -2 - ti;
  });
  const argBufs: Int32Array[] = [];
  const outrIndex = new Int16Array(c.code.length).fill(-1);
  const outrRanges: [number, number][] = [];
  const code = c.code;
  for (let pc = 0; pc < code.length; pc++) {
    if (!c.instrStarts[pc]) continue;
    const op = code[pc];
    if (op === Op.call || op === Op.callv) {
      const n = code[pc + 2];
      if (!argBufs[n]) argBufs[n] = n === 0 ? EMPTY_ARGS : new Int32Array(n);
    } else if (op === Op.outr) {
      outrIndex[pc] = outrRanges.length;
      outrRanges.push([code[pc + 2] | (code[pc + 3] << 8), code[pc + 4]]);
    }
  }
  sh = { inGates, inStart, ievGates, ievStart, timerGates: Uint8Array.from(c.timers), asyncGates: Uint8Array.from(c.asyncs), inWake, argBufs, outrIndex, outrRanges };
  shared.set(c, sh);
  return sh;
}

export class Vm {
  /** The var area (the script's variables). */
  readonly vars: Uint8Array;
  /** Logical time in ms. Deadlines are kept mod 2^32; the script sees now mod 2^32. */
  now = 0;
  readonly stats: VmStats = {
    reactions: 0, instructions: 0, maxReactionInstructions: 0, queueOverflows: 0, errors: 0, droppedErrors: 0, asyncSlices: 0,
  };
  /** Instructions executed by the last reaction (each ERROR reaction and async slice is a reaction of its own). */
  lastReactionInstructions = 0;

  readonly capsule: VerifiedCapsule;
  private readonly host: VmHost;
  /** The host's scalar output handlers by id, or null: scalar outputs go through host.output. */
  private readonly scalarOutputs: readonly ScalarOutput[] | null;
  private readonly code: Uint8Array;
  private readonly slots: Uint16Array;
  private readonly stack: Int32Array;
  private readonly track: Uint16Array;
  private tp = 0;
  private readonly ev: Uint8Array;
  /** `ev` as a DataView (scalar data is stored with one little-endian 32-bit write). */
  private readonly evView: DataView;
  /** `vars` as a DataView: 32-bit variables are read and written with one little-endian access. */
  private readonly varsView: DataView;
  /** Bytes of `ev` that may be non-zero. */
  private evDirty = 0;
  private readonly limit: number;

  // gate lists, flattened: list k is gates[start[k] .. start[k+1])
  private readonly inGates: Uint8Array;
  private readonly inStart: Uint16Array;
  private readonly inWake: Int32Array;
  private readonly ievGates: Uint8Array;
  private readonly ievStart: Uint16Array;
  private readonly timerGates: Uint8Array;
  private readonly asyncGates: Uint8Array;
  private readonly errorInput: number;

  // input queue (ring)
  private readonly qCap: number;
  /** Per entry, 2 cells: its `queueHead`, and the scalar value. */
  private readonly q: Int32Array;
  private readonly qData: Uint8Array;
  private qHead = 0;
  private qCount = 0;

  // error queue
  private readonly errCodes: Int32Array;
  private errCount = 0;
  private inErrorReaction = false;

  private readonly argBufs: Int32Array[];
  private readonly outrIndex: Int16Array;
  /** A view of each outr's record in this VM's var area (preallocated: outr allocates nothing). */
  private readonly outrViews: Uint8Array[];

  private _halted = false;
  private _booted = false;
  private running = false;
  private _fault: string | undefined = undefined;

  constructor(capsule: VerifiedCapsule, host: VmHost, opts: VmOptions = {}) {
    if (!isVerified(capsule)) throw new TypeError("Vm: the capsule was not verified (use loadCapsule or verifyCapsule)");
    const c = capsule;
    this.capsule = c;
    this.host = host;
    this.scalarOutputs = host.scalarOutputs ?? null;
    this.code = c.code;
    this.limit = opts.instructionLimit ?? Infinity;
    const cap = opts.queueCapacity ?? 8;
    if (!Number.isInteger(cap) || cap < 0 || cap > 0xffff) throw new RangeError(`Vm: queueCapacity ${cap} is not 0..65535`);
    this.qCap = cap;
    // All mutable state in one buffer (32-bit parts first, then 16-bit, then bytes): one allocation, good locality.
    const cells = Math.max(c.stackCells, 1);
    const o32 = { stack: 0, q: 4 * cells, err: 4 * cells + 8 * cap };
    const o16 = { slots: o32.err + 4 * ERROR_QUEUE_CAPACITY, track: 0 };
    o16.track = o16.slots + 2 * c.slots;
    const o8 = { vars: o16.track + 2 * c.trackDepth, ev: 0, qData: 0 };
    o8.ev = o8.vars + c.varBytes;
    o8.qData = o8.ev + K.EVENT_DATA_BYTES;
    const buf = new ArrayBuffer(o8.qData + cap * K.EVENT_DATA_BYTES);
    this.stack = new Int32Array(buf, o32.stack, cells);
    this.q = new Int32Array(buf, o32.q, cap * 2);
    this.errCodes = new Int32Array(buf, o32.err, ERROR_QUEUE_CAPACITY);
    this.slots = new Uint16Array(buf, o16.slots, c.slots);
    this.track = new Uint16Array(buf, o16.track, c.trackDepth);
    this.vars = new Uint8Array(buf, o8.vars, c.varBytes);
    this.ev = new Uint8Array(buf, o8.ev, K.EVENT_DATA_BYTES);
    this.evView = new DataView(buf, o8.ev, K.EVENT_DATA_BYTES);
    this.varsView = new DataView(buf, o8.vars, c.varBytes);
    this.qData = new Uint8Array(buf, o8.qData, cap * K.EVENT_DATA_BYTES);

    const sh = sharedOf(c);
    this.inGates = sh.inGates;
    this.inStart = sh.inStart;
    this.ievGates = sh.ievGates;
    this.ievStart = sh.ievStart;
    this.timerGates = sh.timerGates;
    this.asyncGates = sh.asyncGates;
    this.argBufs = sh.argBufs;
    this.outrIndex = sh.outrIndex;
    this.outrViews = sh.outrRanges.map(([a, n]) => this.vars.subarray(a, a + n));
    this.inWake = sh.inWake;
    this.errorInput = c.errorInput;
  }

  /** True after `term` (or a fault): later inputs and timers do nothing. */
  get halted(): boolean {
    return this._halted;
  }

  /** True once boot() ran. */
  get booted(): boolean {
    return this._booted;
  }

  /** Why the VM halted on a fault (track-stack overflow, watchdog, host exception), or undefined. */
  get fault(): string | undefined {
    return this._fault;
  }

  /** The boot reaction, at the current `now` (0 for a fresh VM). */
  boot(): void {
    if (this._booted) throw new Error("Vm.boot: already booted");
    this.enter();
    this._booted = true;
    try {
      this.run(this.capsule.entry);
      if (this.errCount !== 0) this.errorReactions();
    } catch (e) {
      this.abort(e);
      throw e;
    } finally {
      this.running = false;
    }
  }

  /**
   * Queue an input occurrence. A number is the scalar value (stored as int32
   * little-endian in the zero-filled event data); a Uint8Array is copied (at
   * most 64 bytes). `aux` is the selector, kept mod 256.
   * @returns false when the queue is full (counted in stats.queueOverflows) or the program has halted.
   */
  enqueue(id: number, aux: number, data: number | Uint8Array): boolean {
    if (this._halted) return false;
    if (this.qCount === this.qCap) {
      this.stats.queueOverflows++;
      return false;
    }
    let i = this.qHead + this.qCount;
    if (i >= this.qCap) i -= this.qCap;
    if (typeof data === "number") {
      this.q[i * 2] = queueHead(id, aux, -1);
      this.q[i * 2 + 1] = data;
    } else {
      const n = data.length < K.EVENT_DATA_BYTES ? data.length : K.EVENT_DATA_BYTES;
      const base = i * K.EVENT_DATA_BYTES;
      const q = this.qData;
      for (let k = 0; k < n; k++) q[base + k] = data[k];
      this.q[i * 2] = queueHead(id, aux, n);
    }
    this.qCount++;
    return true;
  }

  /** Input occurrences waiting in the queue. */
  queued(): number {
    return this.qCount;
  }

  /**
   * One reaction at `now`, per the order of work: a timer whose deadline is
   * now, else the next queued input, else one async slice (first active
   * async gate in text order). ERROR reactions for runtime errors it raised
   * follow within the same call.
   * @returns false when there is nothing to do at `now` (or the program has halted).
   */
  step(): boolean {
    if (this._halted) return false;
    if (!this._booted) throw new Error("Vm.step: boot() first");
    this.enter();
    try {
      if (this.timerGates.length !== 0 && this.wakeTimers()) {
        this.run(-1);
      } else if (this.qCount !== 0) {
        this.run(K.RUN_INPUT);
      } else if (!this.asyncSlice()) {
        return false;
      }
      if (this.errCount !== 0) this.errorReactions();
      return true;
    } catch (e) {
      this.abort(e);
      throw e;
    } finally {
      this.running = false;
    }
  }

  /**
   * Run reactions at the current `now` until there is nothing left to do at
   * this time (what step() would report with false) or `maxReactions` steps
   * ran: the same work as calling step() in a loop, without its per-call
   * overhead (the driver uses it).
   * @returns the number of steps taken (each is one reaction plus the ERROR reactions it caused).
   */
  runPending(maxReactions: number = Infinity): number {
    if (this._halted) return 0;
    if (!this._booted) throw new Error("Vm.runPending: boot() first");
    this.enter();
    let k = 0;
    try {
      while (k < maxReactions && !this._halted) {
        if (this.timerGates.length !== 0 && this.wakeTimers()) {
          this.run(-1);
        } else if (this.qCount !== 0) {
          k += this.run(K.RUN_INPUT, maxReactions - k) - 1;
        } else if (!this.asyncSlice()) {
          break;
        }
        if (this.errCount !== 0) this.errorReactions();
        k++;
      }
    } catch (e) {
      this.abort(e);
      throw e;
    } finally {
      this.running = false;
    }
    return k;
  }

  /** Absolute logical time of the earliest active timer, or undefined. */
  nextDeadline(): number | undefined {
    if (this._halted) return undefined;
    const s = this.slots, g = this.timerGates;
    const now32 = this.now >>> 0;
    let best = -1;
    for (let k = 0; k < g.length; k++) {
      const x = g[k];
      if (s[x] === 0) continue;
      const d = (((s[x + 1] | (s[x + 2] << 16)) >>> 0) - now32) >>> 0;
      if (best < 0 || d < best) best = d;
    }
    return best < 0 ? undefined : this.now + best;
  }

  /**
   * Move `now` forward to `t` (an integer, now <= t <= nextDeadline()).
   * @throws RangeError otherwise.
   */
  advanceTo(t: number): void {
    if (this.running) throw new Error("Vm.advanceTo: called during a reaction");
    if (!Number.isSafeInteger(t) || t < this.now) throw new RangeError(`Vm.advanceTo: ${t} is not an integer time >= now (${this.now})`);
    const nd = this.nextDeadline();
    if (nd !== undefined && t > nd) throw new RangeError(`Vm.advanceTo: ${t} is past the next timer deadline ${nd}`);
    this.now = t;
  }

  /**
   * A view of `len` var-area bytes at `addr`, for host functions resolving
   * record and pointer arguments.
   * @throws VmAccessError when the range is not inside the var area.
   */
  view(addr: number, len: number): Uint8Array {
    const n = this.vars.length;
    if (!Number.isInteger(addr) || !Number.isInteger(len) || addr < 0 || len < 0 || addr + len > n) {
      throw new VmAccessError(`var-area access of ${len} bytes at ${addr} is outside the ${n}-byte var area`);
    }
    return this.vars.subarray(addr, addr + len);
  }

  // ---- reactions ---------------------------------------------------------------

  private enter(): void {
    if (this.running) throw new Error("Vm: step/boot called during a reaction");
    this.running = true;
  }

  /** A host callback threw mid-reaction: the VM state is inconsistent, so it halts. */
  private abort(e: unknown): void {
    if (!this._halted) this.halt(`host exception during a reaction: ${e instanceof Error ? e.message : String(e)}`);
  }

  private halt(fault?: string): void {
    this._halted = true;
    if (fault !== undefined && this._fault === undefined) this._fault = fault;
    this.slots.fill(0);
    this.tp = 0;
    this.qCount = 0;
  }

  private faultAt(code: number, pc: number, why: string): void {
    this.stats.errors++;
    this.halt(why);
    if (this.host.error) this.host.error(code, pc);
  }

  /** Emit scalar output `id` with `value` (out, outv, outk). */
  private outputScalar(id: number, value: number): void {
    const outs = this.scalarOutputs;
    if (outs !== null) outs[id](value);
    else this.host.output(id, value);
  }

  /** Store a scalar as the current occurrence's data. */
  private setScalar(v: number): void {
    this.evView.setInt32(0, v, true);
    if (this.evDirty > 4) this.ev.fill(0, 4, this.evDirty);
    this.evDirty = 4;
  }

  /** Push every active gate of input table `ti` matching `aux`, last gate first. */
  private wakeGates(ti: number, aux: number): void {
    const g = this.inGates, track = this.track;
    let tp = this.tp;
    for (let k = this.inStart[ti + 1] - 1, lo = this.inStart[ti]; k >= lo; k--) {
      const pc = this.takeGate(g[k], aux);
      if (pc >= 0) track[tp++] = pc;
    }
    this.tp = tp;
  }

  /**
   * Wake input gate slot `x` if it is active and, when filtered, awaits
   * selector `aux`: clear it.
   * @returns the pc its trail resumes at, or -1 when it does not wake.
   */
  private takeGate(x: number, aux: number): number {
    const s = this.slots;
    const v = s[x];
    if (v === 0 || ((v & K.GATE_FILTERED) !== 0 && s[x + 1] !== aux)) return -1;
    s[x] = 0;
    return v & ~K.GATE_FILTERED;
  }

  /** Push every timer gate due now (last gate first); false when none is due. */
  private wakeTimers(): boolean {
    const s = this.slots, g = this.timerGates, track = this.track;
    const now32 = this.now >>> 0;
    let tp = this.tp;
    let any = false;
    for (let k = g.length - 1; k >= 0; k--) {
      const x = g[k];
      const v = s[x];
      if (v !== 0 && ((s[x + 1] | (s[x + 2] << 16)) >>> 0) === now32) {
        track[tp++] = v;
        s[x] = 0;
        any = true;
      }
    }
    this.tp = tp;
    return any;
  }

  private asyncSlice(): boolean {
    const s = this.slots, g = this.asyncGates;
    for (let k = 0; k < g.length; k++) {
      const v = s[g[k]];
      if (v !== 0) {
        s[g[k]] = 0;
        this.stats.asyncSlices++;
        this.run(v);
        return true;
      }
    }
    return false;
  }

  private errorReactions(): void {
    const ti = this.errorInput;
    const n = this.errCount;
    this.inErrorReaction = true;
    try {
      for (let k = 0; k < n && ti >= 0 && !this._halted; k++) {
        const code = this.errCodes[k];
        this.setScalar(code);
        this.wakeGates(ti, code & 0xff);
        this.run(-1);
      }
    } finally {
      this.inErrorReaction = false;
      this.errCount = 0;
    }
  }

  /**
   * The host function `id` called by the instruction at `pc`. A var-area view
   * outside the var area (VmAccessError: stat1 over a count past its end, say)
   * is the script's index error: the call returns 0 and raises ERROR 11 at
   * `pc`, as an out-of-range array index does (docs/vm.md, "Host interface").
   * @throws whatever else the host throws (the caller halts the VM)
   */
  private callHost(id: number, args: Int32Array, pc: number): number {
    try {
      return this.host.call(id, args);
    } catch (e) {
      if (!(e instanceof VmAccessError)) throw e;
      this.raise(ERR_INDEX, pc);
      return 0;
    }
  }

  /** A runtime error at `pc`: reported, counted, and queued for an ERROR reaction when possible. */
  private raise(code: number, pc: number): void {
    this.stats.errors++;
    if (this.inErrorReaction || this.errCount === ERROR_QUEUE_CAPACITY) this.stats.droppedErrors++;
    else this.errCodes[this.errCount++] = code;
    if (this.host.error) this.host.error(code, pc);
  }

  /** kill's track-stack part: drop entries with pc in [lo, hi), keeping the others' order. */
  private dropTracks(lo: number, hi: number, tp: number): number {
    const t = this.track;
    let w = 0;
    for (let r = 0; r < tp; r++) {
      const v = t[r];
      if (v < lo || v >= hi) t[w++] = v;
    }
    return w;
  }

  /**
   * Run trails until the track stack is empty: from `startPc`, or (when
   * negative) from the top of the track stack. One reaction.
   */
  /**
   * Run reactions: the first from `startPc` (K.RUN_INPUT: the next queued
   * input; negative: the track stack), then, while `chain` allows, one per
   * further queued input, without leaving the dispatch loop. Chaining stops
   * when the queue is empty, an error was raised (its ERROR reaction comes
   * first), a timer due now was armed (timers come first) or the VM halted.
   * @returns the number of reactions run.
   */
  private run(startPc: number, chain = 1): number {
    const code = this.code, vars = this.vars, slots = this.slots, stk = this.stack, track = this.track, ev = this.ev;
    const host = this.host, varsDv = this.varsView;
    const f32 = F32, i32 = I32;
    const trackCap = track.length;
    const limit = this.limit;
    // without a limit, `n` is never compared (a comparison with a tagged Infinity on every jump costs)
    const watchdog = limit !== Infinity;
    const now32 = this.now >>> 0;
    let tp = this.tp;
    let sp = 0;
    let n = 0;
    let pc = startPc | 0;
    let done = 0;
    let dueNow = false;
    for (;;) {
    if (pc === K.RUN_INPUT) {
      // Dequeue one input occurrence, make it the event data, wake its gates (inline: the hot path).
      const q = this.q, h = this.qHead;
      const head = q[h * 2], aux = (head >>> 9) & 0xff, len = (head >>> 17) - 1;
      if (len < 0) {
        this.setScalar(q[h * 2 + 1]);
      } else {
        const qd = this.qData, base = h * K.EVENT_DATA_BYTES;
        for (let k = 0; k < len; k++) ev[k] = qd[base + k];
        if (this.evDirty > len) ev.fill(0, len, this.evDirty);
        this.evDirty = len;
      }
      this.qHead = h + 1 === this.qCap ? 0 : h + 1;
      this.qCount--;
      const w = this.inWake[head & 0x1ff];
      // an only gate's trail runs at once: what pushing it on the (empty) track stack and popping it would do
      if (w >= 0) pc = this.takeGate(w, aux);
      else if (w !== K.WAKES_NONE) {
        this.tp = tp;
        this.wakeGates(-2 - w, aux);
        tp = this.tp;
      }
    }
    if (pc < 0) {
      if (tp === 0) pc = -1;
      else pc = track[--tp];
    }
    if (pc >= 0) for (;;) {
      n++;
      sw: switch (code[pc]) {
        // ---- trails and control flow
        case Op.halt:
          break;
        case Op.term:
          this.halt();
          tp = 0;
          break;
        case Op.jmp:
          pc = pc + 2 + ((code[pc + 1] << 24) >> 24);
          if (watchdog && n > limit) break;
          continue;
        case Op.jmpw:
          pc = code[pc + 1] | (code[pc + 2] << 8);
          if (watchdog && n > limit) break;
          continue;
        case Op.jz:
          if (stk[--sp] === 0) {
            pc = pc + 2 + ((code[pc + 1] << 24) >> 24);
            if (watchdog && n > limit) break;
          } else pc += 2;
          continue;
        case Op.jzw:
          if (stk[--sp] === 0) {
            pc = code[pc + 1] | (code[pc + 2] << 8);
            if (watchdog && n > limit) break;
          } else pc += 3;
          continue;
        case Op.jnz:
          if (stk[--sp] !== 0) {
            pc = pc + 2 + ((code[pc + 1] << 24) >> 24);
            if (watchdog && n > limit) break;
          } else pc += 2;
          continue;
        case Op.jnzw:
          if (stk[--sp] !== 0) {
            pc = code[pc + 1] | (code[pc + 2] << 8);
            if (watchdog && n > limit) break;
          } else pc += 3;
          continue;
        case Op.spawn:
          if (tp === trackCap) {
            this.faultAt(ERR_TRACK_OVERFLOW, pc, `track stack overflow at 0x${pc.toString(16)}`);
            tp = 0;
            break;
          }
          track[tp++] = pc + 2 + ((code[pc + 1] << 24) >> 24);
          pc += 2;
          continue;
        case Op.spawnw:
          if (tp === trackCap) {
            this.faultAt(ERR_TRACK_OVERFLOW, pc, `track stack overflow at 0x${pc.toString(16)}`);
            tp = 0;
            break;
          }
          track[tp++] = code[pc + 1] | (code[pc + 2] << 8);
          pc += 3;
          continue;
        case Op.join: {
          const s = code[pc + 1];
          const c = slots[s] + 1;
          if (c >= code[pc + 2]) {
            slots[s] = 0;
            pc += 3;
            continue;
          }
          slots[s] = c;
          break;
        }
        case Op.kill: {
          const s = code[pc + 1];
          slots.fill(0, s, s + code[pc + 2]);
          tp = this.dropTracks(code[pc + 3] | (code[pc + 4] << 8), pc, tp);
          pc += 5;
          continue;
        }
        case Op.killf: {
          const s = code[pc + 1];
          slots.fill(0, s, s + code[pc + 2]);
          tp = this.dropTracks(code[pc + 3] | (code[pc + 4] << 8), pc, tp);
          const f = code[pc + 5], m = f + code[pc + 6];
          let any = false;
          for (let j = f; j < m; j++) {
            const v = slots[j];
            if (v === 0) continue;
            if (tp + (any ? 1 : 2) > trackCap) {
              this.faultAt(ERR_TRACK_OVERFLOW, pc, `track stack overflow at 0x${pc.toString(16)}`);
              tp = 0;
              break sw;
            }
            if (!any) track[tp++] = pc + 7;
            any = true;
            track[tp++] = v;
            slots[j] = 0;
          }
          if (any) break;
          pc += 7;
          continue;
        }
        case Op.fin:
          slots[code[pc + 1]] = code[pc + 2] | (code[pc + 3] << 8);
          pc += 4;
          continue;
        case Op.finend:
          if (tp === trackCap) {
            this.faultAt(ERR_TRACK_OVERFLOW, pc, `track stack overflow at 0x${pc.toString(16)}`);
            tp = 0;
            break;
          }
          slots[code[pc + 1]] = 0;
          track[tp++] = code[pc + 2] | (code[pc + 3] << 8);
          pc += 4;
          continue;
        case Op.emit: {
          const e = code[pc + 1];
          const lo = this.ievStart[e];
          const gates = this.ievGates;
          if (tp === trackCap) {
            this.faultAt(ERR_TRACK_OVERFLOW, pc, `track stack overflow at 0x${pc.toString(16)}`);
            tp = 0;
            break;
          }
          track[tp++] = pc + 2;
          for (let k = this.ievStart[e + 1] - 1; k >= lo; k--) {
            const g = gates[k];
            const v = slots[g];
            if (v !== 0) {
              if (tp === trackCap) {
                this.faultAt(ERR_TRACK_OVERFLOW, pc, `track stack overflow at 0x${pc.toString(16)}`);
                tp = 0;
                break sw;
              }
              track[tp++] = v;
              slots[g] = 0;
            }
          }
          break;
        }

        // ---- awaits
        case Op.await:
          slots[code[pc + 1]] = pc + 2;
          break;
        case Op.awaitx: {
          const s = code[pc + 1];
          slots[s] = (pc + 2) | K.GATE_FILTERED;
          slots[s + 1] = stk[--sp] & 0xff;
          break;
        }
        case Op.awaitk: {
          const s = code[pc + 1];
          slots[s] = (pc + 3) | K.GATE_FILTERED;
          slots[s + 1] = code[pc + 2];
          break;
        }
        case Op.awaiti:
          slots[code[pc + 1]] = pc + 2;
          break;
        case Op.awaitt: {
          const s = code[pc + 1];
          const d = (now32 + code[pc + 2]) >>> 0;
          slots[s] = pc + 3;
          slots[s + 1] = d;
          slots[s + 2] = d >>> 16;
          if (d === now32) dueNow = true;
          break;
        }
        case Op.awaittw: {
          const s = code[pc + 1];
          const d = (now32 + (code[pc + 2] | (code[pc + 3] << 8))) >>> 0;
          slots[s] = pc + 4;
          slots[s + 1] = d;
          slots[s + 2] = d >>> 16;
          if (d === now32) dueNow = true;
          break;
        }
        case Op.awaitts: {
          const s = code[pc + 1];
          const d = (now32 + code[pc + 2] * 1000) >>> 0;
          slots[s] = pc + 3;
          slots[s + 1] = d;
          slots[s + 2] = d >>> 16;
          if (d === now32) dueNow = true;
          break;
        }
        case Op.awaitt32: {
          const s = code[pc + 1];
          const dur = (code[pc + 2] | (code[pc + 3] << 8) | (code[pc + 4] << 16) | (code[pc + 5] << 24)) >>> 0;
          const d = (now32 + dur) >>> 0;
          slots[s] = pc + 6;
          slots[s + 1] = d;
          slots[s + 2] = d >>> 16;
          if (d === now32) dueNow = true;
          break;
        }
        case Op.awaittv: {
          const s = code[pc + 1];
          const d = (now32 + (stk[--sp] >>> 0)) >>> 0;
          slots[s] = pc + 2;
          slots[s + 1] = d;
          slots[s + 2] = d >>> 16;
          if (d === now32) dueNow = true;
          break;
        }
        case Op.async:
          slots[code[pc + 1]] = pc + 2;
          break;
        case Op.yield:
          slots[code[pc + 1]] = code[pc + 2] | (code[pc + 3] << 8);
          break;

        // ---- input data, outputs, functions
        case Op.evld_u8:
          stk[sp++] = ev[0];
          pc++;
          continue;
        case Op.evld_i8:
          stk[sp++] = (ev[0] << 24) >> 24;
          pc++;
          continue;
        case Op.evld_u16:
          stk[sp++] = ev[0] | (ev[1] << 8);
          pc++;
          continue;
        case Op.evld_i16:
          stk[sp++] = ((ev[0] | (ev[1] << 8)) << 16) >> 16;
          pc++;
          continue;
        case Op.evld_32:
          stk[sp++] = ev[0] | (ev[1] << 8) | (ev[2] << 16) | (ev[3] << 24);
          pc++;
          continue;
        case Op.evget: {
          const a = code[pc + 1] | (code[pc + 2] << 8);
          const len = code[pc + 3];
          for (let k = 0; k < len; k++) vars[a + k] = ev[k];
          pc += 4;
          continue;
        }
        case Op.out:
          this.outputScalar(code[pc + 1], 0);
          pc += 2;
          continue;
        case Op.outv:
          this.outputScalar(code[pc + 1], stk[--sp]);
          pc += 2;
          continue;
        case Op.outk:
          this.outputScalar(code[pc + 1], code[pc + 2]);
          pc += 3;
          continue;
        case Op.outr:
          host.output(code[pc + 1], this.outrViews[this.outrIndex[pc]]);
          pc += 5;
          continue;
        case Op.call:
        case Op.callv: {
          const nargs = code[pc + 2];
          const args = this.argBufs[nargs];
          sp -= nargs;
          for (let k = 0; k < nargs; k++) args[k] = stk[sp + k];
          const r = this.callHost(code[pc + 1], args, pc);
          if (code[pc] === Op.call) stk[sp++] = r;
          pc += 3;
          continue;
        }

        // ---- stack
        case Op.push8:
          stk[sp++] = (code[pc + 1] << 24) >> 24;
          pc += 2;
          continue;
        case Op.push16:
          stk[sp++] = ((code[pc + 1] | (code[pc + 2] << 8)) << 16) >> 16;
          pc += 3;
          continue;
        case Op.push32:
          stk[sp++] = code[pc + 1] | (code[pc + 2] << 8) | (code[pc + 3] << 16) | (code[pc + 4] << 24);
          pc += 5;
          continue;
        case Op.pusha:
          stk[sp++] = code[pc + 1] | (code[pc + 2] << 8);
          pc += 3;
          continue;
        case Op.pop:
          sp--;
          pc++;
          continue;
        case Op.dup:
          stk[sp] = stk[sp - 1];
          sp++;
          pc++;
          continue;

        // ---- loads and stores
        case Op.ld_u8:
          stk[sp++] = vars[code[pc + 1]];
          pc += 2;
          continue;
        case Op.ld_i8:
          stk[sp++] = (vars[code[pc + 1]] << 24) >> 24;
          pc += 2;
          continue;
        case Op.ld_u16: {
          const a = code[pc + 1];
          stk[sp++] = vars[a] | (vars[a + 1] << 8);
          pc += 2;
          continue;
        }
        case Op.ld_i16: {
          const a = code[pc + 1];
          stk[sp++] = ((vars[a] | (vars[a + 1] << 8)) << 16) >> 16;
          pc += 2;
          continue;
        }
        case Op.ld_32: {
          const a = code[pc + 1];
          stk[sp++] = varsDv.getInt32(a, true);
          pc += 2;
          continue;
        }
        case Op.ldw_u8:
          stk[sp++] = vars[code[pc + 1] | (code[pc + 2] << 8)];
          pc += 3;
          continue;
        case Op.ldw_i8:
          stk[sp++] = (vars[code[pc + 1] | (code[pc + 2] << 8)] << 24) >> 24;
          pc += 3;
          continue;
        case Op.ldw_u16: {
          const a = code[pc + 1] | (code[pc + 2] << 8);
          stk[sp++] = vars[a] | (vars[a + 1] << 8);
          pc += 3;
          continue;
        }
        case Op.ldw_i16: {
          const a = code[pc + 1] | (code[pc + 2] << 8);
          stk[sp++] = ((vars[a] | (vars[a + 1] << 8)) << 16) >> 16;
          pc += 3;
          continue;
        }
        case Op.ldw_32: {
          const a = code[pc + 1] | (code[pc + 2] << 8);
          stk[sp++] = varsDv.getInt32(a, true);
          pc += 3;
          continue;
        }
        case Op.st_8:
          vars[code[pc + 1]] = stk[--sp];
          pc += 2;
          continue;
        case Op.st_16: {
          const a = code[pc + 1], v = stk[--sp];
          vars[a] = v;
          vars[a + 1] = v >> 8;
          pc += 2;
          continue;
        }
        case Op.st_32: {
          const a = code[pc + 1], v = stk[--sp];
          varsDv.setInt32(a, v, true);
          pc += 2;
          continue;
        }
        case Op.stw_8:
          vars[code[pc + 1] | (code[pc + 2] << 8)] = stk[--sp];
          pc += 3;
          continue;
        case Op.stw_16: {
          const a = code[pc + 1] | (code[pc + 2] << 8), v = stk[--sp];
          vars[a] = v;
          vars[a + 1] = v >> 8;
          pc += 3;
          continue;
        }
        case Op.stw_32: {
          const a = code[pc + 1] | (code[pc + 2] << 8);
          varsDv.setInt32(a, stk[--sp], true);
          pc += 3;
          continue;
        }
        case Op.ldx_u8:
        case Op.ldx_i8:
        case Op.ldx_u16:
        case Op.ldx_i16:
        case Op.ldx_32: {
          const op = code[pc];
          const i = stk[sp - 1] >>> 0;
          if (i >= (code[pc + 3] | (code[pc + 4] << 8))) {
            stk[sp - 1] = 0;
            this.raise(ERR_INDEX, pc);
          } else {
            const base = code[pc + 1] | (code[pc + 2] << 8);
            let v: number;
            if (op === Op.ldx_u8) v = vars[base + i];
            else if (op === Op.ldx_i8) v = (vars[base + i] << 24) >> 24;
            else if (op === Op.ldx_32) {
              const a = base + i * 4;
              v = vars[a] | (vars[a + 1] << 8) | (vars[a + 2] << 16) | (vars[a + 3] << 24);
            } else {
              const a = base + i * 2;
              v = vars[a] | (vars[a + 1] << 8);
              if (op === Op.ldx_i16) v = (v << 16) >> 16;
            }
            stk[sp - 1] = v;
          }
          pc += 5;
          continue;
        }
        case Op.stx_8:
        case Op.stx_16:
        case Op.stx_32: {
          const v = stk[--sp];
          const i = stk[--sp] >>> 0;
          if (i >= (code[pc + 3] | (code[pc + 4] << 8))) {
            this.raise(ERR_INDEX, pc);
          } else {
            const base = code[pc + 1] | (code[pc + 2] << 8);
            const op = code[pc];
            if (op === Op.stx_8) vars[base + i] = v;
            else if (op === Op.stx_16) {
              const a = base + i * 2;
              vars[a] = v;
              vars[a + 1] = v >> 8;
            } else {
              const a = base + i * 4;
              vars[a] = v;
              vars[a + 1] = v >> 8;
              vars[a + 2] = v >> 16;
              vars[a + 3] = v >> 24;
            }
          }
          pc += 5;
          continue;
        }

        // ---- memory to memory
        case Op.set_8:
          vars[code[pc + 1]] = code[pc + 2];
          pc += 3;
          continue;
        case Op.set_16: {
          const a = code[pc + 1];
          vars[a] = code[pc + 2];
          vars[a + 1] = code[pc + 3];
          pc += 4;
          continue;
        }
        case Op.set_32: {
          const a = code[pc + 1];
          vars[a] = code[pc + 2];
          vars[a + 1] = code[pc + 3];
          vars[a + 2] = code[pc + 4];
          vars[a + 3] = code[pc + 5];
          pc += 6;
          continue;
        }
        case Op.setw_8:
          vars[code[pc + 1] | (code[pc + 2] << 8)] = code[pc + 3];
          pc += 4;
          continue;
        case Op.setw_16: {
          const a = code[pc + 1] | (code[pc + 2] << 8);
          vars[a] = code[pc + 3];
          vars[a + 1] = code[pc + 4];
          pc += 5;
          continue;
        }
        case Op.setw_32: {
          const a = code[pc + 1] | (code[pc + 2] << 8);
          vars[a] = code[pc + 3];
          vars[a + 1] = code[pc + 4];
          vars[a + 2] = code[pc + 5];
          vars[a + 3] = code[pc + 6];
          pc += 7;
          continue;
        }
        case Op.mov_8:
          vars[code[pc + 1]] = vars[code[pc + 2]];
          pc += 3;
          continue;
        case Op.mov_16:
          vars.copyWithin(code[pc + 1], code[pc + 2], code[pc + 2] + 2);
          pc += 3;
          continue;
        case Op.mov_32:
          vars.copyWithin(code[pc + 1], code[pc + 2], code[pc + 2] + 4);
          pc += 3;
          continue;
        case Op.movw_8:
          vars[code[pc + 1] | (code[pc + 2] << 8)] = vars[code[pc + 3] | (code[pc + 4] << 8)];
          pc += 5;
          continue;
        case Op.movw_16:
        case Op.movw_32: {
          const s = code[pc + 3] | (code[pc + 4] << 8);
          vars.copyWithin(code[pc + 1] | (code[pc + 2] << 8), s, s + (code[pc] === Op.movw_16 ? 2 : 4));
          pc += 5;
          continue;
        }
        case Op.copy: {
          const s = code[pc + 3] | (code[pc + 4] << 8);
          vars.copyWithin(code[pc + 1] | (code[pc + 2] << 8), s, s + code[pc + 5]);
          pc += 6;
          continue;
        }
        case Op.inc_8:
          vars[code[pc + 1]]++;
          pc += 2;
          continue;
        case Op.inc_16: {
          const a = code[pc + 1];
          const v = (vars[a] | (vars[a + 1] << 8)) + 1;
          vars[a] = v;
          vars[a + 1] = v >> 8;
          pc += 2;
          continue;
        }
        case Op.inc_32: {
          const a = code[pc + 1];
          varsDv.setInt32(a, varsDv.getInt32(a, true) + 1, true);
          pc += 2;
          continue;
        }
        case Op.incw_8:
          vars[code[pc + 1] | (code[pc + 2] << 8)]++;
          pc += 3;
          continue;
        case Op.incw_16: {
          const a = code[pc + 1] | (code[pc + 2] << 8);
          const v = (vars[a] | (vars[a + 1] << 8)) + 1;
          vars[a] = v;
          vars[a + 1] = v >> 8;
          pc += 3;
          continue;
        }
        case Op.incw_32: {
          const a = code[pc + 1] | (code[pc + 2] << 8);
          varsDv.setInt32(a, varsDv.getInt32(a, true) + 1, true);
          pc += 3;
          continue;
        }
        case Op.dec_8:
          vars[code[pc + 1]]--;
          pc += 2;
          continue;
        case Op.dec_16: {
          const a = code[pc + 1];
          const v = (vars[a] | (vars[a + 1] << 8)) - 1;
          vars[a] = v;
          vars[a + 1] = v >> 8;
          pc += 2;
          continue;
        }
        case Op.dec_32: {
          const a = code[pc + 1];
          varsDv.setInt32(a, varsDv.getInt32(a, true) - 1, true);
          pc += 2;
          continue;
        }
        case Op.decw_8:
          vars[code[pc + 1] | (code[pc + 2] << 8)]--;
          pc += 3;
          continue;
        case Op.decw_16: {
          const a = code[pc + 1] | (code[pc + 2] << 8);
          const v = (vars[a] | (vars[a + 1] << 8)) - 1;
          vars[a] = v;
          vars[a + 1] = v >> 8;
          pc += 3;
          continue;
        }
        case Op.decw_32: {
          const a = code[pc + 1] | (code[pc + 2] << 8);
          varsDv.setInt32(a, varsDv.getInt32(a, true) - 1, true);
          pc += 3;
          continue;
        }

        // ---- integer arithmetic (cells are int32: Int32Array stores wrap)
        case Op.add: {
          const b = stk[--sp];
          stk[sp - 1] = stk[sp - 1] + b;
          pc++;
          continue;
        }
        case Op.sub: {
          const b = stk[--sp];
          stk[sp - 1] = stk[sp - 1] - b;
          pc++;
          continue;
        }
        case Op.mul: {
          const b = stk[--sp];
          stk[sp - 1] = Math.imul(stk[sp - 1], b);
          pc++;
          continue;
        }
        case Op.div: {
          const b = stk[--sp];
          if (b === 0) {
            stk[sp - 1] = 0;
            this.raise(ERR_DIV_ZERO, pc);
          } else stk[sp - 1] = stk[sp - 1] / b; // truncates on the int32 store; INT_MIN / -1 wraps to INT_MIN
          pc++;
          continue;
        }
        case Op.divu: {
          const b = stk[--sp] >>> 0;
          if (b === 0) {
            stk[sp - 1] = 0;
            this.raise(ERR_DIV_ZERO, pc);
          } else stk[sp - 1] = (stk[sp - 1] >>> 0) / b;
          pc++;
          continue;
        }
        case Op.mod: {
          const b = stk[--sp];
          if (b === 0) {
            stk[sp - 1] = 0;
            this.raise(ERR_DIV_ZERO, pc);
          } else stk[sp - 1] = stk[sp - 1] % b;
          pc++;
          continue;
        }
        case Op.modu: {
          const b = stk[--sp] >>> 0;
          if (b === 0) {
            stk[sp - 1] = 0;
            this.raise(ERR_DIV_ZERO, pc);
          } else stk[sp - 1] = (stk[sp - 1] >>> 0) % b;
          pc++;
          continue;
        }
        case Op.and: {
          const b = stk[--sp];
          stk[sp - 1] &= b;
          pc++;
          continue;
        }
        case Op.or: {
          const b = stk[--sp];
          stk[sp - 1] |= b;
          pc++;
          continue;
        }
        case Op.xor: {
          const b = stk[--sp];
          stk[sp - 1] ^= b;
          pc++;
          continue;
        }
        case Op.shl: {
          const b = stk[--sp];
          stk[sp - 1] <<= b;
          pc++;
          continue;
        }
        case Op.shr: {
          const b = stk[--sp];
          stk[sp - 1] >>= b;
          pc++;
          continue;
        }
        case Op.shru: {
          const b = stk[--sp];
          stk[sp - 1] = stk[sp - 1] >>> b;
          pc++;
          continue;
        }
        case Op.eq: {
          const b = stk[--sp];
          stk[sp - 1] = stk[sp - 1] === b ? 1 : 0;
          pc++;
          continue;
        }
        case Op.ne: {
          const b = stk[--sp];
          stk[sp - 1] = stk[sp - 1] !== b ? 1 : 0;
          pc++;
          continue;
        }
        case Op.lt: {
          const b = stk[--sp];
          stk[sp - 1] = stk[sp - 1] < b ? 1 : 0;
          pc++;
          continue;
        }
        case Op.ltu: {
          const b = stk[--sp] >>> 0;
          stk[sp - 1] = stk[sp - 1] >>> 0 < b ? 1 : 0;
          pc++;
          continue;
        }
        case Op.le: {
          const b = stk[--sp];
          stk[sp - 1] = stk[sp - 1] <= b ? 1 : 0;
          pc++;
          continue;
        }
        case Op.leu: {
          const b = stk[--sp] >>> 0;
          stk[sp - 1] = stk[sp - 1] >>> 0 <= b ? 1 : 0;
          pc++;
          continue;
        }
        case Op.gt: {
          const b = stk[--sp];
          stk[sp - 1] = stk[sp - 1] > b ? 1 : 0;
          pc++;
          continue;
        }
        case Op.gtu: {
          const b = stk[--sp] >>> 0;
          stk[sp - 1] = stk[sp - 1] >>> 0 > b ? 1 : 0;
          pc++;
          continue;
        }
        case Op.ge: {
          const b = stk[--sp];
          stk[sp - 1] = stk[sp - 1] >= b ? 1 : 0;
          pc++;
          continue;
        }
        case Op.geu: {
          const b = stk[--sp] >>> 0;
          stk[sp - 1] = stk[sp - 1] >>> 0 >= b ? 1 : 0;
          pc++;
          continue;
        }
        case Op.land: {
          const b = stk[--sp];
          stk[sp - 1] = stk[sp - 1] !== 0 && b !== 0 ? 1 : 0;
          pc++;
          continue;
        }
        case Op.lor: {
          const b = stk[--sp];
          stk[sp - 1] = stk[sp - 1] !== 0 || b !== 0 ? 1 : 0;
          pc++;
          continue;
        }
        case Op.neg:
          stk[sp - 1] = -stk[sp - 1];
          pc++;
          continue;
        case Op.bnot:
          stk[sp - 1] = ~stk[sp - 1];
          pc++;
          continue;
        case Op.lnot:
          stk[sp - 1] = stk[sp - 1] === 0 ? 1 : 0;
          pc++;
          continue;
        case Op.ext_u8:
          stk[sp - 1] &= 0xff;
          pc++;
          continue;
        case Op.ext_i8:
          stk[sp - 1] = (stk[sp - 1] << 24) >> 24;
          pc++;
          continue;
        case Op.ext_u16:
          stk[sp - 1] &= 0xffff;
          pc++;
          continue;
        case Op.ext_i16:
          stk[sp - 1] = (stk[sp - 1] << 16) >> 16;
          pc++;
          continue;

        // ---- float (binary32 bits in cells; results rounded to binary32, NaN canonical)
        case Op.addf:
        case Op.subf:
        case Op.mulf:
        case Op.divf: {
          const op = code[pc];
          i32[0] = stk[--sp];
          const b = f32[0];
          i32[0] = stk[sp - 1];
          const a = f32[0];
          const r = op === Op.addf ? a + b : op === Op.subf ? a - b : op === Op.mulf ? a * b : a / b;
          if (r !== r) stk[sp - 1] = CANONICAL_NAN;
          else {
            f32[0] = r;
            stk[sp - 1] = i32[0];
          }
          pc++;
          continue;
        }
        case Op.eqf:
        case Op.nef:
        case Op.ltf:
        case Op.lef:
        case Op.gtf:
        case Op.gef: {
          const op = code[pc];
          i32[0] = stk[--sp];
          const b = f32[0];
          i32[0] = stk[sp - 1];
          const a = f32[0];
          const r = op === Op.eqf ? a === b : op === Op.nef ? a !== b : op === Op.ltf ? a < b : op === Op.lef ? a <= b : op === Op.gtf ? a > b : a >= b;
          stk[sp - 1] = r ? 1 : 0;
          pc++;
          continue;
        }
        case Op.negf:
          stk[sp - 1] ^= 0x80000000;
          pc++;
          continue;
        case Op.i2f:
          f32[0] = stk[sp - 1];
          stk[sp - 1] = i32[0];
          pc++;
          continue;
        case Op.u2f:
          f32[0] = stk[sp - 1] >>> 0;
          stk[sp - 1] = i32[0];
          pc++;
          continue;
        case Op.f2i: {
          i32[0] = stk[sp - 1];
          const x = f32[0];
          stk[sp - 1] = x !== x ? 0 : x >= 2147483648 ? 2147483647 : x <= -2147483648 ? -2147483648 : x | 0;
          pc++;
          continue;
        }
        case Op.f2u: {
          i32[0] = stk[sp - 1];
          const x = f32[0];
          stk[sp - 1] = !(x > 0) ? 0 : x >= 4294967296 ? -1 : x >>> 0;
          pc++;
          continue;
        }

        default:
          // unreachable for a verified capsule
          this.faultAt(ERR_WATCHDOG, pc, `unassigned opcode 0x${code[pc].toString(16)} at 0x${pc.toString(16)}`);
          tp = 0;
          break;
      }
      // The trail halted: run the next pending track, if any.
      if (watchdog && n > limit && !this._halted) {
        this.faultAt(ERR_WATCHDOG, pc, `reaction exceeded the limit of ${limit} instructions`);
        tp = 0;
      }
      if (tp === 0) break;
      pc = track[--tp];
      sp = 0;
    }
    const st = this.stats;
    st.reactions++;
    st.instructions += n;
    if (n > st.maxReactionInstructions) st.maxReactionInstructions = n;
    this.lastReactionInstructions = n;
    done++;
    // stored here, in the hot path, rather than after the loop: a store that only runs on the way
    // out has no type feedback when V8 optimizes a long chain on-stack, and deoptimizes it on every exit
    this.tp = tp;
    if (done >= chain || this.qCount === 0 || this.errCount !== 0 || dueNow || this._halted) break;
    n = 0;
    pc = K.RUN_INPUT;
    }
    return done;
  }
}
