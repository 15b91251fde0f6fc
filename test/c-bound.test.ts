/**
 * The compiler's bound `report.max_instructions_per_reaction` must hold for
 * every reaction. Two small scripts exceeded it (found with the random
 * programs of test/helpers/genprog.ts while testing the C VM; fixed in
 * compiler/bound.ts by commit 4b43e5a), kept here as regression tests, with
 * a property over generated programs:
 *
 * 1. An async block's first slice runs the code between `async` and the
 *    loop head (`set.8` of the loop counter) before the first iteration:
 *    11 instructions, the bound was 10.
 * 2. `emit` of an internal event in a par/and whose other branch awaits it:
 *    the boot reaction runs 8 instructions (spawn, awaiti, set.16, emit, jmp,
 *    join, join, halt), the bound was 7.
 *
 * A long straight run of code (about 1,000 instructions) threw a RangeError
 * from the analysis' recursion, which now runs on an explicit stack.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { runMote } from "../components/run";
import { parseTrace } from "../components/trace";
import { loadCapsule } from "../vm/verify";
import { arbCase, compileSource } from "./helpers/genprog";

const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());

function maxReaction(source: string): { max: number; bound: number | null } {
  const r = compileSource(source);
  expect(r.ok, r.diagnostics.map((d) => d.message).join("\n")).toBe(true);
  const res = runMote(loadCapsule(r.capsule!, { sha256 }), r.config!, { trace: [], until: 1000 });
  return { max: res.stats.maxReactionInstructions, bound: r.report!.max_instructions_per_reaction };
}

describe("the compiler's bound on VM instructions per reaction holds", () => {
  test("an async block whose first slice starts before its loop head", () => {
    const { max, bound } = maxReaction(`#include "TerraNet.defs"
var short v0;
async (v0) do
	loop i0, 3 do
		v0 = v0 + 1;
	end
end
emit LED0(v0);
`);
    expect(max).toBe(11);
    expect(max).toBeLessThanOrEqual(bound!);
  });

  test("a straight run of 3,000 statements (30 KB of code): bounded exactly, without exhausting the call stack", () => {
    // the analysis walked one JavaScript call per instruction: about 1,000 instructions threw a RangeError
    // out of `terra compile` (a 1.7 KB script that fits MicaZ's script space)
    const { max, bound } = maxReaction(`#include "TerraNet.defs"\nvar ulong v;\n${"v = v * 3 + 7;\n".repeat(3000)}await FOREVER;\n`);
    expect(max).toBeGreaterThan(3000);
    expect(bound).toBe(max);
  });

  test("an internal event emitted to a par/and's other branch", () => {
    const { max, bound } = maxReaction(`#include "TerraNet.defs"
event short e0;
par/and do
	await e0;
with
	emit e0(1);
end
await FOREVER;
`);
    expect(max).toBe(8);
    expect(max).toBeLessThanOrEqual(bound!);
  });

  test("property: generated programs never exceed the bound", () => {
    fc.assert(
      fc.property(arbCase(), (c) => {
        const r = compileSource(c.source);
        const trace = parseTrace("trace.json", JSON.stringify(c.trace), r.config!);
        const res = runMote(loadCapsule(r.capsule!, { sha256 }), r.config!, { trace, until: c.until });
        const bound = r.report!.max_instructions_per_reaction;
        return bound === null || res.stats.maxReactionInstructions <= bound;
      }),
      { numRuns: 1000, seed: 42 },
    );
  }, 120_000);
});
