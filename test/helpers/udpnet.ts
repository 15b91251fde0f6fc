/**
 * A UDP dissemination network for tests (components/dissemination/udp.ts):
 * C motes (firmware-host's terra-diss-mote, built with make on first use)
 * and TypeScript motes (UdpMote) on one multicast group on the loopback
 * interface, as real processes in real time, with their JSON-lines logs.
 * Used by test/diss-c-interop.test.ts and test/gateway-udp.test.ts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeDatagram, type DissParams, type MoteEvent, type Radio, UdpMote } from "../../components/dissemination";
import { formatPsk, type ManifestAuth, publicKeyPem } from "../../components/security";
import { FIRMWARE_DIR, make } from "../../firmware-host/harness";
import { authFor, CFG, KEYS, PSK, V1 } from "./net";

export const DISS_MOTE_BIN = join(FIRMWARE_DIR, "build/host/terra-diss-mote");
export const GROUP = "239.255.42.99";

/** The binary, built once (make); every test that needs it fails (not skips) with the build's error. */
let build: Error | "ok" | undefined;
export function dissMoteBin(): string {
  if (build === undefined) {
    try {
      make("host", ["diss"]);
      build = "ok";
    } catch (e) {
      build = e as Error;
    }
  }
  if (build !== "ok") throw build;
  return DISS_MOTE_BIN;
}

/** Ports of this test file: ten from a per-process base (vitest runs each file in its own process). */
let nextPort = 41000 + (process.pid % 2000) * 10;

export interface MoteSpec {
  id: number;
  kind: "ts" | "c";
  neighbours: number[];
  /** The factory image in the mote's store (default V1). */
  initial?: Uint8Array;
  loss?: number;
  auth?: "ed25519" | "psk";
  /** C: more flags. */
  args?: string[];
  /** TS: protocol parameters, a radio wrapper (adversaries), script space. */
  params?: Partial<DissParams>;
  wrapRadio?: (r: Radio) => Radio;
  scriptSpace?: number;
  /** TS: the Ed25519 key the mote authenticates with (default the network's). */
  auth25519?: ManifestAuth;
}

export interface Mote {
  spec: MoteSpec;
  events: MoteEvent[];
  store: string;
  proc?: ChildProcess;
  exited?: Promise<void>;
  ts?: UdpMote;
  stderr: string[];
}

/**
 * A network of motes on one multicast group and port (one per test): C
 * motes as processes, TypeScript motes in this process, every mote's log
 * lines collected. Stores and files go to `dir`, where the network's public
 * key (net.pub) and PSK (net.psk) are written.
 */
export class UdpNet {
  readonly port = nextPort++;
  readonly motes = new Map<number, Mote>();
  /** Every datagram seen on the group (from, frame), when capturing. */
  readonly captured: { from: number; frame: Uint8Array }[] = [];
  private listener?: dgram.Socket;

  constructor(readonly dir: string) {
    if (!existsSync(join(this.dir, "net.pub"))) this.file("net.pub", publicKeyPem(KEYS.publicKey));
    if (!existsSync(join(this.dir, "net.psk"))) this.file("net.psk", formatPsk(PSK));
  }

  /** Write a file in the network's directory; @returns its path. */
  file(name: string, data: Uint8Array | string): string {
    const p = join(this.dir, name);
    writeFileSync(p, data);
    return p;
  }

  async capture(): Promise<void> {
    const s = dgram.createSocket({ type: "udp4", reuseAddr: true });
    await new Promise<void>((res) => s.bind(this.port, GROUP, () => res()));
    s.addMembership(GROUP, "127.0.0.1");
    s.on("message", (m) => {
      const d = decodeDatagram(new Uint8Array(m));
      if (typeof d !== "string") this.captured.push({ from: d.from, frame: d.frame });
    });
    this.listener = s;
  }

  async start(spec: MoteSpec, extra: { inject?: Uint8Array; injectAt?: number } = {}): Promise<Mote> {
    const store = join(this.dir, `p${this.port}-m${spec.id}`);
    const prev = this.motes.get(spec.id);
    const m: Mote = { spec, events: prev?.events ?? [], store, stderr: [] };
    this.motes.set(spec.id, m);
    const initial = spec.initial ?? V1;
    const mode = spec.auth ?? "ed25519";
    if (spec.kind === "c") {
      const args = [
        "--id", String(spec.id), "--store", store, "--udp", `${GROUP}:${this.port}`, "--neighbours", spec.neighbours.join(","),
        "--capsule", this.file(`init-${this.port}-${spec.id}.cap`, initial), "--seed", String(spec.id), "--duration", "30000",
        ...(mode === "psk" ? ["--psk", join(this.dir, "net.psk"), "--key", join(this.dir, "net.pub")] : ["--key", join(this.dir, "net.pub")]),
        ...(spec.loss ? ["--loss", String(spec.loss)] : []),
        ...(extra.inject ? ["--inject", this.file(`inject-${this.port}-${spec.id}.cap`, extra.inject), "--inject-at", String(extra.injectAt ?? 0)] : []),
        ...(spec.args ?? []),
      ];
      const p = spawn(dissMoteBin(), args, { stdio: ["ignore", "pipe", "pipe"] });
      m.proc = p;
      let buf = "";
      p.stdout!.on("data", (chunk: Buffer) => {
        buf += chunk.toString();
        let k;
        while ((k = buf.indexOf("\n")) >= 0) {
          m.events.push(JSON.parse(buf.slice(0, k)) as MoteEvent);
          buf = buf.slice(k + 1);
        }
      });
      p.stderr!.on("data", (c: Buffer) => m.stderr.push(c.toString()));
      m.exited = new Promise((res) => p.on("close", () => res())); // after stdout's last line
    } else {
      m.ts = await UdpMote.start({
        id: spec.id, configId: CFG, scriptSpace: spec.scriptSpace ?? 65535, auth: spec.auth25519 ?? authFor(mode), publicKey: KEYS.publicKey,
        store, initial, seed: spec.id, params: spec.params, wrapRadio: spec.wrapRadio,
        udp: { group: GROUP, port: this.port, neighbours: spec.neighbours, loss: spec.loss, seed: spec.id },
        log: (e) => m.events.push(e),
      });
    }
    return m;
  }

  mote(id: number): Mote {
    const m = this.motes.get(id);
    if (!m) throw new Error(`no mote ${id}`);
    return m;
  }

  /** The version a mote last installed (or booted with). */
  version(id: number): number {
    let v = 0;
    for (const e of this.mote(id).events) if (e.ev === "install" || e.ev === "boot") v = Math.max(v, e.version as number);
    return v;
  }

  events(id: number, ev: string): MoteEvent[] {
    return this.mote(id).events.filter((e) => e.ev === ev);
  }

  /** Wait until cond() holds (checked every 20 ms); @throws with `what` and the motes' state after timeoutMs. */
  async until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > end) {
        const state = [...this.motes.values()].map((m) => `${m.spec.kind}${m.spec.id}: v${this.version(m.spec.id)}${m.stderr.length ? ` stderr ${m.stderr.join("")}` : ""}`);
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${state.join(", ")}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Every mote has logged boot. */
  booted(): Promise<void> {
    return this.until(() => [...this.motes.keys()].every((id) => this.events(id, "boot").length > 0), 15_000, "every mote to boot");
  }

  /** Stop one mote: SIGTERM (C: it logs `end`) or SIGKILL; TS: UdpMote.stop. */
  async stop(id: number, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const m = this.mote(id);
    if (m.proc) {
      if (m.proc.exitCode === null && m.proc.signalCode === null) m.proc.kill(signal);
      await m.exited;
      m.proc = undefined;
    } else if (m.ts) {
      await m.ts.stop();
      m.ts = undefined;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.motes.keys()].map((id) => this.stop(id)));
    this.listener?.close();
  }
}
