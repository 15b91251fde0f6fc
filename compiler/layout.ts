/**
 * Compile-time memory layout (docs/vm.md "State"):
 * - control slots, numbered in program-text order so that the gates of any
 *   statement form one contiguous range (what `kill` clears); finalizer slots
 *   are numbered after all others, also in text order;
 * - the var area: sequential blocks share memory, parallel branches do not;
 *   every block's scalars come before all records and arrays, so the most
 *   used values get 1-byte addresses.
 * Produces the capsule's gate tables.
 */
import type { InputEvent } from "./config";
import type { Diagnostics, Loc } from "./diagnostics";
import { childBlocks, eachStmt, type IBlock, type IProgram, type IStmt, type SlotRange, type VarSym } from "./ir";
import { sizeOf } from "./types";

export interface Layout {
  slots: number;
  /** First finalizer slot: finalizers are numbered after every other slot. */
  finBase: number;
  varBytes: number;
  /** Per input event, its gates in text order. */
  inputs: { ev: InputEvent; gates: number[] }[];
  timers: number[];
  /** Internal events that are emitted, with their gates (index = `iev` operand). */
  internals: { ev: VarSym; gates: number[] }[];
  asyncs: number[];
}

/** Maximum control slots (slot operands are one byte). */
export const MAX_SLOTS = 255;

export function layout(prog: IProgram, diags: Diagnostics, programLoc: Loc): Layout | null {
  const s = new SlotAllocator();
  s.block(prog.body, null);
  const total = s.next + s.fins;
  if (total > MAX_SLOTS) {
    diags.error("limit", programLoc, `the script needs ${total} control slots (awaits, timers, par/and, finalizers); the VM has ${MAX_SLOTS}`,
      "split long sequences of awaits into loops, or use fewer parallel awaits");
    return null;
  }
  s.relocateFins();

  const emitted = new Set<VarSym>();
  collectEmits(prog.body, emitted);
  const internals = prog.events.filter((e) => emitted.has(e)).map((ev) => ({ ev, gates: s.intGates.get(ev) ?? [] }));
  internals.forEach((x, i) => s.emitIndex.set(x.ev, i));
  s.assignEmitIndexes(prog.body);

  const aggregates: VarSym[] = [];
  const { a, b } = allocBlock(prog.body, 0, 0, aggregates);
  for (const v of aggregates) v.addr += a;
  const varBytes = a + b;
  if (varBytes > 0xffff) {
    diags.error("limit", programLoc, `the script's variables take ${varBytes} bytes; the VM addresses 65535`);
    return null;
  }
  return {
    slots: total,
    finBase: s.next,
    varBytes,
    inputs: [...s.inputGates].map(([ev, gates]) => ({ ev, gates })),
    timers: s.timerGates,
    internals,
    asyncs: s.asyncGates,
  };
}

class SlotAllocator {
  next = 0;
  fins = 0;
  inputGates = new Map<InputEvent, number[]>();
  timerGates: number[] = [];
  intGates = new Map<VarSym, number[]>();
  asyncGates: number[] = [];
  emitIndex = new Map<VarSym, number>();
  private finStmts: { stmt: IStmt & { k: "do" }; idx: number }[] = [];
  private ranges: SlotRange[] = [];

  block(b: IBlock, asyncSlot: number | null): void {
    for (const st of b.stmts) this.stmt(st, asyncSlot);
  }

  private region<T>(f: () => T): { range: SlotRange; value: T } {
    const s0 = this.next;
    const f0 = this.fins;
    const value = f();
    const range: SlotRange = { s0, n: this.next - s0, f0, nf: this.fins - f0 };
    this.ranges.push(range);
    return { range, value };
  }

  private stmt(st: IStmt, asyncSlot: number | null): void {
    switch (st.k) {
      case "await": {
        const w = st.what;
        if (w.kind === "forever") return;
        st.slot = this.next;
        if (w.kind === "input") {
          this.next += w.aux ? 2 : 1;
          const list = this.inputGates.get(w.ev) ?? [];
          list.push(st.slot);
          this.inputGates.set(w.ev, list);
        } else if (w.kind === "timer") {
          this.next += 3;
          this.timerGates.push(st.slot);
        } else {
          this.next += 1;
          const list = this.intGates.get(w.ev) ?? [];
          list.push(st.slot);
          this.intGates.set(w.ev, list);
        }
        return;
      }
      case "if":
        for (const arm of st.arms) this.block(arm.body, asyncSlot);
        if (st.orelse) this.block(st.orelse, asyncSlot);
        return;
      case "loop":
        st.asyncSlot = asyncSlot ?? undefined;
        st.slots = this.region(() => this.block(st.body, asyncSlot)).range;
        return;
      case "do":
        if (st.fin) {
          st.finSlot = this.fins++;
          this.finStmts.push({ stmt: st, idx: st.finSlot });
        }
        this.block(st.body, asyncSlot);
        if (st.fin) this.block(st.fin, asyncSlot);
        return;
      case "valblock":
        st.slots = this.region(() => this.stmt(st.inner, asyncSlot)).range;
        return;
      case "async":
        st.slot = this.next++;
        this.asyncGates.push(st.slot);
        this.block(st.body, st.slot);
        return;
      case "par":
        st.slots = this.region(() => {
          if (st.mode === "par/and") st.counterSlot = this.next++;
          for (const b of st.branches) this.block(b, asyncSlot);
        }).range;
        return;
      default:
        return;
    }
  }

  /** Finalizer slots come after every other slot. */
  relocateFins(): void {
    for (const f of this.finStmts) f.stmt.finSlot = this.next + f.idx;
    for (const r of this.ranges) r.f0 += this.next;
  }

  assignEmitIndexes(b: IBlock): void {
    eachStmt(b.stmts, (st) => {
      if (st.k === "emit-int") st.index = this.emitIndex.get(st.ev);
    });
  }
}

function collectEmits(b: IBlock, out: Set<VarSym>): void {
  eachStmt(b.stmts, (st) => {
    if (st.k === "emit-int") out.add(st.ev);
  });
}

// ------------------------------------------------------------------ var area

const isScalar = (v: VarSym) => v.ty.kind === "basic";

/**
 * Allocate a block's own variables at (a, b) (scalar and aggregate regions),
 * then its nested blocks: sequential ones overlap, par branches are stacked.
 * Returns the end of both regions. Aggregates get addresses relative to
 * their region, collected in `agg` for relocation after the scalars.
 */
function allocBlock(blk: IBlock, a: number, b: number, agg: VarSym[]): { a: number; b: number } {
  const own = [...blk.vars];
  const scalars = own.filter(isScalar).sort((x, y) => y.refs - x.refs || sizeOf(y.ty) - sizeOf(x.ty));
  const aggregates = own.filter((v) => !isScalar(v)).sort((x, y) => sizeOf(x.ty) - sizeOf(y.ty));
  for (const v of scalars) {
    v.addr = a;
    a += sizeOf(v.ty);
  }
  for (const v of aggregates) {
    v.addr = b;
    agg.push(v);
    b += sizeOf(v.ty);
  }
  let endA = a;
  let endB = b;
  for (const st of blk.stmts) {
    const r = allocStmt(st, a, b, agg);
    endA = Math.max(endA, r.a);
    endB = Math.max(endB, r.b);
  }
  return { a: endA, b: endB };
}

function allocStmt(st: IStmt, a: number, b: number, agg: VarSym[]): { a: number; b: number } {
  if (st.k === "par") {
    let ca = a;
    let cb = b;
    for (const br of st.branches) {
      const r = allocBlock(br, ca, cb, agg);
      ca = r.a;
      cb = r.b;
    }
    return { a: ca, b: cb };
  }
  let endA = a;
  let endB = b;
  for (const c of childBlocks(st)) {
    const r = c.stmts.length === 1 && c.vars.length === 0 && st.k === "valblock" ? allocStmt(c.stmts[0], a, b, agg) : allocBlock(c, a, b, agg);
    endA = Math.max(endA, r.a);
    endB = Math.max(endB, r.b);
  }
  return { a: endA, b: endB };
}
