/**
 * The trail scheduler, timers, inputs and errors of docs/vm.md and
 * SEMANTICS.md, on hand-written assembly. Outputs are traced as
 * "id:value@time"; `outk 1, n` marks "this code ran".
 */
import { describe, expect, test } from "vitest";
import { Vm, VmAccessError } from "../vm/engine";
import { runVirtual } from "../vm/driver";
import { type AsmSpec, type RunOptions, type RunResult, buildCapsule, inp, makeVm, runAsm } from "./helpers/vmtest";

const A = 5;
const B = 6;

function trace(r: RunResult): string[] {
  return r.outputs.map((o) => `${o.id}:${Array.isArray(o.value) ? `[${o.value.join(",")}]` : o.value}@${o.at}`);
}

/** Only the values of `outk 1, n` marks. */
function marks(r: RunResult): number[] {
  return r.outputs.filter((o) => o.id === 1).map((o) => o.value as number);
}

function run(spec: AsmSpec, opts: RunOptions = {}): RunResult {
  return runAsm(spec, { until: 100_000, ...opts });
}

describe("trails: par, par/and, par/or", () => {
  test("par: branch 1 runs first, branch 2 when branch 1 first halts (spawn is LIFO)", () => {
    const r = run({
      asm: `
          spawn b3
          spawn b2
          outk 1, 1       ; branch 1
          outk 1, 11
          await 0
          halt
      b2: outk 1, 2
          halt
      b3: outk 1, 3
          halt
      `,
      inputs: [{ any: A, gates: [0] }],
    });
    expect(marks(r)).toEqual([1, 11, 2, 3]);
  });

  test("par/and rejoins when all trails have terminated, and its counter resets for the next time", () => {
    const r = run(
      {
        asm: `
      top: spawn b2
           await 0          ; branch 1: A
           outk 1, 1
           jmp j
      b2:  await 1          ; branch 2: B
           outk 1, 2
      j:   join 2, 2
           outk 1, 99
           jmp top
        `,
        inputs: [{ any: A, gates: [0] }, { any: B, gates: [1] }],
      },
      { inputs: [inp(1, A), inp(2, A), inp(3, B), inp(4, B), inp(5, A)] },
    );
    // the second A (t=2) finds branch 1 already done; B at t=3 completes the par/and
    expect(trace(r)).toEqual(["1:1@1", "1:2@3", "1:99@3", "1:2@4", "1:1@5", "1:99@5"]);
  });

  const parOr = `
          spawn b2
      b1: await 0            ; branch 1 awaits A
          outk 1, 1
          jmp k
      b2: await 1            ; branch 2 awaits A too (second gate), or B
          outk 1, 2
      k:  kill 0, 3, 0       ; par/or rejoin: abort the region [0, k)
          outk 1, 9
          await 2
          halt
  `;

  test("par/or kills the other trails, including one already awakened in the same reaction", () => {
    const r = run({ asm: parOr, inputs: [{ any: A, gates: [0, 1] }, { any: B, gates: [2] }] }, { inputs: [inp(5, A), inp(6, A)] });
    // both branches wake on A; branch 1 runs first and aborts branch 2 before it runs
    expect(trace(r)).toEqual(["1:1@5", "1:9@5"]);
  });

  test("par/or: the code after it runs once, whichever branch ends it", () => {
    const r = run({ asm: parOr, inputs: [{ any: A, gates: [0] }, { any: B, gates: [1, 2] }] }, { inputs: [inp(5, B), inp(6, A), inp(7, B)] });
    expect(trace(r)).toEqual(["1:2@5", "1:9@5"]);
  });

  test("par/or aborts the timers of the trails it kills", () => {
    const r = run(
      {
        asm: `
            spawn b2
            await 0
            outk 1, 1
            jmp k
        b2: awaitt 1, 50
            outk 1, 2
        k:  kill 0, 4, 0
            outk 1, 9
            halt
        `,
        inputs: [{ any: A, gates: [0] }],
        timers: [1],
      },
      { inputs: [inp(10, A)] },
    );
    expect(trace(r)).toEqual(["1:1@10", "1:9@10"]);
    expect(r.vm.nextDeadline()).toBeUndefined();
  });

  test("par/or kills a pending emit continuation inside the region", () => {
    const r = run(
      {
        asm: `
            spawn b2
        b1: awaiti 2          ; internal event 0
            outk 1, 1
            jmp k
        b2: await 0           ; A
            emit 0            ; wakes b1, which ends the par/or
            outk 1, 2         ; the emitter's continuation: aborted
            halt
        k:  kill 0, 3, 0
            outk 1, 9
            halt
        `,
        inputs: [{ any: A, gates: [0] }],
        internals: [[2]],
      },
      { inputs: [inp(1, A)] },
    );
    expect(marks(r)).toEqual([1, 9]);
  });

  test("kill keeps the order of the tracks it does not drop", () => {
    // four trails wake on A; trail 2 kills trail 3's region only; trails 1, 2, 4 run in text order
    const r = run(
      {
        asm: `
            spawnw t4
            spawnw t3
            spawn t2
        t1: await 0
            outk 1, 1
            halt
        t3: await 2          ; inside the region t2 kills
            outk 1, 3
            halt
        t2: await 1
            outk 1, 2
            kill 2, 1, t3    ; drops t3's pending track, keeps t4's
            outk 1, 22
            halt
        t4: await 3
            outk 1, 4
            halt
        `,
        inputs: [{ any: A, gates: [0, 1, 2, 3] }],
      },
      { inputs: [inp(1, A)] },
    );
    expect(marks(r)).toEqual([1, 2, 22, 4]);
  });
});

describe("internal events", () => {
  test("emit runs the awaiting trails in text order, then resumes the emitter; nested emits resume LIFO", () => {
    const r = run(
      {
        asm: `
            spawn t2
            spawn t1
            await 0           ; main: wait for A
            outk 1, 0
            emit 0
            outk 1, 4         ; main resumes last
            halt
        t1: awaiti 1          ; e1
            outk 1, 1
            emit 1            ; nested emit of e2
            outk 1, 3         ; t1 resumes after t2 and t3
            halt
        t2: awaiti 2          ; e2, first gate
            outk 1, 20
            halt
        t3: halt
        `,
        inputs: [{ any: A, gates: [0] }],
        internals: [[1], [2]],
      },
      { inputs: [inp(1, A)] },
    );
    expect(marks(r)).toEqual([0, 1, 20, 3, 4]);
  });

  test("two trails awaiting one event run in text order", () => {
    const r = run(
      {
        asm: `
            spawn t2
            spawn t1
            await 0
            emit 0
            outk 1, 9
            halt
        t1: awaiti 1
            outk 1, 1
            halt
        t2: awaiti 2
            outk 1, 2
            halt
        `,
        inputs: [{ any: A, gates: [0] }],
        internals: [[1, 2]],
      },
      { inputs: [inp(1, A)] },
    );
    expect(marks(r)).toEqual([1, 2, 9]);
  });

  test("a trail re-awaiting the event it woke on is not woken again by that emit; an emit nobody awaits does nothing", () => {
    const r = run(
      {
        asm: `
            spawn t1
            await 0
            emit 0
            outk 1, 8
            emit 0
            outk 1, 9
            halt
        t1: awaiti 1
            outk 1, 1
            jmp t1
        `,
        inputs: [{ any: A, gates: [0] }],
        internals: [[1]],
      },
      { inputs: [inp(1, A)] },
    );
    expect(marks(r)).toEqual([1, 8, 1, 9]);
  });
});

describe("inputs", () => {
  test("an await armed during a reaction is not woken by that reaction's occurrence", () => {
    const r = run(
      {
        asm: `
            await 0
            outk 1, 1
            await 1
            outk 1, 2
            halt
        `,
        inputs: [{ any: A, gates: [0, 1] }],
      },
      { inputs: [inp(3, A), inp(7, A)] },
    );
    expect(trace(r)).toEqual(["1:1@3", "1:2@7"]);
  });

  test("filtered gates wake on a matching selector, unfiltered gates on every occurrence of either id", () => {
    const r = run(
      {
        asm: `
            spawn t3
            spawn t2
        t1: awaitk 0, 3        ; RECEIVE(3)
            outk 1, 1
            jmp t1
        t2: await 2            ; RECEIVE
            outk 1, 2
            jmp t2
        t3: push8 7
            awaitx 3           ; RECEIVE(7), selector from the stack
            outk 1, 3
            jmp t3
        `,
        inputs: [{ filtered: 44, any: 45, gates: [0, 2, 3] }],
      },
      {
        inputs: [
          { at: 1, id: 45, aux: 3, data: 0 },
          { at: 2, id: 44, aux: 7, data: 0 },
          { at: 3, id: 44, aux: 9, data: 0 },
          { at: 4, id: 44, aux: 3 + 256, data: 0 }, // the selector is a byte
          { at: 5, id: 99, aux: 3, data: 0 }, // nobody awaits id 99: discarded
        ],
      },
    );
    expect(trace(r)).toEqual(["1:1@1", "1:2@1", "1:2@2", "1:3@2", "1:2@3", "1:1@4", "1:2@4"]);
    expect(r.vm.stats.reactions).toBe(6);
  });

  test("scalar data: evld widths with sign and zero extension", () => {
    const r = run(
      {
        asm: `
        l:  await 0
            evld.u8
            outv 2
            evld.i8
            outv 2
            evld.u16
            outv 2
            evld.i16
            outv 2
            evld.32
            outv 2
            jmp l
        `,
        inputs: [{ any: A, gates: [0] }],
      },
      { inputs: [inp(1, A, -2), inp(2, A, 0x12345678)] },
    );
    expect(r.values).toEqual([0xfe, -2, 0xfffe, -2, -2, 0x78, 0x78, 0x5678, 0x5678, 0x12345678]);
  });

  test("before the first input occurrence the event data reads as zeros (the C loader's state shares its buffer)", () => {
    const r = run({
      asm: `
          evld.32
          outv 2
          evget 0, 64
          outr 3, 0, 32
          outr 3, 32, 32
          halt
      `,
      varBytes: 64,
    });
    expect(r.values).toEqual([0, new Array(32).fill(0), new Array(32).fill(0)]);
  });

  test("record data: evget copies bytes, the buffer is zero-filled and truncated at 64 bytes", () => {
    const big = Uint8Array.from({ length: 70 }, (_, i) => i + 1);
    const r = run(
      {
        asm: `
        l:  await 0
            evget 0, 64
            outr 3, 60, 4
            outr 3, 0, 2
            jmp l
        `,
        inputs: [{ any: A, gates: [0] }],
        varBytes: 64,
      },
      { inputs: [inp(1, A, big), inp(2, A, Uint8Array.from([9, 8])), inp(3, A, 0x01020304)] },
    );
    expect(r.values).toEqual([[61, 62, 63, 64], [1, 2], [0, 0, 0, 0], [9, 8], [0, 0, 0, 0], [4, 3]]);
  });

  test("queue overflow: occurrences beyond the capacity are dropped and counted", () => {
    const r = run(
      {
        asm: `
            out 23
        l:  await 0
            outk 1, 1
            jmp l
        `,
        inputs: [{ any: A, gates: [0] }],
      },
      {
        queueCapacity: 2,
        onOutput: (id, _v, vm) => {
          if (id === 23) for (let k = 0; k < 3; k++) vm.enqueue(A, 0, k);
        },
      },
    );
    expect(marks(r)).toEqual([1, 1]);
    expect(r.vm.stats.queueOverflows).toBe(1);
  });

  test("inputs enqueued by the host during a reaction are handled after it, at the same logical time", () => {
    const r = run(
      {
        asm: `
        l:  await 0
            outk 1, 1
            out 9             ; REQ_TEMP: the host answers with TEMP
            await 1
            evld.u16
            outv 2
            jmp l
        `,
        inputs: [{ any: A, gates: [0] }, { any: 7, gates: [1] }],
      },
      { inputs: [inp(4, A), inp(4, A)], onOutput: (id, _v, vm) => id === 9 && vm.enqueue(7, 0, 321) },
    );
    // the second trace input at t=4 comes after the host's answer to the first
    expect(trace(r)).toEqual(["1:1@4", "9:0@4", "2:321@4", "1:1@4", "9:0@4", "2:321@4"]);
  });
});

describe("timers", () => {
  test("timers expire in deadline order", () => {
    const r = run({
      asm: `
          spawn t2
          awaitt 0, 20
          outk 1, 20
          halt
      t2: awaitt 3, 10
          outk 1, 10
          halt
      `,
      timers: [0, 3],
    });
    expect(trace(r)).toEqual(["1:10@10", "1:20@20"]);
  });

  test("timers with the same deadline expire in one reaction, in text order", () => {
    const r = run({
      asm: `
          spawn t3
          spawn t2
          awaitt 0, 10
          outk 1, 1
          halt
      t2: awaittw 3, 10
          outk 1, 2
          halt
      t3: awaitt32 6, 10
          outk 1, 3
          halt
      `,
      timers: [0, 3, 6],
    });
    expect(trace(r)).toEqual(["1:1@10", "1:2@10", "1:3@10"]);
    expect(r.vm.stats.reactions).toBe(2); // boot + one timer reaction
  });

  test("lateness compensation: awaitt 10 and two awaitt 5 expire together", () => {
    const r = run({
      asm: `
          spawn t2
          awaitt 0, 10
          outk 1, 1
          halt
      t2: awaitt 3, 5
          outk 1, 5
          awaitt 6, 5
          outk 1, 2
          halt
      `,
      timers: [0, 3, 6],
    });
    expect(trace(r)).toEqual(["1:5@5", "1:1@10", "1:2@10"]);
    expect(r.vm.stats.reactions).toBe(3);
  });

  test("a timer due at the same ms as an input fires first", () => {
    const r = run(
      {
        asm: `
            spawn t2
            await 0
            outk 1, 1
            halt
        t2: awaitt 3, 10
            outk 1, 2
            halt
        `,
        inputs: [{ any: A, gates: [0] }],
        timers: [3],
      },
      { inputs: [inp(10, A)] },
    );
    expect(trace(r)).toEqual(["1:2@10", "1:1@10"]);
  });

  test("awaitts counts seconds, awaittv pops ms, awaitt32 takes 32 bits", () => {
    const r = run(
      {
        asm: `
            awaitts 0, 2
            outk 1, 1
            push16 1500
            awaittv 3
            outk 1, 2
            awaitt32 6, 100000
            outk 1, 3
            halt
        `,
        timers: [0, 3, 6],
      },
      { until: 1_000_000 },
    );
    expect(trace(r)).toEqual(["1:1@2000", "1:2@3500", "1:3@103500"]);
  });

  test("awaittv 0 fires in the next reaction at the same time, not in the one that armed it", () => {
    const r = run({
      asm: `
          push8 0
          awaittv 0
          outk 1, 1
          halt
      `,
      timers: [0],
    });
    expect(trace(r)).toEqual(["1:1@0"]);
    expect(r.vm.stats.reactions).toBe(2);
  });

  test("deadlines wrap mod 2^32 while now keeps counting", () => {
    const { vm, outputs } = makeVm(
      buildCapsule({
        asm: `
            awaitt 0, 10
            call 3, 0          ; getTime
            outv 2
            awaitt32 3, 0xffffffff
            outk 1, 1
            halt
        `,
        timers: [0, 3],
      }),
      { call: (_id, _args, v) => v.now % 2 ** 32 },
    );
    vm.now = 2 ** 32 - 4;
    vm.boot();
    expect(vm.nextDeadline()).toBe(2 ** 32 + 6);
    runVirtual(vm, [], 2 ** 32 + 7);
    expect(outputs).toEqual([{ id: 2, value: 6, at: 2 ** 32 + 6 }]);
    expect(vm.nextDeadline()).toBe(2 ** 32 + 6 + 0xffffffff);
    runVirtual(vm, [], 2 ** 33 + 6);
    expect(outputs.at(-1)).toEqual({ id: 1, value: 1, at: 2 ** 32 + 6 + 0xffffffff });
  });

  test("advanceTo refuses to skip a timer or go back", () => {
    const { vm } = makeVm(buildCapsule({ asm: "awaitt 0, 10\nhalt", timers: [0] }));
    vm.boot();
    expect(vm.nextDeadline()).toBe(10);
    expect(() => vm.advanceTo(11)).toThrow(RangeError);
    vm.advanceTo(10);
    expect(() => vm.advanceTo(9)).toThrow(RangeError);
    expect(() => vm.advanceTo(10.5)).toThrow(RangeError);
    expect(vm.step()).toBe(true);
    expect(vm.nextDeadline()).toBeUndefined();
    vm.advanceTo(1e6);
    expect(vm.step()).toBe(false);
  });
});

describe("runtime errors", () => {
  const errorHandler = `
      eh: await 10              ; ERROR (any form)
          evld.u8
          outv 7
          jmp eh
  `;

  test("division by zero gives 0, is reported, and an ERROR reaction follows at the same time", () => {
    const r = run(
      {
        asm: `
            spawn eh
            await 0
            push8 5
            push8 0
            div
            outv 2
            outk 1, 1
            halt
        ${errorHandler}
        `,
        inputs: [{ any: A, gates: [0] }, { filtered: 0, any: 1, gates: [10] }],
      },
      { inputs: [inp(3, A)] },
    );
    expect(trace(r)).toEqual(["2:0@3", "1:1@3", "7:10@3"]);
    expect(r.errors).toEqual([{ code: 10, pc: 8, at: 3 }]);
    expect(r.vm.stats.errors).toBe(1);
    expect(r.vm.stats.reactions).toBe(3);
  });

  test("each error of a reaction gets its own ERROR reaction, in fault order; ERROR(code) filters", () => {
    const r = run(
      {
        asm: `
            spawn f
            spawn eh
            push8 1
            push8 0
            mod
            push8 9
            ldx.u8 0, 4      ; index 9 of 4
            add
            outv 2
            push8 -1
            push8 5
            stx.8 0, 4       ; index 0xffffffff of 4: skipped
            ld.u8 0
            outv 3
            halt
        f:  awaitk 11, 11     ; ERROR(11)
            outk 1, 11
            jmp f
        ${errorHandler}
        `,
        inputs: [{ filtered: 0, any: 1, gates: [10, 11] }],
        varBytes: 4,
      },
    );
    expect(trace(r)).toEqual(["2:0@0", "3:0@0", "7:10@0", "7:11@0", "1:11@0", "7:11@0", "1:11@0"]);
    expect(r.errors.map((e) => e.code)).toEqual([10, 11, 11]);
  });

  test("errors raised in an ERROR reaction are reported and counted, but start no reaction", () => {
    const r = run({
      asm: `
          spawn eh
          push8 1
          push8 0
          divu
          pop
          halt
      eh: await 0
          outk 1, 1
          push8 1
          push8 0
          modu
          pop
          jmp eh
      `,
      inputs: [{ any: 1, gates: [0] }],
    });
    expect(marks(r)).toEqual([1]);
    expect(r.errors.map((e) => e.code)).toEqual([10, 10]);
    expect(r.vm.stats.errors).toBe(2);
    expect(r.vm.stats.droppedErrors).toBe(1);
  });

  test("the error queue holds 8 errors per reaction", () => {
    const r = run({
      asm: `
          spawn eh
          set.8 0, 10
      l:  push8 0
          push8 0
          div
          pop
          dec.8 0
          ld.u8 0
          jnz l
          halt
      eh: await 1
          outk 1, 1
          jmp eh
      `,
      inputs: [{ any: 1, gates: [1] }],
      varBytes: 1,
    });
    expect(marks(r)).toHaveLength(8);
    expect(r.vm.stats.errors).toBe(10);
    expect(r.vm.stats.droppedErrors).toBe(2);
  });

  test("without an ERROR await, errors are only reported", () => {
    const r = run({ asm: "push8 1\npush8 0\ndiv\noutv 2\nhalt" });
    expect(r.values).toEqual([0]);
    expect(r.errors).toEqual([{ code: 10, pc: 4, at: 0 }]);
    expect(r.vm.stats.reactions).toBe(1);
  });
});

describe("termination, finalizers, async", () => {
  test("term aborts every trail and the program ignores later inputs and timers", () => {
    const r = run(
      {
        asm: `
            spawn t2
            spawn t3
            await 0
            outk 1, 1
            term
        t2: await 1          ; also woken by the same A, after the term
            outk 1, 2
            halt
        t3: awaitt 3, 50
            outk 1, 3
            halt
        `,
        inputs: [{ any: A, gates: [0, 1] }],
        timers: [3],
      },
      // the host answers the mark with an input, which the term then discards
      { inputs: [inp(5, A), inp(6, A)], onOutput: (id, _v, vm) => id === 1 && vm.enqueue(A, 0, 0) },
    );
    expect(trace(r)).toEqual(["1:1@5"]);
    expect(r.vm.halted).toBe(true);
    expect(r.vm.queued()).toBe(0);
    expect(r.vm.stats.reactions).toBe(2);
    expect(r.vm.nextDeadline()).toBeUndefined();
    expect(r.vm.enqueue(A, 0, 0)).toBe(false);
    expect(r.vm.step()).toBe(false);
    expect(r.vm.now).toBe(100_000);
  });

  const finalizers = `
          fin 10, fo           ; do ... finally (outer)
          fin 11, fi           ; do ... finally (inner)
          spawn b2
          await 0              ; A ends the par/or
          jmp k
      b2: await 1
          halt
      k:  killf 0, 2, 0, 10, 2
          outk 1, 9
          halt
      fo: outk 1, 100
          halt
      fi: outk 1, 101
          halt
  `;

  test("killf runs the active finalizers innermost first, then continues", () => {
    const r = run({ asm: finalizers, inputs: [{ any: A, gates: [0] }, { any: B, gates: [1] }] }, { inputs: [inp(1, A), inp(2, B)] });
    expect(marks(r)).toEqual([101, 100, 9]);
  });

  test("finend runs a finalizer on normal exit and disarms it", () => {
    const r = run({
      asm: `
          fin 0, f
          outk 1, 1
          finend 0, after
      f:  outk 1, 50
          halt
      after:
          outk 1, 51
          killf 1, 0, 0, 0, 1   ; the finalizer is no longer armed
          outk 1, 52
          halt
      `,
    });
    expect(marks(r)).toEqual([1, 50, 51, 52]);
  });

  test("async: slices run when idle, one per step; yield ends a slice; the trail continues after the block", () => {
    const r = run(
      {
        asm: `
            spawn t2
            async 2
            set.8 0, 0
        l:  inc.8 0
            ld.u8 0
            outv 3
            ld.u8 0
            push8 3
            lt
            jz done
            yield 2, l
        done:
            outk 1, 7
            halt
        t2: await 0
            outk 1, 1
            halt
        `,
        inputs: [{ any: A, gates: [0] }],
        asyncs: [2],
        varBytes: 1,
      },
      { inputs: [inp(0, A)] },
    );
    // the trace input waits until the async block has finished (the VM is not idle before)
    expect(trace(r)).toEqual(["3:1@0", "3:2@0", "3:3@0", "1:7@0", "1:1@0"]);
    expect(r.vm.stats.asyncSlices).toBe(3);
  });

  test("async: queued inputs are handled between slices; the first active async in text order runs", () => {
    const { vm, outputs } = makeVm(
      buildCapsule({
        asm: `
            spawn t
            spawn a2
            async 1
        l1: outk 1, 1
            yield 1, l1
        a2: async 2
        l2: outk 1, 2
            yield 2, l2
        t:  await 0
            outk 1, 3
            jmp t
        `,
        inputs: [{ any: A, gates: [0] }],
        asyncs: [1, 2],
        entry: 0,
      }),
    );
    vm.boot();
    for (let k = 0; k < 3; k++) expect(vm.step()).toBe(true);
    expect(outputs.map((o) => o.value)).toEqual([1, 1, 1]);
    expect(vm.enqueue(A, 0, 0)).toBe(true);
    vm.step();
    vm.step();
    expect(outputs.map((o) => o.value)).toEqual([1, 1, 1, 3, 1]);
  });

  test("runVirtual stops an async block that never finishes", () => {
    expect(() =>
      runAsm({ asm: "async 0\nl: yield 0, l", asyncs: [0] }, { maxAsyncSlices: 1000 }),
    ).toThrow("more than 1000 async slices at logical time 0 ms: an async block is not finishing");
  });
});

describe("host interface and VM state", () => {
  test("call passes arguments first-argument-first and wraps the result to int32", () => {
    const r = run(
      {
        asm: `
            push8 1
            push8 2
            push8 3
            call 20, 3
            outv 2
            pusha 12
            call 21, 1
            outv 2
            callv 22, 0
            halt
        `,
        varBytes: 16,
      },
      { call: (id) => (id === 20 ? 2 ** 32 + 5 : id === 21 ? -1.75 : 0) },
    );
    expect(r.calls).toEqual([
      { id: 20, args: [1, 2, 3], at: 0 },
      { id: 21, args: [12], at: 0 },
      { id: 22, args: [], at: 0 },
    ]);
    expect(r.values).toEqual([5, -1]);
  });

  test("view resolves var-area ranges for host functions and rejects the rest", () => {
    const { vm } = makeVm(buildCapsule({ asm: "set.16 2, 0x0102\nhalt", varBytes: 8 }));
    vm.boot();
    expect(Array.from(vm.view(2, 2))).toEqual([2, 1]);
    expect(vm.view(8, 0).length).toBe(0);
    expect(() => vm.view(7, 2)).toThrow(VmAccessError);
    expect(() => vm.view(-1, 1)).toThrow(VmAccessError);
    expect(() => vm.view(0.5, 1)).toThrow(VmAccessError);
  });

  test("stats count reactions and instructions", () => {
    const r = run(
      { asm: "l: await 0\npush8 1\npop\njmp l", inputs: [{ any: A, gates: [0] }] },
      { inputs: [inp(1, A), inp(2, A)] },
    );
    expect(r.vm.stats.reactions).toBe(3);
    expect(r.vm.stats.instructions).toBe(1 + 4 + 4);
    expect(r.vm.stats.maxReactionInstructions).toBe(4);
    expect(r.vm.lastReactionInstructions).toBe(4);
  });

  test("boot runs at the current now, once; step needs a boot", () => {
    const { vm, outputs } = makeVm(buildCapsule({ asm: "call 3, 0\noutv 2\nhalt" }), { call: (_i, _a, v) => v.now });
    expect(() => vm.step()).toThrow(/boot\(\) first/);
    vm.now = 1234;
    vm.boot();
    expect(outputs).toEqual([{ id: 2, value: 1234, at: 1234 }]);
    expect(() => vm.boot()).toThrow(/already booted/);
  });

  test("a host that calls step during a reaction gets an error, and the VM halts", () => {
    const { vm } = makeVm(buildCapsule({ asm: "out 1\nhalt" }), { onOutput: (_i, _v, v) => v.step() });
    expect(() => vm.boot()).toThrow(/during a reaction/);
    expect(vm.halted).toBe(true);
    expect(vm.fault).toMatch(/host exception/);
  });

  test("watchdog: a reaction over instructionLimit halts the VM with ERR_WATCHDOG", () => {
    const r = run({ asm: "l: jmp l" }, { instructionLimit: 1000 });
    expect(r.vm.halted).toBe(true);
    expect(r.vm.fault).toBe("reaction exceeded the limit of 1000 instructions");
    expect(r.errors).toEqual([{ code: 21, pc: 0, at: 0 }]);
    // a trail that respawns itself without jumping is caught too
    const s = run({ asm: "x: spawn x\nhalt" }, { instructionLimit: 1000 });
    expect(s.vm.fault).toBe("reaction exceeded the limit of 1000 instructions");
  });

  test("a track-stack overflow (only hand-written code can cause it) halts the VM with ERR_TRACK_OVERFLOW", () => {
    const r = run({ asm: "l: spawn x\njmp l\nx: halt" });
    expect(r.vm.fault).toBe("track stack overflow at 0x0");
    expect(r.errors).toEqual([{ code: 20, pc: 0, at: 0 }]);
  });

  test("runPending runs the work due now, as repeated step() calls would, and reports how many steps ran", () => {
    const spec = {
      asm: `
          spawn t
      l:  await 0
          evld.32
          outv 2
          jmp l
      t:  awaitt 1, 10
          outk 1, 1
          halt
      `,
      inputs: [{ any: A, gates: [0] }],
      timers: [1],
    };
    const a = makeVm(buildCapsule(spec));
    const b = makeVm(buildCapsule(spec));
    for (const r of [a, b]) {
      r.vm.boot();
      r.vm.advanceTo(10);
      for (let k = 1; k <= 3; k++) r.vm.enqueue(A, 0, k);
    }
    expect(a.vm.runPending(2)).toBe(2);
    expect(a.vm.runPending()).toBe(2);
    expect(a.vm.runPending()).toBe(0);
    while (b.vm.step());
    expect(a.outputs).toEqual(b.outputs);
    expect(a.values).toEqual([1, 1, 2, 3]);
  });

  test("the VM constructor takes a queue capacity", () => {
    expect(() => makeVm(buildCapsule({ asm: "halt" }), { queueCapacity: -1 })).toThrow(RangeError);
    expect(Vm).toBeDefined();
  });
});
