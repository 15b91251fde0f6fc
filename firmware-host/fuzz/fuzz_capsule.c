/*
 * libFuzzer harness over the capsule loader and the engine (ASan + UBSan):
 * the input is a capsule, optionally followed by a script of inputs. The
 * capsule is loaded (decoded and verified, no hash check so that the
 * fuzzer reaches the verifier's rules); when it is accepted it boots and
 * runs for a bounded amount of virtual time: queued inputs of every id its
 * tables name (values and selectors taken from the input's tail), timers
 * advanced to their deadlines, async slices, with the per-reaction watchdog
 * on so that a loop that never awaits ends as fault 21. The host answers
 * every function with a value derived from its arguments and resolves
 * record arguments with bounds-checked views, as a real host must.
 *
 *   make -C firmware-host PLATFORM=host fuzz    build/host/fuzz_capsule (libFuzzer)
 *                                               build/host/fuzz_replay (plain main: replays files)
 * The replay build runs the corpus and every crash found so far
 * (test/fixtures/c/crashes) in the tests.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "../core/tvm.h"

volatile uint8_t tvm_chain_stop;
static uint32_t sink;

void tvm_host_output(uint8_t id, int32_t v) {
  sink += id + (uint32_t)v;
  if (id & 1) tvm_enqueue((uint8_t)(id >> 1), (uint8_t)v, v);
}

void tvm_host_output_rec(uint8_t id, const uint8_t *rec, uint8_t len) {
  uint8_t i;
  for (i = 0; i < len; i++) sink += rec[i]; /* read the whole record: ASan checks the view */
  tvm_host_output(id, 0);
}

int32_t tvm_host_call(uint8_t id, const int32_t *args, uint8_t n) {
  int32_t r = id;
  uint8_t i;
  for (i = 0; i < n; i++) {
    uint8_t *p = tvm_view(args[i], 4);
    r = (int32_t)((uint32_t)r * 31u + (uint32_t)args[i]);
    if (p) p[0] ^= (uint8_t)r; /* a host writing through a record argument */
  }
  return r;
}

void tvm_host_error(uint8_t code, uint16_t pc) {
  sink += code + pc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t clen, k = 0;
  const uint8_t *tail;
  size_t tlen;
  uint32_t steps = 0;
  if (size < TVM_HEADER_BYTES || size > TVM_MEM_BYTES) return 0;
  /* the capsule's own length from its header; what follows is the input script */
  clen = (size_t)TVM_HEADER_BYTES + (data[22] | (data[23] << 8)) + (data[12] | (data[13] << 8));
  if (data[3] & TVM_FLAG_SIGNED) clen += TVM_TRAILER_BYTES;
  if (clen > size) clen = size;
  tail = data + clen;
  tlen = size - clen;
  memcpy(tvm_mem, data, clen);
  if (tvm_load((tvm_off_t)clen) != TVM_OK) return 0;
  tvm.limit = 20000;
  tvm_boot();
  while (!tvm_halted() && steps < 2000) {
    uint32_t d, ran = tvm_run_pending(64); /* bounded: the host above can feed a loop of inputs forever */
    if (ran) {
      steps += ran;
      continue;
    }
    if (k + 3 <= tlen) {
      /* the next scripted input: an id of the capsule's tables (or any id), a selector, a value */
      uint8_t id = tail[k], aux = tail[k + 1];
      int32_t v = (int8_t)tail[k + 2];
      if (tvm.ninputs && !(id & 0x80)) {
        const uint8_t *t = tvm.inputs;
        uint8_t i = (uint8_t)(id % tvm.ninputs);
        while (i--) t += 3 + t[2];
        id = t[1] != TVM_NO_EVENT_ID ? t[1] : t[0];
      }
      if (tail[k + 1] & 0x40 && k + 3 + 8 <= tlen) {
        tvm_enqueue_rec(id, aux, tail + k + 3, 8);
        k += 8;
      } else {
        tvm_enqueue(id, aux, v);
      }
      k += 3;
      continue;
    }
    if (tvm_next_deadline(&d)) {
      /* the real-time drivers' step (comp/rt.c): a clock 0-3 ms past the deadline; the timer
       * reacts at its deadline (a wrong now is reported as a crash) */
      uint32_t due = tvm.now + d;
      if (!tvm_step_at(due + (steps & 3))) break;
      if (tvm.last_step != TVM_STEP_TIMER || tvm.now != due) __builtin_trap();
      steps++;
      continue;
    }
    break;
  }
  return 0;
}

#ifdef FUZZ_REPLAY
#include <stdio.h>
#include <stdlib.h>
/* Replay: run each file given on the command line once (regression tests, no libFuzzer). */
int main(int argc, char **argv) {
  int i;
  static uint8_t buf[TVM_MEM_BYTES];
  for (i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    size_t n;
    if (!f) {
      fprintf(stderr, "fuzz_replay: cannot open %s\n", argv[i]);
      return 2;
    }
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
  }
  printf("replayed %d inputs\n", argc - 1);
  return 0;
}
#endif
