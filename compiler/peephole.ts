/**
 * Peephole optimizer over symbolic instructions (before assembly):
 * - removes instructions no trail can reach;
 * - threads jumps to jumps and drops jumps to the next instruction;
 * - rewrites stack sequences into the ISA's compact forms:
 *   `ld a; st b` -> `mov b, a`, `push k; st a` -> `set a, k`,
 *   `push k; outv e` -> `outk e, k`, `lnot; jz` -> `jnz`, `lnot; jnz` -> `jz`.
 * Every rewrite keeps the instruction-level semantics (docs/vm.md).
 */
import { BY_NAME, LOAD_WIDTH, type LoadType } from "../vm/isa";
import { type Ins, isIns, isLabel, type Item, type Label } from "./asm";

export function optimize(items: Item[]): Item[] {
  let cur = items;
  for (let round = 0; round < 20; round++) {
    const changes = { n: 0 };
    cur = removeUnreachable(cur, changes);
    cur = threadJumps(cur, changes);
    cur = rewrite(cur, changes);
    if (changes.n === 0) break;
  }
  return cur;
}

/** Counts the rewrites of a round; the optimizer stops at a round with none. */
interface Changes {
  n: number;
}

/** Position of each label in the item list. */
function labelIndex(items: Item[]): Map<Label, number> {
  const m = new Map<Label, number>();
  items.forEach((it, i) => {
    if (!isIns(it)) m.set(it.label, i);
  });
  return m;
}

function removeUnreachable(items: Item[], changes: Changes): Item[] {
  const at = labelIndex(items);
  const live = new Set<number>();
  const work = [0];
  const push = (i: number | undefined) => {
    if (i !== undefined && i < items.length && !live.has(i)) work.push(i);
  };
  while (work.length) {
    const i = work.pop()!;
    if (live.has(i)) continue;
    live.add(i);
    const it = items[i];
    if (!isIns(it)) {
      push(i + 1);
      continue;
    }
    const spec = BY_NAME.get(it.name)!;
    for (const a of it.args) if (isLabel(a)) push(at.get(a));
    if (spec.flow !== "halt" && spec.flow !== "jump") push(i + 1);
    if (spec.resumesNext) push(i + 1);
    if (it.name === "join" || it.name === "kill") push(i + 1);
  }
  const out = items.filter((it, i) => live.has(i) || !isIns(it));
  changes.n += items.length - out.length;
  return out;
}

/** First instruction at or after a label. */
function insAt(items: Item[], at: Map<Label, number>, l: Label): Ins | undefined {
  for (let i = at.get(l)!; i < items.length; i++) {
    const it = items[i];
    if (isIns(it)) return it;
  }
  return undefined;
}

function threadJumps(items: Item[], changes: Changes): Item[] {
  const at = labelIndex(items);
  for (const it of items) {
    if (!isIns(it) || !["jmp", "jz", "jnz"].includes(it.name)) continue;
    for (let hops = 0; hops < 8; hops++) {
      const t = insAt(items, at, it.args[0] as Label);
      if (!t || t.name !== "jmp" || t === it || t.args[0] === it.args[0]) break;
      it.args[0] = t.args[0];
      changes.n++;
    }
  }
  // drop jumps to the next instruction
  const out = items.filter((it, i) => {
    if (!isIns(it) || it.name !== "jmp") return true;
    const target = it.args[0] as Label;
    for (let j = i + 1; j < items.length; j++) {
      const n = items[j];
      if (isIns(n)) return true;
      if (n.label === target) return false;
    }
    return true;
  });
  changes.n += items.length - out.length;
  return out;
}

const WIDTH_OF_STORE: Record<string, number> = { "8": 1, "16": 2, "32": 4 };

function rewrite(items: Item[], changes: Changes): Item[] {
  const out: Item[] = [];
  for (let i = 0; i < items.length; i++) {
    const a = items[i];
    const b = items[i + 1];
    if (isIns(a) && b && isIns(b)) {
      const r = pair(a, b);
      if (r) {
        out.push(r);
        changes.n++;
        i++;
        continue;
      }
    }
    out.push(a);
  }
  return out;
}

/** A single instruction equivalent to a followed by b, or null. */
/** Mnemonic -> [base, type or width suffix], e.g. "ld.u8" -> ["ld", "u8"]. */
const parts = new Map<string, [string, string]>();
function split(name: string): [string, string] {
  let p = parts.get(name);
  if (!p) {
    const [base, suffix = ""] = name.split(".");
    parts.set(name, (p = [base, suffix]));
  }
  return p;
}

function pair(a: Ins, b: Ins): Ins | null {
  const mk = (name: string, args: Ins["args"]): Ins => ({ name, args, loc: a.loc, pc: -1 });
  const [aBase, aType] = split(a.name);
  const [bBase, bW] = split(b.name);
  // ld a; st b  ->  mov b, a   (little-endian: a narrower store keeps the low bytes)
  if ((aBase === "ld" || aBase === "ldw") && (bBase === "st" || bBase === "stw")) {
    const w = WIDTH_OF_STORE[bW];
    if (w <= LOAD_WIDTH[aType as LoadType]) {
      const dst = b.args[0] as number;
      const src = a.args[0] as number;
      return mk(`${dst <= 255 && src <= 255 ? "mov" : "movw"}.${bW}`, [dst, src]);
    }
  }
  const k = pushValue(a);
  if (k !== null) {
    if (bBase === "st" || bBase === "stw") {
      const w = WIDTH_OF_STORE[bW];
      const imm = w === 1 ? k & 0xff : w === 2 ? k & 0xffff : k | 0;
      return mk(`${bBase === "st" ? "set" : "setw"}.${bW}`, [b.args[0], imm]);
    }
    if (b.name === "outv" && k >= 0 && k <= 255) return mk("outk", [b.args[0], k]);
    if (b.name === "awaitx" && k >= 0) return mk("awaitk", [b.args[0], k & 0xff]);
  }
  if (a.name === "lnot" && (b.name === "jz" || b.name === "jnz")) return mk(b.name === "jz" ? "jnz" : "jz", b.args);
  return null;
}

function pushValue(i: Ins): number | null {
  return i.name === "push8" || i.name === "push16" || i.name === "push32" ? (i.args[0] as number) : null;
}
