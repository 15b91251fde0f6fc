/** TerraGrp: the single-mote components (local.ts) and the networked ones (grp.ts, collect.ts). */
export * from "./local";
export { AG, GroupServices as NetworkGroupServices } from "./grp";
export { Collection } from "./collect";
