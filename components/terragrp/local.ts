/**
 * TerraGrp's components (seed 003 §6.3; Terra's TerraVM/src/platforms/TinyOS/Grp
 * for the facts): TerraNet's local operations plus groups (groupInit), group
 * messages (SEND_GR/REC_GR), collection to the base station (SEND_BS),
 * aggregation (aggregInit, AGGREG/AGGREG_DONE) and leader election
 * (LEADER_NEW/LEADER_LOST). The group services are pluggable: `standaloneGroups`
 * answers them on one mote (its group is itself); the network simulator
 * provides the distributed implementation.
 */
import { type ComponentHost, RecordView } from "../host";
import { installLocal, type LocalState, type TerraNetOptions } from "../terranet/local";

/** Aggregation functions and comparisons (TerraGrp.defs fAVG.., opLT..). */
export const AGG = { AVG: 0, SUM: 1, MAX: 2, MIN: 3, RESERV: 5 } as const;
/** Sensor ids an aggregation reads (TerraGrp.defs SID_*), by input name. */
export const SENSOR_OF_SID: Readonly<Record<number, string>> = { 1: "TEMP", 2: "PHOTO", 4: "VOLTS", 5: "PORT_A", 6: "PORT_B" };

/** Result of an aggregation (aggDone_t). */
export interface AggResult {
  count: number;
  countTrue: number;
  countFalse: number;
  value: number;
}

/** An aggregation request (the fields of aggreg_t that matter). */
export interface AggRequest {
  agId: number;
  grId: number;
  sensorId: number;
  oper: number;
  comp: number;
  ref: number;
}

/** Distributed group services a TerraGrp mote relies on. */
export interface GroupServices {
  /** Send a message to the base station; `done(status)` completes SENDBS_DONE. */
  sendBS(msg: Uint8Array, done: (status: number) => void): void;
  /** Send a message to a group; `done(status)` completes SENDGR_DONE. */
  sendGR(msg: Uint8Array, group: Uint8Array | undefined, done: (status: number) => void): void;
  /** Aggregate a sensor over a group; `done` completes AGGREG_DONE. */
  aggregate(req: AggRequest, group: Uint8Array | undefined, local: number, done: (r: AggResult) => void): void;
}

/** One mote alone: the base station and the group are elsewhere or itself. */
export const standaloneGroups: GroupServices = {
  sendBS: (_m, done) => done(0),
  sendGR: (_m, _g, done) => done(0),
  aggregate: (req, _g, local, done) => {
    const yes = compare(req.comp, local, req.ref);
    done({ count: 1, countTrue: yes ? 1 : 0, countFalse: yes ? 0 : 1, value: local });
  },
};

/** opLT..opNEQ of TerraGrp.defs. */
export function compare(op: number, a: number, b: number): boolean {
  switch (op) {
    case 1: return a < b;
    case 2: return a <= b;
    case 3: return a > b;
    case 4: return a >= b;
    case 5: return a === b;
    case 6: return a !== b;
    default: return false;
  }
}

export interface TerraGrpOptions extends TerraNetOptions {
  groups: GroupServices;
}

/** Install TerraGrp's components on a host. */
export function installTerraGrp(host: ComponentHost, opts: TerraGrpOptions): LocalState {
  const state: LocalState = { leds: 0, beep: 0, ports: {}, queue: [] };
  installLocal(host, opts, state);
  const groups = new Map<number, Uint8Array>();
  const groupT = host.record("group_t");
  const aggT = host.record("aggreg_t");
  const doneT = host.record("aggDone_t");
  let nextAgg = 1;
  host.handleFunction("groupInit", (a) => {
    if (!groupT) return 1;
    const [addr, id, param, nhops, status, elFlag, leader] = Array.from(a);
    const g = new RecordView(groupT, host.vm.view(addr, groupT.size));
    g.set("grId", id).set("param", param).set("nhops", nhops).set("status", status).set("elFlag", elFlag).set("elState", 0);
    g.set("leader", elFlag === 1 && leader === 0 ? opts.nodeId : leader);
    groups.set(id & 0xff, g.bytes.slice());
    return 0;
  });
  host.handleFunction("aggregInit", (a) => {
    if (!aggT || !groupT) return 1;
    const [addr, grAddr, sensorId, oper, comp, refVal] = Array.from(a);
    const grId = new RecordView(groupT, host.vm.view(grAddr, groupT.size)).get("grId");
    new RecordView(aggT, host.vm.view(addr, aggT.size))
      .set("agId", nextAgg++ & 0xff).set("seq", 0).set("grId", grId).set("sensorId", sensorId)
      .set("agOper", oper).set("agComp", comp).set("refVal", refVal);
    return 0;
  });
  host.handleFunction("getParent", () => 0);
  host.handleOutput("SEND_BS", (v) => {
    const m = v as Uint8Array;
    opts.groups.sendBS(m, (status) => host.raise("SENDBS_DONE", status, m[0]));
  });
  host.handleOutput("SEND_GR", (v) => {
    const m = v as Uint8Array;
    opts.groups.sendGR(m, groups.get(m[0]), (status) => host.raise("SENDGR_DONE", status, m[0]));
  });
  host.handleOutput("AGGREG", (v) => {
    if (!aggT || !doneT) return;
    const agg = new RecordView(aggT, v as Uint8Array);
    const sensor = SENSOR_OF_SID[agg.get("sensorId")] ?? "TEMP";
    const local = opts.sensors.read(sensor, host.vm.now);
    const req = { agId: agg.get("agId"), grId: agg.get("grId"), sensorId: agg.get("sensorId"), oper: agg.get("agOper"), comp: agg.get("agComp"), ref: agg.get("refVal") };
    opts.groups.aggregate(req, groups.get(req.grId), local, (r) => {
      const d = new RecordView(doneT).set("agId", agg.get("agId")).set("count", r.count)
        .set("countTrue", r.countTrue).set("countFalse", r.countFalse).set("value", r.value);
      host.raise("AGGREG_DONE", d.bytes, agg.get("agId"));
    });
  });
  return state;
}
