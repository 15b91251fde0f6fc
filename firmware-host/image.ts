/**
 * Whether a capsule loads on Terra-TS's mote images: what it needs of an
 * image's memory block `tvm_mem` (the rule of core/verify.c `tvm_load`) and
 * each image's block (Makefile `MEM`). `terra compile` reports it beside the
 * .defs figures, which follow Terra's rule (code, data and stacks within the
 * platform's script space) and say nothing of this VM's verifier scratch.
 */
import { createHash } from "node:crypto";
import { type CapsuleHeaderFields, CapsuleFlags, decodeHeader, HEADER_BYTES } from "../vm/capsule";
import { CapsuleError, loadCapsule, type VerifiedCapsule, VerifyError } from "../vm/verify";
import { builtinConfig } from "./config-json";

/** Bytes of the block of each mote image (firmware-host/Makefile `MEM`; test/c-image.test.ts keeps them equal). */
export const IMAGE_BLOCK_BYTES = { micaz: 3072, telosb: 6144, samr21: 24576 } as const;
export type ImagePlatform = keyof typeof IMAGE_BLOCK_BYTES;

/** One image's verdict on a capsule: bytes needed of its block (bytes), and whether they fit. */
export interface ImageFit {
  platform: ImagePlatform;
  block_bytes: number;
  needs: number;
  loads: boolean;
  /** The larger part after the capsule: the verifier's scratch (grows with the code) or the script's state (variables, slots, stacks). */
  larger: "scratch" | "state";
}

/**
 * Bytes of the C verifier's scratch for a capsule (core/verify.c tvm_load):
 * a bitmap of code bytes / 8 + 1 bytes (instruction starts, then join
 * points), a role byte per slot, and 32 B of input-id bits.
 */
export function verifierScratch(h: CapsuleHeaderFields): number {
  return Math.floor((h.codeBytes + 8) / 8) + h.slots + 32;
}

/**
 * Bytes of a script's state in the block (the layout of core/verify.c tvm_load): 4 B per eval-stack
 * cell, at least one; 2 B per slot and per track-stack entry, at least one; the variables.
 */
export function scriptState(h: CapsuleHeaderFields): number {
  return 4 * Math.max(h.stackCells, 1) + 2 * h.slots + 2 * Math.max(h.trackDepth, 1) + h.varBytes;
}

/**
 * Bytes of the block the C loader takes for `capsule`: the capsule without
 * its signature trailer (checked before loading), rounded up to 4, then the
 * larger of the verifier's scratch and the script's state, which takes its
 * place after loading.
 * @throws CapsuleError when the header is malformed (vm/capsule.ts decodeHeader).
 */
export function imageNeeds(capsule: Uint8Array): number {
  const h = decodeHeader(capsule);
  const at = (HEADER_BYTES + h.tableBytes + h.codeBytes + 3) & ~3;
  return at + Math.max(verifierScratch(h), scriptState(h));
}

/** Every mote image's verdict on `capsule` (the images run TerraNet scripts: the caller checks the configuration). */
export function imageFits(capsule: Uint8Array): ImageFit[] {
  const needs = imageNeeds(capsule);
  const h = decodeHeader(capsule);
  const larger = verifierScratch(h) > scriptState(h) ? "scratch" : "state";
  return (Object.keys(IMAGE_BLOCK_BYTES) as ImagePlatform[]).map((platform) => ({
    platform,
    block_bytes: IMAGE_BLOCK_BYTES[platform],
    needs,
    loads: needs <= IMAGE_BLOCK_BYTES[platform],
    larger,
  }));
}

const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());

/**
 * Why a mote image with a block of `mem` bytes (and float support or not) would refuse `bytes` as
 * its capsule, in one line (where: capsule byte; what; how to fix it), or undefined when it would
 * run it: it must decode and verify (vm/verify.ts, the verdicts of core/verify.c; `fix` is the advice
 * for a capsule that does not), be TerraNet's (the images' real-time components, comp/rt.c), use no
 * float without it, and load in the block (imageNeeds). `make app` (appcheck.ts) and `terra load` ask.
 */
export function imageProblem(bytes: Uint8Array, mem: number, float: boolean, fix: string): string | undefined {
  let c: VerifiedCapsule;
  try {
    c = loadCapsule(bytes, { sha256 });
  } catch (e) {
    if (e instanceof VerifyError || e instanceof CapsuleError) return `rejected: ${e.message} (${fix})`;
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
