/**
 * Running capsules on the simulated motes (tests and bench): a suite of
 * compiled scripts with their traces becomes a C file compiled into the
 * mote's flash (comp/suite.c runs each in virtual time, exactly as
 * terra-mote and `terra run`), the image runs on the board's simulator
 * (simavr through simrun for MicaZ, qemu's microbit for the Cortex-M0+
 * build, mspdebug's simulator for TelosB), and the compact report it prints
 * is turned back into the JSON of `terra run --json` with the
 * configuration's names and record layouts.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Configuration } from "../compiler/config";
import { decodeRecord } from "../components/host";
import { ERROR_NAMES, REQUESTED_INPUTS, runMote } from "../components/run";
import type { TraceEntry } from "../components/trace";
import { STALL_LIMIT, stallMessage } from "../vm/driver";
import { loadCapsule } from "../vm/verify";
import { SENSORS } from "./roles";

const HERE = dirname(fileURLToPath(import.meta.url));
/** firmware-host/: this file's folder, or, from the dist/ bundle, ../firmware-host. */
export const FIRMWARE_DIR = existsSync(join(HERE, "Makefile")) ? HERE : resolve(HERE, "../firmware-host");
export type MotePlatform = "micaz" | "telosb" | "samr21";

/** Bytes of the VM block of each platform's test builds (Makefile `SUITE_MEM`: less than the image's, as they copy queued records; test/c-image.test.ts keeps them equal). */
export const SUITE_BLOCK_BYTES: Record<MotePlatform, number> = { micaz: 2304, telosb: 5120, samr21: 8192 };

/** Whether each platform's builds have float instructions (Makefile `FLOAT`): the others reject float capsules. */
export const SUITE_FLOAT: Record<MotePlatform, boolean> = { micaz: false, telosb: false, samr21: true };

/** Every `.terra` file below the given directories (depth first, directory order); missing directories are skipped. */
export function terraScripts(dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".terra")) out.push(p);
    }
  };
  dirs.forEach(walk);
  return out;
}

export interface SuiteCase {
  name: string;
  capsule: Uint8Array;
  config: Configuration;
  trace: TraceEntry[];
  /** Run until this time (ms, inclusive, as `terra run --until`); default: the last trace entry's time. */
  until?: number;
  nodeId?: number;
  /** Reactions without the VM becoming idle before the run stops (vm/driver.ts StallError; default 1e6). */
  maxReactions?: number;
  /** Seed of random() (`terra run --seed`); default: from the node id. */
  seed?: number;
}

/** Flash a case takes in a suite's data (comp/suite.h job, input and reading rows, record bytes), in bytes: an estimate that errs high. */
function suiteCaseBytes(c: SuiteCase): number {
  return 32 + c.capsule.length + c.trace.reduce((n, e) => n + 16 + (typeof e.data === "number" ? 0 : e.data.length), 0);
}

/**
 * Cases split, in order, into suites of at most maxBytes of data each (suiteCaseBytes; a larger case
 * gets a suite of its own), so that a test of any number of cases fits the motes' flash: TelosB's
 * 48 KB hold the image and about 30 KB of suite data.
 */
export function suiteChunks(cases: SuiteCase[], maxBytes = 16_384): SuiteCase[][] {
  const chunks: SuiteCase[][] = [];
  let bytes = Infinity;
  for (const c of cases) {
    const n = suiteCaseBytes(c);
    if (bytes + n > maxBytes) {
      chunks.push([]);
      bytes = 0;
    }
    chunks[chunks.length - 1].push(c);
    bytes += n;
  }
  return chunks;
}

const hexBytes = (b: ArrayLike<number>) => Array.from(b, (x) => String(x)).join(",");

/** The C source of a suite (comp/suite.h). Configurations must be TerraNet's or TerraGrp's. */
export function suiteSource(cases: SuiteCase[], grpId: number): string {
  const out: string[] = ['#include "comp/suite.h"', ""];
  const jobs: string[] = [];
  cases.forEach((c, i) => {
    out.push(`/* ${c.name.replace(/\*\//g, "")} */`);
    out.push(`static TVM_ROM uint8_t c${i}[] = { ${hexBytes(c.capsule)} };`);
    const inputs = c.trace.filter((e) => !REQUESTED_INPUTS.has(e.event));
    const readings = c.trace.filter((e) => REQUESTED_INPUTS.has(e.event));
    const rows: string[] = [];
    inputs.forEach((e, k) => {
      const id = e.input.anyId ?? e.input.filteredId!;
      if (typeof e.data === "number") {
        rows.push(`{ ${e.at}u, ${id}, ${e.aux}, 0, ${e.data | 0}, 0 }`);
      } else {
        out.push(`static TVM_ROM uint8_t c${i}_d${k}[] = { ${e.data.length ? hexBytes(e.data) : "0"} };`);
        rows.push(`{ ${e.at}u, ${id}, ${e.aux}, ${Math.min(e.data.length, 255)}, 0, c${i}_d${k} }`);
      }
    });
    if (rows.length) out.push(`static TVM_ROM tc_input_t c${i}_in[] = { ${rows.join(", ")} };`);
    const rd = readings.map((e) => `{ ${e.at}u, ${(SENSORS as readonly string[]).indexOf(e.event)}, ${typeof e.data === "number" ? e.data | 0 : 0} }`);
    if (rd.length) out.push(`static TVM_ROM tc_reading_t c${i}_rd[] = { ${rd.join(", ")} };`);
    const last = c.trace.length ? c.trace[c.trace.length - 1].at : 0;
    const until = (c.until ?? last) + 1;
    jobs.push(`{ c${i}, ${c.capsule.length}, ${rows.length ? `c${i}_in` : "0"}, ${rows.length}, ${rd.length ? `c${i}_rd` : "0"}, ${rd.length}, ${until}u, ${c.config.id === grpId ? 1 : 0}, ${c.nodeId ?? 1}, ${c.maxReactions ?? STALL_LIMIT}ul, ${c.seed === undefined ? 0 : 1}, ${c.seed ?? 0}u }`);
  });
  out.push("", `TVM_ROM tc_job_t tc_suite[] = {\n  ${jobs.join(",\n  ")}\n};`);
  out.push(`const uint16_t tc_suite_len = ${cases.length};`, "");
  return out.join("\n");
}

/**
 * make -C firmware-host PLATFORM=<p> <target> VAR=... (throws with the compiler's output on failure).
 * Targets inside firmware-host may be given as absolute paths: make's rules name them relative to it.
 */
export function make(platform: MotePlatform | "host", target: string[], vars: Record<string, string> = {}): void {
  const goals = target.map((t) => (isAbsolute(t) && t.startsWith(`${FIRMWARE_DIR}/`) ? relative(FIRMWARE_DIR, t) : t));
  const args = ["-C", FIRMWARE_DIR, `PLATFORM=${platform}`, ...goals, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)];
  const r = spawnSync("make", args, { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`make ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
}

/** Tools each simulated platform needs (the tests fail, not skip, when one is missing). */
export const SIM_TOOLS: Record<MotePlatform, string[]> = {
  micaz: ["avr-gcc", "pkg-config"],
  samr21: ["arm-none-eabi-gcc", "qemu-system-arm"],
  telosb: ["clang", "ld.lld", "mspdebug"],
};

export function missingTools(p: MotePlatform): string[] {
  return SIM_TOOLS[p].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
}

/**
 * Run an image on the platform's simulator: the byte output (UART or semihosting) on stdout, the
 * simulator's lines on stderr (MicaZ: platform/micaz/simrun.c's marks, stack and end; with `leds`,
 * "leds VALUE MS" at each change of the LEDs).
 */
export function runImage(platform: MotePlatform, elf: string, opts: { maxCycles?: number; timeoutMs?: number; leds?: boolean } = {}): { stdout: string; stderr: string } {
  const timeout = opts.timeoutMs ?? 300_000;
  if (platform === "micaz") {
    make("micaz", [`${FIRMWARE_DIR}/build/micaz/simrun`]);
    const args = ["-q", ...(opts.maxCycles ? ["-c", String(opts.maxCycles)] : []), ...(opts.leds ? ["-l"] : []), elf];
    const r = spawnSync(join(FIRMWARE_DIR, "build/micaz/simrun"), args, { encoding: "utf8", timeout, maxBuffer: 1 << 28 });
    if (r.error) throw r.error;
    return { stdout: r.stdout, stderr: r.stderr };
  }
  if (platform === "samr21") {
    const r = spawnSync("qemu-system-arm", ["-M", "microbit", "-display", "none", "-monitor", "none", "-serial", "none",
      "-chardev", "stdio,id=sh0", "-semihosting-config", "enable=on,target=native,chardev=sh0", "-kernel", elf],
      { encoding: "utf8", timeout, maxBuffer: 1 << 28 });
    if (r.error) throw r.error;
    return { stdout: r.stdout, stderr: r.stderr };
  }
  const r = spawnSync(join(FIRMWARE_DIR, "platform/telosb/mspsim.sh"), [elf], { encoding: "utf8", timeout, maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr };
}

/** The loader's reasons (TVM_OK, TVM_E_TRUNCATED, ...), indexed by their codes, from core/tvm.h (what "X reject OFFSET REASON" gives). */
export function rejectReasons(): string[] {
  return [...readFileSync(join(FIRMWARE_DIR, "core/tvm.h"), "utf8").matchAll(/^\s+(TVM_(?:OK|E_\w+))(?: = \d+)?,/gm)].map((m) => m[1]);
}

/**
 * Start a MicaZ image on simavr with its UART's receiver fed from the process's stdin (simrun -u; the
 * image must be built with SERIAL=1, the default): a mote on a serial line, for `terra load --sim`
 * and the tests. `realtime`: keep to the wall clock (simrun -r); `leds`: "leds VALUE MS" on stderr;
 * `eeprom`: a file holding the EEPROM from run to run (simrun -e). The caller ends it (kill: SIGTERM
 * ends the run and saves the EEPROM). Throws when simrun cannot be built.
 */
export function startMicaz(elf: string, opts: { realtime?: boolean; leds?: boolean; eeprom?: string } = {}): ChildProcess {
  make("micaz", [`${FIRMWARE_DIR}/build/micaz/simrun`]);
  const args = ["-q", "-u", ...(opts.realtime ? ["-r"] : []), ...(opts.leds ? ["-l"] : []), ...(opts.eeprom ? ["-e", opts.eeprom] : []), elf];
  return spawn(join(FIRMWARE_DIR, "build/micaz/simrun"), args, { stdio: ["pipe", "pipe", "pipe"] });
}

/** Build a suite for a platform (in `dir`) and return the image's path. */
export function buildSuite(platform: MotePlatform, cases: SuiteCase[], grpId: number, dir?: string): string {
  const out = dir ?? mkdtempSync(join(tmpdir(), `terra-${platform}-`));
  mkdirSync(out, { recursive: true });
  const src = join(out, "suite_data.c");
  writeFileSync(src, suiteSource(cases, grpId));
  make(platform, ["suite"], { SUITE: src, OUT: out });
  return join(out, "suite.elf");
}

/** The JSON `terra run --json` prints (without stats.bound) for each case, from a suite image's report. */
export function decodeSuiteReport(text: string, cases: SuiteCase[]): string[] {
  const res: string[] = cases.map(() => "MISSING");
  let job = -1;
  let outputs: unknown[] = [];
  let errors: unknown[] = [];
  let failed: string | undefined;
  for (const line of text.split("\n")) {
    const f = line.trim().split(" ");
    switch (f[0]) {
      case "J":
        job = Number(f[1]);
        outputs = [];
        errors = [];
        failed = undefined;
        res[job] = "INCOMPLETE";
        break;
      case "O": {
        const c = cases[job];
        const id = Number(f[1]);
        const at = Number(f[2]);
        const decl = [...c.config.outputs.values()].find((o) => o.id === id);
        let value: unknown;
        if (f[3].startsWith("r")) {
          const bytes = Uint8Array.from(Buffer.from(f[3].slice(1), "hex"));
          value = decl && decl.arg.kind === "void" ? null : decl && decl.arg.kind === "record" ? decodeRecord(decl.arg.rec, bytes) : Array.from(bytes);
        } else {
          value = decl && decl.arg.kind === "void" ? null : Number(f[3]);
        }
        outputs.push({ event: decl ? decl.name : `output#${id}`, value, at_ms: at });
        break;
      }
      case "E": {
        const code = Number(f[1]);
        errors.push({ at_ms: Number(f[3]), code, message: ERROR_NAMES[code] ?? `error ${code}`, pc: Number(f[2]) });
        break;
      }
      case "X":
        // "X stall async|reactions <ms>": the message of vm/driver.ts StallError (limits: STALL_LIMIT async slices, the case's maxReactions)
        failed = f[1] === "stall"
          ? `THROWS: ${stallMessage(f[2] === "async" ? "async" : "reactions", f[2] === "async" ? STALL_LIMIT : cases[job].maxReactions ?? STALL_LIMIT, Number(f[3]))}`
          : `THROWS: ${f.slice(1).join(" ")}`;
        res[job] = failed;
        break;
      case "S": {
        if (failed) break;
        const c = cases[job];
        const last = c.trace.length ? c.trace[c.trace.length - 1].at : 0;
        const until = c.until ?? last;
        const n = f.slice(1).map(Number);
        const stats = {
          reactions: n[0], instructions: n[1], maxReactionInstructions: n[2], queueOverflows: n[3], errors: n[4], droppedErrors: n[5], asyncSlices: n[6],
          halted: n[7] === 1, end_ms: Math.min(n[8], until),
        };
        res[job] = JSON.stringify({ outputs, errors, stats });
        break;
      }
      default:
        break;
    }
  }
  return res;
}

/** What `terra run --json` prints for a case on the TypeScript VM (without stats.bound), or "THROWS: ...". */
export function expectedJson(c: SuiteCase, sha256: (d: Uint8Array) => Uint8Array): string {
  try {
    const res = runMote(loadCapsule(c.capsule, { sha256 }), c.config, { trace: c.trace, until: c.until, nodeId: c.nodeId ?? 1, seed: c.seed, maxReactions: c.maxReactions });
    return JSON.stringify({ outputs: res.outputs, errors: res.errors, stats: { ...res.stats, halted: res.halted, end_ms: res.end_ms } });
  } catch (e) {
    return `THROWS: ${(e as Error).message}`;
  }
}

/** Byte output of a command, or undefined when it fails. */
export function tryRun(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    return undefined;
  }
}

export const BUILD_DIR = resolve(FIRMWARE_DIR, "build");
export { existsSync };
