/**
 * The network simulator (`terra sim`): topologies, the radio medium, sensor
 * models, churn, the discrete-event core, and the run summary.
 */
export { SimInputError, parseDuration } from "./errors";
export { buildTopology, parseTopologyFile, type LossModel, type Topology, type TopologySpec } from "./topology";
export { parseSensorSpec, parseSensorCsv, DEFAULT_SENSORS, type SensorSpec } from "./sensors";
export { parseSchedule, type ChurnAction } from "./schedule";
export { Simulator, type SimOptions, type NodeReport } from "./simulator";
export { summarize, formatSummary, decodeBaseMessage, type SimSummary, type SimMeta } from "./summary";
export { MAX_PAYLOAD, airTimeUs } from "./radio";
