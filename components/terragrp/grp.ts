/**
 * TerraGrp's group services on a simulated network, with the semantics of
 * Terra's TerraGrp (TerraVM/src/platforms/TinyOS/Grp: GroupControl and the
 * group/aggregation/election parts of VMCustom):
 *
 * - Groups: groupInit fills the script's group_t and registers it; the
 *   components read the group's fields (status = member, param, nhops,
 *   elFlag) from the script's memory when they need them, and write elState
 *   and leader there, as Terra does.
 * - Group messages (SEND_GR / REC_GR): a flood limited to the group's nhops,
 *   duplicates suppressed by (requester, request number) in a list that also
 *   records the neighbour each request came from; members whose param
 *   matches deliver REC_GR (msgGR_t: grId, node = sender, msgId, data) when
 *   the message is for every member (node 0xffff) or for them. SENDGR_DONE
 *   and SENDBS_DONE come at once with the status of the send request.
 *   Directed replies (aggregation values, election votes) travel back along
 *   the recorded neighbours with link-layer acks (5 retries), or are
 *   broadcast when no route is known.
 * - Aggregation (AGGREG -> AGGREG_DONE): requests are queued (8) and run one
 *   at a time: the request floods the group within nhops, members answer
 *   with their sensor reading (each after a random delay in the first
 *   quarter of the window, at most 100 ms, as real motes are desynchronised
 *   by their sensor reads: all at once, hidden neighbours would keep
 *   colliding), and after nhops × 200 ms the result over the
 *   local reading (when the mote defines the group) and the answers that
 *   arrived is delivered: AVG (integer mean, truncated), SUM, MAX, MIN, and
 *   RESERV (the first answering node whose reading compares true), with
 *   count, countTrue and countFalse of `reading <agComp> refVal`.
 * - Leader election (groups with elFlag eACTIVE or ePASSIVE): after the
 *   first groupInit, each mote asks the group for its leader; without an
 *   answer it starts an election in which active members vote with their
 *   battery voltage (VOLTS) and passive ones with 0; the highest vote wins,
 *   ties going to the highest node id; elections re-run every 5 minutes.
 *   LEADER_LOST (value 0) when a mote's leader is cleared, LEADER_NEW
 *   (value: the leader) when it learns one; both filtered by group id.
 *
 * Deviations from Terra, deliberate: the neighbour a directed reply goes to
 * is the most recent one recorded for the requester (Terra takes the first
 * in list order); MIN starts from the largest int32 (Terra: 0x7fff) and an
 * empty MIN/MAX gives 0; a group record at var address 0 is valid.
 */
import type { Configuration } from "../../compiler/config";
import type { RecordType } from "../../compiler/types";
import { AM, inputId, type SimContext, TIMER } from "../sim/context";
import { BROADCAST_ADDR } from "../sim/radio";
import { CH } from "../sim/sensors";
import type { Collection } from "./collect";

const MAXG = 8;
const NHL = 32;
const AGGQ = 8;
const ELQ = 8;
const GRND = 0x20;
const AGGREG = 0x40;
const ELECTION = 0x80;
const GR_LEN = 27;
const D = 11; // offset of Data in a group frame
const AG_DELTA_MS = 200;
const RENEW_MS = 5 * 60_000;
const DIRECTED_RETRIES = 5;
/** Members answer an aggregation request after a random delay below this (µs) or a quarter of the window. */
const ANSWER_SPREAD_US = 100_000;

// election message ids and states (Terra's EEVT_* and EST_*)
const REQ_LEADER = 1, RET_LEADER = 2, INIT_ELECTION = 3, RET_VOTE = 4, SET_LEADER = 5, NEW_LEADER = 6;
const EST_OK = 2, EST_REQUESTED = 3, EST_ELECTING = 4, EST_VOTING = 5, EST_NEWRUN = 6, EST_RENEW = 7;
const EL_ACTIVE = 1, EL_OFF = 3;

/** Aggregation operators (TerraGrp.defs fAVG..fRESERV). */
export const AG = { AVG: 0, SUM: 1, MAX: 2, MIN: 3, RESERV: 5 } as const;

export interface GroupStats {
  group_messages: number;
  forwarded: number;
  delivered_rec_gr: number;
  aggregations: number;
  aggregation_answers: number;
  elections: number;
}

/** Offsets of a record's fields (-1 when absent). */
function offsets<K extends string>(rec: RecordType | undefined, names: readonly K[]): Record<K, number> {
  const o = {} as Record<K, number>;
  for (const k of names) o[k] = rec?.fields.get(k)?.offset ?? -1;
  return o;
}

export class GroupServices {
  private readonly g: Record<"grId" | "param" | "nhops" | "status" | "elFlag" | "elState" | "leader", number>;
  private readonly a: Record<"agId" | "seq" | "grId" | "sensorId" | "agOper" | "agComp" | "refVal", number>;
  private readonly dn: Record<"agId" | "count" | "countTrue" | "countFalse" | "value", number>;
  private readonly gm: Record<"grId" | "node" | "msgId" | "data", number>;
  private readonly groupT: RecordType | undefined;
  private readonly aggT: RecordType | undefined;
  private readonly doneT: RecordType | undefined;
  private readonly msgGR: RecordType | undefined;
  private readonly in: Record<"REC_GR" | "SENDBS_DONE" | "SENDGR_DONE" | "AGGREG_DONE" | "LEADER_NEW" | "LEADER_LOST", number>;
  private readonly scratch = new Uint8Array(64);

  private readonly grAddr: Int32Array;
  private readonly grCount: Uint8Array;
  private readonly sendSeq: Uint16Array;
  private readonly nh: Uint16Array;
  private readonly nhPos: Uint8Array;
  private readonly nhLen: Uint8Array;
  private readonly nextAgg: Uint8Array;
  private readonly aggSeq: Uint16Array;
  private readonly aggQ: Int32Array;
  private readonly aggQHead: Uint8Array;
  private readonly aggQCount: Uint8Array;
  private readonly cur: Uint8Array; // 1 while an aggregation runs
  private readonly curAg: Int32Array; // agId | grId << 8 | oper << 16 | comp << 24
  private readonly curSeq: Uint16Array;
  private readonly curRef: Int32Array;
  private readonly curCount: Uint16Array;
  private readonly curTrue: Uint16Array;
  private readonly curTotal: Int32Array;
  private readonly elGr: Uint8Array;
  private readonly elMax: Uint16Array;
  private readonly elMote: Uint16Array;
  private readonly voteGr: Uint8Array;
  private readonly voteReq: Uint16Array;
  private readonly lastVote: Uint16Array;
  private readonly elQ: Uint8Array;
  private readonly elQCount: Uint8Array;
  private readonly firstPend: Uint8Array;
  /** Per mote: when elections were first queued (ms, local), the phase of the 5-minute renewals; -1: not yet. */
  private readonly renewBase: Float64Array;
  private readonly renewing: Uint8Array;
  readonly stats: GroupStats = { group_messages: 0, forwarded: 0, delivered_rec_gr: 0, aggregations: 0, aggregation_answers: 0, elections: 0 };

  constructor(private readonly ctx: SimContext, cfg: Configuration, private readonly local: { leds: Uint8Array }, readonly collect: Collection | null) {
    const n = ctx.n;
    this.groupT = cfg.records.get("group_t");
    this.aggT = cfg.records.get("aggreg_t");
    this.doneT = cfg.records.get("aggDone_t");
    this.msgGR = cfg.records.get("msgGR_t");
    this.g = offsets(this.groupT, ["grId", "param", "nhops", "status", "elFlag", "elState", "leader"] as const);
    this.a = offsets(this.aggT, ["agId", "seq", "grId", "sensorId", "agOper", "agComp", "refVal"] as const);
    this.dn = offsets(this.doneT, ["agId", "count", "countTrue", "countFalse", "value"] as const);
    this.gm = offsets(this.msgGR, ["grId", "node", "msgId", "data"] as const);
    const id = (s: string) => inputId(cfg, s);
    this.in = {
      REC_GR: id("REC_GR"), SENDBS_DONE: id("SENDBS_DONE"), SENDGR_DONE: id("SENDGR_DONE"), AGGREG_DONE: id("AGGREG_DONE"),
      LEADER_NEW: id("LEADER_NEW"), LEADER_LOST: id("LEADER_LOST"),
    };
    this.grAddr = new Int32Array(n * MAXG);
    this.grCount = new Uint8Array(n);
    this.sendSeq = new Uint16Array(n);
    this.nh = new Uint16Array(n * NHL * 3);
    this.nhPos = new Uint8Array(n);
    this.nhLen = new Uint8Array(n);
    this.nextAgg = new Uint8Array(n);
    this.aggSeq = new Uint16Array(n);
    this.aggQ = new Int32Array(n * AGGQ * 3);
    this.aggQHead = new Uint8Array(n);
    this.aggQCount = new Uint8Array(n);
    this.cur = new Uint8Array(n);
    this.curAg = new Int32Array(n);
    this.curSeq = new Uint16Array(n);
    this.curRef = new Int32Array(n);
    this.curCount = new Uint16Array(n);
    this.curTrue = new Uint16Array(n);
    this.curTotal = new Int32Array(n);
    this.elGr = new Uint8Array(n);
    this.elMax = new Uint16Array(n);
    this.elMote = new Uint16Array(n);
    this.voteGr = new Uint8Array(n);
    this.voteReq = new Uint16Array(n);
    this.lastVote = new Uint16Array(n);
    this.elQ = new Uint8Array(n * ELQ);
    this.elQCount = new Uint8Array(n);
    this.firstPend = new Uint8Array(n).fill(1);
    this.renewBase = new Float64Array(n).fill(-1);
    this.renewing = new Uint8Array(n);
  }

  /** A mote (re)boots: no groups, no aggregation, no election. */
  reset(i: number): void {
    this.grCount[i] = 0;
    this.nhPos[i] = 0;
    this.nhLen[i] = 0;
    this.nextAgg[i] = 0;
    this.aggSeq[i] = 0;
    this.aggQHead[i] = 0;
    this.aggQCount[i] = 0;
    this.cur[i] = 0;
    this.elGr[i] = 0xff;
    this.elQCount[i] = 0;
    this.firstPend[i] = 1;
    this.renewBase[i] = -1;
    this.renewing[i] = 0;
    for (const t of [TIMER.AGG, TIMER.ELECTION, TIMER.RENEW, TIMER.LEADER_Q]) this.ctx.cancelTimer(i, t);
  }

  // ---- script memory access ------------------------------------------------------------

  private vars(i: number): Uint8Array {
    return this.ctx.vm(i)!.vars;
  }

  /** Var address of mote i's group `grId` (low 5 bits), or -1. */
  private group(i: number, grId: number): number {
    const vm = this.ctx.vm(i);
    if (!vm || this.g.grId < 0) return -1;
    const v = vm.vars, id = grId & 0x1f;
    for (let k = 0; k < this.grCount[i]; k++) {
      const a = this.grAddr[i * MAXG + k];
      if (v[a + this.g.grId] === id) return a;
    }
    return -1;
  }

  private gf(i: number, addr: number, field: "param" | "nhops" | "status" | "elFlag" | "elState"): number {
    const o = this.g[field];
    return o < 0 ? 0 : this.vars(i)[addr + o];
  }

  private isSameGroup(i: number, grId: number, param: number): boolean {
    const a = this.group(i, grId);
    return a >= 0 && this.gf(i, a, "status") !== 0 && this.gf(i, a, "param") === param;
  }

  // ---- functions -------------------------------------------------------------------

  /** groupInit(group, id, param, nhops, status, elFlag, leader). */
  groupInit(i: number, args: Int32Array): number {
    if (!this.groupT) return 1;
    const [addr, id, param, nhops, status, elFlag, leader] = args;
    const vm = this.ctx.vm(i)!;
    const v = vm.view(addr, this.groupT.size);
    const set8 = (f: keyof typeof this.g, x: number) => {
      if (this.g[f] >= 0) v[this.g[f]] = x & 0xff;
    };
    set8("grId", id);
    set8("param", param);
    set8("nhops", nhops);
    set8("status", status);
    set8("elFlag", elFlag);
    set8("elState", 0);
    if (this.g.leader >= 0) {
      v[this.g.leader] = leader & 0xff;
      v[this.g.leader + 1] = (leader >> 8) & 0xff;
    }
    let known = false;
    for (let k = 0; k < this.grCount[i]; k++) if (this.grAddr[i * MAXG + k] === addr) known = true;
    if (!known && this.grCount[i] < MAXG) this.grAddr[i * MAXG + this.grCount[i]++] = addr;
    if (this.firstPend[i]) {
      this.firstPend[i] = 0;
      this.ctx.setTimer(i, TIMER.LEADER_Q, 0); // after this reaction, like Terra's posted task
    } else if (elFlag !== EL_OFF) this.scheduleRenew(i);
    return 0;
  }

  /** aggregInit(aggreg, group, sensorId, agOper, agComp, refVal). */
  aggregInit(i: number, args: Int32Array): number {
    if (!this.aggT || !this.groupT) return 1;
    const [addr, grAddr, sensorId, oper, comp, refVal] = args;
    const vm = this.ctx.vm(i)!;
    const grId = vm.view(grAddr, this.groupT.size)[this.g.grId];
    const v = vm.view(addr, this.aggT.size);
    const a = this.a;
    const id = (this.nextAgg[i] = (this.nextAgg[i] + 1) & 0xff);
    if (a.agId >= 0) v[a.agId] = id;
    if (a.seq >= 0) v[a.seq] = v[a.seq + 1] = 0;
    if (a.grId >= 0) v[a.grId] = grId;
    if (a.sensorId >= 0) v[a.sensorId] = sensorId;
    if (a.agOper >= 0) v[a.agOper] = oper;
    if (a.agComp >= 0) v[a.agComp] = comp;
    if (a.refVal >= 0) for (let b = 0; b < 4; b++) v[a.refVal + b] = (refVal >> (8 * b)) & 0xff;
    return 0;
  }

  getParent(i: number): number {
    return this.collect ? this.collect.parentId(i) : 0;
  }

  // ---- outputs ---------------------------------------------------------------------

  /** SEND_BS(msgBS_t). */
  sendBS(i: number, m: Uint8Array): void {
    const status = this.collect ? this.collect.send(i, m) : 1;
    this.ctx.raise(i, this.in.SENDBS_DONE, m[0], status);
  }

  /** SEND_GR(msgGR_t). */
  sendGR(i: number, m: Uint8Array): void {
    const gm = this.gm;
    const grId = m[gm.grId];
    const target = m[gm.node] | (m[gm.node + 1] << 8);
    const data = m.subarray(gm.data, gm.data + 16);
    const a = this.group(i, grId);
    const param = a >= 0 ? this.gf(i, a, "param") : 0;
    const hops = a >= 0 ? this.gf(i, a, "nhops") : 0;
    const ok = this.sendGroupFrame(i, grId, param, hops, target, m[gm.msgId], data);
    this.stats.group_messages++;
    this.ctx.raise(i, this.in.SENDGR_DONE, grId, ok ? 0 : 1);
  }

  /** AGGREG(aggreg_t): queue the aggregation; it runs when the previous ones are done. */
  aggreg(i: number, m: Uint8Array): void {
    const a = this.a;
    if (this.aggQCount[i] >= AGGQ) return;
    const seq = (this.aggSeq[i] = (this.aggSeq[i] + 1) & 0xffff);
    const k = (this.aggQHead[i] + this.aggQCount[i]) % AGGQ, b = (i * AGGQ + k) * 3;
    this.aggQ[b] = m[a.agId] | (m[a.grId] << 8) | (m[a.agOper] << 16) | (m[a.agComp] << 24);
    this.aggQ[b + 1] = seq | (m[a.sensorId] << 16);
    this.aggQ[b + 2] = m[a.refVal] | (m[a.refVal + 1] << 8) | (m[a.refVal + 2] << 16) | (m[a.refVal + 3] << 24);
    this.aggQCount[i]++;
    if (!this.cur[i]) this.nextAggregation(i);
  }

  // ---- group frames ----------------------------------------------------------------

  /** Put a group frame on the air from mote i (its own request: hop 1). */
  private sendGroupFrame(i: number, grId: number, param: number, maxHops: number, target: number, evtId: number, data: Uint8Array | null, delayUs = 0): boolean {
    const ctx = this.ctx, radio = ctx.radio;
    let dst = BROADCAST_ADDR, ack = false;
    if (grId & GRND) {
      const next = this.nhNext(i, target);
      if (next >= 0) {
        dst = next;
        ack = true;
      }
    }
    const f = radio.alloc(i, AM.SENDGR, dst, GR_LEN, ack, ack ? DIRECTED_RETRIES : 0, 0);
    const d = radio.data, o = f * 128;
    const me = ctx.ids[i];
    const seq = this.sendSeq[i];
    this.sendSeq[i] = (seq + 1) & 0xffff;
    d[o] = me & 0xff;
    d[o + 1] = me >> 8;
    d[o + 2] = seq & 0xff;
    d[o + 3] = seq >> 8;
    d[o + 4] = maxHops;
    d[o + 5] = 1;
    d[o + 6] = grId;
    d[o + 7] = param;
    d[o + 8] = target & 0xff;
    d[o + 9] = (target >> 8) & 0xff;
    d[o + 10] = evtId;
    if (data) for (let b = 0; b < 16; b++) d[o + D + b] = data[b] ?? 0;
    else d.fill(0, o + D, o + D + 16);
    return radio.send(f, ctx.now, delayUs);
  }

  /** Record (requester, request number) with the neighbour it came from; false when already seen. */
  private nhInsert(i: number, reqMote: number, prev: number, reqSeq: number): boolean {
    const b = i * NHL * 3, len = this.nhLen[i], nh = this.nh;
    for (let k = 0; k < len; k++) if (nh[b + k * 3] === reqMote && nh[b + k * 3 + 2] === reqSeq) return false;
    const p = this.nhPos[i];
    nh[b + p * 3] = reqMote;
    nh[b + p * 3 + 1] = prev;
    nh[b + p * 3 + 2] = reqSeq;
    this.nhPos[i] = (p + 1) % NHL;
    if (len < NHL) this.nhLen[i] = len + 1;
    return true;
  }

  /** The neighbour a message to `target` goes to (the latest one `target`'s requests came from), or -1. */
  private nhNext(i: number, target: number): number {
    const b = i * NHL * 3, nh = this.nh;
    for (let c = 1; c <= this.nhLen[i]; c++) {
      const k = (this.nhPos[i] - c + NHL) % NHL;
      if (nh[b + k * 3] === target) return nh[b + k * 3 + 1];
    }
    return -1;
  }

  /** A group frame reached mote r. */
  receive(r: number, f: number): void {
    const ctx = this.ctx, radio = ctx.radio, d = radio.data, o = f * 128;
    const me = ctx.ids[r];
    const reqMote = d[o] | (d[o + 1] << 8), reqSeq = d[o + 2] | (d[o + 3] << 8);
    const maxHops = d[o + 4], hop = d[o + 5], grId = d[o + 6], param = d[o + 7];
    const target = d[o + 8] | (d[o + 9] << 8), evtId = d[o + 10];
    if (!this.nhInsert(r, reqMote, ctx.ids[radio.fSrc[f]], reqSeq)) return;
    if (!(grId & GRND)) {
      if (reqMote === me) return;
      if (hop + 1 <= maxHops) this.forward(r, f, BROADCAST_ADDR, false);
    } else if (target !== me) {
      this.forward(r, f, this.nhNext(r, target), true);
      return;
    }
    if (!this.isSameGroup(r, grId, param)) return;
    if (grId & AGGREG) {
      if (grId & GRND) this.aggAnswer(r, evtId, o + D, reqMote);
      else this.aggRequest(r, o + D);
    } else if (grId & ELECTION) {
      this.electionMsg(r, evtId, o + D);
    } else {
      if (target !== BROADCAST_ADDR && target !== me) return;
      const gm = this.gm, s = this.scratch;
      const size = this.msgGR?.size ?? 20;
      s.fill(0, 0, size);
      s[gm.grId] = grId;
      s[gm.node] = reqMote & 0xff;
      s[gm.node + 1] = reqMote >> 8;
      s[gm.msgId] = evtId;
      for (let b = 0; b < 16 && gm.data + b < size; b++) s[gm.data + b] = d[o + D + b];
      this.stats.delivered_rec_gr++;
      ctx.raise(r, this.in.REC_GR, grId, s.subarray(0, size));
    }
  }

  /** Forward frame f from mote r with hop number + 1: to `next` (a node id, -1: broadcast). */
  private forward(r: number, f: number, next: number, directed: boolean): void {
    const radio = this.ctx.radio;
    const dst = next >= 0 ? next : BROADCAST_ADDR;
    const ack = directed && next >= 0;
    const g = radio.alloc(r, AM.SENDGR, dst, GR_LEN, ack, ack ? DIRECTED_RETRIES : 0, 0);
    radio.data.copyWithin(g * 128, f * 128, f * 128 + GR_LEN);
    radio.data[g * 128 + 5]++;
    this.stats.forwarded++;
    radio.send(g, this.ctx.now);
  }

  // ---- aggregation -----------------------------------------------------------------

  private static readonly SENSOR_CH: readonly number[] = [CH.TEMP, CH.TEMP, CH.PHOTO, -1, CH.VOLTS, CH.PORT_A, CH.PORT_B, -2, -2, CH.MIC];

  private readSensor(i: number, sensorId: number): number {
    const ch = GroupServices.SENSOR_CH[sensorId] ?? CH.TEMP;
    if (ch === -1) return this.local.leds[i];
    if (ch === -2) return 0;
    return this.ctx.sensor(i, ch);
  }

  private nextAggregation(i: number): void {
    const ctx = this.ctx;
    if (this.aggQCount[i] === 0) {
      this.cur[i] = 0;
      return;
    }
    const b = (i * AGGQ + this.aggQHead[i]) * 3;
    this.aggQHead[i] = (this.aggQHead[i] + 1) % AGGQ;
    this.aggQCount[i]--;
    const w0 = this.aggQ[b], w1 = this.aggQ[b + 1];
    const agId = w0 & 0xff, grId = (w0 >> 8) & 0xff, oper = (w0 >> 16) & 0xff;
    const seq = w1 & 0xffff, sensorId = (w1 >>> 16) & 0xff;
    this.cur[i] = 1;
    this.curAg[i] = w0;
    this.curSeq[i] = seq;
    this.curRef[i] = this.aggQ[b + 2];
    this.curCount[i] = 0;
    this.curTrue[i] = 0;
    this.curTotal[i] = oper === AG.MIN ? 0x7fffffff : oper === AG.MAX ? -0x80000000 : 0;
    this.stats.aggregations++;
    const a = this.group(i, grId);
    const param = a >= 0 ? this.gf(i, a, "param") : 0;
    const hops = a >= 0 ? this.gf(i, a, "nhops") : 0;
    // request: aggReqData {reqMote, aggSeq, grId, aggId, sensorId, vType, value}
    const s = this.scratch, me = ctx.ids[i];
    s.fill(0, 0, 16);
    s[0] = me & 0xff;
    s[1] = me >> 8;
    s[2] = seq & 0xff;
    s[3] = seq >> 8;
    s[4] = grId;
    s[5] = agId;
    s[6] = sensorId;
    this.sendGroupFrame(i, (grId & 0x1f) | AGGREG, param, hops, BROADCAST_ADDR, agId, s);
    ctx.setTimer(i, TIMER.AGG, hops * AG_DELTA_MS * 1000);
    if (a >= 0 && oper !== AG.RESERV) this.aggValue(i, this.readSensor(i, sensorId), me);
  }

  /** A member answers a request: its reading goes back to the requester. */
  private aggRequest(r: number, o: number): void {
    const d = this.ctx.radio.data;
    const reqMote = d[o] | (d[o + 1] << 8), grId = d[o + 4], agId = d[o + 5], sensorId = d[o + 6];
    const s = this.scratch;
    for (let b = 0; b < 12; b++) s[b] = d[o + b];
    s.fill(0, 12, 16);
    const v = this.readSensor(r, sensorId);
    s[8] = v & 0xff;
    s[9] = (v >> 8) & 0xff;
    s[10] = (v >> 16) & 0xff;
    s[11] = (v >> 24) & 0xff;
    const a = this.group(r, grId);
    const param = a >= 0 ? this.gf(r, a, "param") : 0;
    const hops = a >= 0 ? this.gf(r, a, "nhops") : 0;
    this.stats.aggregation_answers++;
    const spread = Math.min(ANSWER_SPREAD_US, (Math.max(1, hops) * AG_DELTA_MS * 1000) / 4);
    this.sendGroupFrame(r, (grId & 0x1f) | GRND | AGGREG, param, hops, reqMote, agId, s, this.ctx.rng.int(r, spread));
  }

  /** An answer reached the requester. */
  private aggAnswer(r: number, agId: number, o: number, from: number): void {
    const d = this.ctx.radio.data;
    const seq = d[o + 2] | (d[o + 3] << 8);
    if (!this.cur[r] || (this.curAg[r] & 0xff) !== agId || this.curSeq[r] !== seq) return;
    this.aggValue(r, d[o + 8] | (d[o + 9] << 8) | (d[o + 10] << 16) | (d[o + 11] << 24), from);
  }

  private aggValue(i: number, v: number, from: number): void {
    const w = this.curAg[i];
    const oper = (w >> 16) & 0xff, comp = (w >>> 24) & 0xff, ref = this.curRef[i];
    this.curCount[i]++;
    const yes = comp === 1 ? v < ref : comp === 2 ? v <= ref : comp === 3 ? v > ref : comp === 4 ? v >= ref : comp === 5 ? v === ref : comp === 6 ? v !== ref : false;
    if (yes) this.curTrue[i]++;
    const t = this.curTotal[i];
    switch (oper) {
      case AG.AVG:
      case AG.SUM:
        this.curTotal[i] = t + v;
        break;
      case AG.MAX:
        if (v > t) this.curTotal[i] = v;
        break;
      case AG.MIN:
        if (v < t) this.curTotal[i] = v;
        break;
      case AG.RESERV:
        if (t === 0 && this.curTrue[i] > 0) this.curTotal[i] = from;
        break;
    }
  }

  /** AGG timer: the aggregation's result. */
  aggTimer(i: number): void {
    if (!this.cur[i]) return;
    const w = this.curAg[i];
    const agId = w & 0xff, oper = (w >> 16) & 0xff;
    const count = this.curCount[i], yes = this.curTrue[i];
    let value = this.curTotal[i];
    if (oper === AG.AVG) value = count > 0 ? (value / count) | 0 : 0;
    else if ((oper === AG.MIN || oper === AG.MAX) && count === 0) value = 0;
    const s = this.scratch, dn = this.dn;
    const size = this.doneT?.size ?? 11;
    s.fill(0, 0, size);
    const put = (off: number, x: number, bytes: number) => {
      if (off < 0) return;
      for (let b = 0; b < bytes; b++) s[off + b] = (x >> (8 * b)) & 0xff;
    };
    put(dn.agId, agId, 1);
    put(dn.count, count, 2);
    put(dn.countTrue, yes, 2);
    put(dn.countFalse, count - yes, 2);
    put(dn.value, value, 4);
    if (this.ctx.tracing) this.ctx.traceEvent(i, "aggregate", { agId, oper, count, countTrue: yes, value });
    this.ctx.raise(i, this.in.AGGREG_DONE, agId, s.subarray(0, size));
    this.nextAggregation(i);
  }

  // ---- leader election -------------------------------------------------------------

  private elTimeoutUs(i: number, grId: number): number {
    const a = this.group(i, grId);
    return ((a >= 0 ? this.gf(i, a, "nhops") : 0) * 200 + 300) * 1000;
  }

  private setState(i: number, grId: number, st: number): void {
    const a = this.group(i, grId);
    if (a >= 0 && this.g.elState >= 0) this.vars(i)[a + this.g.elState] = st;
  }

  private setLeader(i: number, grId: number, leader: number): void {
    const a = this.group(i, grId);
    if (a < 0) return;
    if (this.g.leader >= 0) {
      const v = this.vars(i);
      v[a + this.g.leader] = leader & 0xff;
      v[a + this.g.leader + 1] = leader >> 8;
    }
    const id = grId & 0x1f;
    if (this.ctx.tracing) this.ctx.traceEvent(i, leader === 0 ? "leader_lost" : "leader_new", { group: id, leader });
    this.ctx.raise(i, leader === 0 ? this.in.LEADER_LOST : this.in.LEADER_NEW, id, leader);
  }

  private leaderOf(i: number, grId: number): number {
    const a = this.group(i, grId);
    if (a < 0 || this.g.leader < 0) return 0;
    const v = this.vars(i);
    return v[a + this.g.leader] | (v[a + this.g.leader + 1] << 8);
  }

  private sendElection(i: number, grId: number, directed: boolean, to: number, evt: number, newLeader: number, vote: number): void {
    const id = grId & 0x1f;
    const a = this.group(i, id);
    const param = a >= 0 ? this.gf(i, a, "param") : 0;
    const hops = a >= 0 ? this.gf(i, a, "nhops") : 0;
    const s = this.scratch, me = this.ctx.ids[i];
    s.fill(0, 0, 16);
    s[0] = me & 0xff;
    s[1] = me >> 8;
    s[2] = id;
    s[3] = param;
    s[4] = newLeader & 0xff;
    s[5] = newLeader >> 8;
    s[6] = vote & 0xff;
    s[7] = vote >> 8;
    this.sendGroupFrame(i, id | ELECTION | (directed ? GRND : 0), param, hops, directed ? to : 0, evt, s);
  }

  private removeElQ(i: number, grId: number): void {
    const b = i * ELQ;
    let w = 0;
    for (let k = 0; k < this.elQCount[i]; k++) {
      const x = this.elQ[b + k];
      if ((x & 0x1f) !== (grId & 0x1f)) this.elQ[b + w++] = x;
    }
    this.elQCount[i] = w;
  }

  private enqueueEl(i: number, x: number): void {
    if (this.elQCount[i] < ELQ) this.elQ[i * ELQ + this.elQCount[i]++] = x;
  }

  /** Queue every group with an election (init: first run after boot). */
  private queueLeaderProc(i: number, init: boolean): void {
    const v = this.vars(i);
    for (let k = 0; k < this.grCount[i]; k++) {
      const a = this.grAddr[i * MAXG + k];
      if (this.g.elFlag >= 0 && v[a + this.g.elFlag] !== EL_OFF) {
        const id = v[a + this.g.grId] & 0x1f;
        this.removeElQ(i, id);
        this.enqueueEl(i, id | (init ? 0x80 : 0));
      }
    }
    this.procLeaderQ(i);
  }

  private procLeaderQ(i: number): void {
    if (this.elQCount[i] === 0) return;
    const b = i * ELQ;
    const x = this.elQ[b];
    this.elQ.copyWithin(b, b + 1, b + this.elQCount[i]);
    this.elQCount[i]--;
    const id = x & 0x1f;
    this.elGr[i] = id;
    this.elMax[i] = 0;
    this.elMote[i] = 0;
    this.setState(i, id, x & 0x80 ? EST_NEWRUN : EST_RENEW);
    this.ctx.setTimer(i, TIMER.ELECTION, (this.ctx.rng.u32(i) & 0x0f) * 100 * 1000);
  }

  /** LEADER_Q timer (0 delay after the first groupInit): first election round, and the renewals every 5 minutes from now. */
  leaderQTimer(i: number): void {
    if (!this.ctx.vm(i)) return;
    this.renewBase[i] = this.ctx.localMs(i);
    this.queueLeaderProc(i, true);
    this.scheduleRenew(i);
  }

  /**
   * The next 5-minute renewal, in the phase set by the first election round.
   * (Terra's renewal timer always runs; renewing a mote without any group
   * with an election does nothing, so such motes keep no timer.)
   */
  private scheduleRenew(i: number): void {
    if (this.renewing[i] || this.renewBase[i] < 0 || !this.anyElection(i)) return;
    const now = this.ctx.localMs(i);
    const next = this.renewBase[i] + (Math.floor((now - this.renewBase[i]) / RENEW_MS) + 1) * RENEW_MS;
    this.renewing[i] = 1;
    this.ctx.setTimer(i, TIMER.RENEW, (next - now) * 1000 - (this.ctx.now % 1000));
  }

  private anyElection(i: number): boolean {
    const v = this.vars(i);
    for (let k = 0; k < this.grCount[i]; k++) if (this.g.elFlag >= 0 && v[this.grAddr[i * MAXG + k] + this.g.elFlag] !== EL_OFF) return true;
    return false;
  }

  renewTimer(i: number): void {
    this.renewing[i] = 0;
    if (!this.ctx.vm(i)) return;
    this.queueLeaderProc(i, false);
    this.scheduleRenew(i);
  }

  private maxVote(i: number, vote: number, mote: number): void {
    if (vote > this.elMax[i]) {
      this.elMax[i] = vote;
      this.elMote[i] = mote;
    } else if (vote === this.elMax[i] && mote > this.elMote[i]) {
      this.elMote[i] = mote;
    }
  }

  private readVote(i: number, grId: number, reqMote: number): void {
    this.voteGr[i] = grId;
    this.voteReq[i] = reqMote;
    const v = this.ctx.sensor(i, CH.VOLTS) & 0xffff;
    this.lastVote[i] = v;
    if (reqMote !== this.ctx.ids[i]) this.sendElection(i, grId, true, reqMote, RET_VOTE, 0, v);
    else this.maxVote(i, v, reqMote);
  }

  private becomeLeader(i: number, grId: number): void {
    this.sendElection(i, grId, false, 0, NEW_LEADER, this.ctx.ids[i], 0);
    this.setState(i, grId, EST_OK);
    this.setLeader(i, grId, this.ctx.ids[i]);
    this.removeElQ(i, grId);
    this.procLeaderQ(i);
  }

  private electionState(i: number, grId: number): [flag: number, state: number] {
    const a = this.group(i, grId);
    if (a < 0) return [EL_OFF, 1];
    return [this.gf(i, a, "elFlag"), this.gf(i, a, "elState")];
  }

  /** ELECTION timer. */
  electionTimer(i: number): void {
    if (!this.ctx.vm(i)) return;
    const id = this.elGr[i];
    if (id === 0xff || this.group(i, id) < 0) return;
    const [flag, state] = this.electionState(i, id);
    const me = this.ctx.ids[i];
    switch (state) {
      case EST_NEWRUN:
        this.sendElection(i, id, false, 0, REQ_LEADER, 0, 0);
        this.setState(i, id, EST_REQUESTED);
        this.setLeader(i, id, 0);
        this.ctx.setTimer(i, TIMER.ELECTION, this.elTimeoutUs(i, id));
        break;
      case EST_RENEW:
        this.stats.elections++;
        this.sendElection(i, id, false, 0, INIT_ELECTION, 0, 0);
        this.setState(i, id, EST_ELECTING);
        this.setLeader(i, id, 0);
        if (flag !== EL_ACTIVE) this.maxVote(i, 0, me);
        else this.readVote(i, id, me);
        this.ctx.setTimer(i, TIMER.ELECTION, this.elTimeoutUs(i, id));
        break;
      case EST_REQUESTED:
        this.removeElQ(i, id);
        this.enqueueEl(i, id);
        this.procLeaderQ(i);
        break;
      case EST_ELECTING:
        if (this.elMote[i] !== me) {
          this.sendElection(i, id, true, this.elMote[i], SET_LEADER, this.elMote[i], 0);
          this.ctx.setTimer(i, TIMER.ELECTION, this.elTimeoutUs(i, id));
        } else {
          this.becomeLeader(i, id);
        }
        break;
      case EST_VOTING:
        this.sendElection(i, id, false, 0, REQ_LEADER, 0, 0);
        this.setState(i, id, EST_REQUESTED);
        this.setLeader(i, id, 0);
        this.ctx.setTimer(i, TIMER.ELECTION, this.elTimeoutUs(i, id));
        break;
    }
  }

  private electionMsg(i: number, evt: number, o: number): void {
    const d = this.ctx.radio.data;
    const sender = d[o] | (d[o + 1] << 8), grId = d[o + 2] & 0x1f, newLeader = d[o + 4] | (d[o + 5] << 8), vote = d[o + 6] | (d[o + 7] << 8);
    const [flag, state] = this.electionState(i, grId);
    if (flag === EL_OFF) return;
    const me = this.ctx.ids[i];
    const current = this.elGr[i] === grId;
    switch (evt) {
      case REQ_LEADER:
        if (flag === EL_ACTIVE && state === EST_OK && this.leaderOf(i, grId) === me) this.sendElection(i, grId, true, sender, RET_LEADER, me, 0);
        break;
      case RET_LEADER:
        if (state === EST_REQUESTED && current) {
          this.setLeader(i, grId, newLeader);
          this.setState(i, grId, EST_OK);
          this.removeElQ(i, grId);
          this.ctx.cancelTimer(i, TIMER.ELECTION);
          this.procLeaderQ(i);
        }
        break;
      case INIT_ELECTION:
        if (current) {
          if ((state === EST_ELECTING && me < sender) || (state !== EST_ELECTING && state !== EST_VOTING)) {
            if (flag === EL_ACTIVE) this.readVote(i, grId, sender);
            else this.sendElection(i, grId, true, sender, RET_VOTE, 0, 0);
            this.setState(i, grId, EST_VOTING);
            this.ctx.setTimer(i, TIMER.ELECTION, this.elTimeoutUs(i, grId));
          } else if (state === EST_VOTING) {
            this.sendElection(i, grId, true, sender, RET_VOTE, 0, flag === EL_ACTIVE ? this.lastVote[i] : 0);
            this.ctx.setTimer(i, TIMER.ELECTION, this.elTimeoutUs(i, grId));
          }
        } else if (flag === EL_ACTIVE) this.readVote(i, grId, sender);
        else this.sendElection(i, grId, true, sender, RET_VOTE, 0, 0);
        break;
      case RET_VOTE:
        if (current && state === EST_ELECTING) this.maxVote(i, vote, sender);
        break;
      case SET_LEADER:
        if (!current || (flag === EL_ACTIVE && state === EST_VOTING)) this.becomeLeader(i, grId);
        break;
      case NEW_LEADER:
        if (me !== newLeader) {
          this.setState(i, grId, EST_OK);
          this.setLeader(i, grId, newLeader);
          this.removeElQ(i, grId);
          if (current) this.ctx.cancelTimer(i, TIMER.ELECTION);
          this.procLeaderQ(i);
        }
        break;
    }
  }
}
