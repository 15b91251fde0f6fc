/**
 * The two verifiers' verdicts side by side: what vm/capsule.ts and
 * vm/verify.ts say of a capsule, in the form terra-mote's verify jobs print
 * ({accepted, offset, reason}; firmware-host/platform/host/main.c). The C
 * verifier has one reason per check (TVM_E_* in core/tvm.h); the TypeScript
 * one words each case, so its message is mapped to the C reason here.
 */
import { loadCapsule } from "../../vm/verify";
import { sha256 } from "./vmtest";

/** [TypeScript message pattern, C reason], in core/tvm.h's order. */
const REASONS: [RegExp, string][] = [
  [/: truncated: /, "truncated capsule"],
  [/magic is not "TC"/, "not a Terra-TS capsule (magic is not \"TC\")"],
  [/format version \d+ is not supported/, "format version is not supported"],
  [/: trailing bytes: /, "trailing bytes after the code"],
  [/the code is empty|code of \d+ bytes exceeds the 32767-byte limit/, "code size is 0 or exceeds the 32767-byte limit"],
  [/unknown signature algorithm/, "unknown signature algorithm (this VM knows Ed25519)"],
  [/body hash mismatch/, "body hash mismatch: the capsule was corrupted or tampered with"],
  [/tables end inside|unused bytes at the end of the tables/, "malformed tables"],
  [/no float support/, "the capsule uses float and this VM has no float support"],
  [/unassigned opcode/, "unassigned opcode"],
  [/truncated instruction/, "truncated instruction"],
  [/falls through past the end of the code|resumes its trail past the end of the code/, "execution falls through or resumes past the end of the code"],
  [/is outside the code \(|is inside the instruction at/, "code target is not the start of an instruction"],
  [/outside the \d+-byte var area/, "var-area access outside the var area"],
  [/evget of \d+ bytes exceeds/, "evget exceeds the 64-byte event data buffer"],
  [/^(?!.* lists slot).*(is out of range \(the capsule has|beyond the capsule's)/, "slot out of range"],
  [/is used as .* here and as|is already used \(/, "slot used in two roles or by two instructions"],
  [/emit names internal event/, "emit names an internal event the capsule does not have"],
  [/entry point 0x[0-9a-f]+ is not the start/, "entry point is not the start of an instruction"],
  [/killf finalizer range .* includes slot/, "killf finalizer range includes a slot that is not a finalizer"],
  [/input id \d+ is listed twice|ERROR input's two forms/, "input id listed twice, or the ERROR forms in different tables"],
  [/ lists slot /, "gate table lists a wrong, repeated or unordered slot"],
  [/stack not empty at a jump target or trail entry/, "stack not empty at a jump target or trail entry"],
  [/stack underflow/, "stack underflow"],
  [/control passes to other trails/, "stack not empty where control passes to other trails"],
  [/jumps and branches need an empty eval stack/, "stack not empty at a jump or branch"],
  [/stack overflow/, "stack overflow: deeper than the capsule's stackCells"],
  [/trackDepth \d+ is too small/, "trackDepth is smaller than the track-stack bound"],
];

export interface Verdict {
  accepted: boolean;
  offset?: number;
  reason?: string;
}

/** The C reason for a TypeScript rejection message; throws when no pattern matches (a new check needs its row). */
export function cReason(message: string): string {
  const row = REASONS.find(([re]) => re.test(message));
  if (!row) throw new Error(`no C reason for the TypeScript rejection "${message}" (test/helpers/verdict.ts)`);
  return row[1];
}

/** The TypeScript verdict on a capsule (float support on, as terra-mote), in terra-mote's form. */
export function tsVerdict(bytes: Uint8Array): Verdict {
  try {
    loadCapsule(bytes, { sha256 });
    return { accepted: true };
  } catch (e) {
    const err = e as Error & { offset: number };
    return { accepted: false, offset: err.offset, reason: cReason(err.message) };
  }
}
