/**
 * One test per language construct not already exercised by the semantics
 * tests: compiled and run, with the outputs a reader expects.
 */
import { describe, expect, it } from "vitest";
import { build, diagList, run, runBare } from "./helpers/script";

const T = '#include "Test.defs"\n';
const values = (r: { out: [number, string, unknown][] }) => r.out.map((o) => o[2]);

describe("do ... finally", () => {
  it("runs the finalizer when the block ends normally", () => {
    expect(values(runBare(`${T}do\n  emit OUT(1);\nfinally\n  emit OUT(2);\nend\nemit OUT(3);`))).toEqual([1, 2, 3]);
  });

  it("runs the finalizer when the block is aborted by a par/or, before the code after it", () => {
    const r = runBare(`${T}
par/or do
  do
    await A;
    emit OUT(1);
  finally
    emit OUT(2);
  end
with
  await 10ms;
end
emit OUT(3);`);
    expect(r.out).toEqual([[10, "OUT", 2], [10, "OUT", 3]]);
  });

  it("runs nested finalizers innermost first when a break leaves them", () => {
    const r = runBare(`${T}
loop do
  do
    do
      par do
        await A;
        break;
      with
        await FOREVER;
      end
    finally
      emit OUT(1);
    end
  finally
    emit OUT(2);
  end
end
emit OUT(3);`, [{ at: 5, event: "A" }]);
    expect(values(r)).toEqual([1, 2, 3]);
  });
});

describe("async", () => {
  it("computes on copies of its variables in idle time and returns a value", () => {
    const r = runBare(`${T}
var long n = 10;
var long s = async (n) do
  var long acc = 0;
  loop i, 100 do
    acc = acc + i * n;
  end
  return acc;
end;
emit OUT(s);`);
    expect(r.out).toEqual([[0, "OUT", 49500]]);
    expect(r.stats.asyncSlices).toBe(101);
  });

  it("lets queued inputs react between its slices", () => {
    // Boot arms the async; an input queued before the first slice is handled first (docs/vm.md, order of work).
    const r = runBare(`${T}
par/and do
  var long k = 0;
  var long s = async (k) do
    loop i, 5 do k = k + 1; end
    return k;
  end;
  emit OUT(s);
with
  await A;
  emit OUT(-1);
end`, [], -1);
    const vm = r.vm;
    vm.boot();
    vm.enqueue(10, 0, 0);
    vm.runPending();
    expect(values(r)).toEqual([-1, 5]);
  });
});

describe("value blocks", () => {
  it("if, loop and par/or blocks give values through return", () => {
    const r = runBare(`${T}
var long a = 3;
var long b = if a > 2 then return 10; else return 20; end;
var long c = loop i, 10 do if i == 4 then return i * 100; end end;
var long d = par/or do await 5ms; return 1; with await A; return 2; end;
emit OUT(b);
emit OUT(c);
emit OUT(d);`, [{ at: 3, event: "A" }]);
    expect(r.out).toEqual([[3, "OUT", 10], [3, "OUT", 400], [3, "OUT", 2]]);
  });
});

describe("records, packets and functions", () => {
  it("record copies, field access and record outputs", () => {
    const r = runBare(`${T}
var pair_t p, q;
p.tag = 7;
p.value = -5;
q = p;
q.value = q.value * 2;
emit PAIR(q);
emit OUT(p.value);`);
    expect(r.out).toEqual([[0, "PAIR", { tag: 7, value: -10 }], [0, "OUT", -5]]);
  });

  it("functions take scalars by value and records by reference", () => {
    const r = runBare(`${T}
var pair_t p;
var ubyte st = fill(p);
emit OUT(twice(21) + sum3(1, 2, 3));
emit OUT(p.tag * 1000 + p.value);`);
    expect(values(r)).toEqual([48, 9001]);
  });

  it("pktype views a radio message's payload and converts to and from the packet", () => {
    const r = run(`#include "TerraNet.defs"
pktype reading from radioMsg with
  var ushort value;
  var ubyte[3] extra;
end
var reading m;
m.type = 9;
m.target = BROADCAST;
m.value = 1000;
m.extra[2] = 5;
emit SEND(m);
var radioMsg raw = await RECEIVE(4);
m = raw;
emit LEDS(<ubyte>m.value);`, [{ at_ms: 10, event: "RECEIVE", value: { type: 4, source: 2, target: 1, data: [3, 1] } }], 20);
    expect(r.out).toEqual([
      [0, "SEND", { type: 9, source: 0, target: 65535, data: [0xe8, 0x03, 0, 0, 5, ...new Array(15).fill(0)] }],
      [10, "LEDS", 3],
    ]);
  });

  it("a pktype that does not fit the payload is a type error", () => {
    expect(diagList(build(`#include "TerraNet.defs"\npktype big from radioMsg with\n  var ulong[6] v;\nend\n`))).toEqual(["2:1 type"]);
  });
});

describe("internal events and loops", () => {
  it("an internal event's value can be read after it is awaited, and assigned without emitting", () => {
    const r = runBare(`${T}
event long e;
e = 3;
par/and do
  await e;
  emit OUT(e + 1);
with
  emit e(e * 10);
end`);
    expect(values(r)).toEqual([31]);
  });

  it("loop i, N with a computed bound evaluates it once", () => {
    const r = runBare(`${T}
var long n = 3;
loop i, n do
  n = 10;
  emit OUT(i);
  await 1ms;
end`);
    expect(values(r)).toEqual([0, 1, 2]);
  });

  it("emits inside a bounded loop wake the awaiting trail every time", () => {
    const r = runBare(`${T}
event long e;
par/or do
  loop do
    var long v = await e;
    emit OUT(v);
  end
with
  loop i, 3 do emit e(i); end
end`);
    expect(values(r)).toEqual([0, 1, 2]);
  });
});

describe("casts, floats and constants", () => {
  it("casts wrap and convert", () => {
    const r = runBare(`${T}
var long big = 300;
emit OUT(<ubyte>big);
emit OUT(<byte>big);
var float f = 2.75;
emit OUT(<long>f);
emit OUT(<long>(0.0 - f));
emit OUTF(<float>big / 8.0);
emit OUT(sizeof<pair_t> + 'a');`);
    expect(values(r)).toEqual([44, 44, 2, -2, 37.5, 102]);
  });

  it("hex literals and ulong constants", () => {
    const r = runBare(`${T}
var ulong u = 0xffffffff;
emit OUTU(u);
emit OUT(0x10 + 0xff);`);
    expect(values(r)).toEqual([-1, 271]);
  });
});
