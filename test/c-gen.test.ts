/**
 * The C VM's generated tables come from the TypeScript sources of truth:
 * firmware-host/core/opcodes.h from vm/isa.ts and vm/capsule.ts, and
 * firmware-host/comp/configs_gen.h from components/defs. This test fails
 * when a generated file is stale (run `npx tsx firmware-host/gen.ts`).
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { BUILTIN_CONFIGS, generatedFiles, resolveRoles, staleFiles } from "../firmware-host/gen";
import { builtinConfig, configToJson } from "../firmware-host/config-json";
import { ISA } from "../vm/isa";

describe("generated C tables", () => {
  test("core/opcodes.h and comp/configs_gen.h are up to date", () => {
    expect(staleFiles(), "stale: run `npx tsx firmware-host/gen.ts`").toEqual([]);
  });

  test("the opcode header defines every instruction of vm/isa.ts with its opcode", () => {
    const h = [...generatedFiles().values()][0];
    for (const s of ISA) {
      const name = `TVM_OP_${s.name.replace(".", "_").toUpperCase()}`;
      expect(h).toMatch(new RegExp(`#define ${name.replace(".", "\\.")}\\s+0x${s.op.toString(16).padStart(2, "0")}\\b`));
    }
  });

  test("the bundled configurations: JSON and role tables as gen.ts resolves them", () => {
    const h = readFileSync(new URL("../firmware-host/comp/configs_gen.h", import.meta.url), "utf8");
    for (const [tag, file] of BUILTIN_CONFIGS) {
      const cfg = builtinConfig(file);
      expect(h).toContain(`#define TC_${tag}_JSON ${JSON.stringify(JSON.stringify(configToJson(cfg)))}`);
      const r = resolveRoles(cfg);
      // every output and function of the configuration that a component implements is mapped by name
      expect(r.outRole.filter((x) => x !== 255).length).toBeGreaterThan(15);
      expect(r.inId.filter((x) => x !== 255).length).toBeGreaterThan(8);
    }
  });
});
