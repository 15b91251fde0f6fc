/**
 * The manifest: what a mote must authenticate before it accepts any block of
 * a new capsule (docs/security.md, docs/dissemination.md). Two modes, one per
 * network:
 *
 * ed25519 (host motes, SAMR21):
 *     header (56) | block digests (8 x blocks) | algorithm (1) | signature (64)
 *   = vm/capsule.ts signedMessage() followed by the capsule's signature
 *   trailer. The mote verifies the Ed25519 signature over the first
 *   56 + 8 x blocks bytes, then checks each block against its digest (first 8
 *   bytes of its SHA-256) as it arrives.
 *
 * psk (MicaZ, TelosB):
 *     header (56) | algorithm (1) | signature (64) | tag (8)
 *   tag = HMAC-SHA-256(psk, "TERRA-PSK-MANIFEST" | first 121 bytes)[0..8].
 *   The trailer travels (unchecked by these motes) so that every mote stores
 *   the same signed capsule bytes. Each block carries its own 8-byte tag
 *   (blockTag) in the data frame, so the mote keeps no digest list in RAM.
 *
 * Blocks are always cut from the unsigned bytes (header with the Signed flag,
 * tables, code) with the header's block size; the installed capsule is those
 * bytes followed by the 65-byte trailer.
 */
import { createHmac, type KeyObject } from "node:crypto";
import {
  BLOCK_DIGEST_BYTES, CapsuleError, HEADER_BYTES, SIG_ED25519, TRAILER_BYTES, capsuleBody, signedMessage, unsignedPart,
} from "../../vm/capsule";
import { type CapsuleHeader, ed25519Verify, equalBytes, parseHeader, type Rejection, sha256 } from "./capsule";

export type AuthMode = "ed25519" | "psk";

/** How motes of a network authenticate capsules. */
export type ManifestAuth =
  | { mode: "ed25519"; publicKey: KeyObject }
  | { mode: "psk"; psk: Uint8Array };

/** Bytes of an HMAC tag (truncated HMAC-SHA-256, RFC 2104 / RFC 4868 §2.3 style truncation). */
export const TAG_BYTES = 8;
export const PSK_MANIFEST_LABEL = new TextEncoder().encode("TERRA-PSK-MANIFEST");
export const PSK_BLOCK_LABEL = new TextEncoder().encode("TERRA-PSK-BLOCK");

/** An authenticated manifest. */
export interface Manifest {
  mode: AuthMode;
  /** The manifest bytes as they travel. */
  bytes: Uint8Array;
  header: CapsuleHeader;
  /** ed25519: 8 bytes per block (truncated SHA-256); psk: empty. */
  digests: Uint8Array;
  /** The capsule's 65-byte signature trailer (algorithm + Ed25519 signature). */
  trailer: Uint8Array;
}

/** Manifest length in bytes for a capsule of `blocks` blocks. */
export function manifestBytes(mode: AuthMode, blocks: number): number {
  return mode === "ed25519" ? HEADER_BYTES + BLOCK_DIGEST_BYTES * blocks + TRAILER_BYTES : HEADER_BYTES + TRAILER_BYTES + TAG_BYTES;
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** PSK tag of a manifest's first 121 bytes (header + trailer). */
export function manifestTag(psk: Uint8Array, headerAndTrailer: Uint8Array): Uint8Array {
  return hmac(psk, PSK_MANIFEST_LABEL, headerAndTrailer).slice(0, TAG_BYTES);
}

/**
 * PSK tag of block `index` of a capsule: the first 8 bytes of
 * HMAC-SHA-256(psk, "TERRA-PSK-BLOCK" | config id (u32 LE) | program version
 * (u32 LE) | body SHA-256 (32) | index (u16 LE) | block count (u16 LE) | block bytes).
 */
export function blockTag(psk: Uint8Array, h: CapsuleHeader, index: number, block: Uint8Array): Uint8Array {
  const meta = new Uint8Array(4 + 4 + 32 + 2 + 2);
  const dv = new DataView(meta.buffer);
  dv.setUint32(0, h.configId, true);
  dv.setUint32(4, h.programVersion, true);
  meta.set(h.bodyHash, 8);
  dv.setUint16(40, index, true);
  dv.setUint16(42, h.blocks, true);
  return hmac(psk, PSK_BLOCK_LABEL, meta, block).slice(0, TAG_BYTES);
}

/**
 * Build the manifest of a signed capsule (the base station does this).
 * @throws CapsuleError when the capsule is not signed or malformed; Error when psk mode has no key.
 */
export function buildManifest(signed: Uint8Array, auth: { mode: AuthMode; psk?: Uint8Array }): Uint8Array {
  const h = parseHeader(signed);
  if (!h.signed) throw new CapsuleError(3, "a manifest is built from a signed capsule");
  if (signed.length !== h.unsignedBytes + TRAILER_BYTES) throw new CapsuleError(signed.length, `a signed capsule of this header has ${h.unsignedBytes + TRAILER_BYTES} bytes, got ${signed.length}`);
  const trailer = signed.subarray(h.unsignedBytes);
  if (auth.mode === "ed25519") {
    const msg = signedMessage(unsignedPart(signed), h.blockBytes, sha256);
    const out = new Uint8Array(msg.length + TRAILER_BYTES);
    out.set(msg, 0);
    out.set(trailer, msg.length);
    return out;
  }
  if (!auth.psk) throw new Error("buildManifest: psk mode needs the pre-shared key");
  const out = new Uint8Array(HEADER_BYTES + TRAILER_BYTES + TAG_BYTES);
  out.set(signed.subarray(0, HEADER_BYTES), 0);
  out.set(trailer, HEADER_BYTES);
  out.set(manifestTag(auth.psk, out.subarray(0, HEADER_BYTES + TRAILER_BYTES)), HEADER_BYTES + TRAILER_BYTES);
  return out;
}

export type OpenResult = { ok: true; manifest: Manifest } | { ok: false; rejection: Rejection };

/**
 * Authenticate a manifest: structure, then the Ed25519 signature or the PSK
 * tag. Policy (config, version, size) is the caller's (checkPolicy).
 * `expectBlocks`, when given, is the block count the sender announced.
 * Never throws on bad input.
 */
export function openManifest(bytes: Uint8Array, auth: ManifestAuth, expectBlocks?: number): OpenResult {
  const fail = (reason: Rejection["reason"], detail: string, version?: number): OpenResult => ({ ok: false, rejection: { reason, detail, ...(version !== undefined ? { version } : {}) } });
  let h: CapsuleHeader;
  try {
    h = parseHeader(bytes);
  } catch (e) {
    if (e instanceof CapsuleError) return fail("malformed", `manifest: ${e.message}`);
    throw e;
  }
  const v = h.programVersion;
  if (!h.signed) return fail("unsigned", "manifest of an unsigned capsule", v);
  if (expectBlocks !== undefined && expectBlocks !== h.blocks) return fail("malformed", `announced ${expectBlocks} blocks, the header makes ${h.blocks}`, v);
  const want = manifestBytes(auth.mode, h.blocks);
  if (bytes.length !== want) return fail("malformed", `an ${auth.mode} manifest of ${h.blocks} blocks has ${want} bytes, got ${bytes.length}`, v);
  if (auth.mode === "ed25519") {
    const signedLen = HEADER_BYTES + BLOCK_DIGEST_BYTES * h.blocks;
    const trailer = bytes.slice(signedLen);
    if (trailer[0] !== SIG_ED25519) return fail("malformed", `unknown signature algorithm ${trailer[0]}`, v);
    if (!ed25519Verify(auth.publicKey, bytes.subarray(0, signedLen), trailer.subarray(1))) {
      return fail("bad-signature", "the manifest's Ed25519 signature does not verify with the network key", v);
    }
    return { ok: true, manifest: { mode: "ed25519", bytes: bytes.slice(), header: h, digests: bytes.slice(HEADER_BYTES, signedLen), trailer } };
  }
  const body = bytes.subarray(0, HEADER_BYTES + TRAILER_BYTES);
  if (!equalBytes(manifestTag(auth.psk, body), bytes.subarray(HEADER_BYTES + TRAILER_BYTES))) {
    return fail("bad-signature", "the manifest's HMAC tag does not verify with the network PSK", v);
  }
  const trailer = bytes.slice(HEADER_BYTES, HEADER_BYTES + TRAILER_BYTES);
  return { ok: true, manifest: { mode: "psk", bytes: bytes.slice(), header: h, digests: new Uint8Array(0), trailer } };
}

/** Expected length of block `index` (the last one may be short); 0 when out of range. */
export function blockLength(h: CapsuleHeader, index: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= h.blocks) return 0;
  return Math.min(h.blockBytes, h.unsignedBytes - index * h.blockBytes);
}

/**
 * Check one block against an authenticated manifest: its length, then its
 * digest (ed25519) or its HMAC tag (psk; `tag` is the 8 bytes from the frame).
 */
export function checkBlock(m: Manifest, auth: ManifestAuth, index: number, block: Uint8Array, tag?: Uint8Array): boolean {
  if (block.length !== blockLength(m.header, index) || block.length === 0) return false;
  if (m.mode === "ed25519") {
    const d = sha256(block);
    return equalBytes(d.subarray(0, BLOCK_DIGEST_BYTES), m.digests.subarray(index * BLOCK_DIGEST_BYTES, (index + 1) * BLOCK_DIGEST_BYTES));
  }
  if (auth.mode !== "psk" || !tag || tag.length !== TAG_BYTES) return false;
  return equalBytes(blockTag(auth.psk, m.header, index, block), tag);
}

/**
 * Join verified blocks into the signed capsule (unsigned bytes + trailer) and
 * check the body's SHA-256 against the header.
 * @returns the capsule, or a "tampered" rejection.
 */
export function assembleCapsule(m: Manifest, blocks: readonly Uint8Array[]): { ok: true; capsule: Uint8Array } | { ok: false; rejection: Rejection } {
  const h = m.header;
  const out = new Uint8Array(h.unsignedBytes + TRAILER_BYTES);
  let p = 0;
  for (let i = 0; i < h.blocks; i++) {
    const b = blocks[i];
    if (!b || b.length !== blockLength(h, i)) return { ok: false, rejection: { reason: "malformed", detail: `block ${i} is missing or has the wrong length`, version: h.programVersion } };
    out.set(b, p);
    p += b.length;
  }
  out.set(m.trailer, p);
  if (!equalBytes(out.subarray(0, HEADER_BYTES), m.bytes.subarray(0, HEADER_BYTES))) {
    return { ok: false, rejection: { reason: "tampered", detail: "block 0 does not carry the manifest's header", version: h.programVersion } };
  }
  if (!equalBytes(sha256(capsuleBody(out.subarray(0, h.unsignedBytes))), h.bodyHash)) {
    return { ok: false, rejection: { reason: "tampered", detail: "the assembled body's SHA-256 does not match the header", version: h.programVersion } };
  }
  return { ok: true, capsule: out };
}
