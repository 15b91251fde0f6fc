import { describe, expect, test } from "vitest";
import { MICAZ_ENERGY, TERRA_ENERGY_ROWS, cpuJoules, fitEnergyModel, rowJoules } from "../bench/energy";

describe("bench c energy model (seed 003 §8, Tables 4-7)", () => {
  test("prices each of Terra's six Avrora runs within 0.2 % of Table 7", () => {
    for (const r of TERRA_ENERGY_ROWS) expect(Math.abs(rowJoules(r) / r.joules - 1), r.run).toBeLessThan(0.002);
  });

  test("an active cycle costs about 2.3 idle ones (the report: roughly 2.5, ATmega128 DC characteristics)", () => {
    const k = MICAZ_ENERGY.activeJ / MICAZ_ENERGY.idleJ;
    expect(k).toBeGreaterThan(2);
    expect(k).toBeLessThan(2.5);
  });

  test("the fit recovers a known model exactly", () => {
    const truth = { activeJ: 3e-9, idleJ: 1e-9 };
    const rows = [
      { run: "a", active: 1e9, total: 2e9, joules: 0 },
      { run: "b", active: 2e8, total: 2.2e9, joules: 0 },
      { run: "c", active: 5e6, total: 2.1e9, joules: 0 },
    ].map((r) => ({ ...r, joules: cpuJoules(r.active, r.total - r.active, truth) }));
    const m = fitEnergyModel(rows);
    expect(m.activeJ).toBeCloseTo(3e-9, 15);
    expect(m.idleJ).toBeCloseTo(1e-9, 15);
  });
});
