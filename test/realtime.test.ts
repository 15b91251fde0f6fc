/** runRealtime follows the wall clock and gives exactly runVirtual's results. */
import { expect, it } from "vitest";
import { runRealtime, runVirtual, type WallClock } from "../vm/driver";
import { runBare } from "./helpers/script";

const SCRIPT = `#include "Test.defs"
par do
  loop do await 10ms; emit OUT(1); end
with
  loop do var long v = await A; emit OUT(v); end
end`;
const INPUTS = [{ at: 15, id: 10, aux: 0, data: 7 }];

it("reactions happen once their logical time has passed on the wall clock, with runVirtual's outputs", async () => {
  const virt = runBare(SCRIPT, [], -1);
  runVirtual(virt.vm, INPUTS, 31);

  const real = runBare(SCRIPT, [], -1);
  let wall = 0;
  const wallAt: number[] = [];
  const clock: WallClock = { now: () => wall, sleep: async (ms) => { wall += ms; } };
  const recorded = real.out;
  const push = recorded.push.bind(recorded);
  recorded.push = (...items) => {
    for (const _ of items) wallAt.push(wall);
    return push(...items);
  };
  await runRealtime(real.vm, INPUTS, 31, clock);
  expect([...real.out]).toEqual(virt.out);
  expect(real.out.map((o) => o[0])).toEqual([10, 15, 20, 30]);
  // each output happened no earlier on the wall clock than its logical time
  real.out.forEach((o, i) => expect(wallAt[i]).toBeGreaterThanOrEqual(o[0]));
});
