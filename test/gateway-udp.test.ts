/**
 * The CoAP gateway in front of a real network of host motes on the UDP
 * dissemination network (UdpNetwork: the gateway is the base station): two
 * C motes (firmware-host's terra-diss-mote) and a TypeScript mote (UdpMote)
 * as real processes and sockets in real time. A block-wise PUT of a signed
 * capsule reaches every mote and GET /vm/motes shows them at the new version;
 * replayed, tampered and foreign capsules are refused with their CoAP code
 * and reason; a psk network converges too and ignores garbage datagrams and
 * motes of another configuration; the gateway command's bad flags are usage
 * errors; and `terra gateway --udp` joins the same network, catches up over
 * the radio, takes a `terra deploy --wait` and answers `terra status`.
 *
 * The C binary is built with make first: a build failure fails the tests.
 */
import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Command } from "commander";
import { formatStatus, registerDeploy } from "../cli/deploy";
import { InputError, UsageError } from "../cli/util";
import { encodeFrame, FRAME_ADV, syntheticCapsule } from "../components/dissemination";
import { coapRequest, Gateway, NetworkUnavailable, UdpNetwork } from "../components/gateway";
import { generateNetworkKey, privateKeyPem } from "../components/security";
import { capsule, CFG, KEYS, PSK, V1 } from "./helpers/net";
import { dissMoteBin, GROUP, UdpNet } from "./helpers/udpnet";

const MOTES = [2, 3, 4];
const everyone = (id: number) => [1, ...MOTES, 9].filter((x) => x !== id);
let dir: string;
let net: UdpNet;
let network: UdpNetwork;
let gw: Gateway;
let u: string;

const json = async (path: string) => {
  const r = await coapRequest(`${u}${path}`, { timeoutMs: 10_000 });
  expect(r.code, r.payload.toString()).toBe("2.05");
  return JSON.parse(r.payload.toString());
};
const put = (cap: Uint8Array) =>
  coapRequest(`${u}/vm`, { method: "PUT", payload: cap, contentFormat: "application/octet-stream", block1: 2, query: "name=test", timeoutMs: 10_000 });

beforeAll(async () => {
  dissMoteBin(); // fails here, not later, when the C mote does not build
  dir = mkdtempSync(join(tmpdir(), "terra-gw-udp-"));
  net = new UdpNet(dir);
  // C motes 2 and 3, a TypeScript mote 4; all hear each other, the gateway (1) and the CLI's gateway (9)
  await net.start({ id: 2, kind: "c", neighbours: everyone(2), args: ["--duration", "120000"] });
  await net.start({ id: 3, kind: "c", neighbours: everyone(3), args: ["--duration", "120000"] });
  await net.start({ id: 4, kind: "ts", neighbours: everyone(4) });
  await net.booted();
  network = await UdpNetwork.open({ udp: { group: GROUP, port: net.port }, store: join(dir, "gw"), initial: V1, publicKey: KEYS.publicKey, configName: "idle" });
  gw = new Gateway({ network, publicKey: KEYS.publicKey, port: 0, address: "::1", sampleMs: 100 });
  u = `coap://[::1]:${await gw.start()}`;
}, 30_000);

afterAll(async () => {
  await gw?.close();
  await network?.close();
  await net?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the gateway as the base station of a UDP network", () => {
  it("GET /vm describes the base station's program; discovery lists /vm and /vm/motes only (no sensors over UDP)", async () => {
    const vm = await json("/vm");
    expect(vm).toMatchObject({
      version: 1, state: "off", config: "idle", config_id: `0x${CFG.toString(16).padStart(8, "0")}`, script_space: 65535, platform: "host", auth: "ed25519",
      network: `UDP network ${GROUP}:${net.port} on 127.0.0.1`,
    });
    const core = await coapRequest(`${u}/.well-known/core`);
    expect(core.code).toBe("2.05");
    expect(core.payload.toString().split(",").map((l) => l.split(";")[0])).toEqual(["</vm>", "</vm/motes>"]);
    expect((await coapRequest(`${u}/motes/2/temp`)).code).toBe("4.04");
    const [base] = await json("/vm/motes");
    expect(base).toMatchObject({ id: 1, up: true, version: 1, state: "off", rejections: [] });
  });

  it("a block-wise PUT of a signed capsule reaches every C and TypeScript mote; GET /vm/motes shows them at the new version", async () => {
    const v2 = capsule(2, 1024);
    const r = await put(v2);
    expect(r.code, r.payload.toString()).toBe("2.04");
    expect(JSON.parse(r.payload.toString())).toMatchObject({ version: 2, capsule_bytes: v2.length, status: "disseminating" });
    await net.until(() => MOTES.every((id) => net.version(id) === 2), 20_000, "every mote to install version 2");
    for (const id of [2, 3]) expect(net.events(id, "install").filter((e) => e.version === 2).map((e) => e.bytes), `C mote ${id}`).toEqual([v2.length]);
    expect(readFileSync(join(net.mote(2).store, "installed"))).toEqual(Buffer.from(v2));
    // each mote announces its new version after installing: the gateway hears every one
    const t0 = Date.now();
    let motes: { id: number; up: boolean; version: number; state: string; lastHeard?: string }[] = [];
    while (Date.now() - t0 < 10_000) {
      motes = await json("/vm/motes");
      if (motes.length === 4 && motes.every((m) => m.version === 2)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(motes.map((m) => [m.id, m.version, m.up])).toEqual([[1, 2, true], [2, 2, true], [3, 2, true], [4, 2, true]]);
    expect(motes.slice(1).every((m) => m.state === "running" && !Number.isNaN(Date.parse(m.lastHeard!)))).toBe(true);
    const vm = await json("/vm");
    expect(vm).toMatchObject({ program: "test", version: 2, signed: true, motes: 4, coverage: { running_version: 4, motes: 4 } });
    expect(network.node.stats.sent.data).toBeGreaterThan(0); // the base station served it over UDP
  });

  it("a replayed older capsule, a tampered one and one signed by another key are refused with their code and reason", async () => {
    const replay = await put(V1);
    expect(replay.code).toBe("4.09");
    expect(replay.payload.toString()).toBe("rollback: version 1 is not newer than the installed version 2");
    const v3 = capsule(3, 1024).slice();
    v3[100] ^= 0x01; // in the body: the signed hash no longer matches
    const tampered = await put(v3);
    expect(tampered.code).toBe("4.01");
    expect(tampered.payload.toString()).toMatch(/^tampered: /);
    const foreign = await put(capsule(4, 1024, { key: generateNetworkKey() }));
    expect(foreign.code).toBe("4.01");
    expect(foreign.payload.toString()).toMatch(/^bad-signature: /);
    // the base station checks on its own too (as `terra mote --inject`): same reasons
    expect(network.deploy(v3)).toMatchObject({ reason: "tampered" });
    expect(network.deploy(V1)).toMatchObject({ reason: "rollback" });
    const vm = await json("/vm");
    expect(vm.rejections.map((r: { code: string; reason: string }) => `${r.code} ${r.reason}`)).toEqual(["4.09 rollback", "4.01 tampered", "4.01 bad-signature"]);
    const motes = await json("/vm/motes");
    expect(motes[0].rejections.map((r: { reason: string }) => r.reason)).toEqual(["tampered", "rollback"]);
    const text = formatStatus(u, vm, motes);
    expect(text).toContain(`UDP network ${GROUP}:${net.port} on 127.0.0.1: 4 of 4 motes run version 2`);
    expect(text).toMatch(/refused at the gateway[^]*4\.01 tampered/);
    await new Promise((res) => setTimeout(res, 500));
    for (const id of MOTES) expect(net.version(id), `mote ${id}`).toBe(2);
  });
});

describe("psk mode", () => {
  it("a psk network (HMAC-SHA-256 tags): the base station checks the Ed25519 signature, the C and TypeScript motes install it", async () => {
    const psk = new UdpNet(dir);
    try {
      await psk.start({ id: 2, kind: "c", neighbours: [1, 3], auth: "psk" });
      await psk.start({ id: 3, kind: "ts", neighbours: [1, 2], auth: "psk" });
      await psk.booted();
      const base = await UdpNetwork.open({ udp: { group: GROUP, port: psk.port }, store: join(dir, "gw-psk"), initial: V1, publicKey: KEYS.publicKey, psk: PSK });
      try {
        expect(base.info()).toMatchObject({ auth: "psk", baseStation: 1, configName: "unnamed" });
        // garbage on the group and a mote of another configuration: dropped, not listed
        const sock = dgram.createSocket({ type: "udp4", reuseAddr: true });
        await new Promise<void>((res) => sock.bind(0, "127.0.0.1", () => res()));
        sock.setMulticastInterface("127.0.0.1");
        const send = (b: Uint8Array) => new Promise<void>((res) => sock.send(b, psk.port, GROUP, () => res()));
        for (let i = 0; i < 100; i++) await send(Uint8Array.from({ length: i % 40 }, (_, k) => (i * 31 + k * 17) & 0xff));
        await send(Uint8Array.from([77, 0, 0xff, 0xff, ...encodeFrame({ type: FRAME_ADV, version: 9, configId: (CFG ^ 1) >>> 0, blocks: 3 })]));
        sock.close();
        await new Promise((res) => setTimeout(res, 200));
        expect(base.motes().every((m) => m.id <= 3)).toBe(true);
        expect(base.deploy(capsule(5, 1024, { key: generateNetworkKey() }))).toMatchObject({ reason: "bad-signature" });
        expect(base.deploy(capsule(5, 1024))).toBeUndefined();
        await psk.until(() => psk.version(2) === 5 && psk.version(3) === 5, 20_000, "both motes to install version 5");
      } finally {
        await base.close();
      }
      expect(() => base.deploy(capsule(6, 1024))).toThrow(NetworkUnavailable);
    } finally {
      await psk.close();
    }
    expect(psk.events(2, "reject")).toEqual([]);
  });
});

describe("terra gateway --udp, terra deploy and terra status", () => {
  const terra = (args: string[]) => spawn(process.execPath, ["--import", "tsx", "cli/main.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const run = (args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = terra(args);
      let out = "";
      let err = "";
      p.stdout!.on("data", (c: Buffer) => (out += c.toString()));
      p.stderr!.on("data", (c: Buffer) => (err += c.toString()));
      p.on("close", (code) => resolve({ code, out, err }));
    });

  it("bad flags are usage errors (exit 2), an unusable store or capsule is bad input (exit 1), never a crash", async () => {
    const pub = join(dir, "net.pub");
    const v1 = net.file("v1.cap", V1);
    /** The gateway command in this process: the error it ends with (cli/main.ts exits 2 for UsageError, 1 for InputError). */
    const gateway = async (args: string[]): Promise<unknown> => {
      const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
      registerDeploy(program);
      try {
        await program.parseAsync(["gateway", ...args], { from: "user" });
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const cases: [string[], typeof UsageError, RegExp][] = [
      [["--key", pub], UsageError, /give exactly one of --sim <script> .* or --udp <group:port>/],
      [["--sim", "examples/counter.terra", "--udp", `${GROUP}:1`, "--key", pub], UsageError, /exactly one of/],
      [["--udp", GROUP, "--key", pub, "--store", dir], UsageError, /--udp takes GROUP:PORT/],
      [["--udp", "10.0.0.1:4000", "--key", pub, "--store", join(dir, "x"), "--capsule", v1], UsageError, /10.0.0.1 is not an IPv4 multicast group/],
      [["--udp", `${GROUP}:0`, "--key", pub, "--store", join(dir, "x"), "--capsule", v1], UsageError, /port 0 is not in 1..65535/],
      [["--udp", `${GROUP}:4000`, "--key", pub, "--store", join(dir, "x"), "--capsule", v1, "--iface", "eth0"], UsageError, /interface eth0 is not an IPv4 address/],
      [["--udp", `${GROUP}:4000`, "--key", pub, "--store", join(dir, "x"), "--capsule", v1, "--id", "0"], UsageError, /--id must be 1..65534/],
      [["--udp", `${GROUP}:4000`, "--key", pub], UsageError, /--udp needs --store/],
      [["--udp", `${GROUP}:4000`, "--key", pub, "--store", dir, "--nodes", "3"], UsageError, /--nodes is for --sim networks/],
      [["--sim", "examples/counter.terra", "--key", pub, "--store", dir], UsageError, /--store is for --udp networks/],
      [["--udp", `${GROUP}:4000`, "--key", pub, "--store", dir, "--auth", "psk"], UsageError, /--auth psk needs --psk <file>/],
      [["--udp", `${GROUP}:4000`, "--key", pub, "--store", join(dir, "empty")], InputError, /has no installed capsule: give a factory image \(--capsule\)/],
      [["--udp", `${GROUP}:4000`, "--key", pub, "--store", join(dir, "y"), "--capsule", pub], InputError, /factory image: .*not a Terra-TS capsule/],
      [["--udp", `${GROUP}:4000`, "--key", pub, "--store", v1, "--capsule", v1], InputError, /v1.cap: not a directory/],
      [["--udp", `${GROUP}:4000`, "--key", v1, "--store", dir], InputError, /v1.cap/],
    ];
    for (const [args, kind, msg] of cases) {
      const e = await gateway(args);
      expect(e, args.join(" ")).toBeInstanceOf(kind);
      expect((e as Error).message, args.join(" ")).toMatch(msg);
    }
    // and through the real command line: the message and exit code
    const r = await run(["gateway", "--udp", GROUP, "--key", pub, "--store", dir]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`terra: --udp takes GROUP:PORT, e.g. ${GROUP}:47474, got "${GROUP}"\n`);
  });

  it("`terra gateway --udp` joins the network as base station 9, catches up to version 2 over the radio, takes `terra deploy --wait`; `terra status` shows it", async () => {
    const key = net.file("net.key", privateKeyPem(KEYS.privateKey));
    const pub = join(dir, "net.pub");
    const v1 = net.file("v1.cap", V1);
    let gwp: ChildProcess | undefined = terra(["gateway", "--udp", `${GROUP}:${net.port}`, "--key", pub, "--store", join(dir, "gw9"), "--capsule", v1,
      "--id", "9", "--port", "0", "--bind", "::1"]);
    let out = "";
    let err = "";
    gwp.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    gwp.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    try {
      await net.until(() => /coap:\/\/\[::1\]:\d+\/vm/.test(out) || gwp!.exitCode !== null, 15_000, "the gateway's banner");
      expect(out, err).toMatch(new RegExp(`in front of the motes of UDP network ${GROUP}:${net.port} on 127.0.0.1 \\(base station 9, store .*gw9, version 1\\)`));
      const uri = /coap:\/\/\[::1\]:\d+/.exec(out)![0];
      // a mote with an older version is heard: its neighbours' Trickle resets, they advertise version 2 and it fetches it
      await net.until(() => /"ev":"install","version":2/.test(err), 20_000, "the CLI's base station to install version 2");
      const unsigned = net.file("v3.cap", syntheticCapsule({ bytes: 600, configId: CFG, version: 3, seed: 3 }));
      const dep = await run(["deploy", unsigned, `${uri}/vm`, "--key", key, "--wait", "--timeout", "20"]);
      expect(dep.code, dep.err).toBe(0);
      expect(dep.out).toMatch(/v3.cap: version 3, \d+ bytes in \d+ radio blocks, sent to .*: 2.04 Changed/);
      expect(dep.out).toMatch(/every mote runs version 3/);
      await net.until(() => MOTES.every((id) => net.version(id) === 3), 20_000, "every mote to install version 3");
      const st = await run(["status", uri]);
      expect(st.code, st.err).toBe(0);
      expect(st.out).toContain("v3.cap version 3, off");
      expect(st.out).toMatch(/UDP network .*: \d+ of \d+ motes run version 3/);
      // the in-process gateway heard it all too
      await net.until(() => network.motes().find((m) => m.id === 9)?.version === 3, 10_000, "the first gateway to hear mote 9 at version 3");
    } finally {
      gwp.kill("SIGTERM");
      await new Promise((res) => (gwp!.exitCode !== null ? res(undefined) : gwp!.on("close", res)));
      gwp = undefined;
    }
    expect(err).toMatch(/base station: \{.*"ev":"end"/); // it left the network cleanly on SIGTERM
  });
});
