/**
 * The configuration a script is compiled against (a .defs file's `config`
 * block): input and output events, functions, records, `unsafe` pairs and the
 * script space per platform. Built once per compilation from the AST; the
 * host components read the same model (components/*) to know ids and types.
 */
import type { BasicTypeName, ConfigBlock, Expr, FieldDecl, Loc, PacketDecl, PktypeDecl, RegTypeDecl, TypeRef } from "./ast";
import { BASIC_TYPES } from "./ast";
import type { Diagnostics } from "./diagnostics";
import { foldBinary } from "./fold";
import { BASIC_SIZE, basic, type Field, type RecordType, type Ty, VOID } from "./types";
import { configId } from "../vm/capsule";

export interface InputEvent {
  name: string;
  /** Type of the occurrence's value (void, basic or record). */
  type: Ty;
  /** Id of the `ubyte` selector form (await E(aux)), if declared. */
  filteredId: number | null;
  /** Id of the `void` selector form (await E), if declared. */
  anyId: number | null;
  loc: Loc;
}

export interface OutputEvent {
  name: string;
  id: number;
  /** Type of the emitted value (void, basic or record). */
  arg: Ty;
  loc: Loc;
}

/** A function parameter: by value, a record by reference, or a pointer to elements. */
export type Param =
  | { kind: "scalar"; type: BasicTypeName }
  | { kind: "record"; rec: RecordType }
  | { kind: "pointer"; elem: BasicTypeName };

export interface Func {
  name: string;
  id: number;
  ret: BasicTypeName;
  params: Param[];
  mod: "pure" | "nohold" | null;
  loc: Loc;
}

export interface Configuration {
  name: string;
  version: [number, number, number];
  /** Id carried by capsules compiled against this configuration (vm/capsule.ts configId). */
  id: number;
  /** Script space per platform, in bytes. */
  sizes: Map<string, number>;
  inputs: Map<string, InputEvent>;
  outputs: Map<string, OutputEvent>;
  functions: Map<string, Func>;
  /** Output events and functions that must not be used by two concurrent trails (symmetric). */
  unsafe: Map<string, Set<string>>;
  records: Map<string, RecordType>;
}

/** Evaluates an integer constant expression (array sizes); reports non-constant ones. */
export function constInt(e: Expr, diags: Diagnostics, what: string): number | null {
  const v = evalConst(e);
  if (typeof v === "string") {
    diags.error("const", e.loc, `${what} must be an integer constant: ${v}`);
    return null;
  }
  return v;
}

function evalConst(e: Expr): number | string {
  switch (e.kind) {
    case "num":
      return e.isFloat ? "a float is not allowed here" : e.value;
    case "unary": {
      const v = evalConst(e.operand);
      if (typeof v === "string") return v;
      if (e.op === "-") return -v | 0;
      if (e.op === "~") return ~v;
      if (e.op === "not") return v === 0 ? 1 : 0;
      return "`&` is not a constant";
    }
    case "binary": {
      const a = evalConst(e.left);
      if (typeof a === "string") return a;
      const b = evalConst(e.right);
      if (typeof b === "string") return b;
      const r = foldBinary(e.op, a | 0, b | 0, "int");
      return r.ok ? r.value : r.reason;
    }
    case "cast":
      return evalConst(e.operand);
    case "var":
      return `\`${e.name}\` is not a constant (use a #define)`;
    default:
      return "not a constant expression";
  }
}

/** Resolve a written type to a Ty (void allowed only where `allowVoid`). */
export function resolveType(t: TypeRef, records: Map<string, RecordType>, diags: Diagnostics, allowVoid = false): Ty | null {
  if (t.name === "void") {
    if (allowVoid) return VOID;
    diags.error("type", t.loc, "`void` is not allowed here");
    return null;
  }
  if ((BASIC_TYPES as readonly string[]).includes(t.name)) return basic(t.name as BasicTypeName);
  const rec = records.get(t.name);
  if (rec) return { kind: "record", rec };
  diags.error("undeclared", t.loc, `type \`${t.name}\` is not declared`,
    `basic types are ${BASIC_TYPES.join(", ")}; records come from regtype, packet or pktype declarations`);
  return null;
}

/** Lay out fields from `start`, in declaration order, without padding. */
function layoutFields(decls: FieldDecl[], start: number, into: Map<string, Field>, diags: Diagnostics, allowPayload: boolean): { end: number; payloads: Field[] } {
  let off = start;
  const payloads: Field[] = [];
  for (const fd of decls) {
    const isPayload = fd.type.name === "payload";
    if (isPayload && !allowPayload) {
      diags.error("type", fd.type.loc, "`payload` fields are only allowed in packet declarations");
      continue;
    }
    if (!isPayload && !(BASIC_TYPES as readonly string[]).includes(fd.type.name)) {
      diags.error("type", fd.type.loc, `field type \`${fd.type.name}\` must be a basic type`, `fields are ${BASIC_TYPES.join(", ")} or arrays of them`);
      continue;
    }
    const elem: BasicTypeName = isPayload ? "ubyte" : (fd.type.name as BasicTypeName);
    let dim: number | null = null;
    if (fd.dim) {
      dim = constInt(fd.dim, diags, "an array size");
      if (dim === null) continue;
      if (dim <= 0) {
        diags.error("const", fd.dim.loc, `array size must be positive, got ${dim}`);
        continue;
      }
    } else if (isPayload) {
      diags.error("type", fd.loc, "a payload field needs a size: `var payload[N] name;`");
      continue;
    }
    for (const n of fd.names) {
      if (into.has(n.name)) {
        diags.error("redeclared", n.loc, `field \`${n.name}\` is declared twice`);
        continue;
      }
      const size = BASIC_SIZE[elem] * (dim ?? 1);
      const f: Field = { name: n.name, elem, dim, offset: off, size };
      into.set(n.name, f);
      if (isPayload) payloads.push(f);
      off += size;
    }
  }
  return { end: off, payloads };
}

/** Build a regtype or packet record type. */
export function buildRecord(d: RegTypeDecl | PacketDecl, records: Map<string, RecordType>, diags: Diagnostics): RecordType | null {
  if (records.has(d.name)) {
    diags.error("redeclared", d.loc, `record type \`${d.name}\` is already declared`);
    return null;
  }
  const fields = new Map<string, Field>();
  const { end, payloads } = layoutFields(d.fields, 0, fields, diags, d.kind === "packet");
  if (d.kind === "packet" && payloads.length !== 1) {
    diags.error("type", d.loc, `packet \`${d.name}\` needs exactly one payload field, it has ${payloads.length}`);
  }
  const rec: RecordType = { name: d.name, kind: d.kind, size: end, fields, base: null };
  records.set(d.name, rec);
  return rec;
}

/** Build a pktype: the base packet's header fields, then its own fields laid over the base's payload. */
export function buildPktype(d: PktypeDecl, records: Map<string, RecordType>, diags: Diagnostics): RecordType | null {
  if (records.has(d.name)) {
    diags.error("redeclared", d.loc, `record type \`${d.name}\` is already declared`);
    return null;
  }
  const base = records.get(d.base);
  if (!base || base.kind !== "packet") {
    diags.error(base ? "type" : "undeclared", d.baseLoc, base ? `\`${d.base}\` is not a packet` : `packet \`${d.base}\` is not declared`,
      "pktype views the payload of a packet declared in the configuration, e.g. `pktype myMsg from radioMsg with ... end`");
    return null;
  }
  const payload = [...base.fields.values()].find((f) => f.elem === "ubyte" && f.dim !== null && f.offset + f.size === base.size);
  const fields = new Map<string, Field>();
  for (const [k, f] of base.fields) if (f !== payload) fields.set(k, f);
  const start = payload ? payload.offset : base.size;
  const { end } = layoutFields(d.fields, start, fields, diags, false);
  const room = payload ? payload.size : 0;
  if (end - start > room) {
    diags.error("type", d.loc, `the fields of \`${d.name}\` take ${end - start} bytes, but the payload of \`${base.name}\` holds ${room}`,
      "remove fields or use smaller types");
  }
  if (payload && !fields.has(payload.name)) fields.set(payload.name, payload);
  const rec: RecordType = { name: d.name, kind: "pktype", size: base.size, fields, base };
  records.set(d.name, rec);
  return rec;
}

function param(t: TypeRef, records: Map<string, RecordType>, diags: Diagnostics): Param | null {
  if (t.ptr > 1) {
    diags.error("config", t.loc, "pointers to pointers are not supported");
    return null;
  }
  const ty = resolveType(t, records, diags);
  if (!ty) return null;
  if (ty.kind === "basic") return t.ptr ? { kind: "pointer", elem: ty.name } : { kind: "scalar", type: ty.name };
  if (ty.kind === "record") {
    if (t.ptr) {
      diags.error("config", t.loc, "record parameters are already passed by reference; remove the `*`");
      return null;
    }
    return { kind: "record", rec: ty.rec };
  }
  return null;
}

/**
 * Build the configuration from the `config` block. Reports duplicate names
 * and ids, unknown types and inconsistent input forms (code "config").
 */
export function buildConfiguration(block: ConfigBlock, diags: Diagnostics): Configuration {
  const records = new Map<string, RecordType>();
  const cfg: Configuration = {
    name: block.name,
    version: block.version,
    id: configId(block.name, block.version),
    sizes: new Map(block.sizes.map((s) => [s.platform, s.bytes])),
    inputs: new Map(),
    outputs: new Map(),
    functions: new Map(),
    unsafe: new Map(),
    records,
  };
  const inputIds = new Map<number, string>();
  const outputIds = new Map<number, string>();
  const fnIds = new Map<number, string>();
  const checkId = (ids: Map<number, string>, id: number, name: string, loc: Loc, what: string): boolean => {
    if (!(Number.isInteger(id) && id >= 0 && id < 255)) {
      diags.error("config", loc, `${what} id ${id} of \`${name}\` must be 0..254`);
      return false;
    }
    const prev = ids.get(id);
    if (prev !== undefined) {
      diags.error("config", loc, `${what} id ${id} of \`${name}\` is already used by \`${prev}\``);
      return false;
    }
    ids.set(id, name);
    return true;
  };
  for (const d of block.decls) {
    switch (d.kind) {
      case "regtype":
      case "packet":
        buildRecord(d, records, diags);
        break;
      case "input": {
        const type = resolveType(d.type, records, diags, true);
        if (!type || !checkId(inputIds, d.id, d.name, d.loc, "input")) break;
        const prev = cfg.inputs.get(d.name);
        const form = d.selector === "ubyte" ? "filteredId" : "anyId";
        if (prev) {
          if (prev[form] !== null) diags.error("config", d.loc, `input \`${d.name}\` already has a \`${d.selector}\` form`);
          else if (JSON.stringify(prev.type) !== JSON.stringify(type) && !(prev.type.kind === "record" && type.kind === "record" && prev.type.rec === type.rec)) {
            diags.error("config", d.loc, `the two forms of input \`${d.name}\` must have the same type`);
          } else prev[form] = d.id;
        } else {
          cfg.inputs.set(d.name, { name: d.name, type, filteredId: form === "filteredId" ? d.id : null, anyId: form === "anyId" ? d.id : null, loc: d.loc });
        }
        break;
      }
      case "output": {
        const arg = resolveType(d.argType, records, diags, true);
        if (!arg || !checkId(outputIds, d.id, d.name, d.loc, "output")) break;
        if (cfg.outputs.has(d.name)) diags.error("config", d.loc, `output \`${d.name}\` is declared twice`);
        else cfg.outputs.set(d.name, { name: d.name, id: d.id, arg, loc: d.loc });
        break;
      }
      case "function": {
        const ret = resolveType(d.ret, records, diags);
        if (!ret || !checkId(fnIds, d.id, d.name, d.loc, "function")) break;
        if (ret.kind !== "basic") {
          diags.error("config", d.ret.loc, `function \`${d.name}\` must return a basic type`);
          break;
        }
        const params = d.params.map((p) => param(p, records, diags));
        if (params.some((p) => p === null)) break;
        if (cfg.functions.has(d.name)) diags.error("config", d.loc, `function \`${d.name}\` is declared twice`);
        else cfg.functions.set(d.name, { name: d.name, id: d.id, ret: ret.name, params: params as Param[], mod: d.mod, loc: d.loc });
        break;
      }
      case "unsafe":
        break; // after all outputs and functions are known
    }
  }
  for (const d of block.decls) {
    if (d.kind !== "unsafe") continue;
    const known = (n: string) => cfg.outputs.has(n) || cfg.functions.has(n);
    if (!known(d.name)) {
      diags.error("config", d.loc, `unsafe: \`${d.name}\` is not an output event or function of this configuration`);
      continue;
    }
    for (const w of d.with) {
      if (!known(w.name)) {
        diags.error("config", w.loc, `unsafe: \`${w.name}\` is not an output event or function of this configuration`);
        continue;
      }
      for (const [a, b] of [[d.name, w.name], [w.name, d.name]]) {
        if (!cfg.unsafe.has(a)) cfg.unsafe.set(a, new Set());
        cfg.unsafe.get(a)!.add(b);
      }
    }
  }
  return cfg;
}
