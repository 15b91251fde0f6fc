/** runVirtual: docs/vm.md "Order of work" in logical time. */
import { describe, expect, test } from "vitest";
import { runVirtual } from "../vm/driver";
import { buildCapsule, inp, makeVm } from "./helpers/vmtest";

const A = 5;

/** A script that reports every A with its value, and ticks every 10 ms. */
const script = buildCapsule({
  asm: `
      spawn tick
  l:  await 0
      evld.32
      outv 2
      jmp l
  tick:
      awaitt 1, 10
      outk 1, 1
      jmp tick
  `,
  inputs: [{ any: A, gates: [0] }],
  timers: [1],
});

describe("runVirtual", () => {
  test("runs everything strictly before `until` and leaves now = until", () => {
    const r = makeVm(script);
    const fed = runVirtual(r.vm, [inp(5, A, 1), inp(20, A, 2), inp(25, A, 3)], 20);
    expect(fed).toBe(1);
    expect(r.outputs.map((o) => `${o.id}:${o.value}@${o.at}`)).toEqual(["2:1@5", "1:1@10"]);
    expect(r.vm.now).toBe(20);
    // the next call starts at 20: the timer and the input due at 20 run there, timer first
    const fed2 = runVirtual(r.vm, [inp(20, A, 2), inp(25, A, 3)], 31);
    expect(fed2).toBe(2);
    expect(r.outputs.slice(2).map((o) => `${o.id}:${o.value}@${o.at}`)).toEqual(["1:1@20", "2:2@20", "2:3@25", "1:1@30"]);
    expect(r.vm.now).toBe(31);
  });

  test("boots a fresh VM at now = 0, and an until equal to now only boots", () => {
    const r = makeVm(script);
    expect(runVirtual(r.vm, [inp(0, A, 7)], 0)).toBe(0);
    expect(r.vm.booted).toBe(true);
    expect(r.outputs).toEqual([]);
    runVirtual(r.vm, [inp(0, A, 7)], 1);
    expect(r.outputs).toEqual([{ id: 2, value: 7, at: 0 }]);
  });

  test("inputs whose time has passed are due at once; several at one time are fed one at a time", () => {
    const r = makeVm(script);
    runVirtual(r.vm, [], 12);
    runVirtual(r.vm, [inp(3, A, 1), inp(3, A, 2), inp(12, A, 3)], 13);
    expect(r.outputs.map((o) => `${o.id}:${o.value}@${o.at}`)).toEqual(["1:1@10", "2:1@12", "2:2@12", "2:3@12"]);
  });

  test("rejects traces out of time order and an until in the past", () => {
    const r = makeVm(script);
    expect(() => runVirtual(r.vm, [inp(5, A), inp(4, A)], 10)).toThrow(RangeError);
    runVirtual(r.vm, [], 10);
    expect(() => runVirtual(r.vm, [], 9)).toThrow(RangeError);
  });

  test("a halted program: the driver stops feeding it and time still reaches until", () => {
    const r = makeVm(buildCapsule({ asm: "await 0\nterm", inputs: [{ any: A, gates: [0] }] }));
    expect(runVirtual(r.vm, [inp(1, A), inp(2, A), inp(3, A)], 50)).toBe(1);
    expect(r.vm.halted).toBe(true);
    expect(r.vm.now).toBe(50);
  });

  test("the timer reaction and the host-enqueued inputs it causes come before a trace input at the same ms", () => {
    const r = makeVm(
      buildCapsule({
        asm: `
            spawn t
        l:  await 0
            evld.32
            outv 2
            jmp l
        t:  awaitt 1, 10
            out 9
            jmp t
        `,
        inputs: [{ any: A, gates: [0] }],
        timers: [1],
      }),
      { onOutput: (id, _v, vm) => id === 9 && vm.enqueue(A, 0, 99) },
    );
    runVirtual(r.vm, [inp(10, A, 1)], 11);
    expect(r.outputs.map((o) => `${o.id}:${o.value}@${o.at}`)).toEqual(["9:0@10", "2:99@10", "2:1@10"]);
  });
});

describe("runVirtual async guard", () => {
  const asyncEvery10ms = buildCapsule({
    asm: `
    top:  awaitt 0, 10
          async 3
          set.16 8, 0
    a:    inc.16 8
          ld.u16 8
          push16 600
          lt
          jz done
          yield 3, a
    done: outk 1, 1
          jmp top
    `,
    timers: [0],
    asyncs: [3],
    varBytes: 16,
  });

  test("counts the slices per logical time: 600 slices at each of three times pass a limit of 1000", () => {
    const r = makeVm(asyncEvery10ms);
    runVirtual(r.vm, [], 35, { maxAsyncSlices: 1000 });
    expect(r.outputs.map((o) => o.at)).toEqual([10, 20, 30]);
    expect(r.vm.stats.asyncSlices).toBe(1800);
  });

  test("throws as soon as one logical time exceeds the limit", () => {
    const r = makeVm(asyncEvery10ms);
    expect(() => runVirtual(r.vm, [], 35, { maxAsyncSlices: 599 })).toThrow(/more than 599 async slices at logical time 10/);
    expect(r.vm.stats.asyncSlices).toBe(600);
  });
});
