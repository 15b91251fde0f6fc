/**
 * Every rule of shared/design/SEMANTICS.md ("Execution model"), checked by
 * compiling a script and running it the way `terra run` does, against the
 * output trace a reader of the script expects.
 */
import { describe, expect, it } from "vitest";
import { run, runBare } from "./helpers/script";

const T = '#include "Test.defs"\n';

describe("1. reactions", () => {
  it("the boot reaction runs at time 0, then one reaction per input and per timer expiry", () => {
    const r = runBare(`${T}
emit OUT(1);
par do
  loop do var long v = await A; emit OUT(v); end
with
  loop do await 10ms; emit OUT(-1); end
end`, [{ at: 5, event: "A", data: 7 }, { at: 15, event: "A", data: 8 }], 25);
    expect(r.out).toEqual([[0, "OUT", 1], [5, "OUT", 7], [10, "OUT", -1], [15, "OUT", 8], [20, "OUT", -1]]);
    expect(r.stats.reactions).toBe(5);
  });

  it("inputs that arrive during a reaction wait in a bounded queue; overflow is counted, not silent", () => {
    // Every PING is answered by the host with nine A occurrences: one more than the queue holds.
    const r = runBare(`${T}
loop do var long v = await A; emit OUT(v); end`, [], 10);
    expect(r.stats.queueOverflows).toBe(0);
    const vm = r.vm;
    for (let k = 0; k < 9; k++) vm.enqueue(10, 0, k);
    expect(vm.stats.queueOverflows).toBe(1);
    vm.runPending();
    expect(r.out.map((o) => o[2])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe("2. trail order", () => {
  it("trails woken in one reaction run in program-text order of their awaits", () => {
    const r = runBare(`${T}
par do
  loop do await A; emit OUT(2); end
with
  loop do await A; emit OUT(3); end
with
  await 1ms;
  loop do await A; emit OUT(1); end
end`, [{ at: 5, event: "A" }]);
    expect(r.out).toEqual([[5, "OUT", 2], [5, "OUT", 3], [5, "OUT", 1]]);
  });
});

describe("3. par/or, par/and, par", () => {
  it("par/or rejoins at its first trail to end; the others are aborted, even if already woken; the code after runs once", () => {
    const r = runBare(`${T}
loop do
  par/or do
    await A;
    emit OUT(1);
  with
    await A;
    emit OUT(2);
  with
    await 100ms;
  end
  emit OUT(9);
end`, [{ at: 5, event: "A" }, { at: 300, event: "A" }], 399);
    expect(r.out).toEqual([[5, "OUT", 1], [5, "OUT", 9], [105, "OUT", 9], [205, "OUT", 9], [300, "OUT", 1], [300, "OUT", 9]]);
  });

  it("aborted trails lose their timers", () => {
    const r = runBare(`${T}
par/or do
  await 10ms;
with
  await 5ms;
  emit OUT(5);
  await 20ms;
  emit OUT(25);
end
emit OUT(10);
await 100ms;
emit OUT(110);`);
    expect(r.out).toEqual([[5, "OUT", 5], [10, "OUT", 10], [110, "OUT", 110]]);
  });

  it("par/and rejoins when all trails have ended", () => {
    const r = runBare(`${T}
par/and do
  await 10ms;
  emit OUT(1);
with
  await A;
  emit OUT(2);
end
emit OUT(3);`, [{ at: 50, event: "A" }]);
    expect(r.out).toEqual([[10, "OUT", 1], [50, "OUT", 2], [50, "OUT", 3]]);
  });

  it("par never rejoins: its branches run forever side by side", () => {
    const r = runBare(`${T}
par do
  loop do await 10ms; emit OUT(1); end
with
  loop do await 15ms; emit OUT(2); end
end`, [], 30);
    expect(r.out).toEqual([[10, "OUT", 1], [15, "OUT", 2], [20, "OUT", 1], [30, "OUT", 1], [30, "OUT", 2]]);
  });
});

describe("4. loops and escapes", () => {
  it("break leaves the innermost loop and aborts the trails it leaves", () => {
    const r = runBare(`${T}
loop do
  loop do
    par do
      await A;
      break;
    with
      loop do await 1ms; emit OUT(7); end
    end
  end
  emit OUT(1);
  await B;
  break;
end
emit OUT(2);`, [{ at: 2, event: "A" }, { at: 10, event: "B" }], 20);
    expect(r.out).toEqual([[1, "OUT", 7], [2, "OUT", 7], [2, "OUT", 1], [10, "OUT", 2]]);
  });

  it("return leaves the innermost value block with its value", () => {
    const r = runBare(`${T}
var long x = 0;
x = do
  par do
    await A;
    return 5;
  with
    await 10ms;
    return 6;
  end
end;
emit OUT(x);`, [{ at: 3, event: "A" }]);
    expect(r.out).toEqual([[3, "OUT", 5]]);
  });

  it("loop i, N counts 0..N-1 and may be tight", () => {
    const r = runBare(`${T}
var long s = 0;
loop i, 5 do s = s + i; end
emit OUT(s);`);
    expect(r.out).toEqual([[0, "OUT", 10]]);
  });
});

describe("5. timers", () => {
  it("lateness is compensated: await 10ms and await 5ms; await 5ms expire in the same reaction", () => {
    const r = runBare(`${T}
par/and do
  await 10ms;
  emit OUT(1);
with
  await 5ms;
  await 5ms;
  emit OUT(2);
end`);
    expect(r.out).toEqual([[10, "OUT", 1], [10, "OUT", 2]]);
    expect(r.stats.reactions).toBe(3); // boot, 5 ms, 10 ms
  });

  it("a timer counts from the logical time of the reaction that armed it", () => {
    const r = runBare(`${T}
await A;
await 10ms;
emit OUT(1);`, [{ at: 7, event: "A" }]);
    expect(r.out).toEqual([[17, "OUT", 1]]);
  });

  it("timers expire in deadline order, and a timer due at an input's ms fires before it", () => {
    const r = runBare(`${T}
par/and do
  await 20ms; emit OUT(20);
with
  await 10ms; emit OUT(10);
with
  await A; emit OUT(-1);
end`, [{ at: 10, event: "A" }]);
    expect(r.out).toEqual([[10, "OUT", 10], [10, "OUT", -1], [20, "OUT", 20]]);
  });

  it("time units combine: 1min 30s is 90000 ms; (expr)s multiplies", () => {
    const r = runBare(`${T}
var long k = 2;
await 1min 30s;
emit OUT(1);
await (k)s;
emit OUT(2);`, [], 100_000);
    expect(r.out).toEqual([[90_000, "OUT", 1], [92_000, "OUT", 2]]);
  });
});

describe("6. input events", () => {
  it("x = await E stores the occurrence's value; an occurrence nobody awaits is discarded", () => {
    const r = runBare(`${T}
await TICK;
var long v = await A;
emit OUT(v);`, [{ at: 1, event: "A", data: 5 }, { at: 2, event: "TICK" }, { at: 3, event: "A", data: 6 }]);
    expect(r.out).toEqual([[3, "OUT", 6]]);
  });

  it("an await armed during a reaction is not woken by the occurrence being handled", () => {
    const r = runBare(`${T}
await A;
emit OUT(1);
await A;
emit OUT(2);`, [{ at: 1, event: "A" }, { at: 2, event: "A" }]);
    expect(r.out).toEqual([[1, "OUT", 1], [2, "OUT", 2]]);
  });

  it("E(aux) wakes only on its selector; E wakes on any", () => {
    const r = runBare(`${T}
par do
  loop do var ubyte v = await B(3); emit OUT(v); end
with
  loop do var ubyte v = await B; emit OUTB(v); end
end`, [{ at: 1, event: "B", aux: 3, data: 30 }, { at: 2, event: "B", aux: 4, data: 40 }]);
    expect(r.out).toEqual([[1, "OUT", 30], [1, "OUTB", 30], [2, "OUTB", 40]]);
  });

  it("record inputs are copied into record variables", () => {
    const r = runBare(`${T}
var pair_t p = await P;
emit OUT(p.value);
emit OUTB(p.tag);`, [{ at: 1, event: "P", data: new Uint8Array([4, 0x10, 0x27, 0, 0]) }]);
    expect(r.out).toEqual([[1, "OUT", 10000], [1, "OUTB", 4]]);
  });
});

describe("7. internal events", () => {
  it("emit suspends the emitter; the awaiting trails run; then the emitter resumes", () => {
    const r = runBare(`${T}
event long e;
par/and do
  var long v = await e;
  emit OUT(v);
with
  emit OUT(1);
  emit e(42);
  emit OUT(2);
end
emit OUT(3);`);
    expect(r.out).toEqual([[0, "OUT", 1], [0, "OUT", 42], [0, "OUT", 2], [0, "OUT", 3]]);
  });

  it("nested emits resume in LIFO order", () => {
    const r = runBare(`${T}
event long e, f;
par/and do
  await e;
  emit OUT(10);
  emit f(0);
  emit OUT(11);
with
  await f;
  emit OUT(20);
with
  emit e(0);
  emit OUT(30);
end`);
    expect(r.out.map((o) => o[2])).toEqual([10, 20, 11, 30]);
  });

  it("an emit nobody awaits does nothing", () => {
    const r = runBare(`${T}
event long e;
emit e(1);
emit OUT(e);`);
    expect(r.out).toEqual([[0, "OUT", 1]]);
  });
});

describe("8. termination", () => {
  it("when the main block ends the program halts: every trail is aborted and later inputs do nothing", () => {
    const r = runBare(`${T}
par/or do
  loop do await A; emit OUT(1); end
with
  await 10ms;
end
emit OUT(2);`, [{ at: 5, event: "A" }, { at: 15, event: "A" }], 50);
    expect(r.out).toEqual([[5, "OUT", 1], [10, "OUT", 2]]);
    expect(r.vm.halted).toBe(true);
  });

  it("a top-level return ends the program", () => {
    const r = runBare(`${T}
par do
  await 5ms;
  return 0;
with
  loop do await 2ms; emit OUT(1); end
end`, [], 20);
    expect(r.out).toEqual([[2, "OUT", 1], [4, "OUT", 1]]);
    expect(r.vm.halted).toBe(true);
  });
});

describe("9. arithmetic", () => {
  it("32-bit two's complement, wrapping when stored into narrower types", () => {
    const r = runBare(`${T}
var ubyte b = 250;
b = b + 10;
emit OUT(b);
var long x = 2147483647;
x = x + 1;
emit OUT(x);
var short s = 40000;
emit OUT(s);`);
    expect(r.out.map((o) => o[2])).toEqual([4, -2147483648, -25536]);
  });

  it("/ and % truncate toward zero; relational and logical operators give 0 or 1", () => {
    const r = runBare(`${T}
var long a = -7;
emit OUT(a / 2);
emit OUT(a % 2);
emit OUT((a < 0) + (a > 0) * 10 + (3 and 5) * 100 + (0 or 0) * 1000 + (not a) * 10000);`);
    expect(r.out.map((o) => o[2])).toEqual([-3, -1, 101]);
  });

  it("ulong compares and divides unsigned, like C", () => {
    const r = runBare(`${T}
var ulong u = 4294967295;
emit OUT(u > 5);
emit OUTU(u / 2);
var long l = -1;
emit OUT(l > 5);`);
    expect(r.out.map((o) => o[2])).toEqual([1, 2147483647, 0]);
  });

  it("float is IEEE-754 binary32", () => {
    const r = runBare(`${T}
var float f = 0.1;
f = f * 3.0;
emit OUTF(f);
emit OUT(<long>(f * 10.0));`);
    expect(r.out[0][2]).toBe(Math.fround(Math.fround(0.1) * 3));
    expect(r.out[1][2]).toBe(3);
  });
});

describe("10. runtime errors", () => {
  it("division by zero gives 0, the statement completes, and ERROR(10) follows as a separate reaction at the same time", () => {
    const r = runBare(`${T}
par do
  var long z = 0;
  await A;
  emit OUT(100 / z);
  emit OUT(1);
  await FOREVER;
with
  loop do var ubyte e = await ERROR; emit OUTB(e); end
end`, [{ at: 4, event: "A" }]);
    expect(r.out).toEqual([[4, "OUT", 0], [4, "OUT", 1], [4, "OUTB", 10]]);
    expect(r.stats.reactions).toBe(3);
  });

  it("an out-of-range index skips the write, reads 0, and raises ERROR(11); errors come in fault order", () => {
    const r = runBare(`${T}
var long[3] a;
var long i = 5;
par do
  loop do var ubyte e = await ERROR; emit OUTB(e); end
with
  await A;
  a[i] = 1;
  emit OUT(a[i]);
  emit OUT(1 % (i - 5));
  await FOREVER;
end`, [{ at: 1, event: "A" }]);
    expect(r.out).toEqual([[1, "OUT", 0], [1, "OUT", 0], [1, "OUTB", 11], [1, "OUTB", 11], [1, "OUTB", 10]]);
  });

  it("the ERROR reaction comes before the next of several queued inputs", () => {
    const r = runBare(`${T}
var long z = 0;
par do
  loop do var ubyte e = await ERROR; emit OUTB(e); end
with
  loop do
    var long v = await A;
    emit OUT(v);
    if v == 2 then emit OUT(1 / z); end
  end
end`, [], 10);
    for (let k = 1; k <= 3; k++) r.vm.enqueue(10, 0, k);
    r.vm.runPending();
    expect(r.out.map((o) => [o[1], o[2]])).toEqual([["OUT", 1], ["OUT", 2], ["OUT", 0], ["OUTB", 10], ["OUT", 3]]);
  });

  it("ERROR(code) is filtered by the error code", () => {
    const r = runBare(`${T}
par/or do
  await ERROR(11);
  emit OUT(11);
with
  var long z = 0;
  emit OUT(1 / z);
  await ERROR(10);
  emit OUT(10);
end`);
    expect(r.out).toEqual([[0, "OUT", 0], [0, "OUT", 10]]);
  });
});

describe("through terra run with the bundled TerraNet configuration", () => {
  it("a function given a range past the end of the var area returns 0 and raises ERROR(11); the reaction goes on", () => {
    const r = run(`#include "TerraNet.defs"
var ushort[4] xs;
var stat1_ret s;
xs[0] = 8;
par do
  loop do var ubyte e = await ERROR; emit LEDS(e); end
with
  await 1s;
  emit BEEP(stat1(&xs, 4, s));
  emit BEEP(stat1(&xs, 60000, s));
  emit BEEP(s.max);
  await FOREVER;
end`, [], 2000);
    expect(r.out).toEqual([[1000, "BEEP", 2], [1000, "BEEP", 0], [1000, "BEEP", 8], [1000, "LEDS", 11]]);
  });

  it("the counter example's LEDs count every 500 ms and a reset message zeroes them", () => {
    const r = run(`#include "TerraNet.defs"
var ubyte count = 0;
par do
  loop do await 500ms; inc count; emit LEDS(count); end
with
  loop do await RECEIVE(1); count = 0; emit LEDS(count); end
end`, [{ at_ms: 1200, event: "RECEIVE", value: { type: 1, source: 2, target: 65535 } }], 2000);
    expect(r.out).toEqual([[500, "LEDS", 1], [1000, "LEDS", 2], [1200, "LEDS", 0], [1500, "LEDS", 1], [2000, "LEDS", 2]]);
    expect(r.stats.maxReactionInstructions).toBeLessThanOrEqual(r.bound!);
  });
});
