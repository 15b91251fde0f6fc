/**
 * Céu-T's type model: basic (scalar) types, records (regtype, packet, pktype)
 * laid out byte by byte, arrays of basic types, and the arithmetic classes
 * expressions evaluate in (32-bit int/uint and binary32 float, C's usual
 * arithmetic conversions with a 32-bit int; docs/semantics.md).
 */
import type { BasicTypeName } from "./ast";
import type { LoadType, StoreWidth } from "../vm/isa";

export const BASIC_SIZE: Record<BasicTypeName, 1 | 2 | 4> = {
  ubyte: 1, byte: 1, ushort: 2, short: 2, ulong: 4, long: 4, float: 4,
};

/** A field of a record: a scalar or a fixed-size array of a basic type, at a byte offset. */
export interface Field {
  name: string;
  elem: BasicTypeName;
  /** Array length for array fields (payload fields are ubyte arrays), else null. */
  dim: number | null;
  offset: number;
  size: number;
}

/** regtype, packet or pktype: a named block of bytes with fields. */
export interface RecordType {
  name: string;
  kind: "regtype" | "packet" | "pktype";
  size: number;
  fields: Map<string, Field>;
  /** The packet a pktype views (its size and header fields), for compatibility. */
  base: RecordType | null;
}

export type Ty =
  | { kind: "basic"; name: BasicTypeName }
  | { kind: "record"; rec: RecordType }
  | { kind: "array"; elem: BasicTypeName; len: number }
  | { kind: "void" };

export const VOID: Ty = { kind: "void" };
export const basic = (name: BasicTypeName): Ty => ({ kind: "basic", name });

/** Size in bytes of a value of type t. */
export function sizeOf(t: Ty): number {
  switch (t.kind) {
    case "basic": return BASIC_SIZE[t.name];
    case "record": return t.rec.size;
    case "array": return BASIC_SIZE[t.elem] * t.len;
    case "void": return 0;
  }
}

export function tyName(t: Ty): string {
  switch (t.kind) {
    case "basic": return t.name;
    case "record": return t.rec.name;
    case "array": return `${t.elem}[${t.len}]`;
    case "void": return "void";
  }
}

/** The packet family a record belongs to: a pktype and its base packet are interchangeable. */
export function recordFamily(r: RecordType): RecordType {
  return r.base ?? r;
}

/** Records a and b can be copied into each other (same type, or pktype/packet of one family). */
export function recordsCompatible(a: RecordType, b: RecordType): boolean {
  return a === b || (recordFamily(a) === recordFamily(b) && a.size === b.size);
}

/** Arithmetic class of a value on the evaluation stack. */
export type Arith = "int" | "uint" | "float";

/** C's integer promotion with a 32-bit int: only ulong stays unsigned. */
export function arithOf(t: BasicTypeName): Arith {
  return t === "float" ? "float" : t === "ulong" ? "uint" : "int";
}

/** C's usual arithmetic conversions of two promoted operands. */
export function commonArith(a: Arith, b: Arith): Arith {
  if (a === "float" || b === "float") return "float";
  if (a === "uint" || b === "uint") return "uint";
  return "int";
}

/** The load instruction type for a basic type. */
export function loadType(t: BasicTypeName): LoadType {
  switch (t) {
    case "ubyte": return "u8";
    case "byte": return "i8";
    case "ushort": return "u16";
    case "short": return "i16";
    default: return "32";
  }
}

export function storeWidth(t: BasicTypeName): StoreWidth {
  return BASIC_SIZE[t];
}

export const isIntegral = (t: BasicTypeName): boolean => t !== "float";

/** Range of an integral basic type. */
export function intRange(t: BasicTypeName): [number, number] {
  switch (t) {
    case "ubyte": return [0, 0xff];
    case "byte": return [-0x80, 0x7f];
    case "ushort": return [0, 0xffff];
    case "short": return [-0x8000, 0x7fff];
    case "ulong": return [0, 0xffffffff];
    default: return [-0x80000000, 0x7fffffff];
  }
}

/** Wrap a 32-bit value to an integral basic type, as a store followed by a load does. */
export function wrapTo(t: BasicTypeName, v: number): number {
  switch (t) {
    case "ubyte": return v & 0xff;
    case "byte": return (v << 24) >> 24;
    case "ushort": return v & 0xffff;
    case "short": return (v << 16) >> 16;
    case "ulong": return v >>> 0;
    case "long": return v | 0;
    case "float": return Math.fround(v);
  }
}

/** Bit pattern (as int32) of a number stored as binary32. */
export function floatBits(v: number): number {
  F32[0] = v;
  return I32[0];
}
const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);
