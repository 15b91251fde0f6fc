/**
 * A configuration (compiler/config.ts) as the JSON the C host `terra-mote`
 * reads (--config FILE): names, ids, types and record layouts, nothing else.
 * The same text, for the bundled TerraNet and TerraGrp configurations, is
 * compiled into terra-mote by gen.ts (firmware-host/comp/configs_gen.h).
 */
import { readFileSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "../compiler/compile";
import type { Configuration } from "../compiler/config";
import type { RecordType, Ty } from "../compiler/types";

export interface JsonField { name: string; elem: string; dim: number; offset: number }
export interface JsonRecord { name: string; size: number; fields: JsonField[] }
/** "void", a basic type name, or "@record" */
export type JsonType = string;
export interface JsonConfig {
  name: string;
  id: number;
  records: JsonRecord[];
  inputs: { name: string; type: JsonType; filteredId: number; anyId: number }[];
  outputs: { name: string; id: number; type: JsonType }[];
  functions: { name: string; id: number }[];
}

const NONE = 255;

function typeName(t: Ty): JsonType {
  switch (t.kind) {
    case "void": return "void";
    case "basic": return t.name;
    case "record": return `@${t.rec.name}`;
    default: return "void";
  }
}

function rec(r: RecordType): JsonRecord {
  return {
    name: r.name,
    size: r.size,
    fields: [...r.fields.values()].map((f) => ({ name: f.name, elem: f.elem, dim: f.dim ?? 0, offset: f.offset })),
  };
}

/** The configuration as terra-mote's JSON (records, inputs, outputs and functions in declaration order). */
export function configToJson(cfg: Configuration): JsonConfig {
  return {
    name: cfg.name,
    id: cfg.id >>> 0,
    records: [...cfg.records.values()].map(rec),
    inputs: [...cfg.inputs.values()].map((i) => ({ name: i.name, type: typeName(i.type), filteredId: i.filteredId ?? NONE, anyId: i.anyId ?? NONE })),
    outputs: [...cfg.outputs.values()].map((o) => ({ name: o.name, id: o.id, type: typeName(o.arg) })),
    functions: [...cfg.functions.values()].map((f) => ({ name: f.name, id: f.id })),
  };
}

const sha256 = (d: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(d).digest());

/** The configuration of a bundled .defs file (compiles a one-line script that includes it). */
export function builtinConfig(defs: string, defsDir = resolve(dirname(fileURLToPath(import.meta.url)), "../components/defs")): Configuration {
  const r = compile("cfg.terra", `#include "${defs}"\nawait FOREVER;\n`, {
    includeDirs: [],
    builtinDir: defsDir,
    readFile: (p) => {
      try {
        return statSync(p).isFile() ? readFileSync(p, "utf8") : undefined;
      } catch {
        return undefined;
      }
    },
    sha256,
  });
  if (!r.config) throw new Error(`firmware-host: cannot read the configuration of ${defs}: ${r.diagnostics.map((d) => d.message).join("; ")}`);
  return r.config;
}
