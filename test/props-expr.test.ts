/**
 * Random expressions over variables of every integer type, compiled and run
 * on the VM, equal an independent reference evaluator of the rules of
 * docs/semantics.md (C's usual arithmetic conversions with a 32-bit int;
 * ulong unsigned; division by zero gives 0; shift counts modulo 32).
 * A second property does the same with constant operands only, which the
 * compiler folds: folding and the VM must agree.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { build, runBare } from "./helpers/script";

type IntType = "ubyte" | "byte" | "ushort" | "short" | "ulong" | "long";
const TYPES: IntType[] = ["ubyte", "byte", "ushort", "short", "ulong", "long"];
const RANGE: Record<IntType, [number, number]> = {
  ubyte: [0, 255], byte: [-128, 127], ushort: [0, 65535], short: [-32768, 32767], ulong: [0, 4294967295], long: [-2147483648, 2147483647],
};

/** A reference value: its bits (as a JS number in the class's range) and its class. */
interface V {
  v: number;
  u: boolean; // unsigned 32-bit
}

type E =
  | { k: "var"; name: string; t: IntType; value: number }
  | { k: "num"; value: number }
  | { k: "un"; op: "-" | "~" | "not"; e: E }
  | { k: "cast"; t: IntType; e: E }
  | { k: "bin"; op: string; l: E; r: E };

const BIN = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "==", "!=", "<", "<=", ">", ">=", "and", "or"];

function wrap(t: IntType, x: number): number {
  switch (t) {
    case "ubyte": return x & 0xff;
    case "byte": return (x << 24) >> 24;
    case "ushort": return x & 0xffff;
    case "short": return (x << 16) >> 16;
    case "ulong": return x >>> 0;
    case "long": return x | 0;
  }
}

/** Set when the last evaluation divided by zero (the compiler rejects that in constant expressions). */
let dividedByZero = false;

function evalRef(e: E): V {
  switch (e.k) {
    case "var": return { v: e.value, u: e.t === "ulong" };
    case "num": return { v: e.value, u: e.value > 0x7fffffff };
    case "cast": {
      const x = evalRef(e.e);
      return { v: wrap(e.t, x.v), u: e.t === "ulong" };
    }
    case "un": {
      const x = evalRef(e.e);
      if (e.op === "not") return { v: x.v === 0 ? 1 : 0, u: false };
      const r = e.op === "-" ? -x.v : ~x.v;
      return { v: x.u ? r >>> 0 : r | 0, u: x.u };
    }
    case "bin": {
      const a = evalRef(e.l);
      const b = evalRef(e.r);
      const bool = (c: boolean): V => ({ v: c ? 1 : 0, u: false });
      if (e.op === "and") return bool(a.v !== 0 && b.v !== 0);
      if (e.op === "or") return bool(a.v !== 0 || b.v !== 0);
      if (e.op === "<<" || e.op === ">>") {
        const n = b.v & 31;
        const r = e.op === "<<" ? a.v << n : a.u ? a.v >>> n : a.v >> n;
        return { v: a.u ? r >>> 0 : r | 0, u: a.u };
      }
      const u = a.u || b.u;
      const x = u ? a.v >>> 0 : a.v | 0;
      const y = u ? b.v >>> 0 : b.v | 0;
      const n = (r: number): V => ({ v: u ? r >>> 0 : r | 0, u });
      switch (e.op) {
        case "+": return n(x + y);
        case "-": return n(x - y);
        case "*": return n(Math.imul(x, y));
        case "/":
        case "%":
          if (y === 0) {
            dividedByZero = true;
            return n(0);
          }
          return n(e.op === "/" ? Math.trunc(x / y) : x % y);
        case "&": return n(x & y);
        case "|": return n(x | y);
        case "^": return n(x ^ y);
        case "==": return bool(x === y);
        case "!=": return bool(x !== y);
        case "<": return bool(x < y);
        case "<=": return bool(x <= y);
        case ">": return bool(x > y);
        default: return bool(x >= y);
      }
    }
  }
}

function print(e: E): string {
  switch (e.k) {
    case "var": return e.name;
    case "num": return String(e.value);
    case "cast": return `(<${e.t}>${print(e.e)})`;
    case "un": return e.op === "not" ? `(not ${print(e.e)})` : `(${e.op}${print(e.e)})`;
    case "bin": return `(${print(e.l)} ${e.op} ${print(e.r)})`;
  }
}

const leafVar = fc.constantFrom(...TYPES).chain((t) =>
  fc.record({ k: fc.constant("var" as const), t: fc.constant(t), value: fc.integer({ min: RANGE[t][0], max: RANGE[t][1] }), name: fc.constant("") }));
const leafNum = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 0x7fffffff }), fc.constantFrom(0, 1, 31, 32, 0x80000000, 0xffffffff))
  .map((value) => ({ k: "num" as const, value }));

function exprArb(leaf: fc.Arbitrary<E>): fc.Arbitrary<E> {
  const { e } = fc.letrec<{ e: E }>((tie) => ({
    e: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.record({ k: fc.constant("un" as const), op: fc.constantFrom("-" as const, "~" as const, "not" as const), e: tie("e") }),
      fc.record({ k: fc.constant("cast" as const), t: fc.constantFrom(...TYPES), e: tie("e") }),
      fc.record({ k: fc.constant("bin" as const), op: fc.constantFrom(...BIN), l: tie("e"), r: tie("e") }),
    ),
  }));
  return e;
}

/** Give every variable leaf a distinct name. */
function nameVars(e: E, vars: { name: string; t: IntType; value: number }[]): void {
  if (e.k === "var") {
    e.name = `v${vars.length}`;
    vars.push(e);
  } else if (e.k === "un" || e.k === "cast") nameVars(e.e, vars);
  else if (e.k === "bin") {
    nameVars(e.l, vars);
    nameVars(e.r, vars);
  }
}

function vmValue(script: string): number {
  const r = runBare(script);
  return r.out[0][2] as number;
}

describe("expressions: VM = reference 32-bit evaluator", () => {
  it("random expressions over variables of every integer type", () => {
    fc.assert(
      fc.property(exprArb(fc.oneof({ weight: 3, arbitrary: leafVar }, { weight: 1, arbitrary: leafNum })), (e) => {
        const vars: { name: string; t: IntType; value: number }[] = [];
        nameVars(e, vars);
        const decls = vars.map((v) => `var ${v.t} ${v.name} = ${v.value < 0 ? `(${v.value})` : v.value};`).join("\n");
        const want = evalRef(e).v | 0;
        const script = `#include "Test.defs"\n${decls}\nemit OUT(${print(e)});`;
        // A divisor that folds to the constant 0 is a compile error (not a run-time ERROR 10).
        const c = build(script);
        fc.pre(c.ok || !c.diagnostics.every((d) => /by zero/.test(d.message)));
        expect(vmValue(script)).toBe(want);
      }),
      { numRuns: 300 },
    );
  });

  it("constant expressions folded by the compiler give the VM's results", () => {
    fc.assert(
      fc.property(exprArb(leafNum), (e) => {
        dividedByZero = false;
        const want = evalRef(e).v | 0;
        fc.pre(!dividedByZero);
        const r = runBare(`#include "Test.defs"\nvar long z = 0;\nemit OUT(${print(e)} + z);`);
        expect(r.out[0][2]).toBe(want);
      }),
      { numRuns: 200 },
    );
  });
});
