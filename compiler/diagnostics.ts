/**
 * Compiler diagnostics: one shape for every phase (preprocessor, parser,
 * checks, code generation), printed as `file:line:col: error[code]: message`
 * with the source line and a caret, or as JSON for tools.
 */

/** A position in an original source file (1-based line and column). */
export interface Loc {
  file: string;
  line: number;
  col: number;
}

export type Severity = "error" | "warning";

/**
 * Diagnostic codes. Errors: syntax (lexer/parser), preprocess (#include, #define, #if),
 * undeclared, redeclared, type, tight-loop, concurrent-access, par-termination,
 * break-outside-loop, return-outside-block, const (constant expressions, array bounds),
 * config (.defs content), limit (program exceeds a VM limit), unsupported (a construct
 * Terra-TS does not implement). Warnings: narrowing, unused-event, shadow, unreachable.
 */
export type DiagCode =
  | "syntax"
  | "preprocess"
  | "undeclared"
  | "redeclared"
  | "type"
  | "tight-loop"
  | "concurrent-access"
  | "par-termination"
  | "break-outside-loop"
  | "return-outside-block"
  | "const"
  | "config"
  | "limit"
  | "unsupported"
  | "async"
  | "narrowing"
  | "unused-event"
  | "shadow"
  | "unreachable";

export interface Diagnostic {
  severity: Severity;
  code: DiagCode;
  file: string;
  line: number;
  column: number;
  message: string;
  /** How to fix it, when there is something useful to say. */
  hint?: string;
}

/** Collects diagnostics of a compilation; phases keep going after errors where they can. */
export class Diagnostics {
  readonly list: Diagnostic[] = [];

  error(code: DiagCode, loc: Loc, message: string, hint?: string): void {
    this.add("error", code, loc, message, hint);
  }

  warning(code: DiagCode, loc: Loc, message: string, hint?: string): void {
    this.add("warning", code, loc, message, hint);
  }

  private add(severity: Severity, code: DiagCode, loc: Loc, message: string, hint?: string): void {
    const d: Diagnostic = { severity, code, file: loc.file, line: loc.line, column: loc.col, message };
    if (hint) d.hint = hint;
    // The same diagnostic reached twice (e.g. through a macro used twice) is reported once.
    if (this.list.some((x) => x.code === d.code && x.file === d.file && x.line === d.line && x.column === d.column && x.message === d.message)) return;
    this.list.push(d);
  }

  get errorCount(): number {
    return this.list.filter((d) => d.severity === "error").length;
  }

  hasErrors(): boolean {
    return this.errorCount > 0;
  }

  /** Diagnostics in file, line, column order (stable for equal positions). */
  sorted(): Diagnostic[] {
    return [...this.list].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  }
}

/**
 * Render a diagnostic for a terminal: the location line, the source line and a caret.
 * `source(file)` returns a file's text when it is known.
 */
export function formatDiagnostic(d: Diagnostic, source: (file: string) => string | undefined, color?: { red(s: string): string; yellow(s: string): string; bold(s: string): string; cyan(s: string): string }): string {
  const c = color ?? { red: (s: string) => s, yellow: (s: string) => s, bold: (s: string) => s, cyan: (s: string) => s };
  const sev = d.severity === "error" ? c.red(`error[${d.code}]`) : c.yellow(`warning[${d.code}]`);
  const lines = [`${c.bold(`${d.file}:${d.line}:${d.column}`)}: ${sev}: ${d.message}`];
  const text = source(d.file);
  if (text !== undefined) {
    const srcLine = text.split(/\r?\n/)[d.line - 1];
    if (srcLine !== undefined) {
      const gutter = String(d.line).length;
      lines.push(`${" ".repeat(gutter)} |`);
      lines.push(`${d.line} | ${srcLine.replace(/\t/g, " ")}`);
      lines.push(`${" ".repeat(gutter)} | ${" ".repeat(Math.max(0, d.column - 1))}${c.red("^")}`);
    }
  }
  if (d.hint) lines.push(`  ${c.cyan("hint")}: ${d.hint}`);
  return lines.join("\n");
}
