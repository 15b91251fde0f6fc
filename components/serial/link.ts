/**
 * A MoteLink (load.ts) over a pair of Node streams: a serial device opened
 * for reading and writing, or a simulator's stdin and stdout
 * (firmware-host/build/micaz/simrun -u).
 */
import type { Readable, Writable } from "node:stream";
import type { MoteLink } from "./load";

/** Call `listener` with each line read from `from` (split at "\n", a "\r" before it dropped; bytes as latin1). */
export function onLines(from: Readable, listener: (line: string) => void): void {
  let partial = "";
  from.setEncoding("latin1");
  from.on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    for (const p of parts) listener(p.replace(/\r$/, ""));
  });
}

/** The link to the mote whose output is `from` and whose input is `to`. */
export function streamLink(from: Readable, to: Writable): MoteLink {
  const listeners = new Set<(line: string) => void>();
  onLines(from, (line) => {
    for (const l of [...listeners]) l(line);
  });
  return {
    write: (bytes) => {
      to.write(bytes);
    },
    onLine: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
