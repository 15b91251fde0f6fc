/**
 * The Terra-TS instruction set: the single table from which the compiler's
 * assembler, the TypeScript decoder and verifier, the disassembler, the C
 * opcode header (firmware-host/core/opcodes.h) and docs/isa.md are derived.
 *
 * Design (see docs/vm.md): a byte-coded CISC machine in the spirit of Terra's
 * VM-T (seed 003 §5). One opcode byte, then fixed-size little-endian operands.
 * Width variants (8/16-bit addresses, 8/16/32-bit constants) are separate
 * opcodes so that common code stays small. Expressions evaluate on a stack of
 * 32-bit cells; variables live in one byte array (the var area), addressed
 * from 0; the scheduler's state lives in 16-bit control slots (gates,
 * deadlines, par/and counters, finalizers) that no load or store can reach.
 */

/** How an operand is encoded and what it refers to. */
export type OperandKind =
  | "u8" // unsigned byte immediate
  | "i8" // signed byte immediate
  | "u16" // unsigned 16-bit immediate
  | "i16" // signed 16-bit immediate
  | "i32" // 32-bit immediate (signed, or bits of a float)
  | "u32" // unsigned 32-bit immediate
  | "a8" // var-area address 0..255
  | "a16" // var-area address 0..65535
  | "slot" // control slot index 0..255
  | "rel8" // code target, signed offset from the end of this instruction
  | "abs16" // code target, absolute offset in the code section
  | "out" // output event id (configuration's numeric id)
  | "fn" // function id (configuration's numeric id)
  | "iev" // internal event index into the capsule's internal-event table
  | "n8"; // small count or byte length

/** Bytes an operand of each kind takes. */
export const OPERAND_SIZE: Record<OperandKind, number> = {
  u8: 1, i8: 1, u16: 2, i16: 2, i32: 4, u32: 4, a8: 1, a16: 2, slot: 1,
  rel8: 1, abs16: 2, out: 1, fn: 1, iev: 1, n8: 1,
};

/**
 * Control flow of an instruction, for the verifier's CFG walk and the
 * compiler's reaction-bound analysis.
 * - seq: continues at the next instruction
 * - jump: continues at its target only
 * - branch: pops a condition; next instruction or target
 * - halt: the trail stops here (await, halt, term); nothing follows in this reaction
 */
export type Flow = "seq" | "jump" | "branch" | "halt";

/** Role an instruction gives to the control slot named by its `slot` operand. */
export type SlotRole =
  | "gate-input" // input gate: pc (+ filter flag), and for filtered awaits the aux in slot+1
  | "gate-timer" // timer gate: pc, deadline (u32) in slot+1..slot+2
  | "gate-int" // internal-event gate: pc
  | "gate-async" // async gate: pc of the next slice
  | "counter" // par/and join counter
  | "fin"; // finalizer: pc of the finalizer code

export interface InstrSpec {
  /** Mnemonic used by the assembler, disassembler and listing. */
  name: string;
  /** Opcode byte. */
  op: number;
  operands: OperandKind[];
  /** Stack cells popped (a function of the operands for `call`). */
  pops: number | ((operands: number[]) => number);
  /** Stack cells pushed. */
  pushes: number;
  flow: Flow;
  /** The instruction hands control to other trails: the stack must be empty here. */
  sync?: boolean;
  /** Index of the operand that is a new trail entry point (spawn, fin, finend, yield). */
  entry?: number;
  /** The instruction after this one is a trail entry point (await continuations, emit). */
  resumesNext?: boolean;
  /** Role of the `slot` operand, and how many consecutive slots it uses. */
  slot?: { role: SlotRole; count: number };
  /** Bytes the instruction reads or writes in the var area: [address operand, width or length operand]. */
  mem?: { addr: number; width: number | "len"; count?: number };
  /** One-line description for docs/isa.md and the disassembler. */
  doc: string;
}

/** Value types a load/store/extension works on. */
export const LOAD_TYPES = ["u8", "i8", "u16", "i16", "32"] as const;
export type LoadType = (typeof LOAD_TYPES)[number];
export const LOAD_WIDTH: Record<LoadType, number> = { u8: 1, i8: 1, u16: 2, i16: 2, "32": 4 };
export const STORE_WIDTHS = [1, 2, 4] as const;
export type StoreWidth = (typeof STORE_WIDTHS)[number];

const specs: InstrSpec[] = [];
let nextOp = 0;
function def(spec: Omit<InstrSpec, "op">, op?: number): void {
  if (op !== undefined) nextOp = op;
  specs.push({ ...spec, op: nextOp++ });
}
const wname = (w: number) => String(w * 8);

// ---- trails, reactions and control flow (0x00..) -----------------------------
def({ name: "halt", operands: [], pops: 0, pushes: 0, flow: "halt", sync: true,
  doc: "End of trail: run the next pending track, or end the reaction" }, 0x00);
def({ name: "term", operands: [], pops: 0, pushes: 0, flow: "halt", sync: true,
  doc: "Program terminates: every trail is aborted, later inputs and timers do nothing" });
def({ name: "jmp", operands: ["rel8"], pops: 0, pushes: 0, flow: "jump", doc: "Jump" });
def({ name: "jmpw", operands: ["abs16"], pops: 0, pushes: 0, flow: "jump", doc: "Jump (absolute)" });
def({ name: "jz", operands: ["rel8"], pops: 1, pushes: 0, flow: "branch", doc: "Pop; jump if zero" });
def({ name: "jzw", operands: ["abs16"], pops: 1, pushes: 0, flow: "branch", doc: "Pop; jump if zero (absolute)" });
def({ name: "jnz", operands: ["rel8"], pops: 1, pushes: 0, flow: "branch", doc: "Pop; jump if not zero" });
def({ name: "jnzw", operands: ["abs16"], pops: 1, pushes: 0, flow: "branch", doc: "Pop; jump if not zero (absolute)" });
def({ name: "spawn", operands: ["rel8"], pops: 0, pushes: 0, flow: "seq", sync: true, entry: 0,
  doc: "Start a parallel trail at the target: it runs when the current trail halts (LIFO)" });
def({ name: "spawnw", operands: ["abs16"], pops: 0, pushes: 0, flow: "seq", sync: true, entry: 0,
  doc: "Start a parallel trail (absolute target)" });
def({ name: "join", operands: ["slot", "n8"], pops: 0, pushes: 0, flow: "seq", sync: true,
  slot: { role: "counter", count: 1 },
  doc: "par/and rejoin: count one finished trail; continue when all n have finished, else halt" });
def({ name: "kill", operands: ["slot", "n8", "abs16"], pops: 0, pushes: 0, flow: "seq", sync: true,
  doc: "Abort a region: clear slots [s, s+n) and drop pending tracks whose pc is in [target, this pc)" });
def({ name: "killf", operands: ["slot", "n8", "abs16", "slot", "n8"], pops: 0, pushes: 0, flow: "seq", sync: true, resumesNext: true,
  doc: "kill, then run the active finalizers of fin slots [f, f+m) (innermost first) before continuing" });
def({ name: "fin", operands: ["slot", "abs16"], pops: 0, pushes: 0, flow: "seq", sync: true, entry: 1,
  slot: { role: "fin", count: 1 },
  doc: "Arm a finalizer: it runs if the enclosing do-block is aborted" });
def({ name: "finend", operands: ["slot", "abs16"], pops: 0, pushes: 0, flow: "seq", sync: true, entry: 1,
  slot: { role: "fin", count: 1 },
  doc: "Disarm a finalizer and run it now (falls into it); the target is where it returns" });
def({ name: "emit", operands: ["iev"], pops: 0, pushes: 0, flow: "seq", sync: true, resumesNext: true,
  doc: "Emit an internal event: the awaiting trails run (text order), then this trail resumes" });

// ---- awaits ---------------------------------------------------------------------
def({ name: "await", operands: ["slot"], pops: 0, pushes: 0, flow: "halt", sync: true, resumesNext: true,
  slot: { role: "gate-input", count: 1 },
  doc: "Await an input event (any occurrence)" });
def({ name: "awaitx", operands: ["slot"], pops: 1, pushes: 0, flow: "halt", sync: true, resumesNext: true,
  slot: { role: "gate-input", count: 2 },
  doc: "Await an input event whose selector equals the popped value (E(aux))" });
def({ name: "awaitk", operands: ["slot", "u8"], pops: 0, pushes: 0, flow: "halt", sync: true, resumesNext: true,
  slot: { role: "gate-input", count: 2 },
  doc: "Await an input event whose selector equals a constant" });
def({ name: "awaiti", operands: ["slot"], pops: 0, pushes: 0, flow: "halt", sync: true, resumesNext: true,
  slot: { role: "gate-int", count: 1 },
  doc: "Await an internal event" });
def({ name: "awaitt", operands: ["slot", "u8"], pops: 0, pushes: 0, flow: "halt", sync: true, resumesNext: true,
  slot: { role: "gate-timer", count: 3 }, doc: "Await a timer of 1..255 ms" });
def({ name: "awaittw", operands: ["slot", "u16"], pops: 0, pushes: 0, flow: "halt", sync: true, resumesNext: true,
  slot: { role: "gate-timer", count: 3 }, doc: "Await a timer of up to 65535 ms" });
def({ name: "awaitts", operands: ["slot", "u8"], pops: 0, pushes: 0, flow: "halt", sync: true, resumesNext: true,
  slot: { role: "gate-timer", count: 3 }, doc: "Await a timer of 1..255 whole seconds" });
def({ name: "awaitt32", operands: ["slot", "u32"], pops: 0, pushes: 0, flow: "halt", sync: true, resumesNext: true,
  slot: { role: "gate-timer", count: 3 }, doc: "Await a timer of up to 2^32-1 ms" });
def({ name: "awaittv", operands: ["slot"], pops: 1, pushes: 0, flow: "halt", sync: true, resumesNext: true,
  slot: { role: "gate-timer", count: 3 }, doc: "Await a timer of the popped number of ms (unsigned 32-bit)" });
def({ name: "async", operands: ["slot"], pops: 0, pushes: 0, flow: "halt", sync: true, resumesNext: true,
  slot: { role: "gate-async", count: 1 }, doc: "Start an async block: its slices run when the mote is idle" });
def({ name: "yield", operands: ["slot", "abs16"], pops: 0, pushes: 0, flow: "halt", sync: true, entry: 1,
  slot: { role: "gate-async", count: 1 }, doc: "End an async slice; the next slice starts at the target" });

// ---- input data, outputs and functions ----------------------------------------
for (const t of LOAD_TYPES) {
  def({ name: `evld.${t}`, operands: [], pops: 0, pushes: 1, flow: "seq",
    doc: `Push the current input occurrence's scalar value as ${t === "32" ? "a 32-bit value" : t}` });
}
def({ name: "evget", operands: ["a16", "n8"], pops: 0, pushes: 0, flow: "seq", mem: { addr: 0, width: "len" },
  doc: "Copy n bytes of the current input occurrence's data to a variable" });
def({ name: "out", operands: ["out"], pops: 0, pushes: 0, flow: "seq", doc: "Emit an output event without value" });
def({ name: "outv", operands: ["out"], pops: 1, pushes: 0, flow: "seq", doc: "Emit an output event with the popped value" });
def({ name: "outk", operands: ["out", "u8"], pops: 0, pushes: 0, flow: "seq", doc: "Emit an output event with a constant" });
def({ name: "outr", operands: ["out", "a16", "n8"], pops: 0, pushes: 0, flow: "seq", mem: { addr: 1, width: "len" },
  doc: "Emit an output event with a record (n bytes at the address)" });
def({ name: "call", operands: ["fn", "n8"], pops: (o) => o[1], pushes: 1, flow: "seq",
  doc: "Call a function with n popped arguments (first argument deepest); push its result" });
def({ name: "callv", operands: ["fn", "n8"], pops: (o) => o[1], pushes: 0, flow: "seq",
  doc: "Call a function with n popped arguments; discard its result" });

// ---- stack -------------------------------------------------------------------------
def({ name: "push8", operands: ["i8"], pops: 0, pushes: 1, flow: "seq", doc: "Push a constant (-128..127)" });
def({ name: "push16", operands: ["i16"], pops: 0, pushes: 1, flow: "seq", doc: "Push a constant (-32768..32767)" });
def({ name: "push32", operands: ["i32"], pops: 0, pushes: 1, flow: "seq", doc: "Push a 32-bit constant" });
def({ name: "pusha", operands: ["a16"], pops: 0, pushes: 1, flow: "seq", doc: "Push a variable's address (record and pointer arguments)" });
def({ name: "pop", operands: [], pops: 1, pushes: 0, flow: "seq", doc: "Discard the top of the stack" });
def({ name: "dup", operands: [], pops: 1, pushes: 2, flow: "seq", doc: "Duplicate the top of the stack" });

// ---- loads and stores (0x40..) -----------------------------------------------------
nextOp = 0x40;
for (const t of LOAD_TYPES) {
  def({ name: `ld.${t}`, operands: ["a8"], pops: 0, pushes: 1, flow: "seq", mem: { addr: 0, width: LOAD_WIDTH[t] },
    doc: `Push a ${t === "32" ? "32-bit" : t} variable` });
}
for (const t of LOAD_TYPES) {
  def({ name: `ldw.${t}`, operands: ["a16"], pops: 0, pushes: 1, flow: "seq", mem: { addr: 0, width: LOAD_WIDTH[t] },
    doc: `Push a ${t === "32" ? "32-bit" : t} variable (16-bit address)` });
}
for (const w of STORE_WIDTHS) {
  def({ name: `st.${wname(w)}`, operands: ["a8"], pops: 1, pushes: 0, flow: "seq", mem: { addr: 0, width: w },
    doc: `Pop into a ${w}-byte variable (wraps)` });
}
for (const w of STORE_WIDTHS) {
  def({ name: `stw.${wname(w)}`, operands: ["a16"], pops: 1, pushes: 0, flow: "seq", mem: { addr: 0, width: w },
    doc: `Pop into a ${w}-byte variable (16-bit address)` });
}
for (const t of LOAD_TYPES) {
  def({ name: `ldx.${t}`, operands: ["a16", "u16"], pops: 1, pushes: 1, flow: "seq",
    mem: { addr: 0, width: LOAD_WIDTH[t], count: 1 },
    doc: `Pop an index; push element of a ${t} array of n elements (out of range: 0 and ERROR 11)` });
}
for (const w of STORE_WIDTHS) {
  def({ name: `stx.${wname(w)}`, operands: ["a16", "u16"], pops: 2, pushes: 0, flow: "seq",
    mem: { addr: 0, width: w, count: 1 },
    doc: `Pop a value, then an index; store into an array of n ${w}-byte elements (out of range: skipped, ERROR 11)` });
}

// ---- memory to memory (0x60..) ------------------------------------------------------
nextOp = 0x60;
const IMM: Record<StoreWidth, OperandKind> = { 1: "u8", 2: "u16", 4: "i32" };
for (const w of STORE_WIDTHS) {
  def({ name: `set.${wname(w)}`, operands: ["a8", IMM[w]], pops: 0, pushes: 0, flow: "seq", mem: { addr: 0, width: w },
    doc: `Store a constant into a ${w}-byte variable` });
}
for (const w of STORE_WIDTHS) {
  def({ name: `setw.${wname(w)}`, operands: ["a16", IMM[w]], pops: 0, pushes: 0, flow: "seq", mem: { addr: 0, width: w },
    doc: `Store a constant into a ${w}-byte variable (16-bit address)` });
}
for (const w of STORE_WIDTHS) {
  def({ name: `mov.${wname(w)}`, operands: ["a8", "a8"], pops: 0, pushes: 0, flow: "seq", mem: { addr: 0, width: w },
    doc: `Copy a ${w}-byte variable to another (destination first)` });
}
for (const w of STORE_WIDTHS) {
  def({ name: `movw.${wname(w)}`, operands: ["a16", "a16"], pops: 0, pushes: 0, flow: "seq", mem: { addr: 0, width: w },
    doc: `Copy a ${w}-byte variable to another (16-bit addresses, destination first)` });
}
def({ name: "copy", operands: ["a16", "a16", "n8"], pops: 0, pushes: 0, flow: "seq", mem: { addr: 0, width: "len" },
  doc: "Copy n bytes (records, packets): destination, source, length" });
for (const w of STORE_WIDTHS) {
  def({ name: `inc.${wname(w)}`, operands: ["a8"], pops: 0, pushes: 0, flow: "seq", mem: { addr: 0, width: w },
    doc: `Increment a ${w}-byte variable (wraps)` });
}
for (const w of STORE_WIDTHS) {
  def({ name: `incw.${wname(w)}`, operands: ["a16"], pops: 0, pushes: 0, flow: "seq", mem: { addr: 0, width: w },
    doc: `Increment a ${w}-byte variable (16-bit address)` });
}
for (const w of STORE_WIDTHS) {
  def({ name: `dec.${wname(w)}`, operands: ["a8"], pops: 0, pushes: 0, flow: "seq", mem: { addr: 0, width: w },
    doc: `Decrement a ${w}-byte variable (wraps)` });
}
for (const w of STORE_WIDTHS) {
  def({ name: `decw.${wname(w)}`, operands: ["a16"], pops: 0, pushes: 0, flow: "seq", mem: { addr: 0, width: w },
    doc: `Decrement a ${w}-byte variable (16-bit address)` });
}

// ---- arithmetic on 32-bit cells (0x80..) ----------------------------------------------
nextOp = 0x80;
/** Binary integer operators, in opcode order: [mnemonic, description]. */
export const BINARY_OPS: ReadonlyArray<readonly [string, string]> = [
  ["add", "a + b"], ["sub", "a - b"], ["mul", "a * b"],
  ["div", "a / b signed, truncating (b = 0: 0 and ERROR 10)"],
  ["divu", "a / b unsigned (b = 0: 0 and ERROR 10)"],
  ["mod", "a % b signed (b = 0: 0 and ERROR 10)"],
  ["modu", "a % b unsigned (b = 0: 0 and ERROR 10)"],
  ["and", "a & b"], ["or", "a | b"], ["xor", "a ^ b"],
  ["shl", "a << (b & 31)"], ["shr", "a >> (b & 31), arithmetic"], ["shru", "a >> (b & 31), logical"],
  ["eq", "a == b"], ["ne", "a != b"],
  ["lt", "a < b signed"], ["ltu", "a < b unsigned"], ["le", "a <= b signed"], ["leu", "a <= b unsigned"],
  ["gt", "a > b signed"], ["gtu", "a > b unsigned"], ["ge", "a >= b signed"], ["geu", "a >= b unsigned"],
  ["land", "a and b (both evaluated; 0 or 1)"], ["lor", "a or b (both evaluated; 0 or 1)"],
];
for (const [name, what] of BINARY_OPS) {
  def({ name, operands: [], pops: 2, pushes: 1, flow: "seq", doc: `Pop b, pop a; push ${what}` });
}
def({ name: "neg", operands: [], pops: 1, pushes: 1, flow: "seq", doc: "Push -a" });
def({ name: "bnot", operands: [], pops: 1, pushes: 1, flow: "seq", doc: "Push ~a" });
def({ name: "lnot", operands: [], pops: 1, pushes: 1, flow: "seq", doc: "Push not a (0 or 1)" });
for (const t of ["u8", "i8", "u16", "i16"] as const) {
  def({ name: `ext.${t}`, operands: [], pops: 1, pushes: 1, flow: "seq", doc: `Wrap the top of the stack to ${t} (casts)` });
}

// ---- float (IEEE-754 binary32 bits in a cell) (0xA0..) --------------------------------
nextOp = 0xa0;
/** Binary float operators, in opcode order. */
export const FLOAT_BINARY_OPS: ReadonlyArray<readonly [string, string]> = [
  ["addf", "a + b"], ["subf", "a - b"], ["mulf", "a * b"], ["divf", "a / b (IEEE: b = 0 gives inf or NaN)"],
  ["eqf", "a == b"], ["nef", "a != b"], ["ltf", "a < b"], ["lef", "a <= b"], ["gtf", "a > b"], ["gef", "a >= b"],
];
for (const [name, what] of FLOAT_BINARY_OPS) {
  def({ name, operands: [], pops: 2, pushes: 1, flow: "seq", doc: `Float: pop b, pop a; push ${what}` });
}
def({ name: "negf", operands: [], pops: 1, pushes: 1, flow: "seq", doc: "Float: push -a" });
def({ name: "i2f", operands: [], pops: 1, pushes: 1, flow: "seq", doc: "Signed 32-bit integer to float" });
def({ name: "u2f", operands: [], pops: 1, pushes: 1, flow: "seq", doc: "Unsigned 32-bit integer to float" });
def({ name: "f2i", operands: [], pops: 1, pushes: 1, flow: "seq", doc: "Float to signed integer (truncates; NaN: 0; saturates)" });
def({ name: "f2u", operands: [], pops: 1, pushes: 1, flow: "seq", doc: "Float to unsigned integer (truncates; NaN and negative: 0; saturates)" });

/** Every instruction, in opcode order. */
export const ISA: readonly InstrSpec[] = specs;

/** Opcode byte -> spec (undefined for unassigned opcodes). */
export const BY_OPCODE: ReadonlyArray<InstrSpec | undefined> = (() => {
  const table: (InstrSpec | undefined)[] = new Array(256).fill(undefined);
  for (const s of specs) {
    if (s.op > 255 || table[s.op]) throw new Error(`isa: opcode ${s.op} of ${s.name} is taken or out of range`);
    table[s.op] = s;
  }
  return table;
})();

/** Mnemonic -> spec. */
export const BY_NAME: ReadonlyMap<string, InstrSpec> = new Map(specs.map((s) => [s.name, s]));

/** Opcode of a mnemonic; throws for an unknown mnemonic (a compiler bug, not user input). */
export function opcode(name: string): number {
  const s = BY_NAME.get(name);
  if (!s) throw new Error(`isa: unknown mnemonic ${name}`);
  return s.op;
}

/** Total size in bytes of an instruction (opcode + operands). */
export function instrSize(spec: InstrSpec): number {
  let n = 1;
  for (const k of spec.operands) n += OPERAND_SIZE[k];
  return n;
}

/** Stack cells an instruction pops, given its decoded operands. */
export function popsOf(spec: InstrSpec, operands: number[]): number {
  return typeof spec.pops === "number" ? spec.pops : spec.pops(operands);
}

/** Flag set in an input gate's pc when the await is filtered (aux in the next slot). */
export const GATE_FILTERED = 0x8000;
/** Code sections are at most this long (gate pcs keep one bit for the filter flag). */
export const MAX_CODE_BYTES = 0x7fff;
/** Capacity, in bytes, of the buffer that holds the current input occurrence's data. */
export const EVENT_DATA_BYTES = 64;

// ---- helper sets (added for the verifier; derived facts, no opcode changes) ------------
/**
 * Instructions that push an entry on the track stack when they execute
 * (docs/vm.md, Verifier: the `trackDepth` bound counts them).
 */
export const TRACK_PUSHERS: ReadonlySet<string> = new Set(["spawn", "spawnw", "emit", "finend", "killf"]);
/** Float instructions: capsules using them need the Float flag and a VM built with float support. */
export const FLOAT_INSTRS: ReadonlySet<string> = new Set([
  ...FLOAT_BINARY_OPS.map(([name]) => name), "negf", "i2f", "u2f", "f2i", "f2u",
]);
