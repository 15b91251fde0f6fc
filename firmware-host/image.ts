/**
 * Whether a capsule loads on Terra-TS's mote images: what it needs of an
 * image's memory block `tvm_mem` (the rule of core/verify.c `tvm_load`) and
 * each image's block (Makefile `MEM`). `terra compile` reports it beside the
 * .defs figures, which follow Terra's rule (code, data and stacks within the
 * platform's script space) and say nothing of this VM's verifier scratch.
 */
import { decodeHeader, HEADER_BYTES } from "../vm/capsule";

/** Bytes of the block of each mote image (firmware-host/Makefile `MEM`; test/c-image.test.ts keeps them equal). */
export const IMAGE_BLOCK_BYTES = { micaz: 3072, telosb: 6144, samr21: 12288 } as const;
export type ImagePlatform = keyof typeof IMAGE_BLOCK_BYTES;

/** One image's verdict on a capsule: bytes needed of its block (bytes), and whether they fit. */
export interface ImageFit {
  platform: ImagePlatform;
  block_bytes: number;
  needs: number;
  loads: boolean;
}

/**
 * Bytes of the block the C loader takes for `capsule`: the capsule without
 * its signature trailer (checked before loading), rounded up to 4, then the
 * larger of the verifier's scratch (three bitmaps of code bytes / 8 + 1
 * bytes, a stack depth per code byte, 256 B of slot roles, 32 B of input-id
 * bits) and the script's state (4 B per eval-stack cell, at least one; 2 B
 * per slot and per track-stack entry, at least one; the variables).
 * @throws CapsuleError when the header is malformed (vm/capsule.ts decodeHeader).
 */
export function imageNeeds(capsule: Uint8Array): number {
  const h = decodeHeader(capsule);
  const at = (HEADER_BYTES + h.tableBytes + h.codeBytes + 3) & ~3;
  const bitmap = Math.floor((h.codeBytes + 8) / 8);
  const scratch = 3 * bitmap + h.codeBytes + 256 + 32;
  const state = 4 * Math.max(h.stackCells, 1) + 2 * h.slots + 2 * Math.max(h.trackDepth, 1) + h.varBytes;
  return at + Math.max(scratch, state);
}

/** Every mote image's verdict on `capsule` (the images run TerraNet scripts: the caller checks the configuration). */
export function imageFits(capsule: Uint8Array): ImageFit[] {
  const needs = imageNeeds(capsule);
  return (Object.keys(IMAGE_BLOCK_BYTES) as ImagePlatform[]).map((platform) => ({
    platform,
    block_bytes: IMAGE_BLOCK_BYTES[platform],
    needs,
    loads: needs <= IMAGE_BLOCK_BYTES[platform],
  }));
}
