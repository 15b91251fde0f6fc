/**
 * Property: whatever finite sequence of lost, duplicated, delayed
 * (reordered) and corrupted frames the network suffers, once it is over the
 * motes converge to the deployed version, and no mote ever installs a capsule
 * that does not verify.
 */
import fc from "fast-check";
import { expect, it } from "vitest";
import type { Delivery } from "../components/dissemination";
import { capsule, testNet, versions } from "./helpers/net";

type Act = { kind: "ok" | "drop" | "dup" | "delay" | "corrupt"; delay: number; at: number; bit: number };

const act = fc.record({
  kind: fc.constantFrom<Act["kind"]>("ok", "drop", "dup", "delay", "corrupt"),
  delay: fc.integer({ min: 1, max: 800 }),
  at: fc.nat(),
  bit: fc.nat({ max: 7 }),
});

it("property: lost, duplicated, reordered and corrupted frames still converge, and never install a bad capsule", () => {
  fc.assert(
    fc.property(
      fc.record({
        seed: fc.integer({ min: 1, max: 1_000_000 }),
        n: fc.constantFrom(9, 16, 25),
        topology: fc.constantFrom("grid" as const, "random" as const, "line" as const),
        loss: fc.constantFrom(0, 0.2, 0.4),
        auth: fc.constantFrom("ed25519" as const, "psk" as const),
        plan: fc.array(act, { minLength: 1, maxLength: 64 }),
        chaosMs: fc.integer({ min: 2_000, max: 40_000 }),
        bytes: fc.constantFrom(100, 700, 2000),
      }),
      (s) => {
        let k = 0;
        const perturb = (d: Delivery) => {
          if (d.at >= s.chaosMs) return undefined;
          const a = s.plan[k++ % s.plan.length];
          switch (a.kind) {
            case "ok": return undefined;
            case "drop": return { delays: [] };
            case "dup": return { delays: [0, a.delay] };
            case "delay": return { delays: [a.delay] };
            case "corrupt": {
              const f = d.frame.slice();
              f[a.at % f.length] ^= 1 << a.bit;
              return { delays: [0], frame: f };
            }
          }
        };
        const net = testNet({ n: s.n, topology: s.topology, loss: s.loss, seed: s.seed, auth: s.auth, perturb });
        net.deploy(1000, capsule(2, s.bytes, { seed: s.seed }));
        const t = net.tb.runUntil(() => net.tb.now > s.chaosMs && net.allCovered(2, net.reach), s.chaosMs + 200_000, 250);
        expect(net.violations).toEqual([]);
        expect(t, JSON.stringify(versions(net))).toBeDefined();
      },
    ),
    { numRuns: 40, seed: 20250611 },
  );
});
