/**
 * VM throughput: VM instructions per second on a CPU-bound loop where every
 * iteration is a reaction. The host answers output REQ_CUSTOM (23) by
 * enqueueing input CUSTOM (15) at once; the script is
 *
 *     loop: out 23; await s0 (gate of CUSTOM); inc.32 counter; jmp loop
 *
 * so each reaction runs 4 instructions and the figure includes the whole
 * reaction overhead (dequeue, wake, host call, enqueue). The VM is driven
 * through Vm.runPending() and through Vm.step() (runVirtual would never go
 * idle on this script), one VM and host for the whole run (steady state).
 *
 * Run: npx tsx bench/vm-throughput.ts [seconds per round, default 0.5] [rounds, default 10]
 * Prints every round, the median and the best of each path, and a reference
 * pure-JS loop: wall-clock figures on shared machines vary by tens of
 * percent between runs, so compare runs with similar reference figures.
 */
import { createHash } from "node:crypto";
import os from "node:os";
import { NO_EVENT_ID, encodeCapsule } from "../vm/capsule";
import { assembleText } from "../vm/disasm";
import { Vm } from "../vm/engine";
import { loadCapsule } from "../vm/verify";

const REQ_CUSTOM = 23;
const CUSTOM = 15;
const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());

const code = assembleText(`
loop: out ${REQ_CUSTOM}
      await 0
      inc.32 0
      jmp loop
`);
const bytes = encodeCapsule(
  {
    flags: 0, programVersion: 1, configId: 0, varBytes: 4, slots: 1, stackCells: 0, trackDepth: 1, blockBytes: 64, entry: 0,
    inputs: [{ filteredId: NO_EVENT_ID, anyId: CUSTOM, gates: [0] }], timers: [], internals: [], asyncs: [], code,
  },
  sha256,
);
const capsule = loadCapsule(bytes, { sha256 });

let vm!: Vm;
vm = new Vm(capsule, {
  output(id) {
    if (id === REQ_CUSTOM) vm.enqueue(CUSTOM, 0, 0);
  },
  call: () => 0,
});
vm.boot();

function round(seconds: number, viaStep: boolean): { ips: number; rps: number; instructions: number } {
  const i0 = vm.stats.instructions, r0 = vm.stats.reactions;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(seconds * 1e9));
  let t = t0;
  while (t < deadline) {
    if (viaStep) for (let k = 0; k < 200_000; k++) vm.step();
    else vm.runPending(200_000);
    t = process.hrtime.bigint();
  }
  const secs = Number(t - t0) / 1e9;
  const instructions = vm.stats.instructions - i0;
  return { ips: instructions / secs, rps: (vm.stats.reactions - r0) / secs, instructions };
}

/** A fixed pure-JS loop, to tell a slow machine moment from a slow VM (M iterations/s). */
function reference(): number {
  let best = 0;
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    let x = 0;
    for (let i = 0; i < 50_000_000; i++) x = (x + Math.imul(i, 7)) | 0;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    if (x === 42) console.log("");
    best = Math.max(best, 50 / secs);
  }
  return best;
}

const seconds = Number(process.argv[2] ?? 0.5);
const rounds = Number(process.argv[3] ?? 10);
console.log(`node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? "?"} (${os.arch()})`);
round(0.3, false); // warm-up (JIT)
round(0.3, true);

function series(viaStep: boolean): { median: number; best: number } {
  console.log(`\n${viaStep ? "Vm.step() per reaction" : "Vm.runPending() (the driver's path)"}`);
  console.log("round  instr/s (M)  reactions/s (M)  instructions");
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = round(seconds, viaStep);
    results.push(x.ips);
    console.log(`${String(r + 1).padStart(5)}  ${(x.ips / 1e6).toFixed(1).padStart(11)}  ${(x.rps / 1e6).toFixed(2).padStart(15)}  ${x.instructions}`);
  }
  results.sort((a, b) => a - b);
  return { median: results[Math.floor(results.length / 2)], best: results[results.length - 1] };
}

const driver = series(false);
const step = series(true);
const counter = (vm.vars[0] | (vm.vars[1] << 8) | (vm.vars[2] << 16) | (vm.vars[3] << 24)) >>> 0;
if (counter !== (vm.stats.reactions - 1) % 2 ** 32) throw new Error(`counter ${counter} != ${vm.stats.reactions - 1} input reactions`);
const M = (x: number) => (x / 1e6).toFixed(1);
console.log("");
console.log(`runPending: median ${M(driver.median)} M instructions/s, best ${M(driver.best)} M (4 instructions per reaction)`);
console.log(`step:       median ${M(step.median)} M instructions/s, best ${M(step.best)} M`);
console.log(`reference JS loop: ${reference().toFixed(0)} M iterations/s (compare runs by this figure on noisy machines)`);
