/**
 * The `--listing` view: the script's source lines beside the instructions
 * compiled from them (like Fig. 7 of the Terra VM report, seed 003 §5.2):
 *
 *   line  source                          pc      bytes        instruction
 *      5  loop do
 *      6      await 10s;                  0x0000  16 00 0a     awaitts 0, 10
 */
import { disassemble } from "../vm/disasm";
import type { Ins } from "./asm";

export function listing(code: Uint8Array, ins: Ins[], file: string, source: string): string {
  const asm = new Map<number, string>();
  for (const l of disassemble(code).split("\n")) {
    const m = /^0x([0-9a-f]{4}): (.*)$/.exec(l);
    if (m) asm.set(parseInt(m[1], 16), m[2]);
  }
  const src = source.split(/\r?\n/);
  const width = Math.min(48, Math.max(20, ...src.map((s) => s.replace(/\t/g, "    ").length)));
  const out = [`${"line".padStart(5)}  ${"source".padEnd(width)}  pc      ${"bytes".padEnd(18)} instruction`];
  const srcCol = (n: number | null) => (n === null ? `${"".padStart(5)}  ${"".padEnd(width)}` : `${String(n).padStart(5)}  ${(src[n - 1] ?? "").replace(/\t/g, "    ").slice(0, width).padEnd(width)}`);
  let printed = 0;
  ins.forEach((i, k) => {
    const line = i.loc && i.loc.file === file ? i.loc.line : null;
    let left: number | null = null;
    if (line !== null && line > printed) {
      for (let n = printed + 1; n < line; n++) if ((src[n - 1] ?? "").trim()) out.push(srcCol(n).trimEnd());
      left = line;
      printed = line;
    }
    const end = k + 1 < ins.length ? ins[k + 1].pc : code.length;
    const bytes = Array.from(code.subarray(i.pc, end), (b) => b.toString(16).padStart(2, "0")).join(" ");
    out.push(`${srcCol(left)}  0x${i.pc.toString(16).padStart(4, "0")}  ${bytes.padEnd(18)} ${asm.get(i.pc) ?? i.name}`);
  });
  for (let n = printed + 1; n <= src.length; n++) if ((src[n - 1] ?? "").trim()) out.push(srcCol(n).trimEnd());
  return out.join("\n") + "\n";
}
