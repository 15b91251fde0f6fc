/**
 * The C loader implements vm/capsule.ts decodeCapsule and vm/verify.ts
 * check for check: on mutated capsules (random byte changes in the header,
 * tables and code, with the body hash recomputed so that the verifier's own
 * rules are reached; truncations; extensions) both VMs accept, or both reject
 * at the same byte offset. Accepted mutants also run on both VMs with the
 * same results (raw host: no configuration).
 *
 * C_VERIFY_BASES (default 60) and C_VERIFY_SEED (default 7) set the generated
 * programs the mutants of the second test come from (60 mutants each).
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { expect, test } from "vitest";
import { runBatchC, type CJob } from "../cli/cvm";
import { HEADER_BYTES } from "../vm/capsule";
import { runVirtual } from "../vm/driver";
import { Vm } from "../vm/engine";
import { loadCapsule } from "../vm/verify";
import { arbCase, compileSource } from "./helpers/genprog";
import { tsVerdict, type Verdict } from "./helpers/verdict";

const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());
const BASES = Number(process.env.C_VERIFY_BASES ?? 60);
const SEED = Number(process.env.C_VERIFY_SEED ?? 7);

function mutate(base: Uint8Array, rnd: () => number): Uint8Array {
  const kind = rnd() % 10;
  let b: Uint8Array;
  if (kind === 0) b = base.slice(0, rnd() % base.length);
  else if (kind === 1) {
    b = new Uint8Array(base.length + 1 + (rnd() % 4));
    b.set(base);
  } else {
    b = base.slice();
    const n = 1 + (rnd() % 3);
    for (let i = 0; i < n; i++) {
      // favour the header's size fields and the code
      const p = rnd() % 4 === 0 ? 12 + (rnd() % 12) : rnd() % b.length;
      b[p] = rnd() % 3 === 0 ? b[p] ^ (1 << (rnd() % 8)) : rnd() & 0xff;
    }
  }
  if (b.length >= HEADER_BYTES && rnd() % 5 !== 0) b.set(sha256(b.subarray(HEADER_BYTES)), 24);
  return b;
}

/** perBase mutants of each of `bases` generated programs' capsules (deterministic). */
function mutants(bases: number, perBase: number, seed: number): Uint8Array[] {
  const caps = fc.sample(arbCase(), { numRuns: bases, seed }).map((c) => compileSource(c.source).capsule!);
  let state = 12345 + seed;
  const rnd = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const out: Uint8Array[] = [];
  for (const b of caps) for (let k = 0; k < perBase; k++) out.push(mutate(b, rnd));
  return out;
}

test("the C verifier's 16-bit header sums (AVR, MSP430) give the verdicts of the 32-bit ones", () => {
  const ms = mutants(40, 80, 11);
  const jobs = ms.map((capsule) => ({ capsule, verify: true }));
  const [sum16, sum32] = [runBatchC(jobs, { variant: "sum16" }), runBatchC(jobs, { variant: "sum32" })];
  ms.forEach((m, i) => expect(sum16[i], `mutant ${i}: ${Buffer.from(m).toString("hex")}`).toEqual(sum32[i]));
  const verdicts = sum32 as unknown as { ok: { accepted: boolean } }[];
  const rejected = verdicts.filter((v) => !v.ok.accepted).length;
  expect(rejected).toBeGreaterThan(ms.length / 2);
  expect(rejected).toBeLessThan(ms.length);
}, 300_000);

test("mutated capsules: both VMs accept, or reject at the same byte for the same reason", () => {
  const ms = mutants(BASES, 60, SEED);
  const got = runBatchC(ms.map((capsule) => ({ capsule, verify: true }))) as unknown as { ok: Verdict }[];
  let accepted = 0;
  const runnable: Uint8Array[] = [];
  ms.forEach((m, i) => {
    const want = tsVerdict(m);
    expect(got[i].ok, `mutant ${i}: ${Buffer.from(m).toString("hex")}`).toEqual(want);
    if (want.accepted) {
      accepted++;
      runnable.push(m);
    }
  });
  expect(accepted).toBeGreaterThan(20);
  expect(accepted).toBeLessThan(ms.length / 2);

  // accepted mutants run the same on both VMs (recording host, 10 s of virtual time, watchdog)
  const jobs: CJob[] = runnable.map((capsule) => ({ capsule, raw: true, until: 10_000, instructionLimit: 100_000, maxAsyncSlices: 1000 }));
  const res = runBatchC(jobs);
  runnable.forEach((m, i) => {
    const outputs: unknown[] = [];
    const errors: unknown[] = [];
    const calls: unknown[] = [];
    let vm: Vm | undefined;
    let threw = false;
    try {
      vm = new Vm(loadCapsule(m, { sha256 }), {
        output: (id, v) => outputs.push({ id, value: typeof v === "number" ? v : Array.from(v), at: vm!.now }),
        call: (id, a) => (calls.push({ id, args: Array.from(a), at: vm!.now }), 0),
        error: (code, pc) => errors.push({ code, pc, at: vm!.now }),
      }, { instructionLimit: 100_000 });
      runVirtual(vm, [], 10_000, { maxAsyncSlices: 1000 });
    } catch {
      threw = true;
    }
    const r = res[i];
    if (threw) {
      expect("error" in r, `mutant ${i}: TS throws, C does not`).toBe(true);
      return;
    }
    expect("ok" in r ? "ok" : (r as { error: string }).error).toBe("ok");
    const ok = (r as { ok: Record<string, unknown> }).ok;
    expect({ outputs: ok.outputs, errors: ok.errors, calls: ok.calls, halted: ok.halted, now: ok.now }, `mutant ${i}`).toEqual({
      outputs, errors, calls, halted: vm!.halted, now: vm!.now,
    });
  });
}, 300_000);
