/**
 * Capsule security (issue 5): network keys, signing, the gateway's and
 * motes' checks with precise rejection reasons, manifests and per-block
 * authentication (Ed25519 digests or HMAC-SHA-256 tags). docs/security.md.
 */
export * from "./keys";
export * from "./capsule";
export * from "./manifest";
