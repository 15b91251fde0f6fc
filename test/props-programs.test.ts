/**
 * Random well-formed programs (test/helpers/genprog.ts) with random input
 * traces: the TypeScript VM never throws, and no reaction executes more VM
 * instructions than the compiler's bound (`max_instructions_per_reaction`,
 * and the bound of that reaction's kind). Mutated programs (lines dropped,
 * repeated or swapped, tokens replaced or inserted, numbers pushed to their
 * limits): the compiler answers with diagnostics at a line, never throws.
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

const TOKENS = ["await", "emit", "par/or", "par/and", "par", "do", "end", "with", "loop", "break", "if", "then", "else", "var", "ubyte", "ulong", "float", "event", "return", "async", "finally", "FOREVER", "1s", "10ms", "0", "-1", "65536", "x", "v0", "(", ")", "[", "]", ";", ",", "=", "+", "/", "<<", "not", ".", "TEMP", "LEDS", "RECEIVE", "pktype", "sizeof", "null", "<ubyte>", "inc", "0.5", "1e40", "#define X 3", "{", "}"];
const arbMutation = fc.record({ kind: fc.nat(5), line: fc.nat(), other: fc.nat(), token: fc.constantFrom(...TOKENS), n: fc.constantFrom(0, 255, 65536, 4294967295, 99999999999) });

it("mutated programs: the compiler reports diagnostics at a line, never throws", () => {
  let rejected = 0;
  fc.assert(
    fc.property(arbCase(), fc.array(arbMutation, { minLength: 1, maxLength: 4 }), (c, muts) => {
      const lines = c.source.split("\n");
      for (const m of muts) {
        const i = m.line % lines.length;
        const words = lines[i].split(/(\s+)/);
        if (m.kind === 0) lines.splice(i, 1);
        else if (m.kind === 1) lines.splice(i, 0, lines[m.other % lines.length]);
        else if (m.kind === 2) [lines[i], lines[m.other % lines.length]] = [lines[m.other % lines.length], lines[i]];
        else if (m.kind === 3) lines[i] = lines[i].replace(/\d+/, String(m.n));
        else {
          words.splice(m.other % (words.length + 1), m.kind === 4 ? 1 : 0, ` ${m.token} `);
          lines[i] = words.join("");
        }
      }
      const r = compileSource(lines.join("\n"));
      if (!r.ok) {
        rejected++;
        expect(r.diagnostics.filter((d) => d.severity === "error").every((d) => d.line >= 1 && d.message.length > 0)).toBe(true);
      }
    }),
    { numRuns: 400 },
  );
  expect(rejected).toBeGreaterThan(100);
});
