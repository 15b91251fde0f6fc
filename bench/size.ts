/**
 * Bytecode size: every example and Terra's own sample scripts compiled by
 * Terra-TS, next to the code bytes Terra's compiler (terrac) produces for the
 * same scripts (issue figures, measured with terrac by Terra's authors' tool
 * chain). Terra's samples are read from a fetched copy of
 * github:afbranco/Terra (never committed): $TERRA_REPO (a checkout or a bare
 * git directory), default /work/.mirror/afbranco+Terra/repo.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { compile } from "../compiler/compile";
import { builtinDefsDir, sha256 } from "../cli/util";
import { registerBench, table } from "./registry";

/** terrac's code bytes for its samples (Terra-TS issue 2). */
export const TERRAC_CODE_BYTES: Readonly<Record<string, number>> = {
  "samples/Blink_tutorial": 68, "samples/Count2Leds": 219, "samples/Ex1": 685, "samples/AssemblerTest": 823,
  "samples/test_net": 129, "samples/tecs2": 69, "samples/rssf_mica2": 834, "samples/Test01_grp": 259,
  "samples/Test01_fft": 453, "nvmData/sense": 58, "nvmData/sense64": 182,
};

const readFile = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);

function compileText(file: string, text: string) {
  return compile(file, text, { includeDirs: [], builtinDir: builtinDefsDir(), readFile, sha256 });
}

/** Read a Terra sample from the fetched repository, or undefined. */
export function terraSample(name: string): string | undefined {
  const repo = process.env.TERRA_REPO ?? "/work/.mirror/afbranco+Terra/repo";
  const path = `terrac/${name}.terra`;
  if (existsSync(join(repo, path))) return readFileSync(join(repo, path), "utf8");
  try {
    return execFileSync("git", ["--git-dir", repo, "show", `HEAD:${path}`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return undefined;
  }
}

registerBench({
  name: "size",
  description: "bytecode size of the examples and of Terra's samples, next to terrac's",
  run() {
    const rows: (string | number)[][] = [];
    const scripts: Record<string, unknown>[] = [];
    const exDir = resolve("examples");
    for (const f of existsSync(exDir) ? readdirSync(exDir).filter((x) => x.endsWith(".terra")).sort() : []) {
      const r = compileText(join(exDir, f), readFileSync(join(exDir, f), "utf8"));
      scripts.push({ script: `examples/${f}`, code_bytes: r.report?.code_bytes ?? null, instruction_bytes: r.report?.instruction_bytes ?? null, capsule_bytes: r.report?.capsule_bytes ?? null, terrac_code_bytes: null });
      rows.push([`examples/${f}`, r.report?.code_bytes ?? "error", r.report?.instruction_bytes ?? "", "", ""]);
    }
    let ours = 0;
    let theirs = 0;
    const missing: string[] = [];
    for (const [name, terrac] of Object.entries(TERRAC_CODE_BYTES)) {
      const text = terraSample(name);
      if (text === undefined) {
        missing.push(name);
        continue;
      }
      const r = compileText(`${name}.terra`, text);
      const code = r.report?.code_bytes ?? null;
      scripts.push({ script: `terra/${name}`, code_bytes: code, instruction_bytes: r.report?.instruction_bytes ?? null, capsule_bytes: r.report?.capsule_bytes ?? null, terrac_code_bytes: terrac });
      if (code !== null) {
        ours += code;
        theirs += terrac;
      }
      rows.push([`terra/${name}`, code ?? "error", r.report?.instruction_bytes ?? "", terrac, code !== null ? (code / terrac).toFixed(2) : ""]);
    }
    rows.push(["total (Terra samples)", ours, "", theirs, theirs ? (ours / theirs).toFixed(2) : ""]);
    const note = missing.length ? `\nTerra samples not found (${missing.join(", ")}): fetch github:afbranco/Terra and set TERRA_REPO` : "";
    return {
      result: { scripts, total_code_bytes: ours, total_terrac_code_bytes: theirs, ratio: theirs ? ours / theirs : null, missing },
      table: table(["script", "code B", "instr B", "terrac B", "ratio"], rows) + note,
    };
  },
});
