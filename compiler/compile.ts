/**
 * The compiler pipeline: preprocess and parse (frontend.ts) -> resolve and
 * type (sema.ts) -> static checks (checks.ts) -> memory layout (layout.ts)
 * -> code generation (codegen.ts) -> peephole (peephole.ts) -> assembly
 * (asm.ts) -> capsule (vm/capsule.ts), with the compile report: sizes, fit
 * per platform and the bound on VM instructions per reaction (bound.ts).
 */
import { type Capsule, CapsuleFlags, blockCount, DEFAULT_BLOCK_BYTES, encodeCapsule, HEADER_BYTES, NO_EVENT_ID, type Sha256 } from "../vm/capsule";
import { assemble, type Ins } from "./asm";
import { reactionBound } from "./bound";
import { check } from "./checks";
import type { Configuration } from "./config";
import { type Diagnostic, Diagnostics } from "./diagnostics";
import { generate } from "./codegen";
import { type FrontendOptions, parseProgram } from "./frontend";
import { layout } from "./layout";
import { optimize } from "./peephole";
import { analyze } from "./sema";
import { stackDepth, trackDepth } from "./stack";

export interface CompileOptions extends FrontendOptions {
  /** Program version written into the capsule (monotonically increasing per network). Default 1. */
  programVersion?: number;
  /** Bytes per radio block. Default 64. */
  blockBytes?: number;
  sha256: Sha256;
}

/** Per-platform fit against the configuration's script space. */
export interface PlatformFit {
  platform: string;
  script_space: number;
  needs: number;
  fits: boolean;
}

/** What `terra compile --json` reports (units: bytes, blocks, VM instructions). */
export interface CompileReport {
  config: string;
  /** Code section plus gate tables: the program's bytes that travel besides the header. */
  code_bytes: number;
  /** The instructions alone. */
  instruction_bytes: number;
  /** Variables plus control slots. */
  data_bytes: number;
  /** Eval stack plus track stack. */
  stack_bytes: number;
  capsule_bytes: number;
  blocks: number;
  block_bytes: number;
  /** null when some reaction has no static bound (a loop that can run without awaiting, see the warning). */
  max_instructions_per_reaction: number | null;
  /** Bound per reaction kind: boot, each input event, timers, asyncs. */
  reaction_bounds: Record<string, number | null>;
  platforms: PlatformFit[];
}

export interface CompileResult {
  diagnostics: Diagnostic[];
  sources: Map<string, string>;
  ok: boolean;
  capsule?: Uint8Array;
  /** The decoded structure of the capsule (for listings and tools). */
  structure?: Omit<Capsule, "bodyHash" | "formatVersion">;
  report?: CompileReport;
  /** Final instructions with pcs and source locations (listings). */
  instructions?: Ins[];
  config?: Configuration;
}

export function compile(file: string, text: string, opts: CompileOptions): CompileResult {
  const diags = new Diagnostics();
  const fe = parseProgram(file, text, opts, diags);
  const fail = (): CompileResult => ({ diagnostics: diags.sorted(), sources: fe.sources, ok: false });
  if (diags.hasErrors()) return fail(); // syntax errors: the AST has placeholders, checking it would only cascade
  const sem = analyze(fe.program, diags);
  if (!sem) return fail();
  if (diags.hasErrors()) return { ...fail(), config: sem.config };
  check(sem.ir, sem.config, diags);
  if (diags.hasErrors()) return { ...fail(), config: sem.config };
  const lay = layout(sem.ir, diags, fe.program.loc);
  if (!lay) return fail();

  const gen = generate(sem.ir, lay);
  const items = optimize(gen.items);
  let asm;
  try {
    asm = assemble(items);
  } catch (e) {
    diags.error("limit", fe.program.loc, `the program does not fit the VM: ${(e as Error).message}`);
    return fail();
  }
  const structure: Omit<Capsule, "bodyHash" | "formatVersion"> = {
    flags: sem.ir.usesFloat ? CapsuleFlags.Float : 0,
    programVersion: opts.programVersion ?? 1,
    configId: sem.config.id,
    varBytes: lay.varBytes,
    slots: lay.slots,
    stackCells: 0,
    trackDepth: 0,
    blockBytes: opts.blockBytes ?? DEFAULT_BLOCK_BYTES,
    entry: 0,
    inputs: lay.inputs.map((x) => ({ filteredId: x.ev.filteredId ?? NO_EVENT_ID, anyId: x.ev.anyId ?? NO_EVENT_ID, gates: x.gates })),
    timers: lay.timers,
    internals: lay.internals.map((x) => x.gates),
    asyncs: lay.asyncs,
    code: asm.code,
  };
  structure.stackCells = stackDepth(asm.ins);
  structure.trackDepth = trackDepth(asm.ins, structure, lay.slots - lay.finBase);
  if (structure.stackCells > 255 || structure.trackDepth > 255) {
    diags.error("limit", fe.program.loc, "the program's expressions or parallel trails exceed the VM's stack limits (255 cells / 255 tracks)");
    return fail();
  }
  const capsule = encodeCapsule(structure, opts.sha256);
  const bounds = reactionBound(structure, asm.ins, gen.loops, gen.pars, { inputs: lay.inputs.map((x) => x.ev.name) });
  const codeBytes = capsule.length - HEADER_BYTES;
  const dataBytes = lay.varBytes + 2 * lay.slots;
  const stackBytes = 4 * structure.stackCells + 2 * structure.trackDepth;
  const needs = codeBytes + dataBytes + stackBytes;
  const report: CompileReport = {
    config: sem.config.name,
    code_bytes: codeBytes,
    instruction_bytes: asm.code.length,
    data_bytes: dataBytes,
    stack_bytes: stackBytes,
    capsule_bytes: capsule.length,
    blocks: blockCount(capsule.length, structure.blockBytes),
    block_bytes: structure.blockBytes,
    max_instructions_per_reaction: bounds.max,
    reaction_bounds: bounds.byReaction,
    platforms: [...sem.config.sizes].map(([platform, space]) => ({ platform, script_space: space, needs, fits: needs <= space })),
  };
  return { diagnostics: diags.sorted(), sources: fe.sources, ok: true, capsule, structure, report, instructions: asm.ins, config: sem.config };
}
