/**
 * Dissemination frames, byte-exact (docs/dissemination.md is the spec the C
 * side implements). All multi-byte fields little-endian. A frame is the MAC
 * payload of an IEEE 802.15.4 data frame; its first byte is the frame type,
 * which doubles as the dispatch byte (0xD1..0xD4 belong to dissemination).
 *
 * Budget: 127-byte PHY payload (aMaxPHYPacketSize) - 11 bytes of MAC
 * overhead (frame control 2, sequence 1, PAN id 2, short destination 2,
 * short source 2, FCS 2; PAN id compression) = MAX_FRAME_BYTES = 116.
 *
 *   ADV   0xD1  version u32 | config u32 | blocks u16                       (11 bytes)
 *   REQ   0xD2  version u32 | target u16 | first u16 | n u8 | bitmap[n]     (10 + n, n = 1..MAX_BITMAP_BYTES)
 *   DATA  0xD3  version u32 | segment u16 | payload                          (7 + payload)
 *   FLOOD 0xD4  round u16 | version u32 | config u32 | blocks u16 | segment u16 | payload   (15 + payload)
 *
 * Segments number the object being disseminated: 0..m-1 are the manifest's
 * chunks of MANIFEST_CHUNK_BYTES (the last may be short), m..m+n-1 the n
 * capsule blocks. In psk mode a block segment's payload is the block followed
 * by its 8-byte HMAC tag. Bitmap bit i (byte i>>3, bit i&7, LSB first) set =
 * segment first+i is missing.
 */

export const FRAME_ADV = 0xd1;
export const FRAME_REQ = 0xd2;
export const FRAME_DATA = 0xd3;
export const FRAME_FLOOD = 0xd4;

/** IEEE 802.15.4 PHY payload limit (aMaxPHYPacketSize). */
export const PHY_MAX_BYTES = 127;
/** MAC header + FCS with PAN id compression and 16-bit addresses. */
export const MAC_OVERHEAD_BYTES = 11;
/** Largest dissemination frame (MAC payload). */
export const MAX_FRAME_BYTES = PHY_MAX_BYTES - MAC_OVERHEAD_BYTES;
/** Manifest chunk size (bytes per manifest segment). */
export const MANIFEST_CHUNK_BYTES = 96;
/** Largest capsule block size the frames carry in every mode (FLOOD with a psk tag: 15 + 92 + 8 = 115). */
export const MAX_BLOCK_BYTES = 92;
export const ADV_BYTES = 11;
export const REQ_HEADER_BYTES = 10;
export const DATA_HEADER_BYTES = 7;
export const FLOOD_HEADER_BYTES = 15;
export const MAX_BITMAP_BYTES = MAX_FRAME_BYTES - REQ_HEADER_BYTES;
/** Broadcast destination (IEEE 802.15.4 short address 0xFFFF). */
export const BROADCAST = 0xffff;

export interface AdvFrame {
  type: typeof FRAME_ADV;
  version: number;
  configId: number;
  blocks: number;
}
export interface ReqFrame {
  type: typeof FRAME_REQ;
  version: number;
  target: number;
  first: number;
  bitmap: Uint8Array;
}
export interface DataFrame {
  type: typeof FRAME_DATA;
  version: number;
  segment: number;
  payload: Uint8Array;
}
export interface FloodFrame {
  type: typeof FRAME_FLOOD;
  round: number;
  version: number;
  configId: number;
  blocks: number;
  segment: number;
  payload: Uint8Array;
}
export type Frame = AdvFrame | ReqFrame | DataFrame | FloodFrame;

function u16(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`${what} ${n} is not a u16`);
  return n;
}
function u32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${what} ${n} is not a u32`);
  return n;
}

/**
 * Encode a frame.
 * @throws RangeError when a field is out of range or the frame exceeds MAX_FRAME_BYTES (a bug in the caller).
 */
export function encodeFrame(f: Frame): Uint8Array {
  let out: Uint8Array;
  let dv: DataView;
  const alloc = (n: number) => {
    if (n > MAX_FRAME_BYTES) throw new RangeError(`frame of ${n} bytes exceeds ${MAX_FRAME_BYTES}`);
    out = new Uint8Array(n);
    dv = new DataView(out.buffer);
    out[0] = f.type;
  };
  switch (f.type) {
    case FRAME_ADV:
      alloc(ADV_BYTES);
      dv!.setUint32(1, u32(f.version, "version"), true);
      dv!.setUint32(5, f.configId >>> 0, true);
      dv!.setUint16(9, u16(f.blocks, "blocks"), true);
      break;
    case FRAME_REQ:
      if (f.bitmap.length < 1 || f.bitmap.length > MAX_BITMAP_BYTES) throw new RangeError(`bitmap of ${f.bitmap.length} bytes (1..${MAX_BITMAP_BYTES})`);
      alloc(REQ_HEADER_BYTES + f.bitmap.length);
      dv!.setUint32(1, u32(f.version, "version"), true);
      dv!.setUint16(5, u16(f.target, "target"), true);
      dv!.setUint16(7, u16(f.first, "first"), true);
      out![9] = f.bitmap.length;
      out!.set(f.bitmap, REQ_HEADER_BYTES);
      break;
    case FRAME_DATA:
      if (f.payload.length < 1) throw new RangeError("empty DATA payload");
      alloc(DATA_HEADER_BYTES + f.payload.length);
      dv!.setUint32(1, u32(f.version, "version"), true);
      dv!.setUint16(5, u16(f.segment, "segment"), true);
      out!.set(f.payload, DATA_HEADER_BYTES);
      break;
    case FRAME_FLOOD:
      if (f.payload.length < 1) throw new RangeError("empty FLOOD payload");
      alloc(FLOOD_HEADER_BYTES + f.payload.length);
      dv!.setUint16(1, u16(f.round, "round"), true);
      dv!.setUint32(3, u32(f.version, "version"), true);
      dv!.setUint32(7, f.configId >>> 0, true);
      dv!.setUint16(11, u16(f.blocks, "blocks"), true);
      dv!.setUint16(13, u16(f.segment, "segment"), true);
      out!.set(f.payload, FLOOD_HEADER_BYTES);
      break;
  }
  return out!;
}

/**
 * Decode a frame. Returns a string saying what is wrong for a malformed
 * frame (the caller counts and drops it); never throws.
 */
export function decodeFrame(b: Uint8Array): Frame | string {
  if (b.length < 1) return "empty frame";
  if (b.length > MAX_FRAME_BYTES) return `frame of ${b.length} bytes exceeds ${MAX_FRAME_BYTES}`;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (b[0]) {
    case FRAME_ADV:
      if (b.length !== ADV_BYTES) return `ADV of ${b.length} bytes (must be ${ADV_BYTES})`;
      return { type: FRAME_ADV, version: dv.getUint32(1, true), configId: dv.getUint32(5, true), blocks: dv.getUint16(9, true) };
    case FRAME_REQ: {
      if (b.length < REQ_HEADER_BYTES + 1) return `REQ of ${b.length} bytes (at least ${REQ_HEADER_BYTES + 1})`;
      const n = b[9];
      if (n < 1 || b.length !== REQ_HEADER_BYTES + n) return `REQ announces a ${n}-byte bitmap in ${b.length} bytes`;
      return { type: FRAME_REQ, version: dv.getUint32(1, true), target: dv.getUint16(5, true), first: dv.getUint16(7, true), bitmap: b.slice(REQ_HEADER_BYTES) };
    }
    case FRAME_DATA:
      if (b.length < DATA_HEADER_BYTES + 1) return `DATA of ${b.length} bytes (at least ${DATA_HEADER_BYTES + 1})`;
      return { type: FRAME_DATA, version: dv.getUint32(1, true), segment: dv.getUint16(5, true), payload: b.slice(DATA_HEADER_BYTES) };
    case FRAME_FLOOD:
      if (b.length < FLOOD_HEADER_BYTES + 1) return `FLOOD of ${b.length} bytes (at least ${FLOOD_HEADER_BYTES + 1})`;
      return {
        type: FRAME_FLOOD, round: dv.getUint16(1, true), version: dv.getUint32(3, true), configId: dv.getUint32(7, true),
        blocks: dv.getUint16(11, true), segment: dv.getUint16(13, true), payload: b.slice(FLOOD_HEADER_BYTES),
      };
    default:
      return `unknown frame type 0x${b[0].toString(16).padStart(2, "0")}`;
  }
}

/** Name of a frame type for statistics. */
export function frameName(type: number): "adv" | "req" | "data" | "flood" | "other" {
  return type === FRAME_ADV ? "adv" : type === FRAME_REQ ? "req" : type === FRAME_DATA ? "data" : type === FRAME_FLOOD ? "flood" : "other";
}
