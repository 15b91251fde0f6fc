/**
 * The C VM on the host (firmware-host/build/host/terra-mote): building it
 * when it is missing or older than its sources, running a capsule through
 * it (`terra run --vm c`), and a batch mode for tests and benchmarks (one
 * process, one JSON job per line).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Configuration } from "../compiler/config";
import type { RunResult } from "../components/run";
import { configToJson } from "../firmware-host/config-json";
import { FIRMWARE_DIR } from "../firmware-host/harness";
import { StallError } from "../vm/driver";
import { InputError } from "./util";

function newestSource(dir: string): number {
  let t = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === "build" || e.name.startsWith(".")) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (d === dir && e.name === "platform") {
          walk(join(p, "host"));
        } else if (e.name !== "fuzz") walk(p);
      } else if (/\.(c|h)$/.test(e.name) || e.name === "Makefile") t = Math.max(t, statSync(p).mtimeMs);
    }
  };
  walk(dir);
  return t;
}

/** Path of terra-mote, built (make -C firmware-host PLATFORM=host) when missing or stale. */
export function moteBinary(): string {
  const dir = FIRMWARE_DIR;
  const bin = join(dir, "build/host/terra-mote");
  if (!existsSync(bin) || statSync(bin).mtimeMs < newestSource(dir)) {
    const r = spawnSync("make", ["-C", dir, "PLATFORM=host"], { encoding: "utf8" });
    if (r.status !== 0) {
      throw new InputError(`cannot build the C VM (make -C ${dir} PLATFORM=host):\n${r.stderr || r.stdout || r.error?.message}`);
    }
  }
  return bin;
}

export interface CRunOptions {
  /** Trace file (JSON) as `terra run --inputs` takes it. */
  traceFile?: string;
  until?: number;
  nodeId?: number;
  seed?: number;
  /** The compiler's bound, reported as stats.bound. */
  bound?: number | null;
  /** terra-mote --max-reactions (vm/driver.ts RunVirtualOptions.maxReactions). */
  maxReactions?: number;
}

/** What terra-mote prints: the JSON of `terra run --json`. */
export interface CRunJson {
  outputs: RunResult["outputs"];
  errors: RunResult["errors"];
  stats: RunResult["stats"] & { halted: boolean; end_ms: number; bound?: number | null };
}

/**
 * Run a capsule on the C VM with the configuration's components, as `terra run` does.
 * @throws StallError when virtual time cannot advance (terra-mote's exit code 3), InputError for any other failure
 */
export function runMoteC(capsule: Uint8Array, cfg: Configuration, opts: CRunOptions = {}): Omit<RunResult, "state"> & { json: CRunJson } {
  const bin = moteBinary();
  const dir = mkdtempSync(join(tmpdir(), "terra-c-"));
  try {
    const cap = join(dir, "script.cap");
    const conf = join(dir, "config.json");
    writeFileSync(cap, capsule);
    writeFileSync(conf, JSON.stringify(configToJson(cfg)));
    const args = [cap, "--config", conf, "--node-id", String(opts.nodeId ?? 1)];
    if (opts.traceFile) args.push("--inputs", resolve(opts.traceFile));
    if (opts.until !== undefined) args.push("--until", String(opts.until));
    if (opts.seed !== undefined) args.push("--seed", String(opts.seed));
    if (opts.bound !== undefined) args.push("--bound", JSON.stringify(opts.bound));
    if (opts.maxReactions !== undefined) args.push("--max-reactions", String(opts.maxReactions));
    const r = spawnSync(bin, args, { encoding: "utf8", maxBuffer: 1 << 30 });
    const message = (r.stderr || `terra-mote failed (${r.signal ?? r.status})`).trim().replace(/^terra-mote: /, "");
    if (r.status === 3) throw new StallError(message);
    if (r.status !== 0) throw new InputError(message);
    const json = JSON.parse(r.stdout) as CRunJson;
    const { halted, end_ms: endMs, bound: _b, ...stats } = json.stats;
    return { outputs: json.outputs, errors: json.errors, stats, halted, end_ms: endMs, json };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One job of terra-mote's batch mode. */
export interface CJob {
  capsule: Uint8Array;
  /** The configuration (omit for the bundled one of the capsule's id; ignored with raw). */
  config?: Configuration;
  /** A trace as `terra run` reads it (parsed JSON), or for raw jobs [{at, id, aux, value}]. */
  trace?: unknown[];
  until?: number;
  nodeId?: number;
  seed?: number;
  raw?: boolean;
  /** Only load and verify: the result is {accepted, offset?, reason?}. */
  verify?: boolean;
  instructionLimit?: number;
  maxAsyncSlices?: number;
  maxReactions?: number;
}

/** A job's result: terra-mote's JSON, or the message of a failure (rejected capsule, bad trace, host error; stall: virtual time cannot advance). */
export type CJobResult = { ok: CRunJson & Record<string, unknown> } | { error: string; stall?: true };

/**
 * Run many jobs through one terra-mote process. variant: a build of firmware-host/Makefile's
 * host targets, terra-mote-<variant> (dispatch switch or goto; sum16/sum32: the verifier's
 * header sums in 16 or 32 bits with a 16 KB block); default terra-mote.
 */
export function runBatchC(jobs: CJob[], opts: { variant?: "switch" | "goto" | "sum16" | "sum32" } = {}): CJobResult[] {
  const bin = opts.variant ? moteBinary().replace(/terra-mote$/, `terra-mote-${opts.variant}`) : moteBinary();
  const dir = mkdtempSync(join(tmpdir(), "terra-c-"));
  const cfgJson = new Map<Configuration, unknown>();
  try {
    const lines = jobs.map((j) => {
      let config: unknown;
      if (j.config && !j.raw) {
        if (!cfgJson.has(j.config)) cfgJson.set(j.config, configToJson(j.config));
        config = cfgJson.get(j.config);
      }
      return JSON.stringify({
        capsule: Buffer.from(j.capsule).toString("hex"),
        config,
        trace: j.trace,
        until: j.until,
        nodeId: j.nodeId,
        seed: j.seed,
        raw: j.raw,
        verify: j.verify,
        instructionLimit: j.instructionLimit,
        maxAsyncSlices: j.maxAsyncSlices,
        maxReactions: j.maxReactions,
      });
    });
    const file = join(dir, "jobs.jsonl");
    writeFileSync(file, `${lines.join("\n")}\n`);
    const out = execFileSync(bin, ["--batch", file], { encoding: "utf8", maxBuffer: 1 << 30 });
    const res = out.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as CJobResult);
    if (res.length !== jobs.length) throw new Error(`terra-mote --batch: ${jobs.length} jobs, ${res.length} results`);
    return res;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
