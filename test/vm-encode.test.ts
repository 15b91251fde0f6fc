import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { decodeInstr, encodeInstr } from "../vm/encode";
import { AsmError, assembleText, disassemble, disassembleCapsule } from "../vm/disasm";
import { ENGINE_OPCODES } from "../vm/engine";
import { BY_OPCODE, FLOAT_INSTRS, ISA, type InstrSpec, type OperandKind, TRACK_PUSHERS, instrSize } from "../vm/isa";
import { decodeCapsule } from "../vm/capsule";
import { buildCapsule, sha256 } from "./helpers/vmtest";

/** Inclusive range of the decoded value of each operand kind (rel8 as a raw offset). */
const RANGE: Record<OperandKind, [number, number]> = {
  u8: [0, 255], i8: [-128, 127], u16: [0, 65535], i16: [-32768, 32767], i32: [-(2 ** 31), 2 ** 31 - 1],
  u32: [0, 2 ** 32 - 1], a8: [0, 255], a16: [0, 65535], slot: [0, 255], rel8: [-128, 127], abs16: [0, 65535],
  out: [0, 255], fn: [0, 255], iev: [0, 255], n8: [0, 255],
};

/** Extreme and middle values of every operand kind. */
function samples(kind: OperandKind): number[] {
  const [lo, hi] = RANGE[kind];
  return [lo, hi, Math.floor((lo + hi) / 2), lo === 0 ? 1 : -1];
}

describe("encodeInstr / decodeInstr", () => {
  test("every opcode round-trips with extreme operand values", () => {
    expect(ISA.length).toBeGreaterThan(100);
    for (const spec of ISA) {
      for (let v = 0; v < 4; v++) {
        const raw = spec.operands.map((k) => samples(k)[v]);
        const pc = 300;
        const bytes = encodeInstr(spec.name, raw);
        expect(bytes.length).toBe(instrSize(spec));
        expect(bytes[0]).toBe(spec.op);
        const code = new Uint8Array(pc + bytes.length);
        code.set(bytes, pc);
        const d = decodeInstr(code, pc);
        if ("error" in d) throw new Error(d.error);
        expect(d.spec).toBe(spec);
        expect(d.size).toBe(bytes.length);
        expect(d.next).toBe(pc + bytes.length);
        // rel8 comes back as the absolute target
        const expected = raw.map((x, i) => (spec.operands[i] === "rel8" ? pc + bytes.length + x : x));
        expect(d.operands).toEqual(expected);
        // and encoding with the pc takes the absolute target back
        expect(encodeInstr(spec.name, d.operands, pc)).toEqual(bytes);
      }
    }
  });

  test("operands are little-endian and signed kinds sign-extend", () => {
    expect(encodeInstr("push32", [-2])).toEqual([0x29, 0xfe, 0xff, 0xff, 0xff]);
    expect(encodeInstr("push32", [0xfffffffe])).toEqual([0x29, 0xfe, 0xff, 0xff, 0xff]);
    expect(encodeInstr("awaitt32", [3, 0x01020304])).toEqual([0x17, 3, 4, 3, 2, 1]);
    const d = decodeInstr(Uint8Array.from([0x28, 0x00, 0x80]), 0);
    expect("error" in d ? d.error : d.operands).toEqual([-32768]);
    const j = decodeInstr(Uint8Array.from([0, 0, 0, 0x02, 0xfb]), 3); // jmp -5 from the end (pc 5)
    expect("error" in j ? j.error : j.operands).toEqual([0]);
  });

  test("encodeInstr rejects bad input", () => {
    expect(() => encodeInstr("nope", [])).toThrow(/unknown mnemonic nope/);
    expect(() => encodeInstr("push8", [])).toThrow(/takes 1 operands, got 0/);
    expect(() => encodeInstr("push8", [128])).toThrow(/out of range -128..127/);
    expect(() => encodeInstr("ld.u8", [256])).toThrow(/out of range 0..255/);
    expect(() => encodeInstr("jmp", [200], 0)).toThrow(/target 200 \(offset 198\)/);
    expect(() => encodeInstr("push8", [1.5])).toThrow(/out of range/);
  });

  test("decodeInstr reports unassigned opcodes, truncation and pcs outside the code", () => {
    expect(decodeInstr(Uint8Array.from([0x2d]), 0)).toEqual({ error: "unassigned opcode 0x2d" });
    expect(decodeInstr(Uint8Array.from([0x29, 1, 2]), 0)).toEqual({
      error: "truncated instruction: push32 takes 5 bytes, 3 left in the code",
    });
    expect(decodeInstr(Uint8Array.from([0]), 1)).toEqual({ error: "pc 1 is outside the code (1 bytes)" });
  });

  test("the engine implements exactly the ISA's opcodes", () => {
    expect(ENGINE_OPCODES.size).toBe(ISA.length);
    for (const s of ISA) expect(ENGINE_OPCODES.get(s.name)).toBe(s.op);
  });

  test("helper sets name real instructions", () => {
    for (const n of [...TRACK_PUSHERS, ...FLOAT_INSTRS]) expect(ISA.some((s) => s.name === n)).toBe(true);
    expect(FLOAT_INSTRS.size).toBe(15);
    expect(ISA.filter((s) => s.op >= 0xa0).map((s) => s.name).sort()).toEqual([...FLOAT_INSTRS].sort());
  });
});

/** Arbitrary valid instruction (raw operand values; rel8 as an offset). */
const arbInstr: fc.Arbitrary<{ spec: InstrSpec; raw: number[] }> = fc
  .constantFrom(...ISA)
  .chain((spec) =>
    fc.tuple(...spec.operands.map((k) => fc.integer({ min: RANGE[k][0], max: RANGE[k][1] }))).map((raw) => ({ spec, raw: raw as number[] })),
  );

describe("disassemble / assembleText", () => {
  test("property: random instruction sequences survive disassemble -> assembleText byte for byte", () => {
    fc.assert(
      fc.property(fc.array(arbInstr, { minLength: 1, maxLength: 60 }), (instrs) => {
        const bytes = Uint8Array.from(instrs.flatMap(({ spec, raw }) => encodeInstr(spec.name, raw)));
        const text = disassemble(bytes);
        expect(text.trimEnd().split("\n")).toHaveLength(instrs.length);
        expect(assembleText(text)).toEqual(bytes);
      }),
      { numRuns: 300 },
    );
  });

  test("property: arbitrary bytes (undecodable ones as .byte) survive the round trip", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (bytes) => {
        expect(assembleText(disassemble(bytes))).toEqual(bytes);
      }),
      { numRuns: 300 },
    );
  });

  test("listing format: pc, mnemonic, operands; targets as absolute pcs", () => {
    const code = assembleText(`
      top: push8 -3
           jz top          ; back to 0
           kill 2, 3, top
           push32 1.5f
           awaittw 4, 65535
           .byte 0xff
    `);
    expect(disassemble(code)).toBe(
      [
        "0x0000: push8 -3",
        "0x0002: jz 0x0000",
        "0x0004: kill 2, 3, 0x0000",
        "0x0009: push32 1069547520",
        "0x000e: awaittw 4, 65535",
        "0x0012: .byte 0xff",
        "",
      ].join("\n"),
    );
  });

  test("float literals give binary32 bits", () => {
    const bits = (lit: string) => {
      const c = assembleText(`push32 ${lit}`);
      return (c[1] | (c[2] << 8) | (c[3] << 16) | (c[4] << 24)) >>> 0;
    };
    expect(bits("1.5f")).toBe(0x3fc00000);
    expect(bits("-2f")).toBe(0xc0000000);
    expect(bits("-0f")).toBe(0x80000000);
    expect(bits("inff")).toBe(0x7f800000);
    expect(bits("-inff")).toBe(0xff800000);
    expect(bits("0.1f")).toBe(0x3dcccccd);
    expect(bits("nanf")).toBe(0x7fc00000);
  });

  test("assembler errors carry the line number", () => {
    expect(() => assembleText("halt\nfrob 1")).toThrow(new AsmError(2, "unknown mnemonic frob"));
    expect(() => assembleText("jmp nowhere")).toThrow(/line 1: undefined label nowhere/);
    expect(() => assembleText("a: halt\na: halt")).toThrow(/line 2: label a is defined twice/);
    expect(() => assembleText("0x0001: halt")).toThrow(/pc annotation 0x0001 but this instruction is at 0x0000/);
    expect(() => assembleText("push8 1, 2")).toThrow(/push8 takes 1 operands \(i8\), got 2/);
    expect(() => assembleText("push8 300")).toThrow(/line 1: push8 operand 1 \(i8\) 300 is out of range/);
    expect(() => assembleText("ld.u8 x")).toThrow(/bad operand x \(a8\)/);
  });

  test("disassembleCapsule lists header fields, tables and code", () => {
    const bytes = buildCapsule({
      asm: "await 0\nawaitt 1, 5\nhalt",
      inputs: [{ any: 15, filtered: 14, gates: [0] }],
      timers: [1],
      varBytes: 8,
    });
    const text = disassembleCapsule(decodeCapsule(bytes, sha256));
    expect(text).toContain("; code 6 bytes, var area 8 bytes, 4 slots, 0 stack cells, track depth 1, block 64 bytes");
    expect(text).toContain(";   [0] 14 / 15: 0");
    expect(text).toContain("; timers: 1");
    expect(text).toContain("; asyncs: (none)");
    expect(text).toContain("0x0002: awaitt 1, 5");
    // the code part assembles back
    expect(assembleText(text)).toEqual(decodeCapsule(bytes).code);
  });

  test("every opcode byte either decodes to its spec or is unassigned", () => {
    for (let op = 0; op < 256; op++) {
      const code = new Uint8Array(8);
      code[0] = op;
      const d = decodeInstr(code, 0);
      if (BY_OPCODE[op]) expect("error" in d ? d.error : d.spec.op).toBe(op);
      else expect(d).toEqual({ error: `unassigned opcode 0x${op.toString(16).padStart(2, "0")}` });
    }
  });
});
