/**
 * `terra sim`: compile a script and run it on a whole simulated network of
 * motes (components/sim), then print what the base station received and the
 * per-node and radio statistics.
 */
import { closeSync, existsSync, openSync, readdirSync, statSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import {
  buildTopology, type ChurnAction, DEFAULT_SENSORS, formatSummary, type LossModel, parseDuration, parseSchedule, parseSensorSpec,
  SimInputError, Simulator, summarize, type TopologySpec,
} from "../components/sim/index";
import { loadCapsule } from "../vm/verify";
import { collect, compileFile, InputError, intOption, printDiagnostics, readText, sha256, UsageError } from "./util";

interface SimCliOptions {
  include: string[];
  nodes?: string;
  topology: string;
  loss: string;
  duration: string;
  seed: string;
  base: string;
  range: string;
  spacing: string;
  trace?: string;
  sensors: string;
  schedule?: string;
  churn: string[];
  bootJitter: string;
  platform?: string;
  json?: boolean;
  progress?: boolean;
}

const numberOption = (v: string, name: string, lo: number, hi: number): number => {
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x) || x < lo || x > hi) throw new UsageError(`${name} must be a number in ${lo}..${hi}, got "${v}"`);
  return x;
};

/** Buffered JSONL writer (synchronous, so the file is complete when the command ends). */
class TraceFile {
  private fd: number;
  private buf: string[] = [];
  private size = 0;
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, "w");
    } catch (e) {
      throw new InputError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  line = (s: string): void => {
    this.buf.push(s);
    this.size += s.length + 1;
    if (this.size > 1 << 20) this.flush();
  };
  flush(): void {
    if (!this.buf.length) return;
    writeSync(this.fd, `${this.buf.join("\n")}\n`);
    this.buf = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Sensor CSV files of a directory: <id>.csv or node<id>.csv. */
function csvDir(dir: string): Map<number, { path: string; text: string }> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new SimInputError("--sensors", null, null, `csv:${dir}: no such directory`);
  const m = new Map<number, { path: string; text: string }>();
  for (const f of readdirSync(dir).sort()) {
    const r = /^(?:node[-_]?)?(\d+)\.csv$/i.exec(f);
    if (!r) continue;
    const p = join(dir, f);
    m.set(Number(r[1]), { path: p, text: readText(p, "sensor trace") });
  }
  if (m.size === 0) throw new SimInputError("--sensors", null, null, `csv:${dir}: no <id>.csv files`);
  return m;
}

export function registerSim(program: Command): void {
  program.command("sim")
    .description("compile a script and run it on a simulated network of motes (virtual time, faster than real time)")
    .argument("<file>", "Céu-T script (.terra)")
    .option("-I, --include <dir>", "add a directory to the #include search path (repeatable)", collect, [])
    .option("--nodes <n>", "number of motes (grid, line, random; default 25)")
    .option("--topology <kind>", "grid | line | random | file:PATH (node positions or links with reception ratios)", "grid")
    .option("--loss <p>", "packet loss per link 0..1, or \"distance\" for a reception curve of distance", "0")
    .option("--duration <time>", "simulated time: 600000, 600s, 10min, 1h", "10min")
    .option("--seed <n>", "seed of every random choice (same seed, same run)", "1")
    .option("--base <id>", "node id of the base station", "1")
    .option("--range <m>", "radio range in metres", "15")
    .option("--spacing <m>", "distance between neighbours of a grid or line (metres)", "10")
    .option("--sensors <model>", "constant[:TEMP=v,...] | walk[:step=,spread=,revert=] | sine[:amp=,period=,noise=] | csv:DIR", DEFAULT_SENSORS)
    .option("--schedule <file>", "churn schedule: lines \"<time> stop|start|reboot|add <node> [x y]\"")
    .option("--churn <action>", "one churn action, e.g. \"5min reboot 7\" (repeatable)", collect, [])
    .option("--boot-jitter <ms>", "motes boot at a random ms in [0, jitter)", "1000")
    .option("--platform <name>", "mote platform whose script memory the script must fit (default micaz, or the smallest listed)")
    .option("--trace <file>", "write every event as JSON lines (node, time, kind, data)")
    .option("--json", "print the summary as one JSON object")
    .option("--no-progress", "no progress bar")
    .action((file: string, opts: SimCliOptions) => {
      // ---- options (usage errors first: nothing is compiled or simulated on a bad command line)
      const seed = intOption(opts.seed, "--seed", 0xffffffff);
      const baseId = intOption(opts.base, "--base", 0xfffe);
      const range = numberOption(opts.range, "--range", 0.001, 1e6);
      const spacing = numberOption(opts.spacing, "--spacing", 0, 1e6);
      const jitter = intOption(opts.bootJitter, "--boot-jitter", 86_400_000);
      const duration = parseDuration(opts.duration);
      if (duration === undefined || duration <= 0) throw new UsageError(`--duration must be a time like 600000, 600s, 10min or 1h, got "${opts.duration}"`);
      let loss: LossModel;
      if (opts.loss === "distance") loss = { kind: "distance" };
      else loss = { kind: "uniform", loss: numberOption(opts.loss, "--loss", 0, 1) };
      const topoArg = opts.topology;
      let kind: TopologySpec["kind"];
      let topoFile: string | undefined;
      if (topoArg.startsWith("file:")) {
        kind = "file";
        topoFile = topoArg.slice(5);
        if (!topoFile) throw new UsageError("--topology file: needs a path, e.g. file:nodes.txt");
      } else if (topoArg === "grid" || topoArg === "line" || topoArg === "random") {
        kind = topoArg;
      } else {
        throw new UsageError(`--topology: unknown topology "${topoArg}" (grid, line, random, file:PATH)`);
      }
      if (kind === "file" && opts.nodes !== undefined) throw new UsageError("--nodes does not apply to --topology file: (the file lists the nodes)");
      const nodes = opts.nodes === undefined ? 25 : intOption(opts.nodes, "--nodes", 65534);
      if (nodes < 1) throw new UsageError("--nodes must be at least 1");

      try {
        // ---- input files
        const sensors = parseSensorSpec(opts.sensors, csvDir);
        const churn: ChurnAction[] = [];
        if (opts.schedule) churn.push(...parseSchedule(opts.schedule, readText(opts.schedule, "schedule")));
        opts.churn.forEach((c) => churn.push(...parseSchedule("--churn", c)));
        const spec: TopologySpec = {
          kind, nodes, spacing, range, loss, seed,
          file: topoFile ? { path: topoFile, text: readText(topoFile, "topology") } : undefined,
          extra: churn.filter((a) => a.action === "add").map((a) => ({ id: a.node, x: a.x, y: a.y })),
        };
        const topo = buildTopology(spec);
        if (!topo.indexOf.has(baseId)) throw new InputError(`--base: node ${baseId} is not in the topology (node ids ${topo.ids[0]}..${topo.ids[topo.n - 1]})`);
        for (const a of churn) {
          if (!topo.indexOf.has(a.node)) throw new SimInputError(a.file, a.line, "node", `node ${a.node} is not in the topology`);
        }

        // ---- the script
        const r = compileFile(file, { include: opts.include });
        if (!opts.json || !r.ok) printDiagnostics(r.diagnostics, r.sources);
        if (!r.ok) {
          process.exitCode = 1;
          return;
        }
        const platforms = r.report!.platforms;
        const platform = opts.platform ?? (platforms.some((p) => p.platform === "micaz") ? "micaz" : [...platforms].sort((a, b) => a.script_space - b.script_space)[0]?.platform);
        const fit = platforms.find((p) => p.platform === platform);
        if (!fit) throw new UsageError(`--platform: ${r.config!.name} has no platform "${platform}" (platforms: ${platforms.map((p) => p.platform).join(", ")})`);
        if (!fit.fits) {
          const ok = platforms.filter((p) => p.fits).map((p) => p.platform);
          throw new InputError(
            `${file}: the script needs ${fit.needs} bytes of mote memory (code ${r.report!.code_bytes}, data ${r.report!.data_bytes}, stacks ${r.report!.stack_bytes}) ` +
              `but ${platform} has ${fit.script_space} bytes for scripts with ${r.config!.name}` + (ok.length ? `; it fits ${ok.join(", ")} (--platform)` : ""),
          );
        }
        const capsule = loadCapsule(r.capsule!, { sha256 });

        // ---- run
        const trace = opts.trace ? new TraceFile(opts.trace) : null;
        let sim: Simulator;
        try {
          sim = new Simulator({ capsule, cfg: r.config!, topology: topo, sensors, seed, base: baseId, bootJitterMs: jitter, churn, trace: trace?.line });
        } catch (e) {
          trace?.close();
          if (e instanceof RangeError || e instanceof Error) throw new InputError(e.message);
          throw e;
        }
        const showBar = !opts.json && opts.progress !== false && process.stderr.isTTY;
        const bar = showBar
          ? new cliProgress.SingleBar({ format: "sim |{bar}| {percentage}% | {value}/{total} s simulated | {speed}× real time", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
          : null;
        const totalS = Math.round(duration / 1000);
        bar?.start(totalS, 0, { speed: "-" });
        const t0 = performance.now();
        const steps = Math.max(1, Math.min(1000, Math.ceil(duration / 1000)));
        for (let k = 1; k <= steps; k++) {
          sim.runUntil(Math.round((duration * k) / steps));
          if (bar) {
            const wall = (performance.now() - t0) / 1000;
            bar.update(Math.round((duration * k) / steps / 1000), { speed: wall > 0 ? ((duration * k) / steps / 1000 / wall).toFixed(0) : "-" });
          }
        }
        bar?.stop();
        const wall = performance.now() - t0;
        trace?.close();
        const summary = summarize(sim, {
          script: basename(file), config: r.config!.name, platform: platform!, topology: topo.describe, nodes: topo.n, seed,
          duration_ms: duration, loss: loss.kind === "distance" ? "distance" : String(loss.loss), sensors: opts.sensors, wall_ms: Math.round(wall),
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else process.stdout.write(formatSummary(summary));
      } catch (e) {
        if (e instanceof SimInputError) throw new InputError(e.message);
        throw e;
      }
    });
}
