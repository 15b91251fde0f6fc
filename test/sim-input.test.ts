/**
 * `terra sim` input: topology, sensor and schedule files, option values,
 * and the command itself (exit codes, errors naming file, line and field,
 * summary, trace).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { parseDuration, SimInputError } from "../components/sim/errors";
import { parseSchedule } from "../components/sim/schedule";
import { parseSensorCsv, parseSensorSpec } from "../components/sim/sensors";
import { buildTopology, parseTopologyFile } from "../components/sim/topology";

const err = (f: () => unknown): SimInputError => {
  try {
    f();
  } catch (e) {
    if (e instanceof SimInputError) return e;
    throw e;
  }
  throw new Error("no error");
};

describe("topology files", () => {
  it("reads positions and links, blanks or commas", () => {
    const r = parseTopologyFile("t.txt", "# field\nnode 1 0 0\nnode 2, 10, 0\n\nnode 3 20 0 # last\n");
    expect(r.nodes).toEqual([{ id: 1, x: 0, y: 0 }, { id: 2, x: 10, y: 0 }, { id: 3, x: 20, y: 0 }]);
    expect(r.links).toBeNull();
    const l = parseTopologyFile("l.txt", "link 1 2 0.5\nlink 2 3 0.9 0.3\n");
    expect(l.links).toEqual([{ a: 1, b: 2, prr: 0.5 }, { a: 2, b: 1, prr: 0.5 }, { a: 2, b: 3, prr: 0.9 }, { a: 3, b: 2, prr: 0.3 }]);
  });

  it("names the line and field of a mistake", () => {
    expect(err(() => parseTopologyFile("pos.txt", "node 1 0 0\nnode 2 ten 0\n")).message).toBe('pos.txt:2: field "x": must be a number, got "ten"');
    expect(err(() => parseTopologyFile("pos.txt", "node 1 0 0\nnode 1 5 5\n")).message).toBe('pos.txt:2: field "id": node 1 is already declared on line 1');
    expect(err(() => parseTopologyFile("pos.txt", "node 0 0 0\n")).message).toMatch(/^pos\.txt:1: field "id": must be a node id 1\.\.65534/);
    expect(err(() => parseTopologyFile("links.txt", "link 1 2 1.5\n")).message).toMatch(/^links\.txt:1: field "prr": must be a packet reception ratio 0\.\.1/);
    expect(err(() => parseTopologyFile("x.txt", "\n\nnode 1 0 0\nedge 1 2\n")).message).toMatch(/^x\.txt:4: expected "node <id> <x> <y>"/);
    expect(err(() => parseTopologyFile("x.txt", "node 1 0\n")).message).toBe('x.txt:1: field "y": missing');
    expect(err(() => parseTopologyFile("empty.txt", "# nothing\n")).message).toMatch(/^empty\.txt: no nodes/);
  });

  it("builds grids, lines and random fields with neighbours in range", () => {
    const g = buildTopology({ kind: "grid", nodes: 25, spacing: 10, range: 15, loss: { kind: "uniform", loss: 0 }, seed: 1 });
    const deg = (i: number) => g.outStart[i + 1] - g.outStart[i];
    expect([deg(0), deg(1), deg(6)]).toEqual([3, 5, 8]); // corner, edge, inside (diagonals at 14.1 m)
    const l = buildTopology({ kind: "line", nodes: 5, spacing: 10, range: 15, loss: { kind: "uniform", loss: 0.2 }, seed: 1 });
    expect(Array.from(l.outPrr)).toEqual(Array(8).fill(Math.fround(0.8)));
    const a = buildTopology({ kind: "random", nodes: 50, spacing: 10, range: 15, loss: { kind: "distance" }, seed: 3 });
    const b = buildTopology({ kind: "random", nodes: 50, spacing: 10, range: 15, loss: { kind: "distance" }, seed: 3 });
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    for (let i = 0; i < a.n; i++) {
      for (let k = a.outStart[i]; k < a.outStart[i + 1]; k++) {
        const j = a.outNbr[k];
        const d = Math.hypot(a.x[i] - a.x[j], a.y[i] - a.y[j]);
        expect(d).toBeLessThanOrEqual(15);
        expect(a.outPrr[k]).toBeCloseTo(1 / (1 + Math.exp(10 * (d / 15 - 0.8))), 5);
      }
    }
  });
});

describe("sensor models and traces", () => {
  it("parses models and their parameters", () => {
    expect(parseSensorSpec("constant:TEMP=520,PHOTO=300")).toEqual({ kind: "constant", values: { TEMP: 520, PHOTO: 300 } });
    expect(parseSensorSpec("sine:amp=60,period=5min")).toEqual({ kind: "sine", amp: 60, periodMs: 300_000, noise: 8 });
    expect(parseSensorSpec("walk")).toEqual({ kind: "walk", step: 4, spread: 40, revert: 0.01 });
    expect(err(() => parseSensorSpec("wave")).message).toMatch(/^--sensors: unknown sensor model "wave"/);
    expect(err(() => parseSensorSpec("sine:ampl=3")).message).toMatch(/^--sensors: field "ampl": unknown parameter of sine/);
    expect(err(() => parseSensorSpec("constant:TEMP=-4")).message).toMatch(/^--sensors: field "TEMP": must be a number in 0\.\.65535/);
  });

  it("reads CSV traces and names the line and field of a mistake", () => {
    const t = parseSensorCsv("n1.csv", "t_ms,TEMP,VOLTS\n0,500,3000\n1000,510,2990\n");
    expect(Array.from(t.t)).toEqual([0, 1000]);
    expect(err(() => parseSensorCsv("n1.csv", "t_ms,TEMP\n0,500\n1000,abc\n")).message).toBe('n1.csv:3: field "TEMP": must be an integer 0..65535, got "abc"');
    expect(err(() => parseSensorCsv("n1.csv", "t_ms,TEMP\n10,500\n5,500\n")).message).toBe('n1.csv:3: field "t_ms": times must not decrease: 5 comes after 10');
    expect(err(() => parseSensorCsv("n2.csv", "t_ms,HUMIDITY\n")).message).toMatch(/^n2\.csv:1: field "HUMIDITY": unknown column/);
    expect(err(() => parseSensorCsv("n2.csv", "TEMP,PHOTO\n")).message).toMatch(/^n2\.csv:1: the header needs a t_ms column/);
    expect(err(() => parseSensorCsv("n3.csv", "t_ms,TEMP\n0,1,2\n")).message).toBe("n3.csv:2: expected 2 fields like the header, got 3");
  });
});

describe("schedules and durations", () => {
  it("parses churn actions", () => {
    const s = parseSchedule("churn.txt", "# t action node\n10min stop 5\n12min start 5\n90s reboot 7\n20min add 26 35 40\n");
    expect(s.map((a) => [a.atMs, a.action, a.node, a.x, a.y, a.line])).toEqual([
      [600_000, "stop", 5, undefined, undefined, 2], [720_000, "start", 5, undefined, undefined, 3],
      [90_000, "reboot", 7, undefined, undefined, 4], [1_200_000, "add", 26, 35, 40, 5],
    ]);
    expect(err(() => parseSchedule("churn.txt", "10min explode 5\n")).message).toBe('churn.txt:1: field "action": must be one of stop, start, reboot, add, got "explode"');
    expect(err(() => parseSchedule("churn.txt", "soon stop 5\n")).message).toMatch(/^churn\.txt:1: field "time": must be a duration/);
    expect(err(() => parseSchedule("churn.txt", "\n1s stop x\n")).message).toMatch(/^churn\.txt:2: field "node"/);
    expect(err(() => parseSchedule("churn.txt", "1s stop 3 4 5\n")).message).toBe('churn.txt:1: field "x": only "add" takes a position');
  });

  it("parses durations", () => {
    expect(["600000", "600s", "10min", "10m", "1h", "1h30min", "1.5s", "250ms"].map(parseDuration)).toEqual([600000, 600000, 600000, 600000, 3600000, 5400000, 1500, 250]);
    expect(["", "10 min", "ten", "5x"].map(parseDuration)).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe("terra sim", () => {
  const dir = mkdtempSync(join(tmpdir(), "terra-sim-"));
  const terra = (...args: string[]) => {
    const tsx = pathToFileURL(resolve("node_modules/tsx/dist/loader.mjs")).href;
    const r = spawnSync(process.execPath, ["--import", tsx, resolve("cli/main.ts"), "sim", ...args], { encoding: "utf8", cwd: dir, timeout: 120_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const monitor = resolve("test/fixtures/sim/monitor.terra");

  it("runs a script on a network and prints a summary; same seed, same trace file", () => {
    const a = terra(monitor, "--nodes", "9", "--duration", "2min", "--loss", "0.1", "--sensors", "sine:amp=80", "--trace", "a.jsonl", "--json");
    expect(a.code, a.err).toBe(0);
    const s = JSON.parse(a.out);
    expect(s).toMatchObject({ nodes: 9, config: "TerraGrp", platform: "micaz", duration_ms: 120_000, seed: 1, base: 1 });
    expect(s.per_node).toHaveLength(9);
    expect(s.base_station.received).toBeGreaterThan(0);
    expect(s.base_station.messages[0]).toMatchObject({ via: "SEND_BS", type: "avgMsg" });
    expect(Object.keys(s.radio)).toEqual(expect.arrayContaining(["frames_sent", "lost", "acked", "collisions"]));
    const b = terra(monitor, "--nodes", "9", "--duration", "2min", "--loss", "0.1", "--sensors", "sine:amp=80", "--trace", "b.jsonl");
    expect(b.code, b.err).toBe(0);
    expect(b.out).toMatch(/Base station \(node 1\) received \d+ message/);
    expect(b.out).toMatch(/Radio\n {2}frames sent/);
    const ta = readFileSync(join(dir, "a.jsonl"));
    expect(ta.length).toBeGreaterThan(10_000);
    expect(ta.equals(readFileSync(join(dir, "b.jsonl")))).toBe(true);
  }, 120_000);

  it("rejects bad input naming the file, line and field, before simulating anything", () => {
    writeFileSync(join(dir, "pos.txt"), "node 1 0 0\nnode 2 10 zero\n");
    const p = terra(monitor, "--topology", "file:pos.txt", "--trace", "never.jsonl");
    expect(p.code).toBe(1);
    expect(p.err).toBe('terra: pos.txt:2: field "y": must be a number, got "zero"\n');
    expect(() => readFileSync(join(dir, "never.jsonl"))).toThrow();

    const t = terra(monitor, "--topology", "hexagonal");
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/--topology: unknown topology "hexagonal" \(grid, line, random, file:PATH\)/);

    writeFileSync(join(dir, "big.terra"), '#include "TerraGrp.defs"\nvar ubyte[900] big;\nbig[3] = 1;\nawait FOREVER;\n');
    const big = terra("big.terra", "--nodes", "4");
    expect(big.code).toBe(1);
    expect(big.err).toMatch(/big\.terra: the script needs \d+ bytes of mote memory .* but micaz has 768 bytes for scripts with TerraGrp; it fits .*samr21/);
    expect(terra("big.terra", "--nodes", "4", "--platform", "samr21", "--duration", "1s", "--json").code).toBe(0);

    expect(terra(monitor, "--nodes", "4", "--duration", "soon").code).toBe(2);
    expect(terra(monitor, "--nodes", "4", "--base", "99").code).toBe(1);
  }, 120_000);
  it("stops a mote that is never idle (test/fixtures/c/stall.terra) and goes on with the others and the summary", () => {
    const p = terra(resolve("test/fixtures/c/stall.terra"), "--nodes", "2", "--duration", "5s");
    expect(p.code, p.err).toBe(0);
    expect(p.out).toContain("Motes: 2 up at the end, 2 stopped by a fault;");
    expect(p.out.match(/FAULT: more than 1000000 reactions and async slices at logical time 2000 ms: the mote is never idle/g)).toHaveLength(2);
  }, 120_000);
});
