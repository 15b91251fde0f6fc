/*
 * The single-mote components of TerraNet and TerraGrp (components/terranet.ts,
 * components/terragrp.ts, components/run.ts) in portable C, shared by the
 * host (terra-mote) and the motes' test builds, and the virtual-time driver
 * (vm/driver.ts runVirtual). A configuration is bound to the components by
 * role tables (tc_map_t): generated for the bundled configurations
 * (configs_gen.h), resolved from names at run time on the host (any .defs).
 */
#ifndef TC_COMPONENTS_H
#define TC_COMPONENTS_H

#include "../core/tvm.h"
#include "configs_gen.h"

/* Logical time of the driver (the VM keeps it mod 2^32). */
#ifndef TC_TIME_64
#define TC_TIME_64 1
#endif
#if TC_TIME_64
typedef uint64_t tc_time_t;
#else
typedef uint32_t tc_time_t;
#endif

/* Largest radio message the send queue holds. */
#ifndef TC_MSG_MAX
#define TC_MSG_MAX 255
#endif
#define TC_MSG_QUEUE 10

typedef struct {
  uint32_t config_id;
  uint8_t grp;                      /* TerraGrp's components (the configuration has groupInit) */
  uint8_t queue;                    /* the send queue (the configuration has radioMsg) */
  uint8_t in_id[TC_IN__N];          /* id an input role is raised with (anyId, else filteredId); 255: not declared */
  uint16_t rec_size[TC_REC__N];     /* 0: not declared */
  uint16_t fld_off[TC_FLD__N];
  uint8_t fld_type[TC_FLD__N];      /* TC_T_*, 255: not declared */
  uint8_t out_role[256];            /* output id -> TC_OUT_*, 255: none */
  uint8_t fn_role[256];             /* function id -> TC_FN_*, 255: none */
} tc_map_t;

/* A sensor reading from the trace: from `at` on, sensor (TC_IN_TEMP..TC_IN_PORT_B) reads `value`. */
typedef struct {
  tc_time_t at;
  uint8_t sensor;
  int32_t value;
} tc_reading_t;

/* A trace input (not a sensor reading). data: record bytes, or 0 for a scalar value. */
typedef struct {
  tc_time_t at;
  uint8_t id;
  uint8_t aux;
  uint8_t len;
  int32_t value;
  TVM_ROM uint8_t *data;
} tc_input_t;

/* The driver's logical time (full width). */
extern tc_time_t tc_now;

/* Set up the components for a run. seed: random()'s seed when has_seed. map: the
 * configuration's role tables (TC_REALTIME builds ignore it: they run TerraNet's). */
void tc_init(TVM_ROM tc_map_t *map, uint16_t node_id, uint8_t has_seed, uint32_t seed,
             TVM_ROM tc_reading_t *readings, uint16_t nreadings);

/* Run the VM in virtual time against `inputs` until `until` (exclusive), as
 * runVirtual of vm/driver.ts. Boots the VM first. Returns 0, or (the run
 * stops: virtual time cannot advance) TC_STALL_ASYNC when more than
 * max_slices async slices ran at one logical time, TC_STALL_REACTIONS when
 * more than max_reactions reactions ran without the VM becoming idle
 * (counted with TVM_STATS only). */
#define TC_STALL_ASYNC 1
#define TC_STALL_REACTIONS 2
/* The default of both limits: vm/driver.ts STALL_LIMIT (maxAsyncSlices, maxReactions). */
#define TC_STALL_LIMIT 1000000ul
uint8_t tc_run_virtual(TVM_ROM tc_input_t *inputs, uint16_t ninputs, tc_time_t until, uint32_t max_slices, uint32_t max_reactions);

/* The sensor reading now (trace readings or the defaults), and raising an input by role. */
int32_t tc_sensor(uint8_t s);
void tc_raise(uint8_t role, int32_t v, uint8_t aux);

/* ---- what the platform provides ---- */
/* Every output event, before the component handles it (terra run's output record). */
void plat_report_output(uint8_t id, int32_t v, const uint8_t *rec, uint8_t len);
/* Every runtime error and fault. */
void plat_report_error(uint8_t code, uint16_t pc);
/* A host function hit an address outside the var area: in the TypeScript
 * VM this throws out of the run (terra run fails). Must not return normally
 * on the host; on motes it may tvm_abort() and return. */
void plat_host_exception(const char *what);

#if TC_REALTIME
/* Real-time builds (comp/rt.c): a sensor conversion and a radio send that complete later. */
void plat_sensor_request(uint8_t sensor);
void plat_radio_send(const uint8_t *frame, uint8_t len, uint8_t ack);
void plat_leds(uint8_t leds);
#endif

#endif
