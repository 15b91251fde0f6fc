/**
 * Capsule dissemination (issue 5): the Trickle-based protocol (node.ts), the
 * naive flooding baseline (flood.ts), their frames (frames.ts), persistence
 * (store.ts) and synthetic capsules of exact sizes (synthetic.ts). The
 * network simulator runs them on every mote (components/sim/dissemination.ts).
 * docs/dissemination.md.
 */
export * from "./types";
export * from "./frames";
export * from "./trickle";
export * from "./store";
export * from "./object";
export * from "./node";
export * from "./flood";
export * from "./synthetic";
