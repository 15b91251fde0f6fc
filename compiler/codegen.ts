/**
 * Code generation: IR -> symbolic instructions (compiler/asm.ts), following
 * the trail scheme of docs/vm.md:
 * - par: `spawn` of branches n..2, then branch 1 inline; par/and branches end
 *   in `join`, par/or branches jump to a `kill` of the whole region;
 * - awaits arm their gate and halt; the next instruction is the continuation;
 * - escapes (break, return) jump to the end of their region, where a `kill`
 *   aborts the other trails when the region has any (checks.ts needsKill);
 * - do-finally: `fin` arms the finalizer, `finend` runs it on normal exit;
 * - async: `async` hands the body to idle time, loops inside `yield`.
 * Memory-to-memory forms (set, mov, inc, outk, awaitk) are chosen here when
 * the operands allow; compiler/peephole.ts improves the rest.
 */
import type { Loc } from "./diagnostics";
import type { IBlock, IExpr, ILoop, IProgram, IStmt, IValBlock, Place, SlotRange } from "./ir";
import type { Layout } from "./layout";
import type { Arith } from "./types";
import { arithOf, BASIC_SIZE, floatBits, loadType } from "./types";
import type { Item, Label } from "./asm";

/** A constant-bound loop, for the reaction-bound analysis: its head, back edge and iteration count. */
export interface LoopInfo {
  head: Label;
  /** Label right after the back-edge jump (the back edge is the instruction before it). */
  back: Label;
  iterations: number;
}

/** A par, for the reaction-bound analysis: where it starts, its branches and its rejoin instruction. */
export interface ParInfo {
  mode: "par/or" | "par/and" | "par";
  start: Label;
  branches: Label[];
  /** The join (par/and) or kill (par/or) instruction; null for par. */
  rejoin: Label | null;
}

export interface Generated {
  items: Item[];
  loops: LoopInfo[];
  pars: ParInfo[];
}

const INT_OPS: Record<string, string> = {
  "+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod", "&": "and", "|": "or", "^": "xor",
  "<<": "shl", ">>": "shr", "==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge",
  and: "land", or: "lor",
};
const UINT_OPS: Record<string, string> = { "/": "divu", "%": "modu", ">>": "shru", "<": "ltu", "<=": "leu", ">": "gtu", ">=": "geu" };
const FLOAT_OPS: Record<string, string> = {
  "+": "addf", "-": "subf", "*": "mulf", "/": "divf", "==": "eqf", "!=": "nef", "<": "ltf", "<=": "lef", ">": "gtf", ">=": "gef",
  and: "land", or: "lor",
};

export function generate(prog: IProgram, lay: Layout): Generated {
  const g = new Gen(lay);
  g.program(prog);
  return { items: g.items, loops: g.loops, pars: g.pars };
}

class Gen {
  readonly items: Item[] = [];
  readonly loops: LoopInfo[] = [];
  readonly pars: ParInfo[] = [];
  private loc: Loc | null = null;
  private nextLabel = 0;
  private loopLabels = new Map<ILoop, { brk: Label; exit: Label }>();
  private valLabels = new Map<IValBlock, { ret: Label; end: Label }>();

  constructor(private readonly lay: Layout) {}

  label(): Label {
    return { id: this.nextLabel++, pc: -1 };
  }

  place(l: Label): void {
    this.items.push({ label: l });
  }

  emit(name: string, ...args: (number | Label)[]): void {
    this.items.push({ name, args, loc: this.loc, pc: -1 });
  }

  program(prog: IProgram): void {
    this.block(prog.body);
    this.loc = null;
    this.terminate();
  }

  /** Program end: run every active finalizer, then halt the program. */
  private terminate(): void {
    const fins = this.lay.slots - this.lay.finBase;
    if (fins > 0) {
      const start = this.label();
      this.items.splice(0, 0, { label: start });
      this.emit("killf", 0, this.lay.finBase, start, this.lay.finBase, fins);
    }
    this.emit("term");
  }

  block(b: IBlock): void {
    for (const s of b.stmts) this.stmt(s);
  }

  private stmt(s: IStmt): void {
    const saved = this.loc;
    this.loc = s.loc;
    this.stmtInner(s);
    this.loc = saved;
  }

  private stmtInner(s: IStmt): void {
    switch (s.k) {
      case "store": return this.store(s.dst, s.src);
      case "copy": return this.emit("copy", s.dst.sym.addr + s.dst.off, s.src.sym.addr + s.src.off, s.len);
      case "incdec": return this.incdec(s.dst, s.delta);
      case "call": {
        for (const a of s.call.args) this.expr(a);
        return this.emit("callv", s.call.fn.id, s.call.args.length);
      }
      case "emit-out": {
        const id = s.ev.id;
        if (!s.arg) return this.emit("out", id);
        if ("rec" in s.arg) return this.emit("outr", id, s.arg.sym.addr + s.arg.off, s.arg.rec.size);
        if (s.arg.k === "const" && s.arg.v >= 0 && s.arg.v <= 255) return this.emit("outk", id, s.arg.v);
        this.expr(s.arg);
        return this.emit("outv", id);
      }
      case "emit-int": {
        if (s.arg) this.store({ k: "direct", sym: s.ev, off: 0, t: (s.ev.ty as { name: "ubyte" }).name }, s.arg);
        if (s.index !== undefined) this.emit("emit", s.index);
        return;
      }
      case "await": return this.await(s);
      case "if": return this.ifStmt(s);
      case "loop": return this.loop(s);
      case "break": {
        const l = this.loopLabels.get(s.loop)!;
        return this.emit("jmp", s.loop.needsKill ? l.brk : l.exit);
      }
      case "return": return this.ret(s);
      case "do": return this.doStmt(s);
      case "valblock": return this.valblock(s);
      case "async": {
        for (const c of s.copies) this.copyVar(c.dst.addr, c.src.addr, c.src.ty.kind === "basic" ? BASIC_SIZE[c.src.ty.name] : 0, c.src.ty);
        this.emit("async", s.slot!);
        return this.block(s.body);
      }
      case "par": return this.par(s);
    }
  }

  private copyVar(dst: number, src: number, width: number, ty: { kind: string; rec?: { size: number } }): void {
    if (ty.kind === "record") this.emit("copy", dst, src, ty.rec!.size);
    else this.mov(width, dst, src);
  }

  // ------------------------------------------------------------------ stores

  private mov(w: number, dst: number, src: number): void {
    const short = dst <= 255 && src <= 255;
    this.emit(`${short ? "mov" : "movw"}.${w * 8}`, dst, src);
  }

  /** Store a value into a place, with the memory-to-memory forms when they apply. */
  store(dst: Place, src: IExpr): void {
    const w = BASIC_SIZE[dst.t];
    if (dst.k === "direct") {
      const addr = dst.sym.addr + dst.off;
      if (src.k === "const") {
        const v = dst.t === "float" ? floatBits(src.v) : src.v;
        const imm = w === 1 ? v & 0xff : w === 2 ? v & 0xffff : v | 0;
        return this.emit(`${addr <= 255 ? "set" : "setw"}.${w * 8}`, addr, imm);
      }
      if (src.k === "load" && src.p.k === "direct" && movable(src.p.t, dst.t)) {
        return this.mov(w, addr, src.p.sym.addr + src.p.off);
      }
      this.expr(src);
      return this.emit(`${addr <= 255 ? "st" : "stw"}.${w * 8}`, addr);
    }
    this.expr(dst.index);
    this.expr(src);
    this.emit(`stx.${w * 8}`, dst.sym.addr + dst.off, dst.len);
  }

  private incdec(dst: Place, delta: 1 | -1): void {
    const w = BASIC_SIZE[dst.t];
    if (dst.k === "direct") {
      const addr = dst.sym.addr + dst.off;
      return this.emit(`${delta > 0 ? "inc" : "dec"}${addr <= 255 ? "" : "w"}.${w * 8}`, addr);
    }
    const base = dst.sym.addr + dst.off;
    this.expr(dst.index);
    this.emit("dup");
    this.emit(`ldx.${loadType(dst.t)}`, base, dst.len);
    this.emit("push8", delta);
    this.emit("add");
    this.emit(`stx.${w * 8}`, base, dst.len);
  }

  // ------------------------------------------------------------------ awaits

  private await(s: IStmt & { k: "await" }): void {
    const w = s.what;
    switch (w.kind) {
      case "forever":
        return this.emit("halt");
      case "input":
        if (!w.aux) this.emit("await", s.slot!);
        else if (w.aux.k === "const") this.emit("awaitk", s.slot!, w.aux.v & 0xff);
        else {
          this.expr(w.aux);
          this.emit("awaitx", s.slot!);
        }
        break;
      case "timer":
        if (typeof w.ms === "number") this.timer(s.slot!, w.ms);
        else {
          this.expr(w.ms);
          this.emit("awaittv", s.slot!);
        }
        break;
      case "int":
        this.emit("awaiti", s.slot!);
        break;
    }
    const st = s.store;
    if (!st) return;
    if (st.kind === "record") return this.emit("evget", st.dst.sym.addr + st.dst.off, st.len);
    if (st.kind === "int") {
      const evT = (st.ev.ty as { name: "ubyte" }).name;
      return this.store(st.dst, convertExpr({ k: "load", p: { k: "direct", sym: st.ev, off: 0, t: evT }, a: arithOf(evT) }, arithOf(st.dst.t)));
    }
    this.store(st.dst, convertExpr({ k: "evval", t: st.from, a: arithOf(st.from) }, arithOf(st.dst.t)));
  }

  private timer(slot: number, ms: number): void {
    if (ms <= 255) this.emit("awaitt", slot, ms);
    else if (ms % 1000 === 0 && ms / 1000 <= 255) this.emit("awaitts", slot, ms / 1000);
    else if (ms <= 0xffff) this.emit("awaittw", slot, ms);
    else this.emit("awaitt32", slot, ms >>> 0);
  }

  // ------------------------------------------------------------------ control flow

  private ifStmt(s: IStmt & { k: "if" }): void {
    const end = this.label();
    s.arms.forEach((arm, i) => {
      const next = this.label();
      this.cond(arm.cond, next);
      this.block(arm.body);
      if (i < s.arms.length - 1 || s.orelse) this.emit("jmp", end);
      this.place(next);
    });
    if (s.orelse) this.block(s.orelse);
    this.place(end);
  }

  /** Evaluate a condition; jump to `ifFalse` when it is 0. */
  private cond(e: IExpr, ifFalse: Label): void {
    if (e.k === "un" && e.op === "lnot") {
      this.expr(e.e);
      return this.emit("jnz", ifFalse);
    }
    this.expr(e);
    this.emit("jz", ifFalse);
  }

  private loop(s: ILoop): void {
    const head = this.label();
    const brk = this.label();
    const exit = this.label();
    this.loopLabels.set(s, { brk, exit });
    const counter = s.counter;
    if (counter) this.store(counter, { k: "const", v: 0, a: "int" });
    let boundPlace: Place | null = null;
    if (s.bound && "expr" in s.bound) {
      this.store(s.bound.hidden, s.bound.expr);
      boundPlace = s.bound.hidden;
    }
    this.place(head);
    if (s.bound && counter) {
      const limit: IExpr = boundPlace ? { k: "load", p: boundPlace, a: "uint" } : { k: "const", v: (s.bound as { konst: number }).konst, a: "uint" };
      this.cond({ k: "bin", op: "<", l: convertExpr({ k: "load", p: counter, a: arithOf(counter.t) }, "uint"), r: limit, a: "int", opA: "uint" }, exit);
    }
    this.block(s.body);
    if (counter) this.incdec(counter, 1);
    if (s.inAsync && s.asyncSlot !== undefined) this.emit("yield", s.asyncSlot, head);
    else this.emit("jmp", head);
    const back = this.label();
    this.place(back);
    if (s.bound && "konst" in s.bound && !s.inAsync) this.loops.push({ head, back, iterations: s.bound.konst });
    if (s.needsKill) {
      this.place(brk);
      this.kill(s.slots!, head);
    }
    this.place(exit);
  }

  private kill(r: SlotRange, start: Label): void {
    if (r.nf > 0) this.emit("killf", r.s0, r.n, start, r.f0, r.nf);
    else this.emit("kill", r.s0, r.n, start);
  }

  private ret(s: IStmt & { k: "return" }): void {
    if (!s.target) {
      if (s.value) {
        this.expr(s.value);
        this.emit("pop");
      }
      return this.terminate();
    }
    if (s.value && s.target.dst) this.store(s.target.dst, s.value);
    const l = this.valLabels.get(s.target)!;
    this.emit("jmp", s.target.needsKill ? l.ret : l.end);
  }

  private valblock(s: IValBlock): void {
    const start = this.label();
    const ret = this.label();
    const end = this.label();
    this.valLabels.set(s, { ret, end });
    this.place(start);
    this.stmt(s.inner);
    if (s.needsKill) {
      this.emit("jmp", end);
      this.place(ret);
      this.kill(s.slots!, start);
    }
    this.place(end);
  }

  private doStmt(s: IStmt & { k: "do" }): void {
    if (!s.fin) return this.block(s.body);
    const fin = this.label();
    const after = this.label();
    this.emit("fin", s.finSlot!, fin);
    this.block(s.body);
    this.emit("finend", s.finSlot!, after);
    this.place(fin);
    this.block(s.fin);
    this.emit("halt");
    this.place(after);
  }

  private par(s: IStmt & { k: "par" }): void {
    const start = this.label();
    const join = this.label();
    const starts = s.branches.map(() => this.label());
    this.place(start);
    for (let i = s.branches.length - 1; i >= 1; i--) this.emit("spawn", starts[i]);
    s.branches.forEach((b, i) => {
      this.place(starts[i]);
      this.block(b);
      if (s.mode === "par") this.emit("halt");
      else if (i < s.branches.length - 1) this.emit("jmp", join);
    });
    this.pars.push({ mode: s.mode, start, branches: starts, rejoin: s.mode === "par" ? null : join });
    if (s.mode === "par") return;
    this.place(join);
    if (s.mode === "par/and") this.emit("join", s.counterSlot!, s.branches.length);
    else this.kill(s.slots!, start);
  }

  // ------------------------------------------------------------------ expressions

  expr(e: IExpr): void {
    switch (e.k) {
      case "const": {
        const v = e.a === "float" ? floatBits(e.v) : e.v | 0;
        if (v >= -128 && v <= 127) return this.emit("push8", v);
        if (v >= -32768 && v <= 32767) return this.emit("push16", v);
        return this.emit("push32", v);
      }
      case "load": {
        const p = e.p;
        if (p.k === "direct") {
          const addr = p.sym.addr + p.off;
          return this.emit(`${addr <= 255 ? "ld" : "ldw"}.${loadType(p.t)}`, addr);
        }
        this.expr(p.index);
        return this.emit(`ldx.${loadType(p.t)}`, p.sym.addr + p.off, p.len);
      }
      case "call":
        for (const a of e.args) this.expr(a);
        return this.emit("call", e.fn.id, e.args.length);
      case "un":
        this.expr(e.e);
        return this.emit(e.op === "neg" && e.a === "float" ? "negf" : e.op);
      case "bin": {
        this.expr(e.l);
        this.expr(e.r);
        const name = e.opA === "float" ? FLOAT_OPS[e.op] : (e.opA === "uint" && UINT_OPS[e.op]) || INT_OPS[e.op];
        return this.emit(name);
      }
      case "conv":
        this.expr(e.e);
        if (e.to === "float") return this.emit(e.from === "uint" ? "u2f" : "i2f");
        if (e.from === "float") return this.emit(e.to === "uint" ? "f2u" : "f2i");
        return;
      case "wrap":
        this.expr(e.e);
        return this.emit(`ext.${loadType(e.t)}`);
      case "evval":
        return this.emit(`evld.${loadType(e.t)}`);
      case "addr":
        return this.emit("pusha", e.sym.addr + e.off);
    }
  }
}

/** A copy between two variables of these types needs no conversion (little-endian narrowing keeps the low bytes). */
function movable(src: string, dst: string): boolean {
  const ws = BASIC_SIZE[src as "ubyte"];
  const wd = BASIC_SIZE[dst as "ubyte"];
  if (src === "float" || dst === "float") return src === dst;
  return wd <= ws;
}

function convertExpr(e: IExpr, to: Arith): IExpr {
  if (e.a === to) return e;
  return { k: "conv", from: e.a, to, e, a: to };
}
