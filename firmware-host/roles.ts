/**
 * What the C components (firmware-host/comp/components.c) implement, named
 * as in the configurations: the output events, functions, inputs and record
 * fields of TerraNet and TerraGrp that the single-mote components of
 * components/terranet/ and components/terragrp/ handle. A configuration
 * is bound to the components by these names (gen.ts for the motes, at run
 * time in terra-mote), never by numeric ids.
 */
export const OUT_ROLES = [
  "LEDS", "LED0", "LED1", "LED2", "REQ_TEMP", "REQ_PHOTO", "REQ_VOLTS", "REQ_MIC",
  "SET_PORT_A", "SET_PORT_B", "CFG_PORT_A", "CFG_PORT_B", "CFG_INT_A", "CFG_INT_B", "REQ_PORT_A", "REQ_PORT_B",
  "BEEP", "REQ_CUSTOM_A", "REQ_CUSTOM", "SEND", "SEND_ACK", "SEND_BS", "SEND_GR", "AGGREG",
] as const;

export const FN_ROLES = [
  "getNodeId", "random", "getMem", "getTime", "setRFPower", "stat1", "qPut", "qGet", "qSize", "qClear",
  "groupInit", "aggregInit", "getParent",
] as const;

/** Inputs the components raise (sensors first: their order is the sensor numbering of the traces). */
export const IN_ROLES = [
  "TEMP", "PHOTO", "VOLTS", "MIC", "PORT_A", "PORT_B",
  "CUSTOM_A_ID", "CUSTOM_A", "CUSTOM", "SEND_DONE", "SEND_DONE_ACK", "RECEIVE", "Q_READY",
  "SENDBS_DONE", "SENDGR_DONE", "AGGREG_DONE",
] as const;

/** Sensors (inputs answering a request); trace entries for them set readings. Same order as IN_ROLES. */
export const SENSORS = ["TEMP", "PHOTO", "VOLTS", "MIC", "PORT_A", "PORT_B"] as const;

export const REC_ROLES = ["radioMsg", "stat1_ret", "group_t", "aggreg_t", "aggDone_t"] as const;

/** Record fields the components read or write: [record, field]. */
export const FIELD_ROLES: ReadonlyArray<readonly [string, string]> = [
  ["stat1_ret", "max"], ["stat1_ret", "min"], ["stat1_ret", "avg"],
  ["group_t", "grId"], ["group_t", "param"], ["group_t", "nhops"], ["group_t", "status"],
  ["group_t", "elFlag"], ["group_t", "elState"], ["group_t", "leader"],
  ["aggreg_t", "agId"], ["aggreg_t", "seq"], ["aggreg_t", "grId"], ["aggreg_t", "sensorId"],
  ["aggreg_t", "agOper"], ["aggreg_t", "agComp"], ["aggreg_t", "refVal"],
  ["aggDone_t", "agId"], ["aggDone_t", "count"], ["aggDone_t", "countTrue"], ["aggDone_t", "countFalse"], ["aggDone_t", "value"],
];

/** Basic type codes of the C tables (elem of a field, type of an input or output value). */
export const ELEM_CODE: Readonly<Record<string, number>> = {
  ubyte: 0, byte: 1, ushort: 2, short: 3, ulong: 4, long: 5, float: 6,
};
