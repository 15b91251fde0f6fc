/**
 * Synthetic capsules of an exact size, for benchmarks and tests of transport
 * (the program is a straight line of `push8`/`push16` + `pop` pairs ending in
 * `halt`; it passes the bytecode verifier).
 */
import { encodeCapsule } from "../../vm/capsule";
import { assembleText } from "../../vm/disasm";
import { requiredBounds } from "../../vm/verify";
import { sha256 } from "../security/capsule";

/** Header (56) + empty tables (4) + `halt` (1). */
export const MIN_SYNTHETIC_BYTES = 61;

/**
 * An unsigned capsule of exactly `bytes` bytes (as `terra compile` reports
 * capsule_bytes; the signature adds 65).
 * @throws RangeError when bytes < MIN_SYNTHETIC_BYTES or the code would exceed 32767 bytes.
 */
export function syntheticCapsule(opts: { bytes: number; configId: number; version?: number; blockBytes?: number; seed?: number }): Uint8Array {
  let code = opts.bytes - 60 - 1; // tables 4, header 56, halt 1
  if (!Number.isInteger(opts.bytes) || code < 0 || code > 0x7ffe) throw new RangeError(`synthetic capsule of ${opts.bytes} bytes is out of range ${MIN_SYNTHETIC_BYTES}..${0x7fff + 60}`);
  if (code === 1 || code === 2 || code === 5) throw new RangeError(`no synthetic capsule of exactly ${opts.bytes} bytes (try ${opts.bytes + 2})`);
  const lines: string[] = [];
  let k = (opts.seed ?? 1) & 0x3f;
  // 3a + 4b = code
  let b = 0;
  while ((code - 4 * b) % 3 !== 0) b++;
  const a = (code - 4 * b) / 3;
  for (let i = 0; i < a; i++) lines.push(`push8 ${(k = (k * 37 + 11) & 0x7f)}`, "pop");
  for (let i = 0; i < b; i++) lines.push(`push16 ${1000 + ((k = (k * 37 + 11) & 0x3fff))}`, "pop");
  lines.push("halt");
  const asm = assembleText(lines.join("\n"));
  const base = {
    flags: 0, programVersion: opts.version ?? 1, configId: opts.configId >>> 0, varBytes: 0, slots: 0, stackCells: 1, trackDepth: 0,
    blockBytes: opts.blockBytes ?? 64, entry: 0, inputs: [], timers: [], internals: [], asyncs: [], code: asm,
  };
  const need = requiredBounds({ ...base, formatVersion: 1, bodyHash: new Uint8Array(32) });
  const out = encodeCapsule({ ...base, stackCells: need.stackCells, trackDepth: need.trackDepth, slots: need.slots }, sha256);
  if (out.length !== opts.bytes) throw new Error(`synthetic capsule: built ${out.length} bytes, wanted ${opts.bytes}`);
  return out;
}
