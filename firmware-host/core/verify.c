/*
 * Capsule loader and verifier: vm/capsule.ts decodeCapsule and
 * vm/verify.ts analyse, check for check and in the same order, so that a
 * capsule is accepted by both VMs or rejected by both at the same byte
 * offset (docs/vm.md, "Verifier"). Nothing unverified ever runs.
 *
 * All per-opcode facts come from the classes generated from vm/isa.ts
 * (core/opcodes.h). The verifier's scratch space (a bitmap of instruction
 * starts, then of join points; slot roles; input-id bits) is the part of
 * tvm_mem after the capsule, which the script's state then overwrites.
 * Written for size: the state is one record and instructions are decoded
 * into one record, both in the event buffer's place (tvm_ev.load, unused
 * until the first reaction; tvm_load clears it when it accepts a capsule),
 * and the sweeps over the code share one decoder.
 */
#include <limits.h>
#include "tvm.h"
#if TVM_SHA256
#include "sha256.h"
#endif

static TVM_ROM uint8_t OPCLASS[TVM_OP_LIMIT] = TVM_OPCLASS_TABLE;
static TVM_ROM uint8_t CLASSES[TVM_NCLASSES][7] = TVM_CLASS_TABLE;
static TVM_ROM uint8_t KSIZE[15] = { 1, 1, 2, 2, 4, 4, 1, 2, 1, 1, 2, 1, 1, 1, 1 };

#define H_FLAGS 3
#define H_CODE_BYTES 12
#define H_TRACK 18
#define H_ENTRY 20


/* The loader's state: tvm_ev.load (core/tvm.h), in the event buffer's place. */
#define V (tvm_ev.load.cap)
#define D (tvm_ev.load.ins)
/* flow (0 seq, 1 jump, 2 branch, 3 halt): seq and branch go on to the next instruction, jump and
 * branch to their code target */
#define FALLS_THROUGH (!(D.c[0] & 8))
#define TAKES_TARGET ((uint8_t)((D.c[0] & 0x18) - 8) < 16)
#define SYNC ((D.c[0] >> 5) & 1)
#define RESUMES ((D.c[0] >> 6) & 1)
#define FLOATOP (D.c[0] >> 7)
#define PUSHES (D.c[1] & 3)
#define POPS ((D.c[1] >> 2) & 3)
#define POPS_N ((D.c[1] >> 4) & 1)
#define TRACKPUSH ((D.c[1] >> 5) & 1)
#define HAS_ENTRY ((D.c[1] >> 6) & 1)
#define SLOT_ROLE (D.c[5] & 7)
#define SLOT_COUNT (D.c[5] >> 3)
#define MEM_N8 ((D.c[6] & 7) == 7)
#define MEM_COUNT (D.c[6] >> 3)

#define IS_TARGET(k) ((k) == TVM_K_REL8 || (k) == TVM_K_ABS16)

/* Sums of header fields, in 16 bits on the small MCUs (no 32-bit arithmetic on AVR and MSP430):
 * a capsule is at most TVM_MEM_BYTES long, so a sum that saturates at 0xffff exceeds any length
 * when the block is below 32 KB; larger blocks take 32 bits, where no sum can overflow.
 * TVM_VSUM16=1 forces the 16-bit sums on the host (terra-mote-sum16, test/c-verify.test.ts). */
#if !TVM_VSUM16 && (TVM_MEM_BYTES > 32767 || UINT_MAX > 0xffff)
typedef uint32_t vsum_t;
#define add_sat(a, b) ((vsum_t)(a) + (b))
#else
typedef uint16_t vsum_t;
static vsum_t add_sat(vsum_t a, uint16_t b) {
  vsum_t s = (vsum_t)(a + b);
  return s < a ? (vsum_t)-1 : s;
}
#endif

enum { BIT_GET, BIT_SET };

/* Bit i of bitmap a, once set when op is BIT_SET. */
TVM_NOINLINE static uint8_t bit(uint8_t *a, uint16_t i, uint8_t op) {
  uint8_t m = (uint8_t)(1u << (i & 7));
  a += i >> 3;
  if (op == BIT_SET) *a |= m;
  return (*a & m) != 0;
}

/* A rejection at capsule offset `offset`, at code offset pc (0xffff: not in the code). */
TVM_NOINLINE static uint8_t reject(uint8_t why, tvm_off_t offset, uint16_t pc) {
  tvm_reject_offset = offset;
  tvm_reject_pc = pc;
  tvm.flags = 0;
  return why;
}

TVM_NOINLINE static uint16_t rd16(const uint8_t *p) {
  return (uint16_t)(p[0] | ((uint16_t)p[1] << 8));
}

/* Decode the instruction at pc into D: 0, TVM_E_OPCODE or TVM_E_TRUNC_INSTR. */
TVM_NOINLINE static uint8_t decode(uint16_t pc) {
  const uint8_t *code = V.code;
  uint8_t op = D.op = code[pc], e, i;
  uint16_t p;
  e = op < TVM_OP_LIMIT ? OPCLASS[op] : 0;
  if (!e) return TVM_E_OPCODE;
  for (i = 0; i < 7; i++) D.c[i] = CLASSES[(e & 63) - 1][i];
  D.shift = e >> 6;
  D.nops = D.c[0] & 7;
  D.size = 1;
  for (i = 6; i--;) { /* backwards: the first operand of a kind is noted last */
    uint8_t k = (uint8_t)((D.c[2 + (i >> 1)] >> ((i & 1) * 4)) & 15);
    D.kind[i] = k;
    if (i < D.nops) {
      D.size = (uint8_t)(D.size + KSIZE[k]);
      if (IS_TARGET(k)) D.tgt = i;
      if (k == TVM_K_N8) D.n8 = i;
      if (k == TVM_K_SLOT) D.slot = i;
    }
  }
  if ((uint16_t)(pc + D.size) > V.clen) return TVM_E_TRUNC_INSTR; /* pc < clen <= 32767 */
  p = (uint16_t)(pc + 1);
  for (i = 0; i < D.nops; i++) {
    uint8_t k = D.kind[i], n = KSIZE[k];
    uint16_t v = n == 1 ? code[p] : rd16(code + p);
    p = (uint16_t)(p + n);
    if (k == TVM_K_REL8) v = (uint16_t)(pc + D.size + (int8_t)v);
    D.o[i] = v;
  }
  return 0;
}

TVM_NOINLINE static uint8_t is_start(uint16_t t) {
  return t < V.clen && bit(V.starts, t, BIT_GET);
}

/* One table byte (the table parser of vm/capsule.ts): 0 when the tables end here. */
TVM_NOINLINE static uint8_t tbyte(uint8_t *x) {
  if (V.p >= V.tend) return 0;
  *x = tvm_mem[V.p++];
  return 1;
}

/* Skip a gate list [n, gates...]: 0 when the tables end inside it. */
TVM_NOINLINE static uint8_t tlist(void) {
  uint8_t n, g;
  if (!tbyte(&n)) return 0;
  while (n--) if (!tbyte(&g)) return 0;
  return 1;
}

/* A gate list: ascending base slots of the wanted role, each listed once in all tables. */
TVM_NOINLINE static uint8_t check_list(const uint8_t *list, uint8_t want, uint8_t nslots) {
  uint8_t n = list[0], k;
  int16_t prev = -1;
  for (k = 1; k <= n; k++) {
    uint8_t g = list[k];
    if (g >= nslots || g <= prev || (V.role[g] & 7) != want || !(V.role[g] & 8) || bit(V.ids, g, BIT_GET)) {
      return reject(TVM_E_GATE_LIST, (tvm_off_t)(list + k - tvm_mem), 0xffff);
    }
    bit(V.ids, g, BIT_SET);
    prev = g;
  }
  return 0;
}

/* one exit per kind of rejection (a call per rejection costs more code on the small MCUs) */
#define REJECT(why, off) do { r = (why); bad = (off); goto reject_off; } while (0)
#define REJECT_PC(why, at) do { r = (why); pc = (at); goto reject_at_pc; } while (0)
#define SWEEP for (pc = 0; pc < clen; pc = (uint16_t)(pc + D.size))

uint8_t tvm_load(tvm_off_t len) {
  uint8_t *m = tvm_mem;
  uint16_t code_bytes, var_bytes, entry, pc, clen, bm;
  uint16_t bound = 0;          /* step 8: track pushers, finalizer slots, internal-event gates */
  vsum_t expected, at;
  tvm_off_t bad, unsigned_end;
  uint8_t nslots, ninputs, ninternals, i, r, x, widest, d;
  const uint8_t *inputs, *timers, *internals, *asyncs, *t, *error_in = 0;

  memset(&tvm, 0, sizeof tvm);
  /* ---- vm/capsule.ts decodeCapsule */
  if (len < TVM_HEADER_BYTES) REJECT(TVM_E_TRUNCATED, len);
  if (rd16(m) != 0x4354) REJECT(TVM_E_MAGIC, 0); /* "TC" */
  if (m[2] != TVM_CAPSULE_FORMAT) REJECT(TVM_E_FORMAT, 2);
  code_bytes = rd16(m + 12);
  expected = add_sat(add_sat(TVM_HEADER_BYTES, rd16(m + 22)), code_bytes);
  unsigned_end = (tvm_off_t)expected;
  if (m[3] & TVM_FLAG_SIGNED) expected = add_sat(expected, TVM_TRAILER_BYTES);
  if (len != expected) REJECT(len < expected ? TVM_E_TRUNCATED : TVM_E_LENGTH, len < expected ? len : (tvm_off_t)expected);
  /* the capsule is len bytes (no sum saturated): its parts' offsets fit tvm_off_t from here on */
  V.tend = (tvm_off_t)(unsigned_end - code_bytes);
  if (code_bytes > TVM_MAX_CODE_BYTES) REJECT(TVM_E_CODE_SIZE, H_CODE_BYTES);
  /* a signature trailer: its algorithm is checked here, the signature by the caller (dissemination) */
  if ((m[3] & TVM_FLAG_SIGNED) && m[unsigned_end] != TVM_SIG_ED25519) REJECT(TVM_E_SIGNATURE, (tvm_off_t)unsigned_end);
#if TVM_SHA256
  {
    uint8_t h[32];
    tvm_sha256(m + TVM_HEADER_BYTES, (uint32_t)unsigned_end - TVM_HEADER_BYTES, h);
    if (memcmp(h, m + 24, 32) != 0) REJECT(TVM_E_HASH, 24);
  }
#endif
  V.p = TVM_HEADER_BYTES;
  if (!tbyte(&ninputs)) goto tables_end;
  inputs = m + V.p;
  for (i = 0; i < ninputs; i++) {
    if (!tbyte(&x) || !tbyte(&x) || !tlist()) goto tables_end;
  }
  timers = m + V.p;
  if (!tlist()) goto tables_end;
  internals = m + V.p;
  if (!tbyte(&ninternals)) goto tables_end;
  for (i = 0; i < ninternals; i++) if (!tlist()) goto tables_end;
  asyncs = m + V.p;
  if (!tlist()) goto tables_end;
  if (V.p != V.tend) {
  tables_end:
    REJECT(TVM_E_TABLES, V.p);
  }

  /* ---- vm/verify.ts analyse */
  V.code = m + V.tend;
  V.clen = clen = code_bytes;
  bm = (uint16_t)((clen + 8) / 8);
  V.cbase = V.tend;
  nslots = m[16];
  var_bytes = rd16(m + 14);
  entry = rd16(m + 20);
  /* 1. header */
  if (clen == 0) REJECT(TVM_E_CODE_SIZE, H_CODE_BYTES);
#if !TVM_FLOAT
  if (m[3] & TVM_FLAG_FLOAT) REJECT(TVM_E_FLOAT, H_FLAGS);
#endif

  /* scratch space after the capsule (at <= TVM_MEM_BYTES + 3; need < 46000 as clen <= 32767):
   * firmware-host/image.ts verifierScratch */
  {
    uint16_t need = (uint16_t)(bm + nslots + 32);
    at = (vsum_t)((unsigned_end + 3u) & ~3u);
    if (add_sat(at, need) > TVM_MEM_BYTES) REJECT(TVM_E_MEMORY, 0);
    V.starts = m + at;
    V.role = V.starts + bm;
    V.ids = V.role + nslots;
    memset(V.starts, 0, need);
  }

  /* 2. linear sweep */
  SWEEP {
    r = decode(pc);
    if (r) REJECT_PC(r, pc);
#if !TVM_FLOAT
    if (FLOATOP) REJECT_PC(TVM_E_FLOAT, pc);
#endif
    bit(V.starts, pc, BIT_SET);
    if ((uint16_t)(pc + D.size) == clen && (FALLS_THROUGH || RESUMES)) REJECT_PC(TVM_E_FALLS_OFF, pc);
  }

  /* 3. per-instruction operand checks */
  SWEEP {
    decode(pc);
    for (i = 0; i < D.nops; i++) {
      uint8_t k = D.kind[i];
      if (IS_TARGET(k) && !is_start(D.o[i])) REJECT_PC(TVM_E_TARGET, pc);
    }
    for (i = 0; i < D.nops; i++) {
      /* [address, address + bytes) within varBytes, in 16-bit arithmetic: n elements of 2^shift
       * bytes (n: the n8 length, the count operand or 1; shift 0 with the n8 length or without an
       * access width) exceed the rest when n > rest >> shift */
      uint16_t n = MEM_N8 ? D.o[D.n8] : MEM_COUNT ? D.o[MEM_COUNT - 1] : 1;
      if (D.kind[i] != TVM_K_A8 && D.kind[i] != TVM_K_A16) continue;
      if (D.o[i] > var_bytes || n > (uint16_t)(var_bytes - D.o[i]) >> D.shift) REJECT_PC(TVM_E_VAR, pc);
    }
    if (D.op == TVM_OP_EVGET && D.o[1] > TVM_EVENT_DATA_BYTES) REJECT_PC(TVM_E_EVGET, pc);
    for (i = 0; i < D.nops; i++) {
      if (D.kind[i] == TVM_K_SLOT && (SLOT_ROLE || D.kind[i + 1] != TVM_K_N8) && D.o[i] >= nslots) REJECT_PC(TVM_E_SLOT, pc);
    }
    if ((D.op == TVM_OP_KILL || D.op == TVM_OP_KILLF) && (uint16_t)(D.o[0] + D.o[1]) > nslots) REJECT_PC(TVM_E_SLOT, pc);
    if (D.op == TVM_OP_KILLF && (uint16_t)(D.o[3] + D.o[4]) > nslots) REJECT_PC(TVM_E_SLOT, pc);
    if (SLOT_ROLE) {
      uint8_t want = SLOT_ROLE;
      uint16_t s = D.o[D.slot], j;
      if (s + SLOT_COUNT > nslots) REJECT_PC(TVM_E_SLOT, pc);
      for (j = s; j < s + SLOT_COUNT; j++) {
        uint8_t prev = V.role[j] & 7;
        if (prev && (prev != want || !(want == TVM_ROLE_FIN || want == TVM_ROLE_GATE_ASYNC) || (j == s) != (V.role[j] >> 3))) {
          REJECT_PC(TVM_E_ROLE, pc);
        }
        if (!prev) {
          V.role[j] = (uint8_t)(want | ((j == s) << 3));
          if (want == TVM_ROLE_FIN) bound++;
        }
      }
    }
    if (D.op == TVM_OP_EMIT && D.o[0] >= ninternals) REJECT_PC(TVM_E_EMIT, pc);
  }

  /* 4. entry point */
  if (!is_start(entry)) REJECT(TVM_E_ENTRY, H_ENTRY);

  /* 5. killf finalizer ranges hold only finalizer (or unused) slots; also: track pushers, and the
   * join points (the entry point, trail entries, jump and branch targets) in the bitmap of
   * instruction starts, which is free after step 4 */
  memset(V.starts, 0, bm);
  bit(V.starts, entry, BIT_SET);
  SWEEP {
    decode(pc);
    if (D.op == TVM_OP_KILLF) {
      uint16_t j;
      for (j = D.o[3]; j < (uint16_t)(D.o[3] + D.o[4]); j++) {
        uint8_t rr = V.role[j] & 7;
        if (rr && rr != TVM_ROLE_FIN) REJECT_PC(TVM_E_KILLF, pc);
      }
    }
    if (TRACKPUSH) bound++;
    if (HAS_ENTRY || TAKES_TARGET) bit(V.starts, D.o[D.tgt], BIT_SET);
  }

  /* 6. tables: input ids, then the gate lists */
  for (i = 0, t = inputs; i < ninputs; i++, t += 3 + t[2]) {
    uint8_t k;
    for (k = 0; k < 2; k++) {
      uint8_t id = t[k];
      if (id == TVM_NO_EVENT_ID) continue;
      if (bit(V.ids, id, BIT_GET) || ((id == 0 || id == 1) && error_in && error_in != t)) {
        REJECT(TVM_E_INPUT_ID, (tvm_off_t)(t + k - m));
      }
      bit(V.ids, id, BIT_SET);
      if (id == 0 || id == 1) error_in = t;
    }
  }
  memset(V.ids, 0, 32);
  widest = timers[0];
  for (i = 0, t = inputs; i < ninputs; i++, t += 3 + t[2]) {
    if ((r = check_list(t + 2, TVM_ROLE_GATE_INPUT, nslots)) != 0) return r;
    if (t[2] > widest) widest = t[2];
  }
  if ((r = check_list(timers, TVM_ROLE_GATE_TIMER, nslots)) != 0) return r;
  for (i = 0, t = internals + 1; i < ninternals; i++, t += 1 + t[0]) {
    if ((r = check_list(t, TVM_ROLE_GATE_INT, nslots)) != 0) return r;
    bound = (uint16_t)(bound + t[0]);
  }
  if ((r = check_list(asyncs, TVM_ROLE_GATE_ASYNC, nslots)) != 0) return r;

  /* 7. eval stack, one sweep in code order: d is the depth before the instruction, that of the one
   * before (0 after one that does not fall through); empty at join points and after jumps */
  d = 0;
  SWEEP {
    uint8_t pops;
    decode(pc);
    if (d && bit(V.starts, pc, BIT_GET)) REJECT_PC(TVM_E_STACK_ENTRY, pc);
    pops = POPS_N ? (uint8_t)D.o[D.n8] : POPS;
    if (d < pops) REJECT_PC(TVM_E_STACK_UNDER, pc);
    if ((SYNC || TAKES_TARGET) && d != pops) REJECT_PC(SYNC ? TVM_E_STACK_SYNC : TVM_E_STACK_JUMP, pc);
    if ((uint16_t)(d - pops) + PUSHES > m[17]) REJECT_PC(TVM_E_STACK_OVER, pc);
    d = FALLS_THROUGH ? (uint8_t)(d - pops + PUSHES) : 0;
  }

  /* 8. track-stack bound (its terms are summed in steps 3, 5 and 6) */
  if (m[18] < bound + widest) REJECT(TVM_E_TRACK, H_TRACK);

  /* ---- lay out the script's state after the capsule: eval stack, slots, track stack, variables
   * (at <= TVM_MEM_BYTES from the scratch check: the sum before the variables fits vsum_t) */
  {
    uint8_t cells = m[17] ? m[17] : 1;
    /* one track entry at least: the boot and each async slice push their trail's start on the empty
     * stack and pop it at once, which trackDepth does not count (with none, it overwrote the
     * variables' first bytes) */
    uint8_t tracks = m[18] ? m[18] : 1;
    vsum_t fixed = (vsum_t)(at + 4u * cells + 2u * nslots + 2u * tracks);
    if (add_sat(fixed, var_bytes) > TVM_MEM_BYTES) REJECT(TVM_E_MEMORY, 0);
#if UINTPTR_MAX == 0xffffu
    /* resume points are code addresses below 0x8000 here (engine.c RESUME) */
    if ((uintptr_t)tvm_mem > 0x8000u - TVM_MEM_BYTES) REJECT(TVM_E_MEMORY, 0);
#endif
    tvm.stack = (int32_t *)(void *)(m + at);
    tvm.slots = (uint16_t *)(void *)(m + at + 4u * cells);
    tvm.track = tvm.slots + nslots;
    tvm.vars = (uint8_t *)(tvm.track + tracks);
    memset(tvm.slots, 0, 2u * nslots);
    memset(tvm.vars, 0, var_bytes);
  }
  tvm.code = V.code;
  tvm.code_len = clen;
  tvm.var_bytes = var_bytes;
  tvm.entry = entry;
  tvm.nslots = nslots;
  tvm.ninputs = ninputs;
  tvm.track_cap = m[18];
  tvm.inputs = inputs;
  tvm.timers = timers;
  tvm.internals = internals;
  tvm.asyncs = asyncs;
  tvm.error_in = error_in;
  tvm.last_id = TVM_NO_EVENT_ID;
  tvm.last_table = tvm.no_gates;
  memset(&tvm_ev, 0, sizeof tvm_ev); /* the event buffer, after the loader's state in its place */
  tvm.flags = TVM_F_LOADED;
  return TVM_OK;

reject_off:
  return reject(r, bad, 0xffff);
reject_at_pc:
  return reject(r, (tvm_off_t)(V.cbase + pc), pc);
}
