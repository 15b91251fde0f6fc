/**
 * Serial capsule loading, the host side (docs/serial.md; the mote side is
 * firmware-host/comp/serial.c): a capsule goes over a wired mote's UART, in
 * stop-and-wait DATA frames, and replaces the mote's script. In Terra this
 * is how a base station gets a program from the PC before disseminating it.
 *
 * Frames are HDLC-delimited and escaped (RFC 1662 §4.2: flag 0x7E, escape
 * 0x7D, then the byte XOR 0x20) and end with a big-endian CRC-16/XMODEM of
 * the frame (TinyOS's serial CRC, TEP 113); the body is a command byte, a
 * 16-bit little-endian argument and, for DATA, 1..64 capsule bytes. The mote
 * answers in lines ("S n", "S -", "A len", "X ...").
 */
import { crc16xmodem } from "crc";

/** Most capsule bytes in one DATA frame (comp/serial.c SL_DATA_MAX). */
export const SERIAL_DATA_MAX = 64;

const FLAG = 0x7e;
const ESC = 0x7d;

/** The frames' commands: begin a capsule of `arg` bytes, its bytes from offset `arg`, go (load and boot). */
export type SerialCommand = "L" | "D" | "G";

/**
 * One frame, flagged at both ends and escaped: command, `arg` (0..65535,
 * little-endian), `data` (DATA only, 1..64 bytes), CRC-16/XMODEM big-endian.
 * Throws RangeError for an argument or data length out of range.
 */
export function encodeFrame(cmd: SerialCommand, arg: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (!Number.isInteger(arg) || arg < 0 || arg > 0xffff) throw new RangeError(`frame argument ${arg} is not 0..65535`);
  if (data.length > SERIAL_DATA_MAX) throw new RangeError(`${data.length} bytes of data, a frame takes at most ${SERIAL_DATA_MAX}`);
  const body = new Uint8Array(3 + data.length + 2);
  body[0] = cmd.charCodeAt(0);
  body[1] = arg & 0xff;
  body[2] = arg >> 8;
  body.set(data, 3);
  const crc = crc16xmodem(Buffer.from(body.buffer, 0, 3 + data.length));
  body[3 + data.length] = crc >> 8;
  body[4 + data.length] = crc & 0xff;
  const out = [FLAG];
  for (const b of body) {
    if (b === FLAG || b === ESC) out.push(ESC, b ^ 0x20);
    else out.push(b);
  }
  out.push(FLAG);
  return new Uint8Array(out);
}

/** A wired mote: bytes to its UART, and the lines it prints. */
export interface MoteLink {
  write(bytes: Uint8Array): void;
  /** Calls `listener` with each line the mote prints (without the newline); returns the unsubscribe function. */
  onLine(listener: (line: string) => void): () => void;
}

/** A load the mote refused or stopped answering: `message` says why and what to do. */
export class SerialLoadError extends Error {
  /** For "the mote rejected the capsule": the capsule byte and the mote's reason (TVM_E_* of core/tvm.h). */
  constructor(message: string, readonly reject?: { offset: number; reason: number }) {
    super(message);
  }
}

export interface SendOptions {
  /** Capsule bytes per DATA frame, 1..64 (default 64). */
  dataBytes?: number;
  /** How long to wait for each answer before sending the frame again (ms, default 1,000). */
  answerMs?: number;
  /** Times a frame is sent again for want of an answer, or of progress (default 5). */
  retries?: number;
  /** Called after each acknowledged DATA frame: capsule bytes the mote holds. */
  onProgress?: (bytes: number, total: number) => void;
}

/** What a load took: frames written, and how many of them repeated a frame (for want of an answer, or after a damaged one). */
export interface SendReport {
  frames: number;
  resent: number;
}

type Answer = { kind: "S"; next: number | undefined } | { kind: "A"; len: number } | { kind: "X"; text: string };

function parseAnswer(line: string): Answer | undefined {
  let m = /^S (\d+|-)$/.exec(line);
  if (m) return { kind: "S", next: m[1] === "-" ? undefined : Number(m[1]) };
  m = /^A (\d+)$/.exec(line);
  if (m) return { kind: "A", len: Number(m[1]) };
  if (/^X (size|reject|config)\b/.test(line)) return { kind: "X", text: line };
  return undefined; // the script's own output ("R ...", "E ...", "H")
}

/**
 * Send `capsule` to the mote behind `link` and wait until it runs it.
 * Resolves with the frame counts; rejects with SerialLoadError when the mote
 * refuses the capsule ("X size": larger than its VM's block; "X reject OFFSET
 * REASON": its verifier's verdict; "X config": not TerraNet), loses the load
 * ("S -": it restarted) or gives no answer or progress after `retries` resends.
 * Throws RangeError for options out of range or a capsule over 65,535 bytes.
 */
export async function sendCapsule(link: MoteLink, capsule: Uint8Array, opts: SendOptions = {}): Promise<SendReport> {
  const dataBytes = opts.dataBytes ?? SERIAL_DATA_MAX;
  const answerMs = opts.answerMs ?? 1000;
  const retries = opts.retries ?? 5;
  if (!Number.isInteger(dataBytes) || dataBytes < 1 || dataBytes > SERIAL_DATA_MAX) throw new RangeError(`data bytes per frame must be 1..${SERIAL_DATA_MAX}, got ${dataBytes}`);
  if (capsule.length === 0 || capsule.length > 0xffff) throw new RangeError(`a capsule of ${capsule.length} bytes cannot be sent (1..65535)`);
  const queue: Answer[] = [];
  let wake: (() => void) | undefined;
  const stop = link.onLine((line) => {
    const a = parseAnswer(line.trim());
    if (!a) return;
    queue.push(a);
    wake?.();
  });
  const report: SendReport = { frames: 0, resent: 0 };
  const next = (ms: number) =>
    new Promise<Answer | undefined>((resolve) => {
      if (queue.length) return resolve(queue.shift());
      const timer = setTimeout(() => {
        wake = undefined;
        resolve(undefined);
      }, ms);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve(queue.shift());
      };
    });
  /* one frame, sent again until an answer comes */
  const exchange = async (frame: Uint8Array, what: string): Promise<Answer> => {
    for (let attempt = 0; attempt <= retries; attempt++) {
      queue.length = 0; // answers to earlier frames
      link.write(frame);
      report.frames++;
      const a = await next(answerMs);
      if (a) return a;
    }
    throw new SerialLoadError(`no answer from the mote to ${what} after ${retries + 1} tries of ${answerMs} ms: is it running a serial-loading image (make -C firmware-host PLATFORM=micaz), with its UART at 921,600 baud?`);
  };
  const refused = (a: Answer, what: string): never => {
    if (a.kind === "X") {
      const m = /^X reject (\d+) (\d+)$/.exec(a.text);
      if (m) throw new SerialLoadError(`the mote rejected the capsule at byte ${m[1]} (reason ${m[2]})`, { offset: Number(m[1]), reason: Number(m[2]) });
      const size = /^X size (\d+)$/.exec(a.text);
      if (size) throw new SerialLoadError(`the capsule (${capsule.length} B) is larger than the mote's VM block (${size[1]} B)`);
      if (a.text === "X config") throw new SerialLoadError("the mote runs TerraNet.defs scripts and this capsule is of another configuration: include TerraNet.defs");
    }
    if (a.kind === "S" && a.next === undefined) throw new SerialLoadError(`the mote is not loading any more at ${what} (did it restart?): load again`);
    throw new SerialLoadError(`unexpected answer from the mote to ${what}: ${a.kind === "X" ? a.text : JSON.stringify(a)}`);
  };
  try {
    const begin = await exchange(encodeFrame("L", capsule.length), "the load's start");
    if (begin.kind !== "S" || begin.next !== 0) refused(begin, "the load's start");
    let off = 0;
    let stalls = 0;
    for (;;) {
      while (off < capsule.length) {
        const chunk = capsule.subarray(off, off + dataBytes);
        const a = await exchange(encodeFrame("D", off, chunk), `the bytes from ${off}`);
        if (a.kind !== "S" || a.next === undefined || a.next > capsule.length) refused(a, `the bytes from ${off}`);
        const n = (a as { next: number }).next;
        if (n <= off && ++stalls > retries) throw new SerialLoadError(`the mote refused the bytes from ${off} ${stalls} times (damaged frames: check the line)`);
        if (n > off) stalls = 0;
        off = n;
        opts.onProgress?.(off, capsule.length);
      }
      const done = await exchange(encodeFrame("G", capsule.length), "the load's end");
      if (done.kind === "A" && done.len === capsule.length) {
        report.resent = report.frames - (2 + Math.ceil(capsule.length / dataBytes));
        return report;
      }
      // the mote lacks bytes: send them from where it says
      if (done.kind !== "S" || done.next === undefined || done.next >= capsule.length || ++stalls > retries) refused(done, "the load's end");
      off = (done as { next: number }).next;
    }
  } finally {
    stop();
  }
}
