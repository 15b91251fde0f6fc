/**
 * A MoteLink (load.ts) over a pair of Node streams: a serial device opened
 * for reading and writing, or a simulator's stdin and stdout
 * (firmware-host/build/micaz/simrun -u).
 */
import type { Readable, Writable } from "node:stream";
import type { MoteLink } from "./load";

/** The link to the mote whose output is `from` and whose input is `to`; lines are split at "\n" (a "\r" before it is dropped). */
export function streamLink(from: Readable, to: Writable): MoteLink {
  const listeners = new Set<(line: string) => void>();
  let partial = "";
  from.setEncoding("latin1");
  from.on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    for (const p of parts) for (const l of [...listeners]) l(p.replace(/\r$/, ""));
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
