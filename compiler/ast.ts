/**
 * Abstract syntax of Céu-T (the language of terrac; shared/design/SEMANTICS.md
 * "Concrete syntax"). Produced by compiler/parser.ts, consumed by the checks
 * and code generation. Every node carries the location of its first token in
 * the original file (after preprocessing, macro expansions point at the macro
 * use).
 */
import type { Loc } from "./diagnostics";

export type { Loc };

export const BASIC_TYPES = ["ubyte", "ushort", "ulong", "byte", "short", "long", "float"] as const;
export type BasicTypeName = (typeof BASIC_TYPES)[number];

/** A type as written: a basic type or a named regtype/packet/pktype, with `*`s (only in .defs function parameters). */
export interface TypeRef {
  name: BasicTypeName | string;
  /** Number of `*` after the name (pointer parameters of configuration functions). */
  ptr: number;
  loc: Loc;
}

// ---------------------------------------------------------------- expressions

export type Expr =
  | NumExpr
  | VarExpr
  | NullExpr
  | SizeofExpr
  | CallExpr
  | UnaryExpr
  | CastExpr
  | BinaryExpr
  | IndexExpr
  | FieldExpr;

/** A numeric literal: decimal, hex (0x..), float (1.5, 1e3, 1.0e-2) or character ('a'). */
export interface NumExpr {
  kind: "num";
  value: number;
  /** True for literals written with a decimal point or exponent. */
  isFloat: boolean;
  /** The literal as written. */
  text: string;
  loc: Loc;
}

/** A lower-case name: variable, array or internal event. */
export interface VarExpr {
  kind: "var";
  name: string;
  loc: Loc;
}

export interface NullExpr {
  kind: "null";
  loc: Loc;
}

/** sizeof<type> */
export interface SizeofExpr {
  kind: "sizeof";
  type: TypeRef;
  loc: Loc;
}

/** f(a, b): a function declared in the configuration. */
export interface CallExpr {
  kind: "call";
  name: string;
  args: Expr[];
  loc: Loc;
}

export type UnaryOp = "not" | "-" | "~" | "&";

export interface UnaryExpr {
  kind: "unary";
  op: UnaryOp;
  operand: Expr;
  loc: Loc;
}

/** <type>expr */
export interface CastExpr {
  kind: "cast";
  type: BasicTypeName;
  operand: Expr;
  loc: Loc;
}

export type BinaryOp =
  | "or" | "and" | "|" | "^" | "&"
  | "==" | "!="
  | "<" | "<=" | ">" | ">="
  | "<<" | ">>"
  | "+" | "-"
  | "*" | "/" | "%";

export interface BinaryExpr {
  kind: "binary";
  op: BinaryOp;
  left: Expr;
  right: Expr;
  /** Location of the operator token. */
  loc: Loc;
}

/** a[i] */
export interface IndexExpr {
  kind: "index";
  array: Expr;
  index: Expr;
  loc: Loc;
}

/** r.field */
export interface FieldExpr {
  kind: "field";
  record: Expr;
  field: string;
  loc: Loc;
  /** Location of the field name. */
  fieldLoc: Loc;
}

// ---------------------------------------------------------------- time

/** Duration of a timer await: constant (`1min 30s`) or computed (`(x)ms`). */
export type TimeSpec =
  | { kind: "const"; ms: number; loc: Loc }
  | { kind: "expr"; expr: Expr; unit: "h" | "min" | "s" | "ms"; loc: Loc };

// ---------------------------------------------------------------- statements

export type Stmt =
  | VarDeclStmt
  | EventDeclStmt
  | RegTypeDecl
  | PacketDecl
  | PktypeDecl
  | SetStmt
  | AwaitStmt
  | EmitExtStmt
  | EmitIntStmt
  | EmitTimeStmt
  | CallStmt
  | IncDecStmt
  | IfStmt
  | LoopStmt
  | BreakStmt
  | ReturnStmt
  | DoStmt
  | AsyncStmt
  | ParStmt;

/** One name of a `var`/`event` declaration, with its optional initializer. */
export interface Declarator {
  name: string;
  init: SetSource | null;
  loc: Loc;
}

/** var T x = e, y;   var T[N] a; */
export interface VarDeclStmt {
  kind: "var";
  type: TypeRef;
  /** Array length (a constant expression), for `var T[N] name`. */
  dim: Expr | null;
  decls: Declarator[];
  loc: Loc;
}

/** event T e; */
export interface EventDeclStmt {
  kind: "event";
  type: TypeRef;
  decls: Declarator[];
  loc: Loc;
}

/** A field of a regtype/packet/pktype: `var T name;`, `var T[N] a, b;`, `var payload[N] data;`. */
export interface FieldDecl {
  type: TypeRef; // name "payload" for the payload field of a packet
  dim: Expr | null;
  names: { name: string; loc: Loc }[];
  loc: Loc;
}

/** regtype name with fields end */
export interface RegTypeDecl {
  kind: "regtype";
  name: string;
  fields: FieldDecl[];
  loc: Loc;
}

/** packet name with fields (one payload) end -- configuration files */
export interface PacketDecl {
  kind: "packet";
  name: string;
  fields: FieldDecl[];
  loc: Loc;
}

/** pktype name from packet with fields end: a view of a packet's payload */
export interface PktypeDecl {
  kind: "pktype";
  name: string;
  base: string;
  baseLoc: Loc;
  fields: FieldDecl[];
  loc: Loc;
}

/** Right-hand side of `=`: an expression, an await, or a value block. */
export type SetSource =
  | { kind: "exp"; expr: Expr }
  | { kind: "await"; await: AwaitStmt }
  | { kind: "block"; block: DoStmt | AsyncStmt | ParStmt | IfStmt | LoopStmt };

/** target = source  (also `:=`) */
export interface SetStmt {
  kind: "set";
  target: Expr;
  source: SetSource;
  loc: Loc;
}

export type AwaitStmt =
  | { kind: "await-time"; time: TimeSpec; loc: Loc }
  /** await EVT / EVT() / EVT(aux): an input event of the configuration */
  | { kind: "await-ext"; event: string; aux: Expr | null; loc: Loc; eventLoc: Loc }
  /** await e: an internal event */
  | { kind: "await-int"; event: string; loc: Loc; eventLoc: Loc }
  | { kind: "await-forever"; loc: Loc };

/** emit OUT / OUT() / OUT(arg) */
export interface EmitExtStmt {
  kind: "emit-ext";
  event: string;
  arg: Expr | null;
  loc: Loc;
  eventLoc: Loc;
}

/** emit e / e(v) */
export interface EmitIntStmt {
  kind: "emit-int";
  event: string;
  arg: Expr | null;
  loc: Loc;
  eventLoc: Loc;
}

/** emit 10ms (Céu's simulated time inside async; parsed, rejected by the checks like terrac) */
export interface EmitTimeStmt {
  kind: "emit-time";
  time: TimeSpec;
  loc: Loc;
}

export interface CallStmt {
  kind: "call-stmt";
  call: CallExpr;
  loc: Loc;
}

export interface IncDecStmt {
  kind: "inc" | "dec";
  target: Expr;
  loc: Loc;
}

export interface IfStmt {
  kind: "if";
  /** `if c then b` followed by each `else/if c then b`, in order. */
  arms: { cond: Expr; body: Stmt[]; loc: Loc }[];
  orelse: Stmt[] | null;
  loc: Loc;
}

/** loop do ... end; loop i do ... end; loop i, N do ... end */
export interface LoopStmt {
  kind: "loop";
  counter: { name: string; loc: Loc } | null;
  bound: Expr | null;
  body: Stmt[];
  loc: Loc;
}

export interface BreakStmt {
  kind: "break";
  loc: Loc;
}

export interface ReturnStmt {
  kind: "return";
  value: Expr | null;
  loc: Loc;
}

/** do ... end; do ... finally ... end */
export interface DoStmt {
  kind: "do";
  body: Stmt[];
  fin: Stmt[] | null;
  loc: Loc;
}

/** async (a, b) do ... end */
export interface AsyncStmt {
  kind: "async";
  vars: { name: string; loc: Loc }[];
  body: Stmt[];
  loc: Loc;
}

/** par/or, par/and, par: two or more branches */
export interface ParStmt {
  kind: "par/or" | "par/and" | "par";
  branches: Stmt[][];
  loc: Loc;
}

// ---------------------------------------------------------------- configuration (.defs)

export type ConfigDecl =
  | InputDecl
  | OutputDecl
  | FunctionDecl
  | UnsafeDecl
  | RegTypeDecl
  | PacketDecl;

/** input T NAME ubyte|void ID; */
export interface InputDecl {
  kind: "input";
  type: TypeRef; // name "void" for inputs without value
  name: string;
  /** `ubyte`: the input can be awaited filtered, as NAME(aux). */
  selector: "ubyte" | "void";
  id: number;
  loc: Loc;
}

/** output [pure|nohold] void NAME T|void ID; */
export interface OutputDecl {
  kind: "output";
  mod: "pure" | "nohold" | null;
  name: string;
  argType: TypeRef; // name "void" when the output carries no value
  id: number;
  loc: Loc;
}

/** function [pure|nohold] T name(T, T*, ...) ID; */
export interface FunctionDecl {
  kind: "function";
  mod: "pure" | "nohold" | null;
  ret: TypeRef;
  name: string;
  params: TypeRef[];
  id: number;
  loc: Loc;
}

/** unsafe A with B, C; */
export interface UnsafeDecl {
  kind: "unsafe";
  name: string;
  with: { name: string; loc: Loc }[];
  loc: Loc;
}

/** config name : N, code : a.b.c, { platform : bytes, ... } do decls end */
export interface ConfigBlock {
  name: string;
  version: [number, number, number];
  /** Script space per platform, in bytes (Terra's "Script space" of the specialization). */
  sizes: { platform: string; bytes: number; loc: Loc }[];
  decls: ConfigDecl[];
  loc: Loc;
}

/** A whole script: the configuration block (from the #included .defs) and the body. */
export interface Program {
  config: ConfigBlock | null;
  body: Stmt[];
  loc: Loc;
}
