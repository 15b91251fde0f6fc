/**
 * Stack sizes the capsule header announces (docs/vm.md "State"):
 * - eval stack: the compiler's code only branches at statement level, where
 *   the stack is empty, so one pass over the instructions in order gives the
 *   maximum depth (the verifier re-checks it over the control-flow graph);
 * - track stack: the verifier's bound (each spawn/emit/finend/killf and each
 *   finalizer and internal-event gate holds at most one pending track; an
 *   input or timer reaction pushes at most its gate list).
 */
import type { Capsule } from "../vm/capsule";
import { BY_NAME, popsOf } from "../vm/isa";
import type { Ins } from "./asm";

/** Maximum eval-stack depth, in cells. */
export function stackDepth(ins: Ins[]): number {
  let depth = 0;
  let max = 0;
  for (const i of ins) {
    const spec = BY_NAME.get(i.name)!;
    depth -= popsOf(spec, i.args.map((a) => (typeof a === "number" ? a : 0)));
    depth += spec.pushes;
    if (depth < 0) throw new Error(`compiler: eval stack underflow at ${i.name}`);
    max = Math.max(max, depth);
    if (spec.flow === "halt" || spec.flow === "jump" || spec.sync) depth = 0;
  }
  return max;
}

/** Track-stack entries the verifier requires (vm/verify.ts computes the same bound from the code). */
export function trackDepth(ins: Ins[], c: Pick<Capsule, "inputs" | "timers" | "internals">, finSlots: number): number {
  let n = finSlots;
  for (const i of ins) if (PUSHERS.has(i.name)) n++;
  for (const g of c.internals) n += g.length;
  return n + Math.max(0, c.timers.length, ...c.inputs.map((x) => x.gates.length));
}

const PUSHERS = new Set(["spawn", "spawnw", "emit", "finend", "killf"]);
