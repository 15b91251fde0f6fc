/**
 * `terra keygen`, `terra deploy`, `terra gateway`, `terra status` and
 * `terra sim --deploy-at` on the esbuild bundle: files, exit codes (0 ok,
 * 1 bad input, 2 usage), a full deployment through a gateway process in
 * front of a simulated network, refusals shown by status, and a new version
 * disseminated during a simulation.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "terra-deploy-"));
const bundle = join("dist", `terra-gw-test-${process.pid}.mjs`);
let gateway: ChildProcess | undefined;

beforeAll(() => {
  execFileSync("node", ["build.mjs", "--quiet"], { env: { ...process.env, TERRA_BUNDLE: bundle } });
}, 60_000);

afterAll(() => {
  if (gateway && gateway.exitCode === null) gateway.kill("SIGTERM");
  rmSync(bundle, { force: true });
  rmSync(`${bundle}.map`, { force: true });
  rmSync(dir, { recursive: true, force: true });
});

function terra(...args: string[]) {
  const r = spawnSync("node", [bundle, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("keygen", () => {
  it("writes the private key (0600), the public key and optionally a PSK; never overwrites silently", () => {
    const key = join(dir, "net.key");
    const r = terra("keygen", "-o", key, "--psk");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/net.key.pub: public key, fingerprint [0-9a-f]{16}/);
    expect(r.out).toMatch(/raw public key for mote firmware: [0-9a-f]{64}/);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${key}.pub`, "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(readFileSync(join(dir, "net.psk"), "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
    const again = terra("keygen", "-o", key);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/net.key: already exists \(use --force/);
  });
});

describe("deploy and status: bad input", () => {
  it("usage errors exit 2; missing keys, scripts with errors and silent gateways exit 1", () => {
    const key = join(dir, "net.key");
    expect(terra("deploy", "examples/alarm.terra", "http://host/vm", "--key", key).code).toBe(2);
    expect(terra("deploy", "examples/alarm.terra", "coap://[::1]:5999/vm", "--key", key, "--coap-block", "100").code).toBe(2);
    expect(terra("status", "not a uri").code).toBe(2);
    const nokey = terra("deploy", "examples/alarm.terra", "coap://[::1]:5999/vm", "--key", join(dir, "missing.key"));
    expect(nokey.code).toBe(1);
    expect(nokey.err).toMatch(/missing.key: no such file/);
    const pub = terra("deploy", "examples/alarm.terra", "coap://[::1]:5999/vm", "--key", `${key}.pub`);
    expect(pub.code).toBe(1);
    expect(pub.err).toMatch(/not a PEM private key/);
    const silent = terra("status", "coap://[::1]:5999", "--timeout", "0.5");
    expect(silent.code).toBe(1);
    expect(silent.err).toMatch(/no response from ::1:5999 within 0.5 s/);
    const badGw = terra("gateway", "--sim", "examples/counter.terra", "--key", `${key}.pub`, "--topology", "ring");
    expect(badGw.code).toBe(2);
  });
});

describe("a gateway process", () => {
  it("deploy --wait reaches every mote; status shows versions and the gateway's refusals", async () => {
    const key = join(dir, "net.key");
    gateway = spawn("node", [bundle, "gateway", "--sim", "examples/counter.terra", "--nodes", "9", "--key", `${key}.pub`, "--port", "0", "--bind", "::1", "--loss", "0.1"], { stdio: ["ignore", "pipe", "pipe"] });
    const uri = await new Promise<string>((resolve, reject) => {
      let out = "";
      gateway!.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /gateway on (coap:\/\/\[::1\]:\d+\/vm)/.exec(out);
        if (m) resolve(m[1]);
      });
      gateway!.on("exit", (c) => reject(new Error(`gateway exited with ${c}: ${out}`)));
    });
    const ok = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn("node", [bundle, "deploy", "examples/alarm.terra", uri, "--key", key, "--wait", "--timeout", "40"]);
      let out = "", err = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (err += d));
      p.on("exit", (code) => resolve({ code, out, err }));
    });
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/^alarm.terra: version 2, \d+ bytes in \d+ radio blocks, sent to coap:\/\/\[::1\]:\d+\/vm: 2.04 Changed$/m);
    expect(ok.out).toMatch(/every mote runs version 2/);
    const replay = terra("deploy", "examples/alarm.terra", uri, "--key", key, "--program-version", "2");
    expect(replay.code).toBe(1);
    expect(replay.err).toMatch(/4.09 Conflict: rollback: version 2 is not newer than the installed version 2/);
    const st = terra("status", uri.replace(/\/vm$/, ""));
    expect(st.code).toBe(0);
    expect(st.out).toMatch(/alarm.terra version 2, running/);
    expect(st.out).toMatch(/9 of 9 motes run version 2/);
    expect(st.out).toMatch(/versions: v2 x9/);
    expect(st.out).toMatch(/refused at the gateway[\s\S]*4.09 rollback/);
    const js = JSON.parse(terra("status", uri, "--json").out);
    expect(js.motes.length).toBe(9);
    gateway.kill("SIGTERM");
    await new Promise((r) => gateway!.on("exit", r));
  }, 90_000);
});

describe("terra sim --deploy-at", () => {
  it("injects a new signed version at the base station; the summary shows coverage, install times, frames and the ephemeral key", () => {
    const r = terra("sim", "examples/counter.terra", "--nodes", "25", "--loss", "0.2", "--duration", "90s", "--deploy-at", "30s", "--deploy", "examples/alarm.terra", "--json");
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out);
    const d = s.dissemination;
    expect(d).toMatchObject({ protocol: "trickle", auth: "ed25519", version: 2, injected_ms: 30_000, reachable: 25, installed: 25, running: 25, mac_queue_drops: expect.any(Number) });
    expect(d.key).toMatch(/^ephemeral, generated for this run \(fingerprint [0-9a-f]{16}/);
    expect(d.injections).toMatchObject([{ t_ms: 30_000, version: 2, outcome: "accepted" }]);
    expect(d.coverage_ms).toBeGreaterThan(30_000);
    expect(d.coverage_time_s).toBeLessThan(30);
    expect(d.frames_per_mote).toBeGreaterThan(0);
    expect(d.frames.adv + d.frames.req + d.frames.data).toBe(d.frames.total);
    expect(d.rejections.total).toBe(0);
    for (const n of s.per_node) {
      expect(n.version).toBe(2);
      expect(n.installed_ms).toBeGreaterThanOrEqual(30_000);
      expect(n.installed_ms).toBeLessThanOrEqual(d.coverage_ms);
    }
    // the new program ran: alarm.terra asks for PHOTO readings, counter.terra never does
    expect(s.per_node.every((n: { outputs: Record<string, number> }) => n.outputs.REQ_PHOTO > 0)).toBe(true);
    const text = terra("sim", "examples/counter.terra", "--nodes", "25", "--loss", "0.2", "--duration", "90s", "--deploy-at", "30s", "--no-progress");
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^Dissemination \(Trickle Imin 1 s, Imax 64 s, k 1; ed25519 manifests; key: ephemeral, generated for this run/m);
    expect(text.out).toMatch(/30\.000 s {2}version 2 \(\d+ B in \d+ blocks\) injected at the base station: accepted/);
    expect(text.out).toMatch(/version 2: installed by 25 of the 25 motes the base station reaches; full coverage at [\d.]+ s \([\d.]+ s after the injection\)/);
    expect(text.out).toMatch(/node {2}up {2}leds .* version {2}installed/);
  });

  it("with the network's key, a PSK and churn during the transfer", () => {
    const key = join(dir, "net.key");
    const r = terra("sim", "examples/counter.terra", "--nodes", "49", "--loss", "0.3", "--duration", "2min", "--deploy-at", "20s", "--key", key, "--psk", join(dir, "net.psk"),
      "--churn", "21s reboot 9", "--churn", "21500ms stop 17", "--churn", "40s start 17", "--platform", "telosb", "--json");
    expect(r.code, r.err).toBe(0);
    const d = JSON.parse(r.out).dissemination;
    expect(d).toMatchObject({ auth: "psk", version: 2, reachable: 49, installed: 49, running: 49 });
    expect(d.key).toMatch(/net\.key \(fingerprint [0-9a-f]{16}\)$/);
  });

  it("refuses what the base station would refuse, and options that need --deploy-at", () => {
    const other = terra("sim", "examples/counter.terra", "--deploy-at", "10s", "--deploy", "examples/monitor.terra");
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/--deploy examples\/monitor.terra: it is for configuration TerraGrp, the motes run TerraNet_MsgQ/);
    expect(terra("sim", "examples/counter.terra", "--deploy", "examples/alarm.terra").code).toBe(2);
    expect(terra("sim", "examples/counter.terra", "--deploy-at", "20min").code).toBe(2);
    expect(terra("sim", "examples/counter.terra", "--deploy-at", "soon").code).toBe(2);
    const pub = terra("sim", "examples/counter.terra", "--deploy-at", "10s", "--key", join(dir, "net.key.pub"));
    expect(pub.code).toBe(1);
    expect(pub.err).toMatch(/not a PEM private key/);
  });
});
