/**
 * Churn: motes stopped, started again, rebooted or added during a run, from
 * a schedule file or --churn flags, one action per line:
 *
 *     # time   action  node  [x y]
 *     10min    stop    5
 *     12min    start   5
 *     15min    reboot  7
 *     20min    add     26    35 40      (a mote absent until then; x y for a new position)
 *
 * Times are durations from the start of the run (600000, 600s, 10min, 1h30min).
 */
import { fields, parseDuration, SimInputError } from "./errors";
import { MAX_NODE_ID } from "./topology";

export type ChurnKind = "stop" | "start" | "reboot" | "add";

export interface ChurnAction {
  atMs: number;
  action: ChurnKind;
  node: number;
  x?: number;
  y?: number;
  /** Where it came from (for error messages). */
  file: string;
  line: number;
}

const ACTIONS: readonly ChurnKind[] = ["stop", "start", "reboot", "add"];

/** Parse schedule lines. `file` names the source (a path, or "--churn"). @throws SimInputError */
export function parseSchedule(file: string, text: string, firstLine = 1): ChurnAction[] {
  const out: ChurnAction[] = [];
  text.split(/\r?\n/).forEach((raw, k) => {
    const line = firstLine + k;
    const f = fields(raw);
    if (f.length === 0) return;
    const fail = (field: string | null, reason: string): never => {
      throw new SimInputError(file, line, field, reason);
    };
    if (f.length < 3) fail(null, 'expected "<time> <stop|start|reboot|add> <node> [x y]"');
    const atMs = parseDuration(f[0]);
    if (atMs === undefined) fail("time", `must be a duration like 600000, 600s, 10min or 1h30min, got "${f[0]}"`);
    const action = f[1].toLowerCase() as ChurnKind;
    if (!ACTIONS.includes(action)) fail("action", `must be one of ${ACTIONS.join(", ")}, got "${f[1]}"`);
    const node = Number(f[2]);
    if (!Number.isInteger(node) || node < 1 || node > MAX_NODE_ID) fail("node", `must be a node id 1..${MAX_NODE_ID}, got "${f[2]}"`);
    const a: ChurnAction = { atMs: atMs!, action, node, file, line };
    if (f.length > 3) {
      if (action !== "add") fail("x", `only "add" takes a position`);
      if (f.length !== 5) fail(null, 'a position is "x y"');
      const x = Number(f[3]), y = Number(f[4]);
      if (!Number.isFinite(x)) fail("x", `must be a number, got "${f[3]}"`);
      if (!Number.isFinite(y)) fail("y", `must be a number, got "${f[4]}"`);
      a.x = x;
      a.y = y;
    }
    out.push(a);
  });
  return out;
}
