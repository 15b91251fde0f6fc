/*
 * Test build of a mote: runs every capsule of the suite compiled into flash
 * (comp/suite.h) in virtual time with the standalone components, exactly as
 * terra-mote and `terra run` do, and reports over the board's byte output:
 *
 *   J <job>                        a job starts
 *   O <id> <at> <value>            an output with a scalar value
 *   O <id> <at> r<hex>             an output with a record
 *   E <code> <pc> <at>             a runtime error
 *   S <reactions> <instructions> <max> <overflows> <errors> <dropped> <async> <halted> <now>
 *   X <reason> <offset>            the job failed (rejected capsule, host error, async guard)
 *   Z                              the suite is done
 */
#include "board.h"
#include "report.h"
#include "suite.h"

static TVM_ROM tc_map_t MAPS[2] = { TC_TERRANET_MAP, TC_TERRAGRP_MAP };
static uint8_t failed;

void plat_report_output(uint8_t id, int32_t v, const uint8_t *rec, uint8_t len) {
  rp_str("O ");
  rp_u32(id);
  rp_c(' ');
  rp_u32((uint32_t)tc_now);
  rp_c(' ');
  if (rec) {
    rp_c('r');
    rp_hex(rec, len);
  } else {
    rp_i32(v);
  }
  rp_c('\n');
}

void plat_report_error(uint8_t code, uint16_t pc) {
  rp_str("E ");
  rp_u32(code);
  rp_c(' ');
  rp_u32(pc);
  rp_c(' ');
  rp_u32((uint32_t)tc_now);
  rp_c('\n');
}

void plat_host_exception(const char *what) {
  (void)what;
  if (!failed) rp_str("X host 0\n");
  failed = 1;
  tvm_abort();
}

int main(void) {
  uint16_t j;
  board_init();
  for (j = 0; j < tc_suite_len; j++) {
    TVM_ROM tc_job_t *job = &tc_suite[j];
    uint16_t k;
    uint8_t r;
    rp_str("J ");
    rp_u32(j);
    rp_c('\n');
    failed = 0;
    for (k = 0; k < job->capsule_len; k++) tvm_mem[k] = job->capsule[k];
    r = tvm_load(job->capsule_len);
    if (r) {
      rp_str("X reject ");
      rp_u32(tvm_reject_offset);
      rp_c('\n');
      continue;
    }
    tc_init(&MAPS[job->config], job->node_id, job->has_seed, job->seed, job->readings, job->nreadings);
    board_mark(1);
    r = tc_run_virtual(job->inputs, job->ninputs, job->until, TC_STALL_LIMIT, job->max_reactions);
    board_mark(2);
    if (r) {
      /* virtual time cannot advance (vm/driver.ts StallError) */
      rp_str(r == TC_STALL_ASYNC ? "X stall async " : "X stall reactions ");
      rp_u32((uint32_t)tc_now);
      rp_c('\n');
      continue;
    }
    if (failed) continue;
    rp_str("S ");
#if TVM_STATS
    rp_u32(tvm.stats.reactions);
    rp_c(' ');
    rp_u32(tvm.stats.instructions);
    rp_c(' ');
    rp_u32(tvm.stats.max_reaction_instructions);
    rp_c(' ');
    rp_u32(tvm.stats.queue_overflows);
    rp_c(' ');
    rp_u32(tvm.stats.errors);
    rp_c(' ');
    rp_u32(tvm.stats.dropped_errors);
    rp_c(' ');
    rp_u32(tvm.stats.async_slices);
#else
    rp_str("- - - - - - -");
#endif
    rp_c(' ');
    rp_u32(tvm_halted() ? 1 : 0);
    rp_c(' ');
    rp_u32((uint32_t)tc_now);
    rp_c('\n');
  }
  rp_str("Z\n");
  board_exit();
  return 0;
}
