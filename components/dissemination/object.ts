/**
 * The object a mote disseminates: a signed capsule seen as segments (manifest
 * chunks, then capsule blocks; frames.ts). `Held` is a capsule the mote has
 * in full (it can serve every segment); `Incoming` is one being received: it
 * accepts a segment only once it can authenticate it, so whatever it holds
 * is verified and may be relayed.
 */
import { TRAILER_BYTES } from "../../vm/capsule";
import { type CapsuleHeader, parseHeader, type Rejection } from "../security/capsule";
import {
  assembleCapsule, blockLength, blockTag, buildManifest, checkBlock, type Manifest, type ManifestAuth, manifestBytes,
  openManifest, TAG_BYTES,
} from "../security/manifest";
import { MANIFEST_CHUNK_BYTES } from "./frames";

/** Manifest chunks (segments) for a capsule of `blocks` blocks. */
export function manifestChunks(mode: ManifestAuth["mode"], blocks: number): number {
  return Math.ceil(manifestBytes(mode, blocks) / MANIFEST_CHUNK_BYTES);
}

function chunkOf(manifest: Uint8Array, i: number): Uint8Array {
  return manifest.subarray(i * MANIFEST_CHUNK_BYTES, Math.min(manifest.length, (i + 1) * MANIFEST_CHUNK_BYTES));
}

/** A capsule held in full. */
export class Held {
  readonly header: CapsuleHeader;
  readonly version: number;
  readonly blocks: number;
  /** Manifest bytes (undefined for an unsigned factory image, which cannot be relayed). */
  readonly manifest: Uint8Array | undefined;
  readonly chunks: number;

  /**
   * @param capsule the installed capsule bytes (signed: unsigned part + trailer).
   * @throws CapsuleError when the header is malformed.
   */
  constructor(readonly capsule: Uint8Array, private auth: ManifestAuth) {
    this.header = parseHeader(capsule);
    this.version = this.header.programVersion;
    this.blocks = this.header.blocks;
    const signed = this.header.signed && capsule.length === this.header.unsignedBytes + TRAILER_BYTES;
    this.manifest = signed ? buildManifest(capsule, auth) : undefined;
    this.chunks = this.manifest ? manifestChunks(auth.mode, this.blocks) : 0;
  }

  get segments(): number {
    return this.manifest ? this.chunks + this.blocks : 0;
  }

  /** True when the segment can be served (a signed capsule, segment in range). */
  has(seg: number): boolean {
    return this.manifest !== undefined && Number.isInteger(seg) && seg >= 0 && seg < this.segments;
  }

  /** DATA payload of a segment, or undefined when out of range / not relayable. */
  segment(seg: number): Uint8Array | undefined {
    if (!this.manifest || !this.has(seg)) return undefined;
    if (seg < this.chunks) return chunkOf(this.manifest, seg);
    const j = seg - this.chunks;
    const B = this.header.blockBytes;
    const block = this.capsule.subarray(j * B, j * B + blockLength(this.header, j));
    if (this.auth.mode === "ed25519") return block;
    const out = new Uint8Array(block.length + TAG_BYTES);
    out.set(block, 0);
    out.set(blockTag(this.auth.psk, this.header, j, block), block.length);
    return out;
  }
}

/** Outcome of offering a segment to an Incoming. */
export type Accept =
  | "new" // stored: verified and new
  | "manifest" // completed and authenticated the manifest
  | "duplicate"
  | "early" // a block before the manifest is authenticated (dropped)
  | "bad-length"
  | "out-of-range"
  | { rejected: Rejection }; // manifest or block failed authentication

/** A capsule being received. */
export class Incoming {
  readonly chunks: number;
  manifest: Manifest | undefined;
  private chunkData: (Uint8Array | undefined)[];
  private chunkCount = 0;
  readonly blockData: (Uint8Array | undefined)[];
  haveBlocks = 0;

  /**
   * @param version program version being received
   * @param blocks block count announced by the advertisement
   */
  constructor(readonly version: number, readonly blocks: number, private auth: ManifestAuth) {
    this.chunks = manifestChunks(auth.mode, blocks);
    this.chunkData = new Array(this.chunks).fill(undefined);
    this.blockData = new Array(blocks).fill(undefined);
  }

  get segments(): number {
    return this.chunks + this.blocks;
  }

  get complete(): boolean {
    return this.manifest !== undefined && this.haveBlocks === this.blocks;
  }

  /** True when the segment is held and verified. */
  has(seg: number): boolean {
    if (!Number.isInteger(seg) || seg < 0) return false;
    if (seg < this.chunks) return this.manifest !== undefined;
    const j = seg - this.chunks;
    return j < this.blocks && this.blockData[j] !== undefined;
  }

  /** Expected DATA payload length of a segment (0 when unknown or out of range). */
  expectedLength(seg: number): number {
    const mlen = manifestBytes(this.auth.mode, this.blocks);
    if (seg < 0 || seg >= this.segments) return 0;
    if (seg < this.chunks) return Math.min(MANIFEST_CHUNK_BYTES, mlen - seg * MANIFEST_CHUNK_BYTES);
    if (!this.manifest) return 0;
    return blockLength(this.manifest.header, seg - this.chunks) + (this.auth.mode === "psk" ? TAG_BYTES : 0);
  }

  /**
   * Offer a segment payload. Manifest chunks are kept until all have arrived,
   * then the manifest is authenticated (policy is the caller's); blocks are
   * checked against the manifest before they are kept.
   */
  offer(seg: number, payload: Uint8Array): Accept {
    if (!Number.isInteger(seg) || seg < 0 || seg >= this.segments) return "out-of-range";
    if (seg < this.chunks) {
      if (this.manifest || this.chunkData[seg]) return "duplicate";
      if (payload.length !== this.expectedLength(seg)) return "bad-length";
      this.chunkData[seg] = payload.slice();
      this.chunkCount++;
      if (this.chunkCount < this.chunks) return "new";
      const bytes = new Uint8Array(manifestBytes(this.auth.mode, this.blocks));
      this.chunkData.forEach((c, i) => bytes.set(c!, i * MANIFEST_CHUNK_BYTES));
      const r = openManifest(bytes, this.auth, this.blocks);
      if (!r.ok || r.manifest.header.programVersion !== this.version) {
        this.chunkData.fill(undefined);
        this.chunkCount = 0;
        return { rejected: r.ok ? { reason: "malformed", detail: `the manifest is for version ${r.manifest.header.programVersion}, not ${this.version}`, version: this.version } : r.rejection };
      }
      this.manifest = r.manifest;
      this.chunkData = [];
      return "manifest";
    }
    const j = seg - this.chunks;
    if (!this.manifest) return "early";
    if (this.blockData[j]) return "duplicate";
    const len = this.expectedLength(seg);
    if (payload.length !== len) return "bad-length";
    const tagged = this.auth.mode === "psk";
    const block = tagged ? payload.subarray(0, len - TAG_BYTES) : payload;
    const tag = tagged ? payload.subarray(len - TAG_BYTES) : undefined;
    if (!checkBlock(this.manifest, this.auth, j, block, tag)) {
      return { rejected: { reason: "tampered", detail: `block ${j} does not match its ${tagged ? "HMAC tag" : "signed digest"}`, version: this.version } };
    }
    this.blockData[j] = block.slice();
    this.haveBlocks++;
    return "new";
  }

  /** Install an already-verified manifest (from the store after a reboot). */
  restoreManifest(m: Manifest): void {
    this.manifest = m;
    this.chunkData = [];
  }

  /** Restore a stored block payload (block, + tag in psk mode): re-checked like a received one (flash is not trusted blindly). */
  restoreBlock(j: number, payload: Uint8Array): boolean {
    return this.offer(this.chunks + j, payload) === "new";
  }

  /** DATA payload of a held segment (for relaying), or undefined. */
  segment(seg: number): Uint8Array | undefined {
    if (!this.has(seg) || !this.manifest) return undefined;
    if (seg < this.chunks) return chunkOf(this.manifest.bytes, seg);
    const j = seg - this.chunks;
    const b = this.blockData[j]!;
    if (this.auth.mode === "ed25519") return b;
    const out = new Uint8Array(b.length + TAG_BYTES);
    out.set(b, 0);
    out.set(blockTag(this.auth.psk, this.manifest.header, j, b), b.length);
    return out;
  }

  /**
   * The request window: the first missing segment and a bitmap of missing
   * segments from it (at most `maxBits`). Before the manifest is
   * authenticated only manifest chunks are asked for. Undefined when nothing is missing.
   */
  missing(maxBits: number): { first: number; bitmap: Uint8Array; count: number } | undefined {
    const end = this.manifest ? this.segments : this.chunks;
    let first = -1;
    for (let s = 0; s < end; s++) {
      if (!this.has(s) && !(s < this.chunks && !this.manifest && this.chunkData[s])) {
        first = s;
        break;
      }
    }
    if (first < 0) return undefined;
    const span = Math.min(maxBits, end - first);
    const bitmap = new Uint8Array(Math.ceil(span / 8));
    let count = 0;
    for (let i = 0; i < span; i++) {
      const s = first + i;
      const have = this.has(s) || (s < this.chunks && !this.manifest && this.chunkData[s] !== undefined);
      if (!have) {
        bitmap[i >> 3] |= 1 << (i & 7);
        count++;
      }
    }
    return { first, bitmap, count };
  }

  /** Join the blocks and check the body hash. */
  assemble(): ReturnType<typeof assembleCapsule> {
    return assembleCapsule(this.manifest!, this.blockData as Uint8Array[]);
  }
}
