/**
 * Encoding and decoding of single instructions, driven entirely by the ISA
 * table in vm/isa.ts (operand kinds and sizes). Used by the verifier, the
 * disassembler/assembler and the tests; the engine decodes inline for speed.
 *
 * Operand values are plain numbers:
 * - u8, u16, u32, a8, a16, slot, abs16, out, fn, iev, n8: unsigned;
 * - i8, i16, i32: signed (decoded sign-extended; `encodeInstr` also accepts
 *   an i32 given as its unsigned bit pattern, e.g. a float's bits >>> 0);
 * - rel8: `decodeInstr` returns the ABSOLUTE target pc (the end of the
 *   instruction plus the signed offset), so callers never redo the offset
 *   arithmetic. `encodeInstr` takes the absolute target when it is given the
 *   instruction's pc, and the raw signed offset (-128..127) when it is not.
 */
import { BY_NAME, BY_OPCODE, OPERAND_SIZE, instrSize, type InstrSpec, type OperandKind } from "./isa";

/** A decoded instruction. `next` is the pc of the instruction that follows it in the code. */
export interface DecodedInstr {
  spec: InstrSpec;
  operands: number[];
  size: number;
  next: number;
}

/** Inclusive value range each operand kind accepts in `encodeInstr` (rel8: the raw offset). */
const RANGE: Record<OperandKind, readonly [number, number]> = {
  u8: [0, 0xff], i8: [-0x80, 0x7f], u16: [0, 0xffff], i16: [-0x8000, 0x7fff],
  i32: [-0x80000000, 0xffffffff], u32: [0, 0xffffffff],
  a8: [0, 0xff], a16: [0, 0xffff], slot: [0, 0xff], rel8: [-0x80, 0x7f], abs16: [0, 0xffff],
  out: [0, 0xff], fn: [0, 0xff], iev: [0, 0xff], n8: [0, 0xff],
};

/**
 * Encode one instruction as bytes.
 * @param pc the instruction's own pc: when given, rel8 operands are absolute targets.
 * @throws Error for an unknown mnemonic, a wrong operand count or an operand out of range
 *   (a bug in the caller, not user input).
 */
export function encodeInstr(name: string, operands: readonly number[], pc?: number): number[] {
  const spec = BY_NAME.get(name);
  if (!spec) throw new Error(`encodeInstr: unknown mnemonic ${name}`);
  if (operands.length !== spec.operands.length) {
    throw new Error(`encodeInstr: ${name} takes ${spec.operands.length} operands, got ${operands.length}`);
  }
  const size = instrSize(spec);
  const out: number[] = [spec.op];
  for (let i = 0; i < operands.length; i++) {
    const kind = spec.operands[i];
    let v = operands[i];
    if (kind === "rel8" && pc !== undefined) v = v - (pc + size);
    const [lo, hi] = RANGE[kind];
    if (!Number.isInteger(v) || v < lo || v > hi) {
      const what = kind === "rel8" && pc !== undefined ? `target ${operands[i]} (offset ${v})` : String(v);
      throw new Error(`encodeInstr: ${name} operand ${i + 1} (${kind}) ${what} is out of range ${lo}..${hi}`);
    }
    const n = OPERAND_SIZE[kind];
    for (let b = 0; b < n; b++) out.push(Number((BigInt(v) >> BigInt(8 * b)) & 0xffn));
  }
  return out;
}

/**
 * Decode the instruction at `pc`. Never throws: an unassigned opcode, a pc
 * outside the code or an instruction running past the end of the code give
 * `{ error }`.
 */
export function decodeInstr(code: Uint8Array, pc: number): DecodedInstr | { error: string } {
  if (!(pc >= 0 && pc < code.length)) return { error: `pc ${pc} is outside the code (${code.length} bytes)` };
  const spec = BY_OPCODE[code[pc]];
  if (!spec) return { error: `unassigned opcode 0x${hex2(code[pc])}` };
  const size = instrSize(spec);
  if (pc + size > code.length) {
    return { error: `truncated instruction: ${spec.name} takes ${size} bytes, ${code.length - pc} left in the code` };
  }
  const operands: number[] = [];
  let p = pc + 1;
  for (const kind of spec.operands) {
    let v: number;
    switch (OPERAND_SIZE[kind]) {
      case 1: v = code[p]; break;
      case 2: v = code[p] | (code[p + 1] << 8); break;
      default: v = (code[p] | (code[p + 1] << 8) | (code[p + 2] << 16) | (code[p + 3] << 24)) >>> 0; break;
    }
    p += OPERAND_SIZE[kind];
    switch (kind) {
      case "i8": v = (v << 24) >> 24; break;
      case "i16": v = (v << 16) >> 16; break;
      case "i32": v = v | 0; break;
      case "rel8": v = pc + size + ((v << 24) >> 24); break;
      default: break;
    }
    operands.push(v);
  }
  return { spec, operands, size, next: pc + size };
}

/** True when `kind` is a code target (rel8 or abs16). */
export function isTargetKind(kind: OperandKind): boolean {
  return kind === "rel8" || kind === "abs16";
}

export function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

export function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}
