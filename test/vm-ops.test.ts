/**
 * Values: 32-bit integer arithmetic (against a BigInt reference), memory
 * widths, and binary32 floats.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { BINARY_OPS } from "../vm/isa";
import { runAsm } from "./helpers/vmtest";

/** Run straight-line code at boot and return the values of its `outv 2`s and the error codes. */
function evalAsm(asm: string, varBytes = 32): { values: number[]; errors: number[] } {
  const r = runAsm({ asm: `${asm}\nhalt`, varBytes }, { until: 1 });
  return { values: r.values as number[], errors: r.errors.map((e) => e.code) };
}

const I = (x: bigint) => Number(BigInt.asIntN(32, x));
const U = (x: number) => BigInt(x >>> 0);
const S = (x: number) => BigInt(x | 0);
const b01 = (c: boolean) => (c ? 1 : 0);

/** Reference semantics of the binary integer operators (docs/vm.md, Values and errors); undefined = division by zero. */
const REF: Record<string, (a: number, b: number) => number | undefined> = {
  add: (a, b) => I(S(a) + S(b)),
  sub: (a, b) => I(S(a) - S(b)),
  mul: (a, b) => I(S(a) * S(b)),
  div: (a, b) => (b === 0 ? undefined : I(S(a) / S(b))),
  divu: (a, b) => (b === 0 ? undefined : I(U(a) / U(b))),
  mod: (a, b) => (b === 0 ? undefined : I(S(a) % S(b))),
  modu: (a, b) => (b === 0 ? undefined : I(U(a) % U(b))),
  and: (a, b) => I(S(a) & S(b)),
  or: (a, b) => I(S(a) | S(b)),
  xor: (a, b) => I(S(a) ^ S(b)),
  shl: (a, b) => I(S(a) << BigInt(b & 31)),
  shr: (a, b) => I(S(a) >> BigInt(b & 31)),
  shru: (a, b) => I(U(a) >> BigInt(b & 31)),
  eq: (a, b) => b01(S(a) === S(b)),
  ne: (a, b) => b01(S(a) !== S(b)),
  lt: (a, b) => b01(S(a) < S(b)),
  ltu: (a, b) => b01(U(a) < U(b)),
  le: (a, b) => b01(S(a) <= S(b)),
  leu: (a, b) => b01(U(a) <= U(b)),
  gt: (a, b) => b01(S(a) > S(b)),
  gtu: (a, b) => b01(U(a) > U(b)),
  ge: (a, b) => b01(S(a) >= S(b)),
  geu: (a, b) => b01(U(a) >= U(b)),
  land: (a, b) => b01(a !== 0 && b !== 0),
  lor: (a, b) => b01(a !== 0 || b !== 0),
};
const UNARY_REF: Record<string, (a: number) => number> = {
  neg: (a) => I(-S(a)),
  bnot: (a) => I(~S(a)),
  lnot: (a) => b01(a === 0),
  "ext.u8": (a) => Number(BigInt.asUintN(8, S(a))),
  "ext.i8": (a) => Number(BigInt.asIntN(8, S(a))),
  "ext.u16": (a) => Number(BigInt.asUintN(16, S(a))),
  "ext.i16": (a) => Number(BigInt.asIntN(16, S(a))),
};

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
const arbInt = fc.oneof(
  fc.integer({ min: INT_MIN, max: INT_MAX }),
  fc.constantFrom(0, 1, -1, 2, -2, 31, 32, 33, 255, 256, 65535, 65536, INT_MIN, INT_MAX, INT_MIN + 1),
  fc.integer({ min: -300, max: 300 }),
);

describe("integer operators", () => {
  test("the reference covers every binary operator of the ISA", () => {
    expect(Object.keys(REF).sort()).toEqual(BINARY_OPS.map(([n]) => n).sort());
  });

  test("property: binary and unary operators agree with a 32-bit reference evaluator", () => {
    const arbCase = fc.oneof(
      fc.record({ op: fc.constantFrom(...Object.keys(REF)), a: arbInt, b: arbInt }),
      fc.record({ op: fc.constantFrom(...Object.keys(UNARY_REF)), a: arbInt, b: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(arbCase, { minLength: 1, maxLength: 40 }), (cases) => {
        const asm = cases
          .map(({ op, a, b }) => (op in REF ? `push32 ${a}\npush32 ${b}\n${op}\noutv 2` : `push32 ${a}\n${op}\noutv 2`))
          .join("\n");
        const { values, errors } = evalAsm(asm);
        const expected = cases.map(({ op, a, b }) => (op in REF ? REF[op](a, b) ?? 0 : UNARY_REF[op](a)));
        expect(values).toEqual(expected);
        const divZero = cases.filter(({ op, b }) => op in REF && REF[op](1, b) === undefined).length;
        expect(errors).toEqual(new Array(divZero).fill(10));
      }),
      { numRuns: 200 },
    );
  });

  test("edge cases: INT_MIN / -1, INT_MIN % -1, truncation toward zero, masked shifts, unsigned compares", () => {
    const { values, errors } = evalAsm(`
      push32 ${INT_MIN}
      push8 -1
      div
      outv 2
      push32 ${INT_MIN}
      push8 -1
      mod
      outv 2
      push8 -7
      push8 2
      div
      outv 2
      push8 -7
      push8 2
      mod
      outv 2
      push8 1
      push8 33
      shl
      outv 2
      push8 -16
      push8 2
      shr
      outv 2
      push8 -16
      push8 28
      shru
      outv 2
      push8 -1
      push8 1
      gtu
      outv 2
      push8 -1
      push8 1
      gt
      outv 2
      push32 ${INT_MAX}
      push8 1
      add
      outv 2
      push32 0x10000
      push32 0x10000
      mul
      outv 2
      push8 -1
      push8 7
      divu
      outv 2
    `);
    expect(values).toEqual([INT_MIN, 0, -3, -1, 2, -4, 15, 1, 0, INT_MIN, 0, 613566756]);
    expect(errors).toEqual([]);
  });

  test("division and modulo by zero give 0 and ERROR 10", () => {
    const { values, errors } = evalAsm(["div", "divu", "mod", "modu"].map((op) => `push8 9\npush8 0\n${op}\noutv 2`).join("\n"));
    expect(values).toEqual([0, 0, 0, 0]);
    expect(errors).toEqual([10, 10, 10, 10]);
  });
});

describe("memory", () => {
  test("loads sign- or zero-extend, stores keep the low bytes", () => {
    const { values } = evalAsm(`
      push32 0x12345680
      st.32 0
      ld.u8 0
      outv 2
      ld.i8 0
      outv 2
      ld.u16 0
      outv 2
      ld.i16 2
      outv 2
      push32 0xfedcba98
      st.16 8
      ldw.u16 8
      outv 2
      ldw.i16 8
      outv 2
      push16 -1
      stw.8 10
      ldw.u8 10
      outv 2
      ldw.i8 10
      outv 2
      ld.32 0
      outv 2
      ldw.32 0
      outv 2
    `);
    expect(values).toEqual([0x80, -128, 0x5680, 0x1234, 0xba98, -17768, 255, -1, 0x12345680, 0x12345680]);
  });

  test("set, mov, copy (overlapping), inc/dec with wrap-around", () => {
    const { values } = evalAsm(`
      set.8 0, 255
      inc.8 0
      ld.u8 0
      outv 2
      set.16 2, 0
      dec.16 2
      ld.u16 2
      outv 2
      set.32 4, -1
      incw.32 4
      ldw.32 4
      outv 2
      setw.32 8, 0x01020304
      mov.32 12, 8
      ld.32 12
      outv 2
      movw.16 16, 9
      ld.u16 16
      outv 2
      mov.8 18, 11
      ld.u8 18
      outv 2
      copy 9, 8, 3          ; memmove: bytes 8..10 -> 9..11
      ld.32 8
      outv 2
      setw.16 20, 0x8000
      decw.16 20
      decw.8 20
      incw.8 21
      ldw.u16 20
      outv 2
      set.32 24, 0
      dec.32 24
      ld.32 24
      outv 2
      inc.16 26
      ld.u16 26
      outv 2
    `);
    expect(values).toEqual([0, 0xffff, 0, 0x01020304, 0x0203, 0x01, 0x02030404, 0x80fe, -1, 0]);
  });

  test("ldx/stx index arrays by element size; out of range reads 0, skips the write, raises ERROR 11", () => {
    const { values, errors } = evalAsm(`
      push8 2
      push16 -300
      stx.16 0, 3        ; a[2] = -300
      push8 1
      push32 0x11223344
      stx.32 8, 2        ; b[1]
      push8 3
      push8 99
      stx.8 0, 3         ; out of range: skipped
      push8 2
      ldx.i16 0, 3
      outv 2
      push8 2
      ldx.u16 0, 3
      outv 2
      push8 1
      ldx.32 8, 2
      outv 2
      push8 5
      ldx.u8 12, 4       ; b[1] as a 4-byte array: index 5 is out of range
      outv 2
      push8 4
      ldx.u8 12, 4       ; out of range
      outv 2
      push8 -1
      ldx.i8 12, 4       ; index 0xffffffff: out of range
      outv 2
      push8 3
      ldx.i8 12, 4       ; the high byte of b[1]
      outv 2
      ld.u8 3            ; the skipped stx.8 would have written here
      outv 2
    `);
    expect(values).toEqual([-300, 0x10000 - 300, 0x11223344, 0, 0, 0, 0x11, 0]);
    expect(errors).toEqual([11, 11, 11, 11]);
  });
});

describe("floats (binary32 bits in cells)", () => {
  const f32 = new Float32Array(1);
  const i32 = new Int32Array(f32.buffer);
  const bits = (x: number) => {
    f32[0] = x;
    return i32[0];
  };

  test("arithmetic rounds to binary32", () => {
    const { values } = evalAsm(`
      push32 0.1f
      push32 0.2f
      addf
      outv 2
      push32 16777216f
      push32 1f
      addf
      outv 2
      push32 1f
      push32 3f
      divf
      outv 2
      push32 1e30f
      push32 1e30f
      mulf
      outv 2
      push32 1f
      push32 0f
      divf
      outv 2
      push32 5f
      push32 7.5f
      subf
      outv 2
    `);
    expect(values).toEqual([
      bits(Math.fround(Math.fround(0.1) + Math.fround(0.2))),
      bits(16777216),
      bits(Math.fround(1 / 3)),
      bits(Infinity),
      bits(Infinity),
      bits(-2.5),
    ]);
    expect(values[0]).toBe(0x3e99999a);
  });

  test("NaN results are the canonical quiet NaN; comparisons with NaN are false except nef", () => {
    const { values } = evalAsm(`
      push32 0f
      push32 0f
      divf
      outv 2
      push32 inff
      push32 inff
      subf
      outv 2
      push32 0x7f800001      ; a signalling NaN operand
      push32 1f
      mulf
      outv 2
      push32 nanf
      push32 nanf
      eqf
      outv 2
      push32 nanf
      push32 1f
      nef
      outv 2
      push32 nanf
      push32 1f
      ltf
      outv 2
      push32 nanf
      push32 1f
      gef
      outv 2
    `);
    expect(values).toEqual([0x7fc00000, 0x7fc00000, 0x7fc00000, 0, 1, 0, 0]);
  });

  test("comparisons, negation and signed zero", () => {
    const { values } = evalAsm(`
      push32 -0f
      push32 0f
      eqf
      outv 2
      push32 1.5f
      push32 2f
      ltf
      outv 2
      push32 2f
      push32 2f
      lef
      outv 2
      push32 -1f
      push32 -2f
      gtf
      outv 2
      push32 0f
      negf
      outv 2
      push32 3f
      negf
      outv 2
    `);
    expect(values).toEqual([1, 1, 1, 1, 0x80000000 | 0, bits(-3)]);
  });

  test("conversions: i2f/u2f round, f2i/f2u truncate, map NaN to 0 and saturate", () => {
    const { values } = evalAsm(`
      push32 16777217
      i2f
      outv 2
      push8 -1
      u2f
      outv 2
      push32 -2.7f
      f2i
      outv 2
      push32 1e10f
      f2i
      outv 2
      push32 -1e10f
      f2i
      outv 2
      push32 nanf
      f2i
      outv 2
      push32 -inff
      f2i
      outv 2
      push32 3.9f
      f2u
      outv 2
      push32 -5f
      f2u
      outv 2
      push32 1e10f
      f2u
      outv 2
      push32 nanf
      f2u
      outv 2
      push32 4294967040f
      f2u
      outv 2
      push32 2147483520f
      f2i
      outv 2
    `);
    expect(values).toEqual([
      bits(16777216), bits(4294967296), -2, INT_MAX, INT_MIN, 0, INT_MIN, 3, 0, -1, 0, 4294967040 | 0, 2147483520,
    ]);
  });
});
