/*
 * Terra-TS C virtual machine: the public interface of the core (loader and
 * verifier, trail scheduler, timers, input queue, interpreter).
 *
 * The contract is docs/vm.md; vm/engine.ts is the reference implementation
 * and this core produces identical outputs for every capsule and trace.
 *
 * C99, no malloc, no libc beyond <stdint.h> and <string.h>. One VM per
 * program: its state is the global `tvm` and the memory block `tvm_mem`
 * (TVM_MEM_BYTES, a build option) that holds the capsule and everything the
 * script needs (variables, control slots, eval stack, track stack).
 *
 * The platform provides four callbacks (tvm_host_output, tvm_host_output_rec,
 * tvm_host_call, tvm_host_error) and drives the VM: tvm_load, tvm_boot, then tvm_enqueue /
 * tvm_step (or tvm_run_pending, tvm_step_at) / tvm_next_deadline, following
 * the order of work of docs/vm.md (comp/driver.c does it in virtual time).
 */
#ifndef TVM_H
#define TVM_H

#include <stdint.h>
#include <string.h>
#include "tvm_config.h"
#include "opcodes.h"

/* ---- results of tvm_load (the byte offset is in tvm_reject_offset) ---- */
enum {
  TVM_OK = 0,
  /* structure (vm/capsule.ts decodeCapsule) */
  TVM_E_TRUNCATED = 1,      /* shorter than a header, or than the header announces */
  TVM_E_MAGIC,              /* not "TC" */
  TVM_E_FORMAT,             /* unsupported format version */
  TVM_E_LENGTH,             /* trailing bytes after the code */
  TVM_E_CODE_SIZE,          /* code empty or longer than 32767 bytes */
  TVM_E_SIGNATURE,          /* unknown signature algorithm in the trailer */
  TVM_E_HASH,               /* body hash mismatch */
  TVM_E_TABLES,             /* tables end early or have unused bytes */
  /* verification (vm/verify.ts) */
  TVM_E_FLOAT,              /* float capsule or instruction, VM built without float */
  TVM_E_OPCODE,             /* unassigned opcode */
  TVM_E_TRUNC_INSTR,        /* instruction runs past the end of the code */
  TVM_E_FALLS_OFF,          /* execution falls or resumes past the end of the code */
  TVM_E_TARGET,             /* code target is not an instruction start */
  TVM_E_VAR,                /* var-area access outside varBytes */
  TVM_E_EVGET,              /* evget longer than the event data buffer */
  TVM_E_SLOT,               /* slot out of range */
  TVM_E_ROLE,               /* slot used in two roles or by two instructions */
  TVM_E_EMIT,               /* emit of an internal event without table */
  TVM_E_ENTRY,              /* entry point is not an instruction start */
  TVM_E_KILLF,              /* killf finalizer range holds other slots */
  TVM_E_INPUT_ID,           /* input id listed twice, or ERROR forms split */
  TVM_E_GATE_LIST,          /* a table lists a wrong, repeated or unordered gate */
  TVM_E_STACK_ENTRY,        /* eval stack not empty where an instruction falls into a jump target or trail entry */
  TVM_E_STACK_UNDER,        /* eval stack underflow */
  TVM_E_STACK_SYNC,         /* eval stack not empty where control passes to other trails */
  TVM_E_STACK_JUMP,         /* eval stack not empty at a jump or branch */
  TVM_E_STACK_OVER,         /* eval stack deeper than stackCells */
  TVM_E_TRACK,              /* trackDepth below the track-stack bound */
  /* this VM's own limit (never in the TypeScript VM, whose memory is unbounded) */
  TVM_E_MEMORY,             /* the capsule and its state do not fit TVM_MEM_BYTES */
  TVM_E__COUNT
};

/* ---- runtime error codes (docs/vm.md, Values and errors) ---- */
#define TVM_ERR_DIV_ZERO 10
#define TVM_ERR_INDEX 11
#define TVM_ERR_TRACK_OVERFLOW 20
#define TVM_ERR_WATCHDOG 21
#define TVM_ERROR_QUEUE 8
#define TVM_CANONICAL_NAN 0x7fc00000u

/* ---- the memory block ---- */
#if defined(__GNUC__)
extern uint8_t tvm_mem[TVM_MEM_BYTES] __attribute__((aligned(4)));
#else
extern uint8_t tvm_mem[TVM_MEM_BYTES];
#endif

/* ---- one queued input occurrence ---- */
typedef struct {
  uint8_t id;
  uint8_t aux;
  uint8_t len;          /* 0xff: scalar value; else bytes of record data */
#if TVM_QUEUE_COPY
  int32_t value;
  uint8_t data[TVM_EVENT_DATA_BYTES];
#else
  uint8_t pad;          /* 8-byte entries: indexing by shifts */
  union { int32_t value; const uint8_t *ptr; } u;
#endif
} tvm_qentry_t;

/* ---- statistics (TVM_STATS) ---- */
typedef struct {
  uint32_t reactions;
  uint32_t instructions;
  uint32_t max_reaction_instructions;
  uint32_t queue_overflows;
  uint32_t errors;
  uint32_t dropped_errors;
  uint32_t async_slices;
} tvm_stats_t;

/* ---- the loader's state (core/verify.c), in the place of the event buffer tvm_ev ---- */
typedef struct {            /* the capsule being verified */
  const uint8_t *code;
  uint16_t clen;
  tvm_off_t cbase;          /* capsule offset of the code */
  uint8_t *starts;          /* bitmap: instruction starts (steps 2-4), then join points (steps 5-7) */
  uint8_t *role;            /* per slot: role | first slot of its gate << 3 */
  uint8_t *ids;             /* 256-bit scratch: input ids, listed gates */
  tvm_off_t p, tend;        /* table parsing */
} tvm_load_cap_t;

typedef struct {            /* the decoded instruction */
  uint8_t op;
  uint8_t c[7];             /* class descriptor */
  uint8_t nops;
  uint8_t size;
  uint8_t kind[6];          /* operand kinds, TVM_K_NONE after the last */
  uint8_t tgt, n8, slot;    /* index of the first code target, n8 operand, slot operand (when there is one) */
  uint8_t shift;            /* log2 of the fixed var-area access width (from the opcode's entry) */
  uint16_t o[5];            /* operands (low 16 bits); code targets as absolute pcs (a negative rel8 target wraps above any code) */
} tvm_load_ins_t;

/* ---- the event buffer, and the loader's state in its place ---- */
typedef union {
  uint8_t data[TVM_EVENT_DATA_BYTES]; /* the current input occurrence's data (zeros after tvm_load) */
  struct {
    tvm_load_ins_t ins;
    tvm_load_cap_t cap;
    tvm_off_t reject_offset;
    uint16_t reject_pc;
  } load;                          /* tvm_load's state and verdict, unused once loaded: 50 B on AVR and
                                      MSP430, so the union is no larger there (on 32- and 64-bit hosts it is) */
} tvm_ev_t;

extern tvm_ev_t tvm_ev;

/* Where tvm_load found the fault when it rejects a capsule (read them before anything else runs:
 * they are part of the loader's state): the capsule byte offset, and the code offset (pc) or 0xffff
 * when the fault is not in the code. */
#define tvm_reject_offset (tvm_ev.load.reject_offset)
#define tvm_reject_pc (tvm_ev.load.reject_pc)

/* ---- VM state (everything outside tvm_mem and tvm_ev) ---- */
typedef struct {
  const uint8_t *code;      /* the code section */
  uint8_t *vars;            /* var area */
  uint16_t *slots;          /* control slots */
  int32_t *stack;           /* eval stack */
  uint16_t *track;          /* track stack */
  const uint8_t *inputs;    /* input tables: [filteredId, anyId, n, gates...] ... */
  const uint8_t *timers;    /* [n, gates...] */
  const uint8_t *internals; /* [n events] then per event [n, gates...] */
  const uint8_t *asyncs;    /* [n, gates...] */
  const uint8_t *error_in;  /* the ERROR input's table entry, or 0 */
  const uint8_t *last_table; /* input table of last_id (no_gates: none) */
  uint8_t last_id;          /* the last input id dequeued (TVM_NO_EVENT_ID: none yet) */
  uint32_t now;             /* logical time mod 2^32 */
  uint16_t code_len;
  uint16_t var_bytes;
  uint16_t entry;
  uint8_t nslots;
  uint8_t ninputs;
  uint8_t track_cap;
  uint8_t tp;               /* track stack entries */
  uint8_t flags;            /* TVM_F_* */
  uint8_t last_step;        /* what the last tvm_step ran: TVM_STEP_* */
  uint8_t ev_dirty;         /* bytes of ev that may be non-zero */
  uint8_t q_head, q_count;
  uint8_t err_count;
  uint8_t err_codes[TVM_ERROR_QUEUE];
  tvm_qentry_t q[TVM_QUEUE_CAP]; /* the input queue: TVM_QUEUE_CAP entries from q_head */
  uint8_t no_gates[3];      /* zeros: the input table of an input no trail awaits (on AVR a test
                               for a null table cost 5 cycles per reaction) */
#if TVM_STATS
  tvm_stats_t stats;
  uint32_t last_reaction_instructions;
#endif
#if TVM_WATCHDOG
  uint32_t limit;           /* instructions per reaction; 0: none */
#endif
  tvm_chain_t chain_left;   /* further input reactions the current step may chain */
} tvm_t;

#define TVM_STEP_TIMER 1
#define TVM_STEP_INPUT 2
#define TVM_STEP_ASYNC 3

#define TVM_F_LOADED 1
#define TVM_F_BOOTED 2
#define TVM_F_HALTED 4
#define TVM_F_FAULT 8
#define TVM_F_IN_ERROR 16
#define TVM_F_VIEW_FAULT 32 /* tvm_view refused a range during a host call */

extern tvm_t tvm;

/* ---- platform callbacks (the host interface of docs/vm.md) ---- */
/* An output event of a value v (out: 0; outv, outk). May call tvm_enqueue. */
void tvm_host_output(uint8_t id, int32_t v);
/* An output event of a record (outr): its len bytes at rec (valid during the call only). May call tvm_enqueue. */
void tvm_host_output_rec(uint8_t id, const uint8_t *rec, uint8_t len);
/* A function call: args first-argument-first (valid during the call only). */
int32_t tvm_host_call(uint8_t id, const int32_t *args, uint8_t n);
/* A runtime error or fault at code offset pc. */
void tvm_host_error(uint8_t code, uint16_t pc);

/* ---- loading ---- */
/* Decode and verify the capsule of `len` bytes at tvm_mem[0]; on success lay
 * out the script's state after it and reset the VM (now = 0, not booted).
 * Returns TVM_OK or a TVM_E_* code (offset in tvm_reject_offset). */
uint8_t tvm_load(tvm_off_t len);

/* ---- running ---- */
void tvm_boot(void);
/* Queue an input occurrence of a value. Returns 0 when the queue is full
 * (counted) or the program has halted. */
uint8_t tvm_enqueue(uint8_t id, uint8_t aux, int32_t value);
/* Queue an input occurrence of a record: its len bytes at data (at most 64;
 * copied when TVM_QUEUE_COPY, else referenced until dequeued). Returns 0 as
 * tvm_enqueue. */
uint8_t tvm_enqueue_rec(uint8_t id, uint8_t aux, const uint8_t *data, uint8_t len);
/* One step of the order of work at `now` (timer, input, async slice, plus the
 * ERROR reactions it causes); an input reaction may be followed by at most
 * 254 further queued inputs' reactions (see tvm_chain_stop). Returns 0 when
 * there was nothing to do. */
uint8_t tvm_step(void);
/* tvm_step for a real-time driver whose clock reads t ms (not before now,
 * mod 2^32): the earliest timer due by t reacts at its deadline, which
 * becomes now (lateness compensated), else now becomes t; then as tvm_step.
 * One scan of the timers where tvm_next_deadline and tvm_step make two.
 * A halted VM returns 0 and keeps its now. */
uint8_t tvm_step_at(uint32_t t);
/* Steps until nothing is left at `now` or `max` reactions ran (chained input
 * reactions count one each, as vm/engine.ts runPending); returns that number. */
uint32_t tvm_run_pending(uint32_t max);
/* The earliest active timer: 1 and *delta = deadline - now (mod 2^32), or 0. */
uint8_t tvm_next_deadline(uint32_t *delta);
/* Halt the VM from a host callback (a host error): nothing more runs. */
void tvm_abort(void);

#define tvm_halted() ((tvm.flags & TVM_F_HALTED) != 0)
#define tvm_booted() ((tvm.flags & TVM_F_BOOTED) != 0)
#define tvm_queued() (tvm.q_count)
/* The configuration id in capsule header c (bytes 8..11, little-endian; vm/capsule.ts). */
#define TVM_CAPSULE_CONFIG_ID(c) \
  ((uint32_t)(c)[8] | ((uint32_t)(c)[9] << 8) | ((uint32_t)(c)[10] << 16) | ((uint32_t)(c)[11] << 24))

/* Defined by the platform, which sets it (in its clock interrupt, say) to make
 * tvm_step return between chained input reactions; every step clears it when
 * it begins, and sets TVM_CHAIN_STOP where something must come before further
 * inputs (an ERROR reaction, a timer armed due now; with TVM_TICK any timer
 * armed). With TVM_TICK a clock interrupt sets the bit TVM_CHAIN_TICK
 * instead, which a step keeps when it begins (unless TVM_CHAIN_STOP is set
 * too): when only that bit is set, the chain asks tvm_host_tick. */
extern volatile uint8_t tvm_chain_stop;
#define TVM_CHAIN_STOP 1
#define TVM_CHAIN_TICK 2
#if TVM_TICK
/* The clock advanced during a chain of input reactions (TVM_CHAIN_TICK alone
 * is set). Nothing may be due by the clock's time t (no timer deadline, no
 * platform event): then clear tvm_chain_stop, set tvm.now = t, as tvm_step_at
 * would, and return 1 (the chain goes on at t). Else return 0: the chain
 * ends and the driver steps. (Called with a chain's reactions done, never
 * inside a reaction.) */
uint8_t tvm_host_tick(void);
#endif

/* Var-area bytes [addr, addr+len) for host functions (call it from
 * tvm_host_call only), or 0 when outside the var area: then the call returns
 * 0 whatever the function returns, and raises ERROR 11 at the call
 * instruction (the script's range was out of bounds; as vm/engine.ts
 * callHost). */
uint8_t *tvm_view(int32_t addr, int32_t len);




#endif
