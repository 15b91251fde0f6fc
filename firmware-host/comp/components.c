/*
 * TerraNet / TerraGrp single-mote components (standalone radio and groups)
 * and the virtual-time driver: the C twin of components/terranet.ts,
 * components/terragrp.ts, components/run.ts (TraceSensors) and
 * vm/driver.ts. Same behaviour, same order of effects, so that terra-mote
 * and `terra run` print identical outputs.
 */
#include "components.h"

tc_time_t tc_now;

#if TC_REALTIME
/* a mote image runs TerraNet (comp/rt.c): its role tables are constants, read without a pointer */
static TVM_ROM tc_map_t map_rt = TC_TERRANET_MAP;
#define map (&map_rt)
#else
static TVM_ROM tc_map_t *map;
#endif
static uint16_t node_id;
static uint32_t rnd;
static TVM_ROM tc_reading_t *readings;
static uint16_t nreadings;
static int16_t port_val[2];          /* SET_PORT_A/B value, -1 until set */
static uint8_t leds;
static uint16_t beep;
static uint8_t next_agg;
#if TC_MSG_MAX > 0
static uint8_t msgq[TC_MSG_QUEUE][TC_MSG_MAX];
static uint8_t msgq_head, msgq_len, msgq_free;
#endif

static TVM_ROM int32_t DEFAULT_READING[TC_NSENSORS] = { 500, 400, 3000, 0, 0, 0 };

#define SUCCESS 0
#define FAIL 1

void tc_init(TVM_ROM tc_map_t *m, uint16_t id, uint8_t has_seed, uint32_t seed,
             TVM_ROM tc_reading_t *r, uint16_t nr) {
#if TC_REALTIME
  (void)m;
#else
  map = m;
#endif
  node_id = id;
  rnd = has_seed ? seed : (uint32_t)((uint64_t)id * 2654435761u);
  if (!rnd) rnd = 1;
  readings = r;
  nreadings = nr;
  port_val[0] = port_val[1] = -1;
  leds = 0;
  beep = 0;
  next_agg = 1;
  tc_now = 0;
#if TC_MSG_MAX > 0
  msgq_head = msgq_len = 0;
  msgq_free = 1;
#endif
}

/* TraceSensors.read: the default, then the last reading at or before now. */
int32_t tc_sensor(uint8_t s) {
  int32_t v = DEFAULT_READING[s];
  uint16_t i;
  for (i = 0; i < nreadings; i++) {
    if (readings[i].sensor != s) continue;
    if (readings[i].at > tc_now) break;
    v = readings[i].value;
  }
  return v;
}

/* ComponentHost.raise: a scalar input (aux given). Inlined in this file: in
 * a mote image the role table is a constant, and so is the input id of a
 * constant role. */
static TVM_INLINE void raise_input(uint8_t role, int32_t v, uint8_t aux) {
  uint8_t id = map->in_id[role];
  if (id != 255) tvm_enqueue(id, aux, v);
}

void tc_raise(uint8_t role, int32_t v, uint8_t aux) {
  raise_input(role, v, aux);
}

/* ---- records (RecordView) ---- */
static uint8_t field_ok(uint8_t f, uint16_t size) {
  return map->fld_type[f] != 255 && map->fld_off[f] + ((map->fld_type[f] >> 1) == 0 ? 1u : (map->fld_type[f] >> 1) == 1 ? 2u : 4u) <= size;
}

static int32_t rec_get(const uint8_t *r, uint16_t size, uint8_t f) {
  uint16_t o = map->fld_off[f];
  if (map->fld_type[f] == 255) return 0;
  if (!field_ok(f, size)) {
    plat_host_exception("record field outside the record");
    return 0;
  }
  switch (map->fld_type[f]) {
    case TC_T_UBYTE: return r[o];
    case TC_T_BYTE: return (int8_t)r[o];
    case TC_T_USHORT: return (uint16_t)(r[o] | (r[o + 1] << 8));
    case TC_T_SHORT: return (int16_t)(r[o] | (r[o + 1] << 8));
    default: return (int32_t)((uint32_t)r[o] | ((uint32_t)r[o + 1] << 8) | ((uint32_t)r[o + 2] << 16) | ((uint32_t)r[o + 3] << 24));
  }
}

/* Unsigned 32-bit value of a ulong field (RecordView.get of ulong). */
#define rec_get_u32(r, size, f) ((uint32_t)rec_get(r, size, f))

static void rec_set(uint8_t *r, uint16_t size, uint8_t f, int32_t v) {
  uint16_t o = map->fld_off[f];
  uint8_t t = map->fld_type[f];
  if (t == 255) return;
  if (!field_ok(f, size)) {
    plat_host_exception("record field outside the record");
    return;
  }
  if (t <= TC_T_BYTE) {
    r[o] = (uint8_t)v;
  } else if (t <= TC_T_SHORT) {
    r[o] = (uint8_t)v;
    r[o + 1] = (uint8_t)(v >> 8);
  } else {
#if TVM_FLOAT
    if (t == TC_T_FLOAT) {
      float x = (float)v;
      uint32_t u;
      memcpy(&u, &x, 4);
      v = (int32_t)u;
    }
#endif
    r[o] = (uint8_t)v;
    r[o + 1] = (uint8_t)(v >> 8);
    r[o + 2] = (uint8_t)(v >> 16);
    r[o + 3] = (uint8_t)(v >> 24);
  }
}

/* AGGREG: the standalone group answers at once with the local reading (components/terragrp). */
static TVM_NOINLINE void aggreg(const uint8_t *rec, uint8_t len) {
  uint16_t asz = map->rec_size[TC_REC_AGGREG_T], dsz = map->rec_size[TC_REC_AGGDONE_T];
  static uint8_t done[TVM_EVENT_DATA_BYTES]; /* static: a queue entry may point to it until dequeued */
  int32_t sid, local, comp, agid;
  uint32_t ref;
  uint8_t yes, sid_role;
  if (!map->grp || !asz || !dsz) return;
  if (!rec) len = 0;
  sid = rec_get(rec, len, TC_FLD_AGGREG_T_SENSORID);
  sid_role = sid == 1 ? TC_IN_TEMP : sid == 2 ? TC_IN_PHOTO : sid == 4 ? TC_IN_VOLTS : sid == 5 ? TC_IN_PORT_A : sid == 6 ? TC_IN_PORT_B : TC_IN_TEMP;
  local = tc_sensor(sid_role);
  agid = rec_get(rec, len, TC_FLD_AGGREG_T_AGID);
  (void)rec_get(rec, len, TC_FLD_AGGREG_T_GRID);
  (void)rec_get(rec, len, TC_FLD_AGGREG_T_AGOPER);
  comp = rec_get(rec, len, TC_FLD_AGGREG_T_AGCOMP);
  ref = rec_get_u32(rec, len, TC_FLD_AGGREG_T_REFVAL);
  if (map->fld_type[TC_FLD_AGGREG_T_REFVAL] != TC_T_ULONG) ref = (uint32_t)rec_get(rec, len, TC_FLD_AGGREG_T_REFVAL);
  {
    int64_t a = local, b = map->fld_type[TC_FLD_AGGREG_T_REFVAL] == TC_T_ULONG ? (int64_t)ref : (int64_t)(int32_t)ref;
    yes = comp == 1 ? a < b : comp == 2 ? a <= b : comp == 3 ? a > b : comp == 4 ? a >= b : comp == 5 ? a == b : comp == 6 ? a != b : 0;
  }
  if (dsz > TVM_EVENT_DATA_BYTES) dsz = TVM_EVENT_DATA_BYTES; /* the queue keeps 64 bytes of data */
  memset(done, 0, sizeof done);
  rec_set(done, dsz, TC_FLD_AGGDONE_T_AGID, agid);
  rec_set(done, dsz, TC_FLD_AGGDONE_T_COUNT, 1);
  rec_set(done, dsz, TC_FLD_AGGDONE_T_COUNTTRUE, yes ? 1 : 0);
  rec_set(done, dsz, TC_FLD_AGGDONE_T_COUNTFALSE, yes ? 0 : 1);
  rec_set(done, dsz, TC_FLD_AGGDONE_T_VALUE, local);
  if (map->in_id[TC_IN_AGGREG_DONE] != 255) tvm_enqueue_rec(map->in_id[TC_IN_AGGREG_DONE], (uint8_t)agid, done, (uint8_t)dsz);
}

/* ---- outputs ---- */
#if TC_RAW
void raw_report_call(uint8_t id, const int32_t *a, uint8_t n);
#endif

/* The handlers that call the components twice (out of line: the others
 * then need no saved registers on the small MCUs). */
static TVM_NOINLINE void raise_reading(uint8_t s, int32_t x) {
  raise_input(s, x, (uint8_t)x);
}

static TVM_NOINLINE void raise_port(uint8_t k) {
  raise_reading((uint8_t)(TC_IN_PORT_A + k), port_val[k] >= 0 ? port_val[k] : tc_sensor((uint8_t)(TC_IN_PORT_A + k)));
}

static void set_leds(uint8_t v) {
  leds = v;
#if TC_REALTIME
  plat_leds(v);
#endif
}

/* One handler per output role, all of this type (a table dispatches them);
 * the length of a record (rec not 0) is in out_len, set by record outputs
 * only (three arguments fit the scratch registers of the small MCUs, so
 * that the dispatch is a jump). */
typedef void tc_out_fn(uint8_t role, int32_t v, const uint8_t *rec);
static uint8_t out_len;
#define REC_LEN(rec) ((rec) ? out_len : 0)

static void out_none(uint8_t role, int32_t v, const uint8_t *rec) {
}

static void out_leds(uint8_t role, int32_t v, const uint8_t *rec) {
  set_leds((uint8_t)(v & 7));
}

static void out_led(uint8_t role, int32_t v, const uint8_t *rec) {
  uint8_t bit = (uint8_t)(1u << (role - TC_OUT_LED0));
  set_leds((uint8_t)(v == 0 ? leds & ~bit : v == 1 ? leds | bit : leds ^ bit));
}

static void out_req_sensor(uint8_t role, int32_t v, const uint8_t *rec) {
  uint8_t s = (uint8_t)(TC_IN_TEMP + (role - TC_OUT_REQ_TEMP));
#if TC_REALTIME
  plat_sensor_request(s);
#else
  raise_reading(s, tc_sensor(s));
#endif
}

static void out_set_port(uint8_t role, int32_t v, const uint8_t *rec) {
  port_val[role - TC_OUT_SET_PORT_A] = (int16_t)(v & 1);
}

static void out_req_port(uint8_t role, int32_t v, const uint8_t *rec) {
  raise_port((uint8_t)(role - TC_OUT_REQ_PORT_A));
}

static void out_beep(uint8_t role, int32_t v, const uint8_t *rec) {
  beep = (uint16_t)v;
}

static void out_req_custom_a(uint8_t role, int32_t v, const uint8_t *rec) {
  uint8_t x = (uint8_t)v;
  raise_input(TC_IN_CUSTOM_A_ID, x, x);
  raise_input(TC_IN_CUSTOM_A, x, x);
}

static void out_req_custom(uint8_t role, int32_t v, const uint8_t *rec) {
  raise_input(TC_IN_CUSTOM, 0, 0);
}

static void out_send(uint8_t role, int32_t v, const uint8_t *rec) {
  uint8_t len = REC_LEN(rec);
  if (map->grp) return;
#if TC_REALTIME
  plat_radio_send(rec, len, role == TC_OUT_SEND_ACK);
#else
  /* standalone radio: done at once, acknowledged */
  if (role == TC_OUT_SEND) raise_input(TC_IN_SEND_DONE, 0, len ? rec[0] : 0);
  else raise_input(TC_IN_SEND_DONE_ACK, 1, len ? rec[0] : 0);
#endif
}

static void out_send_grp(uint8_t role, int32_t v, const uint8_t *rec) {
  uint8_t len = REC_LEN(rec);
  if (!map->grp) return;
  raise_input(role == TC_OUT_SEND_BS ? TC_IN_SENDBS_DONE : TC_IN_SENDGR_DONE, 0, len ? rec[0] : 0);
}

static void out_aggreg(uint8_t role, int32_t v, const uint8_t *rec) {
  aggreg(rec, REC_LEN(rec));
}

static tc_out_fn *TVM_ROM OUT_FN[TC_OUT__N] = {
  [TC_OUT_LEDS] = out_leds,
  [TC_OUT_LED0] = out_led,
  [TC_OUT_LED1] = out_led,
  [TC_OUT_LED2] = out_led,
  [TC_OUT_REQ_TEMP] = out_req_sensor,
  [TC_OUT_REQ_PHOTO] = out_req_sensor,
  [TC_OUT_REQ_VOLTS] = out_req_sensor,
  [TC_OUT_REQ_MIC] = out_req_sensor,
  [TC_OUT_SET_PORT_A] = out_set_port,
  [TC_OUT_SET_PORT_B] = out_set_port,
  [TC_OUT_CFG_PORT_A] = out_none,
  [TC_OUT_CFG_PORT_B] = out_none,
  [TC_OUT_CFG_INT_A] = out_none,
  [TC_OUT_CFG_INT_B] = out_none,
  [TC_OUT_REQ_PORT_A] = out_req_port,
  [TC_OUT_REQ_PORT_B] = out_req_port,
  [TC_OUT_BEEP] = out_beep,
  [TC_OUT_REQ_CUSTOM_A] = out_req_custom_a,
  [TC_OUT_REQ_CUSTOM] = out_req_custom,
  [TC_OUT_SEND] = out_send,
  [TC_OUT_SEND_ACK] = out_send,
  [TC_OUT_SEND_BS] = out_send_grp,
  [TC_OUT_SEND_GR] = out_send_grp,
  [TC_OUT_AGGREG] = out_aggreg,
};
typedef char tc_out_fn_complete[TC_OUT__N == 24 ? 1 : -1]; /* a new role needs its handler above */

static TVM_INLINE void output(uint8_t id, int32_t v, const uint8_t *rec, uint8_t len) {
  uint8_t role;
#if !TC_REALTIME
  plat_report_output(id, v, rec, len);
#endif
#if TC_RAW
  if (!map) return;
#endif
  role = map->out_role[id];
  if (role < TC_OUT__N) OUT_FN[role](role, v, rec);
}

void tvm_host_output(uint8_t id, int32_t v) {
  output(id, v, 0, 0);
}

void tvm_host_output_rec(uint8_t id, const uint8_t *rec, uint8_t len) {
  out_len = len;
  output(id, 0, rec, len);
}

/* ---- functions ---- */
TVM_NOINLINE int32_t tvm_host_call(uint8_t id, const int32_t *a, uint8_t n) {
  uint8_t role;
#if TC_RAW
  if (!map) {
    raw_report_call(id, a, n);
    return 0;
  }
#endif
  (void)n;
  role = map->fn_role[id];
  switch (role) {
    case TC_FN_GETNODEID:
      return node_id;
    case TC_FN_RANDOM:
      rnd ^= rnd << 13;
      rnd ^= rnd >> 17;
      rnd ^= rnd << 5;
      return (int32_t)(rnd & 0xffff);
    case TC_FN_GETMEM:
      return a[0] >= 0 && a[0] < (int32_t)tvm.var_bytes ? tvm.vars[a[0]] : 0;
    case TC_FN_GETTIME:
      return (int32_t)tvm.now; /* the reaction's time (runVirtual: tc_now mod 2^32) */
    case TC_FN_SETRFPOWER:
      return SUCCESS;
    case TC_FN_STAT1: {
      uint16_t rsz = map->rec_size[TC_REC_STAT1_RET];
      int32_t cnt = a[1], i;
      uint32_t max = 0, min = 0xffff, sum = 0;
      const uint8_t *data;
      uint8_t *ret;
      if (!rsz || cnt <= 0) return 0;
      data = tvm_view(a[0], cnt > 0x7fff ? 0x10000 : 2 * cnt);
      if (!data) return 0;
      for (i = 0; i < cnt; i++) {
        uint32_t x = (uint32_t)(data[2 * i] | (data[2 * i + 1] << 8));
        if (x > max) max = x;
        if (x < min) min = x;
        sum += x;
      }
      ret = tvm_view(a[2], rsz);
      if (!ret) return 0;
      rec_set(ret, rsz, TC_FLD_STAT1_RET_MAX, (int32_t)max);
      rec_set(ret, rsz, TC_FLD_STAT1_RET_MIN, (int32_t)min);
      rec_set(ret, rsz, TC_FLD_STAT1_RET_AVG, (int32_t)(sum / (uint32_t)cnt));
      return (int32_t)(sum / (uint32_t)cnt);
    }
#if TC_MSG_MAX > 0
    case TC_FN_QPUT:
    case TC_FN_QGET:
    case TC_FN_QSIZE:
    case TC_FN_QCLEAR: {
      uint16_t sz = map->rec_size[TC_REC_RADIOMSG];
      uint8_t *p;
      if (map->grp || !sz || sz > TC_MSG_MAX) return FAIL;
      if (role == TC_FN_QSIZE) return msgq_len;
      if (role == TC_FN_QCLEAR) {
        msgq_len = 0;
        msgq_free = 1;
        return SUCCESS;
      }
      if (role == TC_FN_QPUT) {
        uint8_t slot;
        if (msgq_len >= TC_MSG_QUEUE) return FAIL;
        p = tvm_view(a[0], sz);
        if (!p) return FAIL;
        slot = (uint8_t)((msgq_head + msgq_len) % TC_MSG_QUEUE);
        memcpy(msgq[slot], p, sz);
        msgq_len++;
        if (msgq_free) {
          msgq_free = 0;
          raise_input(TC_IN_Q_READY, msgq_len, msgq_len);
        }
        return SUCCESS;
      }
      /* qGet */
      if (!msgq_len) {
        msgq_free = 1;
        return FAIL;
      }
      {
        uint8_t slot = msgq_head;
        msgq_head = (uint8_t)((msgq_head + 1) % TC_MSG_QUEUE);
        msgq_len--;
        p = tvm_view(a[0], sz);
        if (!p) return FAIL;
        memcpy(p, msgq[slot], sz);
      }
      if (!msgq_len) msgq_free = 1;
      return SUCCESS;
    }
#endif
    case TC_FN_GROUPINIT: {
      uint16_t gsz = map->rec_size[TC_REC_GROUP_T];
      uint8_t *g;
      if (!map->grp) return 1;
      if (!gsz) return 1;
      g = tvm_view(a[0], gsz);
      if (!g) return 1;
      rec_set(g, gsz, TC_FLD_GROUP_T_GRID, a[1]);
      rec_set(g, gsz, TC_FLD_GROUP_T_PARAM, a[2]);
      rec_set(g, gsz, TC_FLD_GROUP_T_NHOPS, a[3]);
      rec_set(g, gsz, TC_FLD_GROUP_T_STATUS, a[4]);
      rec_set(g, gsz, TC_FLD_GROUP_T_ELFLAG, a[5]);
      rec_set(g, gsz, TC_FLD_GROUP_T_ELSTATE, 0);
      rec_set(g, gsz, TC_FLD_GROUP_T_LEADER, a[5] == 1 && a[6] == 0 ? node_id : a[6]);
      return 0;
    }
    case TC_FN_AGGREGINIT: {
      uint16_t asz = map->rec_size[TC_REC_AGGREG_T], gsz = map->rec_size[TC_REC_GROUP_T];
      uint8_t *g, *ag;
      int32_t grid;
      if (!map->grp) return 1;
      if (!asz || !gsz) return 1;
      g = tvm_view(a[1], gsz);
      if (!g) return 1;
      grid = rec_get(g, gsz, TC_FLD_GROUP_T_GRID);
      ag = tvm_view(a[0], asz);
      if (!ag) return 1;
      rec_set(ag, asz, TC_FLD_AGGREG_T_AGID, next_agg++);
      rec_set(ag, asz, TC_FLD_AGGREG_T_SEQ, 0);
      rec_set(ag, asz, TC_FLD_AGGREG_T_GRID, grid);
      rec_set(ag, asz, TC_FLD_AGGREG_T_SENSORID, a[2]);
      rec_set(ag, asz, TC_FLD_AGGREG_T_AGOPER, a[3]);
      rec_set(ag, asz, TC_FLD_AGGREG_T_AGCOMP, a[4]);
      rec_set(ag, asz, TC_FLD_AGGREG_T_REFVAL, a[5]);
      return 0;
    }
    case TC_FN_GETPARENT:
      return map->grp ? 0 : 1;
    default:
      return 1; /* FAIL: the component set does not implement it */
  }
}

void tvm_host_error(uint8_t code, uint16_t pc) {
  plat_report_error(code, pc);
}

/* ---- vm/driver.ts runVirtual ---- */
uint8_t tc_run_virtual(TVM_ROM tc_input_t *inputs, uint16_t ninputs, tc_time_t until, uint32_t max_slices, uint32_t max_reactions) {
  uint16_t next = 0;
  uint32_t slices = 0;
#if TVM_STATS
  uint32_t reactions = 0, before; /* reactions since the VM was last idle */
#else
  (void)max_reactions;
#endif
  if (!tvm_booted()) {
    tvm.now = (uint32_t)tc_now;
    tvm_boot();
  }
  for (;;) {
    uint32_t delta;
    uint8_t has_nd, has_ni;
    tc_time_t nd = 0, ni = 0;
    if (tvm_halted() || tc_now >= until) break;
#if TVM_STATS
    before = tvm.stats.reactions;
#endif
    if (tvm_step()) {
      uint8_t async = tvm.last_step == TVM_STEP_ASYNC;
      if (async && ++slices > max_slices) return TC_STALL_ASYNC;
#if TVM_STATS
      /* the step's reactions (chained inputs and ERROR reactions too; stats count a slice as one) */
      reactions += tvm.stats.reactions - before - async;
      if (reactions > max_reactions) return TC_STALL_REACTIONS;
#endif
      continue;
    }
#if TVM_STATS
    reactions = 0;
#endif
    /* idle at now: advance to the next timer or trace input */
    has_nd = tvm_next_deadline(&delta);
    if (has_nd) nd = tc_now + delta;
    has_ni = next < ninputs;
    if (has_ni) ni = inputs[next].at > tc_now ? inputs[next].at : tc_now;
    if (!has_nd && !has_ni) break;
    if (has_nd && (!has_ni || nd <= ni)) {
      if (nd >= until) break;
      if (nd > tc_now) slices = 0;
      tc_now = nd;
      tvm.now = (uint32_t)nd;
    } else {
      TVM_ROM tc_input_t *in = &inputs[next++];
      if (ni >= until) break;
      if (ni > tc_now) slices = 0;
      tc_now = ni;
      tvm.now = (uint32_t)ni;
      if (in->data) {
        /* staged in RAM: the queue may keep a pointer until the input's reaction */
        static uint8_t stage[TVM_EVENT_DATA_BYTES];
        uint8_t k, n = in->len > TVM_EVENT_DATA_BYTES ? TVM_EVENT_DATA_BYTES : in->len;
        for (k = 0; k < n; k++) stage[k] = in->data[k];
        tvm_enqueue_rec(in->id, in->aux, stage, n);
      } else {
        tvm_enqueue(in->id, in->aux, in->value);
      }
    }
  }
  if (tc_now < until) {
    tc_now = until;
    tvm.now = (uint32_t)until;
  }
  return 0;
}
