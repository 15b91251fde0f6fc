/**
 * `make app`'s check of APP_CAP before it goes into a firmware image, so that
 * a capsule the mote would refuse at boot (reporting it over its UART only)
 * is refused at build time instead:
 *  - it decodes and verifies (vm/verify.ts: the verdicts of core/verify.c);
 *  - it is a TerraNet capsule (the images' real-time components are
 *    TerraNet's: comp/rt.c refuses others at boot);
 *  - it uses no float on an image built without it (Makefile FLOAT=0);
 *  - it loads in the image's block of MEM bytes (image.ts imageNeeds).
 *
 *   npx tsx firmware-host/appcheck.ts CAPSULE MEM FLOAT
 *
 * Exits 0, or 1 with one line: the file, where (capsule byte), what, and how to fix it.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { CapsuleFlags } from "../vm/capsule";
import { CapsuleError, loadCapsule, type VerifiedCapsule, VerifyError } from "../vm/verify";
import { builtinConfig } from "./config-json";
import { imageNeeds } from "./image";

const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());

/** The problem with `bytes` as the capsule of an image with a block of `mem` bytes, or undefined. */
function appProblem(bytes: Uint8Array, mem: number, float: boolean): string | undefined {
  let c: VerifiedCapsule;
  try {
    c = loadCapsule(bytes, { sha256 });
  } catch (e) {
    if (e instanceof VerifyError || e instanceof CapsuleError) return `rejected: ${e.message} (compile the script again with terra compile)`;
    throw e;
  }
  const net = builtinConfig("TerraNet.defs").id;
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
  if (c.configId !== net) return `capsule byte 8: configuration id 0x${hex(c.configId)}, the images run TerraNet.defs scripts (0x${hex(net)}): include TerraNet.defs`;
  if (!float && c.flags & CapsuleFlags.Float) return "capsule byte 3: the script uses float and this image is built without it (FLOAT=1, or no float in the script)";
  const needs = imageNeeds(bytes);
  if (needs > mem) return `needs ${needs} B of the VM's block (capsule, then the verifier's scratch or the script's state), the image has ${mem} B (MEM=${needs} or more, or a smaller script)`;
  return undefined;
}

const [file, mem, float] = process.argv.slice(2);
let bytes: Uint8Array;
try {
  bytes = new Uint8Array(readFileSync(file));
} catch (e) {
  process.stderr.write(`APP_CAP=${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n`);
  process.exit(1);
}
const problem = appProblem(bytes, Number(mem), float === "1");
if (problem) {
  process.stderr.write(`APP_CAP=${file}: ${problem}\n`);
  process.exit(1);
}
