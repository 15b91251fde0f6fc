/**
 * A small promise API over node-coap's client (RFC 7252), for `terra deploy`,
 * `terra status` and the tests: one request (block-wise PUT with Block1,
 * RFC 7959, when asked), or an observation (RFC 7641). Each request has its
 * own Agent (UDP socket), closed when it ends or times out.
 */
import { Agent, type IncomingMessage, type ObserveReadStream, type OutgoingMessage, request } from "coap";
import { isIPv6 } from "node:net";

/** A coap:// URI that cannot be used. */
export class CoapUriError extends Error {}

export interface CoapTarget {
  hostname: string;
  port: number;
  pathname: string;
  query: string;
}

/** Parse coap://host[:port]/path[?query] (IPv6 literals in brackets). @throws CoapUriError */
export function parseCoapUri(uri: string): CoapTarget {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new CoapUriError(`"${uri}" is not a URI (expected coap://host[:port]/path, e.g. coap://[::1]:5683/vm)`);
  }
  if (u.protocol !== "coap:") throw new CoapUriError(`"${uri}": only coap:// is supported (no DTLS: coaps:// is not)`);
  if (!u.hostname) throw new CoapUriError(`"${uri}" has no host`);
  const port = u.port ? Number(u.port) : 5683;
  return { hostname: u.hostname.replace(/^\[|\]$/g, ""), port, pathname: decodeURIComponent(u.pathname || "/"), query: u.search.replace(/^\?/, "") };
}

export interface CoapResponse {
  /** Response code, e.g. "2.05", "4.01". */
  code: string;
  payload: Buffer;
  /** Content-Format as node-coap names it (e.g. "application/json"), or a number, or undefined. */
  format: string | number | undefined;
  /** Options by name as node-coap decodes them (Size1, Max-Age, ...). */
  headers: Record<string, unknown>;
}

export interface CoapRequestOptions {
  method?: "GET" | "PUT" | "POST" | "DELETE";
  payload?: Uint8Array;
  /** Content-Format of the payload (a registered name or a number). */
  contentFormat?: string | number;
  accept?: string | number;
  /** Block1 size exponent (0..6: 16..1024-byte blocks) for a block-wise upload. */
  block1?: number;
  /** Give up after this long, ms (default 20000). */
  timeoutMs?: number;
  /** Extra query (appended to the URI's). */
  query?: string;
}

/** Close an agent (and abort its request), ignoring "already closed". */
function closeAgent(agent: Agent, req?: OutgoingMessage): void {
  try {
    if (req) agent.abort(req);
  } catch {
    // the exchange already ended
  }
  try {
    agent.close();
  } catch {
    // the socket already closed itself
  }
}

/** The request as node-coap takes it. */
function params(t: CoapTarget, o: CoapRequestOptions, agent: Agent, observe = false) {
  const options: Record<string, unknown> = {};
  if (o.contentFormat !== undefined) options["Content-Format"] = o.contentFormat;
  if (o.accept !== undefined) options.Accept = o.accept;
  const query = [t.query, o.query].filter(Boolean).join("&");
  return { hostname: t.hostname, port: t.port, pathname: t.pathname, query, method: o.method ?? "GET", confirmable: true, options, agent, observe };
}

/**
 * Send one request and wait for the (final) response.
 * @throws Error "no response from host:port" on timeout, or the socket error.
 */
export function coapRequest(uri: string | CoapTarget, o: CoapRequestOptions = {}): Promise<CoapResponse> {
  const t = typeof uri === "string" ? parseCoapUri(uri) : uri;
  const agent = new Agent({ type: isIPv6(t.hostname) ? "udp6" : "udp4" });
  return new Promise<CoapResponse>((resolve, reject) => {
    let done = false;
    let req: OutgoingMessage;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      closeAgent(agent, req);
      f();
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`no response from ${t.hostname}:${t.port} within ${(o.timeoutMs ?? 20_000) / 1000} s`))), o.timeoutMs ?? 20_000);
    try {
      req = request(params(t, o, agent) as never);
    } catch (e) {
      finish(() => reject(e as Error));
      return;
    }
    if (o.block1 !== undefined) req.setOption("Block1", Buffer.of(o.block1 & 7));
    req.on("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      const out = () => finish(() => resolve({ code: String(res.code), payload: Buffer.concat(chunks.length ? chunks : [res.payload ?? Buffer.alloc(0)]), format: res.headers["Content-Format"] as string | number | undefined, headers: res.headers as Record<string, unknown> }));
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", out);
      res.on("error", (e: Error) => finish(() => reject(e)));
    });
    req.on("error", (e: Error) => finish(() => reject(e)));
    req.on("timeout", () => finish(() => reject(new Error(`no response from ${t.hostname}:${t.port}`))));
    req.end(o.payload ? Buffer.from(o.payload) : undefined);
  });
}

/** An observation in progress (RFC 7641). */
export interface Observation {
  /** Resolves with the first response (code and payload). */
  first: Promise<CoapResponse>;
  close(): void;
}

/** Observe a resource: `onData` gets every notification's payload. */
export function coapObserve(uri: string, onData: (payload: Buffer) => void, o: CoapRequestOptions = {}): Observation {
  const t = parseCoapUri(uri);
  const agent = new Agent({ type: isIPv6(t.hostname) ? "udp6" : "udp4" });
  let stream: ObserveReadStream | undefined;
  const first = new Promise<CoapResponse>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no response from ${t.hostname}:${t.port}`)), o.timeoutMs ?? 20_000);
    const req = request(params(t, o, agent, true) as never);
    req.on("response", (res: ObserveReadStream) => {
      clearTimeout(timer);
      stream = res;
      resolve({ code: String(res.code), payload: res.payload, format: res.headers["Content-Format"] as string | number | undefined, headers: res.headers as Record<string, unknown> });
      res.on("data", (d: Buffer) => onData(d));
    });
    req.on("error", (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end();
  });
  return {
    first,
    close: () => {
      try {
        stream?.close();
      } catch {
        // already closed
      }
      closeAgent(agent);
    },
  };
}
