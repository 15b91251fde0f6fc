/**
 * The resolved, typed form of a script that the checks, the memory layout and
 * code generation work on. Produced by compiler/sema.ts from the AST: names
 * are bound to symbols, expressions carry their arithmetic class and implicit
 * conversions are explicit.
 */
import type { BasicTypeName, BinaryOp, Loc } from "./ast";
import type { Func, InputEvent, OutputEvent } from "./config";
import type { Arith, RecordType, Ty } from "./types";

/** A variable or internal event (internal events hold their last emitted value). */
export interface VarSym {
  id: number;
  name: string;
  ty: Ty;
  loc: Loc;
  isEvent: boolean;
  /** Read-only loop counters. */
  readOnly: boolean;
  /** Hidden compiler variables (loop bounds, async copies). */
  hidden: boolean;
  /** References in the code (for layout: frequently used variables get short addresses). */
  refs: number;
  /** Byte address in the var area, set by layout. */
  addr: number;
  /** For internal events: whether some trail awaits it. */
  awaited: boolean;
}

/** A scalar storage location. */
export type Place =
  | { k: "direct"; sym: VarSym; off: number; t: BasicTypeName }
  | { k: "indexed"; sym: VarSym; off: number; len: number; t: BasicTypeName; index: IExpr };

/** A record-sized storage location (a record variable, or a record field view). */
export interface RecPlace {
  sym: VarSym;
  off: number;
  rec: RecordType;
}

/** Typed expression; `a` is the arithmetic class of its value on the stack. */
export type IExpr =
  | { k: "const"; v: number; a: Arith }
  | { k: "load"; p: Place; a: Arith }
  | { k: "call"; fn: Func; args: IExpr[]; a: Arith; loc: Loc }
  | { k: "un"; op: "neg" | "bnot" | "lnot"; e: IExpr; a: Arith }
  | { k: "bin"; op: BinaryOp; l: IExpr; r: IExpr; a: Arith; opA: Arith }
  | { k: "conv"; from: Arith; to: Arith; e: IExpr; a: Arith }
  | { k: "wrap"; t: BasicTypeName; e: IExpr; a: Arith }
  | { k: "evval"; t: BasicTypeName; a: Arith }
  | { k: "addr"; sym: VarSym; off: number; a: Arith };

export type AwaitWhat =
  | { kind: "input"; ev: InputEvent; aux: IExpr | null }
  | { kind: "timer"; ms: number | IExpr }
  | { kind: "int"; ev: VarSym }
  | { kind: "forever" };

/** Where the value of an await goes (`x = await E`). */
export type AwaitStore =
  | { kind: "scalar"; dst: Place; from: BasicTypeName }
  | { kind: "record"; dst: RecPlace; len: number }
  | { kind: "int"; dst: Place; ev: VarSym };

export interface IBlock {
  stmts: IStmt[];
  /** Variables declared directly in this block. */
  vars: VarSym[];
}

export interface ILoop {
  k: "loop";
  /** Loop counter (`loop i` / `loop i, N`), hidden bound variable for non-constant N. */
  counter: Place | null;
  bound: { konst: number } | { expr: IExpr; hidden: Place } | null;
  body: IBlock;
  inAsync: boolean;
  loc: Loc;
  /** Set by the checks: some break leaves it from inside a par or finalized block. */
  needsKill?: boolean;
  slots?: SlotRange;
  /** Set by layout when the loop runs inside an async: its gate. */
  asyncSlot?: number;
}

/** Control slots and finalizer slots of a region (set by layout), for kill. */
export interface SlotRange {
  s0: number;
  n: number;
  f0: number;
  nf: number;
}

/** The block a `return` leaves: a value block (`x = do ... end`) or the program. */
export interface IValBlock {
  k: "valblock";
  dst: Place | null;
  inner: IStmt;
  loc: Loc;
  needsKill?: boolean;
  slots?: SlotRange;
}

export type IStmt =
  | { k: "store"; dst: Place; src: IExpr; loc: Loc }
  | { k: "copy"; dst: RecPlace; src: RecPlace; len: number; loc: Loc }
  | { k: "await"; what: AwaitWhat; store: AwaitStore | null; loc: Loc; slot?: number }
  | { k: "emit-out"; ev: OutputEvent; arg: IExpr | RecPlace | null; loc: Loc }
  | { k: "emit-int"; ev: VarSym; arg: IExpr | null; loc: Loc; index?: number }
  | { k: "call"; call: IExpr & { k: "call" }; loc: Loc }
  | { k: "incdec"; dst: Place; delta: 1 | -1; loc: Loc }
  | { k: "if"; arms: { cond: IExpr; body: IBlock }[]; orelse: IBlock | null; loc: Loc }
  | ILoop
  | { k: "break"; loop: ILoop; loc: Loc }
  | { k: "return"; target: IValBlock | null; value: IExpr | null; loc: Loc }
  | { k: "do"; body: IBlock; fin: IBlock | null; loc: Loc; finSlot?: number }
  | IValBlock
  | { k: "async"; copies: { dst: VarSym; src: VarSym }[]; body: IBlock; loc: Loc; slot?: number }
  | { k: "par"; mode: "par/or" | "par/and" | "par"; branches: IBlock[]; loc: Loc; slots?: SlotRange; counterSlot?: number };

export type IAsync = IStmt & { k: "async" };
export type IPar = IStmt & { k: "par" };
export type IAwait = IStmt & { k: "await" };

/** A checked program, ready for layout and code generation. */
export interface IProgram {
  body: IBlock;
  /** Every symbol, in declaration order. */
  syms: VarSym[];
  /** Internal events, in declaration order (index = `iev` operand). */
  events: VarSym[];
  /** Whether any expression or variable uses float (the capsule's Float flag). */
  usesFloat: boolean;
}

/** The blocks directly nested in a statement (a value block's inner statement as a one-statement block). */
export function childBlocks(s: IStmt): IBlock[] {
  switch (s.k) {
    case "if": return [...s.arms.map((a) => a.body), ...(s.orelse ? [s.orelse] : [])];
    case "loop": return [s.body];
    case "do": return s.fin ? [s.body, s.fin] : [s.body];
    case "async": return [s.body];
    case "par": return s.branches;
    case "valblock": return [{ stmts: [s.inner], vars: [] }];
    default: return [];
  }
}

/** Visit every statement of `stmts` and of the blocks nested in them, in program-text order. */
export function eachStmt(stmts: IStmt[], f: (s: IStmt) => void): void {
  for (const s of stmts) {
    f(s);
    for (const b of childBlocks(s)) eachStmt(b.stmts, f);
  }
}
