/*
 * The trail scheduler, timers, input and error queues and the instruction
 * interpreter of docs/vm.md ("Reactions", "Order of work", "Instructions
 * with scheduling effects", "Values and errors"), bit for bit as
 * vm/engine.ts. Only verified capsules run (core/verify.c): the interpreter
 * checks nothing beyond what docs/vm.md requires at run time (array
 * indexes, division by zero, the track-stack guard, the optional watchdog).
 *
 * Dispatch: a switch, or computed goto when TVM_DISPATCH_GOTO (GNU C).
 * Width and type variants share their handler tails (load, store, add,
 * copy) so that the core stays small on 8- and 16-bit MCUs.
 */
#include "tvm.h"

tvm_t tvm;
tvm_ev_t tvm_ev;
#if defined(__GNUC__)
uint8_t tvm_mem[TVM_MEM_BYTES] __attribute__((aligned(4)));
#else
uint8_t tvm_mem[TVM_MEM_BYTES];
#endif

#define RD16(p) ((uint16_t)((p)[0] | ((uint16_t)(p)[1] << 8)))
#define RD32(p) ((uint32_t)(p)[0] | ((uint32_t)(p)[1] << 8) | ((uint32_t)(p)[2] << 16) | ((uint32_t)(p)[3] << 24))

static void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/* memmove without libc's overlap rules being a question: overlapping copies behave as copyWithin. */
static void move_bytes(uint8_t *d, const uint8_t *s, uint8_t n) {
  if (d <= s) {
    while (n--) *d++ = *s++;
  } else {
    d += n;
    s += n;
    while (n--) *--d = *--s;
  }
}

/* ---- errors and faults ---------------------------------------------------- */

static void halt_vm(void) {
  tvm.flags |= TVM_F_HALTED;
  memset(tvm.slots, 0, (uint16_t)tvm.nslots * 2u);
  tvm.tp = 0;
  tvm.q_count = 0;
}

void tvm_abort(void) {
  if (!(tvm.flags & TVM_F_HALTED)) {
    tvm.flags |= TVM_F_FAULT;
    halt_vm();
  }
}

static void fault(uint8_t code, uint16_t pc) {
#if TVM_STATS
  tvm.stats.errors++;
#endif
  tvm.flags |= TVM_F_FAULT;
  halt_vm();
  tvm_host_error(code, pc);
}

/* A runtime error of a reaction at pc. Its callers set tvm_chain_stop (the ERROR reaction comes
 * before further chained inputs): set here, avr-gcc gives react a stack frame (+538 B of engine,
 * +83 cycles per CPU-bound iteration). */
static TVM_NOINLINE void raise_error(uint8_t code, uint16_t pc) {
#if TVM_STATS
  tvm.stats.errors++;
#endif
  if ((tvm.flags & TVM_F_IN_ERROR) || tvm.err_count == TVM_ERROR_QUEUE) {
#if TVM_STATS
    tvm.stats.dropped_errors++;
#endif
  } else {
    tvm.err_codes[tvm.err_count++] = code;
  }
  tvm_host_error(code, pc);
}

/* ---- inputs, gates, timers ---------------------------------------------------- */

/* the queue's indexes wrap by a mask */
typedef char tvm_queue_cap_pow2[(TVM_QUEUE_CAP & (TVM_QUEUE_CAP - 1)) == 0 ? 1 : -1];

uint8_t tvm_enqueue(uint8_t id, uint8_t aux, int32_t value) {
  tvm_qentry_t *e;
  uint8_t i = tvm.q_count;
  if (tvm.flags & TVM_F_HALTED) return 0;
  if (i == TVM_QUEUE_CAP) {
#if TVM_STATS
    tvm.stats.queue_overflows++;
#endif
    return 0;
  }
  tvm.q_count = (uint8_t)(i + 1);
  i = (uint8_t)((i + tvm.q_head) & (TVM_QUEUE_CAP - 1));
  e = &tvm.q[i];
  e->id = id;
  e->aux = aux;
  e->len = 0xff;
#if TVM_QUEUE_COPY
  e->value = value;
#else
  e->u.value = value;
#endif
  return 1;
}

uint8_t tvm_enqueue_rec(uint8_t id, uint8_t aux, const uint8_t *data, uint8_t len) {
  tvm_qentry_t *e;
  if (!tvm_enqueue(id, aux, 0)) return 0;
  e = &tvm.q[(tvm.q_head + tvm.q_count - 1) & (TVM_QUEUE_CAP - 1)];
  if (len > TVM_EVENT_DATA_BYTES) len = TVM_EVENT_DATA_BYTES;
  e->len = len;
#if TVM_QUEUE_COPY
  memcpy(e->data, data, len);
#else
  e->u.ptr = data;
#endif
  return 1;
}

/* The timer gate of entry k of the timer table (1-based), and its deadline - now (mod 2^32). */
#define TIMER_GATE(k) (tvm.slots + tvm.timers[k])
#define TIMER_DUE_IN(gate) (((uint32_t)(gate)[1] | ((uint32_t)(gate)[2] << 16)) - tvm.now)

/* Scan the timer gates: 1 and *delta = the earliest deadline - now (mod
 * 2^32) when one is active, else 0. (The earliest so far is kept in *delta:
 * fewer registers to save on the small MCUs.) */
static uint8_t scan_timers(uint32_t *delta) {
  uint8_t k = tvm.timers[0], found = 0;
  for (; k; k--) {
    const uint16_t *gate = TIMER_GATE(k);
    uint32_t d;
    if (!*gate) continue;
    d = TIMER_DUE_IN(gate);
    if (!found || d < *delta) *delta = d;
    found = 1;
  }
  return found;
}

/* Every timer gate due now is pushed on the track stack (last gate first) and cleared. */
static TVM_NOINLINE void wake_timers(void) {
  uint8_t k;
  for (k = tvm.timers[0]; k; k--) {
    uint16_t *gate = TIMER_GATE(k);
    if (*gate && gate[1] == (uint16_t)tvm.now && gate[2] == (uint16_t)(tvm.now >> 16)) {
      tvm.track[tvm.tp++] = *gate;
      *gate = 0;
    }
  }
}

uint8_t tvm_next_deadline(uint32_t *delta) {
  if (tvm.flags & TVM_F_HALTED) return 0;
  return scan_timers(delta);
}

uint8_t *tvm_view(int32_t addr, int32_t len) {
  /* negative values are out of range as unsigned ones */
  if ((uint32_t)addr > tvm.var_bytes || (uint32_t)len > tvm.var_bytes - (uint32_t)addr) {
    tvm.flags |= TVM_F_VIEW_FAULT;
    return 0;
  }
  return tvm.vars + addr;
}

/* ---- the interpreter ------------------------------------------------------------ */

#if TVM_STATS
#define COUNT (n++)
#else
#define COUNT ((void)0)
#endif
#define PC ((uint16_t)(ip - tvm.code))

/* Resume points (gate values and track-stack entries): where data pointers have 16 bits (AVR,
 * MSP430), the code address itself, so that an await and a wake-up skip adding or subtracting
 * tvm.code (tvm_load checks that the memory block lies below 0x8000: bit 15 is TVM_GATE_FILTERED);
 * elsewhere the code offset. Never 0 for an address: the memory block is not at address 0.
 * TRAIL_SP, at a trail start: nothing on the 16-bit MCUs, where sp is set once per react (see there). */
#if UINTPTR_MAX == 0xffffu
typedef char tvm_block_below_32k[TVM_MEM_BYTES <= 0x8000u ? 1 : -1];
#define RESUME(p) ((uint16_t)(uintptr_t)(p))
#define RESUME_AT(w) ((const uint8_t *)(uintptr_t)(w))
#define TRAIL_SP ((void)0)
#else
#define RESUME(p) ((uint16_t)((p) - tvm.code))
#define RESUME_AT(w) (tvm.code + (w))
#define TRAIL_SP (sp = tvm.stack)
#endif
#define RESUME_CODE(off) RESUME(tvm.code + (off))

#if TVM_WATCHDOG
#define JUMPED do { if (n > tvm.limit && tvm.limit) goto trail_end; } while (0)
#else
#define JUMPED ((void)0)
#endif

#if TVM_DISPATCH_GOTO && (defined(__AVR__) || UINTPTR_MAX == 0xffffu)
/* 16-bit code addresses (on AVR the table is in program memory) */
#define LABEL(x) &&L_##x
/* one dispatch for all handlers: the smallest code, and on AVR faster than a copy per handler */
#define NEXT goto dispatch
#define DISPATCH_ONCE 1
#elif TVM_DISPATCH_GOTO
/* offsets from the first handler: 16 bits on 32-bit MCUs (half a table of pointers); 32 bits on
 * 64-bit hosts, where a sanitizer build of the interpreter can exceed 32 KB */
#if UINTPTR_MAX > 0xffffffffu
typedef int32_t tvm_label_t;
#else
typedef int16_t tvm_label_t;
#endif
#define LABEL(x) (tvm_label_t)(&&L_##x - &&L_HALT)
#define NEXT do { COUNT; goto *(&&L_HALT + labels[*ip]); } while (0)
#else
#define NEXT goto dispatch
#endif

/* A handler starts at CASE(x); the other opcodes of its family follow as ALSO(y). With computed
 * goto only the handler has a label, and the table sends the whole family there: a label per
 * opcode would cost a jump (2 bytes and 2 cycles on AVR) per family member. */
#if TVM_DISPATCH_GOTO
#define CASE(x) L_##x:
#define ALSO(x)
#define ONE(x) [TVM_OP_##x] = LABEL(x),
#define TO(x, handler) [TVM_OP_##x] = LABEL(handler),
#define SPAN(first, last, handler) [TVM_OP_##first ... TVM_OP_##last] = LABEL(handler),
/* the dispatch table (GNU designated ranges): every opcode of vm/isa.ts to its handler, unassigned
 * ones to L_INVALID; without float support, no entries for the float opcodes (the verifier rejects them) */
#define HANDLERS \
  ONE(HALT) ONE(TERM) ONE(JMP) SPAN(JMPW, JNZW, JMPW) SPAN(SPAWN, SPAWNW, SPAWN) ONE(JOIN) \
  SPAN(KILL, KILLF, KILL) ONE(FIN) ONE(FINEND) ONE(EMIT) ONE(AWAIT) TO(AWAITI, AWAIT) TO(ASYNC, AWAIT) \
  ONE(AWAITX) ONE(AWAITK) ONE(AWAITT) ONE(AWAITTW) ONE(AWAITTS) ONE(AWAITT32) ONE(AWAITTV) ONE(YIELD) \
  SPAN(EVLD_U8, EVLD_32, EVLD_U8) ONE(EVGET) ONE(OUT) ONE(OUTV) ONE(OUTK) ONE(OUTR) SPAN(CALL, CALLV, CALL) \
  ONE(PUSH8) ONE(PUSH16) ONE(PUSH32) ONE(PUSHA) ONE(POP) ONE(DUP) SPAN(LD_U8, LDW_32, LD_U8) \
  SPAN(ST_8, STW_32, ST_8) SPAN(LDX_U8, LDX_32, LDX_U8) SPAN(STX_8, STX_32, STX_8) SPAN(SET_8, SETW_32, SET_8) \
  SPAN(MOV_8, MOVW_32, MOV_8) ONE(COPY) SPAN(INC_8, INC_16, INC_8) ONE(INC_32) SPAN(INCW_8, DECW_32, INC_8) \
  SPAN(ADD, EXT_I16, ADD)
#if TVM_FLOAT
#define TABLE_SIZE TVM_OP_LIMIT
#define HANDLERS_FLOAT SPAN(ADDF, DIVF, ADDF) SPAN(EQF, GEF, EQF) ONE(NEGF) ONE(I2F) ONE(U2F) ONE(F2I) ONE(F2U)
#else
#define TABLE_SIZE TVM_OP_FLOAT
#define HANDLERS_FLOAT
#endif
#define LABELS [0 ... TABLE_SIZE - 1] = LABEL(INVALID), HANDLERS HANDLERS_FLOAT
#else
#define CASE(x) case TVM_OP_##x:
#define ALSO(x) case TVM_OP_##x:
#endif

#define TRACK_GUARD do { if (tp == tvm.track_cap) goto overflow; } while (0)
/* End the chain of input reactions after this one (tvm.h). An or, not a store of the constant:
 * avr-gcc would keep the 1 in a register, reloaded at every trail start (8 cycles per CPU-bound
 * iteration); a clock tick's bit set meanwhile changes nothing, as the chain ends either way. */
#define STOP_CHAIN() (tvm_chain_stop |= TVM_CHAIN_STOP)

/* Compare outcome masks (bit 0: a < b, bit 1: a == b, bit 2: a > b; bit 3: unsigned), eq..geu. */
static TVM_ROM uint8_t CMP[10] = {
  [TVM_OP_EQ - TVM_OP_EQ] = 2, [TVM_OP_NE - TVM_OP_EQ] = 5,
  [TVM_OP_LT - TVM_OP_EQ] = 1, [TVM_OP_LTU - TVM_OP_EQ] = 9,
  [TVM_OP_LE - TVM_OP_EQ] = 3, [TVM_OP_LEU - TVM_OP_EQ] = 11,
  [TVM_OP_GT - TVM_OP_EQ] = 4, [TVM_OP_GTU - TVM_OP_EQ] = 12,
  [TVM_OP_GE - TVM_OP_EQ] = 6, [TVM_OP_GEU - TVM_OP_EQ] = 14,
};
typedef char tvm_cmp_contiguous[(TVM_OP_GEU - TVM_OP_EQ == 9) ? 1 : -1];
/* The shared handlers derive operand forms and types from opcode offsets (vm/isa.ts numbers families in
 * order: types u8 i8 u16 i16 32, widths 8 16 32, a8 forms before a16 forms, inc before dec). */
#define TVM_ASSERT(name, cond) typedef char tvm_assert_##name[(cond) ? 1 : -1]
TVM_ASSERT(jumps, TVM_OP_JMPW == TVM_OP_JMP + 1 && TVM_OP_JZ == TVM_OP_JMP + 2 && TVM_OP_JZW == TVM_OP_JMP + 3 &&
                  TVM_OP_JNZ == TVM_OP_JMP + 4 && TVM_OP_JNZW == TVM_OP_JMP + 5 && (TVM_OP_JMPW & 1) == 1);
TVM_ASSERT(evld, TVM_OP_EVLD_I8 == TVM_OP_EVLD_U8 + 1 && TVM_OP_EVLD_32 == TVM_OP_EVLD_U8 + 4);
TVM_ASSERT(ld, TVM_OP_LD_I16 == TVM_OP_LD_U8 + 3 && TVM_OP_LDW_U8 == TVM_OP_LD_U8 + 5 && TVM_OP_LDW_32 == TVM_OP_LD_U8 + 9);
TVM_ASSERT(st, TVM_OP_ST_32 == TVM_OP_ST_8 + 2 && TVM_OP_STW_8 == TVM_OP_ST_8 + 3 && TVM_OP_STW_32 == TVM_OP_ST_8 + 5);
TVM_ASSERT(ldx, TVM_OP_LDX_I16 == TVM_OP_LDX_U8 + 3 && TVM_OP_LDX_32 == TVM_OP_LDX_U8 + 4);
TVM_ASSERT(stx, TVM_OP_STX_16 == TVM_OP_STX_8 + 1 && TVM_OP_STX_32 == TVM_OP_STX_8 + 2);
TVM_ASSERT(set, TVM_OP_SETW_8 == TVM_OP_SET_8 + 3 && TVM_OP_SETW_32 == TVM_OP_SET_8 + 5);
TVM_ASSERT(mov, TVM_OP_MOVW_8 == TVM_OP_MOV_8 + 3 && TVM_OP_MOVW_32 == TVM_OP_MOV_8 + 5);
TVM_ASSERT(incdec, TVM_OP_INCW_8 == TVM_OP_INC_8 + 3 && TVM_OP_DEC_8 == TVM_OP_INC_8 + 6 && TVM_OP_DECW_32 == TVM_OP_INC_8 + 11);
TVM_ASSERT(spawn, TVM_OP_SPAWNW == TVM_OP_SPAWN + 1 && (TVM_OP_SPAWNW & 1) == 1);
TVM_ASSERT(arith, TVM_OP_NEG > TVM_OP_LOR && TVM_OP_EXT_I16 == TVM_OP_NEG + 6);

#if TVM_FLOAT
static float as_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
#endif

/* An input occurrence: e with input table tbl (ERROR reactions), or when e
 * is 0 the head of the queue, dequeued, with its id's table (tvm.no_gates: none). Its
 * data becomes the event data, and every active gate of the table matching
 * its selector wakes: the first in text order is returned (0: none) to run
 * at once, the others are pushed on the empty track stack, last gate first,
 * and *tp is their number. (Called once, in react.) */
static TVM_INLINE uint16_t occur(const tvm_qentry_t *e, const uint8_t *tbl, uint8_t *tp) {
  uint8_t k, len, aux, n = 0;
  uint16_t run = 0;
  const uint8_t *g;
  if (!e) {
    uint8_t id;
    e = &tvm.q[tvm.q_head];
    tvm.q_head = (uint8_t)((tvm.q_head + 1) & (TVM_QUEUE_CAP - 1));
    tvm.q_count--;
    id = e->id;
    if (id == tvm.last_id) {
      /* the table of the last input id found (loops raise the same input over and over) */
      tbl = tvm.last_table;
    } else if (id != TVM_NO_EVENT_ID) {
      for (tbl = tvm.inputs, k = tvm.ninputs; k; k--, tbl += 3 + tbl[2]) {
        if (tbl[0] == id || tbl[1] == id) break;
      }
      if (!k) tbl = tvm.no_gates;
      tvm.last_id = id;
      tvm.last_table = tbl;
    } else {
      tbl = tvm.no_gates;
    }
  }
  len = e->len;
  if (len == 0xff) {
#if TVM_QUEUE_COPY
    wr32(tvm_ev.data, (uint32_t)e->value);
#else
    wr32(tvm_ev.data, (uint32_t)e->u.value);
#endif
    len = 4;
  } else {
#if TVM_QUEUE_COPY
    memcpy(tvm_ev.data, e->data, len);
#else
    memcpy(tvm_ev.data, e->u.ptr, len);
#endif
  }
  aux = e->aux;
  if (tvm.ev_dirty > len) memset(tvm_ev.data + len, 0, (uint8_t)(tvm.ev_dirty - len));
  tvm.ev_dirty = len;
  *tp = 0;
  if (!(k = tbl[2])) return 0;
  if (k == 1) {
    /* one gate (an input awaited in one place): nothing to push */
    uint16_t *gate = tvm.slots + tbl[3];
    uint16_t w = *gate;
    if (!(w & TVM_GATE_FILTERED) || gate[1] == aux) {
      *gate = 0;
      run = w & (uint16_t)~TVM_GATE_FILTERED;
    }
  } else for (g = tbl + 3 + k; k; k--) {
    uint16_t *gate = tvm.slots + *--g;
    uint16_t w = *gate;
    if (!w) continue;
    if (w & TVM_GATE_FILTERED) {
      if (gate[1] != aux) continue;
      w &= (uint16_t)~TVM_GATE_FILTERED;
    }
    if (run) tvm.track[n++] = run;
    run = w;
    *gate = 0;
  }
  *tp = n;
  return run;
}

/*
 * One reaction: the occurrence of an input first (with `chain`, the head of
 * the queue; or e with table tbl: an ERROR reaction), then run trails from
 * the top of the track stack until it is empty. Counts a reaction even when
 * nothing runs (an occurrence that wakes no gate). `chain` is 0, or 1 + the
 * further queued inputs that may then react without leaving the dispatch
 * loop (what is left of them goes to tvm.chain_left), as long as nothing
 * must come first (an ERROR reaction, a timer armed due now: both set
 * tvm_chain_stop), the VM runs and the platform has not set tvm_chain_stop
 * (vm/engine.ts chains the same way; the results are those of one tvm_step
 * per input).
 */
static void react(tvm_chain_t chain, const tvm_qentry_t *e, const uint8_t *tbl) {
#if TVM_DISPATCH_GOTO
/* the handlers' entries override the table's L_INVALID default */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
#endif
#if TVM_DISPATCH_GOTO && defined(__AVR__)
  /* In program memory (a .progmem section, read by the dispatch's lpm only, so no __flash, which would
   * ignore the section), 256-byte aligned: the dispatch then adds the opcode's word offset to the high
   * address byte alone, 2 cycles less per instruction for 192 B of padding (the assembler rounds the
   * section up to 512 B; its own section lets the link sort it first in .progmem: Makefile) */
  static const void *const labels[] __attribute__((section(".progmem.labels"), aligned(256))) = { LABELS };
#elif TVM_DISPATCH_GOTO && UINTPTR_MAX == 0xffffu
  static const void *const labels[] = { LABELS };
#elif TVM_DISPATCH_GOTO
  static const tvm_label_t labels[] = { LABELS };
#endif
#if TVM_DISPATCH_GOTO
#pragma GCC diagnostic pop
#endif
  /* The VM's pointers (tvm.code, tvm.vars, tvm.slots, ...) are read where
   * they are used rather than cached in locals: on the 8-bit MCUs the
   * interpreter's own state (ip, sp, tp) then keeps the registers (ip in a
   * pointer register) instead of going to the stack frame. */
  const uint8_t *ip;
  int32_t *sp;
  uint8_t tp = tvm.tp;
#if TVM_STATS
  uint32_t n = 0;
#endif
  uint8_t *p;
  uint32_t v;
  uint8_t adv;

  /* The eval stack is empty at every trail start and end (verify.c step 7: the instructions that
   * end a trail are sync ones), so sp is set here, and on the 16-bit MCUs not again at each trail
   * (TRAIL_SP; AVR -1, MSP430 -12 cycles per CPU-bound iteration). On Cortex-M0+, gcc then keeps
   * sp in a high register, which costs 4.7% more instructions in arithmetic. */
  sp = tvm.stack;
  if (chain || e) goto occurrence;
  if (tp == 0) goto done;
  ip = RESUME_AT(tvm.track[--tp]);
#if TVM_DISPATCH_GOTO && DISPATCH_ONCE && defined(__AVR__)
dispatch:
  COUNT;
  {
    /* Z = table + 2 * opcode, the handler's word address from program memory: 14 cycles where
     * avr-gcc's code for labels[*ip] takes 18 (the table's low address byte is 0) */
    const void *h;
    __asm__("ld r30, %a1\n\tldi r31, hi8(%2)\n\tlsl r30\n\tadc r31, __zero_reg__\n\t"
            "lpm __tmp_reg__, Z+\n\tlpm r31, Z\n\tmov r30, __tmp_reg__"
            : "=z"(h) : "e"(ip), "i"(labels));
    goto *h;
  }
#elif TVM_DISPATCH_GOTO && DISPATCH_ONCE
dispatch:
  COUNT;
  goto *labels[*ip];
#elif TVM_DISPATCH_GOTO
  NEXT;
#else
  for (;;) {
  dispatch:
    COUNT;
    switch (*ip) {
#endif

  /* ---- trails and control flow */
  CASE(HALT)
    goto trail_end;
  CASE(TERM)
    halt_vm();
    tp = 0;
    goto trail_end;
  CASE(JMP)
#if defined(__AVR__)
    /* ip += 2 + rel8 in place: avr-gcc shares the sum with jmpw's relative form, two jumps away
     * (6 cycles more per loop iteration) */
    __asm__("ldd __tmp_reg__, %a0+1\n\tadd %A0, __tmp_reg__\n\tadc %B0, __zero_reg__\n\t"
            "sbrc __tmp_reg__, 7\n\tdec %B0\n\tadiw %0, 2"
            : "+b"(ip));
#else
    ip += 2 + (int8_t)ip[1];
#endif
    JUMPED;
    NEXT;
  CASE(JMPW)
  ALSO(JZ)
  ALSO(JZW)
  ALSO(JNZ)
  ALSO(JNZW) {
    /* odd opcodes take an absolute target, even ones a relative one; jz/jnz pop a condition */
    uint8_t op = *ip;
    const uint8_t *t = (op & 1) ? tvm.code + RD16(ip + 1) : ip + 2 + (int8_t)ip[1];
    if (op >= TVM_OP_JZ && ((*--sp == 0) != (op < TVM_OP_JNZ))) {
      ip += 2 + (op & 1);
      NEXT;
    }
    ip = t;
    JUMPED;
    NEXT;
  }
  CASE(SPAWN)
  ALSO(SPAWNW)
    TRACK_GUARD;
    if (*ip & 1) {
      tvm.track[tp++] = RESUME_CODE(RD16(ip + 1));
      ip += 3;
    } else {
      tvm.track[tp++] = RESUME(ip + 2 + (int8_t)ip[1]);
      ip += 2;
    }
    NEXT;
  CASE(JOIN) {
    uint8_t s = ip[1];
    uint16_t c = (uint16_t)(tvm.slots[s] + 1);
    if (c >= ip[2]) {
      tvm.slots[s] = 0;
      ip += 3;
      NEXT;
    }
    tvm.slots[s] = c;
    goto trail_end;
  }
  CASE(KILL)
  ALSO(KILLF) {
    /* clear slots [s, s+n); drop tracks with pc in [t, this pc), keeping the others' order */
    uint16_t lo = RESUME_CODE(RD16(ip + 3)), hi = RESUME(ip);
    uint8_t r, w = 0;
    memset(tvm.slots + ip[1], 0, (uint16_t)ip[2] * 2u);
    for (r = 0; r < tp; r++) {
      uint16_t x = tvm.track[r];
      if (x < lo || x >= hi) tvm.track[w++] = x;
    }
    tp = w;
    if (*ip == TVM_OP_KILL) {
      ip += 5;
      NEXT;
    } else {
      uint8_t j = ip[5], m = (uint8_t)(ip[5] + ip[6]), any = 0;
      for (; j < m; j++) {
        uint16_t f = tvm.slots[j];
        if (!f) continue;
        if ((uint16_t)tp + (any ? 1u : 2u) > tvm.track_cap) goto overflow;
        if (!any) tvm.track[tp++] = (uint16_t)(hi + 7);
        any = 1;
        tvm.track[tp++] = f;
        tvm.slots[j] = 0;
      }
      if (any) goto trail_end;
      ip += 7;
      NEXT;
    }
  }
  CASE(FIN)
    tvm.slots[ip[1]] = RESUME_CODE(RD16(ip + 2));
    ip += 4;
    NEXT;
  CASE(FINEND)
    TRACK_GUARD;
    tvm.slots[ip[1]] = 0;
    tvm.track[tp++] = RESUME_CODE(RD16(ip + 2));
    ip += 4;
    NEXT;
  CASE(EMIT) {
    const uint8_t *g = tvm.internals + 1;
    uint8_t e = ip[1], k;
    while (e--) g += 1 + g[0];
    TRACK_GUARD;
    tvm.track[tp++] = RESUME(ip + 2);
    k = g[0];
    while (k) {
      uint8_t x = g[k--];
      uint16_t w = tvm.slots[x];
      if (w) {
        TRACK_GUARD;
        tvm.track[tp++] = w;
        tvm.slots[x] = 0;
      }
    }
    goto trail_end;
  }

  /* ---- awaits: set the gate and end the trail */
  CASE(AWAIT)
  ALSO(AWAITI)
  ALSO(ASYNC)
    tvm.slots[ip[1]] = RESUME(ip + 2);
    goto trail_end;
  CASE(AWAITX)
    v = (uint8_t)*--sp;
    adv = 2;
    goto filtered;
  CASE(AWAITK)
    v = ip[2];
    adv = 3;
  filtered: {
    uint16_t *gate = tvm.slots + ip[1];
    gate[0] = (uint16_t)(RESUME(ip + adv) | TVM_GATE_FILTERED);
    gate[1] = (uint16_t)v;
    goto trail_end;
  }
  CASE(AWAITT)
    v = ip[2];
    adv = 3;
    goto timer;
  CASE(AWAITTW)
    v = RD16(ip + 2);
    adv = 4;
    goto timer;
  CASE(AWAITTS)
    v = (uint32_t)ip[2] * 1000u;
    adv = 3;
    goto timer;
  CASE(AWAITT32)
    v = RD32(ip + 2);
    adv = 6;
    goto timer;
  CASE(AWAITTV)
    v = (uint32_t)*--sp;
    adv = 2;
  timer: {
    uint8_t s = ip[1];
#if TVM_TICK
    STOP_CHAIN(); /* the platform's next wake-up may now be earlier */
#else
    if (!v) STOP_CHAIN(); /* a timer due now comes before further inputs */
#endif
    v += tvm.now;
    tvm.slots[s] = RESUME(ip + adv);
    tvm.slots[s + 1] = (uint16_t)v;
    tvm.slots[s + 2] = (uint16_t)(v >> 16);
    goto trail_end;
  }
  CASE(YIELD)
    tvm.slots[ip[1]] = RESUME_CODE(RD16(ip + 2));
    goto trail_end;

  /* ---- input data, outputs, functions */
  CASE(EVLD_U8)
  ALSO(EVLD_I8)
  ALSO(EVLD_U16)
  ALSO(EVLD_I16)
  ALSO(EVLD_32)
    adv = (uint8_t)(*ip - TVM_OP_EVLD_U8);
    p = tvm_ev.data;
    ip++;
    goto load;
  CASE(EVGET)
    memcpy(tvm.vars + RD16(ip + 1), tvm_ev.data, ip[3]);
    ip += 4;
    NEXT;
  CASE(OUT)
    tvm_host_output(ip[1], 0);
    ip += 2;
    goto after_host;
  CASE(OUTV)
    tvm_host_output(ip[1], *--sp);
    ip += 2;
    goto after_host;
  CASE(OUTK)
    tvm_host_output(ip[1], ip[2]);
    ip += 3;
    goto after_host;
  CASE(OUTR)
    tvm_host_output_rec(ip[1], tvm.vars + RD16(ip + 2), ip[4]);
    ip += 5;
    goto after_host;
  CASE(CALL)
  ALSO(CALLV) {
    uint8_t nargs = ip[2];
    int32_t r;
    sp -= nargs;
    r = tvm_host_call(ip[1], sp, nargs);
    if (tvm.flags & TVM_F_VIEW_FAULT) {
      /* the script's range is outside the var area: 0 and ERROR 11, as vm/engine.ts callHost */
      tvm.flags &= (uint8_t)~TVM_F_VIEW_FAULT;
      r = 0;
      raise_error(TVM_ERR_INDEX, PC);
      STOP_CHAIN();
    }
    if (*ip == TVM_OP_CALL) *sp++ = r;
    ip += 3;
    goto after_host;
  }
  after_host:
    if (tvm.flags & TVM_F_HALTED) {
      tp = 0;
      goto done;
    }
    NEXT;

  /* ---- stack */
  CASE(PUSH8)
    *sp++ = (int8_t)ip[1];
    ip += 2;
    NEXT;
  CASE(PUSH16)
    *sp++ = (int16_t)RD16(ip + 1);
    ip += 3;
    NEXT;
  CASE(PUSH32)
    *sp++ = (int32_t)RD32(ip + 1);
    ip += 5;
    NEXT;
  CASE(PUSHA)
    *sp++ = RD16(ip + 1);
    ip += 3;
    NEXT;
  CASE(POP)
    sp--;
    ip++;
    NEXT;
  CASE(DUP)
    sp[0] = sp[-1];
    sp++;
    ip++;
    NEXT;

  /* ---- loads: ld.T (a8) and ldw.T (a16), T = u8 i8 u16 i16 32 (shared tail `load`: type in adv) */
  CASE(LD_U8)
  ALSO(LD_I8)
  ALSO(LD_U16)
  ALSO(LD_I16)
  ALSO(LD_32)
  ALSO(LDW_U8)
  ALSO(LDW_I8)
  ALSO(LDW_U16)
  ALSO(LDW_I16)
  ALSO(LDW_32)
    adv = (uint8_t)(*ip - TVM_OP_LD_U8);
    if (adv < 5) {
      p = tvm.vars + ip[1];
      ip += 2;
    } else {
      adv = (uint8_t)(adv - 5);
      p = tvm.vars + RD16(ip + 1);
      ip += 3;
    }
  load:
    switch (adv) {
      case 0: v = *p; break;
      case 1: v = (uint32_t)(int32_t)(int8_t)*p; break;
      case 2: v = RD16(p); break;
      case 3: v = (uint32_t)(int32_t)(int16_t)RD16(p); break;
      default: v = RD32(p); break;
    }
    *sp++ = (int32_t)v;
    NEXT;

  /* ---- stores: st.W (a8) and stw.W (a16), W = 8 16 32 (shared tail `store`: width code in adv) */
  CASE(ST_8)
  ALSO(ST_16)
  ALSO(ST_32)
  ALSO(STW_8)
  ALSO(STW_16)
  ALSO(STW_32)
    adv = (uint8_t)(*ip - TVM_OP_ST_8);
    v = (uint32_t)*--sp;
    if (adv < 3) {
      p = tvm.vars + ip[1];
      ip += 2;
    } else {
      adv = (uint8_t)(adv - 3);
      p = tvm.vars + RD16(ip + 1);
      ip += 3;
    }
  store:
    p[0] = (uint8_t)v;
    if (adv) {
      p[1] = (uint8_t)(v >> 8);
      if (adv == 2) {
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
      }
    }
    NEXT;

  /* ---- indexed loads and stores: index checked against the array length */
  CASE(LDX_U8)
  ALSO(LDX_I8)
  ALSO(LDX_U16)
  ALSO(LDX_I16)
  ALSO(LDX_32)
    v = (uint32_t)sp[-1];
    if (v >= RD16(ip + 3)) {
      sp[-1] = 0;
      goto index_error;
    }
    adv = (uint8_t)(*ip - TVM_OP_LDX_U8);
    p = tvm.vars + RD16(ip + 1) + ((uint16_t)v << (adv >> 1)); /* element size 1 1 2 2 4 */
    ip += 5;
    sp--;
    goto load;
  CASE(STX_8)
  ALSO(STX_16)
  ALSO(STX_32) {
    uint32_t i;
    adv = (uint8_t)(*ip - TVM_OP_STX_8);
    v = (uint32_t)*--sp;
    i = (uint32_t)*--sp;
    if (i >= RD16(ip + 3)) {
    index_error:
      raise_error(TVM_ERR_INDEX, PC);
      STOP_CHAIN(); /* the ERROR reaction comes before further inputs */
      ip += 5;
      NEXT;
    }
    p = tvm.vars + RD16(ip + 1) + ((uint16_t)i << adv);
    ip += 5;
    goto store;
  }

  /* ---- memory to memory: set (constant), mov (variable), copy */
  /* 1, 2, 4 bytes for width codes 0, 1, 2 (no shift of a constant 1: avr-gcc would keep the 1 in a
   * register pair reloaded at every trail start) */
#define WIDTH_BYTES(w) ((uint8_t)((w) + 1 + ((w) >> 1)))
  {
    const uint8_t *src;
    uint8_t len;
  CASE(SET_8)
  ALSO(SET_16)
  ALSO(SET_32)
  ALSO(SETW_8)
  ALSO(SETW_16)
  ALSO(SETW_32)
    adv = (uint8_t)(*ip - TVM_OP_SET_8);
    if (adv < 3) {
      p = tvm.vars + ip[1];
      src = ip + 2;
    } else {
      adv = (uint8_t)(adv - 3);
      p = tvm.vars + RD16(ip + 1);
      src = ip + 3;
    }
    len = WIDTH_BYTES(adv);
    ip = src + len;
    goto move;
  CASE(MOV_8)
  ALSO(MOV_16)
  ALSO(MOV_32)
  ALSO(MOVW_8)
  ALSO(MOVW_16)
  ALSO(MOVW_32)
    adv = (uint8_t)(*ip - TVM_OP_MOV_8);
    if (adv < 3) {
      p = tvm.vars + ip[1];
      src = tvm.vars + ip[2];
      ip += 3;
    } else {
      adv = (uint8_t)(adv - 3);
      p = tvm.vars + RD16(ip + 1);
      src = tvm.vars + RD16(ip + 3);
      ip += 5;
    }
    len = WIDTH_BYTES(adv);
    goto move;
  CASE(COPY)
    p = tvm.vars + RD16(ip + 1);
    src = tvm.vars + RD16(ip + 3);
    len = ip[5];
    ip += 6;
  move:
    move_bytes(p, src, len);
    NEXT;
  }

  /* ---- inc/dec: inc.32 on its own (loop counters), the others share one handler */
  CASE(INC_32)
    p = tvm.vars + ip[1];
    ip += 2;
    wr32(p, RD32(p) + 1);
    NEXT;
  CASE(INC_8)
  ALSO(INC_16)
  ALSO(INCW_8)
  ALSO(INCW_16)
  ALSO(INCW_32)
  ALSO(DEC_8)
  ALSO(DEC_16)
  ALSO(DEC_32)
  ALSO(DECW_8)
  ALSO(DECW_16)
  ALSO(DECW_32) {
    uint32_t d = 1;
    adv = (uint8_t)(*ip - TVM_OP_INC_8);
    if (adv >= 6) {
      adv = (uint8_t)(adv - 6);
      d = 0xffffffffu;
    }
    if (adv < 3) {
      p = tvm.vars + ip[1];
      ip += 2;
    } else {
      adv = (uint8_t)(adv - 3);
      p = tvm.vars + RD16(ip + 1);
      ip += 3;
    }
    v = (adv == 0 ? *p : adv == 1 ? RD16(p) : RD32(p)) + d;
    goto store;
  }

  /* ---- integer arithmetic on 32-bit cells, one handler (unsigned arithmetic: wraps, no UB) */
  CASE(ADD) ALSO(SUB) ALSO(MUL) ALSO(DIV) ALSO(DIVU) ALSO(MOD) ALSO(MODU) ALSO(AND) ALSO(OR) ALSO(XOR)
  ALSO(SHL) ALSO(SHR) ALSO(SHRU) ALSO(EQ) ALSO(NE) ALSO(LT) ALSO(LTU) ALSO(LE) ALSO(LEU) ALSO(GT) ALSO(GTU)
  ALSO(GE) ALSO(GEU) ALSO(LAND) ALSO(LOR) ALSO(NEG) ALSO(BNOT) ALSO(LNOT) ALSO(EXT_U8) ALSO(EXT_I8)
  ALSO(EXT_U16) ALSO(EXT_I16) {
    uint8_t op = *ip;
    uint32_t a, b = 0, r;
    if (op < TVM_OP_NEG) b = (uint32_t)*--sp;
    a = (uint32_t)sp[-1];
    switch (op) {
      case TVM_OP_ADD: r = a + b; break;
      case TVM_OP_SUB: r = a - b; break;
      case TVM_OP_MUL: r = a * b; break;
      case TVM_OP_AND: r = a & b; break;
      case TVM_OP_OR: r = a | b; break;
      case TVM_OP_XOR: r = a ^ b; break;
      case TVM_OP_SHL: r = a << (b & 31); break;
      case TVM_OP_SHR: r = (uint32_t)((int32_t)a >> (b & 31)); break;
      case TVM_OP_SHRU: r = a >> (b & 31); break;
      case TVM_OP_LAND: r = a != 0 && b != 0; break;
      case TVM_OP_LOR: r = a != 0 || b != 0; break;
      case TVM_OP_DIV:
      case TVM_OP_DIVU:
      case TVM_OP_MOD:
      case TVM_OP_MODU:
        if (b == 0) {
          r = 0;
          raise_error(TVM_ERR_DIV_ZERO, PC);
          STOP_CHAIN();
        } else if (op == TVM_OP_DIVU) {
          r = a / b;
        } else if (op == TVM_OP_MODU) {
          r = a % b;
        } else if (b == 0xffffffffu) {
          r = op == TVM_OP_DIV ? 0u - a : 0; /* INT_MIN / -1 is INT_MIN, INT_MIN % -1 is 0 */
        } else {
          r = (uint32_t)(op == TVM_OP_DIV ? (int32_t)a / (int32_t)b : (int32_t)a % (int32_t)b);
        }
        break;
      case TVM_OP_NEG: r = 0u - a; break;
      case TVM_OP_BNOT: r = ~a; break;
      case TVM_OP_LNOT: r = a == 0; break;
      case TVM_OP_EXT_U8: r = (uint8_t)a; break;
      case TVM_OP_EXT_I8: r = (uint32_t)(int32_t)(int8_t)a; break;
      case TVM_OP_EXT_U16: r = (uint16_t)a; break;
      case TVM_OP_EXT_I16: r = (uint32_t)(int32_t)(int16_t)a; break;
      default: {
        /* eq..geu: outcome masks */
        uint8_t m = CMP[op - TVM_OP_EQ], c;
        if (a == b) c = 2;
        else if (m & 8) c = a < b ? 1 : 4;
        else c = (int32_t)a < (int32_t)b ? 1 : 4;
        r = (m & c) != 0;
        break;
      }
    }
    sp[-1] = (int32_t)r;
    ip++;
    NEXT;
  }

  /* ---- float: binary32 bits in cells; NaN results canonical */
#if TVM_FLOAT
  CASE(ADDF)
  ALSO(SUBF)
  ALSO(MULF)
  ALSO(DIVF) {
    uint8_t op = *ip;
    float b = as_float((uint32_t)*--sp), a = as_float((uint32_t)sp[-1]), r;
    if (op == TVM_OP_ADDF) r = a + b;
    else if (op == TVM_OP_SUBF) r = a - b;
    else if (op == TVM_OP_MULF) r = a * b;
    else r = a / b;
    sp[-1] = (int32_t)(r != r ? TVM_CANONICAL_NAN : float_bits(r));
    ip++;
    NEXT;
  }
  CASE(EQF)
  ALSO(NEF)
  ALSO(LTF)
  ALSO(LEF)
  ALSO(GTF)
  ALSO(GEF) {
    uint8_t op = *ip, r;
    float b = as_float((uint32_t)*--sp), a = as_float((uint32_t)sp[-1]);
    if (op == TVM_OP_EQF) r = a == b;
    else if (op == TVM_OP_NEF) r = a != b;
    else if (op == TVM_OP_LTF) r = a < b;
    else if (op == TVM_OP_LEF) r = a <= b;
    else if (op == TVM_OP_GTF) r = a > b;
    else r = a >= b;
    sp[-1] = r;
    ip++;
    NEXT;
  }
  CASE(NEGF)
    sp[-1] = (int32_t)((uint32_t)sp[-1] ^ 0x80000000u);
    ip++;
    NEXT;
  CASE(I2F)
    sp[-1] = (int32_t)float_bits((float)sp[-1]);
    ip++;
    NEXT;
  CASE(U2F)
    sp[-1] = (int32_t)float_bits((float)(uint32_t)sp[-1]);
    ip++;
    NEXT;
  CASE(F2I) {
    float x = as_float((uint32_t)sp[-1]);
    sp[-1] = x != x ? 0 : x >= 2147483648.0f ? INT32_MAX : x <= -2147483648.0f ? INT32_MIN : (int32_t)x;
    ip++;
    NEXT;
  }
  CASE(F2U) {
    float x = as_float((uint32_t)sp[-1]);
    sp[-1] = !(x > 0.0f) ? 0 : x >= 4294967296.0f ? -1 : (int32_t)(uint32_t)x;
    ip++;
    NEXT;
  }
#endif

#if TVM_DISPATCH_GOTO
  L_INVALID:
    goto invalid;
#else
    default:
      goto invalid;
    }
  }
#endif
  invalid:
    /* unreachable for a verified capsule */
    fault(TVM_ERR_WATCHDOG, PC);
    tp = 0;
    goto done;

  overflow:
    fault(TVM_ERR_TRACK_OVERFLOW, PC);
    tp = 0;
    goto done;

  trail_end:
#if TVM_WATCHDOG
    if (tvm.limit && n > tvm.limit && !(tvm.flags & TVM_F_HALTED)) {
      fault(TVM_ERR_WATCHDOG, PC);
      tp = 0;
    }
#endif
    if (tp == 0) goto done;
    ip = RESUME_AT(tvm.track[--tp]);
    TRAIL_SP;
    NEXT;

  done:
  /* every path here has emptied the track stack (tvm.tp is set when react returns) */
#if TVM_STATS
  tvm.stats.reactions++;
  tvm.stats.instructions += n;
  if (n > tvm.stats.max_reaction_instructions) tvm.stats.max_reaction_instructions = n;
  tvm.last_reaction_instructions = n;
#endif
  /* (a halted VM has an empty queue, and refuses inputs; tvm_chain_stop is
   * set where an error is raised, which only reactions do, and the errors of
   * a step are handled, and err_count cleared, before the next step) */
#if TVM_TICK
  if (chain > 1 && tvm.q_count && (!tvm_chain_stop || (tvm_chain_stop == TVM_CHAIN_TICK && tvm_host_tick()))) {
#else
  if (chain > 1 && tvm.q_count && !tvm_chain_stop) {
#endif
    chain--;
#if TVM_STATS
    n = 0;
#endif
    e = 0;
  occurrence:
    {
      uint16_t first = occur(e, tbl, &tp); /* the only call: inlined */
      if (!first) goto done;
      ip = RESUME_AT(first);
      TRAIL_SP;
      NEXT;
    }
  }
  if (chain) tvm.chain_left = (tvm_chain_t)(chain - 1);
  tvm.tp = 0;
}

/* ---- reactions and the order of work ----------------------------------------- */

/* Further input reactions one step may chain: react counts them down in its chain argument,
 * which is 1 + that number (a byte on the small MCUs). A bounded chain also on the host: a loop of
 * inputs raised during reactions would otherwise keep one tvm_step from returning. */
#define CHAIN_MAX ((tvm_chain_t)254)

/* One async slice of the first active async block in text order; 0 when none. */
static uint8_t async_slice(void) {
  const uint8_t *g = tvm.asyncs;
  uint8_t k;
  for (k = 1; k <= g[0]; k++) {
    uint16_t v = tvm.slots[g[k]];
    if (v) {
      tvm.slots[g[k]] = 0;
#if TVM_STATS
      tvm.stats.async_slices++;
#endif
      tvm.track[tvm.tp++] = v;
      react(0, 0, 0);
      return 1;
    }
  }
  return 0;
}

/* The ERROR reactions for the errors raised by the last reaction, in order. */
static void error_reactions(void) {
  uint8_t n = tvm.err_count, k;
  tvm.flags |= TVM_F_IN_ERROR;
  if (tvm.error_in) {
    for (k = 0; k < n && !(tvm.flags & TVM_F_HALTED); k++) {
      tvm_qentry_t x; /* aux = value = the error code */
      x.aux = tvm.err_codes[k];
      x.len = 0xff;
#if TVM_QUEUE_COPY
      x.value = x.aux;
#else
      x.u.value = x.aux;
#endif
      react(0, &x, tvm.error_in);
    }
  }
  tvm.flags &= (uint8_t)~TVM_F_IN_ERROR;
  tvm.err_count = 0;
}

void tvm_boot(void) {
  tvm.flags |= TVM_F_BOOTED;
  tvm.track[tvm.tp++] = RESUME_CODE(tvm.entry);
  react(0, 0, 0);
  if (tvm.err_count) error_reactions();
}

/* tvm_step at now + upto (ms), with at most tvm.chain_left (<= CHAIN_MAX)
 * further input reactions chained, and what is left of them in tvm.chain_left
 * after: a timer due by then reacts at its deadline, which becomes now;
 * otherwise now advances by upto. One scan of the timers. */
static uint8_t step(uint32_t upto) {
  uint32_t d;
  uint8_t due;
  if (tvm.flags & TVM_F_HALTED) return 0;
#if TVM_TICK
  /* a clock tick after the driver read its clock stays set: the chain asks tvm_host_tick */
  if (tvm_chain_stop & TVM_CHAIN_STOP) tvm_chain_stop = 0;
#else
  tvm_chain_stop = 0;
#endif
  due = scan_timers(&d) && d <= upto;
  tvm.now += due ? d : upto;
  if (due) {
    tvm.last_step = TVM_STEP_TIMER;
    wake_timers();
    react(0, 0, 0);
  } else if (tvm.q_count) {
    tvm.last_step = TVM_STEP_INPUT;
    react((tvm_chain_t)(tvm.chain_left + 1), 0, 0);
  } else {
    tvm.last_step = TVM_STEP_ASYNC;
    if (!async_slice()) return 0;
  }
  if (tvm.err_count) error_reactions();
  return 1;
}

uint8_t tvm_step(void) {
  tvm.chain_left = CHAIN_MAX;
  return step(0);
}

uint8_t tvm_step_at(uint32_t t) {
  tvm.chain_left = CHAIN_MAX;
  return step(t - tvm.now);
}

uint32_t tvm_run_pending(uint32_t max) {
  uint32_t k = 0;
  while (k < max) {
    tvm_chain_t budget = max - k - 1 > CHAIN_MAX ? CHAIN_MAX : (tvm_chain_t)(max - k - 1);
    tvm.chain_left = budget;
    if (!step(0)) break;
    k += 1 + (uint32_t)(budget - tvm.chain_left);
  }
  return k;
}
