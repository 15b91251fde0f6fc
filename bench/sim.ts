/**
 * Network simulator speed and memory (`terra bench sim`): monitor.terra on
 * grids of 100, 1,000 and 10,000 motes (spacing 10 m, range 15 m, base
 * station node 1 in a corner, the default sine sensors, boot jitter 1 s),
 * simulated for 10 minutes (1 minute with --quick), and 10,000 motes at 10 %
 * loss. Per configuration, the median of 3 runs (1 with --quick):
 * simulated seconds per wall second (sim_speed_x; the best run apart), VM
 * instructions per wall second, and JavaScript heap per mote (V8 heap after
 * a full GC, with the simulator built and run, minus the heap before it,
 * divided by the motes; typed-array backing stores outside the V8 heap are
 * reported apart). Wall time counts building the motes and running them.
 */
import { existsSync, readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { builtinDefsDir, sha256 } from "../cli/util";
import { compile } from "../compiler/compile";
import { buildTopology, parseSensorSpec, Simulator } from "../components/sim/index";
import { loadCapsule } from "../vm/verify";
import { registerBench, table } from "./registry";

/** examples/monitor.terra as of this benchmark (used when the file is not there). */
const MONITOR = `#include "TerraGrp.defs"
#define THRESHOLD 550
pktype avgMsg from msgBS_t with
    var ushort average;
    var ushort count;
end
var group_t neighbours;
var aggreg_t tempAvg;
var aggDone_t result;
var avgMsg report;
var ubyte stat;
stat = groupInit(neighbours, 1, 0, 1, TRUE, eOFF, 0);
stat = aggregInit(tempAvg, neighbours, SID_TEMP, fAVG, opGT, 0);
report.msgId = 1;
loop do
    await 10s;
    emit REQ_TEMP();
    var ushort tValue = await TEMP;
    if tValue > THRESHOLD then
        emit AGGREG(tempAvg);
        result = await AGGREG_DONE;
        report.average = <ushort>result.value;
        report.count = result.count;
        emit SEND_BS(report);
    end
end
`;

const gc = (() => {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();

function heap(): { heap: number; ab: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, ab: m.arrayBuffers };
}

export interface SimBenchRow {
  nodes: number;
  loss: number;
  simulated_s: number;
  wall_s: number;
  sim_speed_x: number;
  best_sim_speed_x?: number;
  runs?: number;
  vm_instructions: number;
  vm_instructions_per_second: number;
  reactions: number;
  events: number;
  events_per_second: number;
  frames_sent: number;
  base_station_messages: number;
  heap_bytes_per_mote: number;
  array_buffer_bytes_per_mote: number;
}

/** One simulation of monitor.terra on `nodes` motes; memory measured after the run. */
export function runSimBench(nodes: number, durationMs: number, loss = 0, script = monitorScript()): SimBenchRow {
  const readFile = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
  const r = compile("monitor.terra", script, { includeDirs: [], builtinDir: builtinDefsDir(), readFile, sha256 });
  if (!r.ok) throw new Error(`bench sim: monitor.terra does not compile: ${r.diagnostics[0]?.message}`);
  const capsule = loadCapsule(r.capsule!, { sha256 });
  const before = heap();
  const topology = buildTopology({ kind: "grid", nodes, spacing: 10, range: 15, loss: { kind: "uniform", loss }, seed: 1 });
  const t0 = performance.now();
  const sim = new Simulator({ capsule, cfg: r.config!, topology, sensors: parseSensorSpec("sine"), seed: 1 });
  sim.runUntil(durationMs);
  const wall = (performance.now() - t0) / 1000;
  const after = heap();
  const instructions = sim.totalInstructions();
  const row: SimBenchRow = {
    nodes,
    loss,
    simulated_s: durationMs / 1000,
    wall_s: Number(wall.toFixed(3)),
    sim_speed_x: Number((durationMs / 1000 / wall).toFixed(1)),
    vm_instructions: instructions,
    vm_instructions_per_second: Math.round(instructions / wall),
    reactions: sim.totalReactions(),
    events: sim.events,
    events_per_second: Math.round(sim.events / wall),
    frames_sent: sim.radio.stats.frames_sent,
    base_station_messages: sim.baseLog.length,
    heap_bytes_per_mote: Math.round((after.heap - before.heap) / nodes),
    array_buffer_bytes_per_mote: Math.round((after.ab - before.ab) / nodes),
  };
  // keep the simulator alive until after the measurement
  if (sim.n !== nodes) throw new Error("unreachable");
  return row;
}

function monitorScript(): string {
  for (const p of ["examples/monitor.terra", "test/fixtures/sim/monitor.terra"]) if (existsSync(p)) return readFileSync(p, "utf8");
  return MONITOR;
}

/** The median run (by speed) of `n`, with the best speed. */
function medianOf(n: number, f: () => SimBenchRow): SimBenchRow {
  const rs = Array.from({ length: n }, f).sort((a, b) => a.sim_speed_x - b.sim_speed_x);
  return { ...rs[Math.floor((n - 1) / 2)], best_sim_speed_x: rs[n - 1].sim_speed_x, runs: n };
}

registerBench({
  name: "sim",
  description: "network simulator: monitor.terra on 100, 1,000 and 10,000 motes (speed vs real time, VM instructions/s, heap per mote)",
  run({ quick }) {
    const duration = quick ? 60_000 : 600_000;
    const rows: SimBenchRow[] = [];
    const runs = quick ? 1 : 3;
    runSimBench(100, 20_000); // warm-up (JIT)
    for (const n of [100, 1000, 10000]) rows.push(medianOf(runs, () => runSimBench(n, duration)));
    if (!quick) rows.push(medianOf(runs, () => runSimBench(10000, duration, 0.1)));
    const result = {
      scenario: {
        script: "monitor.terra",
        topology: "grid, 10 m spacing, 15 m range, base station node 1 (corner)",
        sensors: "sine (default: TEMP 500 ± 40, noise σ 8, per-node phase)",
        boot_jitter_ms: 1000,
        seed: 1,
        simulated_s: duration / 1000,
      },
      runs: rows,
    };
    return {
      result,
      table: table(
        ["motes", "loss", "simulated", "wall", "speed (median)", "best", "VM instr/s", "events/s", "frames", "BS msgs", "heap/mote", "buffers/mote"],
        rows.map((r) => [
          r.nodes, r.loss, `${r.simulated_s} s`, `${r.wall_s.toFixed(2)} s`, `${r.sim_speed_x}×`, `${r.best_sim_speed_x}×`, `${(r.vm_instructions_per_second / 1e6).toFixed(2)} M`,
          `${(r.events_per_second / 1e6).toFixed(2)} M`, r.frames_sent, r.base_station_messages, `${(r.heap_bytes_per_mote / 1024).toFixed(1)} KB`,
          `${(r.array_buffer_bytes_per_mote / 1024).toFixed(1)} KB`,
        ]),
      ),
    };
  },
});
