/**
 * Persistent stores for dissemination state (types.ts Store): in memory (tests
 * and simulators: survives simulated reboots because the Map outlives the
 * protocol instance) and file-backed (host motes: one file per key in a
 * directory, replaced atomically by write-to-temporary + rename).
 *
 * Records (docs/dissemination.md "Persistence"):
 *   installed        the installed signed capsule
 *   fetch.manifest   the verified manifest of the capsule being received
 *   fetch.<i>        verified block i of that capsule (decimal i)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Store } from "./types";

export const KEY_INSTALLED = "installed";
export const KEY_MANIFEST = "fetch.manifest";
export const blockKey = (i: number): string => `fetch.${i}`;

const KEY_RE = /^[a-z0-9.]+$/;
function checkKey(key: string): void {
  if (!KEY_RE.test(key)) throw new Error(`store: bad key "${key}"`);
}

/** A store in memory (copies in and out, so callers cannot alias it). */
export class MemoryStore implements Store {
  private m = new Map<string, Uint8Array>();
  /** Writes so far (flash wear in a simulator). */
  writes = 0;

  get(key: string): Uint8Array | undefined {
    const v = this.m.get(key);
    return v ? v.slice() : undefined;
  }

  set(key: string, value: Uint8Array): void {
    checkKey(key);
    this.writes++;
    this.m.set(key, value.slice());
  }

  delete(key: string): void {
    this.m.delete(key);
  }

  keys(): string[] {
    return [...this.m.keys()];
  }
}

/** A store in a directory: one file per key. @throws Error with the path when the directory cannot be used. */
export class FileStore implements Store {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  get(key: string): Uint8Array | undefined {
    checkKey(key);
    const p = join(this.dir, key);
    if (!existsSync(p)) return undefined;
    return new Uint8Array(readFileSync(p));
  }

  set(key: string, value: Uint8Array): void {
    checkKey(key);
    const p = join(this.dir, key);
    const tmp = `${p}.tmp`;
    writeFileSync(tmp, value);
    renameSync(tmp, p);
  }

  delete(key: string): void {
    checkKey(key);
    rmSync(join(this.dir, key), { force: true });
  }

  keys(): string[] {
    return readdirSync(this.dir).filter((f) => KEY_RE.test(f) && !f.endsWith(".tmp"));
  }
}
