/**
 * Tokens of Céu-T (terrac's lexical rules) for the Chevrotain lexer and parser.
 *
 * - White space includes `@`; comments are already gone (preprocessor).
 * - Names: `[A-Za-z_][A-Za-z0-9_?]*`, all in the category `Ident`. A few
 *   words are keywords only where the grammar expects them (`packet`, `from`,
 *   `name`, `code`, and the time units `h min s ms`): they are separate
 *   token types in the category `Ident`, so they still work as names.
 * - `par/or`, `par/and`, `else/if` are single keywords.
 * - Numbers: decimal, `0x` hex, float (`1.5`, `1.`, `1e3`, `1.0e-3`) and
 *   character literals (`'a'`). A version such as `00.02.00` lexes as
 *   `00.02` `.` `00`; the parser puts it back together.
 * - A time unit written right after digits (`10ms`, `1h30min`) is a unit even
 *   when digits follow it.
 *
 * Categories used by the parser's error recovery: `Closer` (end, with, else,
 * else/if, finally), `BODY_JUNK`/`CONFIG_JUNK` (concrete token types that
 * cannot start a statement / a configuration declaration).
 */
import { createToken, Lexer, type IToken, type ILexingError, type TokenType } from "chevrotain";

// ---------------------------------------------------------------- categories

/** Any name (identifiers and contextual keywords). */
export const Ident = createToken({ name: "Ident", pattern: Lexer.NA });
/** ubyte ushort ulong byte short long float */
export const BasicType = createToken({ name: "BasicType", pattern: Lexer.NA });
/** Any word that can follow `.` (names and keywords without `/`). */
export const Word = createToken({ name: "Word", pattern: Lexer.NA });
export const EqOp = createToken({ name: "EqOp", pattern: Lexer.NA });
export const RelOp = createToken({ name: "RelOp", pattern: Lexer.NA });
export const ShiftOp = createToken({ name: "ShiftOp", pattern: Lexer.NA });
export const AddOp = createToken({ name: "AddOp", pattern: Lexer.NA });
export const MulOp = createToken({ name: "MulOp", pattern: Lexer.NA });

/** How a token is shown in messages. */
const DISPLAY = new Map<TokenType, string>();

/** Message text for a token type: "`end`", "a name", "a number". */
export function showType(t: TokenType): string {
  return DISPLAY.get(t) ?? t.name;
}

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\f\v@]+/, group: Lexer.SKIPPED, line_breaks: true });

export const PlainIdent = createToken({ name: "PlainIdent", pattern: /[A-Za-z_][A-Za-z0-9_?]*/, categories: [Ident, Word] });

const KEYWORDS: TokenType[] = [];

function keyword(word: string, categories: TokenType[] = []): TokenType {
  const name = word === "FOREVER" ? "Forever" : word[0].toUpperCase() + word.slice(1);
  const t = createToken({ name, pattern: new RegExp(word), longer_alt: PlainIdent, categories: [Word, ...categories] });
  DISPLAY.set(t, "`" + word + "`");
  KEYWORDS.push(t);
  return t;
}

function slashKeyword(name: string, word: string): TokenType {
  const t = createToken({ name, pattern: new RegExp(word.replace("/", "\\/") + "(?![A-Za-z0-9_?])") });
  DISPLAY.set(t, "`" + word + "`");
  return t;
}

// keywords containing '/' come first (they start like `par` and `else`)
export const ParOr = slashKeyword("ParOr", "par/or");
export const ParAnd = slashKeyword("ParAnd", "par/and");
export const ElseIf = slashKeyword("ElseIf", "else/if");

export const And = keyword("and");
export const Async = keyword("async");
export const Await = keyword("await");
export const Break = keyword("break");
export const Safe = keyword("safe");
export const Unsafe = keyword("unsafe");
export const Do = keyword("do");
export const Else = keyword("else");
export const Emit = keyword("emit");
export const End = keyword("end");
export const Event = keyword("event");
export const Finally = keyword("finally");
export const Forever = keyword("FOREVER");
export const If = keyword("if");
export const Input = keyword("input");
export const Loop = keyword("loop");
export const Nohold = keyword("nohold");
export const Not = keyword("not");
export const Null = keyword("null");
export const Or = keyword("or");
export const Output = keyword("output");
export const Par = keyword("par");
export const Pure = keyword("pure");
export const Return = keyword("return");
export const Sizeof = keyword("sizeof");
export const Then = keyword("then");
export const Var = keyword("var");
export const With = keyword("with");
export const Function = keyword("function");
export const Config = keyword("config");
export const Regtype = keyword("regtype");
export const Inc = keyword("inc");
export const Dec = keyword("dec");
export const Pktype = keyword("pktype");
export const Payload = keyword("payload");
export const Void = keyword("void");
export const Ubyte = keyword("ubyte", [BasicType]);
export const Ushort = keyword("ushort", [BasicType]);
export const Ulong = keyword("ulong", [BasicType]);
export const Byte = keyword("byte", [BasicType]);
export const Short = keyword("short", [BasicType]);
export const Long = keyword("long", [BasicType]);
export const Float = keyword("float", [BasicType]);

/** Words that are keywords only where the grammar expects them. */
function contextual(name: string, word: string): TokenType {
  const t = createToken({ name, pattern: new RegExp(word), longer_alt: PlainIdent, categories: [Ident, Word] });
  DISPLAY.set(t, "`" + word + "`");
  return t;
}
export const KwPacket = contextual("KwPacket", "packet");
export const KwFrom = contextual("KwFrom", "from");
export const KwName = contextual("KwName", "name");
export const KwCode = contextual("KwCode", "code");

const isDigit = (c: number) => c >= 48 && c <= 57;
const isNameChar = (c: number) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 63;

/** A time unit: a whole word, or right after digits (then digits may follow: `1h30min`). */
function unit(name: string, word: string): TokenType {
  const re = new RegExp(word, "y");
  const t = createToken({
    name,
    pattern: {
      exec(text: string, offset: number): RegExpExecArray | null {
        re.lastIndex = offset;
        const m = re.exec(text);
        if (m === null) return null;
        const next = text.charCodeAt(offset + word.length);
        if (!isNameChar(next)) return m;
        return offset > 0 && isDigit(text.charCodeAt(offset - 1)) && isDigit(next) ? m : null;
      },
    },
    line_breaks: false,
    start_chars_hint: [word[0]],
    categories: [Ident, Word],
  });
  DISPLAY.set(t, "`" + word + "`");
  return t;
}
export const UnitMin = unit("UnitMin", "min");
export const UnitMs = unit("UnitMs", "ms");
export const UnitH = unit("UnitH", "h");
export const UnitS = unit("UnitS", "s");

export const NumberLit = createToken({ name: "Number", pattern: /0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|'[^'\n]'/ });

function punct(name: string, text: string, categories: TokenType[] = []): TokenType {
  const t = createToken({ name, pattern: new RegExp(text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")), categories });
  DISPLAY.set(t, "`" + text + "`");
  return t;
}
export const ColonEq = punct("ColonEq", ":=");
export const EqEq = punct("EqEq", "==", [EqOp]);
export const NotEq = punct("NotEq", "!=", [EqOp]);
export const LtEq = punct("LtEq", "<=", [RelOp]);
export const GtEq = punct("GtEq", ">=", [RelOp]);
export const Shl = punct("Shl", "<<", [ShiftOp]);
export const Shr = punct("Shr", ">>", [ShiftOp]);
export const AndAnd = punct("AndAnd", "&&");
export const OrOr = punct("OrOr", "||");
export const Lt = punct("Lt", "<", [RelOp]);
export const Gt = punct("Gt", ">", [RelOp]);
export const Assign = punct("Assign", "=");
export const Plus = punct("Plus", "+", [AddOp]);
export const Minus = punct("Minus", "-", [AddOp]);
export const Star = punct("Star", "*", [MulOp]);
export const Slash = punct("Slash", "/", [MulOp]);
export const Percent = punct("Percent", "%", [MulOp]);
export const Amp = punct("Amp", "&");
export const Pipe = punct("Pipe", "|");
export const Caret = punct("Caret", "^");
export const Tilde = punct("Tilde", "~");
export const Bang = punct("Bang", "!");
export const LParen = punct("LParen", "(");
export const RParen = punct("RParen", ")");
export const LBracket = punct("LBracket", "[");
export const RBracket = punct("RBracket", "]");
export const LBrace = punct("LBrace", "{");
export const RBrace = punct("RBrace", "}");
export const Comma = punct("Comma", ",");
export const Semi = punct("Semi", ";");
export const Colon = punct("Colon", ":");
export const Dot = punct("Dot", ".");

DISPLAY.set(Ident, "a name");
DISPLAY.set(PlainIdent, "a name");
DISPLAY.set(NumberLit, "a number");
DISPLAY.set(Word, "a field name");
DISPLAY.set(BasicType, "a basic type (`ubyte`, `ushort`, `ulong`, `byte`, `short`, `long` or `float`)");

const CONTEXTUAL = [KwPacket, KwFrom, KwName, KwCode, UnitMin, UnitMs, UnitH, UnitS];
const PUNCT = [ColonEq, EqEq, NotEq, LtEq, GtEq, Shl, Shr, AndAnd, OrOr, Lt, Gt, Assign, Plus, Minus, Star, Slash, Percent, Amp, Pipe, Caret, Tilde, Bang, LParen, RParen, LBracket, RBracket, LBrace, RBrace, Comma, Semi, Colon, Dot];

/** Every token type, in lexing order (categories last). */
export const ALL_TOKENS: TokenType[] = [
  WhiteSpace,
  ParOr,
  ParAnd,
  ElseIf,
  ...KEYWORDS,
  ...CONTEXTUAL,
  PlainIdent,
  NumberLit,
  ...PUNCT,
  Ident,
  BasicType,
  Word,
  EqOp,
  RelOp,
  ShiftOp,
  AddOp,
  MulOp,
];

/** Concrete types of the names (all in the category Ident). */
export const NAME_TOKENS: TokenType[] = [PlainIdent, ...CONTEXTUAL];

/** Keywords that start a statement (names and `(` start assignments and calls). */
export const STMT_KEYWORDS: TokenType[] = [Var, Event, Regtype, Pktype, Await, Emit, Inc, Dec, If, Loop, Break, Return, Do, Async, Par, ParOr, ParAnd];

/** Tokens that end a block. */
export const CLOSERS: TokenType[] = [End, With, Else, ElseIf, Finally];

/** Keywords that start a configuration declaration (with `packet`). */
export const CONFIG_KEYWORDS: TokenType[] = [Input, Output, Function, Unsafe, Regtype];

const concrete = ALL_TOKENS.filter((t) => t !== WhiteSpace && t.PATTERN !== Lexer.NA);

/** Concrete token types that can neither start a statement nor end a block (nor are `;` or `config`). */
export const BODY_JUNK: TokenType[] = concrete.filter((t) => !NAME_TOKENS.includes(t) && !STMT_KEYWORDS.includes(t) && !CLOSERS.includes(t) && t !== LParen && t !== Semi && t !== Config);

/** Concrete token types that cannot start a configuration declaration (nor are `;` or `end`). */
export const CONFIG_JUNK: TokenType[] = concrete.filter((t) => !CONFIG_KEYWORDS.includes(t) && t !== KwPacket && t !== Semi && t !== End);

let lexer: Lexer | undefined;

export interface LexResult {
  tokens: IToken[];
  errors: ILexingError[];
}

/** Split preprocessed text into tokens. Unknown characters are skipped and listed in `errors` (offset, length). */
export function lex(text: string): LexResult {
  lexer ??= new Lexer(ALL_TOKENS, { positionTracking: "full", ensureOptimizations: false });
  const r = lexer.tokenize(text);
  return { tokens: r.tokens, errors: r.errors };
}
