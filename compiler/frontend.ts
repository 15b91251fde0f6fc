/**
 * The compiler's front end: preprocess, lex and parse one script (with the
 * configuration file it #includes) into a Program.
 */
import type { Program } from "./ast";
import type { Diagnostics } from "./diagnostics";
import { parseTerra } from "./parser";
import { preprocess } from "./preprocess";

export interface FrontendOptions {
  /** -I paths, searched after the including file's directory. */
  includeDirs: string[];
  /** Searched last; holds the bundled .defs (components/defs). */
  builtinDir: string;
  /** Injected file access: a file's text, or undefined when it does not exist. */
  readFile(path: string): string | undefined;
  /** Object-like macros defined before the script (`-D NAME=body`). */
  defines?: Record<string, string>;
}

export interface FrontendResult {
  /** Always returned, even with errors (statements that could not be parsed are left out). */
  program: Program;
  /** File path -> text of every file read (for diagnostics with carets). */
  sources: Map<string, string>;
}

/**
 * Parse the script `text` read from `file`. Reports `preprocess` and `syntax`
 * diagnostics to `diags` and keeps going after errors; never throws for user
 * input. Every Loc names `file` as given for the main file and the resolved
 * path for included files.
 */
export function parseProgram(file: string, text: string, opts: FrontendOptions, diags: Diagnostics): FrontendResult {
  const pp = preprocess(file, text, opts, diags);
  const program = parseTerra(pp.text, pp.map, file, diags);
  return { program, sources: pp.sources };
}
