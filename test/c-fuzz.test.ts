/**
 * Regression inputs of the C VM's fuzzing (test/fixtures/c/crashes) and a
 * seed corpus of real capsules (examples, fixtures, generated programs, and
 * byte-flipped mutants of them) replayed through the fuzz harness built with
 * AddressSanitizer and UndefinedBehaviorSanitizer (no libFuzzer needed): no
 * sanitizer report, no crash. `terra bench fuzz` runs the fuzzer itself.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { expect, test } from "vitest";
import { FIRMWARE_DIR, make } from "../firmware-host/harness";
import { arbCase, compileSource } from "./helpers/genprog";

const ROOT = resolve(import.meta.dirname ?? ".", "..");

test("the fuzz harness replays the corpus and every regression input without a sanitizer report", () => {
  make("host", [join(FIRMWARE_DIR, "build/host/fuzz_replay")]);
  const dir = join(FIRMWARE_DIR, "build/test/fuzz-corpus");
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  let state = 99;
  const rnd = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  fc.sample(arbCase(), { numRuns: 40, seed: 5 }).forEach((c, i) => {
    const cap = compileSource(c.source).capsule!;
    // the capsule, then an input script (ids, selectors, values) for the harness
    const script = Uint8Array.from({ length: 48 }, () => rnd() & 0xff);
    const f = join(dir, `gen${i}.bin`);
    writeFileSync(f, Buffer.concat([cap, script]));
    files.push(f);
    for (let k = 0; k < 5; k++) {
      const m = Buffer.concat([cap, script]);
      m[56 + (rnd() % (cap.length - 56))] ^= 1 << (rnd() % 8);
      const g = join(dir, `gen${i}-m${k}.bin`);
      writeFileSync(g, m);
      files.push(g);
    }
  });
  const crashes = join(ROOT, "test/fixtures/c/crashes");
  if (existsSync(crashes)) for (const f of readdirSync(crashes)) if (!f.endsWith(".md")) files.push(join(crashes, f));
  const r = spawnSync(join(FIRMWARE_DIR, "build/host/fuzz_replay"), files, { encoding: "utf8", env: { ...process.env, ASAN_OPTIONS: "detect_leaks=0", UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1" } });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toContain(`replayed ${files.length} inputs`);
}, 300_000);
