/**
 * Disassembler and a small text assembler for the same format, driven by the
 * ISA table (vm/isa.ts) through vm/encode.ts.
 *
 * Listing format, one instruction per line:
 *
 *     0x0004: kill 2, 3, 0x0000
 *     0x0009: jmp 0x0002
 *
 * the pc, the mnemonic, then the operands separated by ", ": code targets
 * (rel8 and abs16) as absolute pcs in hex, everything else in decimal
 * (signed kinds signed). Bytes that do not decode (an unassigned opcode, an
 * instruction cut off by the end of the code) are listed as `.byte 0x..`.
 *
 * `assembleText` reads that format back, plus:
 * - `name:` label definitions (a name starts with a letter, `_` or `.`; a
 *   line may hold several labels and an instruction), usable as code-target
 *   operands;
 * - `;` comments; leading `0x....:` pc annotations (checked against the
 *   current pc);
 * - numbers in decimal or 0x hex, optionally negative, and float literals
 *   with an `f` suffix (`1.5f`, `-0f`, `nanf`, `inff`, `-inff`) giving the
 *   binary32 bits (for push32 / set.32);
 * - `.byte n, n, ...` for raw bytes.
 */
import { type Capsule, CapsuleFlags } from "./capsule";
import { decodeInstr, encodeInstr, hex2, hex4, isTargetKind } from "./encode";
import { BY_NAME, type OperandKind, instrSize } from "./isa";

function fmtTarget(t: number): string {
  return t < 0 ? `-0x${hex4(-t)}` : `0x${hex4(t)}`;
}

function fmtOperand(kind: OperandKind, v: number): string {
  return isTargetKind(kind) ? fmtTarget(v) : String(v);
}

/** One line per instruction: pc, mnemonic, operands (targets as absolute pcs). */
export function disassemble(code: Uint8Array): string {
  const lines: string[] = [];
  let pc = 0;
  while (pc < code.length) {
    const d = decodeInstr(code, pc);
    if ("error" in d) {
      lines.push(`0x${hex4(pc)}: .byte 0x${hex2(code[pc])}`);
      pc++;
      continue;
    }
    const ops = d.operands.map((v, i) => fmtOperand(d.spec.operands[i], v));
    lines.push(`0x${hex4(pc)}: ${d.spec.name}${ops.length ? " " + ops.join(", ") : ""}`);
    pc = d.next;
  }
  return lines.join("\n") + (lines.length ? "\n" : "");
}

/** An error in assembly text: `line` is 1-based. */
export class AsmError extends Error {
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = "AsmError";
  }
}

const LABEL = /^[A-Za-z_.][\w.]*$/;
const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

function parseNumber(tok: string): number | undefined {
  const m = /^(-?)(0x[0-9a-fA-F]+|\d+)$/.exec(tok);
  if (m) return (m[1] ? -1 : 1) * Number(m[2]);
  const f = /^(-?)(nan|inf|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)f$/.exec(tok);
  if (f) {
    const x = f[2] === "nan" ? NaN : f[2] === "inf" ? Infinity : Number(f[2]);
    F32[0] = f[1] ? -x : x;
    return I32[0];
  }
  return undefined;
}

interface Line {
  no: number;
  name: string; // mnemonic or ".byte"
  args: string[];
  pc: number;
}

/**
 * Assemble text in the listing format (see the module comment).
 * @throws AsmError with the line number.
 */
export function assembleText(text: string): Uint8Array {
  const labels = new Map<string, number>();
  const lines: Line[] = [];
  let pc = 0;
  text.split(/\r?\n/).forEach((raw, idx) => {
    const no = idx + 1;
    let s = raw.replace(/;.*$/, "").trim();
    for (;;) {
      const m = /^([^\s:,]+):\s*/.exec(s);
      if (!m) break;
      const name = m[1];
      if (/^0x[0-9a-fA-F]+$/.test(name)) {
        if (Number(name) !== pc) throw new AsmError(no, `pc annotation ${name} but this instruction is at 0x${hex4(pc)}`);
      } else if (LABEL.test(name)) {
        if (labels.has(name)) throw new AsmError(no, `label ${name} is defined twice`);
        labels.set(name, pc);
      } else {
        throw new AsmError(no, `bad label ${name}`);
      }
      s = s.slice(m[0].length);
    }
    if (s === "") return;
    const sp = s.search(/\s/);
    const name = sp < 0 ? s : s.slice(0, sp);
    const rest = sp < 0 ? "" : s.slice(sp).trim();
    const args = rest === "" ? [] : rest.split(/\s*,\s*|\s+/);
    if (name === ".byte") {
      lines.push({ no, name, args, pc });
      pc += args.length;
      return;
    }
    const spec = BY_NAME.get(name);
    if (!spec) throw new AsmError(no, `unknown mnemonic ${name}`);
    if (args.length !== spec.operands.length) {
      throw new AsmError(no, `${name} takes ${spec.operands.length} operands (${spec.operands.join(", ") || "none"}), got ${args.length}`);
    }
    lines.push({ no, name, args, pc });
    pc += instrSize(spec);
  });
  const out: number[] = [];
  for (const l of lines) {
    if (l.name === ".byte") {
      for (const a of l.args) {
        const v = parseNumber(a);
        if (v === undefined || !Number.isInteger(v) || v < -128 || v > 255) throw new AsmError(l.no, `bad byte ${a}`);
        out.push(v & 0xff);
      }
      continue;
    }
    const spec = BY_NAME.get(l.name)!;
    const ops = l.args.map((a, i) => {
      const kind = spec.operands[i];
      const v = parseNumber(a);
      if (v !== undefined) return v;
      if (isTargetKind(kind) && LABEL.test(a)) {
        const t = labels.get(a);
        if (t === undefined) throw new AsmError(l.no, `undefined label ${a}`);
        return t;
      }
      throw new AsmError(l.no, `bad operand ${a} (${kind})`);
    });
    try {
      out.push(...encodeInstr(l.name, ops, l.pc));
    } catch (e) {
      throw new AsmError(l.no, (e as Error).message.replace(/^encodeInstr: /, ""));
    }
  }
  return Uint8Array.from(out);
}

/** A full listing: header fields, tables (as `;` comments) and the code. */
export function disassembleCapsule(c: Capsule): string {
  const flags = [(c.flags & CapsuleFlags.Float) !== 0 ? "float" : ""].filter(Boolean).join(" ");
  const hash = Array.from(c.bodyHash ?? [], (b) => hex2(b)).join("");
  const list = (g: readonly number[]) => (g.length ? g.join(", ") : "(none)");
  const id = (v: number) => (v === 0xff ? "-" : String(v));
  const out: string[] = [
    `; capsule format ${c.formatVersion}, flags 0x${hex2(c.flags)}${flags ? ` (${flags})` : ""}`,
    `; program version ${c.programVersion}, configuration 0x${(c.configId >>> 0).toString(16).padStart(8, "0")}`,
    `; code ${c.code.length} bytes, var area ${c.varBytes} bytes, ${c.slots} slots, ${c.stackCells} stack cells, ` +
      `track depth ${c.trackDepth}, block ${c.blockBytes} bytes`,
    `; entry 0x${hex4(c.entry)}`,
    `; body sha-256 ${hash}`,
    `; inputs (filtered id / any id: gates)${c.inputs.length ? "" : " (none)"}`,
    ...c.inputs.map((i, k) => `;   [${k}] ${id(i.filteredId)} / ${id(i.anyId)}: ${list(i.gates)}`),
    `; timers: ${list(c.timers)}`,
    `; internal events${c.internals.length ? "" : " (none)"}`,
    ...c.internals.map((g, k) => `;   [${k}] ${list(g)}`),
    `; asyncs: ${list(c.asyncs)}`,
  ];
  return out.join("\n") + "\n" + disassemble(c.code);
}
