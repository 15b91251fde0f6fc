/**
 * `terra run --vm micaz|telosb|samr21`: a capsule run by the mote's own
 * firmware on an instruction-level simulator. The capsule and its input
 * trace go into the flash of the platform's test build (the C VM core and
 * the TerraNet/TerraGrp components cross-compiled for the MCU, comp/suite.c
 * running it in virtual time), which runs on simavr (MicaZ, ATmega128),
 * mspdebug's simulator (TelosB, MSP430F1611) or qemu's micro:bit (the
 * Cortex-M0+ build; firmware-host/harness.ts). The result is the one
 * `terra run` prints on the other VMs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Configuration } from "../compiler/config";
import type { RunResult } from "../components/run";
import type { TraceEntry } from "../components/trace";
import { CapsuleFlags } from "../vm/capsule";
import { StallError } from "../vm/driver";
import { builtinConfig } from "../firmware-host/config-json";
import { buildSuite, decodeSuiteReport, missingTools, type MotePlatform, runImage, SUITE_BLOCK_BYTES, SUITE_FLOAT } from "../firmware-host/harness";
import { imageNeeds } from "../firmware-host/image";
import { InputError } from "./util";

export const MOTE_VMS: readonly MotePlatform[] = ["micaz", "telosb", "samr21"];

/** How each platform's test build runs, for messages. */
export const MOTE_SIMULATORS: Record<MotePlatform, string> = {
  micaz: "MicaZ (ATmega128) on simavr",
  telosb: "TelosB (MSP430F1611) on mspdebug's simulator",
  samr21: "the SAMR21 (Cortex-M0+) build on qemu's micro:bit",
};

export interface MoteSimOptions {
  /** Run until this time (ms, inclusive); default: the last trace entry's. */
  until?: number;
  nodeId?: number;
  seed?: number;
  maxReactions?: number;
  /** Wall-clock limit of the simulator (ms; default 300,000). */
  timeoutMs?: number;
}

/**
 * Run `capsule` (of TerraNet or TerraGrp) against `trace` on the simulated `platform`.
 * @throws InputError when a cross tool or simulator is missing, the configuration is not a bundled
 *   one, the capsule uses float on an MCU built without it, it does not fit the test build's block,
 *   the build fails or the simulator stops early; StallError when virtual time cannot advance (as
 *   the other VMs)
 */
export function runMoteSim(platform: MotePlatform, capsule: Uint8Array, config: Configuration, trace: TraceEntry[], opts: MoteSimOptions = {}): Omit<RunResult, "state"> {
  const where = MOTE_SIMULATORS[platform];
  const missing = missingTools(platform);
  if (missing.length) throw new InputError(`--vm ${platform} needs ${missing.join(", ")}: install the toolchains with npm run setup (shared/design/TOOLCHAINS.md)`);
  const net = builtinConfig("TerraNet.defs");
  const grp = builtinConfig("TerraGrp.defs");
  if (config.id !== net.id && config.id !== grp.id) {
    throw new InputError(`--vm ${platform}: the mote firmware has the components of TerraNet.defs and TerraGrp.defs only; this script's configuration is another (run it with --vm ts or --vm c)`);
  }
  if ((capsule[3] & CapsuleFlags.Float) && !SUITE_FLOAT[platform]) {
    throw new InputError(`--vm ${platform}: the script uses float, which the ${platform} firmware is built without (FLOAT=0); --vm samr21, c and ts run it`);
  }
  const needs = imageNeeds(capsule);
  if (needs > SUITE_BLOCK_BYTES[platform]) {
    throw new InputError(`--vm ${platform}: the capsule needs ${needs} B of the VM's block (capsule, then the verifier's scratch or the script's state), the ${platform} test build has ${SUITE_BLOCK_BYTES[platform]} B`);
  }
  const dir = mkdtempSync(join(tmpdir(), `terra-${platform}-`));
  try {
    const kase = { name: "script", capsule, config, trace, until: opts.until, nodeId: opts.nodeId, seed: opts.seed, maxReactions: opts.maxReactions };
    let out: { stdout: string; stderr: string };
    try {
      out = runImage(platform, buildSuite(platform, [kase], grp.id, dir), { timeoutMs: opts.timeoutMs });
    } catch (e) {
      const m = (e as Error).message;
      if (/ETIMEDOUT/.test(m)) throw new InputError(`--vm ${platform}: ${where} did not finish within ${(opts.timeoutMs ?? 300_000) / 1000} s of wall-clock time (a shorter --until helps)`);
      // the tools' words for flash that overflows (GNU ld; ld.lld, whose data then reach the MSP430 vectors) or a table beyond avr-gcc's 32 KB objects
      if (/overflow|will not fit|is too large|overlaps with .vectors/.test(m)) throw new InputError(`--vm ${platform}: the capsule and its trace of ${trace.length} entries do not fit the ${platform} test build's flash (a shorter trace helps)`);
      throw new InputError(`--vm ${platform}: cannot build or run the firmware: ${m.trim().split("\n").slice(-4).map((l) => l.slice(0, 300)).join("\n")}`);
    }
    const got = decodeSuiteReport(out.stdout, [kase])[0];
    if (got.startsWith("THROWS: more than")) throw new StallError(got.slice("THROWS: ".length));
    if (got.startsWith("THROWS: reject")) throw new InputError(`--vm ${platform}: the firmware's loader rejected the capsule at byte ${got.split(" ")[2]}`);
    if (got.startsWith("THROWS: ")) throw new InputError(`--vm ${platform}: the firmware stopped the run: ${got.slice("THROWS: ".length)}`);
    if (!got.startsWith("{")) {
      const tail = `${out.stdout}\n${out.stderr}`.trim().split("\n").slice(-3).join(" | ");
      throw new InputError(`--vm ${platform}: ${where} stopped before the end of the run (last lines: ${tail})`);
    }
    const json = JSON.parse(got) as { outputs: RunResult["outputs"]; errors: RunResult["errors"]; stats: RunResult["stats"] & { halted: boolean; end_ms: number } };
    const { halted, end_ms: endMs, ...stats } = json.stats;
    return { outputs: json.outputs, errors: json.errors, stats, halted, end_ms: endMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
