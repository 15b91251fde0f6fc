/**
 * Symbolic instructions as code generation produces them, and the assembler
 * that turns them into bytes: labels are resolved, and each jump gets the
 * short (rel8) form when its target is within reach, else the long (abs16)
 * form (iterated until no jump changes size). Encoding is vm/encode.ts's, so
 * the bytes match the ISA table exactly.
 */
import type { Loc } from "./diagnostics";
import { BY_NAME, instrSize } from "../vm/isa";
import { encodeInstr } from "../vm/encode";

export interface Label {
  id: number;
  /** Resolved code offset, after assembly. */
  pc: number;
}

export type Arg = number | Label;

export interface Ins {
  name: string;
  args: Arg[];
  /** Source statement the instruction comes from (listings). */
  loc: Loc | null;
  pc: number;
}

export type Item = Ins | { label: Label };

export const isLabel = (a: Arg): a is Label => typeof a !== "number";
export const isIns = (i: Item): i is Ins => "name" in i;

/** Jumps with a short and a long form: name -> long name. */
export const RELAXABLE: Record<string, string> = { jmp: "jmpw", jz: "jzw", jnz: "jnzw", spawn: "spawnw" };

export interface Assembled {
  code: Uint8Array;
  /** The instructions with their final names (long forms chosen) and pcs. */
  ins: Ins[];
}

/** Resolve labels and encode. @throws Error on an unresolved label or a code section over 32 KB (reported by the caller as a limit). */
export function assemble(items: Item[]): Assembled {
  const ins = items.filter(isIns);
  const long = new Set<Ins>();
  for (;;) {
    let pc = 0;
    for (const it of items) {
      if (isIns(it)) {
        it.pc = pc;
        pc += instrSize(BY_NAME.get(long.has(it) ? RELAXABLE[it.name] : it.name)!);
      } else {
        it.label.pc = pc;
      }
    }
    let grew = false;
    for (const i of ins) {
      if (!(i.name in RELAXABLE) || long.has(i)) continue;
      const t = i.args[0] as Label;
      const off = t.pc - (i.pc + 2);
      if (off < -128 || off > 127) {
        long.add(i);
        grew = true;
      }
    }
    if (!grew) break;
  }
  const bytes: number[] = [];
  for (const i of ins) {
    if (long.has(i)) i.name = RELAXABLE[i.name];
    const operands = i.args.map((a) => {
      if (!isLabel(a)) return a;
      if (a.pc < 0) throw new Error(`assembler: unresolved label ${a.id}`);
      return a.pc;
    });
    bytes.push(...encodeInstr(i.name, operands, i.pc));
  }
  if (bytes.length > 0x7fff) throw new Error(`code of ${bytes.length} bytes exceeds 32767`);
  return { code: Uint8Array.from(bytes), ins };
}
