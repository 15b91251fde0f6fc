/** The CoAP gateway (issue 5): server, the networks it fronts, a client for `terra deploy`/`status`. */
export * from "./server";
export * from "./network";
export * from "./udp-network";
export * from "./linkformat";
export * from "./client";
