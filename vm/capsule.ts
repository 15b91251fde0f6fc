/**
 * The capsule: the binary form of a compiled script, as it travels over the
 * radio and is loaded by both VMs. Defined once here and documented in
 * docs/capsule.md; the C loader (firmware-host/core/capsule.c) reads the same
 * bytes. All multi-byte fields are little-endian.
 *
 *   header (56 bytes)
 *     0  u8[2]  magic "TC"
 *     2  u8     format version (CAPSULE_FORMAT)
 *     3  u8     flags (CapsuleFlags)
 *     4  u32    program version (monotonically increasing per network)
 *     8  u32    configuration id (configId(name, version) of the .defs used)
 *    12  u16    code bytes
 *    14  u16    var bytes (the script's variables)
 *    16  u8     control slots (16-bit each: gates, deadlines, counters, finalizers)
 *    17  u8     stack cells (32-bit each)
 *    18  u8     track depth (pending-trail entries)
 *    19  u8     block size (bytes per radio block)
 *    20  u16    entry point (offset into the code of the boot reaction)
 *    22  u16    table bytes
 *    24  u8[32] SHA-256 of the body
 *   body
 *     tables: inputs, timers, internal events, asyncs (see encodeTables)
 *     code
 *   signature trailer (only when flags has CapsuleFlags.Signed)
 *     u8      algorithm (SIG_ED25519)
 *     u8[64]  Ed25519 signature of signedMessage(): the header (flag set)
 *             followed by the SHA-256 of every block, truncated to 8 bytes,
 *             so that a mote can check each block as it arrives
 *
 * Errors: decodeCapsule throws CapsuleError with the byte offset at fault.
 */

export const CAPSULE_MAGIC = [0x54, 0x43] as const; // "TC"
export const CAPSULE_FORMAT = 1;
export const HEADER_BYTES = 56;
export const DEFAULT_BLOCK_BYTES = 64;
/** Selector value meaning "this form of the input is not declared". */
export const NO_EVENT_ID = 0xff;

export const enum CapsuleFlags {
  /** The code uses float instructions (builds without float support reject it). */
  Float = 1,
  /** A signature trailer follows the body. */
  Signed = 2,
}

/** Signature algorithm of the trailer: Ed25519 (RFC 8032). */
export const SIG_ED25519 = 1;
export const SIGNATURE_BYTES = 64;
export const TRAILER_BYTES = 1 + SIGNATURE_BYTES;
/** Bytes of each block digest in the signed message (truncated SHA-256). */
export const BLOCK_DIGEST_BYTES = 8;

/** One input event the script awaits, with the gates (control slots) awaiting it in program-text order. */
export interface InputTable {
  /** Numeric id of the form with an ubyte selector (E(aux)), or NO_EVENT_ID. */
  filteredId: number;
  /** Numeric id of the form without selector (E), or NO_EVENT_ID. */
  anyId: number;
  gates: number[];
}

/** The fixed fields of a capsule header (bytes 0..55; layout in docs/capsule.md). */
export interface CapsuleHeaderFields {
  formatVersion: number;
  flags: number;
  programVersion: number;
  configId: number;
  codeBytes: number;
  varBytes: number;
  slots: number;
  stackCells: number;
  trackDepth: number;
  /** Header byte 19 as stored (0: DEFAULT_BLOCK_BYTES). */
  blockBytes: number;
  entry: number;
  tableBytes: number;
  bodyHash: Uint8Array;
}

/** A decoded capsule: its header fields (sizes implied by tables and code) and its tables and code. */
export interface Capsule extends Omit<CapsuleHeaderFields, "codeBytes" | "tableBytes" | "bodyHash"> {
  inputs: InputTable[];
  /** Timer gates in program-text order. */
  timers: number[];
  /** Per internal event (index = `iev` operand), its gates in program-text order. */
  internals: number[][];
  /** Async gates in program-text order. */
  asyncs: number[];
  code: Uint8Array;
  /** SHA-256 of the body as stored in the header. */
  bodyHash: Uint8Array;
  /** The signature trailer, when the capsule is signed (checking it is the caller's: components/security). */
  signature?: { algorithm: number; bytes: Uint8Array };
}

/** A malformed capsule: `offset` is the byte at fault, `message` what is wrong. */
export class CapsuleError extends Error {
  constructor(readonly offset: number, message: string) {
    super(`capsule byte ${offset}: ${message}`);
    this.name = "CapsuleError";
  }
}

/** Synchronous SHA-256 (node:crypto in Node; injected so that vm/ has no Node dependency). */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/**
 * Configuration id: FNV-1a (32-bit) of "name@major.minor.patch". A mote only
 * runs capsules compiled against its own configuration.
 */
export function configId(name: string, version: readonly number[]): number {
  const s = `${name}@${version.join(".")}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function encodeTables(c: Pick<Capsule, "inputs" | "timers" | "internals" | "asyncs">): number[] {
  const out: number[] = [];
  const list = (gates: number[]) => {
    out.push(gates.length, ...gates);
  };
  out.push(c.inputs.length);
  for (const i of c.inputs) {
    out.push(i.filteredId, i.anyId);
    list(i.gates);
  }
  list(c.timers);
  out.push(c.internals.length);
  for (const g of c.internals) list(g);
  list(c.asyncs);
  for (const b of out) if (!(b >= 0 && b <= 255)) throw new Error(`capsule: table value ${b} does not fit a byte`);
  return out;
}

/**
 * Encode a capsule. `hash` computes the body's SHA-256.
 * @throws Error when a field is out of range (a compiler bug, not user input).
 */
export function encodeCapsule(c: Omit<Capsule, "bodyHash" | "formatVersion">, hash: Sha256): Uint8Array {
  const tables = encodeTables(c);
  const body = new Uint8Array(tables.length + c.code.length);
  body.set(tables, 0);
  body.set(c.code, tables.length);
  const out = new Uint8Array(HEADER_BYTES + body.length);
  const dv = new DataView(out.buffer);
  out[0] = CAPSULE_MAGIC[0];
  out[1] = CAPSULE_MAGIC[1];
  out[2] = CAPSULE_FORMAT;
  const fits = (v: number, max: number, what: string) => {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new Error(`capsule: ${what} ${v} out of range 0..${max}`);
    return v;
  };
  out[3] = fits(c.flags, 255, "flags");
  dv.setUint32(4, fits(c.programVersion, 0xffffffff, "program version"), true);
  dv.setUint32(8, c.configId >>> 0, true);
  dv.setUint16(12, fits(c.code.length, 0x7fff, "code bytes"), true);
  dv.setUint16(14, fits(c.varBytes, 0xffff, "var bytes"), true);
  out[16] = fits(c.slots, 255, "slots");
  out[17] = fits(c.stackCells, 255, "stack cells");
  out[18] = fits(c.trackDepth, 255, "track depth");
  out[19] = fits(c.blockBytes, 255, "block size");
  dv.setUint16(20, fits(c.entry, 0xffff, "entry point"), true);
  dv.setUint16(22, fits(tables.length, 0xffff, "table bytes"), true);
  out.set(hash(body).subarray(0, 32), 24);
  out.set(body, HEADER_BYTES);
  return out;
}

/** The body (tables + code) of an encoded capsule. */
export function capsuleBody(bytes: Uint8Array): Uint8Array {
  return bytes.subarray(HEADER_BYTES);
}

/**
 * Read a capsule's 56-byte header, checking its magic and format version
 * only (lengths and limits are the caller's: decodeCapsule checks them in
 * the order the C verifier does).
 * @throws CapsuleError with the byte offset at fault.
 */
export function decodeHeader(bytes: Uint8Array): CapsuleHeaderFields {
  if (bytes.length < HEADER_BYTES) {
    throw new CapsuleError(bytes.length, `truncated: ${bytes.length} bytes, a capsule header alone is ${HEADER_BYTES}`);
  }
  if (bytes[0] !== CAPSULE_MAGIC[0] || bytes[1] !== CAPSULE_MAGIC[1]) {
    throw new CapsuleError(0, "not a Terra-TS capsule (magic is not \"TC\")");
  }
  if (bytes[2] !== CAPSULE_FORMAT) {
    throw new CapsuleError(2, `format version ${bytes[2]} is not supported (this VM reads version ${CAPSULE_FORMAT})`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  return {
    formatVersion: bytes[2],
    flags: bytes[3],
    programVersion: dv.getUint32(4, true),
    configId: dv.getUint32(8, true),
    codeBytes: dv.getUint16(12, true),
    varBytes: dv.getUint16(14, true),
    slots: bytes[16],
    stackCells: bytes[17],
    trackDepth: bytes[18],
    blockBytes: bytes[19],
    entry: dv.getUint16(20, true),
    tableBytes: dv.getUint16(22, true),
    bodyHash: bytes.slice(24, 56),
  };
}

/**
 * Decode a capsule's structure (no semantic verification of the code: see
 * vm/verify.ts). When `hash` is given, the body's SHA-256 must match the header.
 * @throws CapsuleError with the byte offset at fault.
 */
export function decodeCapsule(bytes: Uint8Array, hash?: Sha256): Capsule {
  const { codeBytes, tableBytes, bodyHash, ...fields } = decodeHeader(bytes);
  const signed = (bytes[3] & CapsuleFlags.Signed) !== 0;
  const unsignedEnd = HEADER_BYTES + tableBytes + codeBytes;
  const expected = unsignedEnd + (signed ? TRAILER_BYTES : 0);
  if (bytes.length !== expected) {
    throw new CapsuleError(
      Math.min(bytes.length, expected),
      `${bytes.length < expected ? "truncated" : "trailing bytes"}: header announces ${tableBytes} table and ${codeBytes} code bytes${signed ? " and a signature" : ""} (${expected} in all), got ${bytes.length}`,
    );
  }
  if (codeBytes > 0x7fff) throw new CapsuleError(12, `code of ${codeBytes} bytes exceeds the 32767-byte limit`);
  if (signed && bytes[unsignedEnd] !== SIG_ED25519) {
    throw new CapsuleError(unsignedEnd, `unknown signature algorithm ${bytes[unsignedEnd]} (this VM knows Ed25519 = ${SIG_ED25519})`);
  }
  if (hash) {
    const h = hash(bytes.subarray(HEADER_BYTES, unsignedEnd));
    for (let i = 0; i < 32; i++) {
      if (h[i] !== bodyHash[i]) throw new CapsuleError(24, "body hash mismatch: the capsule was corrupted or tampered with");
    }
  }
  const tEnd = HEADER_BYTES + tableBytes;
  let p = HEADER_BYTES;
  const byte = (what: string): number => {
    if (p >= tEnd) throw new CapsuleError(p, `tables end inside ${what}`);
    return bytes[p++];
  };
  const list = (what: string): number[] => {
    const n = byte(`${what} count`);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(byte(what));
    return out;
  };
  const inputs: InputTable[] = [];
  const nInputs = byte("input count");
  for (let i = 0; i < nInputs; i++) {
    const filteredId = byte("input id");
    const anyId = byte("input id");
    inputs.push({ filteredId, anyId, gates: list("input gates") });
  }
  const timers = list("timer gates");
  const internals: number[][] = [];
  const nInternals = byte("internal event count");
  for (let i = 0; i < nInternals; i++) internals.push(list("internal event gates"));
  const asyncs = list("async gates");
  if (p !== tEnd) throw new CapsuleError(p, `${tEnd - p} unused bytes at the end of the tables`);
  return {
    ...fields,
    inputs,
    timers,
    internals,
    asyncs,
    code: bytes.slice(tEnd, unsignedEnd),
    bodyHash,
    ...(signed ? { signature: { algorithm: bytes[unsignedEnd], bytes: bytes.slice(unsignedEnd + 1, expected) } } : {}),
  };
}

/** The capsule without its signature trailer (flag cleared): what blocks are cut from. */
export function unsignedPart(bytes: Uint8Array): Uint8Array {
  if ((bytes[3] & CapsuleFlags.Signed) === 0) return bytes;
  return bytes.subarray(0, bytes.length - TRAILER_BYTES);
}

/**
 * The message an Ed25519 signature covers: the capsule's header (with the
 * Signed flag set) followed by the truncated SHA-256 of each block of the
 * unsigned capsule bytes (header with the flag, tables, code).
 */
export function signedMessage(unsignedWithFlag: Uint8Array, blockBytes: number, hash: Sha256): Uint8Array {
  const n = blockCount(unsignedWithFlag.length, blockBytes);
  const msg = new Uint8Array(HEADER_BYTES + n * BLOCK_DIGEST_BYTES);
  msg.set(unsignedWithFlag.subarray(0, HEADER_BYTES), 0);
  for (let i = 0; i < n; i++) {
    const d = hash(unsignedWithFlag.subarray(i * blockBytes, Math.min(unsignedWithFlag.length, (i + 1) * blockBytes)));
    msg.set(d.subarray(0, BLOCK_DIGEST_BYTES), HEADER_BYTES + i * BLOCK_DIGEST_BYTES);
  }
  return msg;
}

/**
 * Sign a capsule: set the Signed flag, then append the trailer with the
 * signature `sign(signedMessage(...))` (sign: Ed25519 with the network key).
 */
export function signCapsule(unsigned: Uint8Array, hash: Sha256, sign: (msg: Uint8Array) => Uint8Array): Uint8Array {
  if ((unsigned[3] & CapsuleFlags.Signed) !== 0) throw new Error("signCapsule: the capsule is already signed");
  const withFlag = unsigned.slice();
  withFlag[3] |= CapsuleFlags.Signed;
  const sig = sign(signedMessage(withFlag, withFlag[19] || DEFAULT_BLOCK_BYTES, hash));
  if (sig.length !== SIGNATURE_BYTES) throw new Error(`signCapsule: an Ed25519 signature has ${SIGNATURE_BYTES} bytes, got ${sig.length}`);
  const out = new Uint8Array(withFlag.length + TRAILER_BYTES);
  out.set(withFlag, 0);
  out[withFlag.length] = SIG_ED25519;
  out.set(sig, withFlag.length + 1);
  return out;
}

/** Number of radio blocks the capsule takes. */
export function blockCount(capsuleBytes: number, blockBytes: number): number {
  return Math.ceil(capsuleBytes / blockBytes);
}
