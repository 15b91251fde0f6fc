/**
 * TypeScript VM speed on the CPU-bound loop of the Terra VM report (seed 003
 * §8.2: a loop whose every iteration is a reaction, the request answered at
 * once by the component), and compile time per 1,000 source lines.
 */
import { existsSync, readFileSync } from "node:fs";
import { builtinDefsDir, sha256 } from "../cli/util";
import { compile } from "../compiler/compile";
import { createMote } from "../components/run";
import { constantSensors } from "../components/terranet/index";
import { loadCapsule } from "../vm/verify";
import { registerBench, table } from "./registry";

/** The §8.2 loop: request a custom event, await it, count. */
export const CPU_BOUND_SCRIPT = `#include "TerraNet.defs"
var ulong count = 0;
loop do
    emit REQ_CUSTOM();
    await CUSTOM;
    inc count;
end
`;

const readFile = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
const build = (text: string) => compile("bench.terra", text, { includeDirs: [], builtinDir: builtinDefsDir(), readFile, sha256 });

/** A realistic script of about `lines` lines: sensing, computing and sending, with timeouts. */
export function syntheticScript(lines: number): string {
  const head = ['#include "TerraNet.defs"', "pktype m from radioMsg with var ushort v; var ubyte n; end", "var m msg;", "var ushort t;", "var ubyte k;", "var ulong acc;"];
  const blocks: string[] = [];
  for (let i = 0; blocks.length + head.length < lines - 2; i++) {
    blocks.push(
      `var ushort v${i} = ${i};`,
      "par/or do",
      "    loop do",
      "        emit REQ_TEMP();",
      "        t = await TEMP;",
      `        if t > v${i} then`,
      `            msg.v = t + v${i} * 2;`,
      "            msg.n = k;",
      "            acc = acc + (t >> 2) * 3;",
      "            emit SEND(msg);",
      "        else",
      "            inc k;",
      "        end",
      "    end",
      "with",
      `    await ${(i % 50) + 1}s;`,
      "end",
      `acc = acc / (k + ${i + 1});`,
    );
  }
  return [...head, ...blocks, "await FOREVER;", ""].join("\n");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

registerBench({
  name: "vm",
  description: "TS VM instructions per second on the §8.2 CPU-bound loop; compile time per 1,000 lines",
  run({ quick }) {
    const r = build(CPU_BOUND_SCRIPT);
    if (!r.ok) throw new Error("bench: the CPU-bound script does not compile");
    const { vm } = createMote(loadCapsule(r.capsule!, { sha256 }), r.config!, { nodeId: 1, sensors: constantSensors() });
    vm.boot();
    const reactionsPerRound = quick ? 200_000 : 2_000_000;
    for (let k = 0; k < (quick ? 200 : 2000); k++) vm.runPending(1000); // JIT warm-up, as drivers call it: many short chains; not counted
    const rounds = quick ? 3 : 9;
    const rates: number[] = [];
    for (let k = 0; k < rounds; k++) {
      const i0 = vm.stats.instructions;
      const t0 = process.hrtime.bigint();
      vm.runPending(reactionsPerRound);
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      rates.push((vm.stats.instructions - i0) / dt);
    }
    const perIteration = vm.stats.instructions / vm.stats.reactions;
    const text = syntheticScript(1000);
    const lines = text.split("\n").length;
    const t0 = process.hrtime.bigint();
    const first = build(text);
    const firstMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (!first.ok) throw new Error(`bench: the synthetic script does not compile: ${first.diagnostics[0]?.message}`);
    for (let k = 0; k < (quick ? 3 : 10); k++) build(text); // warm up the JIT
    const times: number[] = [];
    for (let k = 0; k < (quick ? 5 : 20); k++) {
      const t1 = process.hrtime.bigint();
      build(text);
      times.push(Number(process.hrtime.bigint() - t1) / 1e6);
    }
    const warm = median(times);
    const ips = median(rates);
    const result = {
      instructions_per_second: Math.round(ips),
      best_instructions_per_second: Math.round(Math.max(...rates)),
      instructions_per_iteration: Number(perIteration.toFixed(2)),
      iterations_per_second: Math.round(ips / perIteration),
      compile_ms_per_1000_lines: Number(((warm * 1000) / lines).toFixed(1)),
      compile_first_ms: Number(firstMs.toFixed(1)),
      compile_best_ms_per_1000_lines: Number(((Math.min(...times) * 1000) / lines).toFixed(1)),
      synthetic_lines: lines,
    };
    return {
      result,
      table: table(["measure", "value"], [
        ["VM instructions/s (median of rounds)", `${(ips / 1e6).toFixed(1)} M`],
        ["VM instructions/s (best round)", `${(Math.max(...rates) / 1e6).toFixed(1)} M`],
        ["instructions per loop iteration", perIteration.toFixed(2)],
        ["loop iterations/s", `${(ips / perIteration / 1e6).toFixed(2)} M`],
        [`compile, warm (ms per 1,000 lines; ${lines}-line script)`, result.compile_ms_per_1000_lines],
        ["compile, first run (ms)", result.compile_first_ms],
      ]),
    };
  },
});
