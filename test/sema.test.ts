/**
 * Names, types and Terra's declaration rules: each mistake gives one
 * diagnostic with its code and position, and compilation goes on to report
 * the others.
 */
import { describe, expect, it } from "vitest";
import { build, diagList } from "./helpers/script";

const T = '#include "Test.defs"\n';
const errors = (body: string) => diagList(build(T + body));
const warnings = (body: string) => diagList(build(T + body), "warning");
const messages = (body: string) => build(T + body).diagnostics.map((d) => d.message);

describe("declarations", () => {
  it.each([
    ["an undeclared variable", "emit OUT(y);", ["2:10 undeclared"]],
    ["an undeclared upper-case name (a missing #define)", "emit OUT(FOO);", ["2:10 undeclared"]],
    ["an undeclared input event", "await NOPE;", ["2:7 undeclared"]],
    ["an undeclared output event", "emit NOPE(1);", ["2:6 undeclared"]],
    ["an undeclared internal event", "await e;", ["2:7 undeclared"]],
    ["an undeclared function", "var long x = nope(1);", ["2:14 undeclared"]],
    ["an undeclared type", "var thing t;", ["2:5 undeclared"]],
    ["an unknown field", "var pair_t p;\np.nope = 1;", ["3:3 undeclared"]],
    ["a variable declared twice in one block", "var long x;\nvar long x;", ["3:10 redeclared"]],
    ["break outside a loop", "break;", ["2:1 break-outside-loop"]],
    ["an input event awaited as if it were an output", "emit A(1);", ["2:6 undeclared"]],
  ])("reports %s", (_what, body, expected) => {
    expect(errors(body)).toEqual(expected);
  });

  it("suggests the closest name", () => {
    expect(messages("var long count;\ncuont = 1;")).toEqual(["`cuont` is not declared"]);
    const d = build(`${T}var long count;\ncuont = 1;`).diagnostics[0];
    expect(d.hint).toBe("did you mean `count`?");
  });

  it("warns about a declaration that hides another, and an event never awaited", () => {
    expect(warnings("var long x;\ndo\n  var long x;\nend\nevent long e;\nemit e(1);")).toEqual(["4:12 shadow", "6:12 unused-event"]);
  });
});

describe("types", () => {
  it.each([
    ["a record assigned to a scalar", "var pair_t p;\nvar long x;\nx = p;", ["4:5 type"]],
    ["an array used without index", "var long[4] a;\nemit OUT(a);", ["3:10 type"]],
    ["a scalar indexed", "var long x;\nemit OUT(x[1]);", ["3:10 type"]],
    ["a constant index out of range", "var long[4] a;\na[4] = 1;", ["3:3 const"]],
    ["a division by the constant zero", "var long x = 1 / 0;", ["2:16 const"]],
    ["a function called with the wrong number of arguments", "var long x = twice(1, 2);", ["2:14 type"]],
    ["a value emitted on a void output", "emit PING(1);", ["2:11 type"]],
    ["a missing value on an output", "emit OUT;", ["2:1 type"]],
    ["a selector on an input without one", "await A(1);", ["2:9 type"]],
    ["the value of a void input", "var long x = await TICK;", ["2:14 type"]],
    ["a non-constant array size", "var long n = 3;\nvar long[n] a;", ["3:10 const"]],
    ["an assignment to a loop counter", "loop i, 3 do i = 0; end\nawait FOREVER;", ["2:14 type"]],
    ["an await inside async", "var long x;\nasync (x) do await A; end", ["3:14 async"]],
    ["an outer variable used inside async without being passed", "var long x;\nvar long y;\nasync (x) do x = y; end", ["4:18 async"]],
  ])("reports %s", (_what, body, expected) => {
    expect(errors(body)).toEqual(expected);
  });

  it("warns about narrowing assignments, like terrac, unless explicit", () => {
    expect(warnings("var long x = 70000;\nvar ubyte b = x;\nvar ubyte c = <ubyte>x;\nvar ubyte d = 300;")).toEqual(["3:15 narrowing", "5:15 narrowing"]);
  });
});

describe("a script with many mistakes", () => {
  it("gets one precise diagnostic per mistake", () => {
    const r = build(`${T}var long count;
var pair_t p;
var long[3] a;
cuont = 1;
emit NOPE(1);
await A(2);
p = count;
a[7] = 1;
emit PING(3);
count = twice(1, 2, 3);
var long count;
emit OUT(p);
break;
p.nothing = 2;
await e;
`);
    expect(diagList(r)).toEqual([
      "5:1 undeclared", "6:6 undeclared", "7:9 type", "8:5 type", "9:3 const", "10:11 type",
      "11:9 type", "12:10 redeclared", "13:10 type", "14:1 break-outside-loop", "15:3 undeclared", "16:7 undeclared",
    ]);
  });
});
