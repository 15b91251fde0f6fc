import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type * as A from "../compiler/ast";
import { Diagnostics, type Diagnostic } from "../compiler/diagnostics";
import { parseProgram } from "../compiler/frontend";
import { lex } from "../compiler/lexer";
import { stripComments } from "../compiler/preprocess";

const DEFS = fileURLToPath(new URL("../components/defs", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/frontend", import.meta.url));
const MAIN = "/t/main.terra";

function readReal(p: string): string | undefined {
  return existsSync(p) ? readFileSync(p, "utf8") : undefined;
}

/** Parse a script (in-memory files first, then the real file system). */
function parse(src: string, files: Record<string, string> = {}, file = MAIN, includeDirs: string[] = []) {
  const diags = new Diagnostics();
  const r = parseProgram(file, src, { includeDirs, builtinDir: DEFS, readFile: (p) => files[p] ?? readReal(p) }, diags);
  return { program: r.program, sources: r.sources, diags: diags.list };
}

/** Statements of a script without configuration; fails on any diagnostic. */
function body(src: string): A.Stmt[] {
  const r = parse(src);
  expect(r.diags).toEqual([]);
  return r.program.body;
}

/** The expression `src` (as the right-hand side of an assignment). */
function expr(src: string): A.Expr {
  const [s] = body(`x = ${src};`);
  if (s.kind !== "set" || s.source.kind !== "exp") throw new Error("not an expression");
  return s.source.expr;
}

/** An S-expression of an expression, to check the tree's shape. */
function sx(e: A.Expr): string {
  switch (e.kind) {
    case "num":
      return e.text;
    case "var":
      return e.name;
    case "null":
      return "null";
    case "sizeof":
      return `(sizeof ${e.type.name})`;
    case "call":
      return `(${e.name}${e.args.map((a) => " " + sx(a)).join("")})`;
    case "unary":
      return `(${e.op} ${sx(e.operand)})`;
    case "cast":
      return `(<${e.type}> ${sx(e.operand)})`;
    case "binary":
      return `(${e.op} ${sx(e.left)} ${sx(e.right)})`;
    case "index":
      return `([] ${sx(e.array)} ${sx(e.index)})`;
    case "field":
      return `(. ${sx(e.record)} ${e.field})`;
  }
}

/** A deep copy without locations. */
function noLocs<T>(x: T): T {
  return JSON.parse(JSON.stringify(x, (k, v) => (k === "loc" || k === "eventLoc" || k === "baseLoc" || k === "fieldLoc" ? undefined : v)));
}

const at = (line: number, col: number, file = MAIN): A.Loc => ({ file, line, col });
const brief = (d: Diagnostic) => `${d.line}:${d.column} ${d.message}`;

// ---------------------------------------------------------------- whole scripts

function scripts(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".terra"))
    .sort()
    .map((f) => `${dir}/${f}`);
}

/** The project's example scripts: examples/ in the repository, else the shared copy beside it. */
const EXAMPLES = [fileURLToPath(new URL("../examples", import.meta.url)), fileURLToPath(new URL("../../shared/examples", import.meta.url))].find(
  (d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith(".terra")),
);

describe.skipIf(EXAMPLES === undefined)("example scripts", () => {
  const files = EXAMPLES ? scripts(EXAMPLES) : [];
  it("exist", () => expect(files.length).toBeGreaterThan(0));
  for (const f of files) {
    it(`${f.split("/").pop()} parses without diagnostics`, () => {
      const r = parse(readFileSync(f, "utf8"), {}, f);
      expect(r.diags.map(brief)).toEqual([]);
      expect(r.program.config).not.toBeNull();
      expect(r.program.body.length).toBeGreaterThan(0);
    });
  }
});

describe("fixture scripts (the constructs of Terra's samples)", () => {
  const counts: Record<string, number> = { "groups.terra": 15, "quiet.terra": 5, "relay.terra": 18, "sampler.terra": 6, "selftest.terra": 24, "values.terra": 13, "volcano.terra": 12 };
  for (const f of scripts(FIXTURES)) {
    const name = f.split("/").pop()!;
    it(`${name} parses without diagnostics`, () => {
      const r = parse(readFileSync(f, "utf8"), {}, f, [`${FIXTURES}/defs`]);
      expect(r.diags.map(brief)).toEqual([]);
      expect(r.program.config).not.toBeNull();
      expect(r.program.body).toHaveLength(counts[name]);
    });
  }

  it("reads the volcano configuration with version 00.02.00", () => {
    const r = parse(readFileSync(`${FIXTURES}/volcano.terra`, "utf8"), {}, `${FIXTURES}/volcano.terra`, [`${FIXTURES}/defs`]);
    const c = r.program.config!;
    expect(c.name).toBe("Volcano");
    expect(c.version).toEqual([0, 2, 0]);
    expect(c.sizes).toEqual([{ platform: "telosb", bytes: 7100, loc: { file: `${FIXTURES}/defs/Volcano.defs`, line: 8, col: 3 } }]);
    const fft = c.decls.find((d): d is A.FunctionDecl => d.kind === "function" && d.name === "fft")!;
    expect(fft.params.map((p) => `${p.name}${"*".repeat(p.ptr)}`)).toEqual(["ubyte*", "long*", "ulong*"]);
  });

  it("expands a statement macro into statements located at the macro's use", () => {
    const f = `${FIXTURES}/selftest.terra`;
    const r = parse(readFileSync(f, "utf8"), {}, f);
    const last = r.program.body.slice(-5);
    expect(last.map((s) => s.kind)).toEqual(["set", "set", "emit-ext", "await-ext", "await-time"]);
    const line = readFileSync(f, "utf8").split("\n").findIndex((l) => l.includes("REPORT(TRUE)")) + 1;
    for (const s of last.slice(1)) expect(s.loc).toEqual({ file: f, line, col: 2 });
    const set = last[0] as A.SetStmt;
    expect(sx(set.target)).toBe("([] (. report b8) 0)");
    expect(set.loc).toEqual({ file: f, line, col: 2 });
    expect(set.source).toMatchObject({ kind: "exp", expr: { kind: "num", value: 1, loc: { file: f, line, col: 9 } } });
  });

  it("points every name in the examples at its text in the source", () => {
    for (const f of [...(EXAMPLES ? scripts(EXAMPLES) : []), ...scripts(FIXTURES)]) {
      const r = parse(readFileSync(f, "utf8"), {}, f, [`${FIXTURES}/defs`]);
      let checked = 0;
      const visit = (x: unknown): void => {
        if (Array.isArray(x)) return x.forEach(visit);
        if (x === null || typeof x !== "object") return;
        const n = x as { kind?: string; name?: string; loc?: A.Loc };
        if ((n.kind === "var" || n.kind === "call") && n.loc && n.name) {
          const line = r.sources.get(n.loc.file)!.split("\n")[n.loc.line - 1];
          const text = line.slice(n.loc.col - 1);
          // names come from the source, except those produced by a macro body (located at the macro's name)
          if (!/^[A-Z][A-Z_]*\(/.test(text) && !text.startsWith("REPORT")) {
            expect(text.startsWith(n.name), `${f}: ${n.name} at ${n.loc.line}:${n.loc.col}`).toBe(true);
            checked++;
          }
        }
        Object.values(x).forEach(visit);
      };
      visit(r.program.body);
      expect(checked).toBeGreaterThan(0);
    }
  });
});

// ---------------------------------------------------------------- configuration

describe("configuration block", () => {
  it("reads TerraNet.defs through #include", () => {
    const r = parse('#include "TerraNet.defs"\nawait 1s;\n');
    expect(r.diags).toEqual([]);
    const c = r.program.config!;
    const file = `${DEFS}/TerraNet.defs`;
    expect(c.name).toBe("TerraNet_MsgQ");
    expect(c.version).toEqual([0, 2, 0]);
    expect(c.loc).toEqual({ file, line: 14, col: 1 });
    expect(c.sizes.find((s) => s.platform === "micaz")!.bytes).toBe(1920);
    const input = c.decls.find((d) => d.kind === "input" && d.name === "RECEIVE" && d.selector === "ubyte")!;
    expect(noLocs(input)).toEqual({ kind: "input", type: { name: "radioMsg", ptr: 0 }, name: "RECEIVE", selector: "ubyte", id: 44 });
    const send = c.decls.find((d) => d.kind === "output" && d.name === "SEND")!;
    expect(noLocs(send)).toEqual({ kind: "output", mod: null, name: "SEND", argType: { name: "radioMsg", ptr: 0 }, id: 40 });
    const fft = c.decls.find((d) => d.kind === "function" && d.name === "fftAlloc") as A.FunctionDecl;
    expect(fft.mod).toBe("nohold");
    expect(fft.ret.name).toBe("ubyte");
    expect(fft.params.map((p) => [p.name, p.ptr])).toEqual([["ushort", 0], ["ushort", 0], ["ubyte", 1], ["ushort", 1]]);
    const unsafe = c.decls.find((d) => d.kind === "unsafe" && d.name === "LED0") as A.UnsafeDecl;
    expect(unsafe.with.map((w) => w.name)).toEqual(["LEDS", "LED0", "LED1", "LED2"]);
    const packet = c.decls.find((d) => d.kind === "packet") as A.PacketDecl;
    expect(packet.name).toBe("radioMsg");
    expect(packet.fields.map((f) => `${f.type.name}${f.dim ? `[${sx(f.dim)}]` : ""} ${f.names.map((n) => n.name)}`)).toEqual(["ubyte type", "ushort source", "ushort target", "payload[20] data"]);
    expect(packet.loc.file).toBe(file);
  });

  const cfg = (decls: string, header = "name : Test, code : 00.02.00, { micaz : 1920, host : 65535, }") => `config ${header} do\n${decls}\nend\nawait 1s;\n`;

  it("reads a version written 00.02.00 or 1 . 2 . 3 as three integers", () => {
    expect(parse(cfg("")).program.config!.version).toEqual([0, 2, 0]);
    const r = parse(cfg("", "name: X, code: 1 . 2 . 3, { a : 1 }"));
    expect(r.diags).toEqual([]);
    expect(r.program.config!.version).toEqual([1, 2, 3]);
    expect(r.program.config!.sizes.map((s) => s.platform)).toEqual(["a"]);
  });

  it("reads every kind of declaration", () => {
    const r = parse(
      cfg(
        [
          "input void BOOT void 2;",
          "input ushort TEMP ubyte 5;",
          "output pure void LEDS ubyte 5;",
          "output nohold void SEND msg_t* 40;",
          "output void PING void 41;",
          "function pure ushort getNodeId() 0;",
          "function ubyte sum(ushort*, ubyte, msg_t) 7;",
          "unsafe LEDS with LEDS, getNodeId;",
          "regtype pair with var ubyte a, b; var ulong[2] c; end",
          "packet msg_t with var ubyte kind; var payload[SIZE] data; end;",
        ].join("\n"),
      ),
    );
    expect(r.diags.map(brief)).toEqual([]);
    const d = r.program.config!.decls;
    expect(d.map((x) => x.kind)).toEqual(["input", "input", "output", "output", "output", "function", "function", "unsafe", "regtype", "packet"]);
    expect(noLocs(d[0])).toEqual({ kind: "input", type: { name: "void", ptr: 0 }, name: "BOOT", selector: "void", id: 2 });
    expect(noLocs(d[3])).toEqual({ kind: "output", mod: "nohold", name: "SEND", argType: { name: "msg_t", ptr: 1 }, id: 40 });
    expect((d[4] as A.OutputDecl).argType.name).toBe("void");
    expect(noLocs(d[6])).toMatchObject({ kind: "function", mod: null, ret: { name: "ubyte" }, name: "sum", params: [{ name: "ushort", ptr: 1 }, { name: "ubyte", ptr: 0 }, { name: "msg_t", ptr: 0 }], id: 7 });
    const pair = d[8] as A.RegTypeDecl;
    expect(pair.fields.map((f) => f.names.map((n) => n.name))).toEqual([["a", "b"], ["c"]]);
    expect(sx(pair.fields[1].dim!)).toBe("2");
    expect(sx((d[9] as A.PacketDecl).fields[1].dim!)).toBe("SIZE");
    expect(d[1].loc).toEqual(at(3, 1));
  });

  it("reports mistakes in declarations and goes on with the next one", () => {
    const r = parse(cfg(["input ushort TEMP 5;", "output LEDS ubyte 5;", "input ushort temp void 6;", "function void f() 1;", "var ubyte x;", "output void OK void 9;"].join("\n")));
    expect(r.diags.map(brief)).toEqual([
      "2:19 expected the selector type `ubyte` or `void` after the input's name, found number `5`",
      "3:8 expected `void` after `output` (outputs are declared `output void NAME TYPE ID;`), found `LEDS`",
      "4:14 an input event name `temp` must be all upper-case (A-Z, 0-9, _)",
      "5:10 expected the function's return type (a basic type), found `void`",
      "6:1 unexpected `var` in the configuration block",
    ]);
    // `output LEDS` is read as if `void` were there; the others are dropped
    expect(r.program.config!.decls.map((x) => x.kind)).toEqual(["output", "input", "output"]);
  });

  it("reports a malformed header once and still reads the declarations", () => {
    const r = parse("config 00.01.00 do\ninput ushort TEMP void 3;\nend\nawait 1s;\n");
    expect(r.diags.map(brief)).toEqual([
      "1:8 unexpected number `00.01` in the configuration header",
      "1:17 the configuration header lacks `name : NAME`, `code : N.N.N`, `{ platform : bytes, ... }`",
    ]);
    expect(r.program.config!.decls).toHaveLength(1);
    expect(r.program.body).toHaveLength(1);
  });

  it("reports a configuration after statements, and a second one", () => {
    const r = parse(`await 1s;\n${cfg("")}${cfg("")}`);
    expect(r.diags.map(brief)).toEqual(["2:1 the configuration block must come before the statements of the program", "6:1 a second configuration block"]);
  });

  it("parses a body without configuration", () => {
    const r = parse("var ubyte x = 1;\n");
    expect(r.diags).toEqual([]);
    expect(r.program).toMatchObject({ config: null, loc: at(1, 1) });
    expect(r.program.body).toHaveLength(1);
  });
});

// ---------------------------------------------------------------- statements

describe("statements", () => {
  it("declarations", () => {
    const [v, a, e] = body("var ubyte x = 1, y, z := 2;\nvar ushort[4*2] buf, other;\nevent ulong done, tick;\n");
    expect(v).toMatchObject({ kind: "var", type: { name: "ubyte", ptr: 0, loc: at(1, 5) }, dim: null, loc: at(1, 1) });
    const vd = (v as A.VarDeclStmt).decls;
    expect(vd.map((d) => [d.name, d.init ? sx((d.init as { expr: A.Expr }).expr) : null])).toEqual([["x", "1"], ["y", null], ["z", "2"]]);
    expect(vd.map((d) => d.loc)).toEqual([at(1, 11), at(1, 18), at(1, 21)]);
    expect(sx((a as A.VarDeclStmt).dim!)).toBe("(* 4 2)");
    expect((a as A.VarDeclStmt).decls.map((d) => d.name)).toEqual(["buf", "other"]);
    expect(e).toMatchObject({ kind: "event", type: { name: "ulong" }, loc: at(3, 1) });
    expect((e as A.EventDeclStmt).decls.map((d) => d.name)).toEqual(["done", "tick"]);
  });

  it("records and record variables", () => {
    const [r, p, v] = body("regtype pt with var short x, y; end\npktype m from radioMsg with var ubyte[4] d8; var float f; end;\nvar m msg;\n");
    expect(r).toMatchObject({ kind: "regtype", name: "pt", loc: at(1, 1) });
    expect(p).toMatchObject({ kind: "pktype", name: "m", base: "radioMsg", baseLoc: at(2, 15), loc: at(2, 1) });
    expect((p as A.PktypeDecl).fields.map((f) => [f.type.name, f.dim ? sx(f.dim) : null, f.names[0].name, f.loc])).toEqual([
      ["ubyte", "4", "d8", at(2, 29)],
      ["float", null, "f", at(2, 46)],
    ]);
    expect(v).toMatchObject({ kind: "var", type: { name: "m" } });
  });

  it("assignments with targets, `:=`, awaits and value blocks", () => {
    const [a, b, c, d, e] = body("a[i].f[2] = 3;\nb := c;\nmsg = await RECEIVE(1);\nv = do var ubyte t = 1; return t; end;\nw = par/or do await 1s; return 1; with await 2s; return 2; end;\n");
    expect(a).toMatchObject({ kind: "set", loc: at(1, 1) });
    expect(sx((a as A.SetStmt).target)).toBe("([] (. ([] a i) f) 2)");
    expect((a as A.SetStmt).target.loc).toEqual(at(1, 1));
    expect(b).toMatchObject({ kind: "set", source: { kind: "exp", expr: { kind: "var", name: "c" } } });
    expect(c).toMatchObject({ kind: "set", source: { kind: "await", await: { kind: "await-ext", event: "RECEIVE", aux: { kind: "num", value: 1 }, loc: at(3, 7), eventLoc: at(3, 13) } } });
    expect(d).toMatchObject({ kind: "set", source: { kind: "block", block: { kind: "do", fin: null, loc: at(4, 5) } } });
    const dob = (d as A.SetStmt).source as { block: A.DoStmt };
    expect(dob.block.body.map((s) => s.kind)).toEqual(["var", "return"]);
    expect(e).toMatchObject({ source: { kind: "block", block: { kind: "par/or" } } });
    expect(((e as A.SetStmt).source as { block: A.ParStmt }).block.branches).toHaveLength(2);
  });

  it("every form of await", () => {
    const s = body("await FOREVER;\nawait 500ms;\nawait (d)ms;\nawait TEMP;\nawait TEMP();\nawait SEND_DONE(msg.type);\nawait ev;\n");
    expect(noLocs(s)).toEqual([
      { kind: "await-forever" },
      { kind: "await-time", time: { kind: "const", ms: 500 } },
      { kind: "await-time", time: { kind: "expr", expr: { kind: "var", name: "d" }, unit: "ms" } },
      { kind: "await-ext", event: "TEMP", aux: null },
      { kind: "await-ext", event: "TEMP", aux: null },
      { kind: "await-ext", event: "SEND_DONE", aux: { kind: "field", record: { kind: "var", name: "msg" }, field: "type" } },
      { kind: "await-int", event: "ev" },
    ]);
    expect(s[1]).toMatchObject({ loc: at(2, 1), time: { loc: at(2, 7) } });
    expect(s[6]).toMatchObject({ loc: at(7, 1), eventLoc: at(7, 7) });
  });

  it("every form of emit", () => {
    const s = body("emit REQ_TEMP;\nemit REQ_TEMP();\nemit LEDS(c + 1);\nemit ev;\nemit ev(3);\nemit 10ms;\n");
    expect(noLocs(s)).toEqual([
      { kind: "emit-ext", event: "REQ_TEMP", arg: null },
      { kind: "emit-ext", event: "REQ_TEMP", arg: null },
      { kind: "emit-ext", event: "LEDS", arg: { kind: "binary", op: "+", left: { kind: "var", name: "c" }, right: { kind: "num", value: 1, isFloat: false, text: "1" } } },
      { kind: "emit-int", event: "ev", arg: null },
      { kind: "emit-int", event: "ev", arg: { kind: "num", value: 3, isFloat: false, text: "3" } },
      { kind: "emit-time", time: { kind: "const", ms: 10 } },
    ]);
    expect(s[2]).toMatchObject({ loc: at(3, 1), eventLoc: at(3, 6) });
  });

  it("calls, inc, dec, break and return", () => {
    const s = body("qClear();\nsetRFPower(0);\ninc a.b[1];\ndec n;\nloop do break; end\nreturn 1;\nreturn;\n");
    expect(s[0]).toMatchObject({ kind: "call-stmt", call: { kind: "call", name: "qClear", args: [], loc: at(1, 1) }, loc: at(1, 1) });
    expect(sx((s[1] as A.CallStmt).call)).toBe("(setRFPower 0)");
    expect(s[2]).toMatchObject({ kind: "inc", loc: at(3, 1) });
    expect(sx((s[2] as A.IncDecStmt).target)).toBe("([] (. a b) 1)");
    expect(s[3]).toMatchObject({ kind: "dec", target: { kind: "var", name: "n" } });
    expect((s[4] as A.LoopStmt).body).toEqual([{ kind: "break", loc: at(5, 9) }]);
    expect(s[5]).toMatchObject({ kind: "return", value: { kind: "num", value: 1 } });
    expect(s[6]).toEqual({ kind: "return", value: null, loc: at(7, 1) });
  });

  it("if with else/if and else", () => {
    const [s] = body("if a then x = 1;\nelse/if b then x = 2;\nelse/if c then\nelse x = 4; end;\n") as A.IfStmt[];
    expect(s.kind).toBe("if");
    expect(s.loc).toEqual(at(1, 1));
    expect(s.arms.map((a) => [sx(a.cond), a.body.length, a.loc])).toEqual([
      ["a", 1, at(1, 1)],
      ["b", 1, at(2, 1)],
      ["c", 0, at(3, 1)],
    ]);
    expect(s.orelse).toHaveLength(1);
    const [t] = body("if a then end") as A.IfStmt[];
    expect(t.orelse).toBeNull();
  });

  it("loops", () => {
    const s = body("loop do await 1s; end\nloop i do break; end\nloop i, qSize() do end\nloop k, OUT/2 do end\n") as A.LoopStmt[];
    expect(s.map((l) => [l.counter?.name ?? null, l.bound ? sx(l.bound) : null])).toEqual([
      [null, null],
      ["i", null],
      ["i", "(qSize)"],
      ["k", "(/ OUT 2)"],
    ]);
    expect(s[2].counter!.loc).toEqual(at(3, 6));
  });

  it("do/finally, async and par", () => {
    const [d, a, a2, p, q, r] = body(
      "do x = 1; finally x = 2; end\nasync (a, b) do x = a; end\nasync do end\npar/or do await 1s; with await 2s; with await 3s; end\npar/and do with end\npar do await FOREVER; with await FOREVER; end\n",
    );
    expect(d).toMatchObject({ kind: "do", loc: at(1, 1) });
    expect([(d as A.DoStmt).body.length, (d as A.DoStmt).fin!.length]).toEqual([1, 1]);
    expect(a).toMatchObject({ kind: "async", vars: [{ name: "a", loc: at(2, 8) }, { name: "b", loc: at(2, 11) }] });
    expect(a2).toMatchObject({ kind: "async", vars: [], body: [] });
    expect(p).toMatchObject({ kind: "par/or", loc: at(4, 1) });
    expect((p as A.ParStmt).branches.map((b) => b.length)).toEqual([1, 1, 1]);
    expect(q).toMatchObject({ kind: "par/and", branches: [[], []] });
    expect(r).toMatchObject({ kind: "par" });
  });

  it("allows extra semicolons and optional ones after blocks", () => {
    const s = body(";;x = 1;;\nloop do end;\ndo end\n;");
    expect(s.map((x) => x.kind)).toEqual(["set", "loop", "do"]);
  });

  it("turns ? in names into _ and treats @ as white space", () => {
    const [s] = body("done? = @ is?ok;");
    expect(s).toMatchObject({ target: { name: "done_" }, source: { expr: { name: "is_ok" } } });
  });

  it("reads files with a byte order mark and CRLF line ends", () => {
    const r = parse("\uFEFFvar ubyte x;\r\n  x = 1;\r\n");
    expect(r.diags).toEqual([]);
    expect(r.program.body.map((s) => s.loc)).toEqual([at(1, 1), at(2, 3)]);
  });

  it("names files by the path given for the main file and the resolved path for included ones", () => {
    const r = parse('#include "cfg/x.defs"\nawait 1s;\n', { "cfg/x.defs": "config name : X, code : 1.0.0, { a : 1 } do end\n" }, "main.terra");
    expect(r.diags).toEqual([]);
    expect(r.program.config!.loc).toEqual({ file: "cfg/x.defs", line: 1, col: 1 });
    expect(r.program.body[0].loc).toEqual({ file: "main.terra", line: 2, col: 1 });
    expect([...r.sources.keys()]).toEqual(["main.terra", "cfg/x.defs"]);
  });

  it("uses the contextual words as ordinary names", () => {
    const [s] = body("s = ms + min * h - packet / from + name + code;");
    expect(sx((s as A.SetStmt).target)).toBe("s");
    expect(sx(((s as A.SetStmt).source as { expr: A.Expr }).expr)).toBe("(+ (+ (- (+ ms (* min h)) (/ packet from)) name) code)");
  });
});

// ---------------------------------------------------------------- time

describe("time", () => {
  const ms = (t: string) => ((body(`await ${t};`)[0] as { time: A.TimeSpec }).time as { ms: number }).ms;
  it("adds up h, min, s and ms, attached or spaced", () => {
    expect(ms("1h 30min")).toBe(5_400_000);
    expect(ms("1h30min")).toBe(5_400_000);
    expect(ms("10s")).toBe(10_000);
    expect(ms("10 s")).toBe(10_000);
    expect(ms("2min 1s 5ms")).toBe(121_005);
    expect(ms("1 h 2 min 3 s 4 ms")).toBe(3_723_004);
  });

  it("computed times", () => {
    const [s] = body("await (grParam1+1)s;");
    expect(s).toMatchObject({ kind: "await-time", time: { kind: "expr", unit: "s", loc: at(1, 7) } });
    expect(sx(((s as { time: A.TimeSpec }).time as { expr: A.Expr }).expr)).toBe("(+ grParam1 1)");
    const [t] = body("await (((flag%2)*500) + 150) ms;");
    expect(t).toMatchObject({ time: { kind: "expr", unit: "ms" } });
  });

  it("reports units out of order, fractions and a missing unit", () => {
    expect(parse("await 1s 2h;").diags.map(brief)).toEqual(["1:11 time unit `h` out of order: write the parts of a time in the order h, min, s, ms, each at most once"]);
    expect(parse("await 1.5s;").diags.map(brief)).toEqual(["1:7 a time is written with whole numbers, not `1.5`"]);
    const d = parse("await 10;").diags;
    expect(d.map(brief)).toEqual(["1:9 expected a time unit (`h`, `min`, `s` or `ms`), found `;`"]);
    expect(d[0].hint).toContain("500ms");
  });
});

// ---------------------------------------------------------------- expressions

describe("expressions", () => {
  it("operator precedence, lowest first", () => {
    const table: [string, string][] = [
      ["a or b and c", "(or a (and b c))"],
      ["a and b | c", "(and a (| b c))"],
      ["a | b ^ c", "(| a (^ b c))"],
      ["a ^ b & c", "(^ a (& b c))"],
      ["a & b == c", "(& a (== b c))"],
      ["a != b < c", "(!= a (< b c))"],
      ["a <= b << c", "(<= a (<< b c))"],
      ["a >> b + c", "(>> a (+ b c))"],
      ["a - b * c", "(- a (* b c))"],
      ["a % - b", "(% a (- b))"],
      ["a - -1", "(- a (- 1))"],
      ["x>>11 != y>>11", "(!= (>> x 11) (>> y 11))"],
      ["<ulong>1.0e3", "(<ulong> 1.0e3)"],
      ["not(a!=b)", "(not (!= a b))"],
      ["not a == b", "(== (not a) b)"],
      ["- a[1].f", "(- (. ([] a 1) f))"],
      ["~&x", "(~ (& x))"],
      ["<ubyte>(x[1]/10) == 102", "(== (<ubyte> (/ ([] x 1) 10)) 102)"],
      ["a < <ubyte>b", "(< a (<ubyte> b))"],
      ["f(a, g(b), (c))", "(f a (g b) c)"],
      ["sizeof<ushort> * 2", "(* (sizeof ushort) 2)"],
      ["sizeof<radioMsg>", "(sizeof radioMsg)"],
      ["null", "null"],
      ["TEMP + 1", "(+ TEMP 1)"],
      ["r.end + r.type", "(+ (. r end) (. r type))"],
    ];
    for (const [src, tree] of table) expect(sx(expr(src)), src).toBe(tree);
  });

  it("binary operators are left-associative", () => {
    expect(sx(expr("a - b - c"))).toBe("(- (- a b) c)");
    expect(sx(expr("a / b * c % d"))).toBe("(% (* (/ a b) c) d)");
    expect(sx(expr("a or b or c"))).toBe("(or (or a b) c)");
    expect(sx(expr("a << 1 >> 2"))).toBe("(>> (<< a 1) 2)");
  });

  it("literals", () => {
    const nums = ["10", "0x1F", "10.15", "1.0e3", "1e3", "2.", "'a'", "00"].map((t) => noLocs(expr(t)));
    expect(nums).toEqual([
      { kind: "num", value: 10, isFloat: false, text: "10" },
      { kind: "num", value: 31, isFloat: false, text: "0x1F" },
      { kind: "num", value: 10.15, isFloat: true, text: "10.15" },
      { kind: "num", value: 1000, isFloat: true, text: "1.0e3" },
      { kind: "num", value: 1000, isFloat: true, text: "1e3" },
      { kind: "num", value: 2, isFloat: true, text: "2." },
      { kind: "num", value: 97, isFloat: false, text: "'a'" },
      { kind: "num", value: 0, isFloat: false, text: "00" },
    ]);
  });

  it("locations: binary at the operator, others at their first token", () => {
    const e = expr("f(a) + <ubyte>b[2].c");
    expect(e.loc).toEqual(at(1, 10));
    const b = e as A.BinaryExpr;
    expect(b.left.loc).toEqual(at(1, 5));
    expect(b.right).toMatchObject({ kind: "cast", loc: at(1, 12), operand: { kind: "field", loc: at(1, 19), record: { kind: "index", loc: at(1, 19) } } });
    expect(expr("(a)").loc).toEqual(at(1, 6));
  });
});

// ---------------------------------------------------------------- errors

describe("syntax errors", () => {
  const one = (src: string) => {
    const r = parse(src);
    expect(r.diags.map(brief), src).toHaveLength(1);
    expect(r.diags[0].code).toBe("syntax");
    expect(r.diags[0].file).toBe(MAIN);
    return r.diags[0];
  };

  it("name what was expected, at the offending token", () => {
    const cases: [string, number, number, string][] = [
      ["if x > 1 emit LED0(1); end", 1, 10, "expected `then` after the condition of `if`, found `emit`"],
      ["x = x + ;", 1, 9, "expected an expression, found `;`"],
      ["x == 1;", 1, 3, "expected `=` after the assignment target, found `==`"],
      ["emit ;", 1, 6, "expected an event or a time after `emit`, found `;`"],
      ["await ;", 1, 7, "expected a time (`1s`, `(e)ms`), an event or `FOREVER` after `await`, found `;`"],
      ["var ubyte[ q;", 1, 13, "expected `]`, found `;`"],
      ["loop i, 10 await 1s; end", 1, 12, "expected `do` to begin the body of `loop`, found `await`"],
      ["x = f(1, 2;", 1, 11, "expected `)` to close the argument list, found `;`"],
      ["event radioMsg e;", 1, 7, "events carry a value of a basic type, not `radioMsg`"],
      ["x = <radioMsg>y;", 1, 6, "expected a basic type in the cast `<type>`, found `radioMsg`"],
      ["x = 1 $ 2;", 1, 7, "unexpected character `$`"],
      ["end", 1, 1, "unexpected `end`: there is no open block for it to close"],
      ["loop do await 1s; else await 2s; end", 1, 19, "unexpected `else` outside an `if`"],
      ["do finally finally end", 1, 12, "unexpected `finally` outside a `do ... end` block, or a second `finally`"],
      ["with", 1, 1, "unexpected `with` outside `par`, `par/or` or `par/and`"],
      ["then", 1, 1, "unexpected `then`, expected a statement"],
      ["input ushort TEMP void 5;", 1, 1, "`input` declarations are only allowed in the configuration block"],
      ["var ubyte Count;", 1, 11, "`Count`: names of variables and events must start with a lower-case letter"],
      ["loop I do end", 1, 6, "`I`: names of loop counters must start with a lower-case letter"],
      ["var radioMsg[3] m;", 1, 13, "arrays of `radioMsg` are not supported: only basic types can have a size `[N]`"],
      ["pktype p from radioMsg with var payload[3] d; end", 1, 33, "`payload` fields are only allowed in a `packet`, not in a pktype"],
      ["regtype r with end", 1, 16, "a regtype needs at least one field `var TYPE name;`"],
      ["regtype r with ubyte x; end", 1, 16, "unexpected `ubyte`, expected a field `var TYPE name;` or `end`"],
      ["pktype p radioMsg with var ubyte a; end", 1, 10, "expected `from` after the pktype's name"],
      ["par/or do await 1s; end", 1, 1, "`par/or` needs at least two branches separated by `with`"],
      ["x = a && b;", 1, 7, "`&&` is not a Céu-T operator: write `and`"],
      ["x = a || b;", 1, 7, "`||` is not a Céu-T operator: write `or`"],
      ["x = !b;", 1, 5, "`!` is not a Céu-T operator: write `not`"],
      ["await e(1);", 1, 8, "internal event `e` is awaited without an argument: `await e`"],
      ["x = await FOREVER;", 1, 11, "`await FOREVER` has no value to assign"],
    ];
    for (const [src, line, col, msg] of cases) {
      const d = one(src);
      expect([d.line, d.column], src).toEqual([line, col]);
      expect(d.message, src).toContain(msg);
    }
  });

  it("reports a missing `;` right after the previous token", () => {
    const d = one("emit LEDS(1)\n   await 1s;");
    expect([d.line, d.column, d.message]).toEqual([1, 13, "expected `;` after the statement, found `await`"]);
  });

  it("names the block that `end` should close and where it was opened", () => {
    let d = one("var ubyte x;\nloop do\n   await 1s;\n");
    expect([d.line, d.column, d.message]).toEqual([3, 13, "expected `end` to close `loop` opened at line 2, found end of file"]);
    d = one("par/or do\n  if x then\n    x = 1;\nwith\n  await 1s;\nend\n");
    expect([d.line, d.column, d.message]).toEqual([4, 1, "expected `end` to close `if` opened at line 2, found `with`"]);
  });

  it("gives hints for common mistakes", () => {
    expect(one("if x = 1 then end").hint).toBe("use `==` to compare values");
    const d = one("LEDS(1);");
    expect(d.message).toBe("`LEDS` is an event, not a function");
    expect(d.hint).toBe("write `emit LEDS(...)` to emit an output event");
  });

  it("locates errors in included files and in macro expansions", () => {
    const files = { "/t/bad.defs": "\n\nx = = 1;\n" };
    const r = parse('#include "bad.defs"\n', files);
    expect(r.diags.map((d) => [d.file, d.line, d.column])).toEqual([["/t/bad.defs", 3, 5]]);
    const m = parse("#define BAD(v) v = = 1\n\n  BAD(y);\n");
    expect(m.diags.map((d) => [d.file, d.line, d.column])).toEqual([[MAIN, 3, 3]]);
  });

  it("gives one diagnostic per mistake in a file with many unrelated mistakes", () => {
    const src = [
      '#include "TerraNet.defs"', // 1
      "var ubyte x = 1;", // 2
      "var ubyte y", // 3  missing ;
      "x = x + ;", // 4  missing operand
      "if x > 1 emit LED0(ON); end", // 5  missing then
      "loop do", // 6
      "   await 10;", // 7  missing unit
      "   emit LED1(x)", // 8  missing ;
      "   await 1s;", // 9
      "end", // 10
      "par/or do", // 11
      "   await 1s;", // 12
      "with", // 13
      "   x = (x + 1;", // 14 missing )
      "end", // 15
      "var ubyte Count = 3;", // 16 upper-case name
      "await TEMP x;", // 17 extra token
      "y = x * * 2;", // 18 missing operand
      "emit;", // 19 missing event
      "x = 3 4;", // 20 extra number
      "end", // 21 stray end
      "do", // 22
      "   x = 1;", // 23
      "finally", // 24
      "   x = 2;", // 25
      "end", // 26
      "await FOREVER;", // 27
    ].join("\n");
    const r = parse(src);
    expect(r.diags.every((d) => d.code === "syntax" && d.file === MAIN)).toBe(true);
    expect(r.diags.map((d) => d.line)).toEqual([3, 4, 5, 7, 8, 14, 16, 17, 18, 19, 20, 21]);
    // the statements around the mistakes are still there
    expect(r.program.body.map((s) => s.kind)).toEqual(["var", "var", "if", "loop", "par/or", "var", "await-ext", "set", "do", "await-forever"]);
  });

  it("reports absurdly deep nesting instead of overflowing the stack", () => {
    const r = parse(`x = ${"(".repeat(5000)}1${")".repeat(5000)};\nloop do end\n`);
    expect(r.diags).toHaveLength(1);
    expect(r.diags[0]).toMatchObject({ code: "syntax", line: 1, message: "the program is nested too deeply to be parsed" });
    // and the parser still works afterwards
    expect(parse("await 1s;").diags).toEqual([]);
  });

  it("never throws, whatever the input", () => {
    const words = ["var", "ubyte", "x", "=", "1", ";", "do", "end", "if", "then", "else", "par/or", "with", "loop", "await", "emit", "LEDS", "(", ")", "[", "]", "10ms", "#define A", "#if", "#endif", "/*", "*/", "config", "name", ":", ",", "{", "}", "\n", "'", '"', "$", "<", ">", "not", "-", "."];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...words), { maxLength: 40 }), (ws) => {
        const r = parse(ws.join(" "));
        expect(Array.isArray(r.program.body)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------- properties

const NAMES = ["a", "b", "x1", "msg", "c_d", "TEMP", "s", "ms", "h", "min", "packet", "from"];
const BASICS = ["ubyte", "ushort", "ulong", "byte", "short", "long", "float"] as const;
const BINOPS: A.BinaryOp[] = ["or", "and", "|", "^", "&", "==", "!=", "<", "<=", ">", ">=", "<<", ">>", "+", "-", "*", "/", "%"];
const PREC: Record<A.BinaryOp, number> = { or: 1, and: 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "<": 7, "<=": 7, ">": 7, ">=": 7, "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10 };

type E = Record<string, unknown> & { kind: string };

const numArb: fc.Arbitrary<E> = fc.oneof(
  fc.nat({ max: 100000 }).map((n) => ({ kind: "num", value: n, isFloat: false, text: String(n) })),
  fc.nat({ max: 0xffff }).map((n) => ({ kind: "num", value: n, isFloat: false, text: "0x" + n.toString(16) })),
  fc.tuple(fc.nat({ max: 999 }), fc.nat({ max: 99 })).map(([a, b]) => ({ kind: "num", value: parseFloat(`${a}.${b}`), isFloat: true, text: `${a}.${b}` })),
);
const leafArb: fc.Arbitrary<E> = fc.oneof(
  numArb,
  fc.constantFrom(...NAMES).map((name) => ({ kind: "var", name })),
  fc.constant({ kind: "null" }),
  fc.constantFrom(...BASICS).map((t) => ({ kind: "sizeof", type: { name: t, ptr: 0 } })),
);
const { exprArb } = fc.letrec<{ exprArb: E; bin: E; un: E; cast: E; idx: E; fld: E; call: E }>((tie) => ({
  exprArb: fc.oneof({ depthSize: "small", withCrossShrink: true }, leafArb, tie("bin"), tie("un"), tie("cast"), tie("idx"), tie("fld"), tie("call")),
  bin: fc.record({ kind: fc.constant("binary"), op: fc.constantFrom(...BINOPS), left: tie("exprArb"), right: tie("exprArb") }),
  un: fc.record({ kind: fc.constant("unary"), op: fc.constantFrom("not", "-", "~", "&"), operand: tie("exprArb") }),
  cast: fc.record({ kind: fc.constant("cast"), type: fc.constantFrom(...BASICS), operand: tie("exprArb") }),
  idx: fc.record({ kind: fc.constant("index"), array: tie("exprArb"), index: tie("exprArb") }),
  fld: fc.record({ kind: fc.constant("field"), record: tie("exprArb"), field: fc.constantFrom("type", "d8", "s", "end", "payload") }),
  call: fc.record({ kind: fc.constant("call"), name: fc.constantFrom("f", "getNodeId", "g2"), args: fc.array(tie("exprArb"), { maxLength: 3 }) }),
}));

/** Print with parentheses around every compound expression. */
function full(e: E): string {
  const x = e as unknown as A.Expr;
  switch (x.kind) {
    case "num":
      return x.text;
    case "var":
      return x.name;
    case "null":
      return "null";
    case "sizeof":
      return `sizeof<${x.type.name}>`;
    case "call":
      return `${x.name}(${x.args.map((a) => full(a as unknown as E)).join(", ")})`;
    case "unary":
      return `(${x.op} ${full(x.operand as unknown as E)})`;
    case "cast":
      return `(<${x.type}> ${full(x.operand as unknown as E)})`;
    case "binary":
      return `(${full(x.left as unknown as E)} ${x.op} ${full(x.right as unknown as E)})`;
    case "index":
      return `(${full(x.array as unknown as E)})[${full(x.index as unknown as E)}]`;
    case "field":
      return `(${full(x.record as unknown as E)}).${x.field}`;
  }
}

/** Print with only the parentheses that precedence and left associativity need. */
function minimal(e: E): string {
  const x = e as unknown as A.Expr;
  const level = (y: A.Expr) => (y.kind === "binary" ? PREC[y.op] : y.kind === "unary" || y.kind === "cast" ? 11 : y.kind === "index" || y.kind === "field" ? 12 : 13);
  const wrap = (y: A.Expr, parens: boolean) => (parens ? `(${minimal(y as unknown as E)})` : minimal(y as unknown as E));
  switch (x.kind) {
    case "binary":
      return `${wrap(x.left, level(x.left) < PREC[x.op])} ${x.op} ${wrap(x.right, level(x.right) <= PREC[x.op])}`;
    case "unary":
      return `${x.op} ${wrap(x.operand, level(x.operand) < 11)}`;
    case "cast":
      return `<${x.type}> ${wrap(x.operand, level(x.operand) < 11)}`;
    case "index":
      return `${wrap(x.array, level(x.array) < 12 || x.array.kind === "num")}[${minimal(x.index as unknown as E)}]`;
    case "field":
      return `${wrap(x.record, level(x.record) < 12 || x.record.kind === "num")}.${x.field}`;
    case "call":
      return `${x.name}(${x.args.map((a) => minimal(a as unknown as E)).join(", ")})`;
    default:
      return full(e);
  }
}

describe("properties", () => {
  it("an expression printed with full parentheses parses back to the same tree", () => {
    fc.assert(
      fc.property(exprArb, (e) => {
        expect(noLocs(expr(full(e)))).toEqual(e);
      }),
      { numRuns: 300 },
    );
  });

  it("an expression printed with minimal parentheses parses back to the same tree (precedence and associativity)", () => {
    fc.assert(
      fc.property(exprArb, (e) => {
        expect(noLocs(expr(minimal(e)))).toEqual(e);
      }),
      { numRuns: 300 },
    );
  });

  it("white space and comments between tokens do not change the program", () => {
    const sources = scripts(FIXTURES).map((f) => [f, readFileSync(f, "utf8")] as const);
    // A comment starts with a space: `/` followed by `/*` would read as `//`. No `@`: it is white
    // space for the parser but a token for the preprocessor (as for cpp), so `F @ (x)` is no macro call.
    const seps = [" ", "  ", "\t", "\n", " /* note */ ", " /*\n*/", " // note\n", "\r\n"];
    fc.assert(
      fc.property(fc.constantFrom(...sources), fc.infiniteStream(fc.constantFrom(...seps)), ([file, text], stream) => {
        const respaced = text
          .split("\n")
          .reduce<string[][]>((groups, line) => {
            // directives stay on their own lines; text between them is re-spaced
            if (/^\s*#/.test(line)) groups.push([line], []);
            else groups[groups.length - 1].push(line);
            return groups;
          }, [[]])
          .map((g) => (g.length === 1 && /^\s*#/.test(g[0]) ? g[0] : lex(stripComments(g.join("\n"), () => {})).tokens.map((t) => t.image).join("\u0000")))
          .join("\n")
          .replace(/\u0000/g, () => stream.next().value);
        const a = parse(text, {}, file, [`${FIXTURES}/defs`]);
        const b = parse(respaced, {}, file, [`${FIXTURES}/defs`]);
        expect(b.diags.map(brief)).toEqual([]);
        expect(noLocs(b.program)).toEqual(noLocs(a.program));
      }),
      { numRuns: 25 },
    );
  });
});
