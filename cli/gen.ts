/**
 * Generated documentation: docs/isa.md from the ISA table (vm/isa.ts).
 * `npm run gen` writes it; test/docs.test.ts fails when it is stale.
 */
import { writeFileSync } from "node:fs";
import { ISA, instrSize, OPERAND_SIZE, type OperandKind } from "../vm/isa";

const KIND_DOC: Record<OperandKind, string> = {
  u8: "unsigned byte", i8: "signed byte", u16: "unsigned 16-bit", i16: "signed 16-bit", i32: "32-bit (int or float bits)",
  u32: "unsigned 32-bit", a8: "var address 0..255", a16: "var address", slot: "control slot", rel8: "code target, signed offset from the next instruction",
  abs16: "code target, absolute", out: "output event id", fn: "function id", iev: "internal event index", n8: "count or length",
};

/** docs/isa.md: every instruction with its opcode, operands, size, stack effect and meaning. */
export function isaMarkdown(): string {
  const lines = [
    "# Instruction set",
    "",
    "Generated from `vm/isa.ts` by `npm run gen` (a test fails when this file is stale).",
    "The execution model is in [vm.md](vm.md). Operands follow the opcode byte, little-endian.",
    "",
    "## Operand kinds",
    "",
    "| kind | bytes | meaning |",
    "|---|---|---|",
    ...(Object.keys(OPERAND_SIZE) as OperandKind[]).map((k) => `| \`${k}\` | ${OPERAND_SIZE[k]} | ${KIND_DOC[k]} |`),
    "",
    "## Instructions",
    "",
    "| opcode | mnemonic | operands | bytes | pops | pushes | meaning |",
    "|---|---|---|---|---|---|---|",
    ...ISA.map((s) => `| 0x${s.op.toString(16).padStart(2, "0")} | \`${s.name}\` | ${s.operands.map((k) => `\`${k}\``).join(", ") || "-"} | ${instrSize(s)} | ${typeof s.pops === "number" ? s.pops : "n"} | ${s.pushes} | ${s.doc} |`),
    "",
    `${ISA.length} instructions.`,
    "",
  ];
  return lines.join("\n");
}

if (process.argv[1] && process.argv[1].endsWith("gen.ts")) {
  writeFileSync("docs/isa.md", isaMarkdown());
  process.stdout.write("wrote docs/isa.md\n");
}
