/**
 * `terra sim`: compile a script and run it on a whole simulated network of
 * motes (components/sim), then print what the base station received and the
 * per-node and radio statistics. With --deploy-at, every mote also runs
 * capsule dissemination and a new signed version is injected at the base
 * station during the run (components/sim/dissemination.ts).
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, statSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import type { Configuration } from "../compiler/config";
import {
  buildTopology, type ChurnAction, DEFAULT_SENSORS, formatSummary, type LossModel, parseDuration, parseSchedule, parseSensorSpec,
  SimInputError, Simulator, summarize, type TopologySpec,
} from "../components/sim/index";
import type { DisseminationOptions } from "../components/sim/dissemination";
import {
  checkSignedCapsule, generateNetworkKey, KeyError, keyFingerprint, loadPrivateKey, loadPsk, type ManifestAuth, signCapsuleWith,
} from "../components/security/index";
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
  deployAt?: string;
  deploy?: string;
  key?: string;
  psk?: string;
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
    .option("--deploy-at <time>", "inject a new signed version at the base station at this time; every mote runs capsule dissemination")
    .option("--deploy <script>", "the new version's script (default: the same script, recompiled with version + 1)")
    .option("--key <file>", "the network's private key to sign capsules (terra keygen; default: an ephemeral key for this run)")
    .option("--psk <file>", "motes authenticate blocks with this pre-shared key (HMAC-SHA-256 tags) instead of Ed25519")
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
      let deployAt: number | undefined;
      if (opts.deployAt !== undefined) {
        deployAt = parseDuration(opts.deployAt);
        if (deployAt === undefined) throw new UsageError(`--deploy-at must be a time like 60000, 60s or 1min, got "${opts.deployAt}"`);
        if (deployAt >= duration) throw new UsageError(`--deploy-at ${opts.deployAt} is not before the end of the run (--duration ${opts.duration})`);
      } else {
        for (const [o, v] of [["--deploy", opts.deploy], ["--key", opts.key], ["--psk", opts.psk]] as const) if (v !== undefined) throw new UsageError(`${o} needs --deploy-at <time>`);
      }

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
        // ---- dissemination: signed versions 1 (every mote's initial program) and 2 (injected)
        const deployment = deployAt === undefined ? undefined : prepareDeployment(file, opts, r.capsule!, r.config!, fit.script_space);
        const capsule = loadCapsule(deployment?.initial ?? r.capsule!, { sha256 });

        // ---- run
        const trace = opts.trace ? new TraceFile(opts.trace) : null;
        let sim: Simulator;
        try {
          sim = new Simulator({
            capsule, cfg: r.config!, topology: topo, sensors, seed, base: baseId, bootJitterMs: jitter, churn, trace: trace?.line, dissemination: deployment?.options,
          });
          if (deployment) sim.diss!.injectAt(deployAt!, deployment.next);
        } catch (e) {
          trace?.close();
          if (e instanceof RangeError || e instanceof Error) throw new InputError(e.message);
          throw e;
        }
        const showBar = !opts.json && opts.progress !== false && process.stderr.isTTY;
        const bars = showBar ? new cliProgress.MultiBar({ stream: process.stderr, hideCursor: true, barsize: 30, format: "{name} |{bar}| {value}/{total} {unit}" }, cliProgress.Presets.shades_classic) : null;
        const totalS = Math.round(duration / 1000);
        const bar = bars?.create(totalS, 0, { name: "sim     ", unit: "s" });
        const cover = deployment ? bars?.create(topo.n, 0, { name: "coverage", unit: `motes (v${deployment.version} at ${opts.deployAt})` }) : undefined;
        const t0 = performance.now();
        const steps = Math.max(1, Math.min(1000, Math.ceil(duration / 1000)));
        for (let k = 1; k <= steps; k++) {
          sim.runUntil(Math.round((duration * k) / steps));
          if (bar) {
            const wall = (performance.now() - t0) / 1000;
            const simS = Math.round((duration * k) / steps / 1000);
            bar.update(simS, { unit: `s, ${wall > 0 ? (simS / wall).toFixed(0) : "-"}× real time` });
            const p = sim.diss?.progress();
            if (cover && p) {
              cover.setTotal(p.reachable);
              cover.update(p.installed, { unit: `motes run v${p.version}${p.coverageMs !== null ? `, all at ${(p.coverageMs / 1000).toFixed(1)} s` : ""}` });
            }
          }
        }
        bars?.stop();
        const wall = performance.now() - t0;
        trace?.close();
        const summary = summarize(sim, {
          script: basename(file), config: r.config!.name, platform: platform!, topology: topo.describe, nodes: topo.n, seed,
          duration_ms: duration, loss: loss.kind === "distance" ? "distance" : String(loss.loss), sensors: opts.sensors, wall_ms: Math.round(wall),
          ...(deployment ? { key: deployment.key } : {}),
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else process.stdout.write(formatSummary(summary));
      } catch (e) {
        if (e instanceof SimInputError) throw new InputError(e.message);
        throw e;
      }
    });
}

/** The capsules and options of a run with --deploy-at. @throws InputError when a key is unusable or the new version would be refused. */
function prepareDeployment(file: string, opts: SimCliOptions, unsigned: Uint8Array, config: Configuration, scriptSpace: number): {
  initial: Uint8Array; next: Uint8Array; version: number; key: string; options: DisseminationOptions;
} {
  let privateKey: KeyObject, publicKey: KeyObject, key: string;
  try {
    if (opts.key) {
      privateKey = loadPrivateKey(opts.key);
      publicKey = createPublicKey(privateKey);
      key = `${opts.key} (fingerprint ${keyFingerprint(publicKey)})`;
    } else {
      ({ privateKey, publicKey } = generateNetworkKey());
      key = `ephemeral, generated for this run (fingerprint ${keyFingerprint(publicKey)}; --key to use the network's)`;
    }
  } catch (e) {
    if (e instanceof KeyError) throw new InputError(e.message);
    throw e;
  }
  const auth: ManifestAuth = opts.psk ? { mode: "psk", psk: pskOf(opts.psk) } : { mode: "ed25519", publicKey };
  const initial = signCapsuleWith(unsigned, privateKey);
  const newFile = opts.deploy ?? file;
  const version = 2;
  const r = compileFile(newFile, { include: opts.include, programVersion: version });
  if (!opts.json || !r.ok) printDiagnostics(opts.deploy ? r.diagnostics : [], r.sources);
  if (!r.ok) throw new InputError(`${newFile}: the script has errors`);
  if (r.config!.id !== config.id) throw new InputError(`--deploy ${newFile}: it is for configuration ${r.config!.name}, the motes run ${config.name}`);
  const next = signCapsuleWith(r.capsule!, privateKey);
  const check = checkSignedCapsule(next, { publicKey, configId: config.id, installedVersion: 1, scriptSpace });
  if (!check.ok) throw new InputError(`--deploy ${newFile}: the base station would refuse it: ${check.rejection.reason}: ${check.rejection.detail}`);
  return { initial, next, version, key, options: { auth, publicKey, initial, scriptSpace } };
}

function pskOf(path: string): Uint8Array {
  try {
    return loadPsk(path);
  } catch (e) {
    if (e instanceof KeyError) throw new InputError(e.message);
    throw e;
  }
}
