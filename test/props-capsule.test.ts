/**
 * Corrupted capsules of real scripts (random bit flips, truncation) are
 * rejected by the loader with a CapsuleError/VerifyError naming a byte, or,
 * when the damage keeps them valid, run without any exception escaping the VM.
 * Without the hash check (a radio link's per-block check may be all a mote
 * has) the verifier alone must still keep the VM safe.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CapsuleError } from "../vm/capsule";
import { runVirtual } from "../vm/driver";
import { Vm } from "../vm/engine";
import { loadCapsule, VerifyError } from "../vm/verify";
import { mustBuild, sha256 } from "./helpers/script";

const capsules = ["counter", "alarm", "monitor", "patterns"].map((n) => mustBuild(readFileSync(`examples/${n}.terra`, "utf8")).capsule!);

const silentHost = { output: () => {}, call: () => 0 };

/** Load and, if accepted, run for a while with random inputs; returns "rejected" or "ran". */
function tryCapsule(bytes: Uint8Array, withHash: boolean): "rejected" | "ran" {
  let cap;
  try {
    cap = loadCapsule(bytes, withHash ? { sha256 } : {});
  } catch (e) {
    expect(e instanceof CapsuleError || e instanceof VerifyError).toBe(true);
    expect((e as Error).message).toMatch(/byte \d+/);
    return "rejected";
  }
  const vm = new Vm(cap, silentHost, { instructionLimit: 100_000 });
  const inputs = Array.from({ length: 20 }, (_, i) => ({ at: i * 50, id: [1, 5, 6, 14, 44, 45, 46][i % 7], aux: i & 3, data: i * 37 }));
  runVirtual(vm, inputs, 5000);
  return "ran";
}

describe("corrupted capsules", () => {
  it("a flipped bit anywhere is caught by the body hash (or the header checks)", () => {
    fc.assert(fc.property(fc.constantFrom(...capsules), fc.nat(), fc.integer({ min: 0, max: 7 }), (c, pos, bit) => {
      const b = c.slice();
      const at = pos % b.length;
      b[at] ^= 1 << bit;
      const r = tryCapsule(b, true);
      // only a flip in header fields the hash does not cover (e.g. the program version) can still load
      if (r === "ran") expect(at).toBeLessThan(24);
    }), { numRuns: 400 });
  });

  it("without the hash, the verifier alone keeps damaged capsules from hurting the VM", () => {
    let ran = 0;
    fc.assert(fc.property(fc.constantFrom(...capsules), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (c, edits) => {
      const b = c.slice();
      for (const [pos, v] of edits) b[56 + (pos % (b.length - 56))] = v;
      if (tryCapsule(b, false) === "ran") ran++;
    }), { numRuns: 400 });
    expect(ran).toBeGreaterThan(0); // some damage is harmless (e.g. a changed constant) and must still run safely
  });

  it("every truncation is rejected with the byte at fault", () => {
    for (const c of capsules) {
      for (let n = 0; n < c.length; n++) expect(tryCapsule(c.subarray(0, n), false)).toBe("rejected");
    }
  });
});
