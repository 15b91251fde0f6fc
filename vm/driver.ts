/**
 * The virtual-time driver: runs a Vm against a trace of timed inputs,
 * following docs/vm.md "Order of work" exactly, with logical time only
 * (no wall clock). Used by `terra run`, the simulator and the tests.
 *
 * Time semantics:
 * - The VM is booted at its current `now` (0 for a fresh VM) if it has not
 *   been booted yet.
 * - `runVirtual(vm, inputs, until)` runs every reaction whose logical time is
 *   strictly before `until`: work at exactly `until` (a timer deadline, an
 *   input with `at === until`) is left for the next call. When it returns,
 *   `vm.now === until` (every active timer then has a deadline >= until).
 *   Consecutive calls with increasing `until` therefore cover time without
 *   gaps or overlaps: [now, until1), [until1, until2), ...
 * - Inputs are fed one at a time, only when the VM is idle at the current
 *   time (no timer due, empty queue, no active async): then `now` advances to
 *   the earlier of the next timer deadline and the next input's `at` (an
 *   input whose `at` is already past is due now), and a timer due at the same
 *   ms as an input fires first. The input is then enqueued and handled in its
 *   own reaction; inputs the host enqueues during reactions are handled
 *   before the next trace input, at the same logical time.
 * - Async slices take no logical time: while an async block is active, time
 *   does not advance and trace inputs wait. More than `maxAsyncSlices`
 *   (default 1e6) slices at one logical time throw a StallError (an async
 *   block that never finishes would otherwise hang the driver).
 * - Reactions take no logical time either: inputs that components raise
 *   during reactions (an output answered at once, as REQ_CUSTOM by CUSTOM)
 *   react at the same time. More than `maxReactions` (default 1e6) reactions
 *   without the VM becoming idle throw a StallError (a
 *   loop of such inputs, which on a mote runs as fast as the CPU allows,
 *   would otherwise hang the driver and fill memory with outputs).
 */
import type { Vm } from "./engine";

export interface TimedInput {
  /** Logical time (ms) at which the occurrence happens; non-decreasing along a trace. */
  at: number;
  id: number;
  aux: number;
  data: number | Uint8Array;
}

export interface RunVirtualOptions {
  /** Async slices allowed at one logical time before the driver gives up (default 1e6). */
  maxAsyncSlices?: number;
  /** Reactions (ERROR reactions included, async slices not) allowed without the VM becoming idle (default 1e6). */
  maxReactions?: number;
}

/**
 * Virtual time cannot advance: the mote is never idle at one logical time,
 * because an async block does not finish or inputs raised during reactions
 * keep it reacting (stallMessage). terra-mote stops with the same message
 * and exit code 3.
 */
export class StallError extends Error {
  override name = "StallError";
}

/**
 * Run `vm` with the trace `inputs` until logical time `until` (exclusive).
 * @returns the number of trace inputs fed (the rest have `at >= until`, or the program halted).
 * @throws RangeError when `until < vm.now` or the trace is not ordered by time;
 *   StallError when an async block runs more than `maxAsyncSlices` slices at one
 *   logical time, or more than `maxReactions` reactions run without the VM becoming idle.
 */
export function runVirtual(vm: Vm, inputs: readonly TimedInput[], until: number, opts: RunVirtualOptions = {}): number {
  const maxSlices = opts.maxAsyncSlices ?? STALL_LIMIT;
  const maxReactions = opts.maxReactions ?? STALL_LIMIT;
  if (!Number.isSafeInteger(until) || until < vm.now) {
    throw new RangeError(`runVirtual: until ${until} is not an integer time >= now (${vm.now})`);
  }
  for (let k = 1; k < inputs.length; k++) {
    if (!(inputs[k].at >= inputs[k - 1].at)) {
      throw new RangeError(`runVirtual: input ${k} at ${inputs[k].at} comes before input ${k - 1} at ${inputs[k - 1].at}`);
    }
  }
  if (!vm.booted) vm.boot();
  let next = 0;
  let slices = 0; // async slices run at the current logical time
  let reactions = 0; // reactions since the VM was last idle
  const stats = vm.stats;
  for (;;) {
    if (vm.halted || vm.now >= until) break;
    // All work due now, in chunks small enough to stop exactly after maxSlices + 1 slices.
    const before = stats.asyncSlices, reactionsBefore = stats.reactions;
    const ran = vm.runPending(Math.min(4096, maxSlices - slices + 1));
    const ranSlices = stats.asyncSlices - before;
    slices += ranSlices;
    reactions += stats.reactions - reactionsBefore - ranSlices; // stats.reactions counts the slices too
    if (slices > maxSlices) throw new StallError(stallMessage("async", maxSlices, vm.now));
    if (reactions > maxReactions) throw new StallError(stallMessage("reactions", maxReactions, vm.now));
    if (ran > 0) continue;
    reactions = 0;
    // Idle at now: advance to the next timer or trace input.
    const nd = vm.nextDeadline();
    const ni = next < inputs.length ? Math.max(inputs[next].at, vm.now) : undefined;
    if (nd === undefined && ni === undefined) break;
    if (nd !== undefined && (ni === undefined || nd <= ni)) {
      if (nd >= until) break;
      if (nd > vm.now) slices = 0;
      vm.advanceTo(nd);
    } else {
      const t = ni!;
      if (t >= until) break;
      if (t > vm.now) slices = 0;
      vm.advanceTo(t);
      const inp = inputs[next++];
      vm.enqueue(inp.id, inp.aux, inp.data);
    }
  }
  if (vm.now < until) vm.advanceTo(until);
  return next;
}

/** The default of `maxAsyncSlices` and `maxReactions` (terra-mote's TC_STALL_LIMIT, firmware-host/comp/components.h). */
export const STALL_LIMIT = 1e6;

/**
 * The message of a StallError, word for word terra-mote's (firmware-host/platform/host/main.c).
 * @param kind what did not stop: async slices, or reactions to inputs raised during reactions
 */
export function stallMessage(kind: "async" | "reactions", max: number, at: number): string {
  return kind === "async"
    ? `more than ${max} async slices at logical time ${at} ms: an async block is not finishing ` +
        "(virtual time does not advance while an async block runs)"
    : `more than ${max} reactions at logical time ${at} ms without the mote becoming idle: inputs raised ` +
        "during reactions keep it busy (a loop awaiting an input that a component raises at once, as CUSTOM " +
        "after emit REQ_CUSTOM), and virtual time only advances when the mote is idle";
}

/** A wall clock for runRealtime: ms since the run started, and a way to wait. */
export interface WallClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The platform's clock (performance.now and setTimeout exist in browsers and Node alike). */
export function systemClock(): WallClock {
  const t0 = performance.now();
  return { now: () => performance.now() - t0, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
}

/**
 * Like runVirtual, but logical time follows the wall clock: a reaction at
 * logical time T happens when T ms have passed since the start. Each step
 * runs everything due (virtually, so results equal runVirtual's), then
 * sleeps until the next timer or input. Resolves with the inputs fed.
 */
export async function runRealtime(vm: Vm, inputs: readonly TimedInput[], until: number, clock: WallClock = systemClock(), opts: RunVirtualOptions = {}): Promise<number> {
  let fed = 0;
  while (!vm.halted && vm.now < until) {
    const wall = Math.min(until, Math.floor(clock.now()) + 1);
    if (wall > vm.now) fed += runVirtual(vm, inputs.slice(fed), wall, opts);
    if (vm.halted || vm.now >= until) break;
    const nd = vm.nextDeadline();
    const ni = fed < inputs.length ? inputs[fed].at : undefined;
    const next = Math.min(nd ?? Infinity, ni ?? Infinity, until);
    const wait = next - clock.now();
    if (wait > 0) await clock.sleep(wait);
  }
  return fed;
}
