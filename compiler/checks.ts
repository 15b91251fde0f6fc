/**
 * Static checks of shared/design/SEMANTICS.md on the IR:
 * - tight loops: every path through a loop body awaits or escapes
 *   (constant-bound `loop i, N` excepted);
 * - `par` branches must not be able to terminate;
 * - concurrent access: two accesses to a variable (or internal event, or two
 *   uses of outputs/functions declared `unsafe` with each other) from
 *   different trails of a par that can run in the reaction to the same event,
 *   at least one a write, and not ordered by an internal emit.
 * Also marks loops and value blocks whose escapes must abort other trails or
 * run finalizers (`needsKill`).
 *
 * The concurrency analysis follows Terra's design decision: every timer
 * await is its own trigger (two timers are not considered to expire
 * together; a strict rule would reject Blink_tutorial, Terra's first sample).
 * docs/semantics.md explains the model.
 */
import type { Configuration, InputEvent } from "./config";
import type { Diagnostics, Loc } from "./diagnostics";
import { childBlocks, eachStmt, type IBlock, type IExpr, type ILoop, type IProgram, type IStmt, type IValBlock, type Place, type RecPlace, type VarSym } from "./ir";
import { BASIC_SIZE } from "./types";

/** Run all checks; diagnostics go to `diags`. */
export function check(prog: IProgram, cfg: Configuration, diags: Diagnostics): void {
  tightLoops(prog.body, diags);
  parTermination(prog.body, diags);
  markKills(prog.body);
  new Concurrency(cfg, diags).run(prog);
}

// ============================================================== tight loops

const NORMAL = "normal";
/** Normal completion without awaiting, possible only by leaving `loop` (an inner loop that awaits) through a break before its await. */
interface Lenient {
  lenient: ILoop;
}
type Exit = typeof NORMAL | Lenient | ILoop | IValBlock | "program";
const lenientOf = new WeakMap<ILoop, Lenient>();
const isNormalLike = (e: Exit): boolean => e === NORMAL || (typeof e === "object" && "lenient" in e);

/** Exits reachable from the start of `stmts` without passing an await (every statement is visited for its own loops). */
function unawaited(stmts: IStmt[], diags: Diagnostics): Set<Exit> {
  let cur = new Set<Exit>([NORMAL]);
  for (const s of stmts) {
    const ex = unawaitedStmt(s, diags);
    const carried = [...cur].filter(isNormalLike);
    if (!carried.length) continue;
    const next = new Set<Exit>([...cur].filter((e) => !isNormalLike(e)));
    for (const c of carried) {
      for (const e of ex) next.add(e === NORMAL ? c : e);
    }
    cur = next;
  }
  return cur;
}

/**
 * Terra's "awaits" (terrac tight.lua): a sequence awaits if one of its
 * statements does; an if only if every branch does; par/or only if every
 * branch does; par/and and par if one does.
 */
function awaits(stmts: IStmt[]): boolean {
  return stmts.some((s) => {
    switch (s.k) {
      case "await":
      case "async": return true;
      case "if": return !!s.orelse && s.arms.every((a) => awaits(a.body.stmts)) && awaits(s.orelse.stmts);
      case "loop": return awaits(s.body.stmts);
      case "do": return awaits(s.body.stmts);
      case "valblock": return awaits([s.inner]);
      case "par": return s.mode === "par/or" ? s.branches.every((b) => awaits(b.stmts)) : s.branches.some((b) => awaits(b.stmts));
      default: return false;
    }
  });
}

function unawaitedStmt(s: IStmt, diags: Diagnostics): Set<Exit> {
  switch (s.k) {
    case "await":
    case "async":
      return new Set();
    case "break":
      return new Set([s.loop]);
    case "return":
      return new Set([s.target ?? "program"]);
    case "if": {
      const out = new Set<Exit>(s.orelse ? [] : [NORMAL]);
      for (const arm of s.arms) for (const e of unawaited(arm.body.stmts, diags)) out.add(e);
      if (s.orelse) for (const e of unawaited(s.orelse.stmts, diags)) out.add(e);
      return out;
    }
    case "loop": {
      const body = unawaited(s.body.stmts, diags);
      const bounded = s.bound !== null && "konst" in s.bound;
      if (!bounded && !s.inAsync) {
        if (body.has(NORMAL)) {
          diags.error("tight-loop", s.loc, "tight loop: a path through this loop body neither awaits nor leaves the loop",
            "add an await (e.g. `await 10ms;`) on every path, or use `loop i, N` with a constant N");
        } else {
          for (const e of body) {
            if (typeof e !== "object" || !("lenient" in e)) continue;
            const inner = e.lenient;
            diags.warning("tight-loop", inner.loc,
              `this loop can be left by \`break\` before it awaits, and the loop at line ${s.loc.line} then repeats in the same reaction; accepted (an inner loop that awaits blocks, as in Terra), but the reaction has no static bound`,
              "make every path of this loop await before it can break");
          }
        }
      }
      const out = new Set<Exit>();
      for (const e of body) if (!isNormalLike(e) && e !== s) out.add(e);
      if (bounded) for (const e of body) if (isNormalLike(e)) out.add(e);
      if (body.has(s)) {
        // SEMANTICS.md: an inner loop blocks only if it awaits (Terra's rule: its body awaits).
        if (!awaits(s.body.stmts)) out.add(NORMAL);
        else {
          if (!lenientOf.has(s)) lenientOf.set(s, { lenient: s });
          out.add(lenientOf.get(s)!);
        }
      }
      if (bounded) out.add(NORMAL);
      return out;
    }
    case "do": return unawaited(s.body.stmts, diags);
    case "valblock": {
      const inner = unawaitedStmt(s.inner, diags);
      if (inner.delete(s)) inner.add(NORMAL);
      return inner;
    }
    case "par": {
      const all = s.branches.map((b) => unawaited(b.stmts, diags));
      const out = new Set<Exit>();
      for (const b of all) for (const e of b) if (e !== NORMAL) out.add(e);
      const normal = s.mode === "par/or" ? all.some((b) => b.has(NORMAL)) : s.mode === "par/and" ? all.every((b) => b.has(NORMAL)) : false;
      if (normal) out.add(NORMAL);
      return out;
    }
    default:
      return new Set([NORMAL]);
  }
}

function tightLoops(b: IBlock, diags: Diagnostics): void {
  unawaited(b.stmts, diags);
}

// ============================================================== par termination

/** Whether normal completion of `stmts` is reachable at all (awaits allowed). */
function canComplete(stmts: IStmt[]): boolean {
  for (const s of stmts) if (!stmtCompletes(s)) return false;
  return true;
}

function stmtCompletes(s: IStmt): boolean {
  switch (s.k) {
    case "await": return s.what.kind !== "forever";
    case "break":
    case "return": return false;
    case "if": return !s.orelse || s.arms.some((a) => canComplete(a.body.stmts)) || canComplete(s.orelse.stmts);
    case "loop": return (s.bound !== null && "konst" in s.bound) || hasBreak(s.body.stmts, s);
    case "do": return canComplete(s.body.stmts);
    case "valblock": return stmtCompletes(s.inner) || hasReturn(s.inner, s);
    case "par":
      if (s.mode === "par") return false;
      return s.mode === "par/or" ? s.branches.some((b) => canComplete(b.stmts)) : s.branches.every((b) => canComplete(b.stmts));
    default: return true;
  }
}

function hasBreak(stmts: IStmt[], loop: ILoop): boolean {
  let found = false;
  eachStmt(stmts, (s) => { if (s.k === "break" && s.loop === loop) found = true; });
  return found;
}

function hasReturn(s: IStmt, vb: IValBlock): boolean {
  let found = false;
  eachStmt([s], (x) => { if (x.k === "return" && x.target === vb) found = true; });
  return found;
}

/** Whether every path of `stmts` completes normally (awaits allowed; loops without a break never do). */
function alwaysCompletes(stmts: IStmt[]): boolean {
  return stmts.every((s) => {
    switch (s.k) {
      case "await": return s.what.kind !== "forever";
      case "break":
      case "return": return false;
      case "if": return s.arms.every((a) => alwaysCompletes(a.body.stmts)) && (!s.orelse || alwaysCompletes(s.orelse.stmts));
      case "loop": return s.bound !== null && "konst" in s.bound && alwaysCompletes(s.body.stmts);
      case "do": return alwaysCompletes(s.body.stmts);
      case "valblock": return stmtCompletes(s.inner) && alwaysCompletes([s.inner]);
      case "par":
        if (s.mode === "par") return false;
        return s.mode === "par/or" ? s.branches.some((b) => alwaysCompletes(b.stmts)) : s.branches.every((b) => alwaysCompletes(b.stmts));
      default: return true;
    }
  });
}

/**
 * `par` never rejoins: a branch that always ends is an error; one that ends on
 * some paths only (Terra's Ex1: a branch with nothing to do on the base
 * station) is a warning, since its trail then just stops.
 */
function parTermination(b: IBlock, diags: Diagnostics): void {
  eachStmt(b.stmts, (s) => {
    if (s.k !== "par" || s.mode !== "par") return;
    s.branches.forEach((br, i) => {
      const loc = br.stmts[0]?.loc ?? s.loc;
      const hint = "use `par/or` (rejoin when one branch ends) or `par/and` (when all end), or make the branch loop forever";
      if (alwaysCompletes(br.stmts)) {
        diags.error("par-termination", loc, `branch ${i + 1} of this \`par\` always terminates, but \`par\` never rejoins`, hint);
      } else if (canComplete(br.stmts)) {
        diags.warning("par-termination", loc, `branch ${i + 1} of this \`par\` can terminate on some paths; its trail then stops (\`par\` never rejoins)`, hint);
      }
    });
  });
}

// ============================================================== escapes that must abort trails

/**
 * Mark loops and value blocks left by a break/return from inside a par branch
 * or a do-finally nested in them: those escapes must abort other trails and
 * run finalizers (kill/killf); plain ones just jump.
 */
function markKills(b: IBlock): void {
  type Frame = { target: ILoop | IValBlock } | { barrier: true };
  const walk = (stmts: IStmt[], stack: Frame[]): void => {
    for (const s of stmts) {
      if (s.k === "break" || s.k === "return") {
        const tgt = s.k === "break" ? s.loop : s.target;
        for (let i = stack.length - 1; i >= 0 && tgt; i--) {
          const f = stack[i];
          if ("target" in f && f.target === tgt) break;
          if ("barrier" in f) {
            tgt.needsKill = true;
            break;
          }
        }
        continue;
      }
      const frame: Frame | null = s.k === "loop" || s.k === "valblock" ? { target: s }
        : s.k === "par" || (s.k === "do" && s.fin) ? { barrier: true } : null;
      for (const c of childBlocks(s)) walk(c.stmts, frame ? [...stack, frame] : stack);
    }
  };
  walk(b.stmts, []);
}

// ============================================================== concurrency

/** A code segment: what runs in one trail between two awaits. */
interface Seg {
  id: number;
  /** External trigger that starts it (null for segments woken by internal events). */
  trigger: string | null;
  /** For segments after `await e`: the internal event. */
  awaits: VarSym | null;
  where: string;
  triggers: Set<string>;
  parents: Set<Seg>;
  ancestors: Set<Seg>;
}

/** A fact flowing through the walk: the current segment and the pars that rejoined earlier in this reaction, with the branch that ended them. */
interface Fact {
  seg: Seg;
  rejoined: Map<IStmt, number>;
  /** Cached identity of (seg, rejoined), for de-duplication. */
  key?: string;
}

const parIds = new WeakMap<IStmt, number>();
let nextParId = 0;
function parId(p: IStmt): number {
  let id = parIds.get(p);
  if (id === undefined) parIds.set(p, (id = nextParId++));
  return id;
}

function branchKey(m: Map<IStmt, number>): string {
  let k = "";
  for (const [p, i] of m) k += `${parId(p)}=${i},`;
  return k;
}

function factKey(f: Fact): string {
  return (f.key ??= `${f.seg.id}|${branchKey(f.rejoined)}`);
}

interface Access {
  key: string;
  kind: "r" | "w" | "unsafe";
  lo: number;
  hi: number;
  name: string;
  loc: Loc;
  seg: Seg;
  /** par -> branch index the access belongs to (structurally or by a par/or rejoin in the same reaction). */
  branches: Map<IStmt, number>;
}

class Concurrency {
  private segs: Seg[] = [];
  private awaitSegs = new Map<IStmt, Seg>();
  private accesses = new Map<string, Access>();
  private emitters = new Map<VarSym, Set<Seg>>();
  private breakFacts = new Map<IStmt, Fact[]>();
  private structural = new Map<IStmt, number>();

  constructor(private readonly cfg: Configuration, private readonly diags: Diagnostics) {}

  run(prog: IProgram): void {
    const boot = this.newSeg("boot", null, "the boot reaction");
    this.block(prog.body, [{ seg: boot, rejoined: new Map() }]);
    this.propagate();
    this.report();
  }

  private newSeg(trigger: string | null, awaits: VarSym | null, where: string): Seg {
    const s: Seg = { id: this.segs.length, trigger, awaits, where, triggers: new Set(trigger ? [trigger] : []), parents: new Set(), ancestors: new Set() };
    this.segs.push(s);
    return s;
  }

  private segFor(site: IStmt, trigger: string | null, awaits: VarSym | null, where: string): Seg {
    let s = this.awaitSegs.get(site);
    if (!s) {
      s = this.newSeg(trigger, awaits, where);
      this.awaitSegs.set(site, s);
    }
    return s;
  }

  private block(b: IBlock, facts: Fact[]): Fact[] {
    let cur = facts;
    for (const s of b.stmts) {
      if (cur.length === 0) break;
      cur = this.stmt(s, cur);
    }
    return cur;
  }

  /** Location of the statement being walked (accesses inside expressions are reported there). */
  private at: Loc = { file: "", line: 0, col: 0 };

  private stmt(s: IStmt, facts: Fact[]): Fact[] {
    this.at = s.loc;
    switch (s.k) {
      case "store":
        this.expr(s.src, facts);
        this.place(s.dst, "w", facts, s.loc);
        return facts;
      case "copy":
        this.rec(s.src, "r", facts, s.loc);
        this.rec(s.dst, "w", facts, s.loc);
        return facts;
      case "incdec":
        this.place(s.dst, "w", facts, s.loc);
        return facts;
      case "call":
        this.expr(s.call, facts);
        return facts;
      case "emit-out":
        if (s.arg && "rec" in s.arg) this.rec(s.arg, "r", facts, s.loc);
        else if (s.arg) this.expr(s.arg, facts);
        this.unsafe(s.ev.name, facts, s.loc);
        return facts;
      case "emit-int": {
        if (s.arg) this.expr(s.arg, facts);
        this.add(`v${s.ev.id}`, "w", 0, BASIC_SIZE[(s.ev.ty as { name: "ubyte" }).name], `event ${s.ev.name}`, facts, s.loc);
        let set = this.emitters.get(s.ev);
        if (!set) this.emitters.set(s.ev, (set = new Set()));
        for (const f of facts) set.add(f.seg);
        return facts;
      }
      case "await": {
        const w = s.what;
        if (w.kind === "forever") return [];
        if (w.kind === "input" && w.aux) this.expr(w.aux, facts);
        if (w.kind === "timer" && typeof w.ms !== "number") this.expr(w.ms, facts);
        const seg = w.kind === "input"
          ? this.segFor(s, inputTrigger(w.ev, w.aux), null, `the reaction to ${w.ev.name}`)
          : w.kind === "timer"
            ? this.segFor(s, `timer@${s.loc.line}:${s.loc.col}`, null, `the timer at line ${s.loc.line}`)
            : this.segFor(s, null, w.ev, `the emit of ${w.ev.name}`);
        const next: Fact[] = [{ seg, rejoined: new Map() }];
        if (s.store) {
          if (s.store.kind === "record") this.rec(s.store.dst, "w", next, s.loc);
          else this.place(s.store.dst, "w", next, s.loc);
        }
        return next;
      }
      case "if": {
        for (const arm of s.arms) this.expr(arm.cond, facts);
        const out: Fact[] = s.orelse ? [] : [...facts];
        for (const arm of s.arms) out.push(...this.block(arm.body, facts));
        if (s.orelse) out.push(...this.block(s.orelse, facts));
        return dedupe(out);
      }
      case "loop": {
        if (s.bound && "expr" in s.bound) this.expr(s.bound.expr, facts);
        this.breakFacts.set(s, []);
        let head = dedupe(facts);
        for (;;) {
          const end = this.block(s.body, head);
          const next = dedupe([...head, ...end]);
          if (next.length === head.length) break;
          head = next;
        }
        const out = [...this.breakFacts.get(s)!];
        if (s.bound && "konst" in s.bound) out.push(...head);
        return dedupe(out);
      }
      case "break":
        this.breakFacts.get(s.loop)?.push(...facts);
        return [];
      case "return":
        if (s.value) this.expr(s.value, facts);
        if (s.target) this.breakFacts.get(s.target)?.push(...facts);
        return [];
      case "do": {
        const out = this.block(s.body, facts);
        if (s.fin) this.block(s.fin, dedupe([...facts, ...out]));
        return out;
      }
      case "valblock": {
        this.breakFacts.set(s, []);
        const out = this.stmt(s.inner, facts);
        const ret = this.breakFacts.get(s)!;
        if (s.dst) this.place(s.dst, "w", ret, s.loc);
        return dedupe([...out, ...ret]);
      }
      case "async": {
        for (const c of s.copies) this.add(`v${c.src.id}`, "r", 0, 0xffff, c.src.name, facts, s.loc);
        const seg = this.segFor(s, `async@${s.loc.line}:${s.loc.col}`, null, `the async at line ${s.loc.line}`);
        return this.block(s.body, [{ seg, rejoined: new Map() }]);
      }
      case "par": {
        const exits: Fact[] = [];
        s.branches.forEach((br, i) => {
          this.structural.set(s, i);
          const out = this.block(br, facts);
          this.structural.delete(s);
          for (const f of out) {
            exits.push(s.mode === "par/or" ? { seg: f.seg, rejoined: new Map([...f.rejoined, [s, i]]) } : f);
          }
        });
        return s.mode === "par" ? [] : dedupe(exits);
      }
    }
  }

  private expr(e: IExpr, facts: Fact[]): void {
    switch (e.k) {
      case "load":
        this.place(e.p, "r", facts, null);
        return;
      case "call":
        for (const a of e.args) this.expr(a, facts);
        e.fn.params.forEach((p, i) => {
          const a = e.args[i];
          if (a.k === "addr" && p.kind !== "scalar") {
            const size = p.kind === "record" ? p.rec.size : 0xffff;
            this.add(`v${a.sym.id}`, e.fn.mod === "pure" ? "r" : "w", a.off, a.off + size, a.sym.name, facts, e.loc);
          }
        });
        this.unsafe(e.fn.name, facts, e.loc);
        return;
      case "un":
      case "conv":
      case "wrap":
        this.expr(e.e, facts);
        return;
      case "bin":
        this.expr(e.l, facts);
        this.expr(e.r, facts);
        return;
      default:
        return;
    }
  }

  private place(p: Place, kind: "r" | "w", facts: Fact[], loc: Loc | null): void {
    if (p.k === "indexed") {
      this.expr(p.index, facts);
      this.add(`v${p.sym.id}`, kind, p.off, p.off + p.len * BASIC_SIZE[p.t], p.sym.name, facts, loc ?? this.at);
    } else {
      this.add(`v${p.sym.id}`, kind, p.off, p.off + BASIC_SIZE[p.t], p.sym.name, facts, loc ?? this.at);
    }
  }

  private rec(r: RecPlace, kind: "r" | "w", facts: Fact[], loc: Loc): void {
    this.add(`v${r.sym.id}`, kind, r.off, r.off + r.rec.size, r.sym.name, facts, loc);
  }

  private unsafe(name: string, facts: Fact[], loc: Loc): void {
    if (this.cfg.unsafe.has(name)) this.add(`u:${name}`, "unsafe", 0, 0, name, facts, loc);
  }

  private add(key: string, kind: Access["kind"], lo: number, hi: number, name: string, facts: Fact[], loc: Loc): void {
    const site = `${key}|${kind}|${lo}|${loc.file}:${loc.line}:${loc.col}|${branchKey(this.structural)}`;
    for (const f of facts) {
      const id = `${site}|${factKey(f)}`;
      if (!this.accesses.has(id)) this.accesses.set(id, { key, kind, lo, hi, name, loc, seg: f.seg, branches: new Map([...f.rejoined, ...this.structural]) });
    }
  }

  /** Segments woken by internal events inherit the triggers of the segments that emit them. */
  private propagate(): void {
    for (const s of this.segs) {
      if (s.awaits) for (const e of this.emitters.get(s.awaits) ?? []) s.parents.add(e);
    }
    let changed = true;
    while (changed) {
      changed = false;
      for (const s of this.segs) {
        for (const p of s.parents) {
          for (const t of p.triggers) if (!s.triggers.has(t)) { s.triggers.add(t); changed = true; }
          for (const a of [p, ...p.ancestors]) if (!s.ancestors.has(a)) { s.ancestors.add(a); changed = true; }
        }
      }
    }
  }

  private report(): void {
    // Only accesses inside some par branch can conflict; each pair needs a write (or two unsafe uses).
    const byKey = new Map<string, { w: Access[]; r: Access[] }>();
    for (const a of this.accesses.values()) {
      if (a.branches.size === 0) continue;
      const k = a.kind === "unsafe" ? "unsafe" : a.key;
      let g = byKey.get(k);
      if (!g) byKey.set(k, (g = { w: [], r: [] }));
      (a.kind === "r" ? g.r : g.w).push(a);
    }
    const reported = new Set<string>();
    for (const { w, r } of byKey.values()) {
      for (let i = 0; i < w.length; i++) {
        for (let j = i + 1; j < w.length + r.length; j++) {
          const a = w[i];
          const b = j < w.length ? w[j] : r[j - w.length];
          if (!this.conflicts(a, b)) continue;
          const [first, second] = before(a.loc, b.loc) ? [a, b] : [b, a];
          const pair = `${first.loc.line}:${first.loc.col}-${second.loc.line}:${second.loc.col}`;
          if (reported.has(pair)) continue;
          reported.add(pair);
          const shared = [...first.seg.triggers].find((t) => [...second.seg.triggers].some((u) => sameTrigger(t, u)))!;
          const what = first.kind === "unsafe"
            ? `\`${second.name}\` and \`${first.name}\` (line ${first.loc.line}) are declared unsafe together`
            : `concurrent ${accessWord(second.kind)} of \`${second.name}\` here and ${accessWord(first.kind)} at line ${first.loc.line}`;
          this.diags.error("concurrent-access", second.loc, `${what}: parallel trails can both run in ${triggerText(shared)}`,
            "move both accesses into one trail, or make the trails react to different events");
        }
      }
    }
  }

  private conflicts(a: Access, b: Access): boolean {
    if (a.loc === b.loc) return false; // one site reached along different rejoin paths: the same trail
    if (a.kind === "unsafe" || b.kind === "unsafe") {
      if (a.kind !== "unsafe" || b.kind !== "unsafe") return false;
      if (!this.cfg.unsafe.get(a.name)?.has(b.name)) return false;
    } else {
      if (a.key !== b.key || (a.kind === "r" && b.kind === "r")) return false;
      if (a.hi <= b.lo || b.hi <= a.lo) return false;
    }
    let parallel = false;
    for (const [p, i] of a.branches) {
      const j = b.branches.get(p);
      if (j !== undefined && j !== i) parallel = true;
    }
    if (!parallel) return false;
    if (a.seg !== b.seg && (a.seg.ancestors.has(b.seg) || b.seg.ancestors.has(a.seg))) return false;
    for (const t of a.seg.triggers) for (const u of b.seg.triggers) if (sameTrigger(t, u)) return true;
    return false;
  }
}

function dedupe(facts: Fact[]): Fact[] {
  if (facts.length < 2) return facts;
  const seen = new Map<string, Fact>();
  for (const f of facts) {
    const k = factKey(f);
    if (!seen.has(k)) seen.set(k, f);
  }
  return [...seen.values()];
}

/** Trigger of an input await: `in:E` (any), `in:E=k` (constant selector), `in:E?` (computed selector). */
function inputTrigger(ev: InputEvent, aux: IExpr | null): string {
  if (!aux) return `in:${ev.name}`;
  return aux.k === "const" ? `in:${ev.name}=${aux.v & 0xff}` : `in:${ev.name}?`;
}

/** Two triggers can start the same reaction: same event, unless both select different constants. */
function sameTrigger(t: string, u: string): boolean {
  if (t === u) return true;
  if (!t.startsWith("in:") || !u.startsWith("in:")) return false;
  const name = (x: string) => x.slice(3).replace(/(=\d+|\?)$/, "");
  if (name(t) !== name(u)) return false;
  const k1 = /=(\d+)$/.exec(t);
  const k2 = /=(\d+)$/.exec(u);
  return !(k1 && k2 && k1[1] !== k2[1]);
}

function triggerText(t: string): string {
  if (t === "boot") return "the boot reaction";
  if (t.startsWith("in:")) {
    const m = /^in:([A-Z0-9_]+)(=(\d+)|\?)?$/.exec(t)!;
    return `the reaction to ${m[1]}${m[3] !== undefined ? `(${m[3]})` : ""}`;
  }
  if (t.startsWith("async@")) return `the async block at line ${t.slice(6).split(":")[0]}`;
  return t;
}

function accessWord(k: Access["kind"]): string {
  return k === "w" ? "write" : k === "r" ? "read" : "use";
}

function before(a: Loc, b: Loc): boolean {
  return a.file === b.file ? a.line < b.line || (a.line === b.line && a.col <= b.col) : a.file < b.file;
}
