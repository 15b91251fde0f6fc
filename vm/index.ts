/** Public API of the Terra-TS virtual machine (no Node APIs: also bundled for the browser). */
export {
  Vm, VmAccessError, ERR_DIV_ZERO, ERR_INDEX, ERR_TRACK_OVERFLOW, ERR_WATCHDOG, ERROR_QUEUE_CAPACITY, CANONICAL_NAN,
  type VmHost, type VmStats, type VmOptions,
} from "./engine";
export { runVirtual, StallError, type TimedInput, type RunVirtualOptions } from "./driver";
export {
  verifyCapsule, loadCapsule, requiredBounds, isVerified, VerifyError, ERROR_FILTERED_ID, ERROR_ANY_ID,
  type VerifiedCapsule, type VerifyOptions, type CapsuleAnalysis,
} from "./verify";
export { encodeInstr, decodeInstr, type DecodedInstr } from "./encode";
export { disassemble, assembleText, disassembleCapsule, AsmError } from "./disasm";
export {
  type Capsule, type InputTable, type Sha256, CapsuleError, CapsuleFlags, encodeCapsule, decodeCapsule, configId,
  NO_EVENT_ID, HEADER_BYTES,
} from "./capsule";
