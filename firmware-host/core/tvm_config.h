/*
 * Build options of the C VM core (override with -D on the compiler's command
 * line; the Makefile sets them per platform):
 *
 *   TVM_MEM_BYTES      size of the memory block for the capsule and the
 *                      script's state (variables, slots, stacks); the
 *                      verifier's scratch space is taken from it at load time
 *   TVM_QUEUE_CAP      input queue entries (docs/vm.md: 8; a power of two)
 *   TVM_QUEUE_COPY     1: queue entries hold a copy of record data (64 B
 *                      each, the TypeScript VM's behaviour); 0: they point
 *                      to the component's buffer until dequeued (motes)
 *   TVM_FLOAT          1: float instructions (else capsules using float are
 *                      rejected at load time)
 *   TVM_STATS          1: count reactions, instructions, errors (terra-mote)
 *   TVM_WATCHDOG       1: optional per-reaction instruction limit (fault 21)
 *   TVM_DISPATCH_GOTO  1: computed-goto dispatch (GNU C); 0: switch
 *   TVM_SHA256         1: tvm_load checks the body hash (platform/host/hash.c, OpenSSL)
 *   TVM_TICK           1: the platform's clock interrupt sets TVM_CHAIN_TICK, and a
 *                      chain asks tvm_host_tick whether to go on (mote images)
 */
#ifndef TVM_CONFIG_H
#define TVM_CONFIG_H

#ifndef TVM_MEM_BYTES
#define TVM_MEM_BYTES 4096
#endif
#ifndef TVM_QUEUE_CAP
#define TVM_QUEUE_CAP 8
#endif
#ifndef TVM_QUEUE_COPY
#define TVM_QUEUE_COPY 1
#endif
#ifndef TVM_FLOAT
#define TVM_FLOAT 1
#endif
#ifndef TVM_STATS
#define TVM_STATS 1
#endif
#ifndef TVM_WATCHDOG
#define TVM_WATCHDOG 1
#endif
#ifndef TVM_DISPATCH_GOTO
#define TVM_DISPATCH_GOTO 0
#endif
#ifndef TVM_SHA256
#define TVM_SHA256 0
#endif
#ifndef TVM_TICK
#define TVM_TICK 0
#endif

/* Read-only tables: in program memory on AVR (named address space, GNU C). */
#if defined(__AVR__)
#define TVM_ROM const __flash
#else
#define TVM_ROM const
#endif

/* Keep helpers out of line where size matters more than a call. */
#if defined(__GNUC__)
#define TVM_NOINLINE __attribute__((noinline))
#else
#define TVM_NOINLINE
#endif

#if defined(__GNUC__)
#define TVM_INLINE inline __attribute__((always_inline))
#else
#define TVM_INLINE inline
#endif

/* Chained-reaction budget counter (counted down at every chained reaction):
 * a byte on the small MCUs, a machine word on the host. On every build one
 * tvm_step chains at most 254 further reactions before it returns, so that
 * its caller regains control (tvm_run_pending steps again). */
#if TVM_MEM_BYTES > 65535
typedef uint32_t tvm_chain_t;
#else
typedef uint8_t tvm_chain_t;
#endif

/* Memory-block offsets (a capsule may exceed 64 KB on the host). */
#if TVM_MEM_BYTES > 65535
typedef uint32_t tvm_off_t;
#else
typedef uint16_t tvm_off_t;
#endif

#endif
