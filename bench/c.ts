/**
 * `terra bench c`: the C VM (firmware-host/) per platform, against Terra's
 * published figures (seed 003 §7-8) and against plain C on the same simulator.
 *
 * - Sizes: .text of the VM core alone (interpreter, scheduler, timers, loader
 *   and verifier: core/engine.c + core/verify.c, with the read-only tables)
 *   and of the full firmware image; the RAM the VM itself needs besides the
 *   script's memory block (its static state), and on MicaZ the deepest stack
 *   seen (simavr) in the scenario runs and in the shipped image while it
 *   loads capsules over its UART (SERIAL=1; the scenario images are built
 *   without the serial loader, SERIAL=0).
 * - MicaZ (simavr through simrun, ATmega128 at 7.3728 MHz): the three
 *   scenarios of §8, each run for 300 simulated seconds as a firmware image
 *   (comp/rt.c with the simulated sensor of RT_SENSOR_MS = 10 ms and radio),
 *   and the same loops in plain C (apps/native.c): loop iterations per 300 s
 *   (the counter of the last radio frame, scaled by the frame's time: the
 *   script's frames drift 4 ms per 10 s period, the plain C loop's do not),
 *   active cycles, cycles per VM instruction (active cycles over the VM
 *   instructions the iterations execute, counted by the TypeScript VM on the
 *   same capsule; for the IO scenarios the active cycles include the clock
 *   interrupt and idle wake-ups, so the figure says little about the
 *   interpreter), native ratio (native iterations over VM iterations) and the
 *   ratio of active cycles; the CPU energy of each run over 300 s (J), VM
 *   and plain C, priced by the model fitted to Terra's own Avrora figures
 *   (bench/energy.ts), beside Terra's Table 7. Also the CPU-bound loop's
 *   cycles per iteration at a frozen clock (no clock interrupt, no per-tick
 *   driver work).
 * - TelosB (mspdebug's simulator, MSP430F1611 at 4 MHz): the same three
 *   scenarios and the frozen-clock figure, in builds whose board skips sleep
 *   to the next clock interrupt (BOARD_SKIP_SLEEP: mspdebug does not advance
 *   a sleeping CPU's timers, see firmware-host/README.md), so that the MCLK
 *   cycles the tracer counts are the active cycles.
 * - Host: x86 instructions per VM instruction (callgrind, marginal over
 *   200,000 reactions of the CPU-bound loop), VM instructions per second and
 *   the TS VM / C VM speed ratio on the same capsule in one run, for both
 *   dispatch builds; Cortex-M0+ (qemu): ARM instructions per VM instruction
 *   for both dispatch builds.
 *
 * `--quick` shortens the timed scenarios to 30 simulated seconds (figures
 * scaled to 300 s) and the host rounds.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { builtinDefsDir, sha256 } from "../cli/util";
import { compile } from "../compiler/compile";
import { createMote } from "../components/run";
import { constantSensors } from "../components/terranet/index";
import { loadCapsule } from "../vm/verify";
import { sendCapsule } from "../components/serial/load";
import { streamLink } from "../components/serial/link";
import { FIRMWARE_DIR, make, startMicaz } from "../firmware-host/harness";
import { IMAGE_BLOCK_BYTES } from "../firmware-host/image";
import { registerBench, table } from "./registry";
import { TERRA_ENERGY_ROWS, cpuJoules } from "./energy";

const PLATFORMS = ["host", "micaz", "telosb", "samr21"] as const;
type Platform = (typeof PLATFORMS)[number];
const SIZE_TOOL: Record<Platform, string> = { host: "size", micaz: "avr-size", telosb: "llvm-size", samr21: "arm-none-eabi-size" };
const NM_TOOL: Record<Platform, string> = { host: "nm", micaz: "avr-nm", telosb: "llvm-nm", samr21: "arm-none-eabi-nm" };
const BUILD = join(FIRMWARE_DIR, "build");

/** Terra's figures (seed 003 §7.1, §8). */
export const TERRA = {
  cpu: { iterations: 597_511, native_iterations: 11_735_607, ratio: 19.64, cycles_per_instruction: 607 },
  io: { iterations: 27_269, native_iterations: 29_999, active_cycles: 265_848_122, native_active_cycles: 104_726_668 },
  timer: { iterations: 30, native_iterations: 30, active_cycles: 9_630_812, native_active_cycles: 8_896_252 },
  micaz_script_space: 2000,
};

const readFile = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
function compileApp(name: string): { capsule: Uint8Array; cfg: NonNullable<ReturnType<typeof compile>["config"]> } {
  const file = join(FIRMWARE_DIR, "apps", `${name}.terra`);
  const r = compile(file, readFileSync(file, "utf8"), { includeDirs: [], builtinDir: builtinDefsDir(), readFile, sha256 });
  if (!r.ok) throw new Error(`bench c: ${name} does not compile: ${r.diagnostics[0]?.message}`);
  return { capsule: r.capsule!, cfg: r.config! };
}

/** `size` columns (text, data, bss) of a file; for a list, summed. */
function sizes(p: Platform, files: string[]): { text: number; data: number; bss: number } {
  const out = execFileSync(SIZE_TOOL[p], files, { encoding: "utf8" }).trim().split("\n").slice(1);
  const s = { text: 0, data: 0, bss: 0 };
  for (const l of out) {
    const [t, d, b] = l.trim().split(/\s+/).map(Number);
    s.text += t;
    s.data += d;
    s.bss += b;
  }
  return s;
}

/** Symbols of an object file as [name, bytes, nm type letter]. */
function symbols(p: Platform, object: string): [string, number, string][] {
  const out = execFileSync(NM_TOOL[p], ["-S", "--size-sort", object], { encoding: "utf8" });
  return out.trim().split("\n").map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 4).map((f) => [f[3], parseInt(f[1], 16), f[2]]);
}

/** Static RAM of the VM core (every .data/.bss symbol of the core objects but the script's memory block). */
function coreRam(p: Platform, objects: string[]): number {
  return objects.flatMap((o) => symbols(p, o)).filter(([n, , t]) => /^[bBdDcC]$/.test(t) && n !== "tvm_mem").reduce((a, s) => a + s[1], 0);
}

/** Stack bytes of the avr-libc and libgcc routines the MicaZ core calls: the return address, and 2 more for a nested call. */
const AVR_LIB_STACK: Record<string, number> = {
  memset: 2, memcpy: 2, __mulsi3: 2, __umulhisi3: 2, __udivmodsi4: 2, __divmodsi4: 4, __tablejump2__: 2,
  // -mcall-prologues: jumped to (no return address); the registers they save are in the caller's frame
  __prologue_saves__: 0, __epilogue_restores__: 0,
};

/**
 * The deepest C stack of the MicaZ core (bytes): avr-gcc's -fstack-usage frame of each function (its
 * return address and saved registers included) summed along the deepest chain of calls between the
 * core's functions and into the libraries (AVR_LIB_STACK), from any entry point; the platform's
 * callbacks (tvm_host_*) are not counted. The core has no recursion and no calls through pointers.
 * @throws Error for a function without a static frame size, a call to a routine not in AVR_LIB_STACK, or a cycle.
 */
function avrCoreStack(objects: string[]): { bytes: number; path: string[] } {
  const frame = new Map<string, number>();
  for (const o of objects) {
    for (const line of readFileSync(o.replace(/\.o$/, ".su"), "utf8").trim().split("\n")) {
      const [where, bytes, kind] = line.split("\t");
      if (kind !== "static") throw new Error(`avrCoreStack: ${where} has a ${kind} frame`);
      frame.set(where.slice(where.lastIndexOf(":") + 1), Number(bytes));
    }
  }
  const calls = new Map<string, Set<string>>();
  let fn = "";
  for (const line of execFileSync("avr-objdump", ["-dr", ...objects], { encoding: "utf8" }).split("\n")) {
    const head = /^[0-9a-f]+ <([^>]+)>:$/.exec(line);
    if (head) calls.set((fn = head[1]), new Set());
    const call = /R_AVR_CALL\s+(\S+)/.exec(line);
    if (call) calls.get(fn)!.add(call[1].replace(/\+0x[0-9a-f]+$/, "").replace(/^\.text\.(unlikely\.|hot\.)?/, ""));
  }
  const memo = new Map<string, { bytes: number; path: string[] }>();
  const deepest = (f: string, seen: string[]): { bytes: number; path: string[] } => {
    if (seen.includes(f)) throw new Error(`avrCoreStack: recursion through ${[...seen, f].join(" -> ")}`);
    if (memo.has(f)) return memo.get(f)!;
    let best = { bytes: 0, path: [] as string[] };
    for (const g of calls.get(f) ?? []) {
      let d: { bytes: number; path: string[] };
      if (frame.has(g)) d = deepest(g, [...seen, f]);
      else if (g in AVR_LIB_STACK) d = { bytes: AVR_LIB_STACK[g], path: [g] };
      else if (g.startsWith("tvm_host_")) continue;
      else throw new Error(`avrCoreStack: ${f} calls ${g}, whose stack is not known (AVR_LIB_STACK)`);
      if (d.bytes > best.bytes) best = d;
    }
    const r = { bytes: frame.get(f)! + best.bytes, path: [f, ...best.path] };
    memo.set(f, r);
    return r;
  };
  return [...frame.keys()].map((f) => deepest(f, [])).reduce((a, b) => (b.bytes > a.bytes ? b : a));
}

/**
 * The core's .text by part (bytes): the interpreter (engine.c's react, which inlines the input
 * occurrence, with its sections of dispatch, switch and compare tables: `.rodata.react`,
 * `.progmem.gcc_sw_table.react`, the goto table's section with its alignment padding, `CMP`), the
 * rest of engine.c (scheduler, timers, queues, host API) and verify.c (capsule loader and verifier,
 * with its class tables). By section (`size -A`, one section per function and table), as symbols
 * miss the compiler's unnamed switch tables.
 */
function coreParts(p: Platform, engine: string, verify: string): { interpreter: number; scheduler: number; loader_verifier: number } {
  const out = execFileSync(SIZE_TOOL[p], ["-A", engine], { encoding: "utf8" });
  const interpreter = out.split("\n").map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3 && /^\.(text|rodata|progmem)\b.*(\.react(\.|$)|labels|CMP$)/.test(f[0]))
    .reduce((a, f) => a + Number(f[1]), 0);
  const [e, v] = [sizes(p, [engine]), sizes(p, [verify])];
  return { interpreter, scheduler: e.text + e.data - interpreter, loader_verifier: v.text + v.data };
}

/**
 * The AVR interpreter's bytes by handler (`react`'s .text; a family such as `add` with its
 * ALSO() members counts once): each instruction of the engine's assembler listing (mote.mk
 * core-engine.lst: the core's flags plus -gdwarf-4, the same code) goes to the source line of the
 * `.loc` before it, and a line between one CASE() and the next to that handler; the rest (entry,
 * dispatch, input occurrence, trail end, errors, inlined helpers) is "reaction path". Approximate
 * where the compiler merges code of several lines. Sorted by size, largest first.
 * @throws Error when the listing has no handlers or its bytes do not add up to `reactBytes`
 */
function avrHandlerBytes(listing: string, source: string, reactBytes: number): Record<string, number> {
  const lines = source.split("\n");
  const cases: { line: number; name: string }[] = [];
  lines.forEach((l, i) => {
    const m = /^\s*CASE\((\w+)\)/.exec(l);
    if (m) cases.push({ line: i + 1, name: m[1].toLowerCase() });
  });
  const end = lines.findIndex((l) => /^\s*L_INVALID:/.test(l)) + 1;
  if (!cases.length || end <= cases[cases.length - 1].line) throw new Error("bench c: engine.c's handlers (CASE ... L_INVALID:) not found");
  const owner = (line: number): string => {
    if (line < cases[0].line || line >= end) return "reaction path";
    let name = cases[0].name;
    for (const c of cases) if (c.line <= line) name = c.name;
    return name;
  };
  const bytes: Record<string, number> = {};
  let section = "";
  let line = 0;
  let total = 0;
  for (const l of listing.split("\n")) {
    const sec = /\.section\s+([\w.]+)/.exec(l);
    if (sec) section = sec[1];
    const loc = /\.loc\s+1\s+(\d+)/.exec(l);
    if (loc) line = Number(loc[1]);
    const ins = /^\s*\d+ [0-9a-f]{4} ([0-9A-F ]+?)\s*\t/.exec(l);
    if (!ins || section !== ".text.react") continue;
    const n = ins[1].replace(/ /g, "").length / 2;
    const who = line ? owner(line) : "reaction path";
    bytes[who] = (bytes[who] ?? 0) + n;
    total += n;
  }
  if (total !== reactBytes) throw new Error(`bench c: the listing holds ${total} B of react, its object ${reactBytes} B`);
  return Object.fromEntries(Object.entries(bytes).sort((a, b) => b[1] - a[1]));
}

interface ScenarioResult {
  iterations: number;
  active_cycles: number;
  cycles_per_instruction: number;
  native_iterations: number;
  native_active_cycles: number;
  native_ratio: number;
  active_cycles_ratio: number;
  instructions_per_iteration: number;
  /** MicaZ: CPU energy over 300 s (J) of the VM and of plain C, bench/energy.ts's model */
  cpu_energy_j?: number;
  native_cpu_energy_j?: number;
  energy_ratio?: number;
}

/** VM instructions per loop iteration of a bench script, counted by the TypeScript VM (standalone components). */
function instructionsPerIteration(name: string): number {
  const { capsule, cfg } = compileApp(name);
  const { vm } = createMote(loadCapsule(capsule, { sha256 }), cfg, { nodeId: 1, sensors: constantSensors() });
  vm.boot();
  // the loop's iterations happen at time 0 with instant components (CPU, IO) or every 10 s (timer)
  const counter = () => vm.vars[0] | (vm.vars[1] << 8) | (vm.vars[2] << 16) | (vm.vars[3] << 24);
  if (name === "bench_timer") {
    const i0 = vm.stats.instructions;
    for (let k = 0; k < 20; k++) {
      vm.advanceTo(vm.nextDeadline()!);
      vm.runPending(1000);
    }
    return (vm.stats.instructions - i0) / counter();
  }
  const i0 = vm.stats.instructions, c0 = counter();
  vm.runPending(10_000);
  return (vm.stats.instructions - i0) / (counter() - c0);
}

/**
 * The last counter value the image sent over the radio and when: bench builds
 * (RT_FRAME_TIME) print "R <hex> @<ms>", the counter at byte 5 of the frame,
 * the time in ms of the board's clock.
 */
function lastFrame(text: string, elf: string): { count: number; ms: number } {
  const frames = text.split("\n").filter((l) => l.startsWith("R "));
  const m = /^R ([0-9a-f]+) @(\d+)$/.exec((frames[frames.length - 1] ?? "").trim());
  if (!m) throw new Error(`bench c: ${elf} sent no timed radio frame ("R <hex> @<ms>")`);
  return { count: Buffer.from(m[1], "hex").readUInt32LE(5), ms: Number(m[2]) };
}

/** A run of a scenario image: what it printed and the active cycles it executed. */
interface SimRun {
  out: string;
  active: number;
}

/** Deepest stack (bytes below the top of RAM) the MicaZ scenario images reached. */
let maxStack = 0;

/** A MicaZ image on simavr through simrun: the image's output (stdout) and simrun's report (stderr). */
function simavr(elf: string): { stdout: string; stderr: string } {
  make("micaz", [join(BUILD, "micaz/simrun")]);
  const r = spawnSync(join(BUILD, "micaz/simrun"), ["-q", elf], { encoding: "utf8", maxBuffer: 1 << 28, timeout: 1_800_000 });
  if (r.error) throw r.error;
  return r;
}

/** The deepest stack of a simrun run (bytes below the top of the ATmega128's RAM), from its "stack LOWEST" line. */
function simrunStack(stderr: string): number | undefined {
  const stack = /stack (\d+)/.exec(stderr);
  return stack ? 0x10ff - Number(stack[1]) : undefined;
}

/** simavr through simrun: sleep fast-forwarded, active cycles counted. */
function simrun(elf: string): SimRun {
  const r = simavr(elf);
  const end = /end \w+ (\d+) (\d+) (\d+)/.exec(r.stderr);
  const stack = simrunStack(r.stderr);
  if (!end) throw new Error(`simrun ${elf}: no end line:\n${r.stderr.slice(-500)}`);
  if (stack !== undefined) maxStack = Math.max(maxStack, stack);
  return { out: r.stdout, active: Number(end[2]) };
}

/**
 * The deepest stack (bytes below the top of RAM) of the MicaZ firmware image as shipped (SERIAL=1)
 * while it takes capsules over its UART and keeps them in its EEPROM (comp/serial.c, `terra load`'s
 * protocol): the three scenario scripts loaded in turn, each left running for 300 ms of wall time.
 */
async function serialLoadStack(): Promise<number> {
  const eeprom = join(BUILD, "bench/serial-eeprom.bin");
  mkdirSync(join(BUILD, "bench"), { recursive: true });
  rmSync(eeprom, { force: true });
  const p = startMicaz(join(BUILD, "micaz/terra-micaz.elf"), { eeprom });
  const ended = new Promise<void>((r) => p.on("exit", () => r()));
  let err = "";
  p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const link = streamLink(p.stdout!, p.stdin!);
  try {
    for (const app of ["bench_cpu", "bench_io", "bench_timer"]) {
      await sendCapsule(link, compileApp(app).capsule);
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    p.kill();
    await ended;
  }
  const stack = simrunStack(err);
  if (stack === undefined) throw new Error(`simrun: no stack line:\n${err.slice(-500)}`);
  return stack;
}

/** mspdebug's simulator through mspsim.sh: its stdout (console and tracer report). */
function mspsim(elf: string): string {
  const r = spawnSync(join(FIRMWARE_DIR, "platform/telosb/mspsim.sh"), [elf], { encoding: "utf8", maxBuffer: 1 << 28, timeout: 1_800_000 });
  if (r.error) throw r.error;
  return r.stdout;
}

/**
 * mspdebug with a BOARD_SKIP_SLEEP image: sleeping skips to the next clock
 * interrupt, so every MCLK cycle the tracer counts is an active one.
 */
function mspsimActive(elf: string): SimRun {
  const out = mspsim(elf);
  const mclk = /^MCLK:\s+(\d+)/m.exec(out);
  if (!mclk || !/^H$/m.test(out)) throw new Error(`mspsim ${elf}: the run did not end:\n${out.slice(-500)}`);
  return { out, active: Number(mclk[1]) };
}

/**
 * §8 scenarios run for 300 simulated seconds (30 with --quick, figures scaled
 * to 300 s) as firmware images (comp/rt.c) and as plain C (apps/native.c),
 * with the same board code and simulator for both.
 */
function timedScenarios(p: "micaz" | "telosb", names: readonly ("cpu" | "io" | "timer")[], quick: boolean, run: (elf: string) => SimRun, defs: string): Record<string, ScenarioResult> {
  const seconds = quick ? 30 : 300;
  // Stop just after the frames sent at `seconds`. The plain C loop sends at 10 s, 20 s, ...; the
  // script restarts its 10 s timer when the send completes (4 ms), so its 30th frame leaves at
  // 300.116 s. Counts are scaled by the time of the frame that carries them, active cycles by the
  // length of the run: both VMs and both loops are compared over the same 300 s.
  const stopMs = seconds * 1000 + 200;
  const per300 = (x: number, ms: number) => (x * 300_000) / ms;
  const appDefs = `-DRT_STOP_MS=${stopMs} -DRT_FRAME_TIME=1 ${defs}`.trim();
  const dir = join(BUILD, `bench/${p}`);
  mkdirSync(dir, { recursive: true });
  const res: Record<string, ScenarioResult> = {};
  for (const name of names) {
    const scenario = String({ cpu: 1, io: 2, timer: 3 }[name]);
    const app = `bench_${name}`;
    const { capsule } = compileApp(app);
    const cap = join(dir, `${app}.cap`);
    writeFileSync(cap, capsule);
    // the VM and its driver, without the serial loader of MicaZ's images (SERIAL=0: no UART receiver, no poll of it)
    make(p, ["app"], { APP_CAP: cap, OUT: dir, NAME: app, APP_DEFS: appDefs, SERIAL: "0" });
    make(p, ["native"], { SCENARIO: scenario, OUT: dir, APP_DEFS: appDefs });
    const vmElf = join(dir, `${app}.elf`), natElf = join(dir, `native-${scenario}.elf`);
    const vm = run(vmElf);
    const nat = run(natElf);
    const per = instructionsPerIteration(app);
    const f = lastFrame(vm.out, vmElf), nf = lastFrame(nat.out, natElf);
    const it = per300(f.count, f.ms);
    const nit = per300(nf.count, nf.ms);
    const active = per300(vm.active, stopMs);
    const nactive = per300(nat.active, stopMs);
    res[name] = {
      iterations: Math.round(it),
      active_cycles: Math.round(active),
      cycles_per_instruction: Number((active / (it * per)).toFixed(1)),
      native_iterations: Math.round(nit),
      native_active_cycles: Math.round(nactive),
      native_ratio: Number((nit / it).toFixed(2)),
      active_cycles_ratio: Number((active / nactive).toFixed(2)),
      instructions_per_iteration: Number(per.toFixed(2)),
    };
    if (p === "micaz") {
      // 300 s of the ATmega128 at 7.3728 MHz: the cycles not active are idle
      const total = 300 * 7_372_800;
      const e = cpuJoules(active, total - active), ne = cpuJoules(nactive, total - nactive);
      Object.assign(res[name], { cpu_energy_j: Number(e.toFixed(3)), native_cpu_energy_j: Number(ne.toFixed(3)), energy_ratio: Number((e / ne).toFixed(3)) });
    }
  }
  return res;
}

/** MCLK cycles between markers 1 and 2 of a TelosB image on mspdebug (tracer IO history). */
function mspCycles(elf: string): number {
  const marks = [...mspsim(elf).matchAll(/(\d+): write\.b => 0x0035 0x0([12])/g)].map((m) => ({ at: Number(m[1]), v: Number(m[2]) }));
  const a = marks.find((m) => m.v === 1), b = marks.find((m) => m.v === 2);
  if (!a || !b) throw new Error(`mspsim ${elf}: no markers`);
  return b.at - a.at;
}

/** Cycles between markers 1 and 2 of a MicaZ image on simavr (simrun's marker lines). */
function simrunCycles(elf: string): number {
  const r = simavr(elf);
  const at = (v: number) => Number(new RegExp(`^mark ${v} (\\d+)`, "m").exec(r.stderr)?.[1] ?? NaN);
  const d = at(2) - at(1);
  if (!(d > 0)) throw new Error(`simrun ${elf}: no markers:\n${r.stderr.slice(-300)}`);
  return d;
}

/**
 * The CPU-bound loop at a frozen clock (RT_FROZEN: no clock interrupt, so no
 * per-tick driver work): N iterations marker to marker, VM and plain C. Cycles
 * per iteration of the reaction path alone (the profile's unit).
 */
function frozenCpu(p: "micaz" | "telosb"): { cycles_per_iteration: number; native_cycles_per_iteration: number } {
  const dir = join(BUILD, `bench/${p}-frozen`);
  mkdirSync(dir, { recursive: true });
  const cap = join(dir, "bench_cpu.cap");
  writeFileSync(cap, compileApp("bench_cpu").capsule);
  const N = 2000;
  const defs = `-DRT_FROZEN=1 -DRT_STOP_ITER=${N}`;
  make(p, ["app"], { APP_CAP: cap, OUT: dir, NAME: "cpu", APP_DEFS: defs, SERIAL: "0" });
  make(p, ["native"], { SCENARIO: "1", OUT: dir, APP_DEFS: defs });
  const cycles = p === "micaz" ? simrunCycles : mspCycles;
  return {
    cycles_per_iteration: Number((cycles(join(dir, "cpu.elf")) / N).toFixed(1)),
    native_cycles_per_iteration: Number((cycles(join(dir, "native-1.elf")) / N).toFixed(1)),
  };
}

/** Callgrind: x86 instructions per VM instruction (marginal: 2N minus N reactions). */
function callgrind(bin: string, cap: string): number | null {
  if (spawnSync("sh", ["-c", "command -v valgrind"]).status !== 0) return null;
  const ir = (n: number) => {
    const r = spawnSync("valgrind", ["--tool=callgrind", "--callgrind-out-file=/dev/null", bin, cap, "--bench", String(n), "--rounds", "1"], { encoding: "utf8" });
    const m = /Collected : (\d+)/.exec(r.stderr);
    if (!m) throw new Error(`callgrind: ${r.stderr.slice(-300)}`);
    return Number(m[1]);
  };
  const n = 100_000;
  return Number(((ir(2 * n) - ir(n)) / (n * 4)).toFixed(1));
}

/**
 * ARM instructions per VM instruction on qemu (marginal: 2K minus K loop iterations of bench_loop).
 * @throws Error when an image does not build, or qemu's run does not end or logs no instruction.
 */
function armInstructions(dispatch: string): number {
  const dir = join(BUILD, `bench/samr21-${dispatch}`);
  mkdirSync(dir, { recursive: true });
  const count = (k: number): { lines: number; vm: number } => {
    const src = `#include "TerraNet.defs"\nvar ulong acc = 1;\nloop i, ${k} do\n  acc = acc * 3 + i;\n  if acc > 1000000 then acc = acc / 7; end\nend\nemit LEDS(acc);\n`;
    const r = compile("loop.terra", src, { includeDirs: [], builtinDir: builtinDefsDir(), readFile, sha256 });
    const cap = join(dir, `loop${k}.cap`);
    writeFileSync(cap, r.capsule!);
    make("samr21", ["app"], { APP_CAP: cap, OUT: dir, NAME: `loop${k}`, DISPATCH: dispatch, QEMU: "1", APP_DEFS: "-DRT_STOP_MS=0 -DRT_FROZEN" });
    const log = join(dir, `loop${k}.log`);
    // one log line per executed instruction (-singlestep); a run that does not end is cut after 60 s
    spawnSync("qemu-system-arm", ["-M", "microbit", "-display", "none", "-monitor", "none", "-serial", "none", "-semihosting",
      "-singlestep", "-d", "exec,nochain", "-D", log, "-kernel", join(dir, `loop${k}.elf`)], { timeout: 60_000 });
    const size = statSync(log).size;
    if (size > 2e9) {
      rmSync(log);
      throw new Error("qemu: the image did not end");
    }
    let lines = 0;
    const text = readFileSync(log, "latin1");
    for (let i = text.indexOf("Trace"); i >= 0; i = text.indexOf("Trace", i + 5)) lines++;
    rmSync(log);
    const { vm } = createMote(loadCapsule(r.capsule!, { sha256 }), r.config!, { nodeId: 1, sensors: constantSensors() });
    vm.boot();
    return { lines, vm: vm.stats.instructions };
  };
  const a = count(500), b = count(1000);
  if (a.lines === 0 || b.lines <= a.lines) throw new Error(`qemu: no instruction trace for the ${dispatch} image (${a.lines} and ${b.lines} lines)`);
  return Number(((b.lines - a.lines) / (b.vm - a.vm)).toFixed(1));
}

function tsRate(capsule: Uint8Array, cfg: Parameters<typeof createMote>[1], reactions: number, rounds: number): number {
  const { vm } = createMote(loadCapsule(capsule, { sha256 }), cfg, { nodeId: 1, sensors: constantSensors() });
  vm.boot();
  let best = 0;
  for (let k = 0; k < rounds; k++) {
    const i0 = vm.stats.instructions;
    const t0 = process.hrtime.bigint();
    vm.runPending(reactions);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.max(best, (vm.stats.instructions - i0) / dt);
  }
  return best;
}

registerBench({
  name: "c",
  description: "C VM: core and image sizes per platform, the §8 scenarios on simulated MicaZ and TelosB, host and ARM instructions per VM instruction",
  async run({ quick }) {
    const result: Record<string, Record<string, unknown>> = {};
    const rows: (string | number)[][] = [];
    for (const p of PLATFORMS) {
      make(p, ["all"]);
      const objs = p === "host" ? [join(BUILD, "host/core-switch.o")] : [join(BUILD, p, "core-engine.o"), join(BUILD, p, "core-verify.o")];
      const image = p === "host" ? join(BUILD, "host/terra-mote") : join(BUILD, p, `terra-${p}.elf`);
      const core = sizes(p, objs);
      const img = sizes(p, [image]);
      result[p] = { core_text_bytes: core.text + core.data, image_text_bytes: img.text, image_data_bytes: img.data, image_bss_bytes: img.bss, vm_ram_bytes: coreRam(p, objs) };
      if (p !== "host") {
        result[p].block_bytes = IMAGE_BLOCK_BYTES[p];
        result[p].core_parts_bytes = coreParts(p, objs[0], objs[1]);
      }
      if (p === "micaz") {
        const st = avrCoreStack(objs);
        result[p].vm_stack_bytes = st.bytes;
        result[p].vm_stack_path = st.path;
        const lst = join(BUILD, p, "core-engine.lst");
        make(p, [lst]);
        const react = symbols(p, objs[0]).find(([n]) => n === "react");
        if (!react) throw new Error("bench c: no react in the MicaZ engine object");
        result[p].interpreter_handler_bytes = avrHandlerBytes(readFileSync(lst, "utf8"), readFileSync(join(FIRMWARE_DIR, "core/engine.c"), "utf8"), react[1]);
      }
      if (p === "host") {
        const g = sizes(p, [join(BUILD, "host/core-goto.o")]);
        result[p].core_text_bytes_goto = g.text + g.data;
      }
    }
    // MicaZ scenarios (and the deepest stack they reach)
    const micaz = timedScenarios("micaz", ["cpu", "io", "timer"], quick, simrun, "");
    for (const [k, v] of Object.entries(micaz)) result.micaz[k] = v;
    result.micaz.serial_load_stack_bytes = await serialLoadStack();
    result.micaz.stack_bytes_max = Math.max(maxStack, result.micaz.serial_load_stack_bytes as number);
    result.micaz.cpu_frozen_clock = frozenCpu("micaz");
    const error = (e: unknown) => ({ error: (e as Error).message.slice(0, 200) });
    try {
      const method = "300 simulated seconds on mspdebug, sleep skipped to the next clock interrupt by the firmware (BOARD_SKIP_SLEEP): all counted MCLK cycles are active";
      for (const [k, v] of Object.entries(timedScenarios("telosb", ["cpu", "io", "timer"], quick, mspsimActive, "-DBOARD_SKIP_SLEEP=1"))) result.telosb[k] = { ...v, method };
      result.telosb.cpu_frozen_clock = frozenCpu("telosb");
    } catch (e) {
      result.telosb.cpu = result.telosb.io = result.telosb.timer = error(e);
    }
    // host: callgrind and TS/C ratio on the CPU-bound capsule
    const { capsule, cfg } = compileApp("bench_cpu");
    const cap = join(BUILD, "bench/bench_cpu.cap");
    mkdirSync(join(BUILD, "bench"), { recursive: true });
    writeFileSync(cap, capsule);
    const reactions = quick ? 200_000 : 2_000_000;
    const rounds = quick ? 3 : 7;
    const ts = tsRate(capsule, cfg, reactions, rounds);
    for (const d of ["switch", "goto"]) {
      const bin = join(BUILD, `host/terra-mote-${d}`);
      const out = JSON.parse(execFileSync(bin, [cap, "--bench", String(reactions), "--rounds", String(rounds)], { encoding: "utf8" })) as { best: number };
      result.host[`instructions_per_second_${d}`] = out.best;
      result.host[`c_over_ts_speed_${d}`] = Number((out.best / ts).toFixed(2));
      result.host[`x86_per_vm_instruction_${d}`] = callgrind(bin, cap);
      result.samr21[`arm_per_vm_instruction_${d}`] = armInstructions(d);
    }
    result.host.ts_instructions_per_second = Math.round(ts);
    for (const p of PLATFORMS) {
      const r = result[p];
      rows.push([p, r.core_text_bytes as number, r.image_text_bytes as number, r.vm_ram_bytes as number,
        (r.image_data_bytes as number) + (r.image_bss_bytes as number)]);
    }
    const sc = (name: string) => micaz[name];
    const scen: (string | number)[][] = (["cpu", "io", "timer"] as const).map((n) => [
      n, sc(n).iterations, sc(n).native_iterations, sc(n).native_ratio, sc(n).cycles_per_instruction, sc(n).active_cycles_ratio,
      n === "cpu" ? `${TERRA.cpu.iterations} / ${TERRA.cpu.ratio}x / ${TERRA.cpu.cycles_per_instruction} cyc` : `${TERRA[n].iterations} / ${(TERRA[n].active_cycles / TERRA[n].native_active_cycles).toFixed(2)}x active`,
    ]);
    const h = result.host;
    const fz = (r: Record<string, unknown>) => {
      const f = r.cpu_frozen_clock as { cycles_per_iteration: number; native_cycles_per_iteration: number } | undefined;
      return f ? `${f.cycles_per_iteration} / ${f.native_cycles_per_iteration}` : "-";
    };
    return {
      result: {
        ...result,
        terra: TERRA,
        quick,
      },
      table: [
        table(["platform", "core .text B", "image .text B", "VM RAM B", "image RAM B (static)"], rows),
        "",
        table(["core part (.text B)", "interpreter", "scheduler, timers, queues", "loader and verifier"], PLATFORMS.filter((p) => p !== "host").map((p) => {
          const c = result[p].core_parts_bytes as ReturnType<typeof coreParts>;
          return [p, c.interpreter, c.scheduler, c.loader_verifier];
        })),
        "",
        table(["MicaZ scenario (300 s)", "iterations", "native", "native ratio", "cycles/VM instr", "active ratio", "Terra"], scen),
        "",
        table(["MicaZ CPU energy (300 s)", "VM J", "plain C J", "ratio", "Terra / nesC J (Table 7)", "Terra ratio"], (["cpu", "io", "timer"] as const).map((n, k) => {
          const [t, c] = [TERRA_ENERGY_ROWS[2 * k], TERRA_ENERGY_ROWS[2 * k + 1]];
          return [n, sc(n).cpu_energy_j!, sc(n).native_cpu_energy_j!, sc(n).energy_ratio!, `${t.joules} / ${c.joules}`, (t.joules / c.joules).toFixed(3)];
        })),
        "",
        `CPU-bound loop at a frozen clock, cycles per iteration (VM / plain C): MicaZ ${fz(result.micaz)}, TelosB ${fz(result.telosb)}`,
        `MicaZ core: deepest C stack ${result.micaz.vm_stack_bytes} B (-fstack-usage along ${(result.micaz.vm_stack_path as string[]).join(" > ")}; callbacks not counted), ` +
          `with its static state ${(result.micaz.vm_stack_bytes as number) + (result.micaz.vm_ram_bytes as number)} B`,
        `MicaZ interpreter by handler (B, react's .text by source line): ${Object.entries(result.micaz.interpreter_handler_bytes as Record<string, number>).slice(0, 12).map(([k, v]) => `${k} ${v}`).join(", ")}, ...`,
        `MicaZ image: deepest stack ${result.micaz.stack_bytes_max} B (simavr; scenario runs ${maxStack} B, loading capsules over the UART ${result.micaz.serial_load_stack_bytes} B), so RAM in use ${(result.micaz.image_data_bytes as number) + (result.micaz.image_bss_bytes as number) + (result.micaz.stack_bytes_max as number)} of 4,096 B, the script's block ${result.micaz.block_bytes} B of it`,
        "",
        table(["TelosB scenario (300 s)", "iterations", "native", "native ratio", "cycles/VM instr", "active ratio"], (["cpu", "io", "timer"] as const).map((n) => {
          const r = result.telosb[n] as Partial<ScenarioResult> & { error?: string };
          return r.error ? [n, r.error.split("\n")[0], "", "", "", ""] : [n, r.iterations!, r.native_iterations!, r.native_ratio!, r.cycles_per_instruction!, r.active_cycles_ratio ?? "-"];
        })),
        "",
        table(["host / ARM", "switch", "goto"], [
          ["VM instructions/s", `${((h.instructions_per_second_switch as number) / 1e6).toFixed(0)} M`, `${((h.instructions_per_second_goto as number) / 1e6).toFixed(0)} M`],
          ["C / TS speed", h.c_over_ts_speed_switch as number, h.c_over_ts_speed_goto as number],
          ["x86 instr per VM instr", String(h.x86_per_vm_instruction_switch), String(h.x86_per_vm_instruction_goto)],
          ["ARM instr per VM instr", String(result.samr21.arm_per_vm_instruction_switch), String(result.samr21.arm_per_vm_instruction_goto)],
        ]),
      ].join("\n"),
    };
  },
});

export { resolve };
