/**
 * TerraNet on the simulated network: a mote behaves as under `terra run`,
 * SEND/SEND_ACK/RECEIVE with their completions and filters, the message
 * queue, the base station's log, determinism of the trace, churn, and the
 * tree-routing example.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runMote } from "../components/run";
import { parseSchedule } from "../components/sim/schedule";
import { Purpose, streamSeed } from "../components/sim/rng";
import { loadCapsule } from "../vm/verify";
import { build, csvSensors, fileTopology, sha256, simulate, type TraceLine } from "./fixtures/sim/helpers";

const LOCAL_OPS = `#include "TerraNet.defs"
var ushort t;
var ushort r;
var ubyte p;
var radioMsg m;
var ubyte s;
emit LEDS(5);
emit LED0(TOGGLE);
emit REQ_TEMP();
t = await TEMP;
emit BEEP(t);
emit REQ_PHOTO();
t = await PHOTO;
emit BEEP(t);
emit REQ_VOLTS();
t = await VOLTS;
emit BEEP(t);
emit SET_PORT_A(1);
emit REQ_PORT_A(0);
p = await PORT_A;
emit LED1(p);
emit REQ_CUSTOM_A(7);
p = await CUSTOM_A(7);
emit LED2(p);
r = random();
emit BEEP(r);
r = random();
emit BEEP(r);
await 250ms;
emit BEEP(getTime());
m.type = 3;
s = qPut(m);
p = await Q_READY;
emit LEDS(p);
s = qGet(m);
emit LEDS(qSize());
s = qGet(m);
emit LEDS(s);
loop do
    await 1s;
    emit LED0(TOGGLE);
    emit BEEP(getTime());
end
`;

const outs = (trace: TraceLine[], node: number) => trace.filter((l) => l.kind === "out" && l.node === node).map((l) => [l.t, l.event, l.value]);

describe("a mote in the simulator", () => {
  it("behaves as under terra run (local operations, sensors, queue, random, time)", () => {
    const seed = 42;
    const { trace } = simulate({ script: LOCAL_OPS, topology: fileTopology("node 1 0 0"), seed, untilMs: 3001 });
    const r = build(LOCAL_OPS);
    const run = runMote(loadCapsule(r.capsule!, { sha256 }), r.config!, { trace: [], until: 3000, nodeId: 1, seed: streamSeed(seed, Purpose.SCRIPT_RANDOM, 1) });
    const expected = run.outputs.map((o) => [o.at_ms, o.event, o.value]);
    expect(expected.length).toBeGreaterThan(15);
    expect(outs(trace(), 1)).toEqual(expected);
  });

  it("gives each node its id and its own random() stream", () => {
    const script = `#include "TerraNet.defs"
emit BEEP(getNodeId());
emit BEEP(random());
await FOREVER;
`;
    const { trace } = simulate({ script, topology: { kind: "line", nodes: 3 }, untilMs: 10 });
    const beeps = trace().filter((l) => l.kind === "out").map((l) => [l.node, l.value]);
    expect(beeps.filter((_, k) => k % 2 === 0)).toEqual([[1, 1], [2, 2], [3, 3]]);
    const randoms = beeps.filter((_, k) => k % 2 === 1).map(([, v]) => v);
    expect(new Set(randoms).size).toBe(3);
  });
});

describe("TerraNet radio", () => {
  const PINGER = `#include "TerraNet.defs"
var radioMsg m;
var radioMsg got;
var radioMsg any;
var ubyte ok;
if getNodeId() == 1 then
    m.type = 9;
    m.source = 1;
    m.target = BROADCAST;
    m.data[0] = 42;
    emit SEND(m);
    ok = await SEND_DONE(9);
    emit LED0(ok + 1);
    m.type = 4;
    m.target = 2;
    emit SEND_ACK(m);
    ok = await SEND_DONE_ACK(4);
    emit LED1(ok);
    m.target = 77;
    emit SEND_ACK(m);
    ok = await SEND_DONE_ACK;
    emit LED2(ok);
    await FOREVER;
else
    par do
        loop do
            got = await RECEIVE(9);
            emit BEEP(got.data[0]);
        end
    with
        loop do
            any = await RECEIVE;
            emit LEDS(any.type);
        end
    end
end
`;

  it("sends, acknowledges and receives radioMsgs with type filters", () => {
    const { trace, sim } = simulate({ script: PINGER, topology: fileTopology("node 1 0 0\nnode 2 10 0\nnode 3 0 10"), untilMs: 1000 });
    const t = trace();
    // SEND_DONE(9) with SUCCESS (0): LED0(1); SEND_DONE_ACK true to node 2, false to absent node 77
    expect(outs(t, 1).filter(([, e]) => !String(e).startsWith("SEND")).map(([, e, v]) => [e, v])).toEqual([["LED0", 1], ["LED1", 1], ["LED2", 0]]);
    // node 2 and 3 get the broadcast (filtered: BEEP 42; unfiltered: LEDS 9); only node 2 gets the unicast
    expect(outs(t, 2).map(([, e, v]) => [e, v])).toEqual([["BEEP", 42], ["LEDS", 9], ["LEDS", 4]]);
    expect(outs(t, 3).map(([, e, v]) => [e, v])).toEqual([["BEEP", 42], ["LEDS", 9]]);
    // completions come after the frame's air time, not at once
    const sendAt = t.find((l) => l.kind === "out" && l.event === "SEND")!.t;
    const doneAt = t.find((l) => l.kind === "in" && l.event === "SEND_DONE")!.t;
    expect(doneAt - sendAt).toBeGreaterThan(1); // ms: backoff + CCA + 44 bytes at 250 kbit/s
    expect(sim.radio.stats.acked).toBe(1);
  });

  it("logs what the base station receives addressed to it", () => {
    const script = `#include "TerraNet.defs"
pktype reading from radioMsg with
    var ushort value;
end
var reading m;
if getNodeId() != 1 then
    m.type = 2;
    m.source = getNodeId();
    m.target = 1;
    m.value = getNodeId() * 100;
    await (getNodeId() * 10)ms;
    emit SEND_ACK(m);
end
await FOREVER;
`;
    const { sim } = simulate({ script, topology: { kind: "grid", nodes: 4 }, untilMs: 2000 });
    const got = sim.baseLog.map((m) => [m.via, m.origin, m.bytes[5] | (m.bytes[6] << 8)]);
    expect(got).toEqual([["RECEIVE", 2, 200], ["RECEIVE", 3, 300], ["RECEIVE", 4, 400]]);
  });

  it("raises Q_READY when a message enters an empty queue, and holds 10 messages", () => {
    const script = `#include "TerraNet.defs"
var radioMsg m;
var ubyte k = 0;
var ubyte s;
par do
    loop do
        var ubyte n = await Q_READY;
        emit BEEP(n);
    end
with
    loop i, 12 do
        m.type = i;
        s = qPut(m);
        emit LEDS(s);
    end
    emit BEEP(qSize());
    await 10ms;
    loop i, 20 do
        if qGet(m) != SUCCESS then
            break;
        end
        inc k;
    end
    emit BEEP(k);
    s = qPut(m);
    await FOREVER;
end
`;
    const { trace } = simulate({ script, topology: fileTopology("node 1 0 0"), untilMs: 100 });
    const o = outs(trace(), 1).map(([, e, v]) => `${e}=${v}`);
    expect(o).toEqual([...Array(10).fill("LEDS=0"), "LEDS=1", "LEDS=1", "BEEP=10", "BEEP=1", "BEEP=10", "BEEP=1"]);
  });
});

describe("determinism", () => {
  const monitor = readFileSync("test/fixtures/sim/monitor.terra", "utf8");
  const run = (seed: number) =>
    simulate({ script: monitor, topology: { kind: "grid", nodes: 16, loss: { kind: "uniform", loss: 0.1 } }, sensors: "sine:amp=60", seed, jitter: 1000, untilMs: 120_000 }).lines;

  it("the same seed gives the same trace, byte for byte", () => {
    const a = run(5), b = run(5);
    expect(a.length).toBeGreaterThan(1000);
    expect(a.join("\n")).toBe(b.join("\n"));
    expect(a.some((l) => l.includes('"kind":"bs"'))).toBe(true);
    for (const l of a.slice(0, 50)) expect(() => JSON.parse(l)).not.toThrow();
  });

  it("tracing does not change the run", () => {
    const opts = { script: monitor, topology: { kind: "grid" as const, nodes: 16, loss: { kind: "uniform" as const, loss: 0.1 } }, sensors: "sine:amp=60", seed: 5, jitter: 1000, untilMs: 120_000 };
    const a = simulate({ ...opts, trace: true }).sim, b = simulate({ ...opts, trace: false }).sim;
    expect(b.events).toBe(a.events);
    expect(b.baseLog).toEqual(a.baseLog);
    expect(b.radio.stats).toEqual(a.radio.stats);
  });

  it("another seed gives another run", () => {
    expect(run(6).join("\n")).not.toBe(run(5).join("\n"));
  });
});

describe("churn", () => {
  const script = `#include "TerraNet.defs"
emit LEDS(getNodeId());
emit BEEP(getTime());
loop do
    await 1s;
    emit LED0(TOGGLE);
end
`;

  it("rebooting a node restarts its script from boot, with its clock at 0", () => {
    const churn = parseSchedule("schedule.txt", "2500ms reboot 2\n");
    const { trace, sim } = simulate({ script, topology: { kind: "line", nodes: 3 }, churn, untilMs: 5000 });
    const t = trace().filter((l) => l.node === 2);
    const boots = t.filter((l) => l.kind === "boot").map((l) => l.t);
    expect(boots).toEqual([0, 2500]);
    const o = t.filter((l) => l.kind === "out").map((l) => [l.t, l.event, l.value]);
    expect(o).toEqual([
      [0, "LEDS", 2], [0, "BEEP", 0], [1000, "LED0", 2], [2000, "LED0", 2],
      [2500, "LEDS", 2], [2500, "BEEP", 0], [3500, "LED0", 2], [4500, "LED0", 2],
    ]);
    expect(sim.nodeReport(1).boots).toBe(2);
    expect(sim.nodeReport(1).outputs.LED0).toBe(4);
    // others are untouched
    expect(trace().filter((l) => l.node === 1 && l.kind === "boot")).toHaveLength(1);
  });

  it("stops, starts and adds nodes", () => {
    const churn = parseSchedule("schedule.txt", "1500ms stop 1\n3s start 1\n2s add 4 30 0\n");
    const { trace, sim } = simulate({ script, topology: { kind: "line", nodes: 3, extra: [{ id: 4, x: 30, y: 0 }] }, churn, untilMs: 4000 });
    const t = trace();
    // node 1 is off between 1.5 s and 3 s, then boots again (its next second ends at 4 s, after the run)
    expect(t.filter((l) => l.node === 1 && l.kind === "out" && l.event === "LED0").map((l) => l.t)).toEqual([1000]);
    expect(t.filter((l) => l.node === 1 && l.kind === "stop").map((l) => l.t)).toEqual([1500]);
    expect(t.filter((l) => l.node === 1 && l.kind === "boot").map((l) => l.t)).toEqual([0, 3000]);
    expect(t.filter((l) => l.node === 4 && l.kind === "boot").map((l) => l.t)).toEqual([2000]);
    expect(t.filter((l) => l.node === 4 && l.kind === "out" && l.event === "LED0").map((l) => l.t)).toEqual([3000]);
    expect(sim.nodeReport(0).up).toBe(true);
  });
});

describe("examples/routing.terra", () => {
  it("delivers at least 95% of the readings at 10% loss on a 7×7 grid", () => {
    const script = readFileSync("examples/routing.terra", "utf8");
    const { sim } = simulate({ script, topology: { kind: "grid", nodes: 49, loss: { kind: "uniform", loss: 0.1 } }, sensors: "sine", seed: 3, jitter: 1000, untilMs: 600_000, trace: false });
    const got = new Map<number, Set<number>>();
    for (const m of sim.baseLog) {
      const origin = m.bytes[5] | (m.bytes[6] << 8), seq = m.bytes[7] | (m.bytes[8] << 8);
      if (!got.has(origin)) got.set(origin, new Set());
      got.get(origin)!.add(seq);
    }
    // readings 1..55 of every node were taken at least 40 s before the end
    let want = 0, have = 0;
    for (let id = 2; id <= 49; id++) {
      for (let s = 1; s <= 55; s++) {
        want++;
        if (got.get(id)?.has(s)) have++;
      }
    }
    expect(have / want).toBeGreaterThanOrEqual(0.95);
  });
});

describe("sensors", () => {
  it("reads per-node CSV traces", () => {
    const script = `#include "TerraNet.defs"
var ushort t;
emit REQ_TEMP();
t = await TEMP;
emit BEEP(t);
await FOREVER;
`;
    const { trace } = simulate({ script, topology: { kind: "line", nodes: 3 }, sensors: csvSensors({ 1: { TEMP: 510 }, 3: { TEMP: 530 } }), untilMs: 10 });
    expect(trace().filter((l) => l.kind === "out" && l.event === "BEEP").map((l) => [l.node, l.value])).toEqual([[1, 510], [2, 500], [3, 530]]);
  });
});
