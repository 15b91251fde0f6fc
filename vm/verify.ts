/**
 * The capsule verifier (docs/vm.md, "Verifier"). Every capsule is decoded and
 * verified before a Vm runs it; whatever passes never reads or writes outside
 * the VM's memory and never jumps to an unverified pc. All per-instruction
 * facts (operand kinds, stack effects, flow, slot roles, memory accesses) come
 * from the ISA table in vm/isa.ts.
 *
 * Rules, in the order they are checked:
 *  1. header: the code is 1..MAX_CODE_BYTES bytes; a capsule with the Float
 *     flag is rejected by a VM without float support;
 *  2. linear sweep from pc 0: every opcode assigned, no instruction runs past
 *     the end of the code, the last instruction does not fall or resume past
 *     the end; float instructions rejected without float support;
 *  3. per instruction: code targets (rel8, abs16: jumps, branches, spawn, fin,
 *     finend, yield, kill/killf regions) are instruction starts; var-area
 *     accesses (every a8/a16 operand, with the width, length or whole array
 *     of the ISA's `mem`; `pusha` one byte) lie inside `varBytes`; `evget`
 *     fits the event-data buffer; slot operands and ranges (kill/killf) are
 *     below `slots`; each slot gets one role from one instruction (fin slots
 *     are shared by `fin`/`finend`, async gates by `async`/`yield`);
 *     `emit` names an internal event of the capsule;
 *  4. the entry point is an instruction start;
 *  5. a killf finalizer range holds only finalizer (or unused) slots;
 *  6. tables: an input id is listed once, and the two ERROR ids (0, 1) are
 *     forms of one input; each gate list names base slots of gates of the
 *     matching role, ascending, no slot in two places;
 *  7. eval stack, in one sweep in code order: no underflow, at most
 *     `stackCells`, empty once a `sync` instruction, a jump or a branch has
 *     taken its operands, and empty where an instruction falls into a join
 *     point (the entry point, a trail entry, a jump or branch target). The
 *     depth at every instruction is then that of the instruction before (0
 *     after one that does not fall through) on every path, and the check is
 *     one sweep with a bitmap of join points (the C loader's scratch);
 *  8. `trackDepth` covers the track-stack bound of docs/vm.md.
 */
import {
  type Capsule, CapsuleError, CapsuleFlags, HEADER_BYTES, NO_EVENT_ID, type Sha256, decodeCapsule,
} from "./capsule";
import { type DecodedInstr, decodeInstr, hex4, isTargetKind } from "./encode";
import {
  EVENT_DATA_BYTES, FLOAT_INSTRS, MAX_CODE_BYTES, type SlotRole, TRACK_PUSHERS, popsOf,
} from "./isa";

/** Config ids of the ERROR input (Terra's convention): filtered by error code, and unfiltered. */
export const ERROR_FILTERED_ID = 0;
export const ERROR_ANY_ID = 1;

/** A capsule that passed verification, with what the engine precomputes from it. */
export interface VerifiedCapsule extends Capsule {
  /** Config input id (0..255) -> index into `inputs`, or -1 when the script does not await it. */
  readonly inputIndex: Int16Array;
  /** Index into `inputs` of the ERROR input (ids 0 and 1), or -1. */
  readonly errorInput: number;
  /** Deepest eval stack any path reaches (cells). */
  readonly maxStack: number;
  /** The track-stack bound of docs/vm.md that `trackDepth` must cover. */
  readonly trackBound: number;
  /** Slots the instructions and tables use (highest slot + 1). */
  readonly slotsUsed: number;
  /** The code contains float instructions. */
  readonly usesFloat: boolean;
  /** 1 at every pc where an instruction starts. */
  readonly instrStarts: Uint8Array;
}

/** A rejected capsule: `offset` is the byte of the capsule file at fault, `pc` the code offset when it is in the code. */
export class VerifyError extends Error {
  readonly pc: number | undefined;
  readonly offset: number;
  readonly reason: string;
  constructor(reason: string, offset: number, pc?: number) {
    super(pc !== undefined ? `code offset 0x${hex4(pc)} (capsule byte ${offset}): ${reason}` : `capsule byte ${offset}: ${reason}`);
    this.name = "VerifyError";
    this.pc = pc;
    this.offset = offset;
    this.reason = reason;
  }
}

export interface VerifyOptions {
  /** The VM supports float instructions (default true). */
  float?: boolean;
}

const verified = new WeakSet<object>();

/** True for objects returned by verifyCapsule/loadCapsule (the Vm only runs those). */
export function isVerified(c: object): c is VerifiedCapsule {
  return verified.has(c);
}

/** Header byte offsets of the fields the verifier reports on. */
const H_FLAGS = 3, H_CODE_BYTES = 12, H_TRACK = 18, H_ENTRY = 20;

/** Slot roles several instructions may share: a finalizer (fin + finend) and an async gate (async + its yields). */
const SHARED_ROLES: ReadonlySet<SlotRole> = new Set<SlotRole>(["fin", "gate-async"]);

const ROLE_NAME: Record<SlotRole, string> = {
  "gate-input": "an input gate", "gate-timer": "a timer gate", "gate-int": "an internal-event gate",
  "gate-async": "an async gate", counter: "a par/and counter", fin: "a finalizer",
};

/** Byte offsets of the table entries inside the capsule file (same layout as capsule.ts encodes). */
interface TableOffsets {
  inputIds: number[]; // offset of filteredId (anyId is +1)
  inputGates: number[][];
  timers: number[];
  internals: number[][];
  asyncs: number[];
  end: number; // first code byte
}

function tableOffsets(c: Capsule): TableOffsets {
  let p = HEADER_BYTES + 1;
  const inputIds: number[] = [];
  const inputGates: number[][] = [];
  for (const i of c.inputs) {
    inputIds.push(p);
    p += 3;
    inputGates.push(i.gates.map((_, k) => p + k));
    p += i.gates.length;
  }
  p += 1;
  const timers = c.timers.map((_, k) => p + k);
  p += c.timers.length + 1;
  const internals: number[][] = [];
  for (const g of c.internals) {
    p += 1;
    internals.push(g.map((_, k) => p + k));
    p += g.length;
  }
  p += 1;
  const asyncs = c.asyncs.map((_, k) => p + k);
  p += c.asyncs.length;
  return { inputIds, inputGates, timers, internals, asyncs, end: p };
}

/** What verification computes about a capsule (see `requiredBounds`). */
export interface CapsuleAnalysis {
  maxStack: number;
  trackBound: number;
  slotsUsed: number;
  usesFloat: boolean;
  instrStarts: Uint8Array;
  inputIndex: Int16Array;
  errorInput: number;
}

/** A jump or a branch: control may go on at its code target. */
const takesTarget = (spec: DecodedInstr["spec"]): boolean => spec.flow === "jump" || spec.flow === "branch";

function analyse(c: Capsule, opts: VerifyOptions, checkBounds: boolean): CapsuleAnalysis {
  const floatOk = opts.float ?? true;
  const code = c.code;
  const len = code.length;
  const offs = tableOffsets(c);
  const base = offs.end;
  const fail = (reason: string, pc?: number, offset?: number): never => {
    throw new VerifyError(reason, offset ?? (pc !== undefined ? base + pc : 0), pc);
  };

  // 1. header
  if (len === 0) fail("the code is empty", undefined, H_CODE_BYTES);
  if (len > MAX_CODE_BYTES) fail(`code of ${len} bytes exceeds the ${MAX_CODE_BYTES}-byte limit`, undefined, H_CODE_BYTES);
  if (!floatOk && (c.flags & CapsuleFlags.Float) !== 0) {
    fail("the capsule uses float (Float flag set) and this VM has no float support", undefined, H_FLAGS);
  }

  // 2. linear sweep
  const instrs: (DecodedInstr | undefined)[] = new Array(len);
  const starts = new Uint8Array(len + 1);
  let usesFloat = false;
  for (let pc = 0; pc < len;) {
    const d = decodeInstr(code, pc);
    if ("error" in d) return fail(d.error, pc);
    if (FLOAT_INSTRS.has(d.spec.name)) {
      usesFloat = true;
      if (!floatOk) fail(`float instruction ${d.spec.name} and this VM has no float support`, pc);
    }
    instrs[pc] = d;
    starts[pc] = 1;
    if (d.next === len) {
      if (d.spec.flow === "seq" || d.spec.flow === "branch") {
        fail(`execution falls through past the end of the code after ${d.spec.name}`, pc);
      }
      if (d.spec.resumesNext) fail(`${d.spec.name} resumes its trail past the end of the code`, pc);
    }
    pc = d.next;
  }
  const isStart = (t: number) => t >= 0 && t < len && starts[t] === 1;

  // 3. per-instruction operand checks (and the join points of step 7: entry operands, jump and branch targets)
  const join = new Uint8Array(len);
  const role: (SlotRole | undefined)[] = new Array(c.slots).fill(undefined);
  const isBase = new Uint8Array(c.slots);
  const owner: number[] = new Array(c.slots).fill(-1);
  let slotsUsed = 0;
  const killfs: DecodedInstr[] = [];
  const killfPcs: number[] = [];
  let pushers = 0;
  for (let pc = 0; pc < len; pc++) {
    const d = instrs[pc];
    if (!d) continue;
    const { spec, operands: o } = d;
    const name = spec.name;
    if (TRACK_PUSHERS.has(name)) pushers++;
    // code targets
    const jumps = takesTarget(spec);
    for (let i = 0; i < spec.operands.length; i++) {
      if (!isTargetKind(spec.operands[i])) continue;
      const t = o[i];
      if (!isStart(t)) {
        const kind = jumps ? "jump" : name;
        const what = `${kind} target ${t < 0 ? `-0x${hex4(-t)}` : `0x${hex4(t)}`}`;
        if (t < 0 || t >= len) fail(`${what} is outside the code (0x${hex4(len)} bytes)`, pc);
        let s = t;
        while (s > 0 && !starts[s]) s--;
        fail(`${what} is inside the instruction at 0x${hex4(s)}`, pc);
      }
      if (jumps || i === spec.entry) join[t] = 1;
    }
    // var-area accesses
    const mem = spec.mem;
    const lenOp = spec.operands.indexOf("n8");
    for (let i = 0; i < spec.operands.length; i++) {
      const k = spec.operands[i];
      if (k !== "a8" && k !== "a16") continue;
      let bytes: number;
      let what: string;
      if (!mem) {
        bytes = 1;
        what = "address";
      } else if (mem.width === "len") {
        bytes = o[lenOp];
        what = `${bytes} bytes`;
      } else if (mem.count !== undefined) {
        bytes = mem.width * o[mem.count];
        what = `an array of ${o[mem.count]} × ${mem.width} bytes`;
      } else {
        bytes = mem.width;
        what = `${bytes} bytes`;
      }
      const a = o[i];
      if (a + bytes > c.varBytes || (bytes === 0 && a > c.varBytes)) {
        fail(`${name} accesses ${what} at var address ${a}, outside the ${c.varBytes}-byte var area`, pc);
      }
    }
    if (name === "evget" && o[1] > EVENT_DATA_BYTES) {
      fail(`evget of ${o[1]} bytes exceeds the ${EVENT_DATA_BYTES}-byte event data buffer`, pc);
    }
    // slot operands (a slot followed by a count, as in kill/killf, starts a range: checked below)
    for (let i = 0; i < spec.operands.length; i++) {
      if (spec.operands[i] !== "slot") continue;
      if (!spec.slot && spec.operands[i + 1] === "n8") continue;
      const s = o[i];
      if (s >= c.slots) fail(`slot ${s} is out of range (the capsule has ${c.slots} slots)`, pc);
      slotsUsed = Math.max(slotsUsed, s + 1);
    }
    if (name === "kill" || name === "killf") {
      const [s, n] = o;
      if (s + n > c.slots) fail(`${name} clears slots [${s}, ${s + n}), beyond the capsule's ${c.slots} slots`, pc);
      slotsUsed = Math.max(slotsUsed, s + n);
      if (name === "killf") {
        const f = o[3], m = o[4];
        if (f + m > c.slots) fail(`killf runs finalizer slots [${f}, ${f + m}), beyond the capsule's ${c.slots} slots`, pc);
        slotsUsed = Math.max(slotsUsed, f + m);
        killfs.push(d);
        killfPcs.push(pc);
      }
    }
    if (spec.slot) {
      const s = o[spec.operands.indexOf("slot")];
      const { role: r, count } = spec.slot;
      if (s + count > c.slots) {
        fail(`${name} uses slots [${s}, ${s + count}), beyond the capsule's ${c.slots} slots`, pc);
      }
      slotsUsed = Math.max(slotsUsed, s + count);
      for (let j = s; j < s + count; j++) {
        const prev = role[j];
        if (prev !== undefined && prev !== r) {
          fail(`slot ${j} is used as ${ROLE_NAME[r]} here and as ${ROLE_NAME[prev]} by the instruction at 0x${hex4(owner[j])}`, pc);
        }
        if (prev !== undefined && (!SHARED_ROLES.has(r) || (j === s) !== (isBase[j] === 1))) {
          fail(`slot ${j} is already used (${ROLE_NAME[r]}) by the instruction at 0x${hex4(owner[j])}`, pc);
        }
        if (prev === undefined) {
          role[j] = r;
          owner[j] = pc;
          isBase[j] = j === s ? 1 : 0;
        }
      }
    }
    if (name === "emit" && o[0] >= c.internals.length) {
      fail(`emit names internal event ${o[0]}, the capsule has ${c.internals.length}`, pc);
    }
  }

  // 4. entry point
  if (!isStart(c.entry)) {
    fail(`entry point 0x${hex4(c.entry)} is not the start of an instruction`, undefined, H_ENTRY);
  }

  // 5. killf finalizer ranges hold only finalizer slots
  for (let k = 0; k < killfs.length; k++) {
    const f = killfs[k].operands[3], m = killfs[k].operands[4];
    for (let j = f; j < f + m; j++) {
      const r = role[j];
      if (r !== undefined && r !== "fin") {
        fail(`killf finalizer range [${f}, ${f + m}) includes slot ${j}, ${ROLE_NAME[r]}`, killfPcs[k]);
      }
    }
  }

  // 6. tables
  const inputIndex = new Int16Array(256).fill(-1);
  let errorInput = -1;
  c.inputs.forEach((inp, i) => {
    [inp.filteredId, inp.anyId].forEach((id, k) => {
      if (id === NO_EVENT_ID) return;
      if (!(id >= 0 && id < 256)) fail(`input id ${id} is not a byte`, undefined, offs.inputIds[i] + k);
      if (inputIndex[id] !== -1) fail(`input id ${id} is listed twice in the input table`, undefined, offs.inputIds[i] + k);
      inputIndex[id] = i;
      if (id === ERROR_FILTERED_ID || id === ERROR_ANY_ID) {
        if (errorInput !== -1 && errorInput !== i) {
          fail(`the ERROR input's two forms (ids ${ERROR_FILTERED_ID} and ${ERROR_ANY_ID}) are in different input tables`, undefined, offs.inputIds[i] + k);
        }
        errorInput = i;
      }
    });
  });
  const listed = new Uint8Array(256);
  const checkList = (gates: readonly number[], at: readonly number[], want: SlotRole, what: string) => {
    let prev = -1;
    gates.forEach((g, k) => {
      const off = at[k];
      if (!(g >= 0 && g < c.slots)) fail(`${what} lists slot ${g}, out of range (the capsule has ${c.slots} slots)`, undefined, off);
      if (g === prev) fail(`${what} lists slot ${g} twice`, undefined, off);
      if (g < prev) fail(`${what} lists slot ${g} after slot ${prev} (gates must be in ascending order)`, undefined, off);
      const r = role[g];
      if (r !== want || !isBase[g]) {
        const is = r === undefined ? "an unused slot" : r === want ? `the second or third slot of ${ROLE_NAME[r]}` : ROLE_NAME[r];
        fail(`${what} lists slot ${g}, which is not ${ROLE_NAME[want]} (it is ${is})`, undefined, off);
      }
      if (listed[g]) fail(`${what} lists slot ${g}, which another table entry already lists`, undefined, off);
      listed[g] = 1;
      prev = g;
    });
  };
  c.inputs.forEach((inp, i) => checkList(inp.gates, offs.inputGates[i], "gate-input", `input table ${i}`));
  checkList(c.timers, offs.timers, "gate-timer", "the timer table");
  c.internals.forEach((g, i) => checkList(g, offs.internals[i], "gate-int", `internal event ${i}`));
  checkList(c.asyncs, offs.asyncs, "gate-async", "the async table");

  // 7. eval stack, one sweep in code order. Control reaches an instruction from the one before it
  // (when that falls through) or as a join point (the entry point, a trail entry, a jump or branch
  // target) with an empty stack: jumps and branches leave the stack empty, and so must whatever
  // falls into a join point. The depth before each instruction is therefore that of the one before,
  // or 0, and is the same on every path.
  join[c.entry] = 1;
  let maxStack = 0;
  const stackLimit = checkBounds ? c.stackCells : 255;
  let din = 0;
  for (let pc = 0; pc < len;) {
    const d = instrs[pc]!;
    const { spec } = d;
    if (join[pc] && din !== 0) {
      fail(`stack not empty at a jump target or trail entry: the instruction before falls into it with ${din} cells`, pc);
    }
    const pops = popsOf(spec, d.operands);
    if (din < pops) fail(`stack underflow: ${spec.name} pops ${pops} with ${din} on the stack`, pc);
    if ((spec.sync || takesTarget(spec)) && din - pops !== 0) {
      fail(`stack not empty at ${spec.name} (${din - pops} cells left): ` +
        (spec.sync ? "control passes to other trails here" : "jumps and branches need an empty eval stack"), pc);
    }
    const dout = din - pops + spec.pushes;
    if (dout > stackLimit) {
      fail(`stack overflow: ${spec.name} leaves ${dout} cells, the capsule allows ${stackLimit}`, pc);
    }
    maxStack = Math.max(maxStack, dout);
    din = spec.flow === "seq" || spec.flow === "branch" ? dout : 0;
    pc = d.next;
  }

  // 8. track-stack bound
  let finSlots = 0;
  for (let j = 0; j < c.slots; j++) if (role[j] === "fin") finSlots++;
  let internalGates = 0;
  for (const g of c.internals) internalGates += g.length;
  let widest = c.timers.length;
  for (const i of c.inputs) widest = Math.max(widest, i.gates.length);
  const trackBound = pushers + finSlots + internalGates + widest;
  if (checkBounds && c.trackDepth < trackBound) {
    fail(
      `trackDepth ${c.trackDepth} is too small: ${pushers} spawn/emit/finend/killf + ${finSlots} finalizers + ` +
        `${internalGates} internal-event gates + ${widest} gates of the widest input or timer list need ${trackBound}`,
      undefined, H_TRACK,
    );
  }
  return { maxStack, trackBound, slotsUsed, usesFloat, instrStarts: starts, inputIndex, errorInput };
}

/**
 * Verify a decoded capsule (docs/vm.md, "Verifier").
 * @throws VerifyError with the capsule byte offset (and code pc) at fault.
 */
export function verifyCapsule(c: Capsule, opts: VerifyOptions = {}): VerifiedCapsule {
  const a = analyse(c, opts, true);
  const v: VerifiedCapsule = {
    ...c,
    inputIndex: a.inputIndex,
    errorInput: a.errorInput,
    maxStack: a.maxStack,
    trackBound: a.trackBound,
    slotsUsed: a.slotsUsed,
    usesFloat: a.usesFloat,
    instrStarts: a.instrStarts,
  };
  Object.freeze(v);
  verified.add(v);
  return v;
}

/**
 * What a capsule needs: the eval-stack depth (`stackCells`), the track-stack
 * bound (`trackDepth`) and the slots it uses, with every other rule checked.
 * For assemblers and tests that build capsules; ignores the capsule's own
 * `stackCells` and `trackDepth` (a stack deeper than 255 cells is still reported).
 */
export function requiredBounds(c: Capsule, opts: VerifyOptions = {}): { stackCells: number; trackDepth: number; slots: number } {
  const a = analyse(c, opts, false);
  return { stackCells: a.maxStack, trackDepth: a.trackBound, slots: a.slotsUsed };
}

/**
 * Decode (vm/capsule.ts), check the body hash when `sha256` is given, and verify.
 * @throws CapsuleError for a malformed capsule or hash mismatch, VerifyError for code that fails verification.
 */
export function loadCapsule(bytes: Uint8Array, opts: { sha256?: Sha256; float?: boolean } = {}): VerifiedCapsule {
  const c = decodeCapsule(bytes, opts.sha256);
  return verifyCapsule(c, { float: opts.float });
}

export { CapsuleError };
