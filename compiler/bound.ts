/**
 * Worst-case number of VM instructions per reaction (SEMANTICS.md "Beyond
 * Terra"). Reactions are bounded by construction: within one reaction a trail
 * runs until it halts, and the only cycles that do not pass an await are
 * constant-bound loops. The analysis walks the final code:
 * - a path's cost is the number of instructions until its trail halts;
 * - a par costs the sum of its branches (all run in the same reaction) plus
 *   the code after its rejoin;
 * - a constant-bound loop costs N times its longest iteration plus its
 *   longest way out;
 * - an `emit` adds the trails it wakes (each gate once: a trail that is
 *   running cannot be woken again by a nested emit);
 * - a reaction to an input (or to timers) adds every gate that awaits it.
 * The result is an upper bound: the VM never executes more (tested).
 */
import type { Capsule } from "../vm/capsule";
import { BY_NAME } from "../vm/isa";
import { type Ins, isLabel } from "./asm";
import type { LoopInfo, ParInfo } from "./codegen";

export interface Bounds {
  /** Worst case over all reactions; null when some reaction has no static bound. */
  max: number | null;
  byReaction: Record<string, number | null>;
  /** Where a reaction can loop without awaiting (accepted by Terra's tight-loop rule, see checks.ts). */
  unbounded: { pc: number; loc: Ins["loc"] } | null;
}

/** A cycle that does not pass an await: the reaction has no static bound. */
class Unbounded extends Error {
  constructor(readonly pc: number) {
    super(`unbounded at ${pc}`);
  }
}

type Ends = Map<string, number>;

interface Ctx {
  loops: number[];
  pars: number[];
  waking: number[];
}

const HALT = "halt";

/** Compute the bound for a capsule from its instructions (with pcs) and structure hints. */
export function reactionBound(
  c: Pick<Capsule, "inputs" | "timers" | "internals" | "asyncs">,
  ins: Ins[],
  loops: LoopInfo[],
  pars: ParInfo[],
  names: { inputs: string[] },
): Bounds {
  return new Analysis(c, ins, loops, pars).run(names);
}

class Analysis {
  private at = new Map<number, { ins: Ins; next: number }>();
  private loopAt = new Map<number, LoopInfo>();
  private backEdge = new Map<number, LoopInfo>();
  private parAt = new Map<number, ParInfo>();
  private rejoinAt = new Map<number, ParInfo>();
  /** gate -> pc where its trail continues */
  private cont = new Map<number, number>();
  /** gate -> pc of the await that arms it */
  private awaitPc = new Map<number, number>();
  /** finalizer slot -> pc of its code */
  private finPc = new Map<number, number>();
  private memo = new Map<string, Ends>();
  private inProgress = new Set<string>();

  constructor(private readonly c: Pick<Capsule, "inputs" | "timers" | "internals" | "asyncs">, private readonly ins: Ins[], loops: LoopInfo[], pars: ParInfo[]) {
    ins.forEach((i, k) => this.at.set(i.pc, { ins: i, next: k + 1 < ins.length ? ins[k + 1].pc : -1 }));
    for (const l of loops) {
      this.loopAt.set(l.head.pc, l);
      const back = ins.findIndex((i) => i.pc === l.back.pc);
      const edge = back > 0 ? ins[back - 1] : ins[ins.length - 1];
      if (edge) this.backEdge.set(edge.pc, l);
    }
    for (const p of pars) {
      this.parAt.set(p.start.pc, p);
      if (p.rejoin) this.rejoinAt.set(p.rejoin.pc, p);
    }
    for (const [k, i] of ins.entries()) {
      const spec = BY_NAME.get(i.name)!;
      // (yield shares its async's gate: the slices it starts are counted from its target in run())
      if (spec.slot && spec.resumesNext && k + 1 < ins.length) {
        this.cont.set(i.args[0] as number, ins[k + 1].pc);
        this.awaitPc.set(i.args[0] as number, i.pc);
      }
      if (i.name === "fin") this.finPc.set(i.args[0] as number, target(i.args[1]));
    }
  }

  run(names: { inputs: string[] }): Bounds {
    const empty: Ctx = { loops: [], pars: [], waking: [] };
    const by: Record<string, number | null> = {};
    let unbounded: Bounds["unbounded"] = null;
    const bound = (what: string, f: () => number) => {
      try {
        by[what] = f();
      } catch (e) {
        if (!(e instanceof Unbounded)) throw e;
        by[what] = null;
        unbounded ??= { pc: e.pc, loc: this.at.get(e.pc)?.ins.loc ?? null };
        this.inProgress.clear();
      }
    };
    bound("boot", () => scalar(this.drive(cost(0, empty))));
    this.c.inputs.forEach((x, i) => bound(names.inputs[i] ?? `input ${i}`, () => sum(x.gates.map((g) => this.gate(g, empty)))));
    if (this.c.timers.length) bound("timers", () => sum(this.c.timers.map((g) => this.gate(g, empty))));
    const slices: (() => number)[] = [];
    for (const g of this.c.asyncs) slices.push(() => this.gate(g, empty));
    for (const i of this.ins) if (i.name === "yield") slices.push(() => scalar(this.drive(cost(target(i.args[1]), empty))));
    if (slices.length) bound("async slice", () => Math.max(...slices.map((f) => f())));
    const values = Object.values(by);
    return { max: values.some((v) => v === null) ? null : Math.max(0, ...(values as number[])), byReaction: by, unbounded };
  }

  private gate(g: number, ctx: Ctx): number {
    return scalar(this.drive(this.gateEnds(g, ctx)));
  }

  /**
   * Run a walk to its result. Walks ask for the cost of (pc, context) states
   * by yielding them: each is computed once (memo), on an explicit stack, so
   * that the depth of the walk (about one state per instruction of a
   * straight run of code) is not bounded by the JavaScript call stack.
   * @throws Unbounded when a state is asked for while it is being computed.
   */
  private drive(root: Walk): Ends {
    const stack: { key: string | null; walk: Walk }[] = [{ key: null, walk: root }];
    let value: Ends | undefined;
    for (;;) {
      const top = stack[stack.length - 1];
      const step = top.walk.next(value as Ends);
      value = undefined;
      if (step.done) {
        stack.pop();
        if (top.key !== null) {
          this.inProgress.delete(top.key);
          this.memo.set(top.key, step.value);
        }
        if (!stack.length) return step.value;
        value = step.value;
        continue;
      }
      const { pc, ctx } = step.value;
      const key = `${pc}|${ctx.loops.join(",")}|${ctx.pars.join(",")}|${[...ctx.waking].sort((a, b) => a - b).join(",")}`;
      value = this.memo.get(key);
      if (value) continue;
      if (this.inProgress.has(key)) throw new Unbounded(pc);
      this.inProgress.add(key);
      stack.push({ key, walk: this.compute(pc, ctx) });
    }
  }

  /** Where the trail woken at gate g can get to in this reaction, and at what cost. */
  private *gateEnds(g: number, ctx: Ctx): Walk {
    const pc = this.cont.get(g);
    return pc === undefined || pc < 0 ? new Map([[HALT, 0]]) : yield* this.next(this.awaitPc.get(g)!, pc, { ...ctx, waking: [...ctx.waking, g] });
  }

  /**
   * Control passes from the instruction at `from` to `to`. Reaching the
   * rejoin of an active par ends the path there, keyed by the branch it
   * comes from (so the par knows which branches can rejoin in this reaction).
   */
  private *next(from: number, to: number, ctx: Ctx): Walk {
    const p = this.rejoinAt.get(to);
    if (p && ctx.pars.includes(p.start.pc)) return new Map([[rejoinKey(p, from), 1]]);
    return yield { pc: to, ctx };
  }

  private *compute(pc: number, ctx: Ctx): Walk {
    const loop = this.loopAt.get(pc);
    if (loop && !ctx.loops.includes(pc)) {
      const inner = yield { pc, ctx: { ...ctx, loops: [...ctx.loops, pc] } };
      const iter = inner.get(`L${pc}`);
      const out: Ends = new Map();
      for (const [k, v] of inner) if (k !== `L${pc}`) out.set(k, (iter === undefined ? 0 : loop.iterations * iter) + v);
      return out;
    }
    const par = this.parAt.get(pc);
    if (par && !ctx.pars.includes(pc)) return yield* this.par(par, pc, ctx);

    const here = this.at.get(pc);
    if (!here) return new Map([[HALT, 0]]);
    const { ins: i, next } = here;
    const spec = BY_NAME.get(i.name)!;
    switch (i.name) {
      case "jmp":
      case "jmpw": {
        const l = this.backEdge.get(pc);
        if (l && ctx.loops.includes(l.head.pc)) return new Map([[`L${l.head.pc}`, 1]]);
        return shift(yield* this.next(pc, target(i.args[0]), ctx), 1);
      }
      case "jz":
      case "jzw":
      case "jnz":
      case "jnzw":
        return shift(merge(yield* this.next(pc, next, ctx), yield* this.next(pc, target(i.args[0]), ctx)), 1);
      case "spawn":
      case "spawnw": {
        const spawned = scalar(yield* cost(target(i.args[0]), ctx));
        return shift(yield* this.next(pc, next, ctx), 1 + spawned);
      }
      case "emit": {
        const gates = this.c.internals[i.args[0] as number] ?? [];
        const woken: Ends[] = [];
        for (const g of gates) if (!ctx.waking.includes(g)) woken.push(yield* this.gateEnds(g, ctx));
        const extra = sum(woken.map(scalar));
        const r = shift(yield* this.next(pc, next, ctx), 1 + extra);
        // A woken trail may itself reach the rejoin of an enclosing par (or a loop's back edge):
        // the emitter's path then counts as reaching it too, so the par's continuation is counted.
        for (const w of woken) for (const [k, v] of w) if (k !== HALT) r.set(k, Math.max(r.get(k) ?? 0, 1 + extra + v));
        return r;
      }
      case "finend": {
        const after = yield* this.next(pc, target(i.args[1]), ctx);
        return shift(after, 1 + scalar(yield* cost(next, ctx)));
      }
      case "killf": {
        const [, , , f0, nf] = i.args as number[];
        let fins = 0;
        for (let s = f0; s < f0 + nf; s++) {
          const f = this.finPc.get(s);
          if (f !== undefined) fins += scalar(yield* cost(f, ctx));
        }
        return shift(yield* this.next(pc, next, ctx), 1 + fins);
      }
      default:
        if (spec.flow === "halt") return new Map([[HALT, 1]]);
        return shift(yield* this.next(pc, next, ctx), 1);
    }
  }

  /** A par entered at its start: all branches run, then the code after the rejoin. */
  private *par(p: ParInfo, pc: number, ctx: Ctx): Walk {
    const inner: Ctx = { ...ctx, pars: [...ctx.pars, pc] };
    let total = p.branches.length - 1; // the spawns
    const escapes = new Set<string>([HALT]);
    const reached = new Set<string>();
    for (const [k, b] of p.branches.entries()) {
      // an empty last branch starts at the rejoin itself
      const r = p.rejoin && b.pc === p.rejoin.pc ? new Map([[`P${pc}#${k}`, 1]]) : yield* cost(b.pc, inner);
      total += scalar(r);
      for (const key of r.keys()) {
        if (key.startsWith(`P${pc}#`)) reached.add(key);
        else escapes.add(key);
      }
    }
    const out: Ends = new Map([...escapes].map((k) => [k, total]));
    // The code after the rejoin runs in this reaction only if branches (or trails they wake) can get
    // there without halting: all of them for par/and, one for par/or.
    const rejoins = p.mode === "par/and" ? reached.size === p.branches.length : reached.size > 0;
    if (p.rejoin && rejoins) for (const [k, v] of yield* cost(p.rejoin.pc, ctx)) out.set(k, Math.max(out.get(k) ?? 0, total + v));
    return out;
  }
}

/** A state of the walk: control at pc, in a context. */
interface State {
  pc: number;
  ctx: Ctx;
}

/** A computation over the code that yields the states whose costs it needs (Analysis.drive answers them). */
type Walk = Generator<State, Ends, Ends>;

/** The cost of a state, as a walk: asks the driver. */
function* cost(pc: number, ctx: Ctx): Walk {
  return yield { pc, ctx };
}

/** End key of a path reaching par p's rejoin from the instruction at `from`: the branch `from` lies in. */
function rejoinKey(p: ParInfo, from: number): string {
  let k = 0;
  while (k + 1 < p.branches.length && p.branches[k + 1].pc <= from) k++;
  return `P${p.start.pc}#${k}`;
}

function target(a: Ins["args"][number]): number {
  return isLabel(a) ? a.pc : a;
}

function shift(e: Ends, by: number): Ends {
  const out: Ends = new Map();
  for (const [k, v] of e) out.set(k, v + by);
  return out;
}

function merge(a: Ends, b: Ends): Ends {
  const out: Ends = new Map(a);
  for (const [k, v] of b) out.set(k, Math.max(out.get(k) ?? 0, v));
  return out;
}

function scalar(e: Ends): number {
  let m = 0;
  for (const v of e.values()) m = Math.max(m, v);
  return m;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
