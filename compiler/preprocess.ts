/**
 * The C-style preprocessor that runs before the Céu-T lexer (terrac ran `cpp`):
 * comments, `#include "x"`/`<x>`, object- and function-like `#define`, `#undef`,
 * `#if/#ifdef/#ifndef/#elif/#else/#endif`, backslash-newline in directives.
 *
 * The output is one text plus a source map: every character of the output
 * maps back to (file, line, column) of the original text. Text copied from a
 * source line maps exactly; text produced by a macro body maps to the macro's
 * name at the use site; macro arguments keep the exact location of the
 * argument text. The output keeps one line per input line (included files are
 * inlined at their #include line), so it is also readable for debugging.
 *
 * No file system access: files are read through `readFile`, paths are joined
 * with '/'. Errors are reported as `preprocess` diagnostics; nothing throws.
 */
import type { Diagnostics, Loc } from "./diagnostics";

export interface PreprocessOptions {
  /** -I directories, searched after the including file's directory. */
  includeDirs: string[];
  /** Searched last: the bundled configurations (components/defs). */
  builtinDir: string;
  /** Returns a file's text, or undefined when there is no such file. */
  readFile(path: string): string | undefined;
  /** Object-like macros defined before the main file (like `-D NAME=body`). */
  defines?: Record<string, string>;
}

/** Maps an offset of the preprocessed text to the original location. */
export interface SourceMap {
  locate(offset: number): Loc;
}

export interface PreprocessResult {
  text: string;
  map: SourceMap;
  /** Path -> original text of every file read (the main file included). */
  sources: Map<string, string>;
}

// ---------------------------------------------------------------- paths

/** Directory part of a path ("." when there is none). */
export function dirname(p: string): string {
  const i = Math.max(p.lastIndexOf("/"), p.lastIndexOf("\\"));
  if (i < 0) return ".";
  if (i === 0) return "/";
  return p.slice(0, i);
}

/** Normalize '.', '..' and repeated '/' of a '/'-separated path. */
export function normalizePath(p: string): string {
  const abs = p.startsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (part === ".." && abs) continue;
    else out.push(part);
  }
  const s = out.join("/");
  return abs ? "/" + s : s === "" ? "." : s;
}

/** `name` relative to `dir` (or `name` itself when absolute). */
export function joinPath(dir: string, name: string): string {
  if (name.startsWith("/") || /^[A-Za-z]:[\\/]/.test(name)) return normalizePath(name);
  if (dir === "" || dir === ".") return normalizePath(name);
  return normalizePath(dir + "/" + name);
}

// ---------------------------------------------------------------- output + source map

/** Builds the output text and its segment table (output offset -> origin). */
class Output {
  private parts: string[] = [];
  private len = 0;
  private starts: number[] = [];
  private files: string[] = [];
  private lines: number[] = [];
  private cols: number[] = [];
  private exact: boolean[] = [];

  /** Append `text` whose first character comes from `loc`; `exact`: following characters follow the source columns. */
  emit(text: string, loc: Loc, exact: boolean): void {
    if (text.length === 0) return;
    const n = this.starts.length;
    const contiguous =
      n > 0 && exact && this.exact[n - 1] && this.files[n - 1] === loc.file && this.lines[n - 1] === loc.line &&
      this.cols[n - 1] + (this.len - this.starts[n - 1]) === loc.col;
    if (!contiguous) {
      this.starts.push(this.len);
      this.files.push(loc.file);
      this.lines.push(loc.line);
      this.cols.push(loc.col);
      this.exact.push(exact);
    }
    this.parts.push(text);
    this.len += text.length;
  }

  /** Append text that maps nowhere in particular (spaces, newlines): it belongs to the previous segment. */
  raw(text: string): void {
    this.parts.push(text);
    this.len += text.length;
  }

  text(): string {
    return this.parts.join("");
  }

  map(mainFile: string): SourceMap {
    const { starts, files, lines, cols, exact } = this;
    return {
      locate(offset: number): Loc {
        if (!(offset >= 0) || starts.length === 0) return { file: files[0] ?? mainFile, line: 1, col: 1 };
        let lo = 0;
        let hi = starts.length - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (starts[mid] <= offset) lo = mid;
          else hi = mid - 1;
        }
        const col = exact[lo] ? cols[lo] + (offset - starts[lo]) : cols[lo];
        return { file: files[lo], line: lines[lo], col };
      },
    };
  }
}

// ---------------------------------------------------------------- comments

/**
 * Replace `//` and `/* *\/` comments by spaces (newlines kept), so that lines
 * and columns do not move. Character literals and "strings" on one line are
 * skipped. Calls `unterminated(offset)` for a `/*` without its `*\/`.
 */
export function stripComments(text: string, unterminated: (offset: number) => void): string {
  const out: string[] = [];
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 47 /* / */ && i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d === 47) {
        let e = text.indexOf("\n", i);
        if (e < 0) e = n;
        out.push(text.slice(last, i), " ".repeat(e - i));
        last = i = e;
        continue;
      }
      if (d === 42 /* * */) {
        let e = text.indexOf("*/", i + 2);
        if (e < 0) {
          unterminated(i);
          e = n;
        } else e += 2;
        out.push(text.slice(last, i), text.slice(i, e).replace(/[^\n\r]/g, " "));
        last = i = e;
        continue;
      }
    } else if (c === 34 /* " */) {
      const m = /"(?:[^"\\\n]|\\.)*"/y;
      m.lastIndex = i;
      if (m.exec(text)) {
        i = m.lastIndex;
        continue;
      }
    } else if (c === 39 /* ' */) {
      const m = /'(?:[^'\\\n]|\\.)'/y;
      m.lastIndex = i;
      if (m.exec(text)) {
        i = m.lastIndex;
        continue;
      }
    }
    i++;
  }
  out.push(text.slice(last));
  return out.join("");
}

// ---------------------------------------------------------------- preprocessing tokens

type PPKind = "id" | "num" | "str" | "char" | "punct";

/** A preprocessing token. */
interface PPTok {
  k: PPKind;
  t: string;
  /** Origin: the token's own position (exact) or the outermost macro use (not exact). */
  loc: Loc;
  exact: boolean;
  /** Preceded by white space in its line or macro body. */
  sp: boolean;
  /** Macros that must not expand this token again (C's hide set). */
  hide: ReadonlySet<string> | null;
  /** Expansion instance the token comes from (0: source text). */
  xid: number;
}

const PP_TOKEN =
  /([ \t\r\f\v]+)|([A-Za-z_][A-Za-z0-9_]*)|(\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.])*)|('(?:[^'\\\n]|\\.)')|("(?:[^"\\\n]|\\.)*")|(&&|\|\||==|!=|<=|>=|<<|>>|:=)|([^])/y;

/** Split one line (or logical directive line) into preprocessing tokens; `where(i)` maps an index of `s` to its location. */
function tokenize(s: string, where: (i: number) => Loc): PPTok[] {
  const toks: PPTok[] = [];
  PP_TOKEN.lastIndex = 0;
  let sp = false;
  let m: RegExpExecArray | null;
  while (PP_TOKEN.lastIndex < s.length && (m = PP_TOKEN.exec(s)) !== null) {
    if (m[1] !== undefined) {
      sp = true;
      continue;
    }
    const k: PPKind = m[2] !== undefined ? "id" : m[3] !== undefined ? "num" : m[4] !== undefined ? "char" : m[5] !== undefined ? "str" : "punct";
    toks.push({ k, t: m[0], loc: where(m.index), exact: true, sp, hide: null, xid: 0 });
    sp = false;
  }
  return toks;
}

// ---------------------------------------------------------------- macros

interface Macro {
  name: string;
  /** null for object-like macros. */
  params: string[] | null;
  body: PPTok[];
  loc: Loc;
}

/** Expansions allowed for one line (a guard against exponential macros). */
const MAX_EXPANSIONS = 100_000;

/** A token source that can pull more lines (for macro arguments that span lines). */
class TokStream {
  pos = 0;
  constructor(
    public toks: PPTok[],
    private pull: (() => PPTok[] | null) | null,
  ) {}

  /** Make sure toks[pos] exists, pulling lines if allowed. */
  private fill(): boolean {
    while (this.pos >= this.toks.length) {
      const more = this.pull ? this.pull() : null;
      if (more === null) return false;
      this.toks.push(...more);
    }
    return true;
  }

  /** The next token of the tokens at hand (never pulls a line). */
  next(): PPTok | null {
    return this.pos < this.toks.length ? this.toks[this.pos++] : null;
  }

  /** The next token, pulling lines if needed (macro arguments). */
  nextPulling(): PPTok | null {
    return this.fill() ? this.toks[this.pos++] : null;
  }

  /** Look at the next token, pulling lines if needed (the `(` after a function-like macro's name). */
  peek(): PPTok | null {
    return this.fill() ? this.toks[this.pos] : null;
  }

  /** Replace toks[from, pos) by `repl` and continue scanning at its start. */
  replace(from: number, repl: PPTok[]): void {
    this.toks.splice(from, this.pos - from, ...repl);
    this.pos = from;
  }
}

/** Macro table and expansion (Prosser's algorithm with hide sets). */
class Expander {
  readonly macros = new Map<string, Macro>();
  private xidCounter = 0;
  private budget = MAX_EXPANSIONS;

  constructor(private diags: Diagnostics) {}

  /** Start a new line or directive: the expansion budget guards each one against runaway expansions. */
  resetBudget(): void {
    this.budget = MAX_EXPANSIONS;
  }

  /** Whether a line with these tokens needs expanding at all. */
  mentionsMacro(toks: PPTok[]): boolean {
    for (const t of toks) if (t.k === "id" && this.macros.has(t.t)) return true;
    return false;
  }

  /** Fully expand a token list that cannot pull more lines (macro arguments, #if). */
  expandList(toks: PPTok[]): PPTok[] {
    const out: PPTok[] = [];
    this.expand(new TokStream([...toks], null), out);
    return out;
  }

  /** Expand everything of `s` into `out`. */
  expand(s: TokStream, out: PPTok[]): void {
    for (;;) {
      const start = s.pos;
      const tok = s.next();
      if (tok === null) return;
      const m = tok.k === "id" ? this.macros.get(tok.t) : undefined;
      if (m === undefined || (tok.hide !== null && tok.hide.has(tok.t))) {
        out.push(tok);
        continue;
      }
      if (--this.budget < 0) {
        if (this.budget === -1) this.diags.error("preprocess", tok.loc, `macro \`${tok.t}\` expands to too much (more than ${MAX_EXPANSIONS} macro expansions in one line)`);
        out.push(tok);
        continue;
      }
      if (m.params === null) {
        s.replace(start, this.substitute(m, tok, null, addHide(tok.hide, m.name)));
        continue;
      }
      const open = s.peek();
      if (open === null || open.t !== "(") {
        out.push(tok); // a function-like macro's name without arguments is not a use
        continue;
      }
      s.nextPulling();
      const collected = this.collectArgs(s);
      if (collected === null) {
        this.diags.error("preprocess", tok.loc, `unterminated argument list of macro \`${m.name}\``, "close the argument list with `)` on the same or the following lines");
        s.pos = start + 1;
        out.push(tok);
        continue;
      }
      let args = collected.args;
      if (m.params.length === 0 && args.length === 1 && args[0].length === 0) args = [];
      if (args.length !== m.params.length) {
        const want = `${m.params.length} argument${m.params.length === 1 ? "" : "s"}`;
        this.diags.error(
          "preprocess",
          tok.loc,
          `macro \`${m.name}\` expects ${want}, but ${args.length} ${args.length === 1 ? "was" : "were"} given`,
          `\`${m.name}\` is defined at ${m.loc.file}:${m.loc.line} as \`${m.name}(${m.params.join(", ")})\``,
        );
        s.replace(start, []);
        continue;
      }
      const hide = addHide(intersectHide(tok.hide, collected.close.hide), m.name);
      const expandedArgs = args.map((a) => this.expandList(a));
      s.replace(start, this.substitute(m, tok, expandedArgs, hide));
    }
  }

  /** Arguments after the `(`: split at top-level commas, up to the matching `)`. null when the list does not end. */
  private collectArgs(s: TokStream): { args: PPTok[][]; close: PPTok } | null {
    const args: PPTok[][] = [[]];
    let depth = 0;
    for (;;) {
      const t = s.nextPulling();
      if (t === null) return null;
      if (t.k === "punct") {
        if (t.t === "(") depth++;
        else if (t.t === ")") {
          if (depth === 0) return { args, close: t };
          depth--;
        } else if (t.t === "," && depth === 0) {
          args.push([]);
          continue;
        }
      }
      args[args.length - 1].push(t);
    }
  }

  /** The macro body with its parameters replaced; body tokens map to the use site `use`. */
  private substitute(m: Macro, use: PPTok, args: PPTok[][] | null, hide: ReadonlySet<string>): PPTok[] {
    const xid = ++this.xidCounter;
    const out: PPTok[] = [];
    for (const b of m.body) {
      const pi = args !== null && b.k === "id" ? m.params!.indexOf(b.t) : -1;
      if (pi >= 0) {
        for (const a of args![pi]) out.push({ ...a, hide: unionHide(a.hide, hide) });
      } else {
        out.push({ k: b.k, t: b.t, loc: use.loc, exact: false, sp: b.sp, hide, xid });
      }
    }
    return out;
  }
}

function addHide(h: ReadonlySet<string> | null, name: string): ReadonlySet<string> {
  if (h !== null && h.has(name)) return h;
  const s = new Set(h ?? []);
  s.add(name);
  return s;
}

function intersectHide(a: ReadonlySet<string> | null, b: ReadonlySet<string> | null): ReadonlySet<string> | null {
  if (a === null || b === null) return null;
  const s = new Set<string>();
  for (const x of a) if (b.has(x)) s.add(x);
  return s;
}

function unionHide(a: ReadonlySet<string> | null, b: ReadonlySet<string>): ReadonlySet<string> {
  if (a === null || a.size === 0) return b;
  const s = new Set(a);
  for (const x of b) s.add(x);
  return s;
}

/** Whether two consecutive output tokens must be separated by a space (keeps tokens from pasting). */
function needsSpace(prev: PPTok | null, tok: PPTok): boolean {
  if (prev === null) return tok.sp;
  if (prev.exact && tok.exact) {
    return !(prev.loc.file === tok.loc.file && prev.loc.line === tok.loc.line && prev.loc.col + prev.t.length === tok.loc.col);
  }
  if (!prev.exact && !tok.exact && prev.xid === tok.xid) return tok.sp;
  return true;
}

// ---------------------------------------------------------------- #if expressions

/** Evaluate a #if expression (after `defined` and macro expansion); throws a string on malformed input. */
function evalCondition(toks: PPTok[]): bigint {
  let i = 0;
  const peek = () => (i < toks.length ? toks[i].t : "");
  const take = (t: string) => {
    if (peek() === t) {
      i++;
      return true;
    }
    return false;
  };
  const bool = (b: boolean) => (b ? 1n : 0n);
  const wrap = (v: bigint) => BigInt.asIntN(64, v);

  const primary = (): bigint => {
    const t = toks[i];
    if (t === undefined) throw "expression ends too early";
    i++;
    if (t.t === "(") {
      const v = ternary();
      if (!take(")")) throw "expected `)`";
      return v;
    }
    if (t.t === "-") return wrap(-unary());
    if (t.t === "+") return unary();
    if (t.t === "~") return wrap(~unary());
    if (t.t === "!") return bool(unary() === 0n);
    if (t.k === "id") return 0n; // identifiers that are not macros are 0
    if (t.k === "char") return BigInt(t.t.length === 3 ? t.t.charCodeAt(1) : charEscape(t.t));
    if (t.k === "num") {
      const s = t.t.replace(/[uUlL]+$/, "");
      if (/^0[xX][0-9a-fA-F]+$/.test(s)) return BigInt(s);
      if (/^0[0-7]*$/.test(s)) return BigInt("0o" + (s.slice(1) || "0"));
      if (/^[0-9]+$/.test(s)) return BigInt(s);
      throw `\`${t.t}\` is not an integer`;
    }
    throw `unexpected \`${t.t}\``;
  };
  const unary = primary;
  const binary = (ops: string[], next: () => bigint, apply: (op: string, a: bigint, b: bigint) => bigint) => (): bigint => {
    let v = next();
    for (;;) {
      const op = peek();
      if (!ops.includes(op)) return v;
      i++;
      v = apply(op, v, next());
    }
  };
  const mul = binary(["*", "/", "%"], unary, (op, a, b) => {
    if (op === "*") return wrap(a * b);
    if (b === 0n) throw "division by zero";
    return op === "/" ? a / b : a % b;
  });
  const add = binary(["+", "-"], mul, (op, a, b) => wrap(op === "+" ? a + b : a - b));
  const shift = binary(["<<", ">>"], add, (op, a, b) => {
    if (b < 0n || b > 63n) throw "shift count out of range";
    return op === "<<" ? wrap(a << b) : a >> b;
  });
  const rel = binary(["<", "<=", ">", ">="], shift, (op, a, b) => bool(op === "<" ? a < b : op === "<=" ? a <= b : op === ">" ? a > b : a >= b));
  const eq = binary(["==", "!="], rel, (op, a, b) => bool(op === "==" ? a === b : a !== b));
  const band = binary(["&"], eq, (_op, a, b) => a & b);
  const bxor = binary(["^"], band, (_op, a, b) => a ^ b);
  const bor = binary(["|"], bxor, (_op, a, b) => a | b);
  const land = binary(["&&"], bor, (_op, a, b) => bool(a !== 0n && b !== 0n));
  const lor = binary(["||"], land, (_op, a, b) => bool(a !== 0n || b !== 0n));
  function ternary(): bigint {
    const c = lor();
    if (!take("?")) return c;
    const a = ternary();
    if (!take(":")) throw "expected `:` in `?:`";
    const b = ternary();
    return c !== 0n ? a : b;
  }
  if (toks.length === 0) throw "missing expression";
  const v = ternary();
  if (i < toks.length) throw `unexpected \`${toks[i].t}\``;
  return v;
}

function charEscape(lit: string): number {
  const c = lit[2];
  const map: Record<string, number> = { n: 10, t: 9, r: 13, "0": 0, "\\": 92, "'": 39, '"': 34 };
  return map[c] ?? c.charCodeAt(0);
}

// ---------------------------------------------------------------- the preprocessor

interface Cond {
  /** Directive name that opened the group (if, ifdef, ifndef). */
  kind: string;
  loc: Loc;
  parentActive: boolean;
  active: boolean;
  taken: boolean;
  sawElse: boolean;
}

/** One logical directive line: its text and where each character came from. */
interface Logical {
  text: string;
  where: (i: number) => Loc;
  /** Physical lines it spans. */
  lines: number;
  /** Location of the `#`. */
  loc: Loc;
}

const MAX_INCLUDE_DEPTH = 64;
const DIRECTIVE = /^[ \t\f\v]*#/;

class Preprocessor {
  readonly out = new Output();
  readonly sources = new Map<string, string>();
  readonly x: Expander;

  constructor(
    private opts: PreprocessOptions,
    private diags: Diagnostics,
  ) {
    this.x = new Expander(diags);
    for (const [name, body] of Object.entries(opts.defines ?? {})) {
      const loc: Loc = { file: "<command line>", line: 1, col: 1 };
      this.x.macros.set(name, { name, params: null, body: tokenize(body, () => loc), loc });
    }
  }

  private err(loc: Loc, msg: string, hint?: string): void {
    this.diags.error("preprocess", loc, msg, hint);
  }

  /** Preprocess one file, appending to the output. `stack`: files being included (for cycles). */
  file(path: string, original: string, stack: string[]): void {
    const text = original.charCodeAt(0) === 0xfeff ? original.slice(1) : original; // byte order mark
    const clean = stripComments(text, (offset) => {
      const before = text.slice(0, offset);
      const line = before.split("\n").length;
      const col = offset - before.lastIndexOf("\n");
      this.err({ file: path, line, col }, "unterminated comment `/*`", "close the comment with `*/`");
    });
    const lines = clean.split("\n");
    const conds: Cond[] = [];
    const active = () => conds.length === 0 || conds[conds.length - 1].active;
    let i = 0;
    while (i < lines.length) {
      if (i > 0) this.out.raw("\n");
      if (DIRECTIVE.test(lines[i])) {
        const d = this.logical(path, lines, i);
        this.directive(path, d, conds, active(), stack);
        for (let k = 1; k < d.lines; k++) this.out.raw("\n");
        i += d.lines;
        continue;
      }
      if (!active()) {
        i++;
        continue;
      }
      i += this.textLine(path, lines, i);
    }
    for (const c of conds) this.err(c.loc, `unterminated \`#${c.kind}\``, "add the matching `#endif`");
  }

  /** Join a directive line with its backslash-newline continuations. */
  private logical(path: string, lines: string[], first: number): Logical {
    const starts: number[] = [];
    const lineNos: number[] = [];
    let text = "";
    let k = first;
    for (;;) {
      starts.push(text.length);
      lineNos.push(k + 1);
      const raw = lines[k].replace(/\r$/, "");
      const cont = /\\[ \t]*$/.exec(raw);
      if (cont && k + 1 < lines.length) {
        text += raw.slice(0, cont.index);
        k++;
        continue;
      }
      text += raw;
      break;
    }
    const where = (i: number): Loc => {
      let j = starts.length - 1;
      while (j > 0 && starts[j] > i) j--;
      return { file: path, line: lineNos[j], col: i - starts[j] + 1 };
    };
    return { text, where, lines: k - first + 1, loc: where(text.indexOf("#")) };
  }

  /** Handle one directive. */
  private directive(path: string, d: Logical, conds: Cond[], active: boolean, stack: string[]): void {
    const toks = tokenize(d.text, d.where);
    // toks[0] is '#'
    const nameTok = toks[1];
    if (nameTok === undefined) return; // null directive
    const name = nameTok.t;
    const rest = toks.slice(2);
    const top = conds[conds.length - 1];
    switch (name) {
      case "if":
      case "ifdef":
      case "ifndef": {
        const c: Cond = { kind: name, loc: d.loc, parentActive: active, active: false, taken: true, sawElse: false };
        if (active) {
          const v = name === "if" ? this.condition(rest, d.loc) : this.definedTest(name, rest, d.loc);
          c.active = v;
          c.taken = v;
        }
        conds.push(c);
        return;
      }
      case "elif":
        if (top === undefined) return this.err(d.loc, "`#elif` without `#if`");
        if (top.sawElse) this.err(d.loc, "`#elif` after `#else`");
        if (top.parentActive && !top.taken) {
          top.active = this.condition(rest, d.loc);
          top.taken = top.active;
        } else top.active = false;
        return;
      case "else":
        if (top === undefined) return this.err(d.loc, "`#else` without `#if`");
        if (top.sawElse) this.err(d.loc, "`#else` after `#else`", `the group opened at line ${top.loc.line} already has an \`#else\``);
        top.active = top.parentActive && !top.taken;
        top.taken = true;
        top.sawElse = true;
        return;
      case "endif":
        if (top === undefined) return this.err(d.loc, "`#endif` without `#if`");
        conds.pop();
        return;
    }
    if (!active) return; // other directives in skipped groups are ignored
    switch (name) {
      case "define":
        return this.define(rest, d.loc);
      case "undef":
        if (rest.length === 0 || rest[0].k !== "id") return this.err(d.loc, "`#undef` needs a macro name");
        this.x.macros.delete(rest[0].t);
        return;
      case "include":
        return this.include(path, d, stack);
      case "error":
        return this.err(d.loc, `#error ${d.text.slice(d.text.indexOf("error") + 5).trim()}`);
      case "warning":
        this.diags.warning("preprocess", d.loc, `#warning ${d.text.slice(d.text.indexOf("warning") + 7).trim()}`);
        return;
      case "pragma":
      case "line":
        return;
      default:
        this.err(nameTok.loc, `unknown directive \`#${name}\``, "the directives are #include, #define, #undef, #if, #ifdef, #ifndef, #elif, #else, #endif");
    }
  }

  private definedTest(name: string, rest: PPTok[], loc: Loc): boolean {
    if (rest.length === 0 || rest[0].k !== "id") {
      this.err(loc, `\`#${name}\` needs a macro name`);
      return false;
    }
    const def = this.x.macros.has(rest[0].t);
    return name === "ifdef" ? def : !def;
  }

  /** Evaluate the expression of #if / #elif. */
  private condition(rest: PPTok[], loc: Loc): boolean {
    // `defined X` and `defined(X)` are replaced before macro expansion
    const pre: PPTok[] = [];
    for (let i = 0; i < rest.length; i++) {
      const t = rest[i];
      if (t.k === "id" && t.t === "defined") {
        let nameTok: PPTok | undefined;
        if (rest[i + 1]?.t === "(" && rest[i + 2]?.k === "id" && rest[i + 3]?.t === ")") {
          nameTok = rest[i + 2];
          i += 3;
        } else if (rest[i + 1]?.k === "id") {
          nameTok = rest[i + 1];
          i += 1;
        } else {
          this.err(t.loc, "`defined` needs a macro name: `defined(NAME)` or `defined NAME`");
          return false;
        }
        pre.push({ ...t, k: "num", t: this.x.macros.has(nameTok.t) ? "1" : "0" });
      } else pre.push(t);
    }
    try {
      this.x.resetBudget();
      return evalCondition(this.x.expandList(pre)) !== 0n;
    } catch (e) {
      this.err(loc, `malformed \`#if\` expression: ${String(e)}`);
      return false;
    }
  }

  private define(rest: PPTok[], loc: Loc): void {
    const nameTok = rest[0];
    if (nameTok === undefined || nameTok.k !== "id") {
      this.err(nameTok?.loc ?? loc, "`#define` needs a macro name", "write `#define NAME body` or `#define NAME(a, b) body`");
      return;
    }
    let params: string[] | null = null;
    let i = 1;
    if (rest[1] !== undefined && rest[1].t === "(" && !rest[1].sp) {
      params = [];
      i = 2;
      if (rest[i]?.t === ")") i++;
      else {
        for (;;) {
          const p = rest[i];
          if (p === undefined || p.k !== "id") {
            this.err(p?.loc ?? nameTok.loc, `malformed parameter list of macro \`${nameTok.t}\``, "parameters are names separated by commas, closed by `)`");
            return;
          }
          if (params.includes(p.t)) {
            this.err(p.loc, `duplicate parameter \`${p.t}\` of macro \`${nameTok.t}\``);
            return;
          }
          params.push(p.t);
          const sep = rest[i + 1];
          i += 2;
          if (sep?.t === ")") break;
          if (sep?.t !== ",") {
            this.err(sep?.loc ?? p.loc, `malformed parameter list of macro \`${nameTok.t}\``, "parameters are names separated by commas, closed by `)`");
            return;
          }
        }
      }
    }
    const body = rest.slice(i).map((t, k) => ({ ...t, sp: k === 0 ? false : t.sp }));
    const old = this.x.macros.get(nameTok.t);
    if (old !== undefined && !sameMacro(old, params, body)) {
      this.diags.warning("preprocess", nameTok.loc, `macro \`${nameTok.t}\` redefined`, `the previous definition is at ${old.loc.file}:${old.loc.line}`);
    }
    this.x.macros.set(nameTok.t, { name: nameTok.t, params, body, loc: nameTok.loc });
  }

  private include(path: string, d: Logical, stack: string[]): void {
    const m = /^\s*#\s*include\s*(?:"([^"]*)"|<([^>]*)>)/.exec(d.text);
    if (m === null) {
      this.err(d.loc, "malformed `#include`", 'write `#include "file"` or `#include <file>`');
      return;
    }
    const name = m[1] ?? m[2];
    const nameLoc = d.where(m[0].length - name.length - 1);
    if (name.length === 0) {
      this.err(nameLoc, "`#include` with an empty file name");
      return;
    }
    const dirs = [...(m[1] !== undefined ? [dirname(path)] : []), ...this.opts.includeDirs, ...(this.opts.builtinDir ? [this.opts.builtinDir] : [])];
    const absolute = name.startsWith("/") || /^[A-Za-z]:[\\/]/.test(name);
    const candidates = absolute ? [normalizePath(name)] : [...new Set(dirs.map((dir) => joinPath(dir, name)))];
    let resolved: string | undefined;
    let content: string | undefined;
    for (const c of candidates) {
      content = this.opts.readFile(c);
      if (content !== undefined) {
        resolved = c;
        break;
      }
    }
    if (resolved === undefined || content === undefined) {
      this.err(nameLoc, `cannot find include file \`${name}\``, `searched ${candidates.join(", ")}; add the directory that holds it with -I <dir>`);
      return;
    }
    if (stack.includes(resolved)) {
      this.err(nameLoc, `#include cycle: ${[...stack.slice(stack.indexOf(resolved)), resolved].join(" -> ")}`, "guard the file with #ifndef NAME / #define NAME / ... / #endif, or remove the #include");
      return;
    }
    if (stack.length >= MAX_INCLUDE_DEPTH) {
      this.err(nameLoc, `#include nested too deeply (more than ${MAX_INCLUDE_DEPTH} levels)`);
      return;
    }
    this.sources.set(resolved, content);
    this.out.raw("\n");
    this.file(resolved, content, [...stack, resolved]);
  }

  /** Copy (and macro-expand) a text line; returns the number of lines consumed (more when macro arguments span lines). */
  private textLine(path: string, lines: string[], i: number): number {
    const line = lines[i];
    const toks = tokenize(line, (c) => ({ file: path, line: i + 1, col: c + 1 }));
    if (!this.x.mentionsMacro(toks)) {
      this.out.emit(line, { file: path, line: i + 1, col: 1 }, true);
      return 1;
    }
    let used = 1;
    const pull = (): PPTok[] | null => {
      const j = i + used;
      if (j >= lines.length || DIRECTIVE.test(lines[j])) return null;
      used++;
      const more = tokenize(lines[j], (c) => ({ file: path, line: j + 1, col: c + 1 }));
      if (more.length > 0) more[0] = { ...more[0], sp: true };
      return more;
    };
    const expanded: PPTok[] = [];
    this.x.resetBudget();
    this.x.expand(new TokStream(toks, pull), expanded);
    let prev: PPTok | null = null;
    for (const t of expanded) {
      if (needsSpace(prev, t)) this.out.raw(" ");
      this.out.emit(t.t, t.loc, t.exact);
      prev = t;
    }
    for (let k = 1; k < used; k++) this.out.raw("\n");
    return used;
  }
}

function sameMacro(m: Macro, params: string[] | null, body: PPTok[]): boolean {
  if ((m.params === null) !== (params === null)) return false;
  if (m.params !== null && params !== null && m.params.join(",") !== params.join(",")) return false;
  const text = (b: PPTok[]) => b.map((t, k) => (k > 0 && t.sp ? " " : "") + t.t).join("");
  return text(m.body) === text(body);
}

/**
 * Preprocess `text` (the contents of `file`). Reports `preprocess`
 * diagnostics (include not found, include cycles, unterminated #if, #else or
 * #endif without #if, bad macro calls, malformed directives) and keeps going;
 * never throws. Locations name `file` as given and included files by the
 * resolved path under which they were read.
 */
export function preprocess(file: string, text: string, opts: PreprocessOptions, diags: Diagnostics): PreprocessResult {
  const pp = new Preprocessor(opts, diags);
  pp.sources.set(file, text);
  pp.file(file, text, [normalizePath(file)]);
  return { text: pp.out.text(), map: pp.out.map(file), sources: pp.sources };
}
