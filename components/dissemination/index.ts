/**
 * Capsule dissemination (issue 5): the Trickle-based protocol (node.ts), the
 * naive flooding baseline (flood.ts), their frames (frames.ts), persistence
 * (store.ts), synthetic capsules of exact sizes (synthetic.ts) and a UDP
 * transport shared with the C motes (udp.ts). The
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
export * from "./udp";
