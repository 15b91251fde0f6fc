/**
 * Signing and checking whole capsules (the gateway's and the base station's
 * checks; docs/security.md). The signature format is vm/capsule.ts's: an
 * Ed25519 (RFC 8032) signature of `signedMessage()` = the 56-byte header with
 * the Signed flag, then the SHA-256 of every block truncated to 8 bytes.
 *
 * `checkSignedCapsule` runs the checks in a fixed order and returns the first
 * failure as a precise `Rejection`:
 *   malformed -> unsigned -> tampered (body SHA-256) -> bad-signature ->
 *   wrong-config -> rollback (version not newer) -> too-large (script space,
 *   block size) -> unverifiable (the bytecode verifier, vm/verify.ts).
 * Authenticity comes before policy, so an unauthenticated capsule never learns
 * which policy it would have broken.
 */
import { createHash, type KeyObject, sign, verify } from "node:crypto";
import {
  type CapsuleHeaderFields, CapsuleError, CapsuleFlags, DEFAULT_BLOCK_BYTES, HEADER_BYTES, SIG_ED25519, SIGNATURE_BYTES,
  TRAILER_BYTES, blockCount, capsuleBody, decodeCapsule, decodeHeader, signCapsule, signedMessage, unsignedPart,
} from "../../vm/capsule";
import { loadCapsule, type VerifiedCapsule, VerifyError } from "../../vm/verify";

/** SHA-256 (FIPS 180-4) through node:crypto. */
export const sha256 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(data).digest());

/** Why a capsule (or a manifest or block) was refused. */
export type RejectReason =
  /** Not a well-formed capsule, manifest or frame sequence (sizes disagree, bad magic, block size too big for a frame). */
  | "malformed"
  /** No signature trailer. */
  | "unsigned"
  /** The body's SHA-256, a block digest or a block's HMAC tag does not match: bytes were changed. */
  | "tampered"
  /** The Ed25519 signature (or the PSK manifest tag) does not verify with the network's key. */
  | "bad-signature"
  /** Compiled for another VM configuration (configuration id differs). */
  | "wrong-config"
  /** Program version not newer than the installed one (anti-rollback, replay). */
  | "rollback"
  /** Needs more script space than the mote has. */
  | "too-large"
  /** Authentic, but the bytecode verifier refuses it (vm/verify.ts), e.g. float code on a VM without floats. */
  | "unverifiable";

export const REJECT_REASONS: readonly RejectReason[] = [
  "malformed", "unsigned", "tampered", "bad-signature", "wrong-config", "rollback", "too-large", "unverifiable",
];

export interface Rejection {
  reason: RejectReason;
  /** One sentence for people (`terra status`, CoAP diagnostic payloads). */
  detail: string;
  /** Program version the capsule claims, when it could be read. */
  version?: number;
}

/** A capsule header (vm/capsule.ts decodeHeader) with what dissemination derives from it. */
export interface CapsuleHeader extends Omit<CapsuleHeaderFields, "formatVersion"> {
  signed: boolean;
  /** Bytes per radio block as the signature uses them (header byte 19, 0 meaning DEFAULT_BLOCK_BYTES). */
  blockBytes: number;
  /** Bytes of the capsule without the signature trailer (header, tables, code). */
  unsignedBytes: number;
  /** Blocks of the unsigned bytes. */
  blocks: number;
}

/**
 * Read a 56-byte capsule header (vm/capsule.ts). Only structure is checked
 * (magic, format version, code limit).
 * @throws CapsuleError with the byte offset at fault.
 */
export function parseHeader(bytes: Uint8Array): CapsuleHeader {
  const { formatVersion: _, ...h } = decodeHeader(bytes);
  if (h.codeBytes > 0x7fff) throw new CapsuleError(12, `code of ${h.codeBytes} bytes exceeds the 32767-byte limit`);
  const blockBytes = h.blockBytes || DEFAULT_BLOCK_BYTES;
  const unsignedBytes = HEADER_BYTES + h.tableBytes + h.codeBytes;
  return { ...h, signed: (h.flags & CapsuleFlags.Signed) !== 0, blockBytes, unsignedBytes, blocks: blockCount(unsignedBytes, blockBytes) };
}

/**
 * Script space a capsule needs on a mote, in bytes: body (tables + code) +
 * variables + 16-bit control slots + 32-bit eval stack cells + 16-bit track
 * entries. The same sum as the compile report's `needs` (compiler/compile.ts).
 */
export function scriptNeeds(h: CapsuleHeader): number {
  return h.tableBytes + h.codeBytes + h.varBytes + 2 * h.slots + 4 * h.stackCells + 2 * h.trackDepth;
}

/** Ed25519 signature of a message (RFC 8032 pure Ed25519, node:crypto). */
export function ed25519Sign(privateKey: KeyObject, msg: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, msg, privateKey));
}

/** Ed25519 verification; false for a signature of the wrong length. */
export function ed25519Verify(publicKey: KeyObject, msg: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== SIGNATURE_BYTES) return false;
  try {
    return verify(null, msg, publicKey, sig);
  } catch {
    return false;
  }
}

/**
 * Sign an unsigned capsule with the network's private key (vm/capsule.ts
 * signCapsule). Optionally rewrites the program version first (the header is
 * not covered by the body hash, so a compiled capsule can be re-versioned).
 * @returns the signed capsule bytes (unsigned bytes with the flag + 65-byte trailer).
 * @throws Error when the capsule is already signed or malformed.
 */
export function signCapsuleWith(unsigned: Uint8Array, privateKey: KeyObject, programVersion?: number): Uint8Array {
  decodeCapsule(unsigned, sha256); // structure and body hash: never sign garbage
  let bytes = unsigned;
  if (programVersion !== undefined) {
    if (!Number.isInteger(programVersion) || programVersion < 1 || programVersion > 0xffffffff) throw new RangeError(`program version ${programVersion} is not in 1..4294967295`);
    bytes = unsigned.slice();
    new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(4, programVersion, true);
  }
  return signCapsule(bytes, sha256, (msg) => ed25519Sign(privateKey, msg));
}

/** What a mote or gateway enforces on a capsule (all sizes in bytes). */
export interface CapsulePolicy {
  /** The network's Ed25519 public key. */
  publicKey: KeyObject;
  /** Configuration id of the motes' VM (vm/capsule.ts configId). */
  configId: number;
  /** Version installed now (0: none); a capsule must be strictly newer. */
  installedVersion: number;
  /** Script space of the mote (the configuration's size for the platform). */
  scriptSpace: number;
  /** Largest block size the transport carries (dissemination: MAX_BLOCK_BYTES). */
  maxBlockBytes?: number;
  /** The VM supports float instructions (default true). */
  float?: boolean;
}

export type CheckResult =
  | { ok: true; header: CapsuleHeader; capsule: VerifiedCapsule }
  | { ok: false; rejection: Rejection };

const reject = (reason: RejectReason, detail: string, version?: number): CheckResult => ({ ok: false, rejection: { reason, detail, ...(version !== undefined ? { version } : {}) } });

/** Check a capsule's policy fields against what the mote enforces (config, version, size). */
export function checkPolicy(h: CapsuleHeader, policy: Omit<CapsulePolicy, "publicKey">): Rejection | undefined {
  const v = h.programVersion;
  if (h.configId !== policy.configId >>> 0) {
    return { reason: "wrong-config", detail: `compiled for configuration 0x${hex8(h.configId)}, the motes run 0x${hex8(policy.configId)}`, version: v };
  }
  if (v <= policy.installedVersion) {
    return { reason: "rollback", detail: `version ${v} is not newer than the installed version ${policy.installedVersion}`, version: v };
  }
  const needs = scriptNeeds(h);
  if (needs > policy.scriptSpace) {
    return { reason: "too-large", detail: `needs ${needs} bytes of script space, the motes have ${policy.scriptSpace}`, version: v };
  }
  if (policy.maxBlockBytes !== undefined && h.blockBytes > policy.maxBlockBytes) {
    return { reason: "too-large", detail: `blocks of ${h.blockBytes} bytes do not fit a radio frame (at most ${policy.maxBlockBytes})`, version: v };
  }
  return undefined;
}

/**
 * Check a signed capsule completely (see the module comment for the order).
 * Never throws on bad input.
 */
export function checkSignedCapsule(bytes: Uint8Array, policy: CapsulePolicy): CheckResult {
  let h: CapsuleHeader;
  try {
    h = parseHeader(bytes);
    decodeCapsule(bytes);
  } catch (e) {
    if (e instanceof CapsuleError) return reject("malformed", e.message);
    throw e;
  }
  const v = h.programVersion;
  if (!h.signed) return reject("unsigned", "the capsule has no signature (sign it: `terra deploy --key`)", v);
  const unsigned = unsignedPart(bytes);
  const body = capsuleBody(unsigned);
  if (!equalBytes(sha256(body), h.bodyHash)) return reject("tampered", "the body's SHA-256 does not match the header: the capsule was changed", v);
  const trailer = bytes.subarray(unsigned.length);
  if (trailer[0] !== SIG_ED25519 || trailer.length !== TRAILER_BYTES) return reject("malformed", `unknown signature algorithm ${trailer[0]}`, v);
  const msg = signedMessage(unsigned, h.blockBytes, sha256);
  if (!ed25519Verify(policy.publicKey, msg, trailer.subarray(1))) {
    return reject("bad-signature", "the Ed25519 signature does not verify with the network key (signed by another key, or the header was changed)", v);
  }
  const p = checkPolicy(h, policy);
  if (p) return { ok: false, rejection: p };
  try {
    const capsule = loadCapsule(bytes, { sha256, float: policy.float ?? true });
    return { ok: true, header: h, capsule };
  } catch (e) {
    if (e instanceof VerifyError || e instanceof CapsuleError) return reject("unverifiable", `the bytecode verifier refuses it: ${e.message}`, v);
    throw e;
  }
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}
