/**
 * TerraGrp on the simulated network: aggregation results, hop-limited group
 * messages, leader election, the collection tree behind SEND_BS, and
 * monitor.terra end to end.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildTopology } from "../components/sim/topology";
import { csvSensors, fileTopology, fixture, simulate, type TraceLine } from "./fixtures/sim/helpers";

const AGGREGATE = `#include "TerraGrp.defs"
var group_t g;
var aggreg_t aAvg;
var aggreg_t aSum;
var aggreg_t aMax;
var aggreg_t aMin;
var aggreg_t aRes;
var aggDone_t r;
var ubyte s;
s = groupInit(g, 1, 0, HOPS, TRUE, eOFF, 0);
s = aggregInit(aAvg, g, SID_TEMP, fAVG, opGT, 520);
s = aggregInit(aSum, g, SID_TEMP, fSUM, opGT, 520);
s = aggregInit(aMax, g, SID_TEMP, fMAX, opGT, 520);
s = aggregInit(aMin, g, SID_TEMP, fMIN, opGT, 520);
s = aggregInit(aRes, g, SID_TEMP, fRESERV, opGT, 520);
if getNodeId() == ASKER then
    await 3s;
    emit AGGREG(aAvg);
    r = await AGGREG_DONE;
    emit AGGREG(aSum);
    r = await AGGREG_DONE;
    emit AGGREG(aMax);
    r = await AGGREG_DONE;
    emit AGGREG(aMin);
    r = await AGGREG_DONE;
    emit AGGREG(aRes);
    r = await AGGREG_DONE;
end
await FOREVER;
`;

const results = (trace: TraceLine[], node: number) =>
  trace.filter((l) => l.kind === "in" && l.event === "AGGREG_DONE" && l.node === node).map((l) => l.value as { agId: number; count: number; countTrue: number; countFalse: number; value: number });

describe("aggregation", () => {
  it("AVG, SUM, MAX, MIN and RESERV over a one-hop group equal those of the group's readings", () => {
    // 3×3 grid, range 15 m: node 5 in the middle hears all 8 others
    const temps: Record<number, { TEMP: number }> = {};
    for (let id = 1; id <= 9; id++) temps[id] = { TEMP: 490 + ((id * 37) % 61) };
    const script = AGGREGATE.replace("HOPS", "1").replace("ASKER", "5");
    for (const seed of [1, 2, 3]) {
      const { trace } = simulate({ script, topology: { kind: "grid", nodes: 9 }, sensors: csvSensors(temps), seed, untilMs: 8000 });
      const r = results(trace(), 5);
      const vals = Object.values(temps).map((t) => t.TEMP);
      const sum = vals.reduce((a, b) => a + b, 0);
      const yes = vals.filter((v) => v > 520).length;
      expect(r.map((x) => x.agId)).toEqual([1, 2, 3, 4, 5]);
      for (const x of r.slice(0, 4)) {
        expect(x.count).toBe(9);
        expect(x.countTrue).toBe(yes);
        expect(x.countFalse).toBe(9 - yes);
      }
      expect(r.slice(0, 4).map((x) => x.value)).toEqual([Math.trunc(sum / 9), sum, Math.max(...vals), Math.min(...vals)]);
      // RESERV: the local reading is not counted; the value is a node whose reading compares true
      expect(r[4].count).toBe(8);
      expect(temps[r[4].value].TEMP).toBeGreaterThan(520);
    }
  });

  it("reaches the group within its hop limit (answers routed back hop by hop)", () => {
    // a line 1-2-3-4-5-6, 10 m apart, range 15 m: nhops 2 from node 1 covers nodes 1..3
    const temps: Record<number, { TEMP: number }> = { 1: { TEMP: 500 }, 2: { TEMP: 510 }, 3: { TEMP: 530 }, 4: { TEMP: 900 }, 5: { TEMP: 900 }, 6: { TEMP: 900 } };
    const script = AGGREGATE.replace("HOPS", "2").replace("ASKER", "1");
    const { trace } = simulate({ script, topology: { kind: "line", nodes: 6, loss: { kind: "uniform", loss: 0.1 } }, sensors: csvSensors(temps), untilMs: 8000 });
    const r = results(trace(), 1);
    expect(r[0]).toMatchObject({ count: 3, value: 513, countTrue: 1 });
    expect(r[1]).toMatchObject({ count: 3, value: 1540 });
    expect(r[2].value).toBe(530);
    expect(r[3].value).toBe(500);
  });

  it("equals the aggregate of the readings that reached the requester, on random topologies (property)", () => {
    let complete = 0, runs = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 4, max: 12 }), (seed, n) => {
        const topo = buildTopology({ kind: "random", nodes: n, spacing: 10, range: 15, loss: { kind: "uniform", loss: 0.05 }, seed });
        const temps: Record<number, { TEMP: number }> = {};
        for (let id = 1; id <= n; id++) temps[id] = { TEMP: 400 + ((id * 7919 + seed) % 300) };
        const script = AGGREGATE.replace("HOPS", "1").replace("ASKER", "1");
        const { trace } = simulate({ script, topology: topo, sensors: csvSensors(temps), seed, untilMs: 6000 });
        const t = trace();
        const group = new Set([1, ...Array.from(topo.inNbr.subarray(topo.inStart[0], topo.inStart[1])).map((i) => topo.ids[i])]);
        const asked = t.filter((l) => l.kind === "out" && l.event === "AGGREG" && l.node === 1).map((l) => l.t);
        const done = results(t, 1);
        expect(done).toHaveLength(5);
        done.slice(0, 4).forEach((r, k) => {
          // the answers: group frames node 1 received while the aggregation ran, plus its own reading
          const end = k + 1 < asked.length ? asked[k + 1] : Infinity;
          const from = new Set([1, ...t.filter((l) => l.kind === "rx" && l.node === 1 && l.proto === "group" && l.t > asked[k] && l.t < end).map((l) => l.src as number)]);
          for (const id of from) expect(group.has(id)).toBe(true);
          const vals = [...from].map((id) => temps[id].TEMP);
          const sum = vals.reduce((a, b) => a + b, 0);
          expect(r.count).toBe(vals.length);
          expect(r.value).toBe([Math.trunc(sum / vals.length), sum, Math.max(...vals), Math.min(...vals)][k]);
          expect(r.countTrue).toBe(vals.filter((v) => v > 520).length);
          runs++;
          if (from.size === group.size) complete++;
        });
      }),
      { numRuns: 12 },
    );
    // losses and collisions are the exception: most aggregations hear the whole group (about 85 % over many seeds at 5 % loss)
    expect(complete / runs).toBeGreaterThan(0.6);
  });
});

describe("group messages", () => {
  it("flood the group within nhops; members with another param do not deliver", () => {
    const script = `#include "TerraGrp.defs"
var group_t g;
var msgGR_t m;
var msgGR_t got;
var ushort st;
var ubyte s;
s = groupInit(g, 3, (getNodeId() == 3), 3, TRUE, eOFF, 0);
if getNodeId() == 1 then
    await 1s;
    m.grId = 3;
    m.node = BROADCAST;
    m.msgId = 7;
    m.data[0] = 99;
    emit SEND_GR(m);
    st = await SENDGR_DONE(3);
    emit BEEP(st + 1);
    await FOREVER;
else
    loop do
        got = await REC_GR(3);
        emit LEDS(got.msgId);
        emit BEEP(got.node);
    end
end
`;
    const { trace } = simulate({ script, topology: { kind: "line", nodes: 6 }, untilMs: 3000 });
    const t = trace();
    const leds = t.filter((l) => l.kind === "out" && l.event === "LEDS").map((l) => [l.node, l.value]);
    // nodes 2 and 4 deliver (3 has param 1, 5 and 6 are beyond 3 hops); node 3 still forwards
    expect(leds).toEqual([[2, 7], [4, 7]]);
    expect(t.filter((l) => l.kind === "out" && l.event === "BEEP" && l.node !== 1).map((l) => l.value)).toEqual([1, 1]);
    expect(t.find((l) => l.kind === "out" && l.event === "BEEP" && l.node === 1)!.value).toBe(1); // SENDGR_DONE SUCCESS
  });
});

describe("leader election", () => {
  it("elects the member with the highest battery voltage, and every member learns it", () => {
    const script = `#include "TerraGrp.defs"
var group_t g;
var ushort leader;
var ubyte s;
s = groupInit(g, 2, 0, 2, TRUE, eACTIVE, 0);
loop do
    leader = await LEADER_NEW(2);
    emit BEEP(leader);
end
`;
    const volts: Record<number, { VOLTS: number }> = {};
    for (let id = 1; id <= 9; id++) volts[id] = { VOLTS: 2800 + ((id * 53) % 400) };
    const best = Object.entries(volts).sort((a, b) => b[1].VOLTS - a[1].VOLTS)[0][0];
    const { trace, sim } = simulate({ script, topology: { kind: "grid", nodes: 9 }, sensors: csvSensors(volts), untilMs: 30_000, jitter: 500 });
    const last = new Map<number, unknown>();
    for (const l of trace()) if (l.kind === "out" && l.event === "BEEP") last.set(l.node, l.value);
    expect([...last.keys()].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const v of last.values()) expect(v).toBe(Number(best));
    expect(sim.grp!.stats.elections).toBeGreaterThan(0);
  });

  it("runs the election again every 5 minutes", () => {
    const script = `#include "TerraGrp.defs"
var group_t g;
var ushort leader;
var ubyte s;
s = groupInit(g, 2, 0, 2, TRUE, eACTIVE, 0);
par do
    loop do
        leader = await LEADER_NEW(2);
        emit BEEP(leader);
    end
with
    loop do
        leader = await LEADER_LOST(2);
        emit LED0(TOGGLE);
    end
end
`;
    const volts: Record<number, { VOLTS: number }> = { 1: { VOLTS: 2900 }, 2: { VOLTS: 3100 }, 3: { VOLTS: 3000 } };
    const { trace } = simulate({ script, topology: { kind: "line", nodes: 3 }, sensors: csvSensors(volts), untilMs: 11 * 60_000 });
    const t = trace();
    // the first round and the renewals 5 and 10 minutes later each elect node 2 again (the initiator loses its leader meanwhile)
    for (const node of [1, 2, 3]) {
      const news = t.filter((l) => l.node === node && l.kind === "out" && l.event === "BEEP");
      for (const from of [0, 5, 10]) expect(news.some((l) => l.t > from * 60_000 && l.t < (from + 1) * 60_000 && l.value === 2), `node ${node} at ${from} min`).toBe(true);
      expect(news.at(-1)!.value).toBe(2);
    }
    const lost = t.filter((l) => l.kind === "out" && l.event === "LED0" && l.t > 5 * 60_000);
    expect(lost.length).toBeGreaterThan(0);
  });
});

describe("collection tree", () => {
  const SENDER = `#include "TerraGrp.defs"
var msgBS_t m;
m.msgId = 1;
await 20s;
m.data[0] = getNodeId();
emit SEND_BS(m);
await FOREVER;
`;

  it("reaches every node connected to the base station, and no other", () => {
    for (const seed of [1, 2, 3]) {
      // sparse random field: some motes have no path to the base station
      const topo = buildTopology({ kind: "random", nodes: 60, spacing: 14, range: 15, loss: { kind: "uniform", loss: 0.1 }, seed });
      const { sim } = simulate({ script: SENDER, topology: topo, seed, jitter: 1000, untilMs: 60_000, trace: false });
      // connectivity by breadth-first search over the links
      const seen = new Set([sim.base]);
      const todo = [sim.base];
      while (todo.length) {
        const i = todo.pop()!;
        for (let k = topo.outStart[i]; k < topo.outStart[i + 1]; k++) {
          const j = topo.outNbr[k];
          if (!seen.has(j)) {
            seen.add(j);
            todo.push(j);
          }
        }
      }
      expect(seen.size).toBeGreaterThan(5);
      expect(seen.size).toBeLessThan(60);
      const delivered = new Set(sim.baseLog.map((m) => m.origin));
      for (let i = 0; i < topo.n; i++) {
        const rep = sim.nodeReport(i);
        if (seen.has(i)) {
          expect(rep.hops, `node ${rep.id}`).not.toBeNull();
          expect(delivered.has(rep.id), `node ${rep.id} delivered`).toBe(true);
        } else {
          expect(rep.hops).toBeNull();
          expect(delivered.has(rep.id)).toBe(false);
        }
      }
      expect(sim.collect!.stats.dropped_retries).toBe(0);
    }
  });

  it("routes around a stopped mote and lets a rebooted one join again", () => {
    // 1 - 2 - 3 line with a detour 1 - 4 - 5 - 3 (node 3 prefers the short path through 2)
    const topo = fileTopology("link 1 2\nlink 2 3\nlink 1 4\nlink 4 5\nlink 5 3");
    const script = `#include "TerraGrp.defs"
var msgBS_t m;
m.msgId = 1;
loop do
    await 10s;
    if getNodeId() == 3 then
        inc m.data[0];
        emit SEND_BS(m);
    end
end
`;
    const { sim } = simulate({ script, topology: topo, churn: [{ atMs: 25_000, action: "stop", node: 2, file: "-", line: 1 }], jitter: 500, untilMs: 120_000, trace: false });
    const seqs = sim.baseLog.filter((m) => m.origin === 3).map((m) => [m.bytes[1], m.hops]);
    // readings 1..11; the ones after node 2 stopped took the detour (3 hops)
    expect(seqs.map((s) => s[0])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(seqs[0][1]).toBe(2);
    expect(seqs[10][1]).toBe(3);
    expect(sim.nodeReport(2).parent).toBe(5);
  });
});

describe("monitor.terra", () => {
  it("on a 5×5 grid at 10% loss, averaged readings arrive at the base station", () => {
    const { sim, trace } = simulate({ script: fixture("monitor.terra"), topology: { kind: "grid", nodes: 25, loss: { kind: "uniform", loss: 0.1 } }, sensors: "sine", jitter: 1000, untilMs: 600_000 });
    const t = trace();
    expect(sim.baseLog.length).toBeGreaterThanOrEqual(5);
    const done = t.filter((l) => l.kind === "in" && l.event === "AGGREG_DONE");
    for (const m of sim.baseLog) {
      expect(m.via).toBe("SEND_BS");
      const average = m.bytes[1] | (m.bytes[2] << 8), count = m.bytes[3] | (m.bytes[4] << 8);
      expect(count).toBeGreaterThanOrEqual(1);
      expect(count).toBeLessThanOrEqual(9);
      // the aggregation result its origin computed
      const src = done.filter((l) => l.node === m.origin && l.t <= m.t_ms).pop()!;
      expect(src.value).toMatchObject({ value: average, count });
    }
    const summary = t.filter((l) => l.kind === "bs");
    expect(summary.length).toBe(sim.baseLog.length);
  });
});
