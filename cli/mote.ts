/**
 * `terra mote`: one TypeScript mote of a dissemination network over UDP
 * multicast (components/dissemination/udp.ts), the twin of firmware-host's
 * C `terra-diss-mote`: same flags, same JSON-lines log on stdout, same
 * datagrams, so both kinds of mote share one network
 * (docs/dissemination.md "C motes and the UDP network").
 *
 *   terra mote --id 2 --store m2 --key net.key.pub --capsule v1.cap --neighbours 1,3
 *   terra mote --id 1 --store m1 --key net.key.pub --capsule v1.cap --inject v2.cap --inject-at 500
 */
import type { Command } from "commander";
import { DEFAULT_UDP_GROUP, DEFAULT_UDP_PORT, type DissParams, UdpMote } from "../components/dissemination/index";
import { KeyError, loadPsk, loadPublicKey, type ManifestAuth, parseHeader } from "../components/security/index";
import { InputError, intOption, readBytes, UsageError } from "./util";

interface MoteCliOptions {
  id: string;
  store: string;
  key?: string;
  psk?: string;
  capsule?: string;
  inject?: string;
  injectAt: string;
  udp: string;
  iface: string;
  neighbours?: string;
  loss: string;
  seed: string;
  duration?: string;
  scriptSpace: string;
  configId?: string;
  imin?: string;
  imax?: string;
  dataGap?: string;
}

const keys = <T>(f: () => T): T => {
  try {
    return f();
  } catch (e) {
    throw e instanceof KeyError ? new InputError(e.message) : e;
  }
};

/** Register `mote` on the `terra` program. */
export function registerMote(program: Command): void {
  program.command("mote")
    .description("run one TypeScript mote of a dissemination network over UDP multicast (JSON lines on stdout; C twin: terra-diss-mote)")
    .requiredOption("--id <n>", "the mote's 16-bit address, 1..65534")
    .requiredOption("--store <dir>", "directory of the mote's records (installed capsule, transfer in progress)")
    .option("--key <file>", "the network's Ed25519 public key (ed25519 mode; with --psk: to check injected capsules)")
    .option("--psk <file>", "the network's pre-shared key (psk mode: HMAC-SHA-256 manifest and block tags)")
    .option("--capsule <file>", "factory image: the installed capsule when the store has none")
    .option("--inject <file>", "base station: a signed capsule to check and install (then disseminated)")
    .option("--inject-at <ms>", "when to inject, ms after start", "0")
    .option("--udp <group:port>", "multicast group and port", `${DEFAULT_UDP_GROUP}:${DEFAULT_UDP_PORT}`)
    .option("--iface <address>", "interface address the group is joined on", "127.0.0.1")
    .option("--neighbours <ids>", "comma-separated motes this one hears (default: all)")
    .option("--loss <p>", "drop each received frame with probability p, [0, 1)", "0")
    .option("--seed <n>", "seed of the mote's random streams (protocol jitter, loss)", "1")
    .option("--duration <ms>", "stop after this many ms (default: at SIGINT or SIGTERM)")
    .option("--script-space <bytes>", "script space of the mote", "65535")
    .option("--config-id <id>", "configuration id of the mote's VM (default: the --capsule's)")
    .option("--imin <ms>", "Trickle Imin")
    .option("--imax <ms>", "Trickle Imax")
    .option("--data-gap <ms>", "spacing of this mote's DATA frames")
    .action(async (o: MoteCliOptions) => {
      const id = intOption(o.id, "--id", 0xfffe);
      if (id < 1) throw new UsageError("--id must be 1..65534");
      if (!o.key && !o.psk) throw new UsageError("give the network's --key <public key> (ed25519 mode) or --psk <file> (psk mode)");
      const m = /^(.+):(\d+)$/.exec(o.udp);
      if (!m) throw new UsageError(`--udp takes GROUP:PORT, e.g. ${DEFAULT_UDP_GROUP}:${DEFAULT_UDP_PORT}, got "${o.udp}"`);
      const loss = Number(o.loss);
      if (!/^[0-9.]+$/.test(o.loss) || !(loss >= 0 && loss < 1)) throw new UsageError(`--loss takes a probability in [0, 1), got "${o.loss}"`);
      const neighbours = o.neighbours?.split(",").map((s) => intOption(s.trim(), "--neighbours", 0xfffe));
      const publicKey = o.key ? keys(() => loadPublicKey(o.key!)) : undefined;
      const auth: ManifestAuth = o.psk ? { mode: "psk", psk: keys(() => loadPsk(o.psk!)) } : { mode: "ed25519", publicKey: publicKey! };
      const initial = o.capsule ? readBytes(o.capsule, "capsule") : undefined;
      let configId = o.configId === undefined ? undefined : intOption(o.configId, "--config-id", 0xffffffff);
      if (configId === undefined) {
        if (!initial) throw new UsageError("give --config-id or a --capsule (the configuration id is the capsule's)");
        try {
          configId = parseHeader(initial).configId;
        } catch (e) {
          throw new InputError(`capsule ${o.capsule}: ${(e as Error).message}`);
        }
      }
      const inject = o.inject ? readBytes(o.inject, "capsule to inject") : undefined;
      const params: Partial<DissParams> = {
        ...(o.imin ? { iminMs: intOption(o.imin, "--imin") } : {}),
        ...(o.imax ? { imaxMs: intOption(o.imax, "--imax") } : {}),
        ...(o.dataGap ? { dataGapMs: intOption(o.dataGap, "--data-gap") } : {}),
      };
      const seed = intOption(o.seed, "--seed", 0xffffffff);
      const injectAt = intOption(o.injectAt, "--inject-at");
      const duration = o.duration === undefined ? undefined : intOption(o.duration, "--duration");
      let mote: UdpMote;
      try {
        mote = await UdpMote.start({
          id, configId, scriptSpace: intOption(o.scriptSpace, "--script-space", 0xffffffff), auth, publicKey, store: o.store, initial, seed, params,
          udp: { group: m[1], port: intOption(m[2], "--udp port", 0xffff), iface: o.iface, neighbours, loss, seed },
          log: (e) => process.stdout.write(`${JSON.stringify(e)}\n`),
        });
      } catch (e) {
        throw e instanceof RangeError ? new UsageError(e.message) : new InputError((e as Error).message);
      }
      const timers: NodeJS.Timeout[] = [];
      if (inject) timers.push(setTimeout(() => mote.inject(inject), injectAt));
      await new Promise<void>((resolve) => {
        if (duration !== undefined) timers.push(setTimeout(resolve, duration));
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      timers.forEach(clearTimeout);
      await mote.stop();
    });
}
