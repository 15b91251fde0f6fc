/**
 * `terra check`, `terra compile`, `terra run`, `terra disasm`.
 */
import { basename, extname } from "node:path";
import type { Command } from "commander";
import { listing } from "../compiler/listing";
import type { CompileResult } from "../compiler/compile";
import type { OutputRecord } from "../components/host";
import { runMote, runMoteRealtime, type RunResult } from "../components/run";
import { parseTrace, TraceError } from "../components/trace";
import { CapsuleError } from "../vm/capsule";
import type { Configuration } from "../compiler/config";
import { StallError } from "../vm/driver";
import { disassembleCapsule } from "../vm/disasm";
import { loadCapsule, type VerifiedCapsule, VerifyError } from "../vm/verify";
import { builtinConfig } from "../firmware-host/config-json";
import { imageFits } from "../firmware-host/image";
import { runMoteC } from "./cvm";
import { MOTE_SIMULATORS, MOTE_VMS, runMoteSim } from "./motesim";
import { builtinDefsDir, bundledDefs, collect, compileFile, InputError, intOption, isCapsuleFile, printDiagnostics, readBytes, readText, sha256, UsageError, writeBytes } from "./util";

interface Common {
  include: string[];
  json?: boolean;
}

/** Compile and report diagnostics; exits with 1 when there are errors. */
function compiled(file: string, opts: Common & { programVersion?: string }): CompileResult {
  const r = compileFile(file, { include: opts.include, programVersion: opts.programVersion === undefined ? undefined : intOption(opts.programVersion, "--program-version", 0xffffffff) });
  if (!opts.json) printDiagnostics(r.diagnostics, r.sources);
  return r;
}

function fail(r: CompileResult, json?: boolean): never {
  if (json) process.stdout.write(`${JSON.stringify({ diagnostics: r.diagnostics }, null, 2)}\n`);
  process.exitCode = 1;
  throw new Silent();
}

/** Already reported: exit quietly with the exit code set. */
class Silent extends Error {}

/** What `terra run` runs: a capsule (its bytes and verified), its configuration, and the compiler's reaction bound (unknown for a capsule file). */
interface Runnable {
  capsule: Uint8Array;
  verified: VerifiedCapsule;
  config: Configuration;
  bound?: number | null;
}

/**
 * A capsule file for `terra run`: verified, with the bundled configuration (components/defs) whose id
 * its header names (capsule byte 8).
 * @throws InputError for a rejected capsule or a configuration that is not bundled.
 */
function capsuleRunnable(file: string, bytes: Uint8Array): Runnable {
  let verified: VerifiedCapsule;
  try {
    verified = loadCapsule(bytes, { sha256 });
  } catch (e) {
    if (e instanceof VerifyError || e instanceof CapsuleError) throw new InputError(`${file}: rejected: ${e.message}`);
    throw e;
  }
  const known = bundledDefs().map((name) => ({ name, config: builtinConfig(name, builtinDefsDir()) }));
  const configId = verified.configId;
  const match = known.find((k) => k.config.id === configId);
  if (!match) {
    const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
    throw new InputError(
      `${file}: capsule byte 8: configuration id ${hex(configId)} is not a bundled one (${known.map((k) => `${k.name} ${hex(k.config.id)}`).join(", ")}); ` +
        "run the script that produced the capsule, with its .defs on the include path",
    );
  }
  return { capsule: bytes, verified, config: match.config };
}

export function registerBasics(program: Command): void {
  const withInclude = (c: Command) => c.option("-I, --include <dir>", "add a directory to the #include search path (repeatable)", collect, []);

  withInclude(program.command("check"))
    .description("verify a script: syntax, types, tight loops, concurrent access, par termination")
    .argument("<file>", "Céu-T script (.terra)")
    .option("--json", "print {\"diagnostics\": [...]} on stdout")
    .action((file: string, opts: Common) => guard(() => {
      const r = compiled(file, opts);
      if (!r.ok) fail(r, opts.json);
      if (opts.json) process.stdout.write(`${JSON.stringify({ diagnostics: r.diagnostics }, null, 2)}\n`);
      else process.stdout.write(`${file}: ok (${r.report!.max_instructions_per_reaction} VM instructions per reaction at most)\n`);
    }));

  withInclude(program.command("compile"))
    .description("compile a script to a capsule and report its sizes and bounds")
    .argument("<file>", "Céu-T script (.terra)")
    .option("-o, --output <file>", "capsule file to write (default: the script's name with .cap)")
    .option("--listing", "print the assembly beside the source lines")
    .option("--program-version <n>", "program version stored in the capsule (default 1)")
    .option("--json", "print {\"diagnostics\": [...], \"report\": {...}} on stdout")
    .action((file: string, opts: Common & { output?: string; listing?: boolean; programVersion?: string }) => guard(() => {
      const r = compiled(file, opts);
      if (!r.ok) fail(r, opts.json);
      const out = opts.output ?? `${basename(file, extname(file))}.cap`;
      writeBytes(out, r.capsule!);
      if (opts.listing) process.stdout.write(listing(r.structure!.code, r.instructions!, file, r.sources.get(file) ?? ""));
      // Terra-TS's mote images run TerraNet scripts; their loader has its own rule (firmware-host/image.ts)
      const images = r.config!.id === builtinConfig("TerraNet.defs").id ? imageFits(r.capsule!) : undefined;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ diagnostics: r.diagnostics, report: { ...r.report, images }, output: out }, null, 2)}\n`);
        return;
      }
      const rep = r.report!;
      const fits = rep.platforms.map((p) => `${p.platform} ${p.fits ? "fits" : "DOES NOT FIT"} (${p.needs}/${p.script_space} B)`);
      const loads = images
        ? images.map((i) => `${i.platform} ${i.loads ? "loads" : "DOES NOT LOAD"} (${i.needs}/${i.block_bytes} B)`).join("; ") +
          (images.some((i) => !i.loads)
            ? images[0].larger === "scratch"
              ? " (the verifier's scratch, which grows with the code, is the larger part: less code helps)"
              : " (the script's state is the larger part: fewer or smaller variables help)"
            : "")
        : "they run TerraNet scripts only";
      process.stdout.write(
        `${out}: ${rep.capsule_bytes} bytes in ${rep.blocks} blocks of ${rep.block_bytes} B\n` +
          `  code ${rep.code_bytes} B (${rep.instruction_bytes} B of instructions), data ${rep.data_bytes} B, stacks ${rep.stack_bytes} B\n` +
          `  at most ${rep.max_instructions_per_reaction} VM instructions per reaction\n` +
          `  script space (Terra's rule, .defs): ${fits.join("; ")}\n` +
          `  Terra-TS mote images (capsule, verifier scratch or state, in the VM's block): ${loads}\n`,
      );
    }));

  withInclude(program.command("run"))
    .description("compile a script (or take a capsule) and run it on one simulated mote against an input trace (virtual time)")
    .argument("<file>", "Céu-T script (.terra), or a capsule (.cap, of a bundled configuration)")
    .option("--inputs <trace.json>", "input trace: [{\"at_ms\": T, \"event\": \"NAME\", \"value\": V, \"aux\": A}, ...]")
    .option("--until <ms>", "keep logical time running until this time (default: the last input's time)")
    .option("--node-id <n>", "getNodeId() of the mote", "1")
    .option("--seed <n>", "seed of random()")
    .option("--json", "print {\"outputs\": [...], \"errors\": [...]} on stdout")
    .option("--vm <vm>", "the VM to run on: ts (TypeScript), c (firmware-host terra-mote), or the mote firmware on a simulated MCU: micaz (simavr), telosb (mspdebug), samr21 (qemu)", "ts")
    .option("--realtime", "logical time follows the wall clock; each output is printed when it happens (TypeScript VM)")
    .option("--max-reactions <n>", "reactions without the mote becoming idle before the run stops (virtual time only advances when it is idle; default 1000000)")
    .action((file: string, opts: Common & { inputs?: string; until?: string; nodeId: string; seed?: string; vm: string; realtime?: boolean; maxReactions?: string }) => guard(async () => {
      const mote = MOTE_VMS.find((p) => p === opts.vm);
      if (opts.vm !== "ts" && opts.vm !== "c" && !mote) throw new UsageError(`--vm must be ts, c, ${MOTE_VMS.join(", ")}, got "${opts.vm}"`);
      if (opts.realtime && opts.vm !== "ts") throw new UsageError(`--realtime runs on the TypeScript VM; drop --vm ${opts.vm}`);
      if (opts.realtime && opts.json) throw new UsageError("--realtime prints outputs as they happen; it does not combine with --json");
      const until = opts.until === undefined ? undefined : intOption(opts.until, "--until");
      const nodeId = intOption(opts.nodeId, "--node-id", 0xffff);
      const seed = opts.seed === undefined ? undefined : intOption(opts.seed, "--seed", 0xffffffff);
      const maxReactions = opts.maxReactions === undefined ? undefined : intOption(opts.maxReactions, "--max-reactions", 0xffffffff);
      const bytes = readBytes(file, "script or capsule");
      let run: Runnable;
      if (isCapsuleFile(bytes)) {
        run = capsuleRunnable(file, bytes);
      } else {
        const r = compiled(file, opts);
        if (!r.ok) fail(r, opts.json);
        run = { capsule: r.capsule!, verified: loadCapsule(r.capsule!, { sha256 }), config: r.config!, bound: r.report!.max_instructions_per_reaction };
      }
      let trace: ReturnType<typeof parseTrace> = [];
      if (opts.inputs) {
        try {
          trace = parseTrace(opts.inputs, readText(opts.inputs, "trace"), run.config);
        } catch (e) {
          if (e instanceof TraceError) throw new InputError(e.message);
          throw e;
        }
      }
      const printOutput = (o: OutputRecord) => process.stdout.write(`${String(o.at_ms).padStart(9)} ms  ${o.event}${o.value === null ? "" : ` ${JSON.stringify(o.value)}`}\n`);
      let res: Omit<RunResult, "state">;
      try {
        res = opts.vm === "c"
          ? runMoteC(run.capsule, run.config, { traceFile: opts.inputs, until, nodeId, seed, maxReactions })
          : mote
            ? runMoteSim(mote, run.capsule, run.config, trace, { until, nodeId, seed, maxReactions })
            : opts.realtime
              ? await runMoteRealtime(run.verified, run.config, { trace, until, nodeId, seed, maxReactions, onOutput: printOutput })
              : runMote(run.verified, run.config, { trace, until, nodeId, seed, maxReactions });
      } catch (e) {
        if (e instanceof StallError) throw new InputError(`${file}: ${e.message}`);
        throw e;
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ outputs: res.outputs, errors: res.errors, stats: { ...res.stats, halted: res.halted, end_ms: res.end_ms, bound: run.bound ?? null } })}\n`);
        return;
      }
      if (!opts.realtime) res.outputs.forEach(printOutput);
      for (const e of res.errors) process.stdout.write(`${String(e.at_ms).padStart(9)} ms  runtime error ${e.code}: ${e.message} (pc 0x${e.pc.toString(16).padStart(4, "0")})\n`);
      const s = res.stats;
      process.stderr.write(
        `${mote ? `${MOTE_SIMULATORS[mote]}: ` : ""}${res.halted ? "program terminated" : "stopped"} at ${res.end_ms} ms: ${s.reactions} reactions, ${s.instructions} VM instructions ` +
          `(at most ${s.maxReactionInstructions} in one reaction${run.bound === undefined ? "" : `; bound ${run.bound}`})` +
          `${s.queueOverflows ? `, ${s.queueOverflows} input queue overflows` : ""}${s.droppedErrors ? `, ${s.droppedErrors} errors without ERROR reaction` : ""}\n`,
      );
    }));

  program.command("disasm")
    .description("verify a capsule and print its header, tables and code")
    .argument("<capsule>", "capsule file (.cap)")
    .action((file: string) => guard(() => {
      const bytes = readBytes(file, "capsule");
      try {
        const c = loadCapsule(bytes, { sha256 });
        process.stdout.write(disassembleCapsule(c));
      } catch (e) {
        if (e instanceof VerifyError || e instanceof CapsuleError) throw new InputError(`${file}: rejected: ${e.message}`);
        throw e;
      }
    }));
}

/** Run a command body (synchronous or not), turning "already reported" into a quiet exit. */
async function guard(f: () => void | Promise<void>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (e instanceof Silent) return;
    throw e;
  }
}


