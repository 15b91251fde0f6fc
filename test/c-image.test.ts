/**
 * firmware-host/image.ts, the rule `terra compile` reports for Terra-TS's
 * mote images: each image's block is the Makefile's `MEM`, and a capsule
 * whose `imageNeeds` is N loads on a C VM built with an N-byte block and is
 * refused (TVM_E_MEMORY) with N - 1 bytes, whether the verifier's scratch or
 * the script's state is the larger part, for a signed capsule too (its
 * trailer is not counted: it is checked before loading).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { signCapsuleWith } from "../components/security";
import { decodeHeader } from "../vm/capsule";
import { FIRMWARE_DIR, SUITE_BLOCK_BYTES } from "../firmware-host/harness";
import { IMAGE_BLOCK_BYTES, imageFits, imageNeeds, scriptState, verifierScratch } from "../firmware-host/image";
import { compileSource } from "./helpers/genprog";

const DIR = mkdtempSync(join(tmpdir(), "c-image-"));

/** terra-mote with a block of `bytes` (the host build, MEM overridden): the capsule's verdict. */
function loadsWithBlock(capsule: Uint8Array, bytes: number): string {
  const b = join(DIR, `mem${bytes}`);
  execFileSync("make", ["-s", "-C", FIRMWARE_DIR, "PLATFORM=host", `MEM=${bytes}`, `B=${b}`, `${b}/terra-mote`], { stdio: "ignore" });
  const cap = join(b, "x.cap");
  writeFileSync(cap, capsule);
  const r = spawnSync(join(b, "terra-mote"), [cap, "--raw", "--until", "0"], { encoding: "utf8" });
  if (r.status === 0) return "loads";
  return r.stderr.includes("do not fit this VM's memory") ? "refused" : `failed: ${r.stderr}`;
}

describe("Terra-TS mote images: what a capsule needs of the VM's block", () => {
  test("each image's block is the Makefile's MEM for its platform, each test build's its SUITE_MEM", () => {
    const mk = readFileSync(join(FIRMWARE_DIR, "Makefile"), "utf8");
    const setting = (platform: string, name: string) =>
      (mk.split(`ifeq ($(PLATFORM),${platform})`)[1]?.split("endif")[0] ?? "").match(new RegExp(`^${name} \\?= (\\d+)$`, "m"))?.[1];
    for (const [platform, bytes] of Object.entries(IMAGE_BLOCK_BYTES)) expect(setting(platform, "MEM"), platform).toBe(String(bytes));
    for (const [platform, bytes] of Object.entries(SUITE_BLOCK_BYTES)) expect(setting(platform, "SUITE_MEM"), platform).toBe(String(bytes));
  });

  const scratchHeavy = compileSource(
    `#include "TerraNet.defs"\nvar ulong v;\nloop do\n  await 1s;\n${"  v = v * 3 + 7;\n  emit LEDS(v);\n".repeat(60)}end\n`,
  ).capsule!;
  const stateHeavy = compileSource(`#include "TerraNet.defs"\nvar ubyte[2500] big;\nbig[3] = 1;\nawait FOREVER;\n`).capsule!;
  const { privateKey } = generateKeyPairSync("ed25519");
  const cases: [string, Uint8Array][] = [
    ["verifier scratch larger than the state", scratchHeavy],
    ["state larger than the scratch", stateHeavy],
    ["signed, scratch larger", signCapsuleWith(scratchHeavy, privateKey)],
  ];
  for (const [name, capsule] of cases) {
    test(`${name}: loads with imageNeeds bytes of block, refused with one less`, () => {
      const h = decodeHeader(capsule);
      expect(verifierScratch(h) > scriptState(h)).toBe(!name.startsWith("state"));
      const n = imageNeeds(capsule);
      expect(loadsWithBlock(capsule, n)).toBe("loads");
      expect(loadsWithBlock(capsule, n - 1)).toBe("refused");
    }, 60_000);
  }

  test("a script within MicaZ's script space by the .defs (Terra's rule) loads on the MicaZ image, code-heavy or state-heavy", () => {
    let checked = 0, mostCode = 0;
    for (const statements of [0, 20, 40, 60, 80, 100, 120, 140]) {
      for (const bytes of [1, 300, 700, 1100, 1500, 1800]) {
        const r = compileSource(
          `#include "TerraNet.defs"\nvar ulong v;\nvar ubyte[${bytes}] a;\nloop do\n  await 1s;\n${"  v = v * 3 + a[v % 7];\n".repeat(statements)}  emit LEDS(v);\nend\n`,
        );
        const micaz = r.report!.platforms.find((p) => p.platform === "micaz")!;
        if (!micaz.fits) continue;
        checked++;
        mostCode = Math.max(mostCode, r.report!.code_bytes);
        expect(imageFits(r.capsule!).find((f) => f.platform === "micaz")!.loads, `${statements} statements, ${bytes} B`).toBe(true);
      }
    }
    expect(checked).toBeGreaterThan(15);
    expect(mostCode).toBeGreaterThan(1500);
  });

  test("imageFits compares the need with every image's block", () => {
    const fits = imageFits(stateHeavy);
    expect(fits.map((f) => [f.platform, f.loads])).toEqual([["micaz", imageNeeds(stateHeavy) <= 3072], ["telosb", true], ["samr21", true]]);
    expect(fits.every((f) => f.needs === imageNeeds(stateHeavy))).toBe(true);
  });
});
