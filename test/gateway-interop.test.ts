/**
 * Interoperability with libcoap's coap-client (Debian package libcoap3-bin,
 * `coap-client-notls`): resource discovery, GET /vm, and a block-wise PUT
 * (`-b 64`; libcoap changes the token per block and ties the blocks with
 * Request-Tag, RFC 9175) of a signed capsule that the network then runs.
 * Fails, not skips, when the tool is missing.
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { compileFile } from "../cli/util";
import { Gateway, SimNetwork } from "../components/gateway";
import { generateNetworkKey, signCapsuleWith } from "../components/security";

const TOOL = "coap-client-notls";
const key = generateNetworkKey();
const init = compileFile("examples/counter.terra", {});
let net: SimNetwork;
let gw: Gateway;
let u: string;
let dir: string;

/** Run coap-client asynchronously (the gateway runs in this process: a synchronous child would block it). */
function client(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(TOOL, args, { encoding: "utf8", timeout: 30_000 }, (e, out, err) => resolve({ code: e ? (typeof e.code === "number" ? e.code : -1) : 0, out, err }));
  });
}

beforeAll(async () => {
  const probe = spawnSync(TOOL, ["-h"], { encoding: "utf8" });
  if (probe.error) throw new Error(`${TOOL} is not installed: apt-get install libcoap3-bin (${probe.error.message})`);
  dir = mkdtempSync(join(tmpdir(), "terra-interop-"));
  net = new SimNetwork({
    initial: init.capsule!, config: init.config!, nodes: 4, topology: "grid", loss: 0, seed: 2,
    auth: { mode: "ed25519", publicKey: key.publicKey }, publicKey: key.publicKey,
  });
  gw = new Gateway({ network: net, publicKey: key.publicKey, port: 0, address: "::1" });
  u = `coap://[::1]:${await gw.start()}`;
});
afterAll(async () => {
  await gw?.close();
  net?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it("coap-client discovers the gateway's resources (GET /.well-known/core)", async () => {
  const r = await client(["-m", "get", "-B", "10", `${u}/.well-known/core`]);
  expect(r.err).toBe("");
  expect(r.out).toContain('</vm>;rt="terra.vm"');
  expect(r.out).toContain("</vm/motes>");
  expect(r.out).toContain("</motes/4/leds>");
});

it("coap-client reads GET /vm", async () => {
  const r = await client(["-m", "get", "-B", "10", `${u}/vm`]);
  const doc = JSON.parse(r.out);
  expect(doc).toMatchObject({ version: 1, state: "running", config: "TerraNet_MsgQ", motes: 4 });
});

it("coap-client deploys a signed capsule block-wise (-b 64) and every mote runs it", async () => {
  const cap = signCapsuleWith(compileFile("examples/alarm.terra", { programVersion: 2 }).capsule!, key.privateKey);
  expect(cap.length).toBeGreaterThan(3 * 64);
  const file = join(dir, "alarm.cap");
  writeFileSync(file, cap);
  const r = await client(["-m", "put", "-b", "64", "-t", "42", "-f", file, "-B", "10", `${u}/vm?name=alarm`]);
  expect(r.err).toBe("");
  expect(JSON.parse(r.out)).toMatchObject({ version: 2, capsule_bytes: cap.length, status: "disseminating" });
  const t0 = Date.now();
  while (Date.now() - t0 < 20_000 && net.motes().some((m) => m.version !== 2)) await new Promise((res) => setTimeout(res, 200));
  expect(net.motes().map((m) => m.version)).toEqual([2, 2, 2, 2]);
  // and a refusal reaches coap-client as a 4.xx with its diagnostic
  const again = await client(["-m", "put", "-b", "64", "-t", "42", "-f", file, "-B", "10", `${u}/vm`]);
  expect(again.err).toMatch(/4\.09 rollback: version 2 is not newer/);
});
