/**
 * The bundled examples compile without diagnostics and, run on their input
 * traces, produce what a reader of the script expects.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { build, run } from "./helpers/script";

const example = (name: string) => readFileSync(`examples/${name}.terra`, "utf8");
const trace = (name: string) => JSON.parse(readFileSync(`examples/${name}.trace.json`, "utf8"));
const runExample = (name: string, until: number) => run(example(name), trace(name), until);

describe("examples", () => {
  it.each(["counter", "alarm", "monitor", "patterns"])("%s compiles without errors or warnings and within the bound", (name) => {
    const r = build(example(name), `examples/${name}.terra`);
    expect(r.diagnostics).toEqual([]);
    const res = runExample(name, 30_000);
    expect(res.stats.maxReactionInstructions).toBeLessThanOrEqual(res.bound!);
    expect(res.errors).toEqual([]);
  });

  it("counter: the LEDs count every 500 ms; a reset message (type 1) restarts them, other types are ignored", () => {
    const r = runExample("counter", 2600);
    expect(r.out).toEqual([
      [500, "LEDS", 1], [1000, "LEDS", 2], [1500, "LEDS", 3], [1700, "LEDS", 0], [2000, "LEDS", 1], [2500, "LEDS", 2],
    ]);
  });

  it("alarm: light, then sound within 5 s, with thresholds recalibrated over the radio, sound the alarm until ALARM_OFF", () => {
    const r = runExample("alarm", 30_000);
    const key = r.out.filter(([, e]) => e !== "REQ_PHOTO" && e !== "REQ_MIC");
    expect(key).toEqual([
      [10_000, "BEEP", 1],
      [10_000, "LED0", 1],
      [10_000, "SEND_ACK", { type: 1, source: 1, target: 1, data: [0xb6, 0x03, 180, ...new Array(17).fill(0)] }],
      [20_000, "BEEP", 0],
      [20_000, "LED0", 0],
    ]);
    // The light is sampled every second; the microphone every 100 ms during the 5 s window, 5000..9900 ms:
    // at 10000 ms the window's timer and the sampling timer expire together and the window, first in the
    // text, ends the par/or before the sampling trail runs.
    expect(r.out.filter(([t, e]) => e === "REQ_PHOTO" && t <= 5000).map(([t]) => t)).toEqual([1000, 2000, 3000, 4000, 5000]);
    expect(r.out.filter(([, e]) => e === "REQ_MIC").map(([t]) => t)).toEqual(Array.from({ length: 50 }, (_, i) => 5000 + 100 * i));
  });

  it("monitor: above the threshold the averaged group reading goes to the base station", () => {
    const r = runExample("monitor", 60_000);
    expect(r.out.filter(([, e]) => e === "SEND_BS")).toEqual([
      [30_000, "SEND_BS", { msgId: 1, data: [0x64, 0x02, 1, 0, ...new Array(12).fill(0)] }],
      [40_000, "SEND_BS", { msgId: 1, data: [0x64, 0x02, 1, 0, ...new Array(12).fill(0)] }],
    ]);
    expect(r.out.filter(([, e]) => e === "REQ_TEMP").map(([t]) => t)).toEqual([10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
  });

  it("patterns: the temperature is broadcast at most once a second; a neighbour's value is shown, cleared after 2 s of silence", () => {
    const r = runExample("patterns", 4500);
    const sends = r.out.filter(([, e]) => e === "SEND").map(([t, , v]) => [t, (v as { data: number[] }).data[0] | ((v as { data: number[] }).data[1] << 8)]);
    expect(sends).toEqual([[0, 510], [1000, 510], [2000, 510], [3000, 520], [4000, 520]]);
    expect(r.out.filter(([, e]) => e === "LEDS")).toEqual([[1500, "LEDS", 5], [2200, "LEDS", 3], [4200, "LEDS", 0]]);
  });
});
