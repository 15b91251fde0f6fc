/**
 * Every test program of the TypeScript VM's tests (vm-engine, vm-ops,
 * vm-driver, vm-verify: hand-written assembly with input traces) also runs
 * on the C VM, and the two must agree: this file re-runs those test files
 * with test/helpers/vmtest.ts wrapped so that
 *  - each `runAsm` (build, verify, run in virtual time with the recording
 *    host) is repeated by terra-mote --raw, and outputs, errors, function
 *    calls, statistics, halted and the final time must be identical (or both
 *    must reject the capsule at the same byte, or both fail);
 *  - every capsule `buildCapsule` makes is verified by both VMs: both accept
 *    it or both reject it at the same byte offset.
 * Runs whose host is scripted in JavaScript (onOutput/call callbacks), a
 * queue capacity other than 8 or a VM without float support have no C
 * counterpart and are compared on the TypeScript side only.
 */
import { afterAll, expect, test, vi } from "vitest";
import type { CJobResult } from "../cli/cvm";

const shared = vi.hoisted(() => ({ capsules: [] as Uint8Array[], compared: 0, skipped: 0 }));

vi.mock("./helpers/vmtest", async (importOriginal) => {
  const orig = await importOriginal<typeof import("./helpers/vmtest")>();
  const { runBatchC } = await import("../cli/cvm");
  const { expect: ex } = await import("vitest");
  type Spec = Parameters<typeof orig.runAsm>[0];
  type Opts = NonNullable<Parameters<typeof orig.runAsm>[1]>;
  const rawInputs = (opts: Opts) =>
    (opts.inputs ?? []).map((i) => ({
      at: i.at,
      id: i.id >= 0 && i.id < 255 ? i.id : 255,
      aux: i.aux,
      value: typeof i.data === "number" ? i.data : Array.from(i.data),
    }));
  const errorOffset = (e: unknown): number | undefined =>
    e && typeof e === "object" && "offset" in e ? (e as { offset: number }).offset : undefined;
  return {
    ...orig,
    buildCapsule(spec: Spec): Uint8Array {
      const b = orig.buildCapsule(spec);
      shared.capsules.push(b);
      return b;
    },
    runAsm(spec: Spec, opts: Opts = {}) {
      let ts: ReturnType<typeof orig.runAsm> | undefined;
      let tsErr: unknown;
      try {
        ts = orig.runAsm(spec, opts);
      } catch (e) {
        tsErr = e;
      }
      const scripted = opts.onOutput || opts.call || (opts.queueCapacity !== undefined && opts.queueCapacity !== 8) || opts.float === false;
      let bytes: Uint8Array | undefined;
      try {
        bytes = orig.buildCapsule(spec);
      } catch {
        bytes = undefined;
      }
      if (scripted || !bytes) {
        shared.skipped++;
        if (tsErr) throw tsErr;
        return ts!;
      }
      shared.compared++;
      const off = errorOffset(tsErr);
      if (tsErr && off !== undefined) {
        // the TypeScript VM rejected the capsule: the C VM must reject it at the same byte
        const [v] = runBatchC([{ capsule: bytes, verify: true }]) as unknown as { ok: { accepted: boolean; offset?: number } }[];
        ex(v.ok.accepted, "C VM accepts a capsule the TS VM rejects").toBe(false);
        ex(v.ok.offset, "reject offset").toBe(off);
        throw tsErr;
      }
      const [c] = runBatchC([{
        capsule: bytes, raw: true, trace: rawInputs(opts), until: opts.until ?? 1_000_000,
        instructionLimit: opts.instructionLimit, maxAsyncSlices: opts.maxAsyncSlices,
      }]) as CJobResult[];
      if (tsErr) {
        ex("error" in c, `the TS VM failed (${(tsErr as Error).message}) and the C VM did not`).toBe(true);
        throw tsErr;
      }
      ex("ok" in c ? "ok" : (c as { error: string }).error).toBe("ok");
      const r = (c as { ok: Record<string, unknown> }).ok;
      const t = ts!;
      const st = t.vm.stats;
      ex({
        outputs: r.outputs, errors: r.errors, calls: r.calls, stats: r.stats, halted: r.halted, now: r.now,
      }).toEqual({
        outputs: t.outputs,
        errors: t.errors,
        calls: t.calls,
        stats: {
          reactions: st.reactions, instructions: st.instructions, maxReactionInstructions: st.maxReactionInstructions,
          queueOverflows: st.queueOverflows, errors: st.errors, droppedErrors: st.droppedErrors, asyncSlices: st.asyncSlices,
        },
        halted: t.vm.halted,
        now: t.vm.now,
      });
      return t;
    },
  };
});

// the TypeScript VM's test files, run again here with the wrapped helpers
import "./vm-engine.test";
import "./vm-ops.test";
import "./vm-driver.test";
import "./vm-verify.test";

afterAll(async () => {
  const { runBatchC } = await import("../cli/cvm");
  const { loadCapsule } = await import("../vm/verify");
  const { createHash } = await import("node:crypto");
  const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());
  const caps = shared.capsules;
  if (process.env.C_VECTORS_VERBOSE) console.log(`compared ${shared.compared} runs, skipped ${shared.skipped}, verified ${caps.length} capsules`);
  const res = runBatchC(caps.map((capsule) => ({ capsule, verify: true }))) as unknown as { ok: { accepted: boolean; offset?: number } }[];
  caps.forEach((b, i) => {
    let off: number | undefined;
    try {
      loadCapsule(b, { sha256 });
    } catch (e) {
      off = (e as { offset: number }).offset;
    }
    expect({ accepted: res[i].ok.accepted, offset: res[i].ok.offset }).toEqual({ accepted: off === undefined, offset: off });
  });
});

test("the wrapped helpers compared runs on both VMs", () => {
  // (runs after the imported files' tests are collected; the counts grow as they run)
  expect(shared.compared + shared.skipped).toBeGreaterThanOrEqual(0);
});
