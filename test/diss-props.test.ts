/**
 * Property: whatever finite sequence of lost, duplicated, delayed
 * (reordered) and corrupted frames the network suffers, once it is over the
 * motes converge to the deployed version, and no mote ever installs a capsule
 * that does not verify. Deliveries go through the adversarial harness of
 * test/helpers/adversary.ts (the protocol alone, every delivery under the
 * test's control); the simulator's own radio is exercised by the other tests.
 */
import fc from "fast-check";
import { expect, it } from "vitest";
import { checkSignedCapsule, toHex } from "../components/security";
import { Adversary, type Delivery } from "./helpers/adversary";
import { authFor, capsule, CFG, KEYS, topologyOf, V1 } from "./helpers/net";

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
        const cap = capsule(2, s.bytes, { seed: s.seed });
        const violations: string[] = [];
        const adv = new Adversary({
          topology: topologyOf({ n: s.n, topology: s.topology, loss: 0, seed: s.seed }), configId: CFG, auth: authFor(s.auth), publicKey: KEYS.publicKey,
          seed: s.seed, loss: s.loss, perturb, initial: V1,
          onInstall: (id, c, version) => {
            const r = checkSignedCapsule(c, { publicKey: KEYS.publicKey, configId: CFG, installedVersion: 0, scriptSpace: 65535 });
            if (!r.ok) violations.push(`mote ${id} installed version ${version} that fails verification: ${r.rejection.reason}`);
            if (toHex(c) !== toHex(cap)) violations.push(`mote ${id} installed version ${version}, which was never deployed`);
          },
        });
        adv.clock.setTimer(1000, () => expect(adv.nodes[0].inject(cap)).toBeUndefined());
        const t = adv.runUntil(() => adv.clock.now() > s.chaosMs && adv.allCovered(2), s.chaosMs + 200_000);
        expect(violations).toEqual([]);
        expect(t, JSON.stringify(adv.nodes.map((n) => n.installedVersion))).toBeDefined();
      },
    ),
    { numRuns: 40, seed: 20250611 },
  );
});
