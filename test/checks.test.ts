/**
 * The static checks of SEMANTICS.md as compile errors with their exact code
 * and position (line:column of the offending statement or access): tight
 * loops, concurrent access, par termination. Each rejected program has an
 * accepted counterpart that differs in the one thing the check is about.
 */
import { describe, expect, it } from "vitest";
import { build, diagList } from "./helpers/script";

const T = '#include "Test.defs"\n';
/** Line numbers below count the #include as line 1. */
const errors = (body: string) => diagList(build(T + body));
const warnings = (body: string) => diagList(build(T + body), "warning");

describe("tight loops", () => {
  it.each([
    ["a loop without await", "var long x;\nloop do\n  x = x + 1;\nend", ["3:1 tight-loop"]],
    ["an if without else does not block", "var long x;\nloop do\n  if x then await A; end\nend", ["3:1 tight-loop"]],
    ["a par/or blocks only if all its trails block", "loop do\n  par/or do await A; with emit PING; end\nend", ["2:1 tight-loop"]],
    ["a loop with a variable bound and no await", "var long n = 3;\nvar long s;\nloop i, n do s = s + i; end\nawait FOREVER;", ["4:1 tight-loop"]],
  ])("rejects %s", (_what, body, expected) => {
    expect(errors(body)).toEqual(expected);
  });

  it.each([
    ["a loop that awaits", "loop do\n  await A;\nend"],
    ["an if/else where both branches await", "var long x;\nloop do\n  if x then await A; else await 1s; end\nend"],
    ["a par/and blocks if any trail blocks", "loop do\n  par/and do await A; with emit PING; end\nend"],
    ["an inner loop that awaits blocks the outer one", "loop do\n  loop do await A; break; end\nend"],
    ["a loop that escapes on every path", "var long x;\nloop do\n  x = 1;\n  break;\nend\nawait FOREVER;"],
    ["a constant bound makes a loop bounded", "var long s;\nloop i, 10 do s = s + i; end\nawait FOREVER;"],
  ])("accepts %s", (_what, body) => {
    expect(errors(body)).toEqual([]);
  });

  it("warns when an inner loop can be left before its await (accepted as in Terra, no static bound)", () => {
    const r = build(`${T}var long i;\nloop do\n  i = 0;\n  loop do\n    if i > 3 then break; end\n    await A;\n    inc i;\n  end\nend`);
    expect(diagList(r)).toEqual([]);
    expect(diagList(r, "warning")).toEqual(["5:3 tight-loop"]);
    expect(r.report!.max_instructions_per_reaction).toBeNull();
  });
});

describe("par termination", () => {
  it("rejects a par branch that always terminates", () => {
    expect(errors("par do\n  await A;\nwith\n  loop do await B; end\nend")).toEqual(["3:3 par-termination"]);
  });

  it("warns about a par branch that terminates on some paths only", () => {
    expect(warnings("var long x;\npar do\n  if x then loop do await A; end end\nwith\n  loop do await B; end\nend")).toEqual(["4:3 par-termination"]);
  });

  it("accepts par branches that never terminate", () => {
    expect(errors("par do\n  loop do await A; end\nwith\n  await FOREVER;\nend")).toEqual([]);
  });
});

describe("concurrent access", () => {
  it.each([
    ["two writes in the reaction to the same input", "var long x;\npar do\n  loop do await A; x = 1; end\nwith\n  loop do await A; x = 2; end\nend", ["6:20 concurrent-access"]],
    ["a read and a write in the reaction to the same input", "var long x;\npar do\n  loop do await A; x = 1; end\nwith\n  loop do await A; emit OUT(x); end\nend", ["6:20 concurrent-access"]],
    ["two writes in the boot reaction", "var long x;\npar/and do\n  x = 1;\nwith\n  x = 2;\nend", ["6:3 concurrent-access"]],
    ["the same constant selector", "var long x;\npar do\n  loop do await B(1); x = 1; end\nwith\n  loop do await B(1); x = 2; end\nend", ["6:23 concurrent-access"]],
    ["a selector and the unfiltered form", "var long x;\npar do\n  loop do await B(1); x = 1; end\nwith\n  loop do await B; x = 2; end\nend", ["6:20 concurrent-access"]],
    ["outputs declared unsafe together", "par do\n  loop do await A; emit LEDA(1); end\nwith\n  loop do await A; emit LEDB(1); end\nend", ["5:20 concurrent-access"]],
    ["two emits of one internal event", "event long e;\npar do\n  loop do await A; emit e(1); end\nwith\n  loop do await A; emit e(2); end\nend", ["6:20 concurrent-access"]],
    ["code after a par/or rejoin and another branch woken by the same event", "var long x;\npar/or do\n  await A;\n  x = 1;\nwith\n  await A;\nend\nx = 2;\nawait FOREVER;", ["9:1 concurrent-access"]],
  ])("rejects %s", (_what, body, expected) => {
    expect(errors(body)).toEqual(expected);
  });

  it.each([
    ["writes in reactions to different inputs", "var long x;\npar do\n  loop do await A; x = 1; end\nwith\n  loop do await B; x = 2; end\nend"],
    ["different constant selectors", "var long x;\npar do\n  loop do await B(1); x = 1; end\nwith\n  loop do await B(2); x = 2; end\nend"],
    ["two reads", "var long x;\npar do\n  loop do await A; emit OUT(x); end\nwith\n  loop do await A; emit OUTU(x); end\nend"],
    ["timers (each timer is its own trigger, as in Terra)", "var long x;\npar do\n  loop do await 1s; x = 1; end\nwith\n  loop do await 1s; x = 2; end\nend"],
    ["outputs not declared unsafe", "par do\n  loop do await A; emit OUT(1); end\nwith\n  loop do await A; emit OUTB(1); end\nend"],
    ["an emitter and the trail it wakes (ordered by the emit)", "event long e;\nvar long x;\npar/and do\n  await e;\n  x = x + e;\nwith\n  x = 1;\n  emit e(2);\n  x = 3;\nend"],
    ["code after a par/or rejoin and the branch that ended it", "var long x;\npar/or do\n  await A;\n  x = 1;\nwith\n  await B;\nend\nx = 2;\nawait FOREVER;"],
    ["different fields of one record", "var pair_t p;\npar do\n  loop do await A; p.tag = 1; end\nwith\n  loop do await A; p.value = 2; end\nend"],
  ])("accepts %s", (_what, body) => {
    expect(errors(body)).toEqual([]);
  });
});
