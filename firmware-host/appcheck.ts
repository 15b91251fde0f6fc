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
import { readFileSync } from "node:fs";
import { imageProblem } from "./image";

const [file, mem, float] = process.argv.slice(2);
let bytes: Uint8Array;
try {
  bytes = new Uint8Array(readFileSync(file));
} catch (e) {
  process.stderr.write(`APP_CAP=${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n`);
  process.exit(1);
}
const problem = imageProblem(bytes, Number(mem), float === "1", "compile the script again with terra compile");
if (problem) {
  process.stderr.write(`APP_CAP=${file}: ${problem}\n`);
  process.exit(1);
}
