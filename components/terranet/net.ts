/**
 * TerraNet on a simulated network: the same local operations as the
 * single-mote components (local.ts: LEDs, sensors answering REQ_*, ports,
 * beeper, REQ_CUSTOM_A/REQ_CUSTOM loop-backs, getNodeId, random, getMem,
 * getTime, stat1) and the same send queue (qPut/qGet/qSize/qClear, Q_READY
 * when a message enters an empty queue, 10 messages), with the radio of the
 * simulator: SEND and SEND_ACK put the radioMsg on the air (as the MAC
 * destination its `target`, 0xffff for every neighbour), SEND_DONE /
 * SEND_DONE_ACK come back when the frame has been sent (filtered by the
 * message type; SEND_DONE_ACK's value is TRUE when a link-layer ack came
 * back), and RECEIVE delivers frames addressed to the mote or broadcast
 * (filtered by the message type).
 *
 * One instance serves every mote: state is in typed arrays indexed by mote;
 * nothing is allocated per message.
 */
import type { Configuration } from "../../compiler/config";
import type { RecordType } from "../../compiler/types";
import { AM, inputId, type SimContext } from "../sim/context";
import { BROADCAST_ADDR, MAX_PAYLOAD } from "../sim/radio";
import { CH } from "../sim/sensors";
import { MSG_QUEUE_CAPACITY } from "./local";

const SUCCESS = 0;
const FAIL = 1;

/** Input ids used by the local operations (-1 when the configuration lacks one). */
function ids(cfg: Configuration) {
  const id = (n: string) => inputId(cfg, n);
  return {
    TEMP: id("TEMP"), PHOTO: id("PHOTO"), VOLTS: id("VOLTS"), MIC: id("MIC"), PORT_A: id("PORT_A"), PORT_B: id("PORT_B"),
    CUSTOM_A_ID: cfg.inputs.has("CUSTOM_A_ID") ? id("CUSTOM_A_ID") : -1, CUSTOM_A: id("CUSTOM_A"), CUSTOM: id("CUSTOM"),
    SEND_DONE: id("SEND_DONE"), SEND_DONE_ACK: id("SEND_DONE_ACK"), RECEIVE: id("RECEIVE"), Q_READY: id("Q_READY"),
  };
}

/** LEDs, sensors, ports, beeper, loop-backs and basic functions of every mote. */
export class LocalOps {
  readonly leds: Uint8Array;
  readonly beep: Uint16Array;
  /** Per mote: PORT_A, PORT_B (set values), CFG_A, CFG_B, INT_A, INT_B. */
  readonly ports: Int32Array;
  /** Per mote: bit 0 PORT_A set, bit 1 PORT_B set. */
  readonly portSet: Uint8Array;
  private readonly rnd: Uint32Array;
  private readonly in: ReturnType<typeof ids>;
  private readonly stat1: RecordType | undefined;

  constructor(private readonly ctx: SimContext, cfg: Configuration, private readonly seeds: (i: number) => number) {
    const n = ctx.n;
    this.leds = new Uint8Array(n);
    this.beep = new Uint16Array(n);
    this.ports = new Int32Array(n * 6);
    this.portSet = new Uint8Array(n);
    this.rnd = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.rnd[i] = seeds(i) >>> 0 || 1;
    this.in = ids(cfg);
    this.stat1 = cfg.records.get("stat1_ret");
  }

  /** A mote (re)boots: LEDs off, ports and random() back to their initial state. */
  reset(i: number): void {
    this.leds[i] = 0;
    this.beep[i] = 0;
    this.ports.fill(0, i * 6, i * 6 + 6);
    this.portSet[i] = 0;
    this.rnd[i] = this.seeds(i) >>> 0 || 1;
  }

  led(i: number, bit: number, x: number): void {
    const m = 1 << bit;
    this.leds[i] = x === 0 ? this.leds[i] & ~m : x === 1 ? this.leds[i] | m : this.leds[i] ^ m;
  }

  /** REQ_TEMP/PHOTO/VOLTS/MIC: the reading comes back at once. */
  request(i: number, ch: number): void {
    const v = this.ctx.sensor(i, ch);
    const id = ch === CH.TEMP ? this.in.TEMP : ch === CH.PHOTO ? this.in.PHOTO : ch === CH.VOLTS ? this.in.VOLTS : this.in.MIC;
    this.ctx.raise(i, id, v & 0xff, v);
  }

  setPort(i: number, p: number, v: number): void {
    this.ports[i * 6 + p] = v & 1;
    this.portSet[i] |= 1 << p;
  }

  cfgPort(i: number, p: number, v: number): void {
    this.ports[i * 6 + 2 + p] = v & 1;
  }

  cfgInt(i: number, p: number, v: number): void {
    this.ports[i * 6 + 4 + p] = v;
  }

  reqPort(i: number, p: number): void {
    const v = this.portSet[i] & (1 << p) ? this.ports[i * 6 + p] : this.ctx.sensor(i, p === 0 ? CH.PORT_A : CH.PORT_B);
    this.ctx.raise(i, p === 0 ? this.in.PORT_A : this.in.PORT_B, v & 0xff, v);
  }

  customA(i: number, v: number): void {
    const x = v & 0xff;
    if (this.in.CUSTOM_A_ID >= 0) this.ctx.raise(i, this.in.CUSTOM_A_ID, x, x);
    this.ctx.raise(i, this.in.CUSTOM_A, x, x);
  }

  custom(i: number): void {
    this.ctx.raise(i, this.in.CUSTOM, 0, 0);
  }

  random(i: number): number {
    let r = this.rnd[i];
    r ^= r << 13;
    r ^= r >>> 17;
    r ^= r << 5;
    r >>>= 0;
    this.rnd[i] = r;
    return r & 0xffff;
  }

  getMem(i: number, a: number): number {
    const vars = this.ctx.vm(i)!.vars;
    return a >= 0 && a < vars.length ? vars[a] : 0;
  }

  /** stat1(ptr, n, ret): max, min and average of n ushorts. */
  stat(i: number, ptr: number, n: number, ret: number): number {
    const rec = this.stat1;
    if (!rec || n <= 0) return 0;
    const vm = this.ctx.vm(i)!;
    const data = vm.view(ptr, 2 * n);
    let max = 0, min = 0xffff, sum = 0;
    for (let k = 0; k < n; k++) {
      const x = data[2 * k] | (data[2 * k + 1] << 8);
      if (x > max) max = x;
      if (x < min) min = x;
      sum += x;
    }
    const avg = Math.floor(sum / n);
    const out = vm.view(ret, rec.size);
    const put = (f: string, v: number) => {
      const fd = rec.fields.get(f);
      if (fd) {
        out[fd.offset] = v & 0xff;
        out[fd.offset + 1] = (v >> 8) & 0xff;
      }
    };
    put("max", max);
    put("min", min);
    put("avg", avg);
    return avg;
  }
}

/** TerraNet's radio outputs, RECEIVE and the send queue, for every mote. */
export class TerraNetRadio {
  readonly rec: RecordType;
  private readonly size: number;
  private readonly typeOff: number;
  private readonly targetOff: number;
  private readonly in: ReturnType<typeof ids>;
  /** Send queues, allocated on a mote's first qPut. */
  private readonly queues: (Uint8Array | null)[];
  private readonly qHead: Uint8Array;
  readonly qCount: Uint8Array;
  private readonly qFree: Uint8Array;
  /** Per mote: radioMsgs received by the script (RECEIVE raised). */
  readonly received: Uint32Array;

  constructor(private readonly ctx: SimContext, cfg: Configuration, rec: RecordType) {
    this.rec = rec;
    this.size = rec.size;
    if (this.size > MAX_PAYLOAD) throw new Error(`radioMsg has ${this.size} bytes; an IEEE 802.15.4 frame carries at most ${MAX_PAYLOAD} bytes of payload`);
    this.typeOff = rec.fields.get("type")?.offset ?? 0;
    const tf = rec.fields.get("target");
    this.targetOff = tf && tf.size === 2 ? tf.offset : -1;
    this.in = ids(cfg);
    const n = ctx.n;
    this.queues = new Array<Uint8Array | null>(n).fill(null);
    this.qHead = new Uint8Array(n);
    this.qCount = new Uint8Array(n);
    this.qFree = new Uint8Array(n).fill(1);
    this.received = new Uint32Array(n);
  }

  reset(i: number): void {
    this.qHead[i] = 0;
    this.qCount[i] = 0;
    this.qFree[i] = 1;
  }

  /** SEND / SEND_ACK of the radioMsg bytes `m` by mote i. */
  send(i: number, m: Uint8Array, ack: boolean): void {
    const ctx = this.ctx, radio = ctx.radio;
    const type = m[this.typeOff];
    const dst = this.targetOff >= 0 ? m[this.targetOff] | (m[this.targetOff + 1] << 8) : BROADCAST_ADDR;
    const f = radio.alloc(i, AM.USRMSG, dst, this.size, ack, 0, type | (ack ? 0x100 : 0));
    radio.data.set(m.subarray(0, this.size), f * 128);
    if (!radio.send(f, ctx.now)) {
      if (ack) ctx.raise(i, this.in.SEND_DONE_ACK, type, 0);
      else ctx.raise(i, this.in.SEND_DONE, type, FAIL);
    }
  }

  /** The radio finished a frame of this component. */
  sendDone(i: number, f: number, error: number, acked: boolean): void {
    const tok = this.ctx.radio.fToken[f];
    const type = tok & 0xff;
    if (tok & 0x100) this.ctx.raise(i, this.in.SEND_DONE_ACK, type, acked ? 1 : 0);
    else this.ctx.raise(i, this.in.SEND_DONE, type, error);
  }

  /** A radioMsg frame arrived at mote i. */
  receive(i: number, f: number): void {
    const ctx = this.ctx, radio = ctx.radio;
    const m = radio.data.subarray(f * 128, f * 128 + this.size);
    if (i === ctx.base && radio.fDst[f] === ctx.ids[i]) {
      ctx.baseStation({ t_ms: ctx.now / 1000, via: "RECEIVE", origin: ctx.ids[radio.fSrc[f]], hops: 1, bytes: m.slice() });
    }
    this.received[i]++;
    ctx.raise(i, this.in.RECEIVE, m[this.typeOff], m);
  }

  qPut(i: number, addr: number): number {
    if (this.qCount[i] >= MSG_QUEUE_CAPACITY) return FAIL;
    const vm = this.ctx.vm(i)!;
    const src = vm.view(addr, this.size);
    let q = this.queues[i];
    if (!q) q = this.queues[i] = new Uint8Array(MSG_QUEUE_CAPACITY * this.size);
    const slot = (this.qHead[i] + this.qCount[i]) % MSG_QUEUE_CAPACITY;
    q.set(src, slot * this.size);
    this.qCount[i]++;
    if (this.qFree[i]) {
      this.qFree[i] = 0;
      this.ctx.raise(i, this.in.Q_READY, this.qCount[i] & 0xff, this.qCount[i]);
    }
    return SUCCESS;
  }

  qGet(i: number, addr: number): number {
    if (this.qCount[i] === 0) {
      this.qFree[i] = 1;
      return FAIL;
    }
    const vm = this.ctx.vm(i)!;
    const dst = vm.view(addr, this.size);
    const q = this.queues[i]!;
    const h = this.qHead[i];
    dst.set(q.subarray(h * this.size, (h + 1) * this.size));
    this.qHead[i] = (h + 1) % MSG_QUEUE_CAPACITY;
    this.qCount[i]--;
    if (this.qCount[i] === 0) this.qFree[i] = 1;
    return SUCCESS;
  }

  qClear(i: number): number {
    this.qHead[i] = 0;
    this.qCount[i] = 0;
    this.qFree[i] = 1;
    return SUCCESS;
  }
}
