/**
 * CPU energy of a MicaZ run from its active and idle cycles, with the
 * two-state model E = activeJ * active + idleJ * idle (joules; cycles of the
 * ATmega128 at 7.3728 MHz). The two per-cycle costs are fitted (least
 * squares) to Terra's own Avrora figures, so that our VM and plain C loop are
 * priced as Terra and nesC were: seed 003 §8, Tables 4-6 (active cycles of
 * each scenario) and Table 7 (total CPU cycles and CPU energy in J of the
 * same runs; idle = total - active). The fit reproduces the six rows of
 * Table 7 within 0.2 % (test/bench-energy.test.ts). The
 * radio is left out: both variants send the same 30 frames and listen the
 * whole time, which Table 7 shows as equal (receive about 16.9 J in every
 * run, transmit under 0.002 J).
 */

/** One run of seed 003 §8: active cycles (Tables 4-6), total cycles and CPU energy in J (Table 7). */
export interface EnergyRow {
  run: string;
  active: number;
  total: number;
  joules: number;
}

/** Idle cycles of a row (Table 7's total for the CPU-bound nesC run is 1.0 M cycles below Table 4's active count: 0). */
const idleOf = (r: EnergyRow) => Math.max(0, r.total - r.active);

export const TERRA_ENERGY_ROWS: readonly EnergyRow[] = [
  { run: "CPU-bound, Terra", active: 2_175_061_049, total: 2_212_796_796, joules: 6.75 },
  { run: "CPU-bound, nesC", active: 2_174_060_892, total: 2_173_038_370, joules: 6.69 },
  { run: "IO-bound, Terra", active: 265_848_122, total: 2_225_099_427, joules: 3.48 },
  { run: "IO-bound, nesC", active: 104_726_668, total: 2_172_629_320, joules: 3.14 },
  { run: "IO-timer, Terra", active: 9_630_812, total: 2_222_949_986, joules: 3.04 },
  { run: "IO-timer, nesC", active: 8_896_252, total: 2_185_740_922, joules: 2.99 },
];

/** Per-cycle energy (J) of an active and of an idle cycle. */
export interface EnergyModel {
  activeJ: number;
  idleJ: number;
}

/** Least-squares fit of E = activeJ * active + idleJ * idle (normal equations of the 2x2 system). */
export function fitEnergyModel(rows: readonly EnergyRow[]): EnergyModel {
  let aa = 0, ai = 0, ii = 0, ae = 0, ie = 0;
  for (const r of rows) {
    const idle = idleOf(r);
    aa += r.active * r.active;
    ai += r.active * idle;
    ii += idle * idle;
    ae += r.active * r.joules;
    ie += idle * r.joules;
  }
  const det = aa * ii - ai * ai;
  return { activeJ: (ae * ii - ie * ai) / det, idleJ: (ie * aa - ae * ai) / det };
}

export const MICAZ_ENERGY: EnergyModel = fitEnergyModel(TERRA_ENERGY_ROWS);

/** CPU energy (J) of a run of `active` and `idle` cycles under `model`. */
export function cpuJoules(active: number, idle: number, model: EnergyModel = MICAZ_ENERGY): number {
  return model.activeJ * active + model.idleJ * idle;
}

/** A row's energy as the model prices it (J). */
export const rowJoules = (r: EnergyRow, model: EnergyModel = MICAZ_ENERGY): number => cpuJoules(r.active, idleOf(r), model);
