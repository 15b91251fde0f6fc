/**
 * Topologies: where the motes are and who hears whom, with the packet
 * reception ratio (PRR) of every directed link. Built once before a run as
 * compact adjacency lists (CSR: `outStart[i]..outStart[i+1]` index `outNbr`
 * and `outPrr`), the senders' view used when a frame is on the air, and the
 * receivers' view (`inStart`/`inNbr`) used by protocols' neighbour tables.
 *
 * Kinds: grid (row by row, `spacing` apart, node 1 at the origin), line,
 * random (uniform in a square of the grid's size), and a file:
 *
 *     # comments
 *     node <id> <x> <y>             position in metres
 *     link <a> <b> [prr [prr_ba]]   b hears a with prr (default 1); a hears b with
 *                                   prr_ba (default: prr). Without link lines,
 *                                   links come from positions and --range.
 *
 * Fields may be separated by blanks or commas. Range-based links have the
 * PRR `1 - loss`, or with the distance model a logistic curve of distance
 * (PRR 0.5 at 80 % of the range, ~0.12 at the range).
 */
import { fields, SimInputError } from "./errors";
import { Purpose, Rng, streamSeed } from "./rng";

export type LossModel = { kind: "uniform"; loss: number } | { kind: "distance" };

export interface TopologySpec {
  kind: "grid" | "line" | "random" | "file";
  /** Nodes of grid/line/random (ids 1..nodes). */
  nodes: number;
  spacing: number;
  range: number;
  loss: LossModel;
  seed: number;
  /** For kind "file": its name and text. */
  file?: { path: string; text: string };
  /** Extra nodes (added during the run) not in the layout: id and optional position. */
  extra?: { id: number; x?: number; y?: number }[];
}

export interface Topology {
  n: number;
  ids: Int32Array;
  x: Float64Array;
  y: Float64Array;
  indexOf: Map<number, number>;
  outStart: Int32Array;
  outNbr: Int32Array;
  outPrr: Float32Array;
  inStart: Int32Array;
  inNbr: Int32Array;
  /** For in-slot k (receiver r hears sender inNbr[k]): the PRR of that link. */
  inPrr: Float32Array;
  describe: string;
}

export const MAX_NODE_ID = 0xfffe;

/** PRR of a range-based link of length d. */
export function linkPrr(loss: LossModel, d: number, range: number): number {
  if (loss.kind === "uniform") return 1 - loss.loss;
  return 1 / (1 + Math.exp(10 * (d / range - 0.8)));
}

/** Which nodes hear `from`, directly or through others (links with PRR > 0), by index. */
export function reachableFrom(t: Topology, from: number): Uint8Array {
  const seen = new Uint8Array(t.n);
  const q = new Int32Array(t.n);
  let head = 0, tail = 0;
  seen[from] = 1;
  q[tail++] = from;
  while (head < tail) {
    const i = q[head++];
    for (let k = t.outStart[i]; k < t.outStart[i + 1]; k++) {
      const j = t.outNbr[k];
      if (!seen[j]) {
        seen[j] = 1;
        q[tail++] = j;
      }
    }
  }
  return seen;
}

export function buildTopology(spec: TopologySpec): Topology {
  const pos: { id: number; x: number; y: number }[] = [];
  let links: { a: number; b: number; prr: number }[] | null = null;
  let describe: string;
  const seen = new Set<number>();
  if (spec.kind === "file") {
    const r = parseTopologyFile(spec.file!.path, spec.file!.text);
    for (const p of r.nodes) {
      pos.push(p);
      seen.add(p.id);
    }
    links = r.links;
    describe = `file ${spec.file!.path} (${r.nodes.length} nodes, ${r.links ? `${r.links.length} links` : `range ${spec.range} m`})`;
  } else {
    const n = spec.nodes;
    const cols = Math.max(1, Math.ceil(Math.sqrt(n)));
    const rng = new Rng(streamSeed(spec.seed, Purpose.TOPOLOGY));
    const side = spec.spacing * cols;
    for (let i = 0; i < n; i++) {
      const id = i + 1;
      seen.add(id);
      if (spec.kind === "grid") pos.push({ id, x: (i % cols) * spec.spacing, y: Math.floor(i / cols) * spec.spacing });
      else if (spec.kind === "line") pos.push({ id, x: i * spec.spacing, y: 0 });
      else pos.push({ id, x: rng.next() * side, y: rng.next() * side });
    }
    describe = spec.kind === "grid" ? `grid ${cols}×${Math.ceil(n / cols)}, ${spec.spacing} m apart` : spec.kind === "line" ? `line, ${spec.spacing} m apart` : `random in ${side}×${side} m`;
    describe += `, range ${spec.range} m`;
  }
  // extra nodes: default positions continue the layout
  for (const e of spec.extra ?? []) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    let x = e.x, y = e.y;
    if (x === undefined || y === undefined) {
      const i = e.id - 1;
      const cols = Math.max(1, Math.ceil(Math.sqrt(spec.nodes)));
      if (spec.kind === "line") [x, y] = [i * spec.spacing, 0];
      else [x, y] = [(i % cols) * spec.spacing, Math.floor(i / cols) * spec.spacing];
    }
    pos.push({ id: e.id, x, y });
  }
  pos.sort((a, b) => a.id - b.id);
  const n = pos.length;
  const ids = new Int32Array(n), xs = new Float64Array(n), ys = new Float64Array(n);
  const indexOf = new Map<number, number>();
  pos.forEach((p, i) => {
    ids[i] = p.id;
    xs[i] = p.x;
    ys[i] = p.y;
    indexOf.set(p.id, i);
  });

  // directed edges a -> b (b hears a)
  const ea: number[] = [], eb: number[] = [], ep: number[] = [];
  if (links) {
    for (const l of links) {
      const a = indexOf.get(l.a)!, b = indexOf.get(l.b)!;
      let prr = l.prr;
      if (spec.loss.kind === "uniform") prr *= 1 - spec.loss.loss;
      if (prr <= 0) continue;
      ea.push(a);
      eb.push(b);
      ep.push(prr);
    }
  } else {
    // spatial hash with cells of the radio range
    const r = spec.range;
    const r2 = r * r;
    const cell = new Map<string, number[]>();
    const key = (cx: number, cy: number) => `${cx},${cy}`;
    for (let i = 0; i < n; i++) {
      const k = key(Math.floor(xs[i] / r), Math.floor(ys[i] / r));
      let l = cell.get(k);
      if (!l) cell.set(k, (l = []));
      l.push(i);
    }
    for (let i = 0; i < n; i++) {
      const cx = Math.floor(xs[i] / r), cy = Math.floor(ys[i] / r);
      const near: number[] = [];
      for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) for (const j of cell.get(key(cx + dx, cy + dy)) ?? []) near.push(j);
      near.sort((a, b) => a - b);
      for (const j of near) {
        if (j === i) continue;
        const ddx = xs[i] - xs[j], ddy = ys[i] - ys[j];
        const d2 = ddx * ddx + ddy * ddy;
        if (d2 > r2) continue;
        const prr = linkPrr(spec.loss, Math.sqrt(d2), r);
        if (prr <= 0) continue;
        ea.push(i);
        eb.push(j);
        ep.push(prr);
      }
    }
  }
  const csr = (from: number[], to: number[]) => {
    const start = new Int32Array(n + 1);
    for (const a of from) start[a + 1]++;
    for (let i = 0; i < n; i++) start[i + 1] += start[i];
    const fill = start.slice(0, n);
    const nbr = new Int32Array(from.length), prr = new Float32Array(from.length);
    // edges sorted by (from, to) for determinism
    const order = from.map((_, k) => k).sort((p, q) => from[p] - from[q] || to[p] - to[q]);
    for (const k of order) {
      const s = fill[from[k]]++;
      nbr[s] = to[k];
      prr[s] = ep[k];
    }
    return { start, nbr, prr };
  };
  const out = csr(ea, eb);
  const inn = csr(eb, ea);
  return { n, ids, x: xs, y: ys, indexOf, outStart: out.start, outNbr: out.nbr, outPrr: out.prr, inStart: inn.start, inNbr: inn.nbr, inPrr: inn.prr, describe };
}

/** Parse a topology file. @throws SimInputError naming the line and field. */
export function parseTopologyFile(path: string, text: string): { nodes: { id: number; x: number; y: number }[]; links: { a: number; b: number; prr: number }[] | null } {
  const nodes = new Map<number, { id: number; x: number; y: number; line: number }>();
  const rawLinks: { a: number; b: number; prr: number; back: number; line: number }[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const f = fields(raw);
    if (f.length === 0) return;
    const fail = (field: string | null, reason: string): never => {
      throw new SimInputError(path, line, field, reason);
    };
    const num = (k: number, field: string): number => {
      if (f[k] === undefined) fail(field, "missing");
      const v = Number(f[k]);
      if (!Number.isFinite(v)) fail(field, `must be a number, got "${f[k]}"`);
      return v;
    };
    const id = (k: number, field: string): number => {
      const v = num(k, field);
      if (!Number.isInteger(v) || v < 1 || v > MAX_NODE_ID) fail(field, `must be a node id 1..${MAX_NODE_ID}, got "${f[k]}"`);
      return v;
    };
    const prr = (k: number, field: string, dflt: number): number => {
      if (f[k] === undefined) return dflt;
      const v = num(k, field);
      if (v < 0 || v > 1) fail(field, `must be a packet reception ratio 0..1, got "${f[k]}"`);
      return v;
    };
    const kw = f[0].toLowerCase();
    if (kw === "node") {
      if (f.length > 4) fail(null, `too many fields: "node <id> <x> <y>"`);
      const n = { id: id(1, "id"), x: num(2, "x"), y: num(3, "y"), line };
      if (nodes.has(n.id)) fail("id", `node ${n.id} is already declared on line ${nodes.get(n.id)!.line}`);
      nodes.set(n.id, n);
    } else if (kw === "link") {
      if (f.length > 5) fail(null, `too many fields: "link <a> <b> [prr [prr_ba]]"`);
      const a = id(1, "a"), b = id(2, "b");
      if (a === b) fail("b", "a link joins two different nodes");
      const p = prr(3, "prr", 1);
      rawLinks.push({ a, b, prr: p, back: prr(4, "prr_ba", p), line });
    } else {
      fail(null, `expected "node <id> <x> <y>" or "link <a> <b> [prr [prr_ba]]", got "${f[0]}"`);
    }
  });
  for (const l of rawLinks) for (const v of [l.a, l.b]) if (!nodes.has(v)) nodes.set(v, { id: v, x: 0, y: 0, line: l.line });
  if (nodes.size === 0) throw new SimInputError(path, null, null, "no nodes: declare them with \"node <id> <x> <y>\" lines (or links)");
  const links: { a: number; b: number; prr: number }[] = [];
  for (const l of rawLinks) {
    links.push({ a: l.a, b: l.b, prr: l.prr });
    links.push({ a: l.b, b: l.a, prr: l.back });
  }
  return { nodes: [...nodes.values()].map(({ id, x, y }) => ({ id, x, y })), links: rawLinks.length ? dedupeLinks(links) : null };
}

/** The last declaration of a directed link wins. */
function dedupeLinks(links: { a: number; b: number; prr: number }[]): { a: number; b: number; prr: number }[] {
  const m = new Map<string, { a: number; b: number; prr: number }>();
  for (const l of links) m.set(`${l.a}>${l.b}`, l);
  return [...m.values()];
}
