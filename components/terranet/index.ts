/** TerraNet: the single-mote components (local.ts) and the networked ones (net.ts). */
export * from "./local";
export { LocalOps, TerraNetRadio } from "./net";
