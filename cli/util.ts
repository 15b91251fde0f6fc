/**
 * Shared helpers of the `terra` commands: file access with clear errors,
 * the bundled .defs directory, compiling a script and printing diagnostics.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pc from "picocolors";
import { compile, type CompileResult } from "../compiler/compile";
import { type Diagnostic, formatDiagnostic } from "../compiler/diagnostics";
import { CAPSULE_MAGIC } from "../vm/capsule";

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {}
/** Bad input: a script with errors, a rejected capsule, a malformed trace (exit code 1). */
export class InputError extends Error {}

export const sha256 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(data).digest());

/** components/defs, found from this module (cli/ when run from source, dist/ when bundled). */
export function builtinDefsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const c of [resolve(here, "../components/defs"), resolve(here, "../../components/defs")]) {
    if (existsSync(c)) return c;
  }
  return resolve(here, "../components/defs");
}

/** Whether a file's bytes are a capsule ("TC", vm/capsule.ts) rather than a script. */
export function isCapsuleFile(bytes: Uint8Array): boolean {
  return bytes[0] === CAPSULE_MAGIC[0] && bytes[1] === CAPSULE_MAGIC[1];
}

/** The bundled configurations: the .defs files of components/defs, by name. */
export function bundledDefs(): string[] {
  return readdirSync(builtinDefsDir()).filter((f) => f.endsWith(".defs")).sort();
}

export function readText(path: string, what: string): string {
  if (!existsSync(path)) throw new InputError(`${what} ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new InputError(`${what} ${path}: is a directory`);
  return readFileSync(path, "utf8");
}

export function readBytes(path: string, what: string): Uint8Array {
  if (!existsSync(path)) throw new InputError(`${what} ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new InputError(`${what} ${path}: is a directory`);
  return new Uint8Array(readFileSync(path));
}

export function writeBytes(path: string, data: Uint8Array | string): void {
  try {
    writeFileSync(path, data);
  } catch (e) {
    throw new InputError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export interface ScriptOptions {
  include?: string[];
  programVersion?: number;
}

/** Compile a script file with the bundled configurations on the include path. */
export function compileFile(file: string, opts: ScriptOptions): CompileResult {
  const text = readText(file, "script");
  if (/[\x00-\x08\x0e-\x1f]/.test(text)) {
    throw new InputError(`script ${file}: a binary file, not a Céu-T script${text.startsWith("TC") ? " (a capsule: terra run and terra disasm take capsules)" : ""}`);
  }
  return compile(file, text, {
    includeDirs: (opts.include ?? []).map((d) => resolve(d)),
    builtinDir: builtinDefsDir(),
    readFile: (p) => {
      try {
        return statSync(p).isFile() ? readFileSync(p, "utf8") : undefined;
      } catch {
        return undefined;
      }
    },
    programVersion: opts.programVersion,
    sha256,
  });
}

/** Print diagnostics to stderr with carets (colored on a terminal). */
export function printDiagnostics(diags: Diagnostic[], sources: Map<string, string>): void {
  const color = process.stderr.isTTY ? pc : undefined;
  for (const d of diags) process.stderr.write(`${formatDiagnostic(d, (f) => sources.get(f), color)}\n`);
  const errors = diags.filter((d) => d.severity === "error").length;
  const warnings = diags.length - errors;
  if (diags.length) process.stderr.write(`${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}\n`);
}

/** Parse a non-negative integer option. @throws UsageError */
export function intOption(value: string, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) > max) throw new UsageError(`${name} must be an integer 0..${max}, got "${value}"`);
  return Number(value);
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
