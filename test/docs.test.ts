/** Generated documents are up to date with their sources. */
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { isaMarkdown } from "../cli/gen";

it("docs/isa.md matches vm/isa.ts (run `npm run gen` after changing the ISA)", () => {
  expect(readFileSync("docs/isa.md", "utf8")).toBe(isaMarkdown());
});
