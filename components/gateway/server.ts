/**
 * The CoAP gateway (RFC 7252, with node-coap): the network's script
 * container as a CoAP resource (seeds 000/001), in front of a MoteNetwork.
 *
 * Resources:
 *   /.well-known/core        GET: link format (RFC 6690), query filtering
 *   /vm                      GET: the base station's program (JSON, or CBOR
 *                            with Accept: 60), observable (RFC 7641);
 *                            PUT: a signed capsule (application/octet-stream,
 *                            block-wise with Block1, RFC 7959)
 *   /vm/motes                GET: every mote's version, state, progress and
 *                            rejections (JSON/CBOR), observable while its
 *                            document fits one message (larger: a plain GET,
 *                            block-wise, as RFC 7641 §4.1 allows)
 *   /motes/<id>/<sensor>     GET: a mote's sensor (text/plain), observable;
 *                            sensors: those of MoteNetwork.sensors() (the simulator: temp, photo, volts, mic, leds; UDP networks: none)
 *
 * Errors carry a diagnostic payload (text/plain, RFC 7252 §5.5.2):
 *   4.00 malformed capsule, bad query      4.01 unsigned, tampered, bad signature
 *   4.04 no such resource                  4.05 method not allowed
 *   4.06 unsupported Accept                4.08 block-wise upload with a gap (RFC 7959)
 *   4.09 version not newer (RFC 8132)      4.13 capsule or upload too large (Size1)
 *   4.15 Content-Format not octet-stream   4.22 other VM configuration, or code the verifier refuses (RFC 8132)
 *   5.03 the base station cannot take a capsule now
 *
 * Block-wise uploads are reassembled in front of node-coap (see `guard`):
 * node-coap ties blocks by token, which clients may change per block (RFC
 * 9175 Request-Tag; libcoap does), and does not bound the size or detect a
 * missing block (4.13 with Size1, 4.08).
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type OutgoingMessage, type Server } from "coap";
import { generate, type Option, parse } from "coap-packet";
import { encode as cborEncode } from "cborg";
import { MAX_BLOCK_BYTES } from "../dissemination/frames";
import { checkSignedCapsule, hex8, keyFingerprint, parseHeader, type RejectReason, type Rejection, sha256, toHex } from "../security/index";
import { filterLinks, formatLinks, type Link } from "./linkformat";
import { type MoteNetwork, NetworkUnavailable } from "./network";

/** Content-Format numbers (RFC 7252 §12.3, IANA registry). */
export const CF = { text: 0, linkFormat: 40, octetStream: 42, json: 50, cbor: 60 } as const;
const CF_NAMES: Record<string, number> = {
  "text/plain": 0, "application/link-format": 40, "application/octet-stream": 42, "application/json": 50, "application/cbor": 60,
};

/** CoAP response code of each rejection reason. */
export const REJECT_CODE: Record<RejectReason, string> = {
  malformed: "4.00",
  unsigned: "4.01",
  tampered: "4.01",
  "bad-signature": "4.01",
  "wrong-config": "4.22",
  rollback: "4.09",
  "too-large": "4.13",
  unverifiable: "4.22",
};

/** Largest notification node-coap can send (one message of at most 1280 bytes, with room for the header). */
const MAX_NOTIFICATION_BYTES = 1024;

/** Largest capsule upload accepted (bytes); bigger uploads get 4.13 with Size1. */
export const MAX_UPLOAD_BYTES = 65_536;

export interface GatewayOptions {
  network: MoteNetwork;
  /** The network's Ed25519 public key. */
  publicKey: KeyObject;
  /** UDP port (default 5683; 0 picks a free one). */
  port?: number;
  /** Address to bind (default "::", IPv6 and IPv4-mapped). */
  address?: string;
  maxUploadBytes?: number;
  /** How often observed resources are re-read, ms (default 1000). */
  sampleMs?: number;
  /** One line per request outcome (the CLI prints them). */
  log?: (line: string) => void;
}

/** A refusal at the gateway (GET /vm shows the latest). */
export interface GatewayRejection extends Rejection {
  at: string;
  code: string;
  name?: string;
}

const MAX_REJECTIONS = 16;

/** A CoAP format given as a registered name or a number; -1 when absent. */
function formatOf(v: unknown): number {
  if (v === undefined || v === null) return -1;
  if (typeof v === "number") return v;
  const s = String(v);
  return CF_NAMES[s] ?? CF_NAMES[s.split(";")[0].trim()] ?? -2;
}

function uintBytes(n: number): Buffer {
  const out: number[] = [];
  while (n > 0) {
    out.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from(out);
}

export class Gateway {
  private server: Server | undefined;
  private sock: Socket | undefined;
  readonly rejections: GatewayRejection[] = [];
  /** Program names given at upload (?name=), by version. */
  readonly names = new Map<number, string>();
  private observers = new Set<() => void>();
  private uploads = new Map<string, { parts: Buffer[]; bytes: number; at: number }>();
  private passOn: ((msg: Buffer, rinfo: RemoteInfo) => void) | undefined;
  /** Block1 option of reassembled uploads, echoed in the final response (RFC 7959 §2.3). */
  private finalBlock1 = new Map<string, Buffer>();
  private maxUpload: number;

  constructor(readonly o: GatewayOptions) {
    this.maxUpload = o.maxUploadBytes ?? MAX_UPLOAD_BYTES;
  }

  /** Start listening. @returns the bound port. @throws Error when the address/port cannot be bound. */
  async start(): Promise<number> {
    const address = this.o.address ?? "::";
    const sock = createSocket({ type: address.includes(":") ? "udp6" : "udp4", reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      sock.once("error", reject);
      sock.bind(this.o.port ?? 5683, address, () => {
        sock.off("error", reject);
        resolve();
      });
    });
    this.sock = sock;
    // the Block1 guard: sees every datagram before node-coap does
    const emit = sock.emit.bind(sock) as (ev: string, ...a: unknown[]) => boolean;
    this.passOn = (m, r) => emit("message", m, r);
    (sock as unknown as { emit: typeof emit }).emit = (ev: string, ...a: unknown[]) => {
      if (ev === "message" && !this.guard(a[0] as Buffer, a[1] as RemoteInfo)) return true;
      return emit(ev, ...a);
    };
    sock.on("error", (e) => this.o.log?.(`socket error: ${e.message}`));
    const server = createServer({ type: address.includes(":") ? "udp6" : "udp4" });
    server.on("request", (req: IncomingMessage, res: OutgoingMessage) => {
      try {
        this.handle(req, res);
      } catch (e) {
        this.reply(res, "5.00", `internal error: ${(e as Error).message}`);
      }
    });
    server.on("error", (e: Error) => this.o.log?.(`coap error: ${e.message}`));
    await new Promise<void>((resolve) => server.listen(sock, () => resolve()));
    this.server = server;
    return sock.address().port;
  }

  async close(): Promise<void> {
    for (const stop of [...this.observers]) stop();
    this.observers.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
    this.sock?.close();
    this.sock = undefined;
  }

  // ---- block-wise uploads (RFC 7959 Block1, RFC 9175 Request-Tag) ------------------

  /**
   * Sees every datagram before node-coap. Block1 requests are reassembled
   * here: node-coap matches blocks by token, but a client may change the
   * token for every block and tie them with Request-Tag (RFC 9175; libcoap
   * does), and node-coap neither bounds the size nor notices a missing block.
   * Non-final blocks are answered 2.31 Continue here; the final one is handed
   * to node-coap as one request carrying the whole body.
   * @returns false when the datagram was answered (or replaced) here.
   */
  private guard(msg: Buffer, rinfo: RemoteInfo): boolean {
    let p: ReturnType<typeof parse>;
    try {
      p = parse(msg);
    } catch {
      return true; // node-coap drops what it cannot parse
    }
    if (!p.code.startsWith("0.") || p.code === "0.00" || p.ack || p.reset) return true;
    const opt = (name: string) => p.options.find((o) => String(o.name) === name)?.value;
    const b1 = opt("Block1");
    const size1 = opt("Size1");
    const answer = (code: string, options: Option[], payload?: Buffer) => {
      const out = generate({
        messageId: p.confirmable ? p.messageId : Math.floor(Math.random() * 0x10000), token: p.token, code, ack: p.confirmable, confirmable: false,
        options, payload,
      });
      this.sock?.send(out, rinfo.port, rinfo.address);
      return false;
    };
    const fail = (code: string, text: string, extra: Option[] = []) => {
      this.o.log?.(`${rinfo.address} ${code} ${text}`);
      return answer(code, [...extra, { name: "Content-Format", value: Buffer.of(CF.text) }], Buffer.from(text));
    };
    const tooBig = () => fail("4.13", `upload larger than ${this.maxUpload} bytes`, [{ name: "Size1", value: uintBytes(this.maxUpload) }]);
    if (size1 && size1.length > 0 && size1.length <= 4 && size1.readUIntBE(0, size1.length) > this.maxUpload) return tooBig();
    const obs = opt("Observe");
    if (p.code === "0.01" && obs && obs.length <= 1 && (obs.length === 0 || obs[0] === 0)) {
      // node-coap sends notifications in single messages (no Block2): a document too big for one is
      // served as a plain GET, which RFC 7641 §4.1 allows (the response then carries no Observe option)
      const path = p.options.filter((o) => o.name === "Uri-Path").map((o) => o.value.toString()).join("/");
      const doc = path === "vm" ? this.vmDocument() : path === "vm/motes" ? this.network.motes() : undefined;
      if (doc !== undefined && JSON.stringify(doc).length > MAX_NOTIFICATION_BYTES) {
        this.passOn?.(generate({ ...p, options: p.options.filter((o) => o.name !== "Observe") as Option[] }), rinfo);
        return false;
      }
    }
    if (!b1) return true;
    if (b1.length > 3) return fail("4.02", "bad Block1 option");
    const v = b1.length ? b1.readUIntBE(0, b1.length) : 0;
    const szx = v & 7;
    const more = (v >> 3) & 1;
    const num = v >> 4;
    if (szx === 7) return fail("4.00", "Block1 size exponent 7 is reserved (RFC 7959 §2.2)");
    const size = 1 << (szx + 4);
    const offset = num * size;
    if (offset + p.payload.length > this.maxUpload) return tooBig();
    if (more && p.payload.length !== size) return fail("4.00", `block ${num} has ${p.payload.length} bytes, its Block1 option says ${size}`);
    const path = p.options.filter((o) => o.name === "Uri-Path").map((o) => o.value.toString()).join("/");
    const tag = opt("292"); // Request-Tag (RFC 9175; coap-packet has no name for it)
    const key = `${rinfo.address}|${rinfo.port}|${p.code}|${path}|${tag ? tag.toString("hex") : p.token.toString("hex")}`;
    const now = Date.now();
    for (const [k, u] of this.uploads) if (now - u.at > 300_000) this.uploads.delete(k);
    let u = this.uploads.get(key);
    if (num === 0) {
      u = { parts: [], bytes: 0, at: now };
      this.uploads.set(key, u);
    } else if (!u) {
      return fail("4.08", `block ${num} of an upload whose block 0 never arrived (RFC 7959 §2.9.2)`);
    }
    if (offset < u.bytes) {
      // a retransmitted block: answer again (the final one is replayed by node-coap's message cache)
      return more ? answer("2.31", [{ name: "Block1", value: b1 }]) : true;
    }
    if (offset > u.bytes) {
      this.uploads.delete(key);
      return fail("4.08", `block ${num} starts at byte ${offset}, but only ${u.bytes} bytes arrived (RFC 7959 §2.9.2)`);
    }
    u.parts.push(Buffer.from(p.payload));
    u.bytes += p.payload.length;
    u.at = now;
    if (more) return answer("2.31", [{ name: "Block1", value: b1 }]);
    this.uploads.delete(key);
    if (this.finalBlock1.size > 256) this.finalBlock1.clear(); // answers node-coap replayed from its cache never came back for theirs
    this.finalBlock1.set(`${rinfo.address}|${rinfo.port}|${p.messageId}`, b1);
    const whole = generate({
      messageId: p.messageId, token: p.token, code: p.code, confirmable: p.confirmable,
      options: p.options.filter((o) => o.name !== "Block1" && o.name !== "Size1" && String(o.name) !== "292") as Option[], payload: Buffer.concat(u.parts),
    }, 1 << 20);
    this.passOn?.(whole, rinfo);
    return false;
  }

  // ---- requests -----------------------------------------------------------------------

  private reply(res: OutgoingMessage, code: string, text: string): void {
    res.code = code;
    res.setOption("Content-Format", "text/plain");
    res.end(Buffer.from(text));
  }

  private handle(req: IncomingMessage, res: OutgoingMessage): void {
    const mid = (req as unknown as { _packet?: { messageId?: number } })._packet?.messageId;
    const k = `${req.rsinfo?.address}|${req.rsinfo?.port}|${mid}`;
    const b1 = this.finalBlock1.get(k);
    if (b1) {
      this.finalBlock1.delete(k);
      res.setOption("Block1", b1);
    }
    const url = req.url ?? "/";
    const qi = url.indexOf("?");
    const path = (qi < 0 ? url : url.slice(0, qi)).replace(/\/+$/, "") || "/";
    const query = qi < 0 ? "" : url.slice(qi + 1);
    const method = req.method;
    const observe = req.headers.Observe === 0;
    const who = `${req.rsinfo?.address ?? "?"} ${method} ${path}`;
    const allow = (methods: string[]) => {
      if (methods.includes(method)) return true;
      this.reply(res, "4.05", `${path} allows ${methods.join(", ")}`);
      this.o.log?.(`${who} 4.05`);
      return false;
    };
    if (path === "/.well-known/core") {
      if (!allow(["GET"])) return;
      res.setOption("Content-Format", "application/link-format");
      res.end(Buffer.from(formatLinks(filterLinks(this.links(), query.split("&")[0] ?? ""))));
      return;
    }
    if (path === "/vm") {
      if (method === "PUT") {
        this.put(req, res, query, who);
        return;
      }
      if (!allow(["GET", "PUT"])) return;
      this.document(req, res, () => this.vmDocument(), observe);
      return;
    }
    if (path === "/vm/motes") {
      if (!allow(["GET"])) return;
      this.document(req, res, () => this.network.motes(), observe);
      return;
    }
    const m = /^\/motes\/(\d+)\/([a-z]+)$/.exec(path);
    if (m) {
      if (!allow(["GET"])) return;
      const id = Number(m[1]);
      const sensor = m[2];
      if (this.network.read(id, sensor) === undefined) {
        const sensors = this.network.sensors();
        this.reply(res, "4.04", sensors.length === 0
          ? `no sensor resources: this network (${this.network.info().kind}) does not report sensor readings`
          : `no mote ${id} with a sensor "${sensor}" (GET /.well-known/core lists them; sensors ${sensors.join(", ")})`);
        return;
      }
      const accept = formatOf(req.headers.Accept);
      if (accept !== -1 && accept !== CF.text) {
        this.reply(res, "4.06", "sensor resources are text/plain (Content-Format 0)");
        return;
      }
      this.observeOrGet(res, observe, () => String(this.network.read(id, sensor) ?? ""), CF.text);
      return;
    }
    this.reply(res, "4.04", `no resource ${path} (GET /.well-known/core lists them)`);
  }

  private get network(): MoteNetwork {
    return this.o.network;
  }

  private links(): Link[] {
    const links: Link[] = [
      { href: "/vm", attrs: { rt: "terra.vm", if: "core.p", ct: `${CF.json} ${CF.cbor} ${CF.octetStream}`, title: "Terra script container", obs: true } },
      { href: "/vm/motes", attrs: { rt: "terra.motes", if: "core.s", ct: `${CF.json} ${CF.cbor}`, obs: true } },
    ];
    const n = this.network.info().motes;
    for (let id = 1; id <= n; id++) {
      for (const s of this.network.sensors()) links.push({ href: `/motes/${id}/${s}`, attrs: { rt: `terra.sensor.${s}`, if: "core.s", ct: CF.text, obs: true } });
    }
    return links;
  }

  private vmDocument(): Record<string, unknown> {
    const info = this.network.info();
    const prog = this.network.program();
    const motes = this.network.motes();
    const running = prog ? motes.filter((m) => m.up && m.version === prog.version).length : 0;
    return {
      program: prog ? this.names.get(prog.version) ?? null : null,
      version: prog?.version ?? 0,
      state: prog?.state ?? "none",
      capsule_bytes: prog?.capsuleBytes ?? 0,
      code_bytes: prog?.codeBytes ?? 0,
      blocks: prog?.blocks ?? 0,
      block_bytes: prog?.blockBytes ?? 0,
      signed: prog?.signed ?? false,
      sha256: prog?.sha256 ?? null,
      config: info.configName,
      config_id: `0x${hex8(info.configId)}`,
      script_space: info.scriptSpace,
      platform: info.platform,
      auth: info.auth,
      key: keyFingerprint(this.o.publicKey),
      network: info.kind,
      motes: info.motes,
      coverage: { running_version: running, motes: info.motes },
      rejections: this.rejections,
    };
  }

  /** GET of a JSON/CBOR document (Accept chooses), observable: re-read every sampleMs, notified when it changes. */
  private document(req: IncomingMessage, res: OutgoingMessage, read: () => unknown, observe: boolean): void {
    const accept = formatOf(req.headers.Accept);
    if (accept !== -1 && accept !== CF.json && accept !== CF.cbor) {
      this.reply(res, "4.06", "this resource is application/json (50) or application/cbor (60)");
      return;
    }
    const cbor = accept === CF.cbor;
    const enc = (): Buffer => (cbor ? Buffer.from(cborEncode(read())) : Buffer.from(JSON.stringify(read())));
    this.observeOrGet(res, observe, enc, cbor ? CF.cbor : CF.json);
  }

  private observeOrGet(res: OutgoingMessage, observe: boolean, read: () => Buffer | string, cf: number): void {
    res.setOption("Content-Format", cf === CF.cbor ? "application/cbor" : cf === CF.json ? "application/json" : "text/plain");
    const first = read();
    if (!observe) {
      res.end(Buffer.from(first));
      return;
    }
    // RFC 7641: res is an ObserveWriteStream; every write is a notification
    const w = res as unknown as NodeJS.WritableStream & { setOption(n: string, v: unknown): void };
    let last = Buffer.from(first);
    w.setOption("Max-Age", Math.max(1, Math.ceil((this.o.sampleMs ?? 1000) / 1000) + 1));
    w.write(last);
    const timer = setInterval(() => {
      try {
        const now = Buffer.from(read());
        if (!now.equals(last)) {
          last = now;
          w.write(now);
        }
      } catch {
        stop();
      }
    }, this.o.sampleMs ?? 1000);
    const stop = () => {
      clearInterval(timer);
      this.observers.delete(stop);
    };
    this.observers.add(stop);
    w.on("finish", stop);
    w.on("error", stop);
  }

  private put(req: IncomingMessage, res: OutgoingMessage, query: string, who: string): void {
    const cf = formatOf(req.headers["Content-Format"]);
    if (cf !== -1 && cf !== CF.octetStream) {
      this.reply(res, "4.15", "PUT /vm takes a signed capsule as application/octet-stream (Content-Format 42)");
      this.o.log?.(`${who} 4.15`);
      return;
    }
    let name: string | undefined;
    for (const kv of query.split("&")) {
      if (!kv) continue;
      const [k, v = ""] = kv.split("=");
      if (k !== "name") {
        this.reply(res, "4.00", `unknown query parameter "${k}" (PUT /vm?name=<program name>)`);
        return;
      }
      try {
        name = decodeURIComponent(v).slice(0, 64);
      } catch {
        this.reply(res, "4.00", "the name is not valid percent-encoding");
        return;
      }
    }
    const bytes = new Uint8Array(req.payload ?? Buffer.alloc(0));
    if (bytes.length > this.maxUpload) {
      res.setOption("Size1", this.maxUpload);
      this.reply(res, "4.13", `capsule of ${bytes.length} bytes, at most ${this.maxUpload}`);
      return;
    }
    const info = this.network.info();
    const installed = this.network.program()?.version ?? 0;
    const r = checkSignedCapsule(bytes, {
      publicKey: this.o.publicKey, configId: info.configId, installedVersion: installed, scriptSpace: info.scriptSpace, maxBlockBytes: MAX_BLOCK_BYTES,
    });
    let rejection: Rejection | undefined;
    try {
      rejection = r.ok ? this.network.deploy(bytes) : r.rejection;
    } catch (e) {
      if (!(e instanceof NetworkUnavailable)) throw e;
      this.reply(res, "5.03", e.message);
      this.o.log?.(`${who} 5.03 ${e.message}`);
      return;
    }
    if (rejection) {
      const code = REJECT_CODE[rejection.reason];
      this.rejections.push({ ...rejection, code, at: new Date().toISOString(), ...(name ? { name } : {}) });
      if (this.rejections.length > MAX_REJECTIONS) this.rejections.shift();
      this.reply(res, code, `${rejection.reason}: ${rejection.detail}`);
      this.o.log?.(`${who} ${code} ${rejection.reason}: ${rejection.detail}`);
      return;
    }
    const h = parseHeader(bytes);
    if (name) this.names.set(h.programVersion, name);
    res.code = "2.04";
    res.setOption("Content-Format", "application/json");
    res.end(Buffer.from(JSON.stringify({ version: h.programVersion, capsule_bytes: bytes.length, blocks: h.blocks, sha256: toHex(sha256(bytes)), status: "disseminating" })));
    this.o.log?.(`${who} 2.04 version ${h.programVersion}${name ? ` (${name})` : ""}, ${bytes.length} bytes`);
  }
}
