/**
 * Input traces for `terra run` (and the C host `terra-mote`): a JSON array of
 * `{"at_ms": T, "event": "NAME", "value": V, "aux": A}` entries with absolute,
 * non-decreasing logical times in ms. `value` is omitted for void inputs, a
 * number for basic types, and an object of fields or an array of bytes for
 * records and packets; `aux` (0..255) is the selector of inputs that can be
 * awaited filtered (default: the value for scalars, the first byte for records,
 * which is a radio message's `type`).
 *
 * Errors name the file, the line of the entry and the field at fault.
 */
import type { Configuration, InputEvent } from "../compiler/config";
import { BASIC_SIZE, intRange, type RecordType, type Ty } from "../compiler/types";

/** One validated trace entry. `data` is an int32 for scalars, bytes for records, 0 for void. */
export interface TraceEntry {
  at: number;
  event: string;
  input: InputEvent;
  aux: number;
  data: number | Uint8Array;
  /** Line of the entry in the trace file (1-based). */
  line: number;
}

/** A malformed trace: `line` and `field` locate the fault. */
export class TraceError extends Error {
  constructor(readonly file: string, readonly line: number, readonly field: string | null, readonly reason: string) {
    super(`${file}:${line}: ${field ? `field "${field}": ` : ""}${reason}`);
    this.name = "TraceError";
  }
}

/** Parse and validate a trace against a configuration. @throws TraceError */
export function parseTrace(file: string, text: string, cfg: Configuration): TraceEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const line = m ? lineOf(text, Number(m[1])) : 1;
    throw new TraceError(file, line, null, `not valid JSON (${(e as Error).message.replace(/^.*?: /, "")})`);
  }
  if (!Array.isArray(json)) throw new TraceError(file, 1, null, 'a trace is a JSON array of {"at_ms", "event", "value"} entries');
  const lines = elementLines(text);
  const out: TraceEntry[] = [];
  let last = 0;
  json.forEach((raw, i) => {
    const line = lines[i] ?? 1;
    const fail = (field: string | null, reason: string): never => {
      throw new TraceError(file, line, field, `entry ${i + 1}: ${reason}`);
    };
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail(null, 'an entry is an object {"at_ms", "event", "value"}');
    const o = raw as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!["at_ms", "event", "value", "aux"].includes(k)) fail(k, `unknown field (expected at_ms, event, value, aux)`);
    }
    const at = o.at_ms;
    if (typeof at !== "number" || !Number.isInteger(at) || at < 0) fail("at_ms", `must be a non-negative integer number of ms, got ${JSON.stringify(at)}`);
    if ((at as number) < last) fail("at_ms", `times must not decrease: ${at} comes after ${last}`);
    last = at as number;
    if (typeof o.event !== "string") fail("event", "must be the name of an input event");
    const name = o.event as string;
    const input = cfg.inputs.get(name);
    if (!input) {
      const isOut = cfg.outputs.has(name);
      fail("event", isOut ? `"${name}" is an output event; traces hold input events` : `"${name}" is not an input event of ${cfg.name} (inputs: ${[...cfg.inputs.keys()].join(", ")})`);
    }
    const data = value(input!.type, o.value, "value", fail, cfg);
    let aux: number;
    if (o.aux !== undefined) {
      if (input!.filteredId === null) fail("aux", `"${name}" has no selector; remove "aux"`);
      if (typeof o.aux !== "number" || !Number.isInteger(o.aux) || o.aux < 0 || o.aux > 255) fail("aux", `must be an integer 0..255, got ${JSON.stringify(o.aux)}`);
      aux = o.aux as number;
    } else {
      aux = typeof data === "number" ? data & 0xff : data.length ? data[0] : 0;
    }
    out.push({ at: at as number, event: name, input: input!, aux, data, line });
  });
  return out;
}

type Fail = (field: string | null, reason: string) => never;

function value(t: Ty, v: unknown, field: string, fail: Fail, cfg: Configuration): number | Uint8Array {
  switch (t.kind) {
    case "void":
      if (v !== undefined && v !== null) fail(field, "this input carries no value; remove it");
      return 0;
    case "basic":
      return scalar(t.name, v, field, fail);
    case "record":
      return record(t.rec, v, field, fail, cfg);
    default:
      return fail(field, "unsupported input type");
  }
}

function scalar(t: keyof typeof BASIC_SIZE, v: unknown, field: string, fail: Fail): number {
  if (typeof v !== "number" || !Number.isFinite(v)) fail(field, `must be a number (${t}), got ${JSON.stringify(v)}`);
  const n = v as number;
  if (t === "float") {
    const f = new Float32Array([n]);
    return new Int32Array(f.buffer)[0];
  }
  const [lo, hi] = intRange(t);
  if (!Number.isInteger(n) || n < lo || n > hi) fail(field, `must be an integer in ${lo}..${hi} (${t}), got ${n}`);
  return n | 0;
}

function record(rec: RecordType, v: unknown, field: string, fail: Fail, _cfg: Configuration): Uint8Array {
  const bytes = new Uint8Array(rec.size);
  if (Array.isArray(v)) {
    if (v.length > rec.size) fail(field, `${rec.name} has ${rec.size} bytes, got ${v.length}`);
    v.forEach((b, i) => {
      if (typeof b !== "number" || !Number.isInteger(b) || b < 0 || b > 255) fail(`${field}[${i}]`, `must be a byte 0..255, got ${JSON.stringify(b)}`);
      bytes[i] = b;
    });
    return bytes;
  }
  if (typeof v !== "object" || v === null) fail(field, `must be an object with the fields of ${rec.name} (${[...rec.fields.keys()].join(", ")}) or an array of bytes`);
  const dv = new DataView(bytes.buffer);
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const f = rec.fields.get(k);
    if (!f) fail(`${field}.${k}`, `${rec.name} has no field "${k}" (fields: ${[...rec.fields.keys()].join(", ")})`);
    const put = (val: unknown, off: number, name: string) => {
      const n = scalar(f!.elem, val, name, fail);
      const w = BASIC_SIZE[f!.elem];
      if (w === 1) dv.setUint8(off, n & 0xff);
      else if (w === 2) dv.setUint16(off, n & 0xffff, true);
      else dv.setInt32(off, n, true);
    };
    if (f!.dim === null) put(x, f!.offset, `${field}.${k}`);
    else {
      if (!Array.isArray(x)) fail(`${field}.${k}`, `is an array of ${f!.dim} ${f!.elem}`);
      if ((x as unknown[]).length > f!.dim) fail(`${field}.${k}`, `holds at most ${f!.dim} elements, got ${(x as unknown[]).length}`);
      (x as unknown[]).forEach((e, i) => put(e, f!.offset + i * BASIC_SIZE[f!.elem], `${field}.${k}[${i}]`));
    }
  }
  return bytes;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Line where each element of the top-level JSON array starts (the text is valid JSON). */
function elementLines(text: string): number[] {
  const lines: number[] = [];
  let depth = 0;
  let line = 1;
  let inStr = false;
  let expect = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") line++;
    if (inStr) {
      if (c === "\\") i++;
      else if (c === '"') inStr = false;
      continue;
    }
    if (depth === 1 && expect && !/\s/.test(c) && c !== "]") {
      lines.push(line);
      expect = false;
    }
    if (c === '"') inStr = true;
    else if (c === "[" || c === "{") {
      depth++;
      if (depth === 1) expect = true;
    } else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 1) expect = true;
  }
  return lines;
}
