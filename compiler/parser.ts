/**
 * Parser of Céu-T (terrac's grammar, shared/design/SEMANTICS.md "Concrete
 * syntax"): a Chevrotain EmbeddedActionsParser that builds the AST of
 * compiler/ast.ts directly.
 *
 * Error recovery, so that a file with many unrelated mistakes gives one
 * diagnostic per mistake:
 * - Chevrotain's single-token insertion/deletion (deletion preferred when the
 *   token after the offending one is the expected one) and re-sync between
 *   rules;
 * - a statement that fails is dropped and the parser skips to the next `;`,
 *   block keyword (`end`, `with`, `else`, ...), statement keyword, or
 *   statement start on a later line ("panic mode", in the block loop);
 * - tokens that cannot start a statement are reported once per run and
 *   skipped; a closer no open construct accepts (`end` at top level, `else`
 *   outside an `if`, ...) is reported and skipped;
 * - a block that is not closed stops at a closer an enclosing construct
 *   accepts, so `expected end to close loop opened at line N` does not
 *   swallow the rest of the file.
 * Messages name what was expected in the language's terms.
 */
import { EmbeddedActionsParser, EOF, tokenMatcher, type IParserErrorMessageProvider, type IRecognitionException, type IToken, type ParserMethod, type TokenType } from "chevrotain";
import type * as A from "./ast";
import type { Diagnostics, Loc } from "./diagnostics";
import * as L from "./lexer";

/** Maps offsets of the parsed text to original locations (the preprocessor's source map). */
export interface SourceLocator {
  locate(offset: number): Loc;
}

/** An open construct, for `end` messages and for telling stray closers. */
interface Frame {
  kind: string;
  tok: IToken;
  /** Closers this construct takes at this point. */
  accepts: TokenType[];
}

/** An error found by the parser's own checks (not by Chevrotain). */
interface OwnError {
  tok: IToken;
  message: string;
  hint?: string;
}

type Mode = "body" | "config" | "fields";

/** Recovery of a statement or declaration that could not be parsed: it is left out of the AST. */
const DROPPED = { recoveryValueFunc: () => null as never };

const BASIC = new Set<string>(["ubyte", "ushort", "ulong", "byte", "short", "long", "float"]);
const UNITS = ["h", "min", "s", "ms"] as const;
const UNIT_MS = { h: 3_600_000, min: 60_000, s: 1000, ms: 1 } as const;
type Unit = (typeof UNITS)[number];

const EXT_NAME = /^[A-Z][A-Z0-9_]*$/;

/** `?` in names becomes `_` (terrac). */
const cleanName = (s: string) => s.replace(/\?/g, "_");

const HEADER_HINT = "a configuration starts `config name : NAME, code : 1.2.3, { platform : bytes, ... } do`";

/** Tokens skipped (and reported) in a configuration header. */
const HEADER_JUNK = L.CONFIG_JUNK.filter((t) => ![L.KwName, L.KwCode, L.LBrace, L.Comma, ...L.STMT_KEYWORDS].includes(t));

/** Tokens that cannot be in a field list (reported and skipped there). */
const FIELD_JUNK = L.BODY_JUNK.filter((t) => t !== L.Var && !L.CONFIG_KEYWORDS.includes(t)).concat(L.NAME_TOKENS.filter((t) => t !== L.KwPacket), [L.LParen]);

const SEMI_CONTEXT: Record<string, string> = {
  statement: "the statement",
  inputDecl: "the `input` declaration",
  outputDecl: "the `output` declaration",
  functionDecl: "the `function` declaration",
  unsafeDecl: "the `unsafe` declaration",
  fieldDecl: "the field declaration",
};

const NAME_CONTEXT: Record<string, string> = {
  declarator: "expected a name to declare",
  inputDecl: "expected the input event's name (all upper-case)",
  outputDecl: "expected the output event's name (all upper-case)",
  functionDecl: "expected the function's name",
  unsafeDecl: "expected an event or function name in `unsafe`",
  regtypeDecl: "expected the regtype's name",
  packetDecl: "expected the packet's name",
  pktypeDecl: "expected the pktype's name",
  fieldDecl: "expected the field's name",
  loopStmt: "expected the loop counter's name",
  asyncStmt: "expected the name of a variable to pass to `async`",
  configBlock: "expected a name",
};

/** Error messages in the language's terms (Chevrotain asks; the parser knows the open constructs). */
class Messages implements IParserErrorMessageProvider {
  parser!: TerraParser;
  buildMismatchTokenMessage(o: { expected: TokenType; actual: IToken; previous: IToken; ruleName: string }): string {
    return this.parser.mismatchMessage(o.expected, o.ruleName);
  }
  buildNotAllInputParsedMessage(o: { firstRedundant: IToken; ruleName: string }): string {
    return `unexpected ${showToken(o.firstRedundant)}`;
  }
  buildNoViableAltMessage(o: { customUserDescription?: string; ruleName: string }): string {
    return o.customUserDescription ?? `unexpected input in ${o.ruleName}`;
  }
  buildEarlyExitMessage(o: { customUserDescription?: string; ruleName: string }): string {
    return o.customUserDescription ?? `unexpected input in ${o.ruleName}`;
  }
}

function showToken(t: IToken): string {
  if (tokenMatcher(t, EOF)) return "end of file";
  if (tokenMatcher(t, L.NumberLit)) return `number \`${t.image}\``;
  return `\`${t.image}\``;
}

class TerraParser extends EmbeddedActionsParser {
  private src: SourceLocator = { locate: () => ({ file: "", line: 1, col: 1 }) };
  private mainFile = "";
  private endLoc: Loc = { file: "", line: 1, col: 1 };
  private frames: Frame[] = [];
  private own: OwnError[] = [];
  private needPanic = false;
  /** The token whose line the panic skips (default: the last error's). */
  private panicRef: IToken | null = null;
  private seenErrors = 0;
  private lastSkipped: IToken | null = null;
  private partials: unknown[][] = [];
  private lastPartial: unknown[] | null = null;
  private config: A.ConfigBlock | null = null;

  constructor() {
    const messages = new Messages();
    super(L.ALL_TOKENS, { recoveryEnabled: true, maxLookahead: 3, errorMessageProvider: messages });
    messages.parser = this;
    this.performSelfAnalysis();
  }

  /** Prepare for a new token vector. */
  begin(tokens: IToken[], src: SourceLocator, mainFile: string): void {
    this.input = tokens;
    this.src = src;
    this.mainFile = mainFile;
    this.frames = [];
    this.own = [];
    this.needPanic = false;
    this.panicRef = null;
    this.seenErrors = 0;
    this.lastSkipped = null;
    this.partials = [];
    this.lastPartial = null;
    this.config = null;
    const last = tokens[tokens.length - 1];
    this.endLoc = last ? this.locAfter(last) : { file: mainFile, line: 1, col: 1 };
  }

  // ------------------------------------------------------------ locations

  loc(tok: IToken): Loc {
    if (tok && Number.isFinite(tok.startOffset) && tok.startOffset >= 0) return this.src.locate(tok.startOffset);
    return this.fallbackLoc();
  }

  /** Where the next token is (end of the input at EOF). */
  private fallbackLoc(): Loc {
    const t = this.LA(1);
    if (t && Number.isFinite(t.startOffset) && t.startOffset >= 0) return this.src.locate(t.startOffset);
    return this.endLoc;
  }

  /** The position just after a token (its start when it comes from a macro). */
  locAfter(tok: IToken): Loc {
    if (!tok || !Number.isFinite(tok.startOffset) || !Number.isFinite(tok.endOffset!)) return this.endLoc;
    const a = this.src.locate(tok.startOffset);
    const b = this.src.locate(tok.endOffset!);
    const span = tok.endOffset! - tok.startOffset;
    if (a.file === b.file && a.line === b.line && b.col === a.col + span) return { ...b, col: b.col + 1 };
    return a;
  }

  private lineKey(tok: IToken): string {
    if (!tok || !Number.isFinite(tok.startOffset)) return "";
    const l = this.src.locate(tok.startOffset);
    return `${l.file}:${l.line}`;
  }

  private progLoc(): Loc {
    return { file: this.mainFile, line: 1, col: 1 };
  }

  // ------------------------------------------------------------ errors

  private ownError(tok: IToken, message: string, hint?: string): void {
    this.own.push({ tok, message, hint });
  }

  /** Message for a missing token (called by Chevrotain through Messages). */
  mismatchMessage(expected: TokenType, ruleName: string): string {
    const frame = this.frames[this.frames.length - 1];
    switch (expected) {
      case L.End:
        return frame ? `expected \`end\` to close \`${frame.kind}\` ${this.openedAt(frame.tok)}` : "expected `end`";
      case L.Semi:
        return `expected \`;\` after ${SEMI_CONTEXT[ruleName] ?? "the statement"}`;
      case L.Then:
        return "expected `then` after the condition of `if`";
      case L.Do:
        return frame ? `expected \`do\` to begin the body of \`${frame.kind}\`` : "expected `do`";
      case L.RParen:
        return ruleName === "callExpr" ? "expected `)` to close the argument list" : "expected `)`";
      case L.RBracket:
        return "expected `]`";
      case L.Gt:
        return ruleName === "primary" ? "expected `>` after the type in `sizeof<type>`" : "expected `>` to close the cast `<type>`";
      case L.With:
        return ruleName === "unsafeDecl" ? "expected `with` after the name in `unsafe NAME with NAME, ...`" : `expected \`with\` after the name of the \`${frame?.kind ?? "regtype"}\``;
      case L.Ident:
        return NAME_CONTEXT[ruleName] ?? "expected a name";
      case L.NumberLit:
        return ruleName.endsWith("Decl") ? "expected the numeric id that ends the declaration" : "expected a number";
      case L.KwName:
        return "expected `name : NAME` after `config` (a configuration starts `config name : NAME, code : 1.2.3, { platform : bytes, ... } do`)";
      case L.KwCode:
        return "expected `code : N.N.N` after the configuration's name";
      case L.Void:
        return "expected `void` after `output` (outputs are declared `output void NAME TYPE ID;`)";
      case L.KwFrom:
        return "expected `from` after the pktype's name (`pktype name from packet with ... end`)";
      case L.BasicType:
        if (ruleName === "functionDecl") return "expected the function's return type (a basic type)";
        if (ruleName === "unary") return "expected a basic type in the cast `<type>`";
        return `expected ${L.showType(L.BasicType)}`;
      case L.LParen:
        return ruleName === "functionDecl" ? "expected `(` and the parameter types of the function" : "expected `(`";
      case L.Colon:
        return "expected `:`";
      case L.LBrace:
        return "expected `{` and the script space per platform (`{ micaz : 1920, ... }`)";
      default:
        return `expected ${L.showType(expected)}`;
    }
  }

  private openedAt(tok: IToken): string {
    const at = this.loc(tok);
    const here = this.fallbackLoc();
    return at.file === here.file ? `opened at line ${at.line}` : `opened at ${at.file}:${at.line}`;
  }

  /** Copy every error (lexer, Chevrotain, own checks) into `diags`, in text order. */
  report(diags: Diagnostics, lexErrors: { offset: number; length: number }[], text: string): void {
    const all: { offset: number; loc: Loc; message: string; hint?: string }[] = [];
    // the token right after skipped characters: a parse error there is a consequence of the lexical one
    const shadowed = new Set<IToken>();
    const tokens = this.input;
    for (const e of lexErrors) {
      const next = tokens.find((t) => t.startOffset >= e.offset);
      if (next) shadowed.add(next);
    }
    for (const e of lexErrors) {
      const chars = text.slice(e.offset, e.offset + Math.min(e.length, 10)).trim() || text[e.offset];
      all.push({ offset: e.offset, loc: this.src.locate(e.offset), message: `unexpected character${e.length > 1 ? "s" : ""} \`${chars}\`` });
    }
    const missingEnd = new Set<IToken>();
    for (const e of this.errors as (IRecognitionException & { previousToken?: IToken })[]) {
      const tok = e.token;
      if (shadowed.has(tok)) continue;
      if (e.message.startsWith("expected `end` to close")) {
        // several constructs left open at the same place: the innermost one says it
        if (missingEnd.has(tok)) continue;
        missingEnd.add(tok);
      }
      const atEof = !tok || tokenMatcher(tok, EOF) || !Number.isFinite(tok.startOffset);
      let loc: Loc;
      let offset: number;
      if (e.message.startsWith("expected `;`") && e.previousToken && Number.isFinite(e.previousToken.startOffset)) {
        loc = this.locAfter(e.previousToken);
        offset = e.previousToken.endOffset ?? e.previousToken.startOffset;
      } else if (atEof) {
        loc = this.endLoc;
        offset = text.length;
      } else {
        loc = this.loc(tok);
        offset = tok.startOffset;
      }
      const found = atEof ? "end of file" : showToken(tok);
      all.push({ offset, loc, message: `${e.message}, found ${found}`, hint: hintFor(e.message, tok) });
    }
    for (const o of this.own) {
      if (shadowed.has(o.tok)) continue;
      const ok = Number.isFinite(o.tok.startOffset);
      all.push({ offset: ok ? o.tok.startOffset : text.length, loc: ok ? this.loc(o.tok) : this.endLoc, message: o.message, hint: o.hint });
    }
    all.sort((a, b) => a.offset - b.offset);
    for (const d of all) diags.error("syntax", d.loc, d.message, d.hint);
  }

  /** The program when parsing ran out of stack (absurdly deep nesting): report it where it happened. */
  nestedTooDeeply(): A.Program {
    this.errors = this.errors.filter((e) => e.name !== "NotAllInputParsedException");
    this.ownError(this.LA(1), "the program is nested too deeply to be parsed", "split deeply nested expressions or blocks");
    return { config: this.config, body: [], loc: this.progLoc() };
  }

  // ------------------------------------------------------------ recovery support

  /** Chevrotain prefers inserting a missing token; prefer deleting an extra one when that fits. */
  protected override canTokenTypeBeInsertedInRecovery(tokType: TokenType): boolean {
    return !tokenMatcher(this.LA(2), tokType);
  }

  private isCloser(t: IToken): boolean {
    return L.CLOSERS.some((c) => tokenMatcher(t, c));
  }

  /** A closer that no open construct takes. */
  private isStray(t: IToken): boolean {
    return !this.frames.some((f) => f.accepts.some((a) => tokenMatcher(t, a)));
  }

  private pushFrame(kind: string, tok: IToken, accepts: TokenType[]): Frame {
    const f: Frame = { kind, tok, accepts };
    this.frames.push(f);
    return f;
  }

  private popFrame(f: Frame | undefined): void {
    if (f === undefined) return;
    const i = this.frames.lastIndexOf(f);
    if (i >= 0) this.frames.length = i;
  }

  /**
   * After an error at the current token (or a dropped statement), skip to a
   * place where parsing can go on: past `;`, or before a closer, a keyword
   * that starts a statement/declaration, or a statement start on a later line.
   */
  private recoverIfNeeded(mode: Mode): void {
    const errs = this.errors;
    let trigger = this.needPanic;
    if (errs.length > this.seenErrors) {
      // a token inserted in the middle of a line (`await TEMP x;`): the rest of the line is not worth reading
      const last = errs[errs.length - 1].token;
      if (last === this.LA(1) && this.lineKey(last) === this.lineKey(this.LA(0))) trigger = true;
      this.seenErrors = errs.length;
    }
    this.needPanic = false;
    if (!trigger) return;
    const ref = this.panicRef ?? errs[errs.length - 1]?.token ?? this.LA(1);
    this.panicRef = null;
    const line = this.lineKey(ref);
    const keywords = mode === "config" ? [...L.CONFIG_KEYWORDS, L.KwPacket] : mode === "fields" ? [L.Var, ...L.STMT_KEYWORDS, ...L.CONFIG_KEYWORDS, L.Config] : [...L.STMT_KEYWORDS, L.Config];
    for (;;) {
      const t = this.LA(1);
      if (tokenMatcher(t, EOF) || this.isCloser(t) || keywords.some((k) => tokenMatcher(t, k))) break;
      if (tokenMatcher(t, L.Semi)) {
        this.lastSkipped = null;
        this.SKIP_TOKEN();
        break;
      }
      if (mode === "body" && (tokenMatcher(t, L.Ident) || tokenMatcher(t, L.LParen)) && this.lineKey(t) !== line) break;
      this.lastSkipped = t;
      this.SKIP_TOKEN();
    }
  }

  /** Whether the statement loop of a block goes on. */
  private blockContinues(): boolean {
    this.recoverIfNeeded("body");
    const t = this.LA(1);
    if (tokenMatcher(t, EOF)) return false;
    if (this.isCloser(t)) return this.isStray(t);
    return true;
  }

  private startPartial(list: unknown[]): void {
    this.partials.push(list);
  }

  private endPartial(): void {
    this.lastPartial = this.partials.pop() ?? null;
  }

  private errExpr(): A.Expr {
    return { kind: "num", value: 0, isFloat: false, text: "", loc: this.fallbackLoc() };
  }

  /** Report a token skipped as junk, once per run of consecutive junk. */
  private junkToken(prev: IToken, tok: IToken, message: string, hint?: string): void {
    const errs = this.errors;
    const already = errs.length > 0 && errs[errs.length - 1].token === tok;
    if (prev !== this.lastSkipped && !already) this.ownError(tok, message, hint);
    this.lastSkipped = tok;
  }

  // ------------------------------------------------------------ AST helpers

  private name(tok: IToken): string {
    return cleanName(tok.image);
  }

  /** A declared name (variable, event, type, field, function): must start with a lower-case letter. */
  private declName(tok: IToken, what: string): string {
    const n = this.name(tok);
    if (n !== "" && !/^[a-z]/.test(n)) {
      this.ownError(tok, `\`${n}\`: names of ${what} must start with a lower-case letter`, EXT_NAME.test(n) ? "all upper-case names are external (input/output) events" : undefined);
    }
    return n;
  }

  private numExpr(tok: IToken): A.NumExpr {
    const text = tok.image;
    let value: number;
    let isFloat = false;
    if (text.startsWith("'")) value = text.charCodeAt(1);
    else if (/^0[xX]/.test(text)) value = parseInt(text.slice(2), 16);
    else if (/[.eE]/.test(text)) {
      value = parseFloat(text);
      isFloat = true;
    } else value = parseInt(text, 10);
    return { kind: "num", value, isFloat, text, loc: this.loc(tok) };
  }

  /** A non-negative integer where the grammar wants one (ids, sizes). */
  private intOf(tok: IToken, what: string): number {
    if (!/^(\d+|0[xX][0-9a-fA-F]+)$/.test(tok.image)) {
      if (tok.image !== "") this.ownError(tok, `${what} must be a whole number, not \`${tok.image}\``);
      return 0;
    }
    return Number(tok.image);
  }

  private binary(opTok: IToken, left: A.Expr, right: A.Expr): A.Expr {
    let op: A.BinaryOp;
    if (tokenMatcher(opTok, L.OrOr)) {
      this.ownError(opTok, "`||` is not a Céu-T operator: write `or`");
      op = "or";
    } else if (tokenMatcher(opTok, L.AndAnd)) {
      this.ownError(opTok, "`&&` is not a Céu-T operator: write `and`");
      op = "and";
    } else op = opTok.image as A.BinaryOp;
    return { kind: "binary", op, left, right, loc: this.loc(opTok) };
  }

  private constTime(parts: { n: IToken; u: Unit; ut: IToken }[]): A.TimeSpec {
    let ms = 0;
    let last = -1;
    for (const p of parts) {
      const idx = UNITS.indexOf(p.u);
      if (idx <= last) {
        this.ownError(p.ut, `time unit \`${p.u}\` out of order: write the parts of a time in the order h, min, s, ms, each at most once`);
      }
      last = Math.max(last, idx);
      if (!/^\d+$/.test(p.n.image)) {
        if (p.n.image !== "") this.ownError(p.n, `a time is written with whole numbers, not \`${p.n.image}\``, "write e.g. `1500ms` instead of `1.5s`");
        continue;
      }
      ms += Number(p.n.image) * UNIT_MS[p.u];
    }
    return { kind: "const", ms, loc: this.loc(parts[0].n) };
  }

  /** A configuration block: the program's when it comes first, else an error (after statements, or a second one). */
  private takeConfig(c: A.ConfigBlock, tok: IToken, first: boolean): void {
    if (this.config === null && first) this.config = c;
    else if (this.config === null) {
      this.config = c;
      this.ownError(tok, "the configuration block must come before the statements of the program", "#include the .defs file at the top of the script");
    } else {
      this.ownError(tok, "a second configuration block", "a script #includes exactly one configuration (.defs) file");
    }
  }

  // ------------------------------------------------------------ program and blocks

  program: ParserMethod<[], A.Program> = this.RULE(
    "program",
    (): A.Program => {
      const body = this.SUBRULE(this.block);
      this.CONSUME(EOF);
      return this.ACTION(() => ({ config: this.config, body, loc: this.progLoc() }));
    },
    { recoveryValueFunc: () => ({ config: this.config, body: (this.lastPartial as A.Stmt[] | null) ?? [], loc: this.progLoc() }) },
  );

  block: ParserMethod<[], A.Stmt[]> = this.RULE(
    "block",
    (): A.Stmt[] => {
      const stmts: A.Stmt[] = [];
      this.ACTION(() => this.startPartial(stmts));
      try {
        this.MANY({
          GATE: () => this.blockContinues(),
          DEF: () => {
            this.OR([
              {
                ALT: () => {
                  const s = this.SUBRULE(this.statement);
                  this.ACTION(() => {
                    if (s) stmts.push(s); // null (or nothing) for a statement that could not be parsed
                  });
                },
              },
              { ALT: () => this.CONSUME(L.Semi) },
              {
                // the configuration: at the top, or anywhere when it looks like one (`config name :`)
                GATE: () => (this.config === null && stmts.length === 0 && this.frames.length === 0) || tokenMatcher(this.LA(2), L.KwName),
                ALT: () => {
                  const t = this.LA(1);
                  const c = this.SUBRULE(this.configBlock);
                  this.ACTION(() => this.takeConfig(c, t, stmts.length === 0 && this.frames.length === 0));
                },
              },
              {
                ALT: () => {
                  const prev = this.LA(0);
                  const t = this.CONSUME(L.Config);
                  this.ACTION(() => this.junkToken(prev, t, "unexpected `config`: the configuration block comes first, from the .defs file the script #includes"));
                },
              },
              { ALT: () => this.SUBRULE(this.junk) },
              { ALT: () => this.SUBRULE(this.stray) },
            ]);
          },
        });
      } finally {
        this.ACTION(() => this.endPartial());
      }
      return stmts;
    },
    { recoveryValueFunc: () => (this.lastPartial as A.Stmt[] | null) ?? [] },
  );

  /** A token that cannot start a statement. */
  junk: ParserMethod<[], void> = this.RULE("junk", (): void => {
    const prev = this.LA(0);
    const t = this.OR(L.BODY_JUNK.map((tt) => ({ ALT: () => this.CONSUME(tt) })));
    this.ACTION(() => {
      if ([L.Input, L.Output, L.Function, L.Unsafe].some((k) => tokenMatcher(t, k))) {
        this.junkToken(prev, t, `\`${t.image}\` declarations are only allowed in the configuration block`, "declare events and functions in the .defs file that the script #includes");
        this.needPanic = true; // skip the rest of the declaration
        this.panicRef = t;
      } else this.junkToken(prev, t, `unexpected ${showToken(t)}, expected a statement`);
    });
  });

  /** A closer that no open construct takes. */
  stray: ParserMethod<[], void> = this.RULE("stray", (): void => {
    const t = this.OR(L.CLOSERS.map((tt) => ({ ALT: () => this.CONSUME(tt) })));
    this.ACTION(() => {
      const what: Record<string, string> = {
        end: ": there is no open block for it to close",
        with: " outside `par`, `par/or` or `par/and`",
        else: " outside an `if`",
        "else/if": " outside an `if`",
        finally: " outside a `do ... end` block, or a second `finally`",
      };
      this.ownError(t, `unexpected \`${t.image}\`${what[t.image] ?? ""}`, t.image === "end" ? "remove it, or look for an `end` too many above" : undefined);
      this.lastSkipped = t;
    });
  });

  // ------------------------------------------------------------ statements

  statement: ParserMethod<[], A.Stmt | null> = this.RULE(
    "statement",
    (): A.Stmt | null =>
      this.OR<A.Stmt>({
        // one token decides, except a name followed by `(` (a call): a name followed by anything
        // else is an assignment, so that `x;` reads "expected `=` after the assignment target"
        MAX_LOOKAHEAD: 1,
        DEF: [
          {
            ALT: () => {
              const s = this.SUBRULE(this.varDecl);
              this.CONSUME(L.Semi);
              return s;
            },
          },
          {
            ALT: () => {
              const s = this.SUBRULE(this.eventDecl);
              this.CONSUME2(L.Semi);
              return s;
            },
          },
          { ALT: () => this.SUBRULE(this.regtypeDecl) },
          { ALT: () => this.SUBRULE(this.pktypeDecl) },
          {
            ALT: () => {
              const s = this.SUBRULE(this.awaitStmt);
              this.CONSUME3(L.Semi);
              return s;
            },
          },
          {
            ALT: () => {
              const s = this.SUBRULE(this.emitStmt);
              this.CONSUME4(L.Semi);
              return s;
            },
          },
          {
            ALT: () => {
              const s = this.SUBRULE(this.incDecStmt);
              this.CONSUME5(L.Semi);
              return s;
            },
          },
          { ALT: () => this.SUBRULE(this.ifStmt) },
          { ALT: () => this.SUBRULE(this.loopStmt) },
          { ALT: () => this.SUBRULE(this.doStmt) },
          { ALT: () => this.SUBRULE(this.asyncStmt) },
          { ALT: () => this.SUBRULE(this.parStmt) },
          {
            ALT: () => {
              const s = this.SUBRULE(this.breakStmt);
              this.CONSUME6(L.Semi);
              return s;
            },
          },
          {
            ALT: () => {
              const s = this.SUBRULE(this.returnStmt);
              this.CONSUME7(L.Semi);
              return s;
            },
          },
          {
            GATE: () => tokenMatcher(this.LA(2), L.LParen),
            ALT: () => {
              const s = this.SUBRULE(this.callStmt);
              this.CONSUME8(L.Semi);
              return s;
            },
          },
          {
            ALT: () => {
              const s = this.SUBRULE(this.setStmt);
              this.CONSUME9(L.Semi);
              return s;
            },
          },
        ],
      }),
    {
      recoveryValueFunc: () => {
        this.needPanic = true;
        return null;
      },
    },
  );

  /** var T x = e, y;  var T[N] a; */
  varDecl: ParserMethod<[], A.VarDeclStmt> = this.RULE("varDecl", (): A.VarDeclStmt => {
    const v = this.CONSUME(L.Var);
    const type = this.SUBRULE(this.typeRef);
    let dim = null as A.Expr | null;
    let lb = null as IToken | null;
    this.OPTION(() => {
      lb = this.CONSUME(L.LBracket);
      dim = this.SUBRULE(this.expression);
      this.CONSUME(L.RBracket);
    });
    const decls: A.Declarator[] = [this.SUBRULE(this.declarator)];
    this.MANY(() => {
      this.CONSUME(L.Comma);
      const d = this.SUBRULE2(this.declarator);
      this.ACTION(() => decls.push(d));
    });
    return this.ACTION(() => {
      if (lb !== null && !BASIC.has(type.name) && type.name !== "?") {
        this.ownError(lb, `arrays of \`${type.name}\` are not supported: only basic types can have a size \`[N]\``);
      }
      return { kind: "var", type, dim, decls, loc: this.loc(v) };
    });
  }, DROPPED);

  /** event T e, f; */
  eventDecl: ParserMethod<[], A.EventDeclStmt> = this.RULE("eventDecl", (): A.EventDeclStmt => {
    const e = this.CONSUME(L.Event);
    const tt = this.LA(1);
    const type = this.SUBRULE(this.typeRef);
    const decls: A.Declarator[] = [this.SUBRULE(this.declarator)];
    this.MANY(() => {
      this.CONSUME(L.Comma);
      const d = this.SUBRULE2(this.declarator);
      this.ACTION(() => decls.push(d));
    });
    return this.ACTION(() => {
      if (!BASIC.has(type.name) && type.name !== "?") this.ownError(tt, `events carry a value of a basic type, not \`${type.name}\``);
      return { kind: "event", type, decls, loc: this.loc(e) };
    });
  }, DROPPED);

  /** name [= source] */
  declarator: ParserMethod<[], A.Declarator> = this.RULE("declarator", (): A.Declarator => {
    const n = this.CONSUME(L.Ident);
    let init = null as A.SetSource | null;
    this.OPTION(() => {
      this.OR([{ ALT: () => this.CONSUME(L.Assign) }, { ALT: () => this.CONSUME(L.ColonEq) }]);
      init = this.SUBRULE(this.setSource);
    });
    return this.ACTION(() => ({ name: this.declName(n, "variables and events"), init, loc: this.loc(n) }));
  }, { recoveryValueFunc: (): A.Declarator => ({ name: "", init: null, loc: this.fallbackLoc() }) });

  /** A type in a declaration: a basic type or a regtype/pktype name. */
  typeRef: ParserMethod<[], A.TypeRef> = this.RULE(
    "typeRef",
    (): A.TypeRef => {
      const t = this.OR({
        DEF: [{ ALT: () => this.CONSUME(L.BasicType) }, { ALT: () => this.CONSUME(L.Ident) }],
        ERR_MSG: "expected a type (a basic type or the name of a regtype or pktype)",
      });
      return this.ACTION(() => ({ name: this.name(t) || "?", ptr: 0, loc: this.loc(t) }));
    },
    { recoveryValueFunc: () => ({ name: "?", ptr: 0, loc: this.fallbackLoc() }) },
  );

  /** A type with `*`s (parameters and arguments of configuration functions and outputs). */
  ptrType: ParserMethod<[], A.TypeRef> = this.RULE("ptrType", (): A.TypeRef => {
    const t = this.SUBRULE(this.typeRef);
    let ptr = 0;
    this.MANY(() => {
      this.CONSUME(L.Star);
      ptr++;
    });
    return this.ACTION(() => ({ ...t, ptr }));
  }, { recoveryValueFunc: (): A.TypeRef => ({ name: "?", ptr: 0, loc: this.fallbackLoc() }) });

  /** Right-hand side of `=`. */
  setSource: ParserMethod<[], A.SetSource> = this.RULE(
    "setSource",
    (): A.SetSource =>
      this.OR<A.SetSource>({
        ERR_MSG: "expected an expression, an `await` or a value block (`do ... end`) after `=`",
        DEF: [
          {
            ALT: () => {
              const a = this.SUBRULE(this.awaitStmt);
              return this.ACTION(() => {
                if (a.kind === "await-forever") this.ownError(this.LA(0), "`await FOREVER` has no value to assign");
                return { kind: "await", await: a };
              });
            },
          },
          { ALT: () => ({ kind: "block", block: this.SUBRULE(this.doStmt) }) },
          { ALT: () => ({ kind: "block", block: this.SUBRULE(this.asyncStmt) }) },
          { ALT: () => ({ kind: "block", block: this.SUBRULE(this.parStmt) }) },
          { ALT: () => ({ kind: "block", block: this.SUBRULE(this.ifStmt) }) },
          { ALT: () => ({ kind: "block", block: this.SUBRULE(this.loopStmt) }) },
          { ALT: () => ({ kind: "exp", expr: this.SUBRULE(this.expression) }) },
        ],
      }),
    { recoveryValueFunc: (): A.SetSource => ({ kind: "exp", expr: this.errExpr() }) },
  );

  /** target = source */
  setStmt: ParserMethod<[], A.SetStmt> = this.RULE("setStmt", (): A.SetStmt => {
    const first = this.LA(1);
    const target = this.SUBRULE(this.postfixExpr);
    this.OR({ DEF: [{ ALT: () => this.CONSUME(L.Assign) }, { ALT: () => this.CONSUME(L.ColonEq) }], ERR_MSG: "expected `=` after the assignment target" });
    const source = this.SUBRULE(this.setSource);
    return this.ACTION(() => ({ kind: "set", target, source, loc: this.loc(first) }));
  }, DROPPED);

  /** f(args); */
  callStmt: ParserMethod<[], A.CallStmt> = this.RULE("callStmt", (): A.CallStmt => {
    const call = this.SUBRULE(this.callExpr);
    return this.ACTION(() => {
      if (EXT_NAME.test(call.name)) {
        this.ownError(this.LA(0), `\`${call.name}\` is an event, not a function`, `write \`emit ${call.name}(...)\` to emit an output event`);
      }
      return { kind: "call-stmt", call, loc: call.loc };
    });
  }, DROPPED);

  /** await FOREVER | time | EVT | EVT(aux) | e */
  awaitStmt: ParserMethod<[], A.AwaitStmt> = this.RULE(
    "awaitStmt",
    (): A.AwaitStmt => {
      const a = this.CONSUME(L.Await);
      return this.OR<A.AwaitStmt>({
        DEF: [
          {
            ALT: () => {
              this.CONSUME(L.Forever);
              return this.ACTION(() => ({ kind: "await-forever", loc: this.loc(a) }));
            },
          },
          {
            ALT: () => {
              const time = this.SUBRULE(this.timeSpec);
              return this.ACTION(() => ({ kind: "await-time", time, loc: this.loc(a) }));
            },
          },
          {
            ALT: () => {
              const n = this.CONSUME(L.Ident);
              let aux = null as A.Expr | null;
              let paren = null as IToken | null;
              this.OPTION(() => {
                paren = this.CONSUME(L.LParen);
                this.OPTION2(() => {
                  aux = this.SUBRULE(this.expression);
                });
                this.CONSUME(L.RParen);
              });
              return this.ACTION((): A.AwaitStmt => {
                const event = this.name(n);
                if (EXT_NAME.test(event)) return { kind: "await-ext", event, aux, loc: this.loc(a), eventLoc: this.loc(n) };
                if (paren !== null) this.ownError(paren, `internal event \`${event}\` is awaited without an argument: \`await ${event}\``, "only input events declared with a `ubyte` selector can be awaited as `EVT(value)`");
                return { kind: "await-int", event, loc: this.loc(a), eventLoc: this.loc(n) };
              });
            },
          },
        ],
        ERR_MSG: "expected a time (`1s`, `(e)ms`), an event or `FOREVER` after `await`",
      });
    },
    { recoveryValueFunc: (): A.AwaitStmt => ({ kind: "await-forever", loc: this.fallbackLoc() }) },
  );

  /** 1h 30min 10s 5ms  |  (expr)unit */
  timeSpec: ParserMethod<[], A.TimeSpec> = this.RULE(
    "timeSpec",
    (): A.TimeSpec =>
      this.OR<A.TimeSpec>([
        {
          ALT: () => {
            const parts: { n: IToken; u: Unit; ut: IToken }[] = [];
            this.AT_LEAST_ONE(() => {
              const n = this.CONSUME(L.NumberLit);
              const ut = this.LA(1);
              const u = this.SUBRULE(this.timeUnit);
              this.ACTION(() => parts.push({ n, u, ut }));
            });
            return this.ACTION(() => this.constTime(parts));
          },
        },
        {
          ALT: () => {
            const lp = this.CONSUME(L.LParen);
            const expr = this.SUBRULE(this.expression);
            this.CONSUME(L.RParen);
            const unit = this.SUBRULE2(this.timeUnit);
            return this.ACTION(() => ({ kind: "expr", expr, unit, loc: this.loc(lp) }));
          },
        },
      ]),
    { recoveryValueFunc: (): A.TimeSpec => ({ kind: "const", ms: 0, loc: this.fallbackLoc() }) },
  );

  timeUnit: ParserMethod<[], Unit> = this.RULE(
    "timeUnit",
    (): Unit =>
      this.OR<Unit>({
        DEF: [
          { ALT: () => (this.CONSUME(L.UnitH), "h") },
          { ALT: () => (this.CONSUME(L.UnitMin), "min") },
          { ALT: () => (this.CONSUME(L.UnitS), "s") },
          { ALT: () => (this.CONSUME(L.UnitMs), "ms") },
        ],
        ERR_MSG: "expected a time unit (`h`, `min`, `s` or `ms`)",
      }),
    { recoveryValueFunc: (): Unit => "ms" },
  );

  /** emit OUT / OUT(v) / e / e(v) / time */
  emitStmt: ParserMethod<[], A.EmitExtStmt | A.EmitIntStmt | A.EmitTimeStmt> = this.RULE("emitStmt", (): A.EmitExtStmt | A.EmitIntStmt | A.EmitTimeStmt => {
    const e = this.CONSUME(L.Emit);
    return this.OR<A.EmitExtStmt | A.EmitIntStmt | A.EmitTimeStmt>({
      DEF: [
          {
            ALT: () => {
              const time = this.SUBRULE(this.timeSpec);
              return this.ACTION(() => ({ kind: "emit-time", time, loc: this.loc(e) }));
            },
          },
          {
            ALT: () => {
              const n = this.CONSUME(L.Ident);
              let arg = null as A.Expr | null;
              this.OPTION(() => {
                this.CONSUME(L.LParen);
                this.OPTION2(() => {
                  arg = this.SUBRULE(this.expression);
                });
                this.CONSUME(L.RParen);
              });
              return this.ACTION(() => {
                const event = this.name(n);
                return { kind: EXT_NAME.test(event) ? "emit-ext" : "emit-int", event, arg, loc: this.loc(e), eventLoc: this.loc(n) };
              });
            },
          },
        ],
        ERR_MSG: "expected an event or a time after `emit`",
      });
    }, DROPPED);

    /** inc x; dec x; */
    incDecStmt: ParserMethod<[], A.IncDecStmt> = this.RULE("incDecStmt", (): A.IncDecStmt => {
      const t = this.OR([{ ALT: () => this.CONSUME(L.Inc) }, { ALT: () => this.CONSUME(L.Dec) }]);
      const target = this.SUBRULE(this.postfixExpr);
      return this.ACTION(() => ({ kind: tokenMatcher(t, L.Inc) ? "inc" : "dec", target, loc: this.loc(t) }));
    }, DROPPED);

    ifStmt: ParserMethod<[], A.IfStmt> = this.RULE("ifStmt", (): A.IfStmt => {
      const t = this.CONSUME(L.If);
      const frame = this.ACTION(() => this.pushFrame("if", t, [L.ElseIf, L.Else, L.End]));
      try {
        const cond = this.SUBRULE(this.expression);
        this.CONSUME(L.Then);
        const body = this.SUBRULE(this.block);
        const arms: A.IfStmt["arms"] = [];
        this.ACTION(() => arms.push({ cond, body, loc: this.loc(t) }));
        this.MANY(() => {
          const ei = this.CONSUME(L.ElseIf);
          const c = this.SUBRULE2(this.expression);
          this.CONSUME2(L.Then);
          const b = this.SUBRULE2(this.block);
          this.ACTION(() => arms.push({ cond: c, body: b, loc: this.loc(ei) }));
        });
        let orelse = null as A.Stmt[] | null;
        this.OPTION(() => {
          this.CONSUME(L.Else);
          this.ACTION(() => {
            frame.accepts = [L.End];
          });
          orelse = this.SUBRULE3(this.block);
        });
        this.CONSUME(L.End);
        return this.ACTION(() => ({ kind: "if", arms, orelse, loc: this.loc(t) }));
      } finally {
        this.ACTION(() => this.popFrame(frame));
      }
    }, { recoveryValueFunc: (): A.IfStmt => ({ kind: "if", arms: [], orelse: null, loc: this.fallbackLoc() }) });

    /** loop [i [, bound]] do ... end */
    loopStmt: ParserMethod<[], A.LoopStmt> = this.RULE("loopStmt", (): A.LoopStmt => {
      const t = this.CONSUME(L.Loop);
      const frame = this.ACTION(() => this.pushFrame("loop", t, [L.End]));
      try {
        let counter = null as A.LoopStmt["counter"];
        let bound = null as A.Expr | null;
        this.OPTION(() => {
          const c = this.CONSUME(L.Ident);
          this.ACTION(() => {
            counter = { name: this.declName(c, "loop counters"), loc: this.loc(c) };
          });
          this.OPTION2(() => {
            this.CONSUME(L.Comma);
            bound = this.SUBRULE(this.expression);
          });
        });
        this.CONSUME(L.Do);
        const body = this.SUBRULE(this.block);
        this.CONSUME(L.End);
        return this.ACTION(() => ({ kind: "loop", counter, bound, body, loc: this.loc(t) }));
      } finally {
        this.ACTION(() => this.popFrame(frame));
      }
    }, { recoveryValueFunc: (): A.LoopStmt => ({ kind: "loop", counter: null, bound: null, body: [], loc: this.fallbackLoc() }) });

    /** do ... [finally ...] end */
    doStmt: ParserMethod<[], A.DoStmt> = this.RULE("doStmt", (): A.DoStmt => {
      const t = this.CONSUME(L.Do);
      const frame = this.ACTION(() => this.pushFrame("do", t, [L.Finally, L.End]));
      try {
        const body = this.SUBRULE(this.block);
        let fin = null as A.Stmt[] | null;
        this.OPTION(() => {
          this.CONSUME(L.Finally);
          this.ACTION(() => {
            frame.accepts = [L.End];
          });
          fin = this.SUBRULE2(this.block);
        });
        this.CONSUME(L.End);
        return this.ACTION(() => ({ kind: "do", body, fin, loc: this.loc(t) }));
      } finally {
        this.ACTION(() => this.popFrame(frame));
      }
    }, { recoveryValueFunc: (): A.DoStmt => ({ kind: "do", body: [], fin: null, loc: this.fallbackLoc() }) });

    /** async [(a, b)] do ... end */
    asyncStmt: ParserMethod<[], A.AsyncStmt> = this.RULE("asyncStmt", (): A.AsyncStmt => {
      const t = this.CONSUME(L.Async);
      const frame = this.ACTION(() => this.pushFrame("async", t, [L.End]));
      try {
        const vars: A.AsyncStmt["vars"] = [];
        this.OPTION(() => {
          this.CONSUME(L.LParen);
          const v = this.CONSUME(L.Ident);
          this.ACTION(() => vars.push({ name: this.name(v), loc: this.loc(v) }));
          this.MANY(() => {
            this.CONSUME(L.Comma);
            const w = this.CONSUME2(L.Ident);
            this.ACTION(() => vars.push({ name: this.name(w), loc: this.loc(w) }));
          });
          this.CONSUME(L.RParen);
        });
        this.CONSUME(L.Do);
        const body = this.SUBRULE(this.block);
        this.CONSUME(L.End);
        return this.ACTION(() => ({ kind: "async", vars, body, loc: this.loc(t) }));
      } finally {
        this.ACTION(() => this.popFrame(frame));
      }
    }, { recoveryValueFunc: (): A.AsyncStmt => ({ kind: "async", vars: [], body: [], loc: this.fallbackLoc() }) });

    /** par | par/or | par/and do ... with ... end */
    parStmt: ParserMethod<[], A.ParStmt> = this.RULE("parStmt", (): A.ParStmt => {
      const t = this.OR([{ ALT: () => this.CONSUME(L.Par) }, { ALT: () => this.CONSUME(L.ParOr) }, { ALT: () => this.CONSUME(L.ParAnd) }]);
      const kind = this.ACTION(() => t.image as A.ParStmt["kind"]);
      const frame = this.ACTION(() => this.pushFrame(kind, t, [L.With, L.End]));
      try {
        this.CONSUME(L.Do);
        const branches: A.Stmt[][] = [this.SUBRULE(this.block)];
        this.MANY(() => {
          this.CONSUME(L.With);
          const b = this.SUBRULE2(this.block);
          this.ACTION(() => branches.push(b));
        });
        this.CONSUME(L.End);
        return this.ACTION(() => {
          if (branches.length < 2) this.ownError(t, `\`${kind}\` needs at least two branches separated by \`with\``);
          return { kind, branches, loc: this.loc(t) };
        });
      } finally {
        this.ACTION(() => this.popFrame(frame));
      }
    }, { recoveryValueFunc: (): A.ParStmt => ({ kind: "par", branches: [], loc: this.fallbackLoc() }) });

    breakStmt: ParserMethod<[], A.BreakStmt> = this.RULE("breakStmt", (): A.BreakStmt => {
      const t = this.CONSUME(L.Break);
      return this.ACTION(() => ({ kind: "break", loc: this.loc(t) }));
    }, DROPPED);

    returnStmt: ParserMethod<[], A.ReturnStmt> = this.RULE("returnStmt", (): A.ReturnStmt => {
      const t = this.CONSUME(L.Return);
      let value = null as A.Expr | null;
      this.OPTION(() => {
        value = this.SUBRULE(this.expression);
      });
      return this.ACTION(() => ({ kind: "return", value, loc: this.loc(t) }));
    }, DROPPED);

    // ------------------------------------------------------------ records

    /** regtype name with fields end */
    regtypeDecl: ParserMethod<[], A.RegTypeDecl> = this.RULE("regtypeDecl", (): A.RegTypeDecl => {
      const t = this.CONSUME(L.Regtype);
      const frame = this.ACTION(() => this.pushFrame("regtype", t, [L.End]));
      try {
        const n = this.CONSUME(L.Ident);
        this.CONSUME(L.With);
        const fields = this.SUBRULE(this.fieldList, { ARGS: ["regtype"] });
        this.CONSUME(L.End);
        return this.ACTION(() => ({ kind: "regtype", name: this.declName(n, "regtypes"), fields, loc: this.loc(t) }));
      } finally {
        this.ACTION(() => this.popFrame(frame));
      }
    }, DROPPED);

    /** packet name with fields end (configuration) */
    packetDecl: ParserMethod<[], A.PacketDecl> = this.RULE("packetDecl", (): A.PacketDecl => {
      const t = this.CONSUME(L.KwPacket);
      const frame = this.ACTION(() => this.pushFrame("packet", t, [L.End]));
      try {
        const n = this.CONSUME(L.Ident);
        this.CONSUME(L.With);
        const fields = this.SUBRULE(this.fieldList, { ARGS: ["packet"] });
        this.CONSUME(L.End);
        return this.ACTION(() => {
          if (!fields.some((f) => f.type.name === "payload")) this.ownError(t, `packet \`${this.name(n)}\` needs a payload field: \`var payload[N] name;\``);
          return { kind: "packet", name: this.declName(n, "packets"), fields, loc: this.loc(t) };
        });
      } finally {
        this.ACTION(() => this.popFrame(frame));
      }
    }, DROPPED);

    /** pktype name from packet with fields end */
    pktypeDecl: ParserMethod<[], A.PktypeDecl> = this.RULE("pktypeDecl", (): A.PktypeDecl => {
      const t = this.CONSUME(L.Pktype);
      const frame = this.ACTION(() => this.pushFrame("pktype", t, [L.End]));
      try {
        const n = this.CONSUME(L.Ident);
        this.CONSUME(L.KwFrom);
        const b = this.CONSUME2(L.Ident);
        this.CONSUME(L.With);
        const fields = this.SUBRULE(this.fieldList, { ARGS: ["pktype"] });
        this.CONSUME(L.End);
        return this.ACTION(() => ({ kind: "pktype", name: this.declName(n, "pktypes"), base: this.name(b), baseLoc: this.loc(b), fields, loc: this.loc(t) }));
      } finally {
        this.ACTION(() => this.popFrame(frame));
      }
    }, DROPPED);

    fieldList: ParserMethod<[string], A.FieldDecl[]> = this.RULE(
      "fieldList",
      (owner: string): A.FieldDecl[] => {
        const fields: A.FieldDecl[] = [];
        const errorsBefore = this.ACTION(() => this.own.length + this.errors.length);
        this.ACTION(() => this.startPartial(fields));
        try {
          this.MANY({
            GATE: () => {
              this.recoverIfNeeded("fields");
              return true;
            },
            DEF: () => {
              this.OR([
                {
                  ALT: () => {
                    const f = this.SUBRULE(this.fieldDecl, { ARGS: [owner] });
                    this.ACTION(() => {
                      if (f) fields.push(f);
                    });
                  },
                },
                { ALT: () => this.CONSUME(L.Semi) },
                {
                  ALT: () => {
                    const prev = this.LA(0);
                    const t = this.OR2(FIELD_JUNK.map((tt) => ({ ALT: () => this.CONSUME(tt) })));
                    this.ACTION(() => this.junkToken(prev, t, `unexpected ${showToken(t)}, expected a field \`var TYPE name;\` or \`end\``));
                  },
                },
              ]);
            },
          });
        } finally {
          this.ACTION(() => this.endPartial());
        }
        this.ACTION(() => {
          if (fields.length === 0 && owner !== "packet" && this.own.length + this.errors.length === errorsBefore) this.ownError(this.LA(1), `a ${owner} needs at least one field \`var TYPE name;\``);
        });
        return fields;
      },
      { recoveryValueFunc: () => (this.lastPartial as A.FieldDecl[] | null) ?? [] },
    );

    /** var T name, name2;  var T[N] name;  var payload[N] name; */
    fieldDecl: ParserMethod<[string], A.FieldDecl | null> = this.RULE(
      "fieldDecl",
      (owner: string): A.FieldDecl | null => {
        const v = this.CONSUME(L.Var);
        const t = this.OR({
          DEF: [{ ALT: () => this.CONSUME(L.Payload) }, { ALT: () => this.CONSUME(L.BasicType) }],
          ERR_MSG: "expected the field's type: a basic type or `payload[N]`",
        });
        let dim = null as A.Expr | null;
        this.OPTION(() => {
          this.CONSUME(L.LBracket);
          dim = this.SUBRULE(this.expression);
          this.CONSUME(L.RBracket);
        });
        const first = this.CONSUME(L.Ident);
        const names: A.FieldDecl["names"] = [];
        this.ACTION(() => names.push({ name: this.declName(first, "fields"), loc: this.loc(first) }));
        this.MANY(() => {
          this.CONSUME(L.Comma);
          const n = this.CONSUME2(L.Ident);
          this.ACTION(() => names.push({ name: this.declName(n, "fields"), loc: this.loc(n) }));
        });
        this.CONSUME(L.Semi);
        return this.ACTION(() => {
          if (tokenMatcher(t, L.Payload)) {
            if (owner !== "packet") this.ownError(t, `\`payload\` fields are only allowed in a \`packet\`, not in a ${owner}`);
            else if (dim === null) this.ownError(t, "`payload` needs a size: `var payload[N] name;`");
          }
          return { type: { name: t.image || "?", ptr: 0, loc: this.loc(t) }, dim, names, loc: this.loc(v) };
        });
      },
      {
        recoveryValueFunc: () => {
          this.needPanic = true;
          return null;
        },
      },
    );

    // ------------------------------------------------------------ configuration

    /**
     * config name : X, code : a.b.c, { platform : bytes, ... } do decls end
     * The header is read as a list of items so that a malformed header costs
     * one diagnostic and the declarations are still read.
     */
    configBlock: ParserMethod<[], A.ConfigBlock> = this.RULE(
      "configBlock",
      (): A.ConfigBlock => {
        const c = this.CONSUME(L.Config);
        const frame = this.ACTION(() => this.pushFrame("config", c, [L.End]));
        try {
          let name = null as IToken | null;
          let version = null as [number, number, number] | null;
          let sizes = null as A.ConfigBlock["sizes"] | null;
          this.MANY(() => {
            this.OR([
              {
                ALT: () => {
                  this.CONSUME(L.KwName);
                  this.CONSUME(L.Colon);
                  const n = this.CONSUME(L.Ident);
                  this.ACTION(() => {
                    name = n;
                  });
                },
              },
              {
                ALT: () => {
                  this.CONSUME(L.KwCode);
                  this.CONSUME2(L.Colon);
                  const v: IToken[] = [this.CONSUME(L.NumberLit)];
                  this.MANY2(() => {
                    this.CONSUME(L.Dot);
                    const n = this.CONSUME2(L.NumberLit);
                    this.ACTION(() => v.push(n));
                  });
                  this.ACTION(() => {
                    version = this.version(v);
                  });
                },
              },
              {
                ALT: () => {
                  this.CONSUME(L.LBrace);
                  const list: A.ConfigBlock["sizes"] = [];
                  const p = this.CONSUME2(L.Ident);
                  this.CONSUME3(L.Colon);
                  const b = this.CONSUME3(L.NumberLit);
                  this.ACTION(() => list.push({ platform: this.name(p), bytes: this.intOf(b, "a script size"), loc: this.loc(p) }));
                  this.MANY3(() => {
                    this.CONSUME(L.Comma);
                    this.OPTION(() => {
                      const p2 = this.CONSUME3(L.Ident);
                      this.CONSUME4(L.Colon);
                      const b2 = this.CONSUME4(L.NumberLit);
                      this.ACTION(() => list.push({ platform: this.name(p2), bytes: this.intOf(b2, "a script size"), loc: this.loc(p2) }));
                    });
                  });
                  this.CONSUME(L.RBrace);
                  this.ACTION(() => {
                    sizes = list;
                  });
                },
              },
              { ALT: () => this.CONSUME2(L.Comma) },
              {
                ALT: () => {
                  const prev = this.LA(0);
                  const t = this.OR2(HEADER_JUNK.map((tt) => ({ ALT: () => this.consume(5, tt) })));
                  this.ACTION(() => this.junkToken(prev, t, `unexpected ${showToken(t)} in the configuration header`, HEADER_HINT));
                },
              },
            ]);
          });
          const d = this.CONSUME(L.Do);
          const decls = this.SUBRULE(this.configDecls);
          this.CONSUME(L.End);
          return this.ACTION(() => {
            if (name === null || version === null || sizes === null) {
              const missing = [name === null ? "`name : NAME`" : "", version === null ? "`code : N.N.N`" : "", sizes === null ? "`{ platform : bytes, ... }`" : ""].filter((x) => x !== "");
              this.ownError(d, `the configuration header lacks ${missing.join(", ")}`, HEADER_HINT);
            }
            return { name: name === null ? "" : this.name(name), version: version ?? [0, 0, 0], sizes: sizes ?? [], decls, loc: this.loc(c) };
          });
        } finally {
          this.ACTION(() => this.popFrame(frame));
        }
      },
      { recoveryValueFunc: (): A.ConfigBlock => ({ name: "", version: [0, 0, 0], sizes: [], decls: [], loc: this.fallbackLoc() }) },
    );

    /** `0.2.0` arrives as `0.2` `.` `0`: put the text back together and split it. */
    private version(v: IToken[]): [number, number, number] {
      const text = v.map((t) => t.image).join(".");
      const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(text);
      if (m) return [Number(m[1]), Number(m[2]), Number(m[3])];
      if (!v.some((t) => t.image === "")) this.ownError(v[0], `malformed version \`${text}\`: write \`code : N.N.N\`, e.g. \`code : 0.2.0\``);
      return [0, 0, 0];
    }

    configDecls: ParserMethod<[], A.ConfigDecl[]> = this.RULE(
      "configDecls",
      (): A.ConfigDecl[] => {
        const decls: A.ConfigDecl[] = [];
        const add = (d: A.ConfigDecl | null) => this.ACTION(() => (d ? decls.push(d) : 0));
        this.ACTION(() => this.startPartial(decls));
        try {
          this.MANY({
            GATE: () => {
              this.recoverIfNeeded("config");
              const t = this.LA(1);
              return !tokenMatcher(t, EOF) && !tokenMatcher(t, L.End);
            },
            DEF: () => {
              this.OR([
                { ALT: () => add(this.SUBRULE(this.inputDecl)) },
                { ALT: () => add(this.SUBRULE(this.outputDecl)) },
                { ALT: () => add(this.SUBRULE(this.functionDecl)) },
                { ALT: () => add(this.SUBRULE(this.unsafeDecl)) },
                { ALT: () => add(this.SUBRULE(this.regtypeDecl)) },
                { ALT: () => add(this.SUBRULE(this.packetDecl)) },
                { ALT: () => this.CONSUME(L.Semi) },
                {
                  ALT: () => {
                    const prev = this.LA(0);
                    const t = this.OR2(L.CONFIG_JUNK.map((tt) => ({ ALT: () => this.CONSUME(tt) })));
                    this.ACTION(() =>
                      this.junkToken(prev, t, `unexpected ${showToken(t)} in the configuration block`, "a configuration declares `input`, `output`, `function`, `unsafe`, `regtype` and `packet`; the program's statements come after its `end`"),
                    );
                  },
                },
              ]);
            },
          });
        } finally {
          this.ACTION(() => this.endPartial());
        }
        return decls;
      },
      { recoveryValueFunc: () => (this.lastPartial as A.ConfigDecl[] | null) ?? [] },
    );

    private mod(): "pure" | "nohold" | null {
      let mod = null as "pure" | "nohold" | null;
      this.OPTION9(() => {
        const m = this.OR9([{ ALT: () => this.CONSUME9(L.Pure) }, { ALT: () => this.CONSUME9(L.Nohold) }]);
        mod = this.ACTION(() => m.image as "pure" | "nohold");
      });
      return mod;
    }

    private voidType(t: IToken): A.TypeRef {
      return { name: "void", ptr: 0, loc: this.loc(t) };
    }

    /** input T NAME ubyte|void ID; */
    inputDecl: ParserMethod<[], A.InputDecl | null> = this.RULE(
      "inputDecl",
      (): A.InputDecl | null => {
        const t = this.CONSUME(L.Input);
        const type = this.OR<A.TypeRef>({
          DEF: [
            {
              ALT: () => {
                const v = this.CONSUME(L.Void);
                return this.ACTION(() => this.voidType(v));
              },
            },
            { ALT: () => this.SUBRULE(this.typeRef) },
        ],
        ERR_MSG: "expected the input's value type (`void`, a basic type or a record name)",
      });
      const n = this.CONSUME(L.Ident);
      const sel = this.OR2({
        DEF: [{ ALT: () => this.CONSUME(L.Ubyte) }, { ALT: () => this.CONSUME2(L.Void) }],
        ERR_MSG: "expected the selector type `ubyte` or `void` after the input's name",
      });
      const id = this.CONSUME(L.NumberLit);
      this.CONSUME(L.Semi);
      return this.ACTION(() => ({ kind: "input", type, name: this.extName(n, "an input"), selector: tokenMatcher(sel, L.Ubyte) ? "ubyte" : "void", id: this.intOf(id, "an input id"), loc: this.loc(t) }));
    },
    {
      recoveryValueFunc: () => {
        this.needPanic = true;
        return null;
      },
    },
  );

  /** output [pure|nohold] void NAME T|void ID; */
  outputDecl: ParserMethod<[], A.OutputDecl | null> = this.RULE(
    "outputDecl",
    (): A.OutputDecl | null => {
      const t = this.CONSUME(L.Output);
      const mod = this.mod();
      this.CONSUME(L.Void);
      const n = this.CONSUME(L.Ident);
      const argType = this.OR<A.TypeRef>({
        DEF: [
          {
            ALT: () => {
              const v = this.CONSUME2(L.Void);
              return this.ACTION(() => this.voidType(v));
            },
          },
          { ALT: () => this.SUBRULE(this.ptrType) },
        ],
        ERR_MSG: "expected the output's argument type (`void`, a basic type or a record name)",
      });
      const id = this.CONSUME(L.NumberLit);
      this.CONSUME(L.Semi);
      return this.ACTION(() => ({ kind: "output", mod, name: this.extName(n, "an output"), argType, id: this.intOf(id, "an output id"), loc: this.loc(t) }));
    },
    {
      recoveryValueFunc: () => {
        this.needPanic = true;
        return null;
      },
    },
  );

  /** function [pure|nohold] T name(T, T*, ...) ID; */
  functionDecl: ParserMethod<[], A.FunctionDecl | null> = this.RULE(
    "functionDecl",
    (): A.FunctionDecl | null => {
      const t = this.CONSUME(L.Function);
      const mod = this.mod();
      const r = this.CONSUME(L.BasicType);
      const n = this.CONSUME(L.Ident);
      this.CONSUME(L.LParen);
      const params: A.TypeRef[] = [];
      this.OPTION(() => {
        const p = this.SUBRULE(this.ptrType);
        this.ACTION(() => params.push(p));
        this.MANY(() => {
          this.CONSUME(L.Comma);
          const q = this.SUBRULE2(this.ptrType);
          this.ACTION(() => params.push(q));
        });
      });
      this.CONSUME(L.RParen);
      const id = this.CONSUME(L.NumberLit);
      this.CONSUME(L.Semi);
      return this.ACTION(() => ({
        kind: "function",
        mod,
        ret: { name: r.image || "?", ptr: 0, loc: this.loc(r) },
        name: this.declName(n, "functions"),
        params,
        id: this.intOf(id, "a function id"),
        loc: this.loc(t),
      }));
    },
    {
      recoveryValueFunc: () => {
        this.needPanic = true;
        return null;
      },
    },
  );

  /** unsafe A with B, C; */
  unsafeDecl: ParserMethod<[], A.UnsafeDecl | null> = this.RULE(
    "unsafeDecl",
    (): A.UnsafeDecl | null => {
      const t = this.CONSUME(L.Unsafe);
      const n = this.CONSUME(L.Ident);
      this.CONSUME(L.With);
      const w: A.UnsafeDecl["with"] = [];
      const first = this.CONSUME2(L.Ident);
      this.ACTION(() => w.push({ name: this.name(first), loc: this.loc(first) }));
      this.MANY(() => {
        this.CONSUME(L.Comma);
        const x = this.CONSUME3(L.Ident);
        this.ACTION(() => w.push({ name: this.name(x), loc: this.loc(x) }));
      });
      this.CONSUME(L.Semi);
      return this.ACTION(() => ({ kind: "unsafe", name: this.name(n), with: w, loc: this.loc(t) }));
    },
    {
      recoveryValueFunc: () => {
        this.needPanic = true;
        return null;
      },
    },
  );

  /** An external event name (all upper-case). */
  private extName(tok: IToken, what: string): string {
    const n = this.name(tok);
    if (n !== "" && !EXT_NAME.test(n)) this.ownError(tok, `${what} event name \`${n}\` must be all upper-case (A-Z, 0-9, _)`);
    return n;
  }

  // ------------------------------------------------------------ expressions

  /** A left-associative binary level: next (op next)*. */
  private level(name: string, next: () => ParserMethod<[], A.Expr>, ops: TokenType[]): ParserMethod<[], A.Expr> {
    return this.RULE(
      name,
      (): A.Expr => {
        let left = this.SUBRULE(next());
        this.MANY(() => {
          const op = ops.length === 1 ? this.CONSUME(ops[0]) : this.OR(ops.map((t) => ({ ALT: () => this.CONSUME(t) })));
          const right = this.SUBRULE2(next());
          left = this.ACTION(() => this.binary(op, left, right));
        });
        return left;
      },
      { recoveryValueFunc: () => this.errExpr() },
    );
  }

  expression: ParserMethod<[], A.Expr> = this.level("expression", () => this.andExpr, [L.Or, L.OrOr]);
  andExpr: ParserMethod<[], A.Expr> = this.level("andExpr", () => this.bitOrExpr, [L.And, L.AndAnd]);
  bitOrExpr: ParserMethod<[], A.Expr> = this.level("bitOrExpr", () => this.bitXorExpr, [L.Pipe]);
  bitXorExpr: ParserMethod<[], A.Expr> = this.level("bitXorExpr", () => this.bitAndExpr, [L.Caret]);
  bitAndExpr: ParserMethod<[], A.Expr> = this.level("bitAndExpr", () => this.eqExpr, [L.Amp]);
  eqExpr: ParserMethod<[], A.Expr> = this.level("eqExpr", () => this.relExpr, [L.EqOp]);
  relExpr: ParserMethod<[], A.Expr> = this.level("relExpr", () => this.shiftExpr, [L.RelOp]);
  shiftExpr: ParserMethod<[], A.Expr> = this.level("shiftExpr", () => this.addExpr, [L.ShiftOp]);
  addExpr: ParserMethod<[], A.Expr> = this.level("addExpr", () => this.mulExpr, [L.AddOp]);
  mulExpr: ParserMethod<[], A.Expr> = this.level("mulExpr", () => this.unary, [L.MulOp]);

  /** not e, -e, ~e, &e, <type>e, or a postfix expression */
  unary: ParserMethod<[], A.Expr> = this.RULE(
    "unary",
    (): A.Expr => {
      const un = (t: IToken, op: A.UnaryOp, operand: A.Expr): A.Expr => this.ACTION(() => ({ kind: "unary", op, operand, loc: this.loc(t) }));
      return this.OR<A.Expr>({
        ERR_MSG: "expected an expression",
        DEF: [
          {
            ALT: () => {
              const t = this.CONSUME(L.Not);
              return un(t, "not", this.SUBRULE(this.unary));
            },
          },
          {
            ALT: () => {
              const t = this.CONSUME(L.Minus);
              return un(t, "-", this.SUBRULE2(this.unary));
            },
          },
          {
            ALT: () => {
              const t = this.CONSUME(L.Tilde);
              return un(t, "~", this.SUBRULE3(this.unary));
            },
          },
          {
            ALT: () => {
              const t = this.CONSUME(L.Amp);
              return un(t, "&", this.SUBRULE4(this.unary));
            },
          },
          {
            ALT: () => {
              const t = this.CONSUME(L.Bang);
              this.ACTION(() => this.ownError(t, "`!` is not a Céu-T operator: write `not`"));
              return un(t, "not", this.SUBRULE5(this.unary));
            },
          },
          {
            ALT: () => {
              const lt = this.CONSUME(L.Lt);
              const ty = this.CONSUME(L.BasicType);
              this.CONSUME(L.Gt);
              const operand = this.SUBRULE6(this.unary);
              return this.ACTION(() => ({ kind: "cast", type: (ty.image || "ulong") as A.BasicTypeName, operand, loc: this.loc(lt) }));
            },
          },
          { ALT: () => this.SUBRULE(this.postfixExpr) },
        ],
      });
    },
    { recoveryValueFunc: () => this.errExpr() },
  );

  /** primary ([i] | .field)* */
  postfixExpr: ParserMethod<[], A.Expr> = this.RULE(
    "postfixExpr",
    (): A.Expr => {
      const first = this.LA(1);
      let e = this.SUBRULE(this.primary);
      this.MANY(() => {
        this.OR([
          {
            ALT: () => {
              this.CONSUME(L.LBracket);
              const index = this.SUBRULE(this.expression);
              this.CONSUME(L.RBracket);
              e = this.ACTION(() => ({ kind: "index", array: e, index, loc: this.loc(first) }));
            },
          },
          {
            ALT: () => {
              this.CONSUME(L.Dot);
              const f = this.CONSUME(L.Word);
              e = this.ACTION(() => ({ kind: "field", record: e, field: this.name(f), loc: this.loc(first), fieldLoc: this.loc(f) }));
            },
          },
        ]);
      });
      return e;
    },
    { recoveryValueFunc: () => this.errExpr() },
  );

  /** f(a, b) */
  callExpr: ParserMethod<[], A.CallExpr> = this.RULE("callExpr", (): A.CallExpr => {
    const n = this.CONSUME(L.Ident);
    this.CONSUME(L.LParen);
    const args: A.Expr[] = [];
    this.OPTION(() => {
      const a = this.SUBRULE(this.expression);
      this.ACTION(() => args.push(a));
      this.MANY(() => {
        this.CONSUME(L.Comma);
        const b = this.SUBRULE2(this.expression);
        this.ACTION(() => args.push(b));
      });
    });
    this.CONSUME(L.RParen);
    return this.ACTION(() => ({ kind: "call", name: this.name(n), args, loc: this.loc(n) }));
  }, { recoveryValueFunc: (): A.CallExpr => ({ kind: "call", name: "", args: [], loc: this.fallbackLoc() }) });

  primary: ParserMethod<[], A.Expr> = this.RULE(
    "primary",
    (): A.Expr =>
      this.OR<A.Expr>({
        DEF: [
          {
            ALT: () => {
              const n = this.CONSUME(L.NumberLit);
              return this.ACTION(() => this.numExpr(n));
            },
          },
          { ALT: () => this.SUBRULE(this.callExpr) },
          {
            ALT: () => {
              const n = this.CONSUME(L.Ident);
              return this.ACTION(() => ({ kind: "var", name: this.name(n), loc: this.loc(n) }));
            },
          },
          {
            ALT: () => {
              this.CONSUME(L.LParen);
              const e = this.SUBRULE(this.expression);
              this.CONSUME(L.RParen);
              return e;
            },
          },
          {
            ALT: () => {
              const t = this.CONSUME(L.Null);
              return this.ACTION(() => ({ kind: "null", loc: this.loc(t) }));
            },
          },
          {
            ALT: () => {
              const t = this.CONSUME(L.Sizeof);
              this.CONSUME(L.Lt);
              const type = this.SUBRULE(this.typeRef);
              this.CONSUME(L.Gt);
              return this.ACTION(() => ({ kind: "sizeof", type, loc: this.loc(t) }));
            },
          },
        ],
        ERR_MSG: "expected an expression",
      }),
    { recoveryValueFunc: () => this.errExpr() },
  );
}

/** A hint for some common mistakes, from the message and the offending token. */
function hintFor(message: string, tok: IToken | undefined): string | undefined {
  if (!tok) return undefined;
  if (message.startsWith("expected `then`") && tok.image === "=") return "use `==` to compare values";
  if (message.startsWith("expected a time unit")) return "write the unit right after the number, e.g. `await 500ms` or `await (x)s`";
  if (message.startsWith("expected `end` to close") && tokenMatcher(tok, EOF)) return "every `do`, `loop`, `if`, `par`, `async`, `regtype` and `pktype` ends with `end`";
  return undefined;
}

let instance: TerraParser | undefined;

/**
 * Lex and parse preprocessed text into a Program. `src` maps offsets of
 * `text` to original locations; `mainFile` names the program's file (for the
 * Program's location). Syntax errors are reported to `diags` with code
 * `syntax`; the Program is always returned (statements that could not be
 * parsed are left out). Never throws for any input text.
 */
export function parseTerra(text: string, src: SourceLocator, mainFile: string, diags: Diagnostics): A.Program {
  const lx = L.lex(text);
  const p = (instance ??= new TerraParser());
  p.begin(lx.tokens, src, mainFile);
  let program: A.Program;
  try {
    program = p.program();
  } catch (e) {
    if (!(e instanceof RangeError)) throw e; // a bug, not the user's input
    program = p.nestedTooDeeply();
  }
  p.report(diags, lx.errors, text);
  return program;
}
