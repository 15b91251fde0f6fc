/**
 * `terra load`: send a script or capsule over a wired MicaZ's serial line
 * (components/serial, docs/serial.md): the mote stops its script, takes the
 * capsule, verifies it and boots it. In Terra this is how the base station
 * gets a program from the PC. The mote is a real one on a serial device
 * (--port, 921,600 baud) or a simulated one (--sim: a MicaZ image on simavr,
 * in real time).
 *
 *   terra load blink.terra --sim
 *   terra load app.cap --port /dev/ttyUSB1 --watch 30
 */
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { isatty, ReadStream, WriteStream } from "node:tty";
import type { Command } from "commander";
import { type MoteLink, SerialLoadError, sendCapsule } from "../components/serial/load";
import { onLines, streamLink } from "../components/serial/link";
import { FIRMWARE_DIR, make, missingTools, rejectReasons, startMicaz } from "../firmware-host/harness";
import { IMAGE_BLOCK_BYTES, imageProblem } from "../firmware-host/image";
import { collect, compileFile, InputError, intOption, isCapsuleFile, printDiagnostics, readBytes, UsageError } from "./util";

interface LoadOptions {
  port?: string;
  sim?: string | boolean;
  watch?: string;
  include: string[];
  frameBytes: string;
  answerMs: string;
}

/** A wired mote: its link, and how to let it go. */
interface Mote {
  link: MoteLink;
  close(): void;
  /** The simulator ended (crash or bug) before we let it go. */
  ended: Promise<string>;
}

/** A simulated MicaZ running `image` (default: the default image, built when stale). */
function simMote(image: string | undefined): Mote {
  const missing = missingTools("micaz");
  if (missing.length) throw new InputError(`--sim needs ${missing.join(", ")} (npm run setup installs the toolchains)`);
  if (image === undefined) {
    image = `${FIRMWARE_DIR}/build/micaz/terra-micaz.elf`;
    make("micaz", [image]);
  } else if (!existsSync(image)) throw new InputError(`--sim ${image}: no such image`);
  const p = startMicaz(image, { realtime: true, leds: true });
  let closing = false;
  onLines(p.stderr!, (line) => {
    const m = /^leds (\d+) (\d+)$/.exec(line);
    if (m) process.stdout.write(`leds ${Number(m[1]).toString(2).padStart(3, "0")} at ${m[2]} ms\n`);
  });
  return {
    link: streamLink(p.stdout!, p.stdin!),
    close: () => {
      closing = true;
      p.kill();
    },
    ended: new Promise((resolve) => p.on("exit", (code, signal) => closing || resolve(`the simulator ended (${signal ?? `exit ${code}`})`))),
  };
}

function portMote(device: string): Mote {
  let fd: number;
  try {
    fd = openSync(device, "r+");
  } catch (e) {
    throw new InputError(`--port ${device}: cannot open it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!isatty(fd)) {
    closeSync(fd);
    throw new InputError(`--port ${device}: not a serial device (a terminal such as /dev/ttyUSB1)`);
  }
  try {
    execFileSync("stty", ["-F", device, "921600", "raw", "-echo"], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    closeSync(fd);
    throw new InputError(`--port ${device}: cannot set it to 921,600 baud, raw (stty: ${String((e as { stderr?: Buffer }).stderr ?? "").trim()})`);
  }
  const input = new ReadStream(fd);
  const output = new WriteStream(fd);
  return {
    link: streamLink(input, output),
    close: () => {
      input.destroy();
      output.destroy();
    },
    ended: new Promise(() => {}),
  };
}

/** Register `load` on the `terra` program. */
export function registerLoad(program: Command): void {
  program.command("load")
    .description("send a script or capsule over a MicaZ's serial line, replacing its script: a mote on a serial device (--port) or a simulated one (--sim)")
    .argument("<file>", "TerraNet.defs script (.terra), or a capsule (.cap)")
    .option("--port <device>", "the mote's serial device, e.g. /dev/ttyUSB1 (set to 921,600 baud, raw)")
    .option("--sim [image]", "a MicaZ simulated on simavr in real time, running its default image (firmware-host/build/micaz/terra-micaz.elf) or this one")
    .option("--watch <s>", "then print the mote's output for this many seconds (default 10 with --sim, 0 with --port)")
    .option("-I, --include <dir>", "add a directory to the #include search path (repeatable)", collect, [])
    .option("--frame-bytes <n>", "capsule bytes per frame, 1..64", "64")
    .option("--answer-ms <ms>", "how long to wait for each answer before sending a frame again", "1000")
    .action(async (file: string, opts: LoadOptions) => {
      if ((opts.port === undefined) === (opts.sim === undefined)) throw new UsageError("give the mote: --port <device> or --sim");
      const dataBytes = intOption(opts.frameBytes, "--frame-bytes", 64);
      if (dataBytes < 1) throw new UsageError("--frame-bytes must be 1..64");
      const answerMs = intOption(opts.answerMs, "--answer-ms", 60_000);
      if (answerMs < 1) throw new UsageError("--answer-ms must be 1..60000");
      const watchS = intOption(opts.watch ?? (opts.sim !== undefined ? "10" : "0"), "--watch", 86_400);
      // a capsule by its name or, as terra run takes one, by its magic
      let capsule = readBytes(file, "script or capsule");
      if (!file.endsWith(".cap") && !isCapsuleFile(capsule)) {
        const r = compileFile(file, { include: opts.include });
        printDiagnostics(r.diagnostics, r.sources);
        if (!r.ok) throw new InputError(`${file}: not loaded (the script has errors)`);
        capsule = r.capsule!;
      }
      // what the MicaZ image would refuse, refused here with the reason (its block, no float)
      const problem = imageProblem(capsule, IMAGE_BLOCK_BYTES.micaz, false, "compile the script again with terra compile");
      if (problem) throw new InputError(`${file}: ${problem}`);
      const mote = opts.sim !== undefined ? simMote(typeof opts.sim === "string" ? opts.sim : undefined) : portMote(opts.port!);
      const stopPrinting = mote.link.onLine((line) => {
        if (!/^(S \d+|S -|A \d+|K \d+)$/.test(line)) process.stdout.write(`mote: ${line}\n`);
      });
      try {
        const t0 = Date.now();
        const report = await Promise.race([
          sendCapsule(mote.link, capsule, { dataBytes, answerMs }),
          mote.ended.then((why) => Promise.reject(new InputError(why))),
        ]);
        process.stdout.write(`${file}: ${capsule.length} bytes loaded in ${report.frames} frames (${report.resent} sent again) in ${Date.now() - t0} ms; the mote runs it\n`);
        // the mote writes the capsule to its EEPROM in the background (8.5 ms a byte on the chip) and says "K len" when done
        const t1 = Date.now();
        const keepMs = 10 * capsule.length + 2000;
        const kept = await Promise.race([
          new Promise<boolean>((resolve) => {
            const stop = mote.link.onLine((line) => line === `K ${capsule.length}` && (stop(), resolve(true)));
          }),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), keepMs)),
          mote.ended.then(() => false),
        ]);
        if (kept) process.stdout.write(`${file}: kept in the mote's EEPROM for its next power-on (${Date.now() - t1} ms)\n`);
        else process.stderr.write(`terra: warning: the mote did not say it kept the capsule within ${keepMs} ms; until it prints "K ${capsule.length}", a reset brings back its previous script\n`);
        await Promise.race([new Promise((r) => setTimeout(r, watchS * 1000)), mote.ended]);
      } catch (e) {
        if (e instanceof SerialLoadError) {
          const why = e.reject ? `: ${rejectReasons()[e.reject.reason] ?? "a reason this firmware-host/core/tvm.h does not list"}` : "";
          throw new InputError(`${file}: ${e.message}${why}`);
        }
        throw e;
      } finally {
        stopPrinting();
        mote.close();
      }
    });
}
