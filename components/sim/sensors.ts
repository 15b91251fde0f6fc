/**
 * Sensor readings of every node, from a model or from CSV traces:
 *
 * - `constant[:TEMP=520,PHOTO=300,...]`: every node reads the same values
 *   (defaults: TerraNet's DEFAULT_READINGS).
 * - `walk[:step=4,spread=40,revert=0.01]`: TEMP and PHOTO follow a
 *   mean-reverting random walk (one step per second) around the default
 *   plus a per-node offset in ±spread.
 * - `sine[:amp=40,period=10min,noise=8]`: TEMP and PHOTO are
 *   default + amp·sin(2πt/period + per-node phase) + Gaussian noise.
 * - `csv:DIR`: DIR/<id>.csv per node (nodes without a file read the
 *   defaults): a header `t_ms,TEMP,PHOTO,...` (any subset of TEMP, PHOTO,
 *   VOLTS, MIC, PORT_A, PORT_B) and rows; a reading is the last row at or
 *   before the time (the defaults before the first row).
 *
 * In the walk and sine models each node's battery (VOLTS) is a fixed value
 * in 2700..3300 mV (leader election votes with it), MIC is noise and the
 * ports read 0. Draws come from one stream per node (Purpose.SENSOR).
 */
import { DEFAULT_READINGS } from "../terranet/local";
import { fields, parseDuration, SimInputError } from "./errors";
import { Purpose, RngBank } from "./rng";

export const SENSOR_NAMES = ["TEMP", "PHOTO", "VOLTS", "MIC", "PORT_A", "PORT_B"] as const;
export type SensorName = (typeof SENSOR_NAMES)[number];
export const CH = { TEMP: 0, PHOTO: 1, VOLTS: 2, MIC: 3, PORT_A: 4, PORT_B: 5 } as const;
const NCH = SENSOR_NAMES.length;
const MAX: readonly number[] = [65535, 65535, 65535, 255, 255, 255];

export type SensorSpec =
  | { kind: "constant"; values: Partial<Record<SensorName, number>> }
  | { kind: "walk"; step: number; spread: number; revert: number }
  | { kind: "sine"; amp: number; periodMs: number; noise: number }
  | { kind: "csv"; dir: string; files: Map<number, { path: string; text: string }> };

export const DEFAULT_SENSORS = "sine";

/** Parse a --sensors value (csv files are read by the caller and passed in `csvFiles`). @throws SimInputError */
export function parseSensorSpec(text: string, csvFiles?: (dir: string) => Map<number, { path: string; text: string }>): SensorSpec {
  const opt = "--sensors";
  const colon = text.indexOf(":");
  const kind = (colon < 0 ? text : text.slice(0, colon)).trim();
  const rest = colon < 0 ? "" : text.slice(colon + 1);
  if (kind === "csv") {
    if (!rest) throw new SimInputError(opt, null, null, "csv needs a directory: --sensors csv:DIR");
    return { kind: "csv", dir: rest, files: csvFiles ? csvFiles(rest) : new Map() };
  }
  const params = new Map<string, string>();
  for (const p of rest ? rest.split(",") : []) {
    const [k, v] = p.split("=");
    if (!k || v === undefined) throw new SimInputError(opt, null, p, "parameters are name=value, separated by commas");
    params.set(k.trim(), v.trim());
  }
  const num = (k: string, dflt: number, lo: number, hi: number): number => {
    const v = params.get(k);
    params.delete(k);
    if (v === undefined) return dflt;
    const x = Number(v);
    if (!Number.isFinite(x) || x < lo || x > hi) throw new SimInputError(opt, null, k, `must be a number in ${lo}..${hi}, got "${v}"`);
    return x;
  };
  const done = (allowed: string) => {
    for (const k of params.keys()) throw new SimInputError(opt, null, k, `unknown parameter of ${kind} (parameters: ${allowed})`);
  };
  switch (kind) {
    case "constant": {
      const values: Partial<Record<SensorName, number>> = {};
      for (const [i, s] of SENSOR_NAMES.entries()) if (params.has(s)) values[s] = Math.round(num(s, 0, 0, MAX[i]));
      done(SENSOR_NAMES.join(", "));
      return { kind, values };
    }
    case "walk": {
      const r = { kind, step: num("step", 4, 0, 10000), spread: num("spread", 40, 0, 10000), revert: num("revert", 0.01, 0, 1) } as const;
      done("step, spread, revert");
      return r;
    }
    case "sine": {
      const p = params.get("period");
      params.delete("period");
      const periodMs = p === undefined ? 600_000 : parseDuration(p);
      if (periodMs === undefined || periodMs <= 0) throw new SimInputError(opt, null, "period", `must be a duration like 10min or 600s, got "${p}"`);
      const r = { kind, amp: num("amp", 40, 0, 30000), periodMs, noise: num("noise", 8, 0, 10000) } as const;
      done("amp, period, noise");
      return r;
    }
    default:
      throw new SimInputError(opt, null, null, `unknown sensor model "${kind}" (models: constant, walk, sine, csv:DIR)`);
  }
}

interface CsvTrace {
  /** Row times (ms) and, per row, the value of each channel (-1: column absent). */
  t: Float64Array;
  v: Int32Array;
}

/** Parse one node's CSV trace. @throws SimInputError */
export function parseSensorCsv(path: string, text: string): CsvTrace {
  const lines = text.split(/\r?\n/);
  let header: number[] | null = null;
  let timeCol = -1;
  const ts: number[] = [];
  const vs: number[] = [];
  let last = -Infinity;
  lines.forEach((raw, i) => {
    const line = i + 1;
    const f = fields(raw);
    if (f.length === 0) return;
    if (!header) {
      header = [];
      f.forEach((name, k) => {
        const n = name.toUpperCase();
        if (n === "T_MS" || n === "TIME_MS" || n === "AT_MS" || n === "T") {
          timeCol = k;
          header!.push(-2);
          return;
        }
        const ch = (SENSOR_NAMES as readonly string[]).indexOf(n);
        if (ch < 0) throw new SimInputError(path, line, name, `unknown column (columns: t_ms, ${SENSOR_NAMES.join(", ")})`);
        if (header!.includes(ch)) throw new SimInputError(path, line, name, "duplicate column");
        header!.push(ch);
      });
      if (timeCol < 0) throw new SimInputError(path, line, null, "the header needs a t_ms column");
      return;
    }
    const h: number[] = header;
    if (f.length !== h.length) throw new SimInputError(path, line, null, `expected ${h.length} fields like the header, got ${f.length}`);
    const row = new Array<number>(NCH).fill(-1);
    h.forEach((ch, k) => {
      const v = Number(f[k]);
      if (ch === -2) {
        if (!Number.isInteger(v) || v < 0) throw new SimInputError(path, line, "t_ms", `must be a non-negative integer number of ms, got "${f[k]}"`);
        if (v < last) throw new SimInputError(path, line, "t_ms", `times must not decrease: ${v} comes after ${last}`);
        last = v;
        ts.push(v);
      } else {
        if (!Number.isInteger(v) || v < 0 || v > MAX[ch]) throw new SimInputError(path, line, SENSOR_NAMES[ch], `must be an integer 0..${MAX[ch]}, got "${f[k]}"`);
        row[ch] = v;
      }
    });
    vs.push(...row);
  });
  if (!header) throw new SimInputError(path, 1, null, "empty file: expected a header like t_ms,TEMP,PHOTO");
  return { t: Float64Array.from(ts), v: Int32Array.from(vs) };
}

/** The sensors of every node. */
export class Sensors {
  private readonly base: Float64Array;
  /** Per node: phase (sine) or per-node offset (walk). */
  private readonly phase: Float64Array;
  private readonly volts: Float64Array;
  /** walk state: value of TEMP and PHOTO, and the last step (s). */
  private readonly walk: Float64Array | null;
  private readonly walkStep: Int32Array | null;
  private readonly rng: RngBank;
  private readonly csv: (CsvTrace | undefined)[] = [];
  /** Per node: number of reads (for tests and summaries). */
  reads = 0;

  constructor(readonly spec: SensorSpec, readonly n: number, ids: Int32Array, seed: number) {
    this.rng = new RngBank(n, seed, Purpose.SENSOR);
    this.base = Float64Array.from(SENSOR_NAMES.map((s) => DEFAULT_READINGS[s] ?? 0));
    if (spec.kind === "constant") for (const [i, s] of SENSOR_NAMES.entries()) if (spec.values[s] !== undefined) this.base[i] = spec.values[s]!;
    this.phase = new Float64Array(spec.kind === "walk" || spec.kind === "sine" ? n : 0);
    this.volts = new Float64Array(spec.kind === "walk" || spec.kind === "sine" ? n : 0);
    for (let i = 0; i < this.phase.length; i++) {
      this.phase[i] = spec.kind === "sine" ? this.rng.next(i) * 2 * Math.PI : (this.rng.next(i) * 2 - 1) * (spec as { spread: number }).spread;
      this.volts[i] = 2700 + Math.floor(this.rng.next(i) * 600);
    }
    if (spec.kind === "walk") {
      this.walk = new Float64Array(n * 2);
      this.walkStep = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        this.walk[i * 2] = this.base[0] + this.phase[i];
        this.walk[i * 2 + 1] = this.base[1] + this.phase[i];
      }
    } else {
      this.walk = null;
      this.walkStep = null;
    }
    if (spec.kind === "csv") {
      for (let i = 0; i < n; i++) {
        const f = spec.files.get(ids[i]);
        this.csv.push(f ? parseSensorCsv(f.path, f.text) : undefined);
      }
    }
  }

  /** Reading of channel `ch` (CH.*) at node index `i`, at simulated time `ms`. */
  read(i: number, ch: number, ms: number): number {
    this.reads++;
    const spec = this.spec;
    let v: number;
    switch (spec.kind) {
      case "constant":
        return this.base[ch];
      case "csv": {
        const tr = this.csv[i];
        v = this.base[ch];
        if (tr) {
          // last row with t <= ms that has this column (binary search on time, then back off)
          let lo = 0, hi = tr.t.length;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (tr.t[mid] <= ms) lo = mid + 1;
            else hi = mid;
          }
          for (let r = lo - 1; r >= 0; r--) {
            const x = tr.v[r * NCH + ch];
            if (x >= 0) {
              v = x;
              break;
            }
          }
        }
        return v;
      }
      case "sine":
        if (ch === CH.TEMP || ch === CH.PHOTO) {
          const amp = ch === CH.TEMP ? spec.amp : spec.amp * 2.5;
          v = this.base[ch] + amp * Math.sin((2 * Math.PI * ms) / spec.periodMs + this.phase[i]) + spec.noise * this.rng.gauss(i);
          break;
        }
        return this.other(i, ch);
      case "walk":
        if (ch === CH.TEMP || ch === CH.PHOTO) {
          const w = this.walk!, steps = this.walkStep!;
          const target = Math.floor(ms / 1000);
          for (let s = steps[i]; s < target; s++) {
            for (let c = 0; c < 2; c++) {
              const kk = i * 2 + c;
              const m = this.base[c] + this.phase[i];
              w[kk] += (this.rng.next(i) * 2 - 1) * spec.step - spec.revert * (w[kk] - m);
            }
          }
          if (steps[i] < target) steps[i] = target;
          v = w[i * 2 + ch];
          break;
        }
        return this.other(i, ch);
    }
    v = Math.round(v);
    return v < 0 ? 0 : v > MAX[ch] ? MAX[ch] : v;
  }

  private other(i: number, ch: number): number {
    if (ch === CH.VOLTS) return this.volts[i];
    if (ch === CH.MIC) return Math.min(255, Math.round(Math.abs(this.rng.gauss(i)) * 10));
    return this.base[ch];
  }
}

