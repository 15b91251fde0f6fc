/**
 * Exact compile-time evaluation of Céu-T operators, with the VM's semantics
 * (docs/vm.md "Values and errors"): 32-bit two's complement int, 32-bit
 * unsigned, binary32 float. Used for constant folding and for array sizes.
 * Values are JS numbers: int as a signed 32-bit value, uint as 0..2^32-1,
 * float as a binary32-representable number.
 */
import type { BinaryOp } from "./ast";
import type { Arith } from "./types";

/** Result of folding: the value, or a reason it cannot be folded at compile time. */
export type FoldResult = { ok: true; value: number; arith: Arith } | { ok: false; reason: string };

const norm = (v: number, a: Arith): number => (a === "float" ? Math.fround(v) : a === "uint" ? v >>> 0 : v | 0);

/** Convert a value from one arithmetic class to another, like the VM's conversion instructions. */
export function convert(v: number, from: Arith, to: Arith): number {
  if (from === to) return norm(v, to);
  if (to === "float") return Math.fround(from === "uint" ? v >>> 0 : v | 0);
  if (from === "float") return to === "uint" ? floatToUint(v) : floatToInt(v);
  return norm(v, to); // int <-> uint: same bits
}

export function floatToInt(v: number): number {
  if (Number.isNaN(v)) return 0;
  const t = Math.trunc(v);
  return t >= 2147483647 ? 2147483647 : t <= -2147483648 ? -2147483648 : t;
}

export function floatToUint(v: number): number {
  if (Number.isNaN(v) || v <= 0) return 0;
  const t = Math.trunc(v);
  return t >= 4294967295 ? 4294967295 : t;
}

const truthy = (v: number) => v !== 0;

/**
 * Apply a binary operator to two operands already converted to `arith`
 * (comparisons and logical operators give int 0/1).
 * Division or modulo by zero is reported as not foldable (a compile error
 * for constants, ERROR 10 at run time).
 */
export function foldBinary(op: BinaryOp, a: number, b: number, arith: Arith): FoldResult {
  const r = (value: number, ar: Arith = arith): FoldResult => ({ ok: true, value: norm(value, ar), arith: ar });
  const bool = (c: boolean): FoldResult => ({ ok: true, value: c ? 1 : 0, arith: "int" });
  switch (op) {
    case "or": return bool(truthy(a) || truthy(b));
    case "and": return bool(truthy(a) && truthy(b));
    case "==": return bool(a === b);
    case "!=": return bool(a !== b);
    case "<": return bool(a < b);
    case "<=": return bool(a <= b);
    case ">": return bool(a > b);
    case ">=": return bool(a >= b);
  }
  if (arith === "float") {
    switch (op) {
      case "+": return r(a + b);
      case "-": return r(a - b);
      case "*": return r(a * b);
      case "/": return r(a / b);
      default: return { ok: false, reason: `operator ${op} needs integer operands` };
    }
  }
  switch (op) {
    case "+": return r(a + b);
    case "-": return r(a - b);
    case "*": return r(arith === "uint" ? Math.imul(a, b) >>> 0 : Math.imul(a, b));
    case "/":
      if (b === 0) return { ok: false, reason: "division by zero" };
      return r(Math.trunc(a / b));
    case "%":
      if (b === 0) return { ok: false, reason: "modulo by zero" };
      return r(a % b);
    case "&": return r(a & b);
    case "|": return r(a | b);
    case "^": return r(a ^ b);
    case "<<": return r(a << (b & 31));
    case ">>": return r(arith === "uint" ? a >>> (b & 31) : a >> (b & 31));
  }
  return { ok: false, reason: `unknown operator ${op}` };
}
