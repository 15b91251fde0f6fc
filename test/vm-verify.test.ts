/**
 * vm/verify.ts, rule by rule: each capsule below is also given to the C
 * verifier (terra-mote), which must accept it or reject it at the same byte,
 * for the same reason.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { CapsuleError, HEADER_BYTES, decodeCapsule, encodeCapsule } from "../vm/capsule";
import { Vm } from "../vm/engine";
import { VerifyError, loadCapsule, requiredBounds, verifyCapsule } from "../vm/verify";
import { runBatchC } from "../cli/cvm";
import { tsVerdict, type Verdict } from "./helpers/verdict";
import { type AsmSpec, buildCapsule, sha256 } from "./helpers/vmtest";

/** Code offset of a capsule with empty tables: header + 4 count bytes. */
const BASE = HEADER_BYTES + 4;

/**
 * The C verifier (firmware-host/core/verify.c, in terra-mote, built with
 * float support) on the same capsule: accepted, or rejected at the same byte
 * for the same reason.
 */
function sameInC(bytes: Uint8Array, opts: { float?: boolean }): void {
  if (opts.float === false) return;
  const [r] = runBatchC([{ capsule: bytes, verify: true }]) as unknown as { ok: Verdict }[];
  expect(r.ok, "the C verifier").toEqual(tsVerdict(bytes));
}

/** The error of class `kind` that rejects `bytes` (the C verifier checked too). */
function rejected<E extends Error>(bytes: Uint8Array, kind: new (...args: never[]) => E, opts: { float?: boolean } = {}): E {
  try {
    loadCapsule(bytes, { sha256, float: opts.float });
  } catch (e) {
    if (e instanceof kind) {
      sameInC(bytes, opts);
      return e;
    }
    throw e;
  }
  throw new Error("the capsule was accepted");
}

function rejection(spec: AsmSpec, opts: { float?: boolean } = {}): VerifyError {
  return rejected(buildCapsule(spec), VerifyError, opts);
}

function accepts(spec: AsmSpec, opts: { float?: boolean } = {}): void {
  const bytes = buildCapsule(spec);
  loadCapsule(bytes, { sha256, float: opts.float });
  sameInC(bytes, opts);
}

describe("verifier: instruction decoding", () => {
  test("an unassigned opcode", () => {
    const e = rejection({ asm: "halt\n.byte 0x2d" });
    expect(e.reason).toBe("unassigned opcode 0x2d");
    expect(e.pc).toBe(1);
    expect(e.offset).toBe(BASE + 1);
    expect(e.message).toBe(`code offset 0x0001 (capsule byte ${BASE + 1}): unassigned opcode 0x2d`);
  });

  test("an instruction running past the end of the code", () => {
    const e = rejection({ asm: "halt\n.byte 0x29, 1, 2" });
    expect(e.reason).toBe("truncated instruction: push32 takes 5 bytes, 3 left in the code");
    expect(e.pc).toBe(1);
  });

  test("execution falling through the end of the code", () => {
    const e = rejection({ asm: "push8 1\npop" });
    expect(e.reason).toBe("execution falls through past the end of the code after pop");
    expect(e.pc).toBe(2);
  });

  test("an await whose trail would resume past the end of the code", () => {
    const e = rejection({ asm: "await 0", inputs: [{ any: 5, gates: [0] }] });
    expect(e.reason).toBe("await resumes its trail past the end of the code");
  });

  test("float instructions in a VM without float support", () => {
    const e = rejection({ asm: "push8 1\ni2f\npop\nhalt", flags: 0 }, { float: false });
    expect(e.reason).toBe("float instruction i2f and this VM has no float support");
    expect(e.pc).toBe(2);
    accepts({ asm: "push8 1\ni2f\npop\nhalt" });
  });

  test("the Float flag in a VM without float support", () => {
    const e = rejection({ asm: "halt", flags: 1 }, { float: false });
    expect(e.reason).toBe("the capsule uses float (Float flag set) and this VM has no float support");
    expect(e.pc).toBeUndefined();
    expect(e.offset).toBe(3);
    expect(e.message).toBe("capsule byte 3: the capsule uses float (Float flag set) and this VM has no float support");
  });
});

describe("verifier: code targets", () => {
  test("a jump into the middle of an instruction", () => {
    // 0x0000 push8 0 ; 0x0002 jz 0x0005 (inside the push16 at 0x0004) ; ...
    const e = rejection({ asm: "push8 0\njz 5\npush16 7\npop\nhalt" });
    expect(e.reason).toBe("jump target 0x0005 is inside the instruction at 0x0004");
    expect(e.pc).toBe(2);
    expect(e.offset).toBe(BASE + 2);
  });

  test("a jump outside the code", () => {
    expect(rejection({ asm: "jmpw 0x0100" }).reason).toBe("jump target 0x0100 is outside the code (0x0003 bytes)");
    expect(rejection({ asm: ".byte 0x02, 0xf0" }).reason).toBe("jump target -0x000e is outside the code (0x0002 bytes)");
  });

  test("spawn, fin, finend, yield and kill targets", () => {
    // layout: 0x0000 <tested instruction>, then halt, push16 (3 bytes), pop, halt
    const tail = "halt\npush16 1\npop\nhalt";
    expect(rejection({ asm: `spawn 4\n${tail}` }).reason).toBe("spawn target 0x0004 is inside the instruction at 0x0003");
    expect(rejection({ asm: `spawnw 6\n${tail}` }).reason).toBe("spawnw target 0x0006 is inside the instruction at 0x0004");
    expect(rejection({ asm: `fin 0, 6\n${tail}` }).reason).toBe("fin target 0x0006 is inside the instruction at 0x0005");
    expect(rejection({ asm: `finend 0, 7\n${tail}` }).reason).toBe("finend target 0x0007 is inside the instruction at 0x0005");
    expect(rejection({ asm: `yield 0, 6\n${tail}`, asyncs: [] }).reason).toBe("yield target 0x0006 is inside the instruction at 0x0005");
    expect(rejection({ asm: `kill 0, 1, 8\n${tail}` }).reason).toBe("kill target 0x0008 is inside the instruction at 0x0006");
    expect(rejection({ asm: `killf 0, 1, 10, 1, 1\n${tail}` }).reason).toBe("killf target 0x000a is inside the instruction at 0x0008");
  });

  test("the entry point is an instruction start", () => {
    const e = rejection({ asm: "push8 1\npop\nhalt", entry: 1 });
    expect(e.reason).toBe("entry point 0x0001 is not the start of an instruction");
    expect(e.offset).toBe(20);
    expect(e.pc).toBeUndefined();
  });
});

describe("verifier: var area", () => {
  test("loads, stores and memory-to-memory instructions stay inside varBytes", () => {
    accepts({ asm: "ld.32 4\npop\nhalt", varBytes: 8 });
    expect(rejection({ asm: "ld.32 5\npop\nhalt", varBytes: 8 }).reason).toBe(
      "ld.32 accesses 4 bytes at var address 5, outside the 8-byte var area",
    );
    expect(rejection({ asm: "push8 1\nstw.16 7\nhalt", varBytes: 8 }).reason).toBe(
      "stw.16 accesses 2 bytes at var address 7, outside the 8-byte var area",
    );
    expect(rejection({ asm: "mov.32 0, 6\nhalt", varBytes: 8 }).reason).toBe(
      "mov.32 accesses 4 bytes at var address 6, outside the 8-byte var area",
    );
    expect(rejection({ asm: "copy 0, 4, 5\nhalt", varBytes: 8 }).reason).toBe(
      "copy accesses 5 bytes at var address 4, outside the 8-byte var area",
    );
    expect(rejection({ asm: "inc.16 7\nhalt", varBytes: 8 }).reason).toBe(
      "inc.16 accesses 2 bytes at var address 7, outside the 8-byte var area",
    );
    expect(rejection({ asm: "pusha 8\npop\nhalt", varBytes: 8 }).reason).toBe(
      "pusha accesses address at var address 8, outside the 8-byte var area",
    );
    expect(rejection({ asm: "outr 40, 2, 7\nhalt", varBytes: 8 }).reason).toBe(
      "outr accesses 7 bytes at var address 2, outside the 8-byte var area",
    );
  });

  test("ldx/stx: the whole array must fit", () => {
    accepts({ asm: "push8 0\nldx.u16 2, 3\npop\nhalt", varBytes: 8 });
    expect(rejection({ asm: "push8 0\nldx.u16 2, 4\npop\nhalt", varBytes: 8 }).reason).toBe(
      "ldx.u16 accesses an array of 4 × 2 bytes at var address 2, outside the 8-byte var area",
    );
    expect(rejection({ asm: "push8 0\npush8 0\nstx.32 0, 3\nhalt", varBytes: 8 }).reason).toBe(
      "stx.32 accesses an array of 3 × 4 bytes at var address 0, outside the 8-byte var area",
    );
  });

  test("evget fits the var area and the 64-byte event data buffer", () => {
    accepts({ asm: "evget 0, 64\nhalt", varBytes: 64 });
    expect(rejection({ asm: "evget 0, 65\nhalt", varBytes: 100 }).reason).toBe(
      "evget of 65 bytes exceeds the 64-byte event data buffer",
    );
    expect(rejection({ asm: "evget 40, 30\nhalt", varBytes: 64 }).reason).toBe(
      "evget accesses 30 bytes at var address 40, outside the 64-byte var area",
    );
  });
});

describe("verifier: control slots", () => {
  test("a slot operand out of range", () => {
    const e = rejection({ asm: "await 4\nhalt", slots: 4 });
    expect(e.reason).toBe("slot 4 is out of range (the capsule has 4 slots)");
    expect(e.pc).toBe(0);
  });

  test("a gate whose extra slots pass the last slot", () => {
    expect(rejection({ asm: "awaitt 2, 5\nhalt", slots: 4 }).reason).toBe("awaitt uses slots [2, 5), beyond the capsule's 4 slots");
    expect(rejection({ asm: "awaitk 3, 1\nhalt", slots: 4 }).reason).toBe("awaitk uses slots [3, 5), beyond the capsule's 4 slots");
  });

  test("kill and killf ranges", () => {
    accepts({ asm: "kill 4, 0, 0\nkillf 4, 0, 0, 4, 0\nhalt", slots: 4 });
    expect(rejection({ asm: "kill 2, 3, 0\nhalt", slots: 4 }).reason).toBe("kill clears slots [2, 5), beyond the capsule's 4 slots");
    expect(rejection({ asm: "killf 0, 1, 0, 3, 2\nhalt", slots: 4 }).reason).toBe(
      "killf runs finalizer slots [3, 5), beyond the capsule's 4 slots",
    );
  });

  test("a slot used in two roles", () => {
    const e = rejection({ asm: "await 0\nawaiti 0\nhalt" });
    expect(e.reason).toBe("slot 0 is used as an internal-event gate here and as an input gate by the instruction at 0x0000");
    expect(e.pc).toBe(2);
    expect(rejection({ asm: "awaitt 0, 1\njoin 2, 2\nhalt" }).reason).toBe(
      "slot 2 is used as a par/and counter here and as a timer gate by the instruction at 0x0000",
    );
  });

  test("a slot used by two instructions", () => {
    expect(rejection({ asm: "await 0\nawait 0\nhalt" }).reason).toBe("slot 0 is already used (an input gate) by the instruction at 0x0000");
    expect(rejection({ asm: "await 1\nawaitk 0, 3\nhalt" }).reason).toBe(
      "slot 1 is already used (an input gate) by the instruction at 0x0000",
    );
    // fin/finend share their slot, and so do async/yield
    accepts({ asm: "fin 0, f\nfinend 0, e\nf: halt\ne: halt" });
    accepts({ asm: "async 0\nl: yield 0, l", asyncs: [0] });
  });

  test("a killf finalizer range that holds a slot of another role", () => {
    const e = rejection({ asm: "await 0\nkillf 1, 0, 0, 0, 1\nhalt" });
    expect(e.reason).toBe("killf finalizer range [0, 1) includes slot 0, an input gate");
    expect(e.pc).toBe(2);
  });

  test("emit of an internal event the capsule does not have", () => {
    expect(rejection({ asm: "emit 1\nhalt", internals: [[]] }).reason).toBe("emit names internal event 1, the capsule has 1");
    accepts({ asm: "emit 0\nhalt", internals: [[]] });
  });
});

describe("verifier: tables", () => {
  // tables: inputs count @56, then per input: filtered id, any id, gate count, gates
  test("a gate of the wrong role", () => {
    const e = rejection({ asm: "awaiti 0\nhalt", inputs: [{ any: 5, gates: [0] }] });
    expect(e.reason).toBe("input table 0 lists slot 0, which is not an input gate (it is an internal-event gate)");
    expect(e.offset).toBe(HEADER_BYTES + 4);
    expect(e.pc).toBeUndefined();
    expect(rejection({ asm: "await 0\nhalt", timers: [0] }).reason).toBe(
      "the timer table lists slot 0, which is not a timer gate (it is an input gate)",
    );
    expect(rejection({ asm: "halt", asyncs: [0], slots: 1 }).reason).toBe(
      "the async table lists slot 0, which is not an async gate (it is an unused slot)",
    );
  });

  test("the second slot of a gate", () => {
    expect(rejection({ asm: "awaitt 0, 1\nhalt", timers: [1] }).reason).toBe(
      "the timer table lists slot 1, which is not a timer gate (it is the second or third slot of a timer gate)",
    );
  });

  test("a gate listed twice, out of order, or in two lists", () => {
    const asm = "spawn b\nawait 0\nhalt\nb: await 1\nhalt";
    expect(rejection({ asm, inputs: [{ any: 5, gates: [0, 0] }] }).reason).toBe("input table 0 lists slot 0 twice");
    const e = rejection({ asm, inputs: [{ any: 5, gates: [1, 0] }] });
    expect(e.reason).toBe("input table 0 lists slot 0 after slot 1 (gates must be in ascending order)");
    expect(e.offset).toBe(HEADER_BYTES + 5);
    expect(rejection({ asm, inputs: [{ any: 5, gates: [0] }, { any: 6, gates: [0, 1] }] }).reason).toBe(
      "input table 1 lists slot 0, which another table entry already lists",
    );
    accepts({ asm, inputs: [{ any: 5, gates: [0, 1] }] });
  });

  test("a table slot out of range", () => {
    expect(rejection({ asm: "await 0\nhalt", inputs: [{ any: 5, gates: [9] }], slots: 2 }).reason).toBe(
      "input table 0 lists slot 9, out of range (the capsule has 2 slots)",
    );
  });

  test("the two ERROR forms in different tables", () => {
    const e = rejection({ asm: "spawn b\nawait 0\nhalt\nb: await 1\nhalt", inputs: [{ filtered: 0, gates: [0] }, { any: 1, gates: [1] }] });
    expect(e.reason).toBe("the ERROR input's two forms (ids 0 and 1) are in different input tables");
    accepts({ asm: "spawn b\nawait 0\nhalt\nb: await 1\nhalt", inputs: [{ filtered: 0, any: 1, gates: [0, 1] }] });
  });

  test("an input id listed twice", () => {
    const e = rejection({ asm: "spawn b\nawait 0\nhalt\nb: await 1\nhalt", inputs: [{ any: 5, gates: [0] }, { filtered: 5, gates: [1] }] });
    expect(e.reason).toBe("input id 5 is listed twice in the input table");
    expect(e.offset).toBe(HEADER_BYTES + 1 + 4);
  });
});

describe("capsule tables: their bytes must be exactly the tables", () => {
  /** {asm: "await 0; halt"} with one input table, its table area grown or shrunk by `delta` bytes (the code moves with it). */
  function resized(delta: number): Uint8Array {
    const ok = buildCapsule({ asm: "await 0\nhalt", inputs: [{ any: 5, gates: [0] }] });
    const dv = new DataView(ok.buffer, ok.byteOffset);
    const tables = dv.getUint16(22, true), code = dv.getUint16(12, true);
    const b = new Uint8Array(ok.length + Math.max(delta, 0));
    b.set(ok.subarray(0, HEADER_BYTES + tables));
    b.set(ok.subarray(HEADER_BYTES + tables), HEADER_BYTES + tables + Math.max(delta, 0));
    const bv = new DataView(b.buffer);
    bv.setUint16(22, tables + delta, true);
    if (delta < 0) bv.setUint16(12, code - delta, true);
    b.set(sha256(b.subarray(HEADER_BYTES)), 24);
    return b;
  }

  test("a byte after the last table", () => {
    const e = rejected(resized(1), CapsuleError);
    expect(e.message).toMatch(/1 unused bytes at the end of the tables/);
  });

  test("the tables running past their area into the code", () => {
    const e = rejected(resized(-1), CapsuleError);
    expect(e.message).toMatch(/tables end inside/);
  });
});

describe("verifier: eval stack", () => {
  test("underflow", () => {
    const e = rejection({ asm: "push8 1\nadd\npop\nhalt" });
    expect(e.reason).toBe("stack underflow: add pops 2 with 1 on the stack");
    expect(e.pc).toBe(2);
  });

  test("overflow beyond stackCells", () => {
    accepts({ asm: "push8 1\npush8 2\nadd\npop\nhalt", stackCells: 2 });
    const e = rejection({ asm: "push8 1\npush8 2\nadd\npop\nhalt", stackCells: 1 });
    expect(e.reason).toBe("stack overflow: push8 leaves 2 cells, the capsule allows 1");
    expect(e.pc).toBe(2);
  });

  test("a branch or jump that leaves cells on the stack", () => {
    // the condition is popped, a cell pushed before it stays: the two paths would reach m with different depths
    const e = rejection({ asm: "push8 1\npush8 2\njz m\npop\nm: halt" });
    expect(e.reason).toBe("stack not empty at jz (1 cells left): jumps and branches need an empty eval stack");
    expect(e.pc).toBe(4);
    const j = rejection({ asm: "push8 1\njmp m\nm: pop\nhalt" });
    expect(j.reason).toBe("stack not empty at jmp (1 cells left): jumps and branches need an empty eval stack");
    expect(j.pc).toBe(2);
  });

  test("falling into a jump target with cells on the stack", () => {
    const e = rejection({ asm: "push8 1\njz m\npush8 5\nm: push8 0\npop\nhalt" });
    expect(e.reason).toBe("stack not empty at a jump target or trail entry: the instruction before falls into it with 1 cells");
    expect(e.pc).toBe(6);
  });

  test("dead code is checked as if reached with an empty stack", () => {
    const e = rejection({ asm: "jmp m\nadd\nm: halt" });
    expect(e.reason).toBe("stack underflow: add pops 2 with 0 on the stack");
    expect(e.pc).toBe(2);
  });

  test("a non-empty stack where control passes to other trails", () => {
    const e = rejection({ asm: "push8 1\nawait 0\npop\nhalt", inputs: [{ any: 5, gates: [0] }] });
    expect(e.reason).toBe("stack not empty at await (1 cells left): control passes to other trails here");
    expect(e.pc).toBe(2);
    expect(rejection({ asm: "push8 1\nspawn x\nx: pop\nhalt" }).reason).toBe(
      "stack not empty at spawn (1 cells left): control passes to other trails here",
    );
    // awaitx and awaittv take their operand first: the stack is empty after it
    accepts({ asm: "push8 3\nawaitx 0\nhalt", inputs: [{ filtered: 5, gates: [0] }] });
    accepts({ asm: "push8 3\nawaittv 0\nhalt", timers: [0] });
  });

  test("a non-empty stack at a trail entry", () => {
    // the spawn target is a trail entry, also reached by falling through with a cell on the stack
    const e = rejection({ asm: "spawn t\npush8 1\nt: pop\nhalt" });
    expect(e.reason).toBe("stack not empty at a jump target or trail entry: the instruction before falls into it with 1 cells");
    expect(e.pc).toBe(4);
  });
});

describe("verifier: track depth", () => {
  test("trackDepth must cover spawns, emits, finends, killfs, fin slots, internal gates and the widest list", () => {
    const spec: AsmSpec = {
      asm: `
        spawn a            ; 1 pusher
        spawn b            ; 2
        await 0
        halt
     a: await 1
        halt
     b: awaiti 2
        emit 0            ; 3
        halt
      `,
      inputs: [{ any: 5, gates: [0, 1] }], // widest list: 2
      internals: [[2]], // 1 internal gate
    };
    const bytes = buildCapsule(spec);
    expect(requiredBounds(decodeCapsule(bytes)).trackDepth).toBe(6);
    accepts({ ...spec, trackDepth: 6 });
    const e = rejection({ ...spec, trackDepth: 5 });
    expect(e.reason).toBe(
      "trackDepth 5 is too small: 3 spawn/emit/finend/killf + 0 finalizers + 1 internal-event gates + 2 gates of the widest input or timer list need 6",
    );
    expect(e.offset).toBe(18);
  });
});

describe("capsule decoding", () => {
  test("a body hash mismatch", () => {
    const bytes = buildCapsule({ asm: "halt" });
    bytes[bytes.length - 1] ^= 1;
    expect(() => loadCapsule(bytes, { sha256 })).toThrow(CapsuleError);
    expect(() => loadCapsule(bytes, { sha256 })).toThrow("capsule byte 24: body hash mismatch: the capsule was corrupted or tampered with");
  });

  test("a truncated capsule", () => {
    const bytes = buildCapsule({ asm: "push8 1\npop\nhalt" });
    expect(() => loadCapsule(bytes.subarray(0, bytes.length - 1), { sha256 })).toThrow(/truncated: header announces/);
    expect(() => loadCapsule(bytes.subarray(0, 10), { sha256 })).toThrow(/truncated: 10 bytes, a capsule header alone is 56/);
  });

  test("an empty code section", () => {
    const bytes = encodeCapsule(
      { flags: 0, programVersion: 1, configId: 0, varBytes: 0, slots: 0, stackCells: 0, trackDepth: 0, blockBytes: 64, entry: 0,
        inputs: [], timers: [], internals: [], asyncs: [], code: new Uint8Array(0) },
      sha256,
    );
    expect(() => loadCapsule(bytes, { sha256 })).toThrow(new VerifyError("the code is empty", 12));
  });

  test("only verified capsules run", () => {
    const c = decodeCapsule(buildCapsule({ asm: "halt" }));
    expect(() => new Vm(c as never, { output() {}, call: () => 0 })).toThrow(/not verified/);
    expect(() => new Vm(verifyCapsule(c), { output() {}, call: () => 0 })).not.toThrow();
  });
});

// ---- fuzzing: corrupted capsules are rejected, or run safely -----------------------------------

/** Valid capsules exercising most instruction kinds and every table. */
const CORPUS: AsmSpec[] = [
  {
    asm: `
        spawn t2
        spawn t3
   t1:  awaitt 0, 10
        ld.32 0
        push8 3
        add
        dup
        st.32 0
        outv 5
        jmp t1
   t2:  await 3
        evld.u16
        dup
        st.16 4
        push8 0
        ldx.u8 8, 4
        outv 6
        push8 7
        divu
        pop
        jmpw t2
   t3:  awaitk 4, 2
        emit 0
        jmp t3
   t4:  halt
    `,
    inputs: [{ any: 5, filtered: 4, gates: [3, 4] }],
    timers: [0],
    internals: [[]],
    varBytes: 16,
  },
  {
    asm: `
        fin 9, fz
        spawn b
        awaitt 0, 3
        killf 3, 3, b, 9, 1
        outk 1, 1
        async 6
        halt
    fz: outk 1, 2
        halt
    b:  awaiti 3
        push32 1.5f
        push32 2.5f
        mulf
        f2i
        outv 2
        halt
    a1: push8 1
        callv 4, 1
        yield 6, a1
    `,
    timers: [0],
    internals: [[3]],
    asyncs: [6],
    varBytes: 8,
    slots: 10,
  },
];

function mutate(bytes: Uint8Array, flips: { at: number; xor: number }[]): Uint8Array {
  const b = bytes.slice();
  // one flip in five hits a header field (flags .. table bytes), the others the body (tables and code)
  for (const f of flips) {
    if (f.at % 5 === 0) b[3 + ((f.at / 5) % 21)] ^= f.xor;
    else b[HEADER_BYTES + (f.at % (b.length - HEADER_BYTES))] ^= f.xor;
  }
  // re-hash so that the verifier, not the hash, has to catch the corruption
  return encodeCapsule({ ...decodeCapsule(b) }, sha256);
}

describe("verifier: fuzzing", () => {
  test("the corpus is valid and runs", () => {
    for (const spec of CORPUS) accepts(spec);
  });

  test("property: byte flips of valid capsules are rejected, or run boundedly without exceptions", () => {
    let ran = 0;
    let rejected = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...CORPUS.map((s) => buildCapsule(s))),
        fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.record({ id: fc.integer({ min: 0, max: 8 }), aux: fc.integer({ min: 0, max: 4 }), v: fc.integer() }), { maxLength: 20 }),
        (orig, flips, inputs) => {
          let bytes: Uint8Array;
          try {
            bytes = mutate(orig, flips);
          } catch (e) {
            // the flip broke the table structure: encodeCapsule/decodeCapsule refuse it
            expect(e instanceof CapsuleError || (e as Error).message.startsWith("capsule:")).toBe(true);
            rejected++;
            return;
          }
          let c;
          try {
            c = loadCapsule(bytes, { sha256 });
          } catch (e) {
            expect(e instanceof VerifyError || e instanceof CapsuleError).toBe(true);
            rejected++;
            return;
          }
          ran++;
          runHostile(c, inputs);
        },
      ),
      { numRuns: 1500 },
    );
    expect(ran).toBeGreaterThan(10);
    expect(rejected).toBeGreaterThan(10);
  });

  test("property: truncations are rejected with CapsuleError", () => {
    fc.assert(
      fc.property(fc.constantFrom(...CORPUS.map((s) => buildCapsule(s))), fc.nat(), (bytes, n) => {
        const cut = bytes.subarray(0, n % bytes.length);
        expect(() => loadCapsule(cut, { sha256 })).toThrow(CapsuleError);
      }),
    );
  });
});

/** Run a verified (possibly hostile) capsule for a bounded number of reactions; nothing may escape the VM. */
function runHostile(c: ReturnType<typeof loadCapsule>, inputs: { id: number; aux: number; v: number }[]): void {
  let vm!: Vm;
  vm = new Vm(
    c,
    {
      output(_id, value) {
        if (typeof value !== "number") expect(value.length).toBeLessThanOrEqual(c.varBytes);
      },
      call(_id, args) {
        return args.length;
      },
      error() {},
    },
    { instructionLimit: 10_000 },
  );
  vm.boot();
  let k = 0;
  for (let reactions = 0; reactions < 200 && !vm.halted; reactions++) {
    if (vm.step()) continue;
    if (k < inputs.length) {
      vm.enqueue(inputs[k].id, inputs[k].aux, inputs[k].v);
      k++;
      continue;
    }
    const nd = vm.nextDeadline();
    if (nd === undefined) break;
    vm.advanceTo(nd);
  }
  expect(vm.stats.maxReactionInstructions).toBeLessThanOrEqual(10_000 + c.code.length + 1);
}
