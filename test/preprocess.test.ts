import { describe, expect, it } from "vitest";
import { Diagnostics, type Diagnostic } from "../compiler/diagnostics";
import { dirname, joinPath, normalizePath, preprocess, type PreprocessOptions } from "../compiler/preprocess";

/** Preprocess `files[main]` with an in-memory file system. */
function run(files: Record<string, string>, main = "/p/main.terra", opts: Partial<PreprocessOptions> = {}) {
  const diags = new Diagnostics();
  const reads: string[] = [];
  const r = preprocess(
    main,
    files[main],
    {
      includeDirs: [],
      builtinDir: "/builtin",
      readFile: (p) => {
        reads.push(p);
        return files[p];
      },
      ...opts,
    },
    diags,
  );
  return { ...r, diags, reads };
}

/** The output with runs of white space collapsed. */
const norm = (s: string) => s.replace(/\s+/g, " ").trim();
/** The output without any white space. */
const squash = (s: string) => s.replace(/\s+/g, "");

/** Location of the n-th occurrence of `needle` in the output. */
function at(r: { text: string; map: { locate(o: number): unknown } }, needle: string, nth = 0) {
  let i = -1;
  for (let k = 0; k <= nth; k++) {
    i = r.text.indexOf(needle, i + 1);
    if (i < 0) throw new Error(`${needle} not in output:\n${r.text}`);
  }
  return r.map.locate(i);
}

function only(diags: Diagnostics): Diagnostic {
  expect(diags.list).toHaveLength(1);
  return diags.list[0];
}

describe("paths", () => {
  it("joins and normalizes", () => {
    expect(joinPath("/a/b", "../c/./d.defs")).toBe("/a/c/d.defs");
    expect(joinPath(".", "x.defs")).toBe("x.defs");
    expect(joinPath("/a", "/abs/y.defs")).toBe("/abs/y.defs");
    expect(normalizePath("a//b/../c")).toBe("a/c");
    expect(dirname("/p/main.terra")).toBe("/p");
    expect(dirname("main.terra")).toBe(".");
  });
});

describe("comments", () => {
  it("are replaced by spaces so that lines and columns stay", () => {
    const r = run({ "/p/main.terra": "x = 1; // one\n/* two\nlines */ y = 2;\n" });
    expect(r.diags.list).toEqual([]);
    expect(norm(r.text)).toBe("x = 1; y = 2;");
    expect(at(r, "y")).toEqual({ file: "/p/main.terra", line: 3, col: 10 });
  });

  it("are removed from #define bodies", () => {
    const r = run({ "/p/main.terra": "#define OUT_SIZE 102 // (2*ulong)*((FREQ/2)+1)\n#define POOL 5 /* five */\nvar ubyte[OUT_SIZE] a; x = POOL;\n" });
    expect(squash(r.text)).toBe("varubyte[102]a;x=5;");
  });

  it("handles Terra's /*{-{*/ markers and banner comments", () => {
    const r = run({ "/p/main.terra": "/*{-{*/\n/*****\n * banner\n *****/\nx = 1;\n/*}-}*/\n" });
    expect(norm(r.text)).toBe("x = 1;");
    expect(at(r, "x")).toEqual({ file: "/p/main.terra", line: 5, col: 1 });
  });

  it("do not nest: the first */ closes", () => {
    const r = run({ "/p/main.terra": "/* a /* b */ x = 1; /* c */\n" });
    expect(norm(r.text)).toBe("x = 1;");
  });

  it("keeps // inside a string of an #include", () => {
    const r = run({ "/p/main.terra": '#include "a//b.defs"\n', "/p/a/b.defs": "ok;\n" });
    expect(r.diags.list).toEqual([]);
    expect(norm(r.text)).toBe("ok;");
  });

  it("reports an unterminated comment at its start", () => {
    const r = run({ "/p/main.terra": "x = 1;\n  /* never closed\ny = 2;\n" });
    const d = only(r.diags);
    expect(d).toMatchObject({ code: "preprocess", file: "/p/main.terra", line: 2, column: 3 });
    expect(d.message).toContain("unterminated comment");
    expect(norm(r.text)).toBe("x = 1;");
  });
});

describe("#define", () => {
  it("expands object-like macros, recursively, at the point of use", () => {
    const r = run({ "/p/main.terra": "#define TWO (ONE + ONE)\n#define ONE 1\nx = TWO;\n" });
    expect(squash(r.text)).toBe("x=(1+1);");
  });

  it("expands function-like macros with nested parentheses and commas", () => {
    const r = run({ "/p/main.terra": "#define ADD(a, b) (a) + (b)\nx = ADD(f(1, 2), (3, 4));\n" });
    expect(r.diags.list).toEqual([]);
    expect(squash(r.text)).toBe("x=(f(1,2))+((3,4));");
  });

  it("expands macro arguments before substitution and macros in the result", () => {
    const r = run({ "/p/main.terra": "#define ON 1\n#define SET(v) emit LED0(v)\n#define ALL SET(ON)\nALL;\n" });
    expect(squash(r.text)).toBe("emitLED0(1);");
  });

  it("does not re-expand a macro inside its own expansion", () => {
    const r = run({ "/p/main.terra": "#define f(x) f(x + 1)\n#define A B\n#define B A\ny = f(2); z = A;\n" });
    expect(r.diags.list).toEqual([]);
    expect(squash(r.text)).toBe("y=f(2+1);z=A;");
  });

  it("expands macro bodies that are statements", () => {
    const src = [
      "#define SEND_MSG(status) msg.d8[0]= status; emit SEND(msg); await 100ms;",
      "#define await_until(ret, evt, cond) loop do ret = await evt; if cond then break; end end",
      "SEND_MSG(x == 1);",
      "await_until(m, RECEIVE, m.type == 2);",
    ].join("\n");
    const r = run({ "/p/main.terra": src });
    expect(r.diags.list).toEqual([]);
    const lines = r.text.split("\n");
    expect(norm(lines[2])).toBe("msg.d8[0]= x == 1 ; emit SEND(msg); await 100ms; ;");
    expect(norm(lines[3])).toBe("loop do m = await RECEIVE ; if m.type == 2 then break; end end ;");
  });

  it("keeps multi-character operators and par/or in a body together", () => {
    const r = run({ "/p/main.terra": "#define BODY par/or do x := a<<2 >= b; with end\nBODY\n" });
    expect(norm(r.text)).toBe("par/or do x := a<<2 >= b; with end");
  });

  it("separates tokens that would paste", () => {
    const r = run({ "/p/main.terra": "#define LT <\n#define NEG(x) -x\na = b LT<ubyte>c; d = NEG(-1);\n" });
    expect(r.text).not.toContain("<<");
    expect(r.text).not.toContain("--");
  });

  it("collects arguments over several lines and keeps the line structure", () => {
    const r = run({ "/p/main.terra": "#define F(a, b) a + b\nx = F(1,\n      2);\ny = 3;\n" });
    expect(r.diags.list).toEqual([]);
    expect(r.text.split("\n")).toHaveLength(5);
    expect(at(r, "y")).toEqual({ file: "/p/main.terra", line: 4, col: 1 });
    expect(at(r, "2")).toEqual({ file: "/p/main.terra", line: 3, col: 7 });
  });

  it("leaves a function-like macro's name alone without arguments", () => {
    const r = run({ "/p/main.terra": "#define f(x) x\ny = f;\n" });
    expect(r.diags.list).toEqual([]);
    expect(squash(r.text)).toBe("y=f;");
  });

  it("supports #undef and backslash-newline continuations", () => {
    const r = run({ "/p/main.terra": "#define LONG 1 + \\\n   2\nx = LONG;\n#undef LONG\ny = LONG;\n" });
    expect(squash(r.text)).toBe("x=1+2;y=LONG;");
    expect(at(r, "y")).toEqual({ file: "/p/main.terra", line: 5, col: 1 });
  });

  it("takes predefined macros from the options", () => {
    const r = run({ "/p/main.terra": "#if DEBUG\nx = LEVEL;\n#endif\n" }, "/p/main.terra", { defines: { DEBUG: "1", LEVEL: "3" } });
    expect(squash(r.text)).toBe("x=3;");
  });

  it("warns about a redefinition with another body, not about an identical one", () => {
    const r = run({ "/p/main.terra": "#define A 1\n#define A  1 // same\n#define A 2\n" });
    const d = only(r.diags);
    expect(d).toMatchObject({ severity: "warning", code: "preprocess", line: 3, column: 9 });
    expect(d.message).toContain("`A` redefined");
  });
});

describe("#if", () => {
  const cond = (expr: string, defs = "") => squash(run({ "/p/main.terra": `${defs}#if ${expr}\nyes\n#else\nno\n#endif\n` }).text);

  it("evaluates integer arithmetic, comparisons and logic", () => {
    expect(cond("(2 + 3) * 2 == 10 && 7 % 4 == 3")).toBe("yes");
    expect(cond("1 << 4 > 15 || 0")).toBe("yes");
    expect(cond("!(3 >= 4) && -1 < 0 && ~0 == -1")).toBe("yes");
    expect(cond("0x10 == 16 && 010 == 8 && 'a' == 97")).toBe("yes");
    expect(cond("1 ? 0 : 1")).toBe("no");
    expect(cond("(5 & 4) | (1 ^ 1)")).toBe("yes");
  });

  it("treats undefined names as 0 and knows defined()", () => {
    expect(cond("FOO")).toBe("no");
    expect(cond("FOO == 0 && !defined(FOO) && !defined FOO")).toBe("yes");
    expect(cond("defined(FOO) && FOO > 2", "#define FOO 3\n")).toBe("yes");
    expect(cond("defined FOO", "#define FOO\n")).toBe("yes");
  });

  it("takes the first true branch of #if/#elif/#else", () => {
    const src = "#define V 2\n#if V == 1\none\n#elif V == 2\ntwo\n#elif V >= 2\nthree\n#else\nother\n#endif\n";
    expect(squash(run({ "/p/main.terra": src }).text)).toBe("two");
  });

  it("does not evaluate conditions inside skipped groups", () => {
    const r = run({ "/p/main.terra": "#if 0\n#if 1/0\n#include \"nowhere.defs\"\n#endif\n#bogus\n#else\nok\n#endif\n" });
    expect(r.diags.list).toEqual([]);
    expect(squash(r.text)).toBe("ok");
  });

  it("supports #ifdef/#ifndef", () => {
    const r = run({ "/p/main.terra": "#define A\n#ifdef A\na\n#endif\n#ifndef A\nb\n#endif\n#ifndef B\nc\n#endif\n" });
    expect(squash(r.text)).toBe("ac");
  });

  it("reports a malformed expression and takes the group as false", () => {
    const r = run({ "/p/main.terra": "#if 1 +\nx\n#endif\ny\n" });
    const d = only(r.diags);
    expect(d).toMatchObject({ code: "preprocess", line: 1, column: 1 });
    expect(d.message).toContain("malformed `#if` expression");
    expect(squash(r.text)).toBe("y");
  });

  it("reports division by zero", () => {
    const r = run({ "/p/main.terra": "#if 1 / (2 - 2)\n#endif\n" });
    expect(only(r.diags).message).toContain("division by zero");
  });
});

describe("#include", () => {
  it("inlines the file with include guards", () => {
    const files = {
      "/p/main.terra": '#include "x.defs"\n#include "x.defs"\nbody;\n',
      "/p/x.defs": "#ifndef X_DEFS\n#define X_DEFS\ndefs;\n#endif\n",
    };
    const r = run(files);
    expect(r.diags.list).toEqual([]);
    expect(squash(r.text)).toBe("defs;body;");
    expect([...r.sources.keys()]).toEqual(["/p/main.terra", "/p/x.defs"]);
  });

  it("searches the including file's directory, then -I directories in order, then the builtin directory", () => {
    const files = {
      "/p/main.terra": '#include "a.defs"\n#include "b.defs"\n#include "c.defs"\n#include <a.defs>\n',
      "/p/a.defs": "local_a;\n",
      "/i1/a.defs": "i1_a;\n",
      "/i1/b.defs": "i1_b;\n",
      "/i2/b.defs": "i2_b;\n",
      "/i2/c.defs": "i2_c;\n",
      "/builtin/c.defs": "builtin_c;\n",
    };
    const r = run(files, "/p/main.terra", { includeDirs: ["/i1", "/i2"] });
    expect(r.diags.list).toEqual([]);
    expect(squash(r.text)).toBe("local_a;i1_b;i2_c;i1_a;");
  });

  it("finds the bundled configuration in the builtin directory", () => {
    const r = run({ "/p/main.terra": '#include "TerraNet.defs"\n', "/builtin/TerraNet.defs": "config;\n" });
    expect(r.reads).toEqual(["/p/TerraNet.defs", "/builtin/TerraNet.defs"]);
    expect(at(r, "config")).toEqual({ file: "/builtin/TerraNet.defs", line: 1, col: 1 });
  });

  it("resolves includes of included files relative to their own directory", () => {
    const files = { "/p/main.terra": '#include "sub/a.defs"\n', "/p/sub/a.defs": '#include "b.defs"\n', "/p/sub/b.defs": "deep;\n" };
    const r = run(files);
    expect(squash(r.text)).toBe("deep;");
    expect(at(r, "deep")).toEqual({ file: "/p/sub/b.defs", line: 1, col: 1 });
  });

  it("maps locations through includes back to each file", () => {
    const files = {
      "/p/main.terra": 'first;\n#include "x.defs"\n  last;\n',
      "/p/x.defs": "\n\n   inner;\n",
    };
    const r = run(files);
    expect(at(r, "first")).toEqual({ file: "/p/main.terra", line: 1, col: 1 });
    expect(at(r, "inner")).toEqual({ file: "/p/x.defs", line: 3, col: 4 });
    expect(at(r, "last")).toEqual({ file: "/p/main.terra", line: 3, col: 3 });
  });

  it("reports a file that is not found, with the paths searched and -I", () => {
    const r = run({ "/p/main.terra": 'x;\n#include "Nope.defs"\ny;\n' }, "/p/main.terra", { includeDirs: ["/inc"] });
    const d = only(r.diags);
    expect(d).toMatchObject({ code: "preprocess", file: "/p/main.terra", line: 2, column: 11 });
    expect(d.message).toContain("cannot find include file `Nope.defs`");
    expect(d.hint).toContain("/p/Nope.defs, /inc/Nope.defs, /builtin/Nope.defs");
    expect(d.hint).toContain("-I");
    expect(squash(r.text)).toBe("x;y;");
  });

  it("reports an include cycle with its chain", () => {
    const files = { "/p/main.terra": '#include "a.defs"\n', "/p/a.defs": '#include "b.defs"\n', "/p/b.defs": 'b;\n#include "a.defs"\n' };
    const r = run(files);
    const d = only(r.diags);
    expect(d).toMatchObject({ code: "preprocess", file: "/p/b.defs", line: 2, column: 11 });
    expect(d.message).toContain("#include cycle: /p/a.defs -> /p/b.defs -> /p/a.defs");
    expect(squash(r.text)).toBe("b;");
  });

  it("reports a malformed #include", () => {
    const r = run({ "/p/main.terra": "#include TerraNet.defs\n" });
    const d = only(r.diags);
    expect(d).toMatchObject({ code: "preprocess", line: 1, column: 1 });
    expect(d.message).toContain("malformed `#include`");
  });
});

describe("errors", () => {
  it("reports an unterminated #if at the opening directive", () => {
    const r = run({ "/p/main.terra": "x;\n  #ifdef A\ny;\n" });
    const d = only(r.diags);
    expect(d).toMatchObject({ code: "preprocess", file: "/p/main.terra", line: 2, column: 3 });
    expect(d.message).toBe("unterminated `#ifdef`");
    expect(d.hint).toContain("#endif");
  });

  it("reports #else, #elif and #endif without #if", () => {
    const r = run({ "/p/main.terra": "#else\n#elif 1\n#endif\n" });
    expect(r.diags.list.map((d) => [d.line, d.message])).toEqual([
      [1, "`#else` without `#if`"],
      [2, "`#elif` without `#if`"],
      [3, "`#endif` without `#if`"],
    ]);
  });

  it("reports #else after #else", () => {
    const r = run({ "/p/main.terra": "#if 1\n#else\n#else\n#endif\n" });
    expect(only(r.diags)).toMatchObject({ line: 3, message: "`#else` after `#else`" });
  });

  it("reports a wrong number of macro arguments at the use", () => {
    const r = run({ "/p/main.terra": "#define getTemp(v) emit REQ_TEMP(); v = await TEMP\n\n   getTemp(a, b);\nnext;\n" });
    const d = only(r.diags);
    expect(d).toMatchObject({ code: "preprocess", file: "/p/main.terra", line: 3, column: 4 });
    expect(d.message).toBe("macro `getTemp` expects 1 argument, but 2 were given");
    expect(d.hint).toContain("/p/main.terra:1");
    expect(squash(r.text)).toBe(";next;");
  });

  it("reports an unterminated macro argument list", () => {
    const r = run({ "/p/main.terra": "#define F(a) a\nx = F(1, (2;\n#define G 1\ny;\n" });
    const d = only(r.diags);
    expect(d).toMatchObject({ code: "preprocess", line: 2, column: 5 });
    expect(d.message).toContain("unterminated argument list of macro `F`");
    expect(squash(r.text)).toBe("x=F(1,(2;y;");
  });

  it("reports malformed directives", () => {
    const r = run({ "/p/main.terra": "#define\n#define 3 x\n#define F(a, 1) a\n#define G(a, a) a\n#frobnicate\n#ifdef\n#endif\n#undef\n" });
    expect(r.diags.list.map((d) => `${d.line}:${d.message}`)).toEqual([
      "1:`#define` needs a macro name",
      "2:`#define` needs a macro name",
      "3:malformed parameter list of macro `F`",
      "4:duplicate parameter `a` of macro `G`",
      "5:unknown directive `#frobnicate`",
      "6:`#ifdef` needs a macro name",
      "8:`#undef` needs a macro name",
    ]);
    expect(r.diags.list.every((d) => d.code === "preprocess")).toBe(true);
  });

  it("stops a runaway expansion", () => {
    const defs = "ABCDEFGHIJKLMNOPQRS".split("").map((c, i, all) => `#define ${c} ${all[i + 1] ?? "z"} ${all[i + 1] ?? "z"}`);
    const r = run({ "/p/main.terra": [...defs, "A", "ok;"].join("\n") });
    const d = only(r.diags);
    expect(d).toMatchObject({ code: "preprocess", line: 20, column: 1 });
    expect(d.message).toContain("expands to too much");
    expect(r.text.split("\n")[20]).toBe("ok;");
  });

  it("reports #error and keeps going after errors", () => {
    const r = run({ "/p/main.terra": "a;\n#error stop here\n#include \"missing.defs\"\nb;\n#endif\nc;\n" });
    expect(r.diags.list.map((d) => d.line)).toEqual([2, 3, 5]);
    expect(r.diags.list[0].message).toBe("#error stop here");
    expect(squash(r.text)).toBe("a;b;c;");
  });
});

describe("source map", () => {
  it("maps text copied from a line exactly, character by character", () => {
    const src = "var ubyte x = 10;\n\tloop do await 1s; end\n";
    const r = run({ "/p/main.terra": src });
    const lines = src.split("\n");
    for (let i = 0; i < r.text.length; i++) {
      if (/\s/.test(r.text[i])) continue;
      const loc = r.map.locate(i);
      expect(lines[loc.line - 1][loc.col - 1]).toBe(r.text[i]);
    }
  });

  it("maps a macro body to the macro's name at the use site, and its arguments to themselves", () => {
    const r = run({ "/p/main.terra": "#define SEND(m) emit SEND_ACK(m); await SEND_DONE\n\n  x = 1; SEND(msg);\n" });
    expect(at(r, "emit")).toEqual({ file: "/p/main.terra", line: 3, col: 10 });
    expect(at(r, "SEND_DONE")).toEqual({ file: "/p/main.terra", line: 3, col: 10 });
    expect(at(r, "msg")).toEqual({ file: "/p/main.terra", line: 3, col: 15 });
    expect(at(r, "x")).toEqual({ file: "/p/main.terra", line: 3, col: 3 });
  });

  it("maps a macro used inside another macro's expansion to the outermost use", () => {
    const r = run({ "/p/main.terra": "#define ONE 1\n#define TWO ONE + ONE\n\ny = TWO;\n" });
    expect(at(r, "1")).toEqual({ file: "/p/main.terra", line: 4, col: 5 });
    expect(at(r, "+")).toEqual({ file: "/p/main.terra", line: 4, col: 5 });
  });

  it("maps a macro defined in an included file to the use in the main file", () => {
    const files = { "/p/main.terra": '#include "d.defs"\n  z = K;\n', "/p/d.defs": "#define K 42\n" };
    const r = run(files);
    expect(at(r, "42")).toEqual({ file: "/p/main.terra", line: 2, col: 7 });
  });
});
