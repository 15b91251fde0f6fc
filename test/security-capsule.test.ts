/**
 * Capsule security: keys (PEM, raw, PSK files), signing with vm/capsule.ts's
 * trailer, the gateway/base-station check with one precise reason per
 * failure, manifests of both modes, block digests and HMAC tags.
 */
import { createHmac, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileFile } from "../cli/util";
import { CapsuleFlags, signedMessage, unsignedPart } from "../vm/capsule";
import {
  blockTag, buildManifest, checkBlock, checkSignedCapsule, ed25519Verify, formatPsk, generateNetworkKey, generatePsk, KeyError,
  keyFingerprint, loadPrivateKey, loadPsk, loadPublicKey, manifestTag, openManifest, parseHeader, parsePrivateKey, parsePsk, parsePublicKey,
  privateKeyPem, publicKeyFromRaw, publicKeyPem, rawPublicKey, scriptNeeds, sha256, signCapsuleWith, TAG_BYTES, writeKeyFile,
} from "../components/security";
import { syntheticCapsule } from "../components/dissemination";
import { CFG, KEYS, OTHER_CFG, PSK } from "./helpers/net";

const policy = (over: Partial<Parameters<typeof checkSignedCapsule>[1]> = {}) => ({ publicKey: KEYS.publicKey, configId: CFG, installedVersion: 1, scriptSpace: 65535, ...over });
const raw = (bytes = 700, version = 2, configId = CFG) => syntheticCapsule({ bytes, version, configId });

describe("keys", () => {
  it("key files: PEM round trip, 0600 for secrets, raw 32-byte public key, refusals with the file and reason", () => {
    const dir = mkdtempSync(join(tmpdir(), "terra-keys-"));
    try {
      const k = generateNetworkKey();
      writeKeyFile(join(dir, "net.key"), privateKeyPem(k.privateKey), true);
      writeKeyFile(join(dir, "net.key.pub"), publicKeyPem(k.publicKey), false);
      expect(statSync(join(dir, "net.key")).mode & 0o777).toBe(0o600);
      expect(() => writeKeyFile(join(dir, "net.key"), "x", true)).toThrow(/already exists/);
      const priv = loadPrivateKey(join(dir, "net.key"));
      const pub = loadPublicKey(join(dir, "net.key.pub"));
      expect(rawPublicKey(pub)).toEqual(rawPublicKey(priv));
      expect(rawPublicKey(pub).length).toBe(32);
      expect(keyFingerprint(publicKeyFromRaw(rawPublicKey(pub)))).toBe(keyFingerprint(pub));
      // a private key file also gives the public key
      expect(rawPublicKey(loadPublicKey(join(dir, "net.key")))).toEqual(rawPublicKey(pub));
      expect(() => loadPrivateKey(join(dir, "missing.key"))).toThrow(/missing.key: no such file/);
      expect(() => loadPrivateKey(dir)).toThrow(/is a directory/);
      writeFileSync(join(dir, "junk"), "hello");
      expect(() => loadPrivateKey(join(dir, "junk"))).toThrow(KeyError);
      const rsa = generateKeyPairSync("ec", { namedCurve: "P-256" });
      expect(() => parsePrivateKey(rsa.privateKey.export({ format: "pem", type: "pkcs8" }).toString(), "ec.pem")).toThrow(/ec.pem: a ec key, the network key must be Ed25519/);
      expect(() => parsePublicKey("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "bad.pub")).toThrow(/bad.pub: not a PEM/);
      // PSK
      const psk = generatePsk();
      writeKeyFile(join(dir, "net.psk"), formatPsk(psk), true);
      expect(loadPsk(join(dir, "net.psk"))).toEqual(psk);
      expect(readFileSync(join(dir, "net.psk"), "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
      expect(() => parsePsk("zz", "p")).toThrow(/hex digits/);
      expect(() => parsePsk("00".repeat(8), "p")).toThrow(/16..64 bytes, got 8/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("signing and checking capsules", () => {
  it("a signed capsule carries the vm/capsule.ts trailer and passes every check", () => {
    const s = signCapsuleWith(raw(), KEYS.privateKey);
    expect(s[3] & CapsuleFlags.Signed).toBe(CapsuleFlags.Signed);
    expect(s.length).toBe(700 + 65);
    const u = unsignedPart(s);
    expect(ed25519Verify(KEYS.publicKey, signedMessage(u, 64, sha256), s.subarray(u.length + 1))).toBe(true);
    const r = checkSignedCapsule(s, policy());
    expect(r.ok).toBe(true);
    // re-versioning when signing
    const s9 = signCapsuleWith(raw(), KEYS.privateKey, 9);
    expect(parseHeader(s9).programVersion).toBe(9);
    expect(checkSignedCapsule(s9, policy()).ok).toBe(true);
    expect(() => signCapsuleWith(s9, KEYS.privateKey)).toThrow(/already signed/);
  });

  it("each failure has its own reason, in the documented order", () => {
    const good = signCapsuleWith(raw(), KEYS.privateKey);
    const reason = (b: Uint8Array, over = {}) => {
      const r = checkSignedCapsule(b, policy(over));
      return r.ok ? "ok" : r.rejection.reason;
    };
    expect(reason(good.slice(0, 40))).toBe("malformed");
    expect(reason(Uint8Array.from([...good, 0]))).toBe("malformed");
    expect(reason(raw())).toBe("unsigned");
    const body = good.slice();
    body[80] ^= 4;
    expect(reason(body)).toBe("tampered");
    const header = good.slice();
    header[4] = 99; // version raised without re-signing
    expect(reason(header)).toBe("bad-signature");
    const sig = good.slice();
    sig[sig.length - 1] ^= 1;
    expect(reason(sig)).toBe("bad-signature");
    expect(reason(signCapsuleWith(raw(), generateNetworkKey().privateKey))).toBe("bad-signature");
    expect(reason(signCapsuleWith(raw(700, 2, OTHER_CFG), KEYS.privateKey))).toBe("wrong-config");
    expect(reason(good, { installedVersion: 2 })).toBe("rollback");
    expect(reason(good, { installedVersion: 5 })).toBe("rollback");
    expect(reason(good, { scriptSpace: 600 })).toBe("too-large");
    expect(reason(good, { maxBlockBytes: 32 })).toBe("too-large");
    const r = checkSignedCapsule(good, policy({ installedVersion: 2 }));
    expect(r.ok ? "" : r.rejection.detail).toBe("version 2 is not newer than the installed version 2");
  });

  it("authentic code the bytecode verifier refuses is 'unverifiable'", () => {
    const u = raw(100).slice();
    u[u.length - 1] = 0xff; // last instruction: an unassigned opcode
    const h = sha256(u.subarray(56));
    u.set(h, 24);
    const r = checkSignedCapsule(signCapsuleWith(u, KEYS.privateKey), policy());
    expect(r.ok ? "ok" : r.rejection.reason).toBe("unverifiable");
  });

  it("scriptNeeds equals the compile report's bytes needed", () => {
    const c = compileFile("examples/alarm.terra", {});
    expect(c.ok).toBe(true);
    const needs = c.report!.platforms[0].needs;
    expect(scriptNeeds(parseHeader(c.capsule!))).toBe(needs);
  });
});

describe("manifests and blocks", () => {
  const cap = signCapsuleWith(raw(1000, 3), KEYS.privateKey);
  const h = parseHeader(cap);
  const block = (j: number) => cap.slice(j * 64, Math.min(h.unsignedBytes, (j + 1) * 64));

  it("ed25519: signed message + trailer; every block checks against its digest; a changed block does not", () => {
    const m = buildManifest(cap, { mode: "ed25519" });
    expect(m.length).toBe(56 + 8 * h.blocks + 65);
    const r = openManifest(m, { mode: "ed25519", publicKey: KEYS.publicKey }, h.blocks);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    for (let j = 0; j < h.blocks; j++) expect(checkBlock(r.manifest, { mode: "ed25519", publicKey: KEYS.publicKey }, j, block(j))).toBe(true);
    const bad = block(3);
    bad[0] ^= 1;
    expect(checkBlock(r.manifest, { mode: "ed25519", publicKey: KEYS.publicKey }, 3, bad)).toBe(false);
    expect(checkBlock(r.manifest, { mode: "ed25519", publicKey: KEYS.publicKey }, 4, block(3))).toBe(false);
    const forged = m.slice();
    forged[60] ^= 1; // a digest
    expect(openManifest(forged, { mode: "ed25519", publicKey: KEYS.publicKey })).toMatchObject({ ok: false, rejection: { reason: "bad-signature" } });
    expect(openManifest(m, { mode: "ed25519", publicKey: KEYS.publicKey }, h.blocks + 1)).toMatchObject({ ok: false, rejection: { reason: "malformed" } });
  });

  it("psk: the manifest tag and block tags are HMAC-SHA-256 truncated to 8 bytes over the documented fields", () => {
    const m = buildManifest(cap, { mode: "psk", psk: PSK });
    expect(m.length).toBe(56 + 65 + 8);
    const expectTag = createHmac("sha256", PSK).update("TERRA-PSK-MANIFEST").update(m.subarray(0, 121)).digest().subarray(0, 8);
    expect(Buffer.from(m.subarray(121)).equals(expectTag)).toBe(true);
    expect(manifestTag(PSK, m.subarray(0, 121))).toEqual(m.subarray(121));
    const r = openManifest(m, { mode: "psk", psk: PSK });
    expect(r.ok).toBe(true);
    expect(openManifest(m, { mode: "psk", psk: generatePsk() })).toMatchObject({ ok: false, rejection: { reason: "bad-signature" } });
    // block tag = HMAC(psk, label | config | version | body hash | index | count | bytes)[0..8]
    const meta = Buffer.alloc(44);
    meta.writeUInt32LE(h.configId, 0);
    meta.writeUInt32LE(h.programVersion, 4);
    Buffer.from(h.bodyHash).copy(meta, 8);
    meta.writeUInt16LE(5, 40);
    meta.writeUInt16LE(h.blocks, 42);
    const want = createHmac("sha256", PSK).update("TERRA-PSK-BLOCK").update(meta).update(block(5)).digest().subarray(0, TAG_BYTES);
    expect(Buffer.from(blockTag(PSK, h, 5, block(5))).equals(want)).toBe(true);
    // the tag binds the index, the version, the configuration and the bytes
    const t = blockTag(PSK, h, 5, block(5));
    expect(blockTag(PSK, h, 6, block(5))).not.toEqual(t);
    expect(blockTag(PSK, { ...h, programVersion: 4 }, 5, block(5))).not.toEqual(t);
    expect(blockTag(PSK, { ...h, configId: OTHER_CFG }, 5, block(5))).not.toEqual(t);
    const b = block(5);
    b[10] ^= 1;
    expect(blockTag(PSK, h, 5, b)).not.toEqual(t);
    if (r.ok) {
      expect(checkBlock(r.manifest, { mode: "psk", psk: PSK }, 5, block(5), t)).toBe(true);
      expect(checkBlock(r.manifest, { mode: "psk", psk: PSK }, 5, b, t)).toBe(false);
    }
  });
});
