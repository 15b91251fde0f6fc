/**
 * Network keys: the Ed25519 key pair that signs capsules (RFC 8032, through
 * node:crypto) and the pre-shared key of the HMAC-SHA-256 mode (RFC 2104)
 * used by motes too small for Ed25519 (docs/security.md).
 *
 * Files:
 *  - private key: PKCS #8 PEM ("-----BEGIN PRIVATE KEY-----"), mode 0600;
 *  - public key:  SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----");
 *  - PSK:         hex text, 16..64 bytes (32 by default), mode 0600.
 * Every loader throws KeyError naming the file and the reason.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";

/** A key file that is missing, unreadable or not the expected kind of key. */
export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyError";
  }
}

export interface NetworkKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Bytes of a raw Ed25519 public key (RFC 8032 §5.1.5). */
export const ED25519_PUBLIC_BYTES = 32;
/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4), followed by the 32 raw bytes. */
const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
/** Default and accepted PSK lengths, in bytes. */
export const PSK_BYTES = 32;
export const PSK_MIN_BYTES = 16;
export const PSK_MAX_BYTES = 64;

/** A fresh Ed25519 key pair for a network (node:crypto's CSPRNG). */
export function generateNetworkKey(): NetworkKeyPair {
  return generateKeyPairSync("ed25519");
}

export function privateKeyPem(k: KeyObject): string {
  return k.export({ format: "pem", type: "pkcs8" }).toString();
}

export function publicKeyPem(k: KeyObject): string {
  const pub = k.type === "private" ? createPublicKey(k) : k;
  return pub.export({ format: "pem", type: "spki" }).toString();
}

/** The 32 raw bytes of an Ed25519 public key (what a C mote is configured with). */
export function rawPublicKey(k: KeyObject): Uint8Array {
  const pub = k.type === "private" ? createPublicKey(k) : k;
  const der = new Uint8Array(pub.export({ format: "der", type: "spki" }));
  return der.slice(der.length - ED25519_PUBLIC_BYTES);
}

/** An Ed25519 public key from its 32 raw bytes. @throws KeyError when the length is wrong. */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== ED25519_PUBLIC_BYTES) throw new KeyError(`an Ed25519 public key has ${ED25519_PUBLIC_BYTES} bytes, got ${raw.length}`);
  const der = new Uint8Array(SPKI_ED25519_PREFIX.length + ED25519_PUBLIC_BYTES);
  der.set(SPKI_ED25519_PREFIX, 0);
  der.set(raw, SPKI_ED25519_PREFIX.length);
  return createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });
}

/** Short fingerprint of a public key: the first 8 bytes of SHA-256 of its raw bytes, hex (shown by `terra status`). */
export function keyFingerprint(k: KeyObject): string {
  return createHash("sha256").update(rawPublicKey(k)).digest("hex").slice(0, 16);
}

function readKeyText(path: string, what: string): string {
  if (!existsSync(path)) throw new KeyError(`${what} ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new KeyError(`${what} ${path}: is a directory`);
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new KeyError(`${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Parse an Ed25519 private key from PKCS #8 PEM. @throws KeyError (source names the file). */
export function parsePrivateKey(pem: string, source: string): KeyObject {
  let k: KeyObject;
  try {
    k = createPrivateKey(pem);
  } catch {
    throw new KeyError(`${source}: not a PEM private key (create one with \`terra keygen\`)`);
  }
  if (k.asymmetricKeyType !== "ed25519") throw new KeyError(`${source}: a ${k.asymmetricKeyType} key, the network key must be Ed25519`);
  return k;
}

/** Parse an Ed25519 public key from SPKI PEM, or derive it from a private key PEM. @throws KeyError */
export function parsePublicKey(pem: string, source: string): KeyObject {
  let k: KeyObject;
  try {
    k = createPublicKey(pem);
  } catch {
    throw new KeyError(`${source}: not a PEM public or private key (create one with \`terra keygen\`)`);
  }
  if (k.asymmetricKeyType !== "ed25519") throw new KeyError(`${source}: a ${k.asymmetricKeyType} key, the network key must be Ed25519`);
  return k;
}

export function loadPrivateKey(path: string): KeyObject {
  return parsePrivateKey(readKeyText(path, "private key"), path);
}

export function loadPublicKey(path: string): KeyObject {
  return parsePublicKey(readKeyText(path, "public key"), path);
}

/** A fresh pre-shared key (PSK_BYTES random bytes). */
export function generatePsk(): Uint8Array {
  return new Uint8Array(randomBytes(PSK_BYTES));
}

export function formatPsk(psk: Uint8Array): string {
  return `${Buffer.from(psk).toString("hex")}\n`;
}

/** Parse a PSK file's text: hex digits (blanks ignored), 16..64 bytes. @throws KeyError */
export function parsePsk(text: string, source: string): Uint8Array {
  const hex = text.replace(/\s+/g, "");
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new KeyError(`${source}: a PSK file holds hex digits (create one with \`terra keygen --psk\`)`);
  const n = hex.length / 2;
  if (n < PSK_MIN_BYTES || n > PSK_MAX_BYTES) throw new KeyError(`${source}: a PSK has ${PSK_MIN_BYTES}..${PSK_MAX_BYTES} bytes, got ${n}`);
  return new Uint8Array(Buffer.from(hex, "hex"));
}

export function loadPsk(path: string): Uint8Array {
  return parsePsk(readKeyText(path, "PSK"), path);
}

/**
 * Write a key file (0600 for secrets). Refuses to overwrite an existing file
 * unless `force`. @throws KeyError
 */
export function writeKeyFile(path: string, text: string, secret: boolean, force = false): void {
  if (!force && existsSync(path)) throw new KeyError(`${path}: already exists (use --force to replace it; motes keep trusting the old key)`);
  try {
    writeFileSync(path, text, { mode: secret ? 0o600 : 0o644 });
  } catch (e) {
    throw new KeyError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
