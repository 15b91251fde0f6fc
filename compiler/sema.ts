/**
 * Name resolution and type checking: AST (compiler/ast.ts) -> IR
 * (compiler/ir.ts). Reports undeclared/redeclared names, type errors,
 * misplaced break/return, constructs not allowed in async or finally blocks,
 * constant index overflows, and Terra's warnings (narrowing assignments,
 * shadowed declarations, unused events, unreachable code). Keeps going after
 * errors so that one compilation reports every mistake.
 */
import type * as A from "./ast";
import type { BasicTypeName } from "./ast";
import { buildConfiguration, buildPktype, buildRecord, constInt, type Configuration, type Func, resolveType } from "./config";
import type { Diagnostics, Loc } from "./diagnostics";
import { convert, foldBinary } from "./fold";
import type { AwaitStore, AwaitWhat, IBlock, IExpr, ILoop, IProgram, IStmt, IValBlock, Place, RecPlace, VarSym } from "./ir";
import { type Arith, arithOf, BASIC_SIZE, basic, commonArith, intRange, recordsCompatible, sizeOf, type Ty, tyName, wrapTo } from "./types";

interface Scope {
  vars: Map<string, VarSym>;
  /** Every symbol declared in this scope, hidden ones included, in order. */
  declared: VarSym[];
  parent: Scope | null;
  /** Lookups that cross this scope upwards leave an async block. */
  asyncBoundary: boolean;
}

/** A name resolved in an expression: a scalar, a record, an array. */
type Ref =
  | { kind: "scalar"; place: Place }
  | { kind: "record"; rp: RecPlace }
  | { kind: "array"; sym: VarSym; off: number; elem: BasicTypeName; len: number };

interface Ctx {
  loops: ILoop[];
  vals: IValBlock[];
  inAsync: boolean;
  /** Loops and value blocks enclosing the current async (not reachable from inside it). */
  asyncLoopDepth: number;
  asyncValDepth: number;
  inFinally: boolean;
}

const UNIT_MS = { h: 3_600_000, min: 60_000, s: 1000, ms: 1 } as const;

export interface SemaResult {
  ir: IProgram;
  config: Configuration;
}

/** Analyze a parsed program. Returns null when there is no configuration to compile against. */
export function analyze(program: A.Program, diags: Diagnostics): SemaResult | null {
  if (!program.config) {
    diags.error("config", program.loc, "no configuration: the script must #include a configuration file",
      'start the script with #include "TerraNet.defs" or #include "TerraGrp.defs"');
    return null;
  }
  const config = buildConfiguration(program.config, diags);
  const s = new Sema(config, diags);
  const body = s.program(program.body);
  return { ir: { body, syms: s.syms, events: s.events, usesFloat: s.usesFloat }, config };
}

class Sema {
  readonly syms: VarSym[] = [];
  readonly events: VarSym[] = [];
  usesFloat = false;
  private scope: Scope = { vars: new Map(), declared: [], parent: null, asyncBoundary: false };
  private ctx: Ctx = { loops: [], vals: [], inAsync: false, asyncLoopDepth: 0, asyncValDepth: 0, inFinally: false };
  private nextId = 0;

  constructor(private readonly cfg: Configuration, private readonly diags: Diagnostics) {}

  program(stmts: A.Stmt[]): IBlock {
    const b = this.block(stmts, false);
    for (const ev of this.events) {
      if (!ev.awaited) this.diags.warning("unused-event", ev.loc, `event \`${ev.name}\` is never awaited`, "emitting it has no effect");
    }
    return b;
  }

  // ------------------------------------------------------------------ scopes and symbols

  private withScope<T>(asyncBoundary: boolean, f: () => T): T {
    const saved = this.scope;
    this.scope = { vars: new Map(), declared: [], parent: saved, asyncBoundary };
    try {
      return f();
    } finally {
      this.scope = saved;
    }
  }

  private declare(name: string, ty: Ty, loc: Loc, opts: { isEvent?: boolean; readOnly?: boolean; hidden?: boolean } = {}): VarSym {
    const sym: VarSym = {
      id: this.nextId++, name, ty, loc, isEvent: !!opts.isEvent, readOnly: !!opts.readOnly, hidden: !!opts.hidden,
      refs: 0, addr: -1, awaited: false,
    };
    if (!opts.hidden) {
      const same = this.scope.vars.get(name);
      if (same) {
        this.diags.error("redeclared", loc, `\`${name}\` is already declared in this block (line ${same.loc.line})`, "rename one of them");
      } else {
        const outer = this.lookup(name, true);
        if (outer) this.diags.warning("shadow", loc, `declaration of \`${name}\` hides the one at line ${outer.loc.line}`);
        if (this.cfg.functions.has(name)) this.diags.warning("shadow", loc, `variable \`${name}\` has the name of a function`);
      }
      this.scope.vars.set(name, sym);
    }
    this.syms.push(sym);
    this.scope.declared.push(sym);
    if (ty.kind === "basic" && ty.name === "float") this.usesFloat = true;
    return sym;
  }

  /** Find a variable; `quiet` skips the async-boundary diagnostic (used for shadow checks). */
  private lookup(name: string, quiet = false, loc?: Loc): VarSym | undefined {
    let crossed = false;
    for (let s: Scope | null = this.scope; s; s = s.parent) {
      const v = s.vars.get(name);
      if (v) {
        if (crossed && !quiet && loc) {
          this.diags.error("async", loc, `\`${name}\` cannot be used inside an async block unless it is passed in`,
            `list it: async (${name}) do ... end`);
        }
        return v;
      }
      if (s.asyncBoundary) crossed = true;
    }
    return undefined;
  }

  private block(stmts: A.Stmt[], newScope = true): IBlock {
    const run = (): IBlock => {
      const b: IBlock = { stmts: [], vars: this.scope.declared };
      let ended: A.Stmt | null = null;
      for (const st of stmts) {
        if (ended) {
          this.diags.warning("unreachable", st.loc, `this statement is never reached (after \`${stmtWord(ended)}\` at line ${ended.loc.line})`);
          ended = null;
        }
        this.stmt(st, b.stmts);
        if (st.kind === "break" || st.kind === "return" || st.kind === "await-forever") ended = st;
      }
      return b;
    };
    return newScope ? this.withScope(false, run) : run();
  }

  // ------------------------------------------------------------------ statements

  private stmt(st: A.Stmt, out: IStmt[]): void {
    switch (st.kind) {
      case "var": return this.varDecl(st, out);
      case "event": return this.eventDecl(st, out);
      case "regtype": {
        buildRecord(st, this.cfg.records, this.diags);
        return;
      }
      case "packet":
        this.diags.error("type", st.loc, "packet types are declared in the configuration (.defs); scripts declare views of them with pktype");
        return;
      case "pktype": {
        buildPktype(st, this.cfg.records, this.diags);
        return;
      }
      case "set": return this.set(st.target, st.source, st.loc, out);
      case "await-time":
      case "await-ext":
      case "await-int":
      case "await-forever": {
        const a = this.await(st, null);
        if (a) out.push(a);
        return;
      }
      case "emit-ext": return this.emitExt(st, out);
      case "emit-int": return this.emitInt(st, out);
      case "emit-time":
        this.diags.error("unsupported", st.loc, "`emit <time>` (simulated time inside async) is not supported, as in terrac");
        return;
      case "call-stmt": {
        const c = this.call(st.call);
        if (c) out.push({ k: "call", call: c, loc: st.loc });
        return;
      }
      case "inc":
      case "dec": {
        const p = this.scalarPlace(st.target, `\`${st.kind}\``);
        if (!p) return;
        if (p.t === "float") {
          this.diags.error("type", st.target.loc, `\`${st.kind}\` needs an integer variable, \`${exprText(st.target)}\` is float`);
          return;
        }
        out.push({ k: "incdec", dst: p, delta: st.kind === "inc" ? 1 : -1, loc: st.loc });
        return;
      }
      case "if": {
        const s = this.ifStmt(st);
        if (s) out.push(s);
        return;
      }
      case "loop": {
        const s = this.loop(st);
        if (s) out.push(s);
        return;
      }
      case "break": {
        if (this.ctx.inFinally) {
          this.diags.error("break-outside-loop", st.loc, "`break` is not allowed inside `finally`");
          return;
        }
        const loop = this.ctx.loops[this.ctx.loops.length - 1];
        if (!loop || (this.ctx.inAsync && this.ctx.loops.length <= this.ctx.asyncLoopDepth)) {
          this.diags.error("break-outside-loop", st.loc, this.ctx.inAsync && loop ? "`break` cannot leave an async block" : "`break` outside a loop");
          return;
        }
        out.push({ k: "break", loop, loc: st.loc });
        return;
      }
      case "return": return this.ret(st, out);
      case "do": {
        const s = this.doStmt(st);
        if (s) out.push(s);
        return;
      }
      case "async": {
        const s = this.asyncStmt(st);
        if (s) out.push(s);
        return;
      }
      case "par/or":
      case "par/and":
      case "par": {
        const s = this.par(st);
        if (s) out.push(s);
        return;
      }
    }
  }

  private varDecl(st: A.VarDeclStmt, out: IStmt[]): void {
    let ty = resolveType(st.type, this.cfg.records, this.diags);
    if (!ty) return;
    if (st.type.ptr) {
      this.diags.error("type", st.type.loc, "pointer variables are not supported in Céu-T scripts");
      return;
    }
    if (st.dim) {
      if (ty.kind !== "basic") {
        this.diags.error("type", st.type.loc, `arrays can only hold basic types, not \`${tyName(ty)}\``);
        return;
      }
      const n = constInt(st.dim, this.diags, "an array size");
      if (n === null) return;
      if (n <= 0 || n > 0xffff) {
        this.diags.error("const", st.dim.loc, `array size must be 1..65535, got ${n}`);
        return;
      }
      ty = { kind: "array", elem: ty.name, len: n };
    }
    for (const d of st.decls) {
      const sym = this.declare(d.name, ty, d.loc);
      if (d.init) {
        if (ty.kind === "array") {
          this.diags.error("type", d.loc, "arrays cannot be initialized in their declaration; assign elements one by one");
          continue;
        }
        this.set({ kind: "var", name: d.name, loc: d.loc }, d.init, d.loc, out, sym);
      }
    }
  }

  private eventDecl(st: A.EventDeclStmt, out: IStmt[]): void {
    const ty = resolveType(st.type, this.cfg.records, this.diags);
    if (!ty) return;
    if (ty.kind !== "basic") {
      this.diags.error("type", st.type.loc, `internal events carry a basic type, not \`${tyName(ty)}\``);
      return;
    }
    if (this.ctx.inAsync) this.diags.error("async", st.loc, "internal events cannot be declared inside async");
    for (const d of st.decls) {
      const sym = this.declare(d.name, ty, d.loc, { isEvent: true });
      this.events.push(sym);
      if (d.init) this.set({ kind: "var", name: d.name, loc: d.loc }, d.init, d.loc, out, sym);
    }
  }

  /** target = source (also declarations with initializer: `declared` is the new symbol). */
  private set(target: A.Expr, source: A.SetSource, loc: Loc, out: IStmt[], declared?: VarSym): void {
    const ref = this.ref(target);
    if (!ref) {
      if (source.kind === "exp") this.expr(source.expr); // still report errors on the right side
      return;
    }
    if (ref.kind === "scalar" && ref.place.sym.readOnly && !declared) {
      this.diags.error("type", target.loc, `\`${ref.place.sym.name}\` is a loop counter and cannot be assigned`);
      return;
    }
    if (ref.kind === "array") {
      this.diags.error("type", target.loc, `cannot assign to the whole array \`${ref.sym.name}\``, "assign its elements, e.g. a[0] = ...");
      return;
    }
    switch (source.kind) {
      case "exp": {
        if (ref.kind === "record") {
          const src = this.recordOf(source.expr);
          if (!src) return;
          if (!recordsCompatible(ref.rp.rec, src.rec)) {
            this.diags.error("type", source.expr.loc, `cannot assign a \`${src.rec.name}\` to a \`${ref.rp.rec.name}\``);
            return;
          }
          out.push({ k: "copy", dst: ref.rp, src, len: Math.min(ref.rp.rec.size, src.rec.size), loc });
          return;
        }
        const e = this.expr(source.expr);
        if (!e) return;
        out.push({ k: "store", dst: ref.place, src: this.toStore(e, ref.place.t, source.expr.loc), loc });
        return;
      }
      case "await": {
        const a = this.await(source.await, ref);
        if (a) out.push(a);
        return;
      }
      case "block": {
        if (ref.kind === "record") {
          this.diags.error("type", loc, "value blocks return basic values, not records");
          return;
        }
        const vb: IValBlock = { k: "valblock", dst: ref.place, inner: null as unknown as IStmt, loc };
        this.ctx.vals.push(vb);
        const inner = this.blockStmt(source.block);
        this.ctx.vals.pop();
        if (!inner) return;
        vb.inner = inner;
        out.push(vb);
        return;
      }
    }
  }

  private blockStmt(b: A.DoStmt | A.AsyncStmt | A.ParStmt | A.IfStmt | A.LoopStmt): IStmt | null {
    switch (b.kind) {
      case "do": return this.doStmt(b);
      case "async": return this.asyncStmt(b, true);
      case "if": return this.ifStmt(b);
      case "loop": return this.loop(b);
      default: return this.par(b);
    }
  }

  private await(st: A.AwaitStmt, dst: Ref | null): IStmt | null {
    if (this.ctx.inAsync) {
      this.diags.error("async", st.loc, "`await` is not allowed inside async");
      return null;
    }
    if (this.ctx.inFinally) {
      this.diags.error("type", st.loc, "`await` is not allowed inside `finally`");
      return null;
    }
    let what: AwaitWhat;
    let store: AwaitStore | null = null;
    switch (st.kind) {
      case "await-forever":
        if (dst) this.diags.error("type", st.loc, "`await FOREVER` has no value");
        return { k: "await", what: { kind: "forever" }, store: null, loc: st.loc };
      case "await-time": {
        const ms = this.duration(st.time);
        if (ms === null) return null;
        if (dst) {
          this.diags.error("type", st.loc, "a timer await has no value", "Terra's `x = await 10ms` (lateness) is not supported");
          return null;
        }
        what = { kind: "timer", ms };
        break;
      }
      case "await-int": {
        const ev = this.lookup(st.event, false, st.eventLoc);
        if (!ev || !ev.isEvent) {
          this.diags.error("undeclared", st.eventLoc, ev ? `\`${st.event}\` is a variable, not an event` : `event \`${st.event}\` is not declared`,
            ev ? undefined : `declare it: event ushort ${st.event};`);
          return null;
        }
        ev.awaited = true;
        ev.refs++;
        what = { kind: "int", ev };
        if (dst) {
          if (dst.kind !== "scalar") {
            this.diags.error("type", st.loc, `cannot store the ${tyName(ev.ty)} value of \`${ev.name}\` in a record or array`);
            return null;
          }
          const evT = (ev.ty as { name: BasicTypeName }).name;
          this.warnNarrow(BASIC_SIZE[evT], evT === "float", dst.place.t, st.loc, tyName(ev.ty));
          store = { kind: "int", dst: dst.place, ev };
        }
        break;
      }
      case "await-ext": {
        const ev = this.cfg.inputs.get(st.event);
        if (!ev) {
          const isOut = this.cfg.outputs.has(st.event);
          this.diags.error("undeclared", st.eventLoc, isOut ? `\`${st.event}\` is an output event; only input events can be awaited` : `input event \`${st.event}\` is not declared in ${this.cfg.name}`,
            isOut ? undefined : this.suggest(st.event, [...this.cfg.inputs.keys()]));
          return null;
        }
        let aux: IExpr | null = null;
        if (st.aux) {
          if (ev.filteredId === null) {
            this.diags.error("type", st.aux.loc, `input \`${ev.name}\` has no selector: await it without an argument`);
            return null;
          }
          const e = this.expr(st.aux);
          if (!e) return null;
          aux = this.toArith(e, "int");
        } else if (ev.anyId === null) {
          this.diags.error("type", st.eventLoc, `input \`${ev.name}\` must be awaited with a selector: await ${ev.name}(value)`);
          return null;
        }
        what = { kind: "input", ev, aux };
        if (dst) {
          if (ev.type.kind === "void") {
            this.diags.error("type", st.loc, `input \`${ev.name}\` carries no value`);
            return null;
          }
          if (ev.type.kind === "record") {
            if (dst.kind !== "record" || !recordsCompatible(dst.rp.rec, ev.type.rec)) {
              this.diags.error("type", st.loc, `\`${ev.name}\` carries a \`${ev.type.rec.name}\`; store it in a variable of that type (or a pktype of it)`);
              return null;
            }
            store = { kind: "record", dst: dst.rp, len: Math.min(dst.rp.rec.size, ev.type.rec.size) };
          } else if (ev.type.kind === "basic") {
            if (dst.kind !== "scalar") {
              this.diags.error("type", st.loc, `\`${ev.name}\` carries a ${ev.type.name}, which cannot be stored in a record`);
              return null;
            }
            this.warnNarrow(BASIC_SIZE[ev.type.name], ev.type.name === "float", dst.place.t, st.loc, ev.type.name);
            store = { kind: "scalar", dst: dst.place, from: ev.type.name };
          }
        }
        break;
      }
    }
    return { k: "await", what, store, loc: st.loc };
  }

  private duration(t: A.TimeSpec): number | IExpr | null {
    if (t.kind === "const") {
      if (t.ms < 1 || t.ms > 0xffffffff) {
        this.diags.error("const", t.loc, `a timer lasts 1 ms to 4294967295 ms (49.7 days), got ${t.ms} ms`);
        return null;
      }
      return t.ms;
    }
    const e = this.expr(t.expr);
    if (!e) return null;
    if (e.a === "float") {
      this.diags.error("type", t.expr.loc, "a timer duration must be an integer");
      return null;
    }
    const ms = this.bin("*", this.toArith(e, "uint"), { k: "const", v: UNIT_MS[t.unit], a: "uint" }, t.loc);
    if (ms && ms.k === "const") {
      if (ms.v < 1) {
        this.diags.error("const", t.loc, "a timer lasts at least 1 ms");
        return null;
      }
      return ms.v;
    }
    return ms;
  }

  private emitExt(st: A.EmitExtStmt, out: IStmt[]): void {
    if (this.ctx.inAsync) {
      this.diags.error("async", st.loc, "output events cannot be emitted inside async (as in terrac)");
      return;
    }
    const ev = this.cfg.outputs.get(st.event);
    if (!ev) {
      const isIn = this.cfg.inputs.has(st.event);
      this.diags.error("undeclared", st.eventLoc, isIn ? `\`${st.event}\` is an input event; only output events can be emitted` : `output event \`${st.event}\` is not declared in ${this.cfg.name}`,
        isIn ? undefined : this.suggest(st.event, [...this.cfg.outputs.keys()]));
      return;
    }
    if (ev.arg.kind === "void") {
      if (st.arg) this.diags.error("type", st.arg.loc, `output \`${ev.name}\` takes no value`);
      out.push({ k: "emit-out", ev, arg: null, loc: st.loc });
      return;
    }
    if (!st.arg) {
      this.diags.error("type", st.loc, `output \`${ev.name}\` needs a ${tyName(ev.arg)} value: emit ${ev.name}(...)`);
      return;
    }
    if (ev.arg.kind === "record") {
      const rp = this.recordOf(st.arg);
      if (!rp) return;
      if (!recordsCompatible(rp.rec, ev.arg.rec)) {
        this.diags.error("type", st.arg.loc, `output \`${ev.name}\` takes a \`${ev.arg.rec.name}\`, not a \`${rp.rec.name}\``);
        return;
      }
      out.push({ k: "emit-out", ev, arg: rp, loc: st.loc });
      return;
    }
    const e = this.expr(st.arg);
    if (!e || ev.arg.kind !== "basic") return;
    out.push({ k: "emit-out", ev, arg: this.toStore(e, ev.arg.name, st.arg.loc), loc: st.loc });
  }

  private emitInt(st: A.EmitIntStmt, out: IStmt[]): void {
    if (this.ctx.inAsync) {
      this.diags.error("async", st.loc, "internal events cannot be emitted inside async");
      return;
    }
    if (this.ctx.inFinally) {
      this.diags.error("type", st.loc, "`emit` is not allowed inside `finally`");
      return;
    }
    const ev = this.lookup(st.event, false, st.eventLoc);
    if (!ev || !ev.isEvent) {
      this.diags.error("undeclared", st.eventLoc, ev ? `\`${st.event}\` is a variable, not an event` : `event \`${st.event}\` is not declared`);
      return;
    }
    ev.refs++;
    let arg: IExpr | null = null;
    if (st.arg) {
      const e = this.expr(st.arg);
      if (!e) return;
      arg = this.toStore(e, (ev.ty as { name: BasicTypeName }).name, st.arg.loc);
    }
    out.push({ k: "emit-int", ev, arg, loc: st.loc });
  }

  private ifStmt(st: A.IfStmt): IStmt | null {
    const arms: { cond: IExpr; body: IBlock }[] = [];
    let ok = true;
    for (const arm of st.arms) {
      const c = this.expr(arm.cond);
      const body = this.block(arm.body);
      if (!c) ok = false;
      else arms.push({ cond: this.toBool(c), body });
    }
    const orelse = st.orelse ? this.block(st.orelse) : null;
    return ok ? { k: "if", arms, orelse, loc: st.loc } : null;
  }

  private loop(st: A.LoopStmt): ILoop | null {
    if (this.ctx.inFinally) this.diags.error("type", st.loc, "loops are not allowed inside `finally`");
    return this.withScope(false, () => {
      const loop: ILoop = { k: "loop", counter: null, bound: null, body: { stmts: [], vars: [] }, inAsync: this.ctx.inAsync, loc: st.loc };
      let counterT: BasicTypeName = "ulong";
      if (st.bound) {
        const n = this.expr(st.bound);
        if (n && n.k === "const") {
          if (n.a === "float" || n.v < 0) this.diags.error("type", st.bound.loc, "a loop bound must be a non-negative integer");
          else {
            loop.bound = { konst: n.v };
            counterT = n.v <= 0xff ? "ubyte" : n.v <= 0xffff ? "ushort" : "ulong";
          }
        } else if (n) {
          if (n.a === "float") this.diags.error("type", st.bound.loc, "a loop bound must be an integer");
          const h = this.declare(`$bound${this.nextId}`, basic("ulong"), st.loc, { hidden: true });
          loop.bound = { expr: this.toArith(n, "uint"), hidden: { k: "direct", sym: h, off: 0, t: "ulong" } };
        }
      }
      if (st.counter) {
        const c = this.declare(st.counter.name, basic(counterT), st.counter.loc, { readOnly: true });
        loop.counter = { k: "direct", sym: c, off: 0, t: counterT };
      }
      this.ctx.loops.push(loop);
      loop.body = this.block(st.body, false); // counter, bound and body share one scope
      this.ctx.loops.pop();
      return loop;
    });
  }

  private ret(st: A.ReturnStmt, out: IStmt[]): void {
    if (this.ctx.inFinally) {
      this.diags.error("return-outside-block", st.loc, "`return` is not allowed inside `finally`");
      return;
    }
    const target = this.ctx.vals[this.ctx.vals.length - 1] ?? null;
    if (this.ctx.inAsync && this.ctx.vals.length <= this.ctx.asyncValDepth) {
      this.diags.error("return-outside-block", st.loc, "`return` inside async must belong to `x = async (...) do ... end`");
      return;
    }
    let value: IExpr | null = null;
    if (st.value) {
      const e = this.expr(st.value);
      if (!e) return;
      value = target?.dst ? this.toStore(e, target.dst.t, st.value.loc) : e;
    } else if (target) {
      this.diags.error("type", st.loc, "`return` in a value block needs a value: return <expression>");
      return;
    }
    out.push({ k: "return", target, value, loc: st.loc });
  }

  private doStmt(st: A.DoStmt): IStmt {
    const body = this.block(st.body);
    let fin: IBlock | null = null;
    if (st.fin) {
      if (this.ctx.inAsync) this.diags.error("async", st.loc, "`finally` is not allowed inside async");
      const saved = this.ctx.inFinally;
      this.ctx.inFinally = true;
      fin = this.block(st.fin);
      this.ctx.inFinally = saved;
    }
    return { k: "do", body, fin, loc: st.loc };
  }

  /** `valued`: the async is the body of `x = async ... end`, whose `return` it may use. */
  private asyncStmt(st: A.AsyncStmt, valued = false): IStmt | null {
    if (this.ctx.inAsync) {
      this.diags.error("async", st.loc, "async blocks cannot be nested");
      return null;
    }
    if (this.ctx.inFinally) {
      this.diags.error("type", st.loc, "`async` is not allowed inside `finally`");
      return null;
    }
    const params: { sym: VarSym; loc: Loc }[] = [];
    for (const v of st.vars) {
      const sym = this.lookup(v.name, false, v.loc);
      if (!sym) this.diags.error("undeclared", v.loc, `variable \`${v.name}\` is not declared`);
      else if (sym.ty.kind === "array") this.diags.error("type", v.loc, "arrays cannot be passed to async blocks");
      else params.push({ sym, loc: v.loc });
    }
    const saved = this.ctx;
    this.ctx = { ...saved, inAsync: true, asyncLoopDepth: saved.loops.length, asyncValDepth: saved.vals.length - (valued ? 1 : 0) };
    try {
      return this.withScope(true, () => {
        const copies = params.map((p) => {
          p.sym.refs++;
          const dst = this.declare(p.sym.name, p.sym.ty, p.loc, { hidden: true });
          this.scope.vars.set(p.sym.name, dst);
          return { dst, src: p.sym };
        });
        const body = this.block(st.body, false); // the copies belong to the body's scope
        return { k: "async", copies, body, loc: st.loc };
      });
    } finally {
      this.ctx = saved;
    }
  }

  private par(st: A.ParStmt): IStmt | null {
    if (this.ctx.inAsync) {
      this.diags.error("async", st.loc, `\`${st.kind}\` is not allowed inside async`);
      return null;
    }
    if (this.ctx.inFinally) {
      this.diags.error("type", st.loc, `\`${st.kind}\` is not allowed inside \`finally\``);
      return null;
    }
    const branches = st.branches.map((b) => this.block(b));
    return { k: "par", mode: st.kind, branches, loc: st.loc };
  }

  // ------------------------------------------------------------------ places and references

  /** Resolve a name/field/index chain. `write` marks the access as a store (for read-only checks elsewhere). */
  private ref(e: A.Expr): Ref | null {
    switch (e.kind) {
      case "var": {
        const sym = this.lookup(e.name, false, e.loc);
        if (!sym) {
          this.undeclared(e);
          return null;
        }
        sym.refs++;
        switch (sym.ty.kind) {
          case "basic": return { kind: "scalar", place: { k: "direct", sym, off: 0, t: sym.ty.name } };
          case "record": return { kind: "record", rp: { sym, off: 0, rec: sym.ty.rec } };
          case "array": return { kind: "array", sym, off: 0, elem: sym.ty.elem, len: sym.ty.len };
          default: return null;
        }
      }
      case "field": {
        const r = this.ref(e.record);
        if (!r) return null;
        if (r.kind !== "record") {
          this.diags.error("type", e.fieldLoc, `\`${exprText(e.record)}\` is not a record, it has no field \`${e.field}\``);
          return null;
        }
        const f = r.rp.rec.fields.get(e.field);
        if (!f) {
          this.diags.error("undeclared", e.fieldLoc, `\`${r.rp.rec.name}\` has no field \`${e.field}\``,
            this.suggest(e.field, [...r.rp.rec.fields.keys()]) ?? `its fields are ${[...r.rp.rec.fields.keys()].join(", ")}`);
          return null;
        }
        const off = r.rp.off + f.offset;
        if (f.dim !== null) return { kind: "array", sym: r.rp.sym, off, elem: f.elem, len: f.dim };
        return { kind: "scalar", place: { k: "direct", sym: r.rp.sym, off, t: f.elem } };
      }
      case "index": {
        const r = this.ref(e.array);
        if (!r) {
          this.expr(e.index);
          return null;
        }
        if (r.kind !== "array") {
          this.diags.error("type", e.loc, `\`${exprText(e.array)}\` is not an array and cannot be indexed`);
          return null;
        }
        const ix = this.expr(e.index);
        if (!ix) return null;
        if (ix.a === "float") {
          this.diags.error("type", e.index.loc, "an array index must be an integer");
          return null;
        }
        const size = BASIC_SIZE[r.elem];
        if (ix.k === "const") {
          const i = ix.v;
          if (i < 0 || i >= r.len) {
            this.diags.error("const", e.index.loc, `index ${i} is out of range for \`${exprText(e.array)}\` (0..${r.len - 1})`);
            return null;
          }
          return { kind: "scalar", place: { k: "direct", sym: r.sym, off: r.off + i * size, t: r.elem } };
        }
        return { kind: "scalar", place: { k: "indexed", sym: r.sym, off: r.off, len: r.len, t: r.elem, index: this.toArith(ix, "int") } };
      }
      default:
        this.diags.error("type", e.loc, `\`${exprText(e)}\` is not a variable`, "only variables, fields and array elements can be assigned");
        return null;
    }
  }

  private scalarPlace(e: A.Expr, what: string): Place | null {
    const r = this.ref(e);
    if (!r) return null;
    if (r.kind !== "scalar") {
      this.diags.error("type", e.loc, `${what} needs a basic variable, \`${exprText(e)}\` is ${r.kind === "array" ? "an array" : "a record"}`);
      return null;
    }
    if (r.place.sym.readOnly) {
      this.diags.error("type", e.loc, `\`${r.place.sym.name}\` is a loop counter and cannot be changed`);
      return null;
    }
    return r.place;
  }

  private recordOf(e: A.Expr): RecPlace | null {
    const r = this.ref(e);
    if (!r) return null;
    if (r.kind !== "record") {
      this.diags.error("type", e.loc, `\`${exprText(e)}\` is not a record`);
      return null;
    }
    return r.rp;
  }

  private undeclared(e: A.VarExpr): void {
    if (/^[A-Z][A-Z0-9_]*$/.test(e.name)) {
      const kind = this.cfg.inputs.has(e.name) ? "an input event" : this.cfg.outputs.has(e.name) ? "an output event" : null;
      this.diags.error("undeclared", e.loc, kind ? `\`${e.name}\` is ${kind}, not a value` : `\`${e.name}\` is not declared`,
        kind ? (kind.includes("input") ? `read it with: x = await ${e.name};` : undefined) : `upper-case names are constants from #define or events; is a #define or #include missing?`);
      return;
    }
    const names = [...this.visibleNames()];
    this.diags.error("undeclared", e.loc, `\`${e.name}\` is not declared`, this.suggest(e.name, names) ?? `declare it: var ushort ${e.name};`);
  }

  private *visibleNames(): Iterable<string> {
    for (let s: Scope | null = this.scope; s; s = s.parent) yield* s.vars.keys();
  }

  private suggest(name: string, candidates: string[]): string | undefined {
    const best = candidates
      .map((c) => ({ c, d: editDistance(name.toLowerCase(), c.toLowerCase()) }))
      .filter((x) => x.d <= Math.max(1, Math.floor(name.length / 3)))
      .sort((a, b) => a.d - b.d)[0];
    return best ? `did you mean \`${best.c}\`?` : undefined;
  }

  // ------------------------------------------------------------------ expressions

  /** A scalar expression (reports and returns null on error). */
  expr(e: A.Expr): IExpr | null {
    switch (e.kind) {
      case "num": {
        if (e.isFloat) {
          this.usesFloat = true;
          return { k: "const", v: Math.fround(e.value), a: "float" };
        }
        if (!Number.isInteger(e.value) || e.value < 0 || e.value > 0xffffffff) {
          this.diags.error("const", e.loc, `constant ${e.text} does not fit 32 bits`);
          return null;
        }
        return { k: "const", v: e.value, a: e.value > 0x7fffffff ? "uint" : "int" };
      }
      case "null":
        return { k: "const", v: 0, a: "int" };
      case "sizeof": {
        const t = resolveType(e.type, this.cfg.records, this.diags);
        return t ? { k: "const", v: sizeOf(t), a: "int" } : null;
      }
      case "var":
      case "field":
      case "index": {
        const r = this.ref(e);
        if (!r) return null;
        if (r.kind !== "scalar") {
          this.diags.error("type", e.loc, r.kind === "array"
            ? `array \`${exprText(e)}\` needs an index here`
            : `record \`${exprText(e)}\` cannot be used in an expression`, r.kind === "record" ? "use one of its fields" : undefined);
          return null;
        }
        return { k: "load", p: r.place, a: arithOf(r.place.t) };
      }
      case "call":
        return this.call(e);
      case "cast": {
        const x = this.expr(e.operand);
        if (!x) return null;
        if (e.type === "float") this.usesFloat = true;
        return this.cast(x, e.type);
      }
      case "unary": {
        if (e.op === "&") {
          this.diags.error("type", e.loc, "`&` (address of) is only allowed in function arguments that take a pointer");
          return null;
        }
        const x = this.expr(e.operand);
        if (!x) return null;
        if (e.op === "not") return this.un("lnot", this.toBool(x));
        if (e.op === "~") {
          if (x.a === "float") {
            this.diags.error("type", e.loc, "`~` needs an integer operand");
            return null;
          }
          return this.un("bnot", x);
        }
        return this.un("neg", x);
      }
      case "binary": {
        const l = this.expr(e.left);
        const r = this.expr(e.right);
        if (!l || !r) return null;
        return this.bin(e.op, l, r, e.loc);
      }
    }
  }

  private un(op: "neg" | "bnot" | "lnot", e: IExpr): IExpr {
    const a: Arith = op === "lnot" ? "int" : e.a;
    if (e.k === "const") {
      const v = op === "lnot" ? (e.v === 0 ? 1 : 0) : op === "bnot" ? ~e.v : -e.v;
      return { k: "const", v: convert(v, a === "float" ? "float" : "int", a), a };
    }
    return { k: "un", op, e, a };
  }

  /** Binary operator with C's usual conversions; folds constants; division by a constant zero is an error. */
  private bin(op: A.BinaryOp, l: IExpr, r: IExpr, loc: Loc): IExpr | null {
    let opA: Arith;
    let a: Arith;
    if (op === "and" || op === "or") {
      l = this.toBool(l);
      r = this.toBool(r);
      opA = "int";
      a = "int";
    } else if (op === "<<" || op === ">>") {
      if (l.a === "float" || r.a === "float") {
        this.diags.error("type", loc, `\`${op}\` needs integer operands`);
        return null;
      }
      opA = l.a;
      a = l.a;
      r = this.toArith(r, "int");
    } else {
      opA = commonArith(l.a, r.a);
      if (opA === "float" && (op === "%" || op === "&" || op === "|" || op === "^")) {
        this.diags.error("type", loc, `\`${op}\` needs integer operands`);
        return null;
      }
      l = this.toArith(l, opA);
      r = this.toArith(r, opA);
      a = ["==", "!=", "<", "<=", ">", ">="].includes(op) ? "int" : opA;
    }
    if (l.k === "const" && r.k === "const") {
      const f = foldBinary(op, l.v, r.v, opA);
      if (!f.ok) {
        this.diags.error("const", loc, f.reason);
        return null;
      }
      return { k: "const", v: f.value, a };
    }
    if ((op === "/" || op === "%") && r.k === "const" && r.v === 0) {
      this.diags.error("const", loc, `${op === "/" ? "division" : "modulo"} by zero`);
      return null;
    }
    return { k: "bin", op, l, r, a, opA };
  }

  /** Convert to an arithmetic class (i2f, f2i, ... or nothing). */
  toArith(e: IExpr, to: Arith): IExpr {
    if (e.a === to) return e;
    if (e.k === "const") return { k: "const", v: convert(e.v, e.a, to), a: to };
    if (to === "float" || e.a === "float") this.usesFloat = true;
    return { k: "conv", from: e.a, to, e, a: to };
  }

  /** A truth value as int 0/1-compatible: floats are compared with 0.0. */
  private toBool(e: IExpr): IExpr {
    if (e.a !== "float") return e;
    return this.bin("!=", e, { k: "const", v: 0, a: "float" }, { file: "", line: 0, col: 0 }) as IExpr;
  }

  /** `<T>e`: convert and wrap to a basic type. */
  private cast(e: IExpr, t: BasicTypeName): IExpr {
    const to = arithOf(t);
    const c = this.toArith(e, to);
    if (BASIC_SIZE[t] >= 4) return c;
    if (c.k === "const") return { k: "const", v: wrapTo(t, c.v), a: "int" };
    return { k: "wrap", t, e: c, a: "int" };
  }

  /** Convert a value for storing into a variable/field/argument of type t, warning about narrowing like terrac. */
  toStore(e: IExpr, t: BasicTypeName, loc: Loc): IExpr {
    const to = arithOf(t);
    if (e.k === "const" && t !== "float") {
      const [lo, hi] = intRange(t);
      if (e.a === "float") {
        if (!Number.isInteger(e.v)) this.diags.warning("narrowing", loc, `float constant ${e.v} is truncated to ${t}`);
      } else if (e.v < lo || e.v > hi) {
        this.diags.warning("narrowing", loc, `constant ${e.v} does not fit ${t}; it becomes ${wrapTo(t, e.v)}`);
      }
      return { k: "const", v: convert(e.v, e.a, to), a: to };
    }
    if (e.k !== "const") this.warnNarrow(naturalWidth(e), e.a === "float", t, loc, e.a === "float" ? "float" : `${naturalWidth(e) * 8}-bit value`);
    return this.toArith(e, to);
  }

  private warnNarrow(width: number, isFloat: boolean, t: BasicTypeName, loc: Loc, from: string): void {
    if (isFloat && t !== "float") this.diags.warning("narrowing", loc, `automatic conversion from ${from} to ${t} truncates`, `make it explicit: <${t}>(...)`);
    else if (!isFloat && width > BASIC_SIZE[t]) this.diags.warning("narrowing", loc, `automatic conversion from ${from} to ${t} may lose bits`, `make it explicit: <${t}>(...)`);
  }

  call(e: A.CallExpr): (IExpr & { k: "call" }) | null {
    const fn = this.cfg.functions.get(e.name);
    if (!fn) {
      const v = this.lookup(e.name, true);
      this.diags.error("undeclared", e.loc, v ? `\`${e.name}\` is a variable, not a function` : `function \`${e.name}\` is not declared in ${this.cfg.name}`,
        v ? undefined : this.suggest(e.name, [...this.cfg.functions.keys()]));
      for (const a of e.args) if (a.kind !== "unary" || a.op !== "&") this.expr(a);
      return null;
    }
    if (e.args.length !== fn.params.length) {
      this.diags.error("type", e.loc, `\`${fn.name}\` takes ${fn.params.length} argument${fn.params.length === 1 ? "" : "s"}, got ${e.args.length}`);
      return null;
    }
    const args: IExpr[] = [];
    let ok = true;
    fn.params.forEach((p, i) => {
      const a = this.arg(fn, p, i, e.args[i]);
      if (a) args.push(a);
      else ok = false;
    });
    if (!ok) return null;
    if (fn.ret === "float") this.usesFloat = true;
    return { k: "call", fn, args, a: arithOf(fn.ret), loc: e.loc };
  }

  private arg(fn: Func, p: Func["params"][number], i: number, a: A.Expr): IExpr | null {
    const where = `argument ${i + 1} of \`${fn.name}\``;
    if (p.kind === "scalar") {
      const x = this.expr(a);
      return x ? this.toStore(x, p.type, a.loc) : null;
    }
    if (p.kind === "record") {
      const rp = this.recordOf(a);
      if (!rp) return null;
      if (!recordsCompatible(rp.rec, p.rec)) {
        this.diags.error("type", a.loc, `${where} must be a \`${p.rec.name}\`, not a \`${rp.rec.name}\``);
        return null;
      }
      return { k: "addr", sym: rp.sym, off: rp.off, a: "int" };
    }
    // pointer parameter: an array, or &scalar
    const target = a.kind === "unary" && a.op === "&" ? a.operand : a;
    const r = this.ref(target);
    if (!r) return null;
    if (r.kind === "array") {
      if (BASIC_SIZE[r.elem] !== BASIC_SIZE[p.elem]) this.diags.warning("narrowing", a.loc, `${where} points to ${p.elem} elements, \`${exprText(target)}\` holds ${r.elem}`);
      return { k: "addr", sym: r.sym, off: r.off, a: "int" };
    }
    if (r.kind === "scalar" && r.place.k === "direct" && target !== a) {
      if (BASIC_SIZE[r.place.t] !== BASIC_SIZE[p.elem]) this.diags.warning("narrowing", a.loc, `${where} points to a ${p.elem}, \`${exprText(target)}\` is ${r.place.t}`);
      return { k: "addr", sym: r.place.sym, off: r.place.off, a: "int" };
    }
    this.diags.error("type", a.loc, `${where} takes a pointer to ${p.elem}: pass an array or &variable`);
    return null;
  }
}

/** Width in bytes of the values an expression can take, for narrowing warnings (Terra's rule). */
function naturalWidth(e: IExpr): number {
  switch (e.k) {
    case "const": {
      const v = e.v;
      return v >= -0x80 && v <= 0xff ? 1 : v >= -0x8000 && v <= 0xffff ? 2 : 4;
    }
    case "load": return BASIC_SIZE[e.p.t];
    case "call": return BASIC_SIZE[e.fn.ret];
    case "evval": return BASIC_SIZE[e.t];
    case "wrap": return BASIC_SIZE[e.t];
    case "addr": return 2;
    case "un": return e.op === "lnot" ? 1 : naturalWidth(e.e);
    case "conv": return e.to === "float" ? 4 : naturalWidth(e.e);
    case "bin":
      if (["==", "!=", "<", "<=", ">", ">=", "and", "or"].includes(e.op)) return 1;
      if (e.op === ">>" || e.op === "&") return Math.min(naturalWidth(e.l), e.op === "&" ? naturalWidth(e.r) : 4);
      return Math.max(naturalWidth(e.l), naturalWidth(e.r));
  }
}

function stmtWord(st: A.Stmt): string {
  return st.kind === "await-forever" ? "await FOREVER" : st.kind;
}

/** Short source-like text of an expression, for messages. */
export function exprText(e: A.Expr): string {
  switch (e.kind) {
    case "num": return e.text;
    case "var": return e.name;
    case "null": return "null";
    case "sizeof": return `sizeof<${e.type.name}>`;
    case "call": return `${e.name}(...)`;
    case "unary": return `${e.op === "not" ? "not " : e.op}${exprText(e.operand)}`;
    case "cast": return `<${e.type}>${exprText(e.operand)}`;
    case "binary": return `${exprText(e.left)} ${e.op} ${exprText(e.right)}`;
    case "index": return `${exprText(e.array)}[${exprText(e.index)}]`;
    case "field": return `${exprText(e.record)}.${e.field}`;
  }
}

/** Edit distance counting a swap of adjacent letters as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

