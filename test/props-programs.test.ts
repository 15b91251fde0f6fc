/**
 * Random well-formed programs (test/helpers/genprog.ts) with random input
 * traces: the TypeScript VM never throws, and no reaction executes more VM
 * instructions than the compiler's bound (`max_instructions_per_reaction`,
 * and the bound of that reaction's kind).
 */
import fc from "fast-check";
import { expect, it } from "vitest";
import { runMote } from "../components/run";
import { parseTrace } from "../components/trace";
import { loadCapsule } from "../vm/verify";
import { arbCase, compileSource } from "./helpers/genprog";
import { sha256 } from "./helpers/script";

it("random programs run without exceptions and within the compile-time bound", () => {
  let bounded = 0;
  fc.assert(
    fc.property(arbCase(), (c) => {
      const r = compileSource(c.source);
      expect(r.ok, r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join("\n")).toBe(true);
      const trace = parseTrace("gen.json", JSON.stringify(c.trace), r.config!);
      const res = runMote(loadCapsule(r.capsule!, { sha256 }), r.config!, { trace, until: c.until, seed: c.seed });
      const bound = r.report!.max_instructions_per_reaction;
      if (bound !== null) {
        bounded++;
        expect(res.stats.maxReactionInstructions).toBeLessThanOrEqual(bound);
      }
    }),
    { numRuns: 300 },
  );
  expect(bounded).toBeGreaterThan(250);
});
