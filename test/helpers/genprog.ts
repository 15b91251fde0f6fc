/**
 * Random WELL-FORMED Céu-T programs and input traces (fast-check).
 *
 * `arbCase(opts)` yields { source, trace, until, seed }: a TerraNet (or
 * TerraGrp) script that compiles without errors, and a trace in the JSON
 * form `terra run --inputs` reads. A case is a pure function of its seed
 * (`genCase(seed, opts)`), so a failure is reproduced from the seed fast-check
 * prints.
 *
 * What makes the programs valid, by construction:
 * - every `loop` body starts with an await of a constant timer (>= 1 ms) or
 *   of an input only the trace produces (INT_A, INT_B, RECEIVE, ERROR), so it
 *   never spins at one logical time (and passes the tight-loop check);
 *   `loop i, N` has a constant bound and no await;
 * - the trails of a par own disjoint variables and disjoint groups of
 *   `unsafe` outputs (no concurrent-access errors); internal events are used
 *   in the emit/await pattern of par/and (ordered by the emit);
 * - divisors and array indexes always involve a variable (no constant
 *   division by zero or constant index out of range);
 * - `par` (never rejoins) only at top level, each branch ending in an
 *   infinite loop or `await FOREVER`; async blocks hold only bounded code.
 *
 * Runtime errors (division by zero, index out of range) and ERROR handlers
 * happen on purpose. Other tests reuse the generator to check that random
 * programs never throw in the TypeScript VM and never exceed the compiler's
 * `report.max_instructions_per_reaction`.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { compile, type CompileResult } from "../../compiler/compile";

export interface GenOptions {
  /** Allow float variables and arithmetic (default true; the motes' builds have no float). */
  float?: boolean;
  /** Probability of a TerraGrp script (default 0.15). */
  grp?: number;
  /** Allow async blocks (default true). */
  async?: boolean;
  /** Statements per block at most (default 5). */
  maxStatements?: number;
  /** Nesting depth (default 3). */
  maxDepth?: number;
}

/** One trace entry as `terra run --inputs` reads it. */
export interface TraceJson {
  at_ms: number;
  event: string;
  value?: number | number[] | Record<string, number | number[]>;
  aux?: number;
}

export interface GenCase {
  seed: number;
  source: string;
  trace: TraceJson[];
  /** Run until this time (ms, inclusive, as `terra run --until`). */
  until: number;
  grp: boolean;
  usesFloat: boolean;
}

// ---- a small deterministic PRNG (xorshift128+ on 32-bit halves) --------------------------

class Rng {
  private a: number;
  private b: number;
  constructor(seed: number) {
    this.a = (seed ^ 0x9e3779b9) >>> 0 || 1;
    this.b = (Math.imul(seed, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0 || 2;
    for (let i = 0; i < 8; i++) this.u32();
  }
  u32(): number {
    let s1 = this.a;
    const s0 = this.b;
    this.a = s0;
    s1 ^= s1 << 23;
    s1 ^= s1 >>> 17;
    s1 ^= s0;
    s1 ^= s0 >>> 26;
    this.b = s1 >>> 0;
    return (this.a + this.b) >>> 0;
  }
  /** integer in [lo, hi] */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.u32() % xs.length];
  }
  /** weighted choice: [weight, value] */
  weighted<T>(xs: ReadonlyArray<readonly [number, T]>): T {
    const total = xs.reduce((s, [w]) => s + w, 0);
    let r = (this.u32() / 4294967296) * total;
    for (const [w, v] of xs) {
      if ((r -= w) < 0) return v;
    }
    return xs[xs.length - 1][1];
  }
}

// ---- program model ----------------------------------------------------------------------------

type IntType = "ubyte" | "byte" | "ushort" | "short" | "ulong" | "long";
const INT_TYPES: IntType[] = ["ubyte", "byte", "ushort", "short", "ulong", "long"];
type VType = IntType | "float";

interface Var {
  name: string;
  type: VType;
  /** array length, or 0 for a scalar */
  dim: number;
}

/** Groups of outputs declared `unsafe` with each other: a trail owns whole groups. */
const OUT_GROUPS = {
  leds: ["LEDS", "LED0", "LED1", "LED2"],
  sensors: ["REQ_TEMP", "REQ_PHOTO", "REQ_VOLTS"],
  custA: ["REQ_CUSTOM_A"],
  radio: ["SEND", "SEND_ACK"],
  ports: ["SET_PORT_A", "REQ_PORT_A", "CFG_PORT_A"],
  beep: ["BEEP"],
  mic: ["REQ_MIC"],
  cust: ["REQ_CUSTOM"],
  queue: ["qPut"],
  grp: ["SEND_BS", "SEND_GR", "AGGREG"],
} as const;
type Group = keyof typeof OUT_GROUPS;

interface Ctx {
  vars: Var[];
  /** record variables this trail owns (msg: pktype of radioMsg / msgBS_t) */
  msgs: string[];
  groups: Set<Group>;
  depth: number;
  inLoop: boolean;
  /** inside async: no awaits, no emits, no outputs */
  inAsync: boolean;
  /** inside a value block (do ... return e; end) */
  inValue: boolean;
}

/** Lines of script body after which a program grows by plain statements only (Gen.stmt). */
const MAX_LINES = 250;

class Gen {
  private out: string[] = [];
  private n = 0;
  readonly globals: string[] = [];
  usesFloat = false;
  /** Inputs the script may await that only the trace produces (the trace generator favours them). */
  readonly awaited = new Set<string>();

  constructor(readonly r: Rng, readonly o: Required<GenOptions>, readonly grp: boolean) {}

  fresh(p: string): string {
    return `${p}${this.n++}`;
  }

  // ---- expressions
  private lit(t: VType): string {
    const r = this.r;
    if (t === "float") {
      return r.pick(["0.5", "1.25", "-3.75", "100.0", "2.5e2", "1e-3", "0.0", "-0.0", "3.4e38", "1e30", "7.0"]);
    }
    const v = r.weighted<number>([
      [4, r.int(0, 10)], [2, r.int(-10, 10)], [2, r.int(0, 300)], [1, r.int(-70000, 70000)],
      [1, r.pick([127, 128, 255, 256, 32767, 32768, 65535, 65536, 2147483647, -2147483647])],
    ]);
    if (v < 0) return `(${v})`;
    return this.r.chance(0.1) ? `0x${v.toString(16)}` : String(v);
  }

  private scalarVar(ctx: Ctx, float: boolean): Var | undefined {
    const vs = ctx.vars.filter((v) => v.dim === 0 && (float ? v.type === "float" : v.type !== "float"));
    return vs.length ? this.r.pick(vs) : undefined;
  }

  private arrayVar(ctx: Ctx, float: boolean): Var | undefined {
    const vs = ctx.vars.filter((v) => v.dim > 0 && (float ? v.type === "float" : v.type !== "float"));
    return vs.length ? this.r.pick(vs) : undefined;
  }

  /** An integer expression that mentions at least one variable (safe as a divisor or an index). */
  private varIntExpr(ctx: Ctx, d: number): string {
    const v = this.scalarVar(ctx, false);
    if (!v) return "getNodeId()";
    return d > 0 && this.r.chance(0.5) ? `(${v.name} ${this.r.pick(["+", "-", "*", "&", "^"])} ${this.intExpr(ctx, d - 1)})` : v.name;
  }

  intExpr(ctx: Ctx, d = 2): string {
    const r = this.r;
    if (d <= 0) {
      const v = this.scalarVar(ctx, false);
      return v && r.chance(0.6) ? v.name : this.lit("long");
    }
    const k = r.weighted<string>([
      [3, "atom"], [5, "bin"], [2, "div"], [1, "un"], [1, "cast"], [1, "idx"], [1, "call"], [1, "cmpf"],
    ]);
    switch (k) {
      case "bin": {
        const op = r.pick(["+", "-", "*", "&", "|", "^", "<<", ">>", "==", "!=", "<", "<=", ">", ">=", "and", "or"]);
        if (op === "<<" || op === ">>") return `(${this.intExpr(ctx, d - 1)} ${op} ${r.chance(0.7) ? r.int(0, 33) : this.varIntExpr(ctx, 0)})`;
        return `(${this.intExpr(ctx, d - 1)} ${op} ${this.intExpr(ctx, d - 1)})`;
      }
      case "div":
        return `(${this.intExpr(ctx, d - 1)} ${r.pick(["/", "%"])} ${this.varIntExpr(ctx, d - 1)})`;
      case "un":
        return `${r.pick(["-", "~", "not "])}(${this.intExpr(ctx, d - 1)})`;
      case "cast":
        return `<${r.pick(INT_TYPES)}>(${this.intExpr(ctx, d - 1)})`;
      case "idx": {
        const a = this.arrayVar(ctx, false);
        if (!a) return this.intExpr(ctx, d - 1);
        return `${a.name}[${this.index(ctx, a)}]`;
      }
      case "call":
        return r.pick(["random()", "getNodeId()", "getTime()", "qSize()", "random()"]).replace("qSize()", this.grp ? "getParent()" : "qSize()");
      case "cmpf":
        if (!this.o.float || !ctx.vars.some((v) => v.type === "float")) return this.intExpr(ctx, d - 1);
        if (r.chance(0.5)) return `<long>(${this.floatExpr(ctx, d - 1)})`;
        return `(${this.floatExpr(ctx, d - 1)} ${r.pick(["==", "!=", "<", "<=", ">", ">="])} ${this.floatExpr(ctx, d - 1)})`;
      default: {
        const v = this.scalarVar(ctx, false);
        return v && r.chance(0.7) ? v.name : this.lit("long");
      }
    }
  }

  private index(ctx: Ctx, a: Var): string {
    // mostly in range, sometimes out of range (ERROR 11); always through a variable
    const v = this.scalarVar(ctx, false);
    if (!v) return "getNodeId()";
    return this.r.chance(0.8) ? `${v.name} % ${a.dim + (this.r.chance(0.2) ? 1 : 0)}` : v.name;
  }

  floatExpr(ctx: Ctx, d = 2): string {
    const r = this.r;
    this.usesFloat = true;
    if (d <= 0 || r.chance(0.3)) {
      const v = this.scalarVar(ctx, true);
      return v && r.chance(0.6) ? v.name : this.lit("float");
    }
    const k = r.weighted<string>([[5, "bin"], [1, "neg"], [2, "conv"], [1, "idx"]]);
    switch (k) {
      case "bin": {
        const op = r.pick(["+", "-", "*", "/"]);
        let b = this.floatExpr(ctx, d - 1);
        // a constant divisor that folds to zero is a compile error: divide by variables or 7.0
        // (casts and hex literals such as <float>(0x0) are not variables)
        if (op === "/" && !/[a-df-zA-Z_]/.test(b.replace(/<\w+>|0x[0-9a-f]+/gi, ""))) b = "7.0";
        return `(${this.floatExpr(ctx, d - 1)} ${op} ${b})`;
      }
      case "neg":
        return `-(${this.floatExpr(ctx, d - 1)})`;
      case "conv":
        return `<float>(${this.intExpr(ctx, d - 1)})`;
      default: {
        const a = this.arrayVar(ctx, true);
        return a ? `${a.name}[${this.index(ctx, a)}]` : this.lit("float");
      }
    }
  }

  private exprFor(ctx: Ctx, t: VType): string {
    return t === "float" ? this.floatExpr(ctx) : this.intExpr(ctx);
  }

  // ---- statements
  private emit(line: string, ind: number): void {
    this.out.push(`${"\t".repeat(ind)}${line}`);
  }

  /** Statements of a block; when mustAwait, the block surely awaits (for loop bodies, par branches of a `par`). */
  block(ctx: Ctx, ind: number, n?: number): void {
    const count = n ?? this.r.int(1, this.o.maxStatements);
    for (let i = 0; i < count; i++) this.stmt(ctx, ind);
  }

  private timerAwait(): string {
    const r = this.r;
    return r.weighted<string>([
      [4, `await ${r.int(1, 200)}ms;`], [2, `await ${r.int(1, 5)}s;`], [1, `await ${r.int(1, 3)}s${r.int(1, 900)}ms;`],
      [1, `await ${r.int(1, 2)}min;`],
    ]);
  }

  /** An await of something only the trace produces (bounded by the trace) or of a timer. */
  private loopHead(ctx: Ctx, ind: number): void {
    const r = this.r;
    const v = this.scalarVar(ctx, false);
    const k = r.weighted<string>([[6, "timer"], [1, "INT_A"], [1, "INT_B"], [1, "RECEIVE"]]);
    if (k === "timer" || this.grp && k === "RECEIVE") {
      this.emit(this.timerAwait(), ind);
      return;
    }
    this.awaited.add(k);
    if (k === "RECEIVE") {
      const m = ctx.msgs.length ? r.pick(ctx.msgs) : undefined;
      if (m && r.chance(0.6)) this.emit(`${m} = await RECEIVE${r.chance(0.3) ? `(${r.int(0, 3)})` : ""};`, ind);
      else this.emit(`await RECEIVE;`, ind);
      return;
    }
    if (v && r.chance(0.7)) this.emit(`${v.name} = await ${k};`, ind);
    else this.emit(`await ${k};`, ind);
  }

  stmt(ctx: Ctx, ind: number): void {
    const r = this.r;
    // past MAX_LINES, plain statements only: no awaits, outputs or compound statements, which keeps
    // every program within the VM's 255 control slots (1 in 20,000 went over without it); the
    // programs below it are unchanged
    const full = this.out.length >= MAX_LINES;
    const deep = full || ctx.depth >= this.o.maxDepth;
    const kinds: Array<readonly [number, string]> = [
      [6, "assign"], [2, "incdec"], [2, "aset"], [3, "if"],
    ];
    if (!ctx.inAsync && !full) {
      kinds.push([4, "await"], [3, "out"]);
      if (!deep) kinds.push([2, "loop"], [2, "paror"], [1, "parand"], [1, "event"], [1, "do"]);
      if (!deep && !ctx.inValue) kinds.push([1, "value"]);
      if (!deep && this.o.async && !ctx.inValue) kinds.push([1, "async"]);
      if (ctx.inLoop) kinds.push([1, "break"]);
    }
    if (!deep) kinds.push([1, "count"]);
    const k = r.weighted(kinds);
    const sub = (extra: Partial<Ctx> = {}): Ctx => ({ ...ctx, depth: ctx.depth + 1, ...extra });
    switch (k) {
      case "assign": {
        const v = r.pick(ctx.vars.filter((x) => x.dim === 0));
        if (!v) return;
        this.emit(`${v.name} = ${this.exprFor(ctx, v.type)};`, ind);
        return;
      }
      case "incdec": {
        const v = r.pick(ctx.vars.filter((x) => x.dim === 0 && x.type !== "float"));
        if (!v) return;
        this.emit(`${r.pick(["inc", "dec"])} ${v.name};`, ind);
        return;
      }
      case "aset": {
        const a = r.pick(ctx.vars.filter((x) => x.dim > 0));
        if (!a) return;
        this.emit(`${a.name}[${this.index(ctx, a)}] = ${this.exprFor(ctx, a.type)};`, ind);
        return;
      }
      case "if": {
        this.emit(`if ${this.intExpr(ctx)} then`, ind);
        this.block(sub(), ind + 1, r.int(1, 3));
        if (r.chance(0.5)) {
          this.emit("else", ind);
          this.block(sub(), ind + 1, r.int(1, 3));
        }
        this.emit("end", ind);
        return;
      }
      case "break":
        this.emit(`if ${this.intExpr(ctx, 1)} then break; end`, ind);
        return;
      case "await": {
        const kk = r.weighted<string>([[5, "timer"], [2, "computed"], [1, "trace"]]);
        if (kk === "timer") this.emit(this.timerAwait(), ind);
        else if (kk === "computed") {
          const v = this.scalarVar(ctx, false);
          this.emit(`await (${v ? `(${v.name} & 0x3ff)` : r.int(1, 500)})ms;`, ind);
        } else {
          const ev = r.pick(this.grp ? ["INT_A", "INT_B"] : ["INT_A", "INT_B", "RECEIVE"]);
          this.awaited.add(ev);
          // a trace input may never come: bound the wait with a timer
          this.emit("par/or do", ind);
          this.emit(`await ${ev};`, ind + 1);
          this.emit("with", ind);
          this.emit(this.timerAwait(), ind + 1);
          this.emit("end", ind);
        }
        return;
      }
      case "out":
        this.output(ctx, ind);
        return;
      case "loop": {
        this.emit("loop do", ind);
        const c = sub({ inLoop: true });
        this.loopHead(c, ind + 1);
        this.block(c, ind + 1, r.int(1, 3));
        this.emit(`if ${this.intExpr(ctx, 1)} then break; end`, ind + 1);
        this.emit("end", ind);
        return;
      }
      case "count": {
        const i = this.fresh("i");
        this.emit(`loop ${i}, ${r.int(0, 6)} do`, ind);
        const c = sub({ inLoop: true, vars: [...ctx.vars, { name: i, type: "long", dim: 0 }] });
        // no awaits: keep it to assignments
        for (let j = r.int(1, 2); j > 0; j--) {
          const v = r.pick(c.vars.filter((x) => x.dim === 0 && x.name !== i));
          if (v) this.emit(`${v.name} = ${this.exprFor(c, v.type)};`, ind + 1);
        }
        this.emit("end", ind);
        return;
      }
      case "paror":
      case "parand": {
        const nb = r.int(2, 3);
        const parts = this.split(ctx, nb);
        this.emit(k === "paror" ? "par/or do" : "par/and do", ind);
        parts.forEach((p, i) => {
          if (i) this.emit("with", ind);
          const c = sub({ vars: p.vars, msgs: p.msgs, groups: p.groups, inLoop: false });
          this.block(c, ind + 1, r.int(1, 3));
          // every branch awaits something (avoid trivially empty reactions); a timer keeps it bounded
          this.emit(this.timerAwait(), ind + 1);
        });
        this.emit("end", ind);
        return;
      }
      case "event": {
        // par/and: one branch awaits the internal event, the other emits it
        const t = r.pick(INT_TYPES);
        const e = this.fresh("e");
        const parts = this.split(ctx, 2);
        const recv = parts[0].vars.filter((x) => x.dim === 0 && x.type !== "float");
        this.emit("do", ind);
        this.emit(`event ${t} ${e};`, ind + 1);
        this.emit("par/and do", ind + 1);
        if (recv.length) this.emit(`${r.pick(recv).name} = await ${e};`, ind + 2);
        else this.emit(`await ${e};`, ind + 2);
        this.block(sub({ vars: parts[0].vars, msgs: parts[0].msgs, groups: parts[0].groups, inLoop: false }), ind + 2, r.int(0, 2));
        this.emit("with", ind + 1);
        this.emit(`emit ${e}(${this.intExpr({ ...ctx, vars: parts[1].vars }, 1)});`, ind + 2);
        this.block(sub({ vars: parts[1].vars, msgs: parts[1].msgs, groups: parts[1].groups, inLoop: false }), ind + 2, r.int(0, 2));
        this.emit("end", ind + 1);
        this.emit("end", ind);
        return;
      }
      case "do": {
        this.emit("do", ind);
        const c = sub();
        const local = { name: this.fresh("d"), type: r.pick(INT_TYPES) as VType, dim: 0 };
        this.emit(`var ${local.type} ${local.name} = ${this.intExpr(ctx, 1)};`, ind + 1);
        c.vars = [...c.vars, local];
        this.block(c, ind + 1, r.int(1, 3));
        const fv = ctx.vars.filter((x) => x.dim === 0);
        if (fv.length && r.chance(0.4)) {
          // the finalizer sees the enclosing scope only
          this.emit("finally", ind);
          const v = r.pick(fv);
          this.emit(`${v.name} = ${this.exprFor(ctx, v.type)};`, ind + 1);
        }
        this.emit("end", ind);
        return;
      }
      case "value": {
        const v = r.pick(ctx.vars.filter((x) => x.dim === 0));
        if (!v) return;
        this.emit(`${v.name} = do`, ind);
        const c = sub({ inValue: true, inLoop: false });
        this.block(c, ind + 1, r.int(1, 2));
        this.emit(`if ${this.intExpr(ctx, 1)} then return ${this.exprFor(ctx, v.type)}; end`, ind + 1);
        this.emit(`return ${this.exprFor(ctx, v.type)};`, ind + 1);
        this.emit("end;", ind);
        return;
      }
      case "async": {
        const own = ctx.vars.filter((x) => x.dim === 0).slice(0, r.int(1, 3));
        if (!own.length) return;
        this.emit(`async (${own.map((x) => x.name).join(", ")}) do`, ind);
        const c = sub({ vars: own, inAsync: true, inLoop: false });
        this.block(c, ind + 1, r.int(1, 3));
        const i = this.fresh("i");
        this.emit(`loop ${i}, ${r.int(1, 5)} do`, ind + 1);
        const v = r.pick(own);
        this.emit(`${v.name} = ${this.exprFor(c, v.type)};`, ind + 2);
        this.emit("end", ind + 1);
        this.emit("end", ind);
        return;
      }
    }
  }

  /** Split a trail's variables, messages and output groups among n parallel branches. */
  private split(ctx: Ctx, n: number): { vars: Var[]; msgs: string[]; groups: Set<Group> }[] {
    const parts = Array.from({ length: n }, () => ({ vars: [] as Var[], msgs: [] as string[], groups: new Set<Group>() }));
    for (const v of ctx.vars) parts[this.r.int(0, n - 1)].vars.push(v);
    for (const m of ctx.msgs) parts[this.r.int(0, n - 1)].msgs.push(m);
    for (const g of ctx.groups) parts[this.r.int(0, n - 1)].groups.add(g);
    return parts;
  }

  private output(ctx: Ctx, ind: number): void {
    const r = this.r;
    const gs = [...ctx.groups];
    if (!gs.length) return;
    const g = r.pick(gs);
    const v = this.scalarVar(ctx, false);
    switch (g) {
      case "leds":
        this.emit(`emit ${r.pick(OUT_GROUPS.leds)}(${this.intExpr(ctx, 1)});`, ind);
        return;
      case "sensors": {
        const [req, inp] = r.pick([["REQ_TEMP", "TEMP"], ["REQ_PHOTO", "PHOTO"], ["REQ_VOLTS", "VOLTS"]] as const);
        this.emit(`emit ${req}();`, ind);
        this.emit(v ? `${v.name} = await ${inp};` : `await ${inp};`, ind);
        return;
      }
      case "custA":
        this.emit(`emit REQ_CUSTOM_A(${this.intExpr(ctx, 1)});`, ind);
        this.emit(v ? `${v.name} = await ${this.grp ? "CUSTOM_A" : r.pick(["CUSTOM_A", `CUSTOM_A(${r.int(0, 4)})`])};` : "await CUSTOM_A;", ind);
        if (this.grp || true) {
          // a filtered await may never match: it is inside a timer race
        }
        return;
      case "radio": {
        const m = ctx.msgs.length ? r.pick(ctx.msgs) : undefined;
        if (!m) return;
        this.emit(`${m}.type = ${r.int(0, 5)};`, ind);
        this.emit(`${m}.w = ${this.intExpr(ctx, 1)};`, ind);
        const ack = r.chance(0.3);
        this.emit(`emit ${ack ? "SEND_ACK" : "SEND"}(${m});`, ind);
        if (v && r.chance(0.5)) this.emit(`${v.name} = await ${ack ? "SEND_DONE_ACK" : "SEND_DONE"};`, ind);
        else this.emit(`await ${ack ? "SEND_DONE_ACK" : "SEND_DONE"};`, ind);
        return;
      }
      case "ports":
        if (r.chance(0.5)) this.emit(`emit SET_PORT_A(${this.intExpr(ctx, 1)});`, ind);
        else {
          this.emit(`emit REQ_PORT_A(0);`, ind);
          this.emit(v ? `${v.name} = await PORT_A;` : "await PORT_A;", ind);
        }
        return;
      case "beep":
        this.emit(`emit BEEP(${this.intExpr(ctx, 1)});`, ind);
        return;
      case "mic":
        this.emit("emit REQ_MIC();", ind);
        this.emit(v ? `${v.name} = await MIC;` : "await MIC;", ind);
        return;
      case "cust":
        this.emit("emit REQ_CUSTOM();", ind);
        this.emit("await CUSTOM;", ind);
        return;
      case "queue": {
        const m = ctx.msgs.length ? r.pick(ctx.msgs) : undefined;
        if (!m || this.grp) return;
        const st = v ?? undefined;
        if (r.chance(0.6)) this.emit(st ? `${st.name} = qPut(${m});` : `qPut(${m});`, ind);
        else this.emit(st ? `${st.name} = qGet(${m});` : `qGet(${m});`, ind);
        return;
      }
      case "grp": {
        const k = r.pick(["bs", "gr", "agg"]);
        if (k === "agg") {
          this.emit("emit AGGREG(agg);", ind);
          this.emit("done = await AGGREG_DONE;", ind);
          if (v) this.emit(`${v.name} = done.value + done.countTrue;`, ind);
        } else if (k === "bs") {
          this.emit(`bs.msgId = ${r.int(0, 9)};`, ind);
          this.emit(`bs.v = ${this.intExpr(ctx, 1)};`, ind);
          this.emit("emit SEND_BS(bs);", ind);
          this.emit(v ? `${v.name} = await SENDBS_DONE;` : "await SENDBS_DONE;", ind);
        } else {
          this.emit(`gr.grId = ${r.int(0, 3)};`, ind);
          this.emit("emit SEND_GR(gr);", ind);
          this.emit("await SENDGR_DONE;", ind);
        }
        return;
      }
    }
  }

  lines(): string[] {
    return this.out;
  }

  take(): string[] {
    const o = this.out;
    this.out = [];
    return o;
  }
}

const DEFAULTS: Required<GenOptions> = { float: true, grp: 0.15, async: true, maxStatements: 5, maxDepth: 3 };

/** The program and trace of a seed. */
export function genCase(seed: number, options: GenOptions = {}): GenCase {
  const o = { ...DEFAULTS, ...options };
  const r = new Rng(seed);
  const grp = r.chance(o.grp);
  const g = new Gen(r, o, grp);
  const head: string[] = [];
  head.push(`#include "${grp ? "TerraGrp.defs" : "TerraNet.defs"}"`);
  head.push(`// generated by test/helpers/genprog.ts, seed ${seed}`);
  // globals
  const vars: Var[] = [];
  const nv = r.int(3, 8);
  for (let i = 0; i < nv; i++) {
    const t: VType = o.float && r.chance(0.15) ? "float" : r.pick(INT_TYPES);
    const dim = r.chance(0.2) ? r.int(1, 6) : 0;
    const v = { name: `v${i}`, type: t, dim };
    vars.push(v);
    if (t === "float") g.usesFloat = true;
    if (dim) head.push(`var ${t}[${dim}] ${v.name};`);
    else head.push(`var ${t} ${v.name}${r.chance(0.5) ? ` = ${t === "float" ? "1.5" : r.int(0, 100)}` : ""};`);
  }
  const msgs: string[] = [];
  if (grp) {
    head.push("pktype bsT from msgBS_t with var ulong v; end");
    head.push("var bsT bs;", "var msgGR_t gr;", "var group_t grp0;", "var aggreg_t agg;", "var aggDone_t done;");
    head.push(`groupInit(grp0, ${r.int(0, 3)}, ${r.int(0, 5)}, 2, TRUE, ${r.pick(["eACTIVE", "ePASSIVE", "eOFF"])}, 0);`);
    head.push(`aggregInit(agg, grp0, ${r.pick(["SID_TEMP", "SID_PHOTO", "SID_VOLT", "SID_PORT_A", "7"])}, fAVG, ${r.int(0, 7)}, ${r.int(0, 1000)});`);
  } else {
    head.push("pktype msgT from radioMsg with var ulong w; var ubyte k; end");
    const nm = r.int(1, 2);
    for (let i = 0; i < nm; i++) {
      head.push(`var msgT m${i};`);
      msgs.push(`m${i}`);
    }
  }
  const groups = new Set<Group>(grp
    ? ["leds", "sensors", "custA", "ports", "beep", "mic", "cust", "grp"]
    : ["leds", "sensors", "custA", "radio", "ports", "beep", "mic", "cust", "queue"]);
  const base: Ctx = { vars, msgs, groups, depth: 0, inLoop: false, inAsync: false, inValue: false };
  // an ERROR handler in parallel with the main body, sometimes
  const withHandler = r.chance(0.4);
  const body: string[] = [];
  if (withHandler) {
    // the handler owns one variable and the beeper
    const hv = vars.find((v) => v.dim === 0 && v.type !== "float");
    const mainVars = vars.filter((v) => v !== hv);
    const mainGroups = new Set([...groups].filter((x) => x !== "beep"));
    body.push("par do");
    g.block({ ...base, vars: mainVars, groups: mainGroups }, 1);
    body.push(...g.take());
    body.push("\tawait FOREVER;");
    body.push("with");
    body.push("\tloop do");
    body.push(`\t\t${hv ? `${hv.name} = ` : ""}await ERROR${r.chance(0.3) ? `(${r.pick([10, 11])})` : ""};`);
    body.push(`\t\temit BEEP(${hv ? hv.name : 1});`);
    body.push("\tend");
    body.push("end");
  } else {
    g.block(base, 0, r.int(2, o.maxStatements + 2));
    body.push(...g.take());
    if (r.chance(0.3)) body.push("await FOREVER;");
  }
  const source = `${head.join("\n")}\n${body.join("\n")}\n`;

  // the trace
  const until = r.pick([0, 500, 3000, 10_000, 60_000, 200_000]);
  const trace: TraceJson[] = [];
  const n = until === 0 ? 0 : r.int(0, 14);
  const times = Array.from({ length: n }, () => r.int(0, until)).sort((a, b) => a - b);
  const inputs = grp
    ? ["INT_A", "INT_B", "TEMP", "PHOTO", "VOLTS", "PORT_A", "CUSTOM", "ERROR", "LEADER_NEW", "REC_GR"]
    : ["INT_A", "INT_B", "RECEIVE", "TEMP", "PHOTO", "VOLTS", "MIC", "PORT_A", "CUSTOM", "CUSTOM_A", "ERROR", "Q_READY"];
  for (const t of times) {
    const ev = g.awaited.size && r.chance(0.5) ? r.pick([...g.awaited]) : r.pick(inputs);
    const e: TraceJson = { at_ms: t, event: ev };
    switch (ev) {
      case "RECEIVE":
        e.value = r.chance(0.5)
          ? { type: r.int(0, 3), source: r.int(0, 65535), target: r.int(0, 65535), data: Array.from({ length: r.int(0, 20) }, () => r.int(0, 255)) }
          : Array.from({ length: r.int(0, 25) }, () => r.int(0, 255));
        break;
      case "REC_GR":
        e.value = { grId: r.int(0, 3), node: r.int(0, 9), msgId: r.int(0, 9) };
        break;
      case "TEMP": case "PHOTO": case "VOLTS": case "LEADER_NEW":
        e.value = r.int(0, 65535);
        break;
      case "ERROR":
        e.value = r.pick([10, 11, 20, 0, 255]);
        break;
      default:
        e.value = r.int(0, 255);
    }
    if ((ev === "CUSTOM_A" || ev === "RECEIVE" || ev === "ERROR" || ev === "LEADER_NEW") && r.chance(0.3)) e.aux = r.int(0, 255);
    trace.push(e);
  }
  return { seed, source, trace, until: Math.max(until, trace.length ? trace[trace.length - 1].at_ms : 0), grp, usesFloat: g.usesFloat };
}

/** fast-check arbitrary of generated cases (shrinks on the seed only). */
export function arbCase(options: GenOptions = {}): fc.Arbitrary<GenCase> {
  return fc.integer({ min: 0, max: 0x7fffffff }).map((seed) => genCase(seed, options));
}

const sha256 = (d: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(d).digest());

/** Compile a generated (or any) script with the bundled configurations. */
export function compileSource(source: string, file = "gen.terra"): CompileResult {
  const defs = resolve(dirname(fileURLToPath(import.meta.url)), "../../components/defs");
  return compile(file, source, {
    includeDirs: [],
    builtinDir: defs,
    readFile: (p) => (existsSync(p) && statSync(p).isFile() ? readFileSync(p, "utf8") : undefined),
    sha256,
  });
}
