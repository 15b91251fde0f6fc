/**
 * TerraNet's components (seed 003 §6.3; Terra's TerraVM/src/platforms/TinyOS/Net
 * for the facts): local operations (LEDs, sensors answering REQ_*, ports,
 * beeper, REQ_CUSTOM_A/REQ_CUSTOM loop-back), the basic functions (getNodeId,
 * random, getMem, getTime), the send queue (qPut/qGet/qSize/qClear and
 * Q_READY, 10 messages as in Terra) and the radio outputs SEND/SEND_ACK with
 * their SEND_DONE/SEND_DONE_ACK completions and RECEIVE.
 *
 * The radio itself is pluggable: `standaloneRadio` completes every send at
 * once (one mote, `terra run`); the network simulator provides a medium.
 */
import { type ComponentHost, RecordView } from "../host";

/** Sensor readings by input name (TEMP, PHOTO, VOLTS, MIC, PORT_A, PORT_B), at a logical time. */
export interface SensorSource {
  read(sensor: string, now: number): number;
}

/** Readings when nothing else is known: a room at 25 °C in raw ADC counts, 3 V battery. */
export const DEFAULT_READINGS: Readonly<Record<string, number>> = { TEMP: 500, PHOTO: 400, VOLTS: 3000, MIC: 0, PORT_A: 0, PORT_B: 0 };

/** Sensors with constant readings (defaults, overridable). */
export function constantSensors(values: Record<string, number> = {}): SensorSource {
  return { read: (s) => values[s] ?? DEFAULT_READINGS[s] ?? 0 };
}

/** A radio as TerraNet uses it: frames are radioMsg bytes. */
export interface Radio {
  /** Send a frame; the radio later calls `done` (error 0 = SUCCESS; acked only matters with ack). */
  send(frame: Uint8Array, ack: boolean, done: (error: number, acked: boolean) => void): void;
}

/** One mote alone: every send completes at once, acknowledged. */
export const standaloneRadio: Radio = {
  send: (_frame, _ack, done) => done(0, true),
};

export interface TerraNetOptions {
  nodeId: number;
  sensors: SensorSource;
  radio: Radio;
  /** Seed of the mote's random() (xorshift32); default derived from the node id. */
  seed?: number;
}

/** Observable state of the local operations (for summaries). */
export interface LocalState {
  leds: number;
  beep: number;
  ports: Record<string, number>;
  queue: Uint8Array[];
}

export const MSG_QUEUE_CAPACITY = 10;
const SUCCESS = 0;
const FAIL = 1;

/** Install TerraNet's local operations, functions, queue and radio on a host. */
export function installTerraNet(host: ComponentHost, opts: TerraNetOptions): LocalState {
  const state: LocalState = { leds: 0, beep: 0, ports: {}, queue: [] };
  installLocal(host, opts, state);
  installQueue(host, state);
  const type = (frame: Uint8Array) => frame[0] ?? 0;
  host.handleOutput("SEND", (v) => {
    const frame = v as Uint8Array;
    opts.radio.send(frame, false, (err) => host.raise("SEND_DONE", err, type(frame)));
  });
  host.handleOutput("SEND_ACK", (v) => {
    const frame = v as Uint8Array;
    opts.radio.send(frame, true, (_err, acked) => host.raise("SEND_DONE_ACK", acked ? 1 : 0, type(frame)));
  });
  return state;
}

/** Deliver a received frame to the script (RECEIVE, filtered by the message type). */
export function deliverFrame(host: ComponentHost, frame: Uint8Array): boolean {
  return host.raise("RECEIVE", frame, frame[0] ?? 0);
}

/** LEDs, sensors, ports, beeper, custom loop-backs and the basic functions (shared by TerraNet and TerraGrp). */
export function installLocal(host: ComponentHost, opts: TerraNetOptions, state: LocalState): void {
  const bit = (n: number) => (v: number | Uint8Array) => {
    const x = v as number;
    state.leds = x === 0 ? state.leds & ~(1 << n) : x === 1 ? state.leds | (1 << n) : state.leds ^ (1 << n);
  };
  host.handleOutput("LEDS", (v) => { state.leds = (v as number) & 7; });
  host.handleOutput("LED0", bit(0));
  host.handleOutput("LED1", bit(1));
  host.handleOutput("LED2", bit(2));
  for (const [req, input] of [["REQ_TEMP", "TEMP"], ["REQ_PHOTO", "PHOTO"], ["REQ_VOLTS", "VOLTS"], ["REQ_MIC", "MIC"]] as const) {
    const raise = host.raiser(input);
    host.handleOutput(req, () => raise(opts.sensors.read(input, host.vm.now)));
  }
  for (const p of ["A", "B"] as const) {
    host.handleOutput(`SET_PORT_${p}`, (v) => { state.ports[`PORT_${p}`] = (v as number) & 1; });
    host.handleOutput(`CFG_PORT_${p}`, (v) => { state.ports[`CFG_${p}`] = (v as number) & 1; });
    host.handleOutput(`CFG_INT_${p}`, (v) => { state.ports[`INT_${p}`] = v as number; });
    host.handleOutput(`REQ_PORT_${p}`, () => host.raise(`PORT_${p}`, state.ports[`PORT_${p}`] ?? opts.sensors.read(`PORT_${p}`, host.vm.now)));
  }
  host.handleOutput("BEEP", (v) => { state.beep = v as number; });
  host.handleOutput("REQ_CUSTOM_A", (v) => {
    const x = (v as number) & 0xff;
    if (host.input("CUSTOM_A_ID")) host.raise("CUSTOM_A_ID", x, x); // TerraGrp names the filtered form apart
    host.raise("CUSTOM_A", x, x);
  });
  host.handleOutput("REQ_CUSTOM", host.raiser("CUSTOM")); // REQ_CUSTOM is void: its value is 0, the data of CUSTOM

  let rnd = (opts.seed ?? (opts.nodeId * 2654435761) >>> 0) || 1;
  host.handleFunction("getNodeId", () => opts.nodeId);
  host.handleFunction("random", () => {
    rnd ^= rnd << 13;
    rnd ^= rnd >>> 17;
    rnd ^= rnd << 5;
    rnd >>>= 0;
    return rnd & 0xffff;
  });
  host.handleFunction("getMem", (a) => (a[0] >= 0 && a[0] < host.vm.vars.length ? host.vm.vars[a[0]] : 0));
  host.handleFunction("getTime", () => host.vm.now | 0);
  host.handleFunction("setRFPower", () => SUCCESS);
  host.handleFunction("stat1", (a) => {
    const [ptr, n, ret] = a;
    const rec = host.record("stat1_ret");
    if (!rec || n <= 0) return 0;
    const data = new RecordView({ name: "ushort[]", kind: "regtype", size: 2 * n, base: null, fields: new Map([["v", { name: "v", elem: "ushort", dim: n, offset: 0, size: 2 * n }]]) }, host.vm.view(ptr, 2 * n));
    let max = 0, min = 0xffff, sum = 0;
    for (let i = 0; i < n; i++) {
      const x = data.get("v", i);
      max = Math.max(max, x);
      min = Math.min(min, x);
      sum += x;
    }
    const avg = Math.floor(sum / n);
    new RecordView(rec, host.vm.view(ret, rec.size)).set("max", max).set("min", min).set("avg", avg);
    return avg;
  });
}

/** The send queue of radio messages (TerraNet): Q_READY when a message enters an empty queue. */
function installQueue(host: ComponentHost, state: LocalState): void {
  const rec = host.record("radioMsg");
  if (!rec) return;
  let free = true;
  host.handleFunction("qPut", (a) => {
    if (state.queue.length >= MSG_QUEUE_CAPACITY) return FAIL;
    state.queue.push(host.readRecord(a[0], rec));
    if (free) {
      free = false;
      host.raise("Q_READY", state.queue.length);
    }
    return SUCCESS;
  });
  host.handleFunction("qGet", (a) => {
    const m = state.queue.shift();
    if (!m) {
      free = true;
      return FAIL;
    }
    host.writeRecord(a[0], m);
    if (state.queue.length === 0) free = true;
    return SUCCESS;
  });
  host.handleFunction("qSize", () => state.queue.length);
  host.handleFunction("qClear", () => {
    state.queue.length = 0;
    free = true;
    return SUCCESS;
  });
}
