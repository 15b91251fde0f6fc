/**
 * `terra keygen`, `terra deploy`, `terra gateway`, `terra status`: getting
 * capsules onto motes (issue 5). Thin: the work is in components/security,
 * components/dissemination and components/gateway.
 *
 *   terra keygen [-o net.key] [--psk]
 *   terra deploy alarm.terra coap://[::1]:5683/vm --key net.key [--wait]
 *   terra gateway --sim alarm.terra --nodes 25 --key net.key.pub [--port 5683]
 *   terra gateway --udp 239.255.42.99:47474 --key net.key.pub --store gw [--capsule v1.cap]
 *   terra status coap://[::1]:5683
 *
 * Exit codes: 0 success; 1 bad input (a script with errors, a key file, a
 * capsule the gateway refuses, no answer); 2 usage.
 */
import type { KeyObject } from "node:crypto";
import { extname } from "node:path";
import type { Command } from "commander";
import { decode as cborDecode } from "cborg";
import type { CompileResult } from "../compiler/compile";
import { CapsuleError } from "../vm/capsule";
import { DEFAULT_UDP_GROUP, DEFAULT_UDP_IFACE, DEFAULT_UDP_PORT } from "../components/dissemination/index";
import { coapRequest, type CoapResponse, CoapUriError, Gateway, parseCoapUri, SimNetwork, UdpNetwork } from "../components/gateway/index";
import {
  formatPsk, generateNetworkKey, generatePsk, KeyError, keyFingerprint, loadPrivateKey, loadPsk, loadPublicKey, type ManifestAuth, parseHeader,
  privateKeyPem, publicKeyPem, rawPublicKey, signCapsuleWith, toHex, writeKeyFile,
} from "../components/security/index";
import { collect, compileFile, InputError, intOption, printDiagnostics, readBytes, UsageError } from "./util";

/** Turn a component's error into the CLI's (exit 1). */
function keyErrors<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof KeyError) throw new InputError(e.message);
    throw e;
  }
}

function target(uri: string) {
  try {
    return parseCoapUri(uri);
  } catch (e) {
    if (e instanceof CoapUriError) throw new UsageError(e.message);
    throw e;
  }
}

function floatOption(v: string, name: string, min: number, max: number): number {
  const x = Number(v);
  if (!/^[0-9.]+$/.test(v) || !Number.isFinite(x) || x < min || x > max) throw new UsageError(`${name} must be a number ${min}..${max}, got "${v}"`);
  return x;
}

async function ask(uri: string, o: Parameters<typeof coapRequest>[1]): Promise<CoapResponse> {
  try {
    return await coapRequest(uri, o);
  } catch (e) {
    throw new InputError(`${uri}: ${(e as Error).message}`);
  }
}

const CODE_NAMES: Record<string, string> = {
  "2.04": "Changed", "2.05": "Content", "4.00": "Bad Request", "4.01": "Unauthorized", "4.04": "Not Found", "4.05": "Method Not Allowed",
  "4.06": "Not Acceptable", "4.08": "Request Entity Incomplete", "4.09": "Conflict", "4.13": "Request Entity Too Large",
  "4.15": "Unsupported Content-Format", "4.22": "Unprocessable Entity", "5.00": "Internal Server Error", "5.03": "Service Unavailable",
};
const codeText = (c: string) => `${c} ${CODE_NAMES[c] ?? ""}`.trim();

/** Read a JSON (or CBOR) resource. @throws InputError on a non-2.05 answer or a bad document. */
async function getJson(uri: string, timeoutMs: number): Promise<Record<string, unknown> & unknown[]> {
  const r = await ask(uri, { timeoutMs, accept: "application/json" });
  if (r.code !== "2.05") throw new InputError(`${uri}: ${codeText(r.code)}: ${r.payload.toString()}`);
  try {
    return r.format === "application/cbor" ? cborDecode(r.payload) : JSON.parse(r.payload.toString());
  } catch {
    throw new InputError(`${uri}: the answer is not a JSON document`);
  }
}

/** The base URI (scheme, host, port) of a coap:// URI. */
function base(uri: string): string {
  const t = target(uri);
  const host = t.hostname.includes(":") ? `[${t.hostname}]` : t.hostname;
  return `coap://${host}:${t.port}`;
}

interface GatewayCliOptions {
  sim?: string; udp?: string; key: string; port: string; bind: string; auth: string; psk?: string; quiet?: boolean;
  nodes: string; topology: string; loss: string; seed: string; platform: string; sensors: string; include: string[];
  store?: string; capsule?: string; id: string; iface: string;
}
const SIM_ONLY: (keyof GatewayCliOptions)[] = ["nodes", "topology", "loss", "seed", "platform", "sensors", "include"];
const UDP_ONLY: (keyof GatewayCliOptions)[] = ["store", "capsule", "id", "iface"];

/** What `terra gateway` fronts: the network, how to describe it, and the name of its version 1 (if known). */
interface Fronted {
  network: SimNetwork | UdpNetwork;
  about: string;
  name?: string;
}

/** `terra gateway --sim`: compile the script and start the simulated network. @throws UsageError, InputError. */
function simNetwork(opts: GatewayCliOptions, script: string, publicKey: KeyObject, psk: Uint8Array | undefined): Fronted {
  const nodes = intOption(opts.nodes, "--nodes", 4096);
  if (nodes < 1) throw new UsageError("--nodes must be 1 or more");
  if (opts.topology !== "grid" && opts.topology !== "random") throw new UsageError(`--topology must be grid or random, got "${opts.topology}"`);
  const loss = floatOption(opts.loss, "--loss", 0, 0.99);
  const seed = intOption(opts.seed, "--seed", 0xffffffff);
  const auth: ManifestAuth = psk ? { mode: "psk", psk } : { mode: "ed25519", publicKey };
  const r = compileFile(script, { include: opts.include, programVersion: 1 });
  printDiagnostics(r.diagnostics, r.sources);
  if (!r.ok) throw new InputError(`${script}: the script has errors`);
  try {
    const network = new SimNetwork({
      initial: r.capsule!, config: r.config!, nodes, topology: opts.topology, loss, seed, auth, publicKey, platform: opts.platform, sensors: opts.sensors,
    });
    return { network, about: `${nodes} motes (${network.info().kind}, ${opts.topology}, loss ${loss})`, name: script.split("/").pop()! };
  } catch (e) {
    throw new InputError((e as Error).message);
  }
}

/** `terra gateway --udp`: join the UDP dissemination network as its base station. @throws UsageError, InputError. */
async function udpNetwork(
  opts: GatewayCliOptions, udp: string, publicKey: KeyObject, psk: Uint8Array | undefined, log: ((line: string) => void) | undefined,
): Promise<Fronted> {
  const m = /^([^:]+):(\d+)$/.exec(udp);
  if (!m) throw new UsageError(`--udp takes GROUP:PORT, e.g. ${DEFAULT_UDP_GROUP}:${DEFAULT_UDP_PORT}, got "${udp}"`);
  if (!opts.store) throw new UsageError("--udp needs --store <dir> (the base station's records)");
  const id = intOption(opts.id, "--id", 0xfffe);
  if (id < 1) throw new UsageError("--id must be 1..65534");
  const initial = opts.capsule ? readBytes(opts.capsule, "capsule") : undefined;
  try {
    const network = await UdpNetwork.open({
      udp: { group: m[1], port: intOption(m[2], "--udp port", 0xffff), iface: opts.iface }, id, store: opts.store, initial, publicKey, psk,
      log: log && ((e) => log(`base station: ${JSON.stringify(e)}`)),
    });
    const v = network.program()?.version ?? 0;
    return { network, about: `the motes of ${network.info().kind} (base station ${id}, store ${opts.store}, version ${v})` };
  } catch (e) {
    throw e instanceof RangeError ? new UsageError(e.message) : new InputError((e as Error).message);
  }
}

/** Register `keygen`, `deploy`, `gateway` and `status` on the `terra` program. */
export function registerDeploy(program: Command): void {
  program.command("keygen")
    .description("create the network's Ed25519 key pair (and optionally a PSK for motes too small for Ed25519)")
    .option("-o, --out <file>", "private key file; the public key goes to <file>.pub", "net.key")
    .option("--psk", "also write a 32-byte pre-shared key to <file without .key>.psk (HMAC-SHA-256 mode)")
    .option("--force", "replace existing files")
    .action((opts: { out: string; psk?: boolean; force?: boolean }) => keyErrors(() => {
      const k = generateNetworkKey();
      const pub = `${opts.out}.pub`;
      writeKeyFile(opts.out, privateKeyPem(k.privateKey), true, opts.force);
      writeKeyFile(pub, publicKeyPem(k.publicKey), false, opts.force);
      process.stdout.write(
        `${opts.out}: Ed25519 private key (keep it secret; \`terra deploy --key ${opts.out}\`)\n` +
          `${pub}: public key, fingerprint ${keyFingerprint(k.publicKey)} (\`terra gateway --key ${pub}\`)\n` +
          `  raw public key for mote firmware: ${toHex(rawPublicKey(k.publicKey))}\n`,
      );
      if (opts.psk) {
        const pskFile = `${opts.out.replace(/\.key$/, "")}.psk`;
        writeKeyFile(pskFile, formatPsk(generatePsk()), true, opts.force);
        process.stdout.write(`${pskFile}: pre-shared key for HMAC-SHA-256 block tags (\`terra gateway --auth psk --psk ${pskFile}\`)\n`);
      }
    }));

  program.command("deploy")
    .description("compile (or take a .cap), sign and PUT a capsule to a gateway (CoAP block-wise, RFC 7959)")
    .argument("<file>", "Céu-T script (.terra) or unsigned capsule (.cap)")
    .argument("<uri>", "the gateway's script container, e.g. coap://[::1]:5683/vm")
    .requiredOption("--key <file>", "the network's private key (terra keygen)")
    .option("-I, --include <dir>", "add a directory to the #include search path (repeatable)", collect, [])
    .option("--program-version <n>", "program version (default: the gateway's version + 1)")
    .option("--name <name>", "program name shown by the gateway (default: the file name)")
    .option("--coap-block <bytes>", "CoAP Block1 size: 16, 32, 64, 128, 256, 512 or 1024", "64")
    .option("--wait", "wait until every mote runs the new version")
    .option("--timeout <s>", "seconds to wait for an answer (and with --wait, for coverage)", "30")
    .action(async (file: string, uri: string, opts: { key: string; include: string[]; programVersion?: string; name?: string; coapBlock: string; wait?: boolean; timeout: string }) => {
      const t = target(uri);
      const block = [16, 32, 64, 128, 256, 512, 1024].indexOf(Number(opts.coapBlock));
      if (block < 0) throw new UsageError(`--coap-block must be 16, 32, 64, 128, 256, 512 or 1024, got "${opts.coapBlock}"`);
      const timeoutMs = floatOption(opts.timeout, "--timeout", 0.1, 86_400) * 1000;
      let version = opts.programVersion === undefined ? undefined : intOption(opts.programVersion, "--program-version", 0xffffffff);
      if (version === 0) throw new UsageError("--program-version must be 1 or more");
      const key = keyErrors(() => loadPrivateKey(opts.key));
      // the capsule, unsigned
      let unsigned: Uint8Array;
      if (extname(file) === ".cap") {
        unsigned = readBytes(file, "capsule");
        try {
          if (parseHeader(unsigned).signed) throw new InputError(`${file}: already signed (deploy the .terra or an unsigned .cap)`);
        } catch (e) {
          if (e instanceof CapsuleError) throw new InputError(`${file}: ${e.message}`);
          throw e;
        }
      } else {
        const r: CompileResult = compileFile(file, { include: opts.include, programVersion: version ?? 1 });
        printDiagnostics(r.diagnostics, r.sources);
        if (!r.ok) throw new InputError(`${file}: not deployed (the script has errors)`);
        unsigned = r.capsule!;
      }
      if (version === undefined) {
        const vm = await getJson(`${base(uri)}${t.pathname}`, timeoutMs);
        const cur = Number(vm.version ?? 0);
        if (!Number.isInteger(cur) || cur < 0 || cur >= 0xffffffff) throw new InputError(`${uri}: the gateway reports version ${String(vm.version)}; give --program-version`);
        version = cur + 1;
      }
      let signed: Uint8Array;
      try {
        signed = signCapsuleWith(unsigned, key, version);
      } catch (e) {
        throw new InputError(`${file}: ${(e as Error).message}`);
      }
      const name = opts.name ?? file.split("/").pop()!;
      const h = parseHeader(signed);
      const res = await ask(uri, { method: "PUT", payload: signed, contentFormat: "application/octet-stream", block1: block, query: `name=${encodeURIComponent(name)}`, timeoutMs });
      if (res.code !== "2.04" && res.code !== "2.01") throw new InputError(`${uri}: ${codeText(res.code)}: ${res.payload.toString() || "(no diagnostic)"}`);
      process.stdout.write(`${name}: version ${version}, ${signed.length} bytes in ${h.blocks} radio blocks, sent to ${uri}: ${codeText(res.code)}\n`);
      if (opts.wait) await waitCoverage(`${base(uri)}${t.pathname}`, version, timeoutMs);
    });

  program.command("gateway")
    .description("run the CoAP gateway in front of a network of motes: simulated (--sim) or host motes on the UDP dissemination network (--udp)")
    .option("--sim <script>", "a simulated network (real time) whose motes all run this program at start (its configuration is the network's)")
    .option("--udp <group:port>", `the UDP dissemination network, e.g. ${DEFAULT_UDP_GROUP}:${DEFAULT_UDP_PORT}; the gateway is its base station`)
    .requiredOption("--key <file>", "the network's public key (terra keygen; a private key file also works)")
    .option("--port <n>", "UDP port", "5683")
    .option("--bind <address>", "address to listen on", "::")
    .option("--auth <mode>", "how motes authenticate capsules: ed25519 or psk (default: psk when --psk is given)", "ed25519")
    .option("--psk <file>", "pre-shared key for psk mode (terra keygen --psk)")
    .option("--nodes <n>", "--sim: motes in the network", "25")
    .option("--topology <kind>", "--sim: grid or random", "grid")
    .option("--loss <p>", "--sim: frame loss probability per link, 0..1", "0")
    .option("--seed <n>", "--sim: seed of the network's randomness", "1")
    .option("--platform <name>", "--sim: platform whose script space the motes have", "host")
    .option("--sensors <model>", "--sim: sensor model of the simulated motes (as terra sim --sensors)", "sine")
    .option("-I, --include <dir>", "--sim: add a directory to the #include search path (repeatable)", collect, [])
    .option("--store <dir>", "--udp: the base station's store directory (installed capsule, transfer in progress)")
    .option("--capsule <file>", "--udp: factory image, the installed capsule when the store has none (its configuration is the network's)")
    .option("--id <n>", "--udp: the base station's 16-bit address", "1")
    .option("--iface <address>", "--udp: interface address the group is joined on", DEFAULT_UDP_IFACE)
    .option("--quiet", "do not log requests")
    .action(async (opts: GatewayCliOptions, cmd: Command) => {
      const given = (k: keyof GatewayCliOptions) => cmd.getOptionValueSource(k) === "cli";
      if (!opts.sim === !opts.udp) throw new UsageError("give exactly one of --sim <script> (a simulated network) or --udp <group:port> (host motes)");
      for (const k of opts.sim ? UDP_ONLY : SIM_ONLY) if (given(k)) throw new UsageError(`--${k} is for ${opts.sim ? "--udp" : "--sim"} networks`);
      const authMode = given("auth") ? opts.auth : opts.psk ? "psk" : "ed25519";
      if (authMode !== "ed25519" && authMode !== "psk") throw new UsageError(`--auth must be ed25519 or psk, got "${opts.auth}"`);
      if (authMode === "psk" && !opts.psk) throw new UsageError("--auth psk needs --psk <file>");
      if (authMode === "ed25519" && opts.psk) throw new UsageError("--psk is for --auth psk");
      const port = intOption(opts.port, "--port", 65535);
      const publicKey = keyErrors(() => loadPublicKey(opts.key));
      const psk = opts.psk ? keyErrors(() => loadPsk(opts.psk!)) : undefined;
      const log = opts.quiet ? undefined : (l: string) => process.stderr.write(`${new Date().toISOString()} ${l}\n`);
      const { network, about, name } = opts.sim ? simNetwork(opts, opts.sim, publicKey, psk) : await udpNetwork(opts, opts.udp!, publicKey, psk, log);
      const gw = new Gateway({ network, publicKey, port, address: opts.bind, log });
      let bound: number;
      try {
        bound = await gw.start();
      } catch (e) {
        await network.close();
        throw new InputError(`cannot listen on [${opts.bind}]:${port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      if (name) gw.names.set(1, name);
      const info = network.info();
      const host = opts.bind.includes(":") ? `[${opts.bind}]` : opts.bind;
      process.stdout.write(
        `gateway on coap://${host}:${bound}/vm in front of ${about}: ` +
          `${info.configName} 0x${info.configId.toString(16).padStart(8, "0")}, ${info.platform} script space ${info.scriptSpace} B, ` +
          `auth ${info.auth}, key ${keyFingerprint(publicKey)}\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await gw.close();
      await network.close();
    });

  program.command("status")
    .description("show what a gateway's network runs: program, versions per mote, progress, rejections")
    .argument("<uri>", "the gateway, e.g. coap://[::1]:5683 (path /vm by default)")
    .option("--json", "print {\"vm\": ..., \"motes\": [...]} on stdout")
    .option("--timeout <s>", "seconds to wait for an answer", "20")
    .action(async (uri: string, opts: { json?: boolean; timeout: string }) => {
      const t = target(uri);
      const timeoutMs = floatOption(opts.timeout, "--timeout", 0.1, 86_400) * 1000;
      const path = t.pathname === "/" || t.pathname === "" ? "/vm" : t.pathname.replace(/\/$/, "");
      const vm = await getJson(`${base(uri)}${path}`, timeoutMs);
      const motes = (await getJson(`${base(uri)}${path}/motes`, timeoutMs)) as unknown as MoteJson[];
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ vm, motes }, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatStatus(`${base(uri)}${path}`, vm as unknown as VmJson, motes));
    });
}

interface VmJson {
  program: string | null; version: number; state: string; capsule_bytes: number; blocks: number; block_bytes: number; signed: boolean;
  sha256: string | null; config: string; config_id: string; script_space: number; platform: string; auth: string; key: string; network: string;
  motes: number; coverage: { running_version: number; motes: number };
  rejections: { at: string; code: string; reason: string; detail: string; version?: number; name?: string }[];
}
interface MoteJson {
  id: number; up: boolean; version: number; state: string; receiving?: { version: number; have: number; of: number };
  rejections: { at: number; reason: string; detail: string; version?: number; from?: number }[];
}

/** The text `terra status` prints. */
export function formatStatus(uri: string, vm: VmJson, motes: MoteJson[]): string {
  const out: string[] = [];
  out.push(`${uri}: ${vm.program ?? "(unnamed program)"} version ${vm.version}, ${vm.state}` +
    (vm.version ? ` (${vm.capsule_bytes} B in ${vm.blocks} blocks of ${vm.block_bytes} B, ${vm.signed ? "signed" : "unsigned factory image"}, sha256 ${String(vm.sha256).slice(0, 16)}…)` : ""));
  out.push(`  configuration ${vm.config} (${vm.config_id}), ${vm.platform} script space ${vm.script_space} B, auth ${vm.auth}, key ${vm.key}`);
  out.push(`  ${vm.network}: ${vm.coverage.running_version} of ${vm.coverage.motes} motes run version ${vm.version}`);
  const byVersion = new Map<number, number>();
  for (const m of motes) if (m.up) byVersion.set(m.version, (byVersion.get(m.version) ?? 0) + 1);
  const off = motes.filter((m) => !m.up).length;
  out.push(`  versions: ${[...byVersion].sort((a, b) => b[0] - a[0]).map(([v, n]) => `v${v} x${n}`).join(", ")}${off ? `, ${off} off` : ""}`);
  const halted = motes.filter((m) => m.state === "halted").map((m) => m.id);
  if (halted.length) out.push(`  halted: motes ${halted.join(", ")}`);
  const rx = motes.filter((m) => m.receiving);
  for (const m of rx.slice(0, 10)) out.push(`  mote ${m.id}: receiving v${m.receiving!.version}, ${m.receiving!.have}/${m.receiving!.of} segments`);
  if (rx.length > 10) out.push(`  ... and ${rx.length - 10} more motes receiving`);
  if (vm.rejections.length) {
    out.push("  refused at the gateway (latest last):");
    for (const r of vm.rejections) out.push(`    ${r.at}  ${r.code} ${r.reason}: ${r.detail}${r.version !== undefined ? ` (version ${r.version}${r.name ? `, ${r.name}` : ""})` : ""}`);
  }
  const mr = motes.filter((m) => m.rejections.length);
  if (mr.length) {
    out.push("  refused at motes (latest per mote):");
    for (const m of mr.slice(0, 20)) {
      const r = m.rejections[m.rejections.length - 1];
      out.push(`    mote ${m.id}: ${r.reason}: ${r.detail}${r.version !== undefined ? ` (version ${r.version})` : ""}${r.from !== undefined ? ` from mote ${r.from}` : ""}${m.rejections.length > 1 ? ` [+${m.rejections.length - 1} earlier]` : ""}`);
    }
    if (mr.length > 20) out.push(`    ... and ${mr.length - 20} more motes`);
  }
  return `${out.join("\n")}\n`;
}

/** Poll the gateway until every mote runs `version` (progress on stderr). */
async function waitCoverage(uri: string, version: number, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  let last = "";
  for (;;) {
    const vm = (await getJson(uri, timeoutMs)) as unknown as VmJson;
    if (vm.version > version) {
      process.stdout.write(`a newer version (${vm.version}) was deployed meanwhile\n`);
      return;
    }
    const { running_version: n, motes } = vm.coverage;
    const line = `${n}/${motes} motes run version ${version}`;
    if (line !== last) {
      const w = 30;
      const bar = "#".repeat(Math.round((w * n) / Math.max(1, motes))).padEnd(w, ".");
      process.stderr.write(`  [${bar}] ${line} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
      last = line;
    }
    if (vm.version === version && n >= motes) {
      process.stdout.write(`every mote runs version ${version} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
      return;
    }
    if (Date.now() - t0 > timeoutMs) throw new InputError(`${uri}: ${line} after ${(timeoutMs / 1000).toFixed(0)} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
