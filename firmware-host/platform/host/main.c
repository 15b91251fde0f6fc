/*
 * terra-mote: the C VM on Linux, one mote in virtual time. Loads a capsule
 * and an input trace (the JSON trace `terra run` reads), runs the
 * configuration's single-mote components (TerraNet or TerraGrp, standalone
 * radio and groups) and prints the output trace in the same JSON form as
 * `terra run --json`, so that the two VMs can be compared byte for byte.
 *
 *   terra-mote CAPSULE [--inputs TRACE.json] [--until MS] [--node-id N]
 *              [--seed N] [--config CONFIG.json] [--bound N] [--json]
 *   terra-mote --raw CAPSULE [--inputs RAWTRACE.json] [--until MS]
 *              [--instruction-limit N] [--max-async-slices N]
 *   (both: [--max-reactions N], reactions without the VM becoming idle
 *   before the run stops, default 1000000)
 *   terra-mote --batch JOBS.jsonl      one job per line, one result per line
 *   terra-mote CAPSULE --bench N [--rounds R]   VM instructions per second over R
 *              rounds of N reactions at time 0 (bench/c.ts: the CPU-bound loop)
 *
 * --raw runs a capsule with no configuration, as the TypeScript VM tests'
 * recording host does (test/helpers/vmtest.ts): inputs are given by id
 * ([{"at": T, "id": I, "aux": A, "value": V or [bytes]}]), outputs are
 * reported by id, functions return 0, and --until is exclusive.
 *
 * The configuration is the bundled TerraNet/TerraGrp one whose id the
 * capsule carries, or CONFIG.json (firmware-host/config-json.ts) for any
 * other .defs. Exit codes: 0, 1 for bad input (a rejected capsule, a bad
 * trace, a host error of the script), 2 for usage errors, 3 when virtual
 * time cannot advance (an async block that never ends, or more than
 * --max-reactions reactions at one time: vm/driver.ts StallError, same message).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <time.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cJSON.h>
#include "../../comp/components.h"

/* ---- growing strings --------------------------------------------------------------------- */
typedef struct {
  char *s;
  size_t n, cap;
} sb_t;

static void sb_add(sb_t *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2 + 256;
    b->s = realloc(b->s, b->cap);
    if (!b->s) abort();
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = 0;
}
static void sb_str(sb_t *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_fmt(sb_t *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    sb_add(b, tmp, (size_t)n);
  } else {
    char *big = malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
  }
}
static void sb_json_str(sb_t *b, const char *s) {
  sb_add(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      sb_add(b, "\\", 1);
      sb_add(b, (const char *)&c, 1);
    } else if (c < 0x20) {
      sb_fmt(b, "\\u%04x", c);
    } else {
      sb_add(b, (const char *)&c, 1);
    }
  }
  sb_add(b, "\"", 1);
}

/* A double as JavaScript's Number.prototype.toString (JSON.stringify) writes it. */
static void sb_js_number(sb_t *b, double x) {
  char buf[40], digits[24];
  int p, e = 0, k, n, i;
  if (x != x || isinf(x)) {
    sb_str(b, "null");
    return;
  }
  if (x == 0) {
    sb_str(b, "0");
    return;
  }
  if (x < 0) {
    sb_str(b, "-");
    x = -x;
  }
  for (p = 1; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*e", p - 1, x);
    if (strtod(buf, NULL) == x) break;
  }
  /* buf: d.ddde[+-]XX */
  k = 0;
  for (i = 0; buf[i] && buf[i] != 'e'; i++) if (buf[i] != '.') digits[k++] = buf[i];
  e = atoi(buf + i + 1);
  while (k > 1 && digits[k - 1] == '0') k--;
  digits[k] = 0;
  n = e + 1;
  if (k <= n && n <= 21) {
    sb_str(b, digits);
    for (i = 0; i < n - k; i++) sb_str(b, "0");
  } else if (0 < n && n <= 21) {
    sb_add(b, digits, (size_t)n);
    sb_str(b, ".");
    sb_str(b, digits + n);
  } else if (-6 < n && n <= 0) {
    sb_str(b, "0.");
    for (i = 0; i < -n; i++) sb_str(b, "0");
    sb_str(b, digits);
  } else {
    sb_add(b, digits, 1);
    if (k > 1) {
      sb_str(b, ".");
      sb_str(b, digits + 1);
    }
    sb_fmt(b, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
  }
}

/* ---- failures -------------------------------------------------------------------------------- */
static jmp_buf fail_jmp;
static int fail_armed;
static char fail_msg[2048];
static int fail_stall; /* the failure is a stall (exit code 3) */

static void failf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(fail_msg, sizeof fail_msg, fmt, ap);
  va_end(ap);
  if (fail_armed) longjmp(fail_jmp, 1);
  fprintf(stderr, "terra-mote: %s\n", fail_msg);
  exit(1);
}

/* ---- configuration ------------------------------------------------------------------------------ */
static const char *ELEM_NAMES[] = TC_ELEM_NAMES;
static const int ELEM_SIZE[] = { 1, 1, 2, 2, 4, 4, 4 };

typedef struct {
  const char *name;
  int elem;
  int dim;
  int offset;
} field_t;
typedef struct {
  const char *name;
  int size;
  int nfields;
  field_t *fields;
} record_t;
/* type: -1 void, 0..6 basic, 100 + record index */
typedef struct {
  const char *name;
  int type;
  int fid, aid;
} input_t;
typedef struct {
  const char *name;
  int type;
  int id;
} output_t;

typedef struct {
  cJSON *json;
  uint32_t id;
  int nrec, nin, nout;
  record_t *recs;
  input_t *ins;
  output_t *outs;
  const output_t *out_by_id[256];
  tc_map_t map;
} config_t;

static int elem_code(const char *s) {
  int i;
  for (i = 0; i < 7; i++) if (!strcmp(s, ELEM_NAMES[i])) return i;
  return -2;
}

/* The 1-based line of position at in text. */
static int line_of(const char *text, const char *at) {
  int line = 1;
  for (; text < at && *text; text++) if (*text == '\n') line++;
  return line;
}

static const char *jstr(cJSON *o, const char *k) {
  cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(x) ? x->valuestring : "";
}
static int jint(cJSON *o, const char *k) {
  cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(x) ? (int)x->valuedouble : -1;
}

static int type_code(config_t *c, const char *t) {
  int i;
  if (!strcmp(t, "void")) return -1;
  if (t[0] == '@') {
    for (i = 0; i < c->nrec; i++) if (!strcmp(c->recs[i].name, t + 1)) return 100 + i;
    return -1;
  }
  i = elem_code(t);
  return i >= 0 ? i : -1;
}

static const record_t *rec_named(const config_t *c, const char *name) {
  int i;
  for (i = 0; i < c->nrec; i++) if (!strcmp(c->recs[i].name, name)) return &c->recs[i];
  return NULL;
}
static const input_t *input_named(const config_t *c, const char *name) {
  int i;
  for (i = 0; i < c->nin; i++) if (!strcmp(c->ins[i].name, name)) return &c->ins[i];
  return NULL;
}

/* Parse a configuration (config-json.ts) and resolve its role tables (as gen.ts resolveRoles). */
static void config_parse(config_t *c, const char *text, const char *what) {
  static const char *OUT_NAMES[] = TC_OUT_NAMES, *FN_NAMES[] = TC_FN_NAMES, *IN_NAMES[] = TC_IN_NAMES, *REC_NAMES[] = TC_REC_NAMES;
  static const char *FLD_NAMES[][2] = TC_FLD_NAMES;
  static const char *ARRAYS[] = { "records", "inputs", "outputs", "functions" };
  cJSON *j = cJSON_Parse(text), *a, *x;
  int i, k;
  memset(c, 0, sizeof *c);
  if (!j) {
    const char *e = cJSON_GetErrorPtr();
    failf("%s:%d: not valid JSON", what, e ? line_of(text, e) : 1);
  }
  c->json = j;
  if (!cJSON_IsObject(j)) failf("%s: not a configuration: expected the JSON object of firmware-host/config-json.ts", what);
  x = cJSON_GetObjectItemCaseSensitive(j, "id");
  if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 4294967295.0) failf("%s: field \"id\": missing or not a configuration id 0..2^32-1", what);
  c->id = (uint32_t)x->valuedouble;
  for (k = 0; k < 4; k++) {
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, ARRAYS[k]))) failf("%s: field \"%s\": missing or not an array", what, ARRAYS[k]);
  }
  a = cJSON_GetObjectItemCaseSensitive(j, "records");
  c->nrec = cJSON_GetArraySize(a);
  c->recs = calloc((size_t)c->nrec + 1, sizeof *c->recs);
  i = 0;
  cJSON_ArrayForEach(x, a) {
    cJSON *f, *fl = cJSON_GetObjectItemCaseSensitive(x, "fields");
    record_t *r = &c->recs[i++];
    r->name = jstr(x, "name");
    r->size = jint(x, "size");
    r->nfields = cJSON_GetArraySize(fl);
    r->fields = calloc((size_t)r->nfields + 1, sizeof *r->fields);
    k = 0;
    cJSON_ArrayForEach(f, fl) {
      field_t *fd = &r->fields[k++];
      fd->name = jstr(f, "name");
      fd->elem = elem_code(jstr(f, "elem"));
      fd->dim = jint(f, "dim");
      fd->offset = jint(f, "offset");
      if (fd->elem < 0) failf("%s: field %s of %s has an unknown type", what, fd->name, r->name);
    }
  }
  a = cJSON_GetObjectItemCaseSensitive(j, "inputs");
  c->nin = cJSON_GetArraySize(a);
  c->ins = calloc((size_t)c->nin + 1, sizeof *c->ins);
  i = 0;
  cJSON_ArrayForEach(x, a) {
    input_t *in = &c->ins[i++];
    in->name = jstr(x, "name");
    in->type = type_code(c, jstr(x, "type"));
    in->fid = jint(x, "filteredId");
    in->aid = jint(x, "anyId");
  }
  a = cJSON_GetObjectItemCaseSensitive(j, "outputs");
  c->nout = cJSON_GetArraySize(a);
  c->outs = calloc((size_t)c->nout + 1, sizeof *c->outs);
  i = 0;
  cJSON_ArrayForEach(x, a) {
    output_t *o = &c->outs[i++];
    o->name = jstr(x, "name");
    o->type = type_code(c, jstr(x, "type"));
    o->id = jint(x, "id");
    if (o->id >= 0 && o->id < 256) c->out_by_id[o->id] = o;
  }
  /* role tables */
  c->map.config_id = c->id;
  for (k = 0; k < TC_IN__N; k++) {
    const input_t *in = input_named(c, IN_NAMES[k]);
    c->map.in_id[k] = (uint8_t)(in ? (in->aid != 255 ? in->aid : in->fid) : 255);
  }
  for (k = 0; k < TC_REC__N; k++) {
    const record_t *r = rec_named(c, REC_NAMES[k]);
    c->map.rec_size[k] = (uint16_t)(r ? r->size : 0);
  }
  for (k = 0; k < TC_FLD__N; k++) {
    const record_t *r = rec_named(c, FLD_NAMES[k][0]);
    c->map.fld_off[k] = 0;
    c->map.fld_type[k] = 255;
    for (i = 0; r && i < r->nfields; i++) {
      if (!strcmp(r->fields[i].name, FLD_NAMES[k][1])) {
        c->map.fld_off[k] = (uint16_t)r->fields[i].offset;
        c->map.fld_type[k] = (uint8_t)r->fields[i].elem;
      }
    }
  }
  memset(c->map.out_role, 255, 256);
  memset(c->map.fn_role, 255, 256);
  for (i = 0; i < c->nout; i++) {
    for (k = 0; k < TC_OUT__N; k++) {
      if (!strcmp(c->outs[i].name, OUT_NAMES[k]) && c->outs[i].id >= 0 && c->outs[i].id < 256) c->map.out_role[c->outs[i].id] = (uint8_t)k;
    }
  }
  a = cJSON_GetObjectItemCaseSensitive(j, "functions");
  cJSON_ArrayForEach(x, a) {
    int id = jint(x, "id");
    if (!strcmp(jstr(x, "name"), "groupInit")) c->map.grp = 1;
    for (k = 0; k < TC_FN__N; k++) {
      if (!strcmp(jstr(x, "name"), FN_NAMES[k]) && id >= 0 && id < 256) c->map.fn_role[id] = (uint8_t)k;
    }
  }
  c->map.queue = rec_named(c, "radioMsg") != NULL;
}

static void config_free(config_t *c) {
  int i;
  for (i = 0; i < c->nrec; i++) free(c->recs[i].fields);
  free(c->recs);
  free(c->ins);
  free(c->outs);
  cJSON_Delete(c->json);
  memset(c, 0, sizeof *c);
}

/* virtual time: chained reactions never need to stop for a clock */
volatile uint8_t tvm_chain_stop;

/* ---- the run's report --------------------------------------------------------------------------- */
static int raw_mode;
static config_t *cfg;
static sb_t outs, errs, calls;
static int nouts, nerrs, ncalls;

static const char *error_name(int code) {
  switch (code) {
    case 10: return "division by zero";
    case 11: return "array index out of range";
    case 20: return "track stack overflow";
    case 21: return "watchdog: reaction too long";
    default: return NULL;
  }
}

static double field_value(int elem, const uint8_t *p) {
  uint32_t u;
  float f;
  switch (elem) {
    case 0: return p[0];
    case 1: return (int8_t)p[0];
    case 2: return (uint16_t)(p[0] | (p[1] << 8));
    case 3: return (int16_t)(p[0] | (p[1] << 8));
    default:
      u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
      if (elem == 4) return u;
      if (elem == 5) return (int32_t)u;
      memcpy(&f, &u, 4);
      return f;
  }
}

/* components/host.ts decodeRecord */
static void sb_record(sb_t *b, const record_t *r, const uint8_t *bytes, int len) {
  int i, k;
  sb_str(b, "{");
  for (i = 0; i < r->nfields; i++) {
    const field_t *f = &r->fields[i];
    int w = ELEM_SIZE[f->elem];
    if (i) sb_str(b, ",");
    sb_json_str(b, f->name);
    sb_str(b, ":");
    if (f->dim == 0) {
      sb_js_number(b, f->offset + w > len ? 0 : field_value(f->elem, bytes + f->offset));
    } else {
      sb_str(b, "[");
      for (k = 0; k < f->dim; k++) {
        int off = f->offset + k * w;
        if (k) sb_str(b, ",");
        sb_js_number(b, off + w > len ? 0 : field_value(f->elem, bytes + off));
      }
      sb_str(b, "]");
    }
  }
  sb_str(b, "}");
}

static void sb_bytes(sb_t *b, const uint8_t *p, int n) {
  int i;
  sb_str(b, "[");
  for (i = 0; i < n; i++) sb_fmt(b, i ? ",%u" : "%u", p[i]);
  sb_str(b, "]");
}

static int report_off; /* --bench: outputs are not recorded */

void plat_report_output(uint8_t id, int32_t v, const uint8_t *rec, uint8_t len) {
  if (report_off) return;
  if (nouts++) sb_str(&outs, ",");
  if (raw_mode) {
    sb_fmt(&outs, "{\"id\":%u,\"value\":", id);
    if (rec) sb_bytes(&outs, rec, len);
    else sb_fmt(&outs, "%d", v);
    sb_fmt(&outs, ",\"at\":%llu}", (unsigned long long)tc_now);
    return;
  }
  {
    const output_t *o = cfg->out_by_id[id];
    sb_str(&outs, "{\"event\":");
    if (o) {
      sb_json_str(&outs, o->name);
    } else {
      sb_fmt(&outs, "\"output#%u\"", id);
    }
    sb_str(&outs, ",\"value\":");
    if (o && o->type == -1) sb_str(&outs, "null");
    else if (!rec) sb_fmt(&outs, "%d", v);
    else if (o && o->type >= 100) sb_record(&outs, &cfg->recs[o->type - 100], rec, len);
    else sb_bytes(&outs, rec, len);
    sb_fmt(&outs, ",\"at_ms\":%llu}", (unsigned long long)tc_now);
  }
}

void plat_report_error(uint8_t code, uint16_t pc) {
  if (nerrs++) sb_str(&errs, ",");
  if (raw_mode) {
    sb_fmt(&errs, "{\"code\":%u,\"pc\":%u,\"at\":%llu}", code, pc, (unsigned long long)tc_now);
  } else {
    const char *m = error_name(code);
    sb_fmt(&errs, "{\"at_ms\":%llu,\"code\":%u,\"message\":", (unsigned long long)tc_now, code);
    if (m) sb_json_str(&errs, m);
    else sb_fmt(&errs, "\"error %u\"", code);
    sb_fmt(&errs, ",\"pc\":%u}", pc);
  }
}

void plat_host_exception(const char *what) {
  tvm_abort();
  failf("host exception during a reaction: %s", what);
}

/* raw mode: the recording host of test/helpers/vmtest.ts (outputs by id, calls return 0) */
void raw_report_call(uint8_t id, const int32_t *a, uint8_t n);
void raw_report_call(uint8_t id, const int32_t *a, uint8_t n) {
  uint8_t i;
  if (ncalls++) sb_str(&calls, ",");
  sb_fmt(&calls, "{\"id\":%u,\"args\":[", id);
  for (i = 0; i < n; i++) sb_fmt(&calls, i ? ",%d" : "%d", a[i]);
  sb_fmt(&calls, "],\"at\":%llu}", (unsigned long long)tc_now);
}

/* ---- traces (components/trace.ts) ----------------------------------------------------------------- */
typedef struct {
  tc_input_t *inputs;
  int ninputs;
  tc_reading_t *readings;
  int nreadings;
  uint64_t last;
  int entries;
} trace_t;

static const char *SENSOR_NAMES[] = { "TEMP", "PHOTO", "VOLTS", "MIC", "PORT_A", "PORT_B" };

static void trace_free(trace_t *t) {
  int i;
  for (i = 0; i < t->ninputs; i++) free((void *)t->inputs[i].data);
  free(t->inputs);
  free(t->readings);
  memset(t, 0, sizeof *t);
}

/* Line where each element of the top-level array starts (components/trace.ts elementLines). */
static int *element_lines(const char *text, int *count) {
  int depth = 0, line = 1, in_str = 0, expect = 0, n = 0, cap = 64;
  int *lines = malloc(sizeof(int) * (size_t)cap);
  const char *p;
  for (p = text; *p; p++) {
    char c = *p;
    if (c == '\n') line++;
    if (in_str) {
      if (c == '\\') {
        if (p[1]) p++;
      } else if (c == '"') {
        in_str = 0;
      }
      continue;
    }
    if (depth == 1 && expect && !(c == ' ' || c == '\t' || c == '\n' || c == '\r') && c != ']') {
      if (n == cap) lines = realloc(lines, sizeof(int) * (size_t)(cap *= 2));
      lines[n++] = line;
      expect = 0;
    }
    if (c == '"') in_str = 1;
    else if (c == '[' || c == '{') {
      depth++;
      if (depth == 1) expect = 1;
    } else if (c == ']' || c == '}') depth--;
    else if (c == ',' && depth == 1) expect = 1;
  }
  *count = n;
  return lines;
}

static const char *trace_file;
static int trace_line;
static int trace_entry;

static void trace_fail(const char *field, const char *fmt, ...) {
  char reason[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  if (field) failf("%s:%d: field \"%s\": entry %d: %s", trace_file, trace_line, field, trace_entry, reason);
  failf("%s:%d: entry %d: %s", trace_file, trace_line, trace_entry, reason);
}

static int is_int(double d) { return isfinite(d) && floor(d) == d; }

/* A value as JSON.stringify prints it (for messages). */
static char *json_of(cJSON *v) {
  static char buf[256];
  char *s;
  if (!v) return strcpy(buf, "undefined");
  s = cJSON_PrintUnformatted(v);
  snprintf(buf, sizeof buf, "%s", s ? s : "?");
  free(s);
  return buf;
}

static int32_t trace_scalar(int elem, cJSON *v, const char *field) {
  static const double LO[] = { 0, -128, 0, -32768, 0, -2147483648.0 }, HI[] = { 255, 127, 65535, 32767, 4294967295.0, 2147483647.0 };
  double n;
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) trace_fail(field, "must be a number (%s), got %s", ELEM_NAMES[elem], json_of(v));
  n = v->valuedouble;
  if (elem == 6) {
    float f = (float)n;
    uint32_t u;
    memcpy(&u, &f, 4);
    return (int32_t)u;
  }
  if (!is_int(n) || n < LO[elem] || n > HI[elem]) {
    sb_t m = { 0 };
    sb_js_number(&m, n);
    trace_fail(field, "must be an integer in %.0f..%.0f (%s), got %s", LO[elem], HI[elem], ELEM_NAMES[elem], m.s);
  }
  return (int32_t)(uint32_t)(int64_t)n;
}

static void put_le(uint8_t *p, int w, int32_t n) {
  int i;
  for (i = 0; i < w; i++) p[i] = (uint8_t)((uint32_t)n >> (8 * i));
}

static uint8_t *trace_record(const record_t *r, cJSON *v, const char *field) {
  uint8_t *bytes = calloc((size_t)r->size + 1, 1);
  char name[256];
  cJSON *x;
  int i;
  if (cJSON_IsArray(v)) {
    if (cJSON_GetArraySize(v) > r->size) trace_fail(field, "%s has %d bytes, got %d", r->name, r->size, cJSON_GetArraySize(v));
    i = 0;
    cJSON_ArrayForEach(x, v) {
      if (!cJSON_IsNumber(x) || !is_int(x->valuedouble) || x->valuedouble < 0 || x->valuedouble > 255) {
        snprintf(name, sizeof name, "%s[%d]", field, i);
        trace_fail(name, "must be a byte 0..255, got %s", json_of(x));
      }
      bytes[i++] = (uint8_t)x->valuedouble;
    }
    return bytes;
  }
  if (!cJSON_IsObject(v)) {
    sb_t m = { 0 };
    for (i = 0; i < r->nfields; i++) {
      if (i) sb_str(&m, ", ");
      sb_str(&m, r->fields[i].name);
    }
    trace_fail(field, "must be an object with the fields of %s (%s) or an array of bytes", r->name, m.s ? m.s : "");
  }
  cJSON_ArrayForEach(x, v) {
    const field_t *f = NULL;
    for (i = 0; i < r->nfields; i++) if (!strcmp(r->fields[i].name, x->string)) f = &r->fields[i];
    snprintf(name, sizeof name, "%s.%s", field, x->string);
    if (!f) {
      sb_t m = { 0 };
      for (i = 0; i < r->nfields; i++) {
        if (i) sb_str(&m, ", ");
        sb_str(&m, r->fields[i].name);
      }
      trace_fail(name, "%s has no field \"%s\" (fields: %s)", r->name, x->string, m.s ? m.s : "");
    }
    if (f->dim == 0) {
      put_le(bytes + f->offset, ELEM_SIZE[f->elem], trace_scalar(f->elem, x, name));
    } else {
      cJSON *e;
      int k = 0;
      if (!cJSON_IsArray(x)) trace_fail(name, "is an array of %d %s", f->dim, ELEM_NAMES[f->elem]);
      if (cJSON_GetArraySize(x) > f->dim) trace_fail(name, "holds at most %d elements, got %d", f->dim, cJSON_GetArraySize(x));
      cJSON_ArrayForEach(e, x) {
        char en[300];
        snprintf(en, sizeof en, "%s[%d]", name, k);
        put_le(bytes + f->offset + k * ELEM_SIZE[f->elem], ELEM_SIZE[f->elem], trace_scalar(f->elem, e, en));
        k++;
      }
    }
  }
  return bytes;
}

/* Parse and validate a trace against the configuration (components/trace.ts parseTrace). */
static void trace_parse(trace_t *t, const char *file, const char *text) {
  cJSON *j, *raw;
  int *lines, nlines, i = 0;
  uint64_t last = 0;
  memset(t, 0, sizeof *t);
  trace_file = file;
  trace_line = 1;
  trace_entry = 0;
  j = cJSON_Parse(text);
  if (!j) {
    const char *e = cJSON_GetErrorPtr();
    failf("%s:%d: not valid JSON", file, e ? line_of(text, e) : 1);
  }
  if (!cJSON_IsArray(j)) failf("%s:1: a trace is a JSON array of {\"at_ms\", \"event\", \"value\"} entries", file);
  lines = element_lines(text, &nlines);
  t->inputs = calloc((size_t)cJSON_GetArraySize(j) + 1, sizeof *t->inputs);
  t->readings = calloc((size_t)cJSON_GetArraySize(j) + 1, sizeof *t->readings);
  cJSON_ArrayForEach(raw, j) {
    cJSON *k, *at, *ev, *val, *aux;
    const input_t *in;
    const char *name;
    int32_t value = 0;
    uint8_t *data = NULL;
    int len = 0, auxv, s;
    double atd;
    trace_line = i < nlines ? lines[i] : 1;
    trace_entry = ++i;
    if (!cJSON_IsObject(raw)) trace_fail(NULL, "an entry is an object {\"at_ms\", \"event\", \"value\"}");
    cJSON_ArrayForEach(k, raw) {
      if (strcmp(k->string, "at_ms") && strcmp(k->string, "event") && strcmp(k->string, "value") && strcmp(k->string, "aux")) {
        trace_fail(k->string, "unknown field (expected at_ms, event, value, aux)");
      }
    }
    at = cJSON_GetObjectItemCaseSensitive(raw, "at_ms");
    if (!cJSON_IsNumber(at) || !is_int(at->valuedouble) || at->valuedouble < 0) {
      trace_fail("at_ms", "must be a non-negative integer number of ms, got %s", json_of(at));
    }
    atd = at->valuedouble;
    if (atd < (double)last) trace_fail("at_ms", "times must not decrease: %.0f comes after %llu", atd, (unsigned long long)last);
    last = (uint64_t)atd;
    ev = cJSON_GetObjectItemCaseSensitive(raw, "event");
    if (!cJSON_IsString(ev)) trace_fail("event", "must be the name of an input event");
    name = ev->valuestring;
    in = input_named(cfg, name);
    if (!in) {
      int o;
      for (o = 0; o < cfg->nout; o++) {
        if (!strcmp(cfg->outs[o].name, name)) trace_fail("event", "\"%s\" is an output event; traces hold input events", name);
      }
      {
        sb_t m = { 0 };
        for (o = 0; o < cfg->nin; o++) {
          if (o) sb_str(&m, ", ");
          sb_str(&m, cfg->ins[o].name);
        }
        trace_fail("event", "\"%s\" is not an input event of %s (inputs: %s)", name, jstr(cfg->json, "name"), m.s ? m.s : "");
      }
    }
    val = cJSON_GetObjectItemCaseSensitive(raw, "value");
    if (in->type == -1) {
      if (val && !cJSON_IsNull(val)) trace_fail("value", "this input carries no value; remove it");
    } else if (in->type < 100) {
      value = trace_scalar(in->type, val, "value");
    } else {
      const record_t *r = &cfg->recs[in->type - 100];
      data = trace_record(r, val, "value");
      len = r->size;
    }
    aux = cJSON_GetObjectItemCaseSensitive(raw, "aux");
    if (aux) {
      if (in->fid == 255) trace_fail("aux", "\"%s\" has no selector; remove \"aux\"", name);
      if (!cJSON_IsNumber(aux) || !is_int(aux->valuedouble) || aux->valuedouble < 0 || aux->valuedouble > 255) {
        trace_fail("aux", "must be an integer 0..255, got %s", json_of(aux));
      }
      auxv = (int)aux->valuedouble;
    } else {
      auxv = data ? (len ? data[0] : 0) : (value & 0xff);
    }
    for (s = 0; s < TC_NSENSORS; s++) if (!strcmp(name, SENSOR_NAMES[s])) break;
    if (s < TC_NSENSORS) {
      tc_reading_t *r = &t->readings[t->nreadings++];
      r->at = last;
      r->sensor = (uint8_t)s;
      r->value = data ? 0 : value;
      free(data);
    } else {
      tc_input_t *x = &t->inputs[t->ninputs++];
      x->at = last;
      x->id = (uint8_t)(in->aid != 255 ? in->aid : in->fid);
      x->aux = (uint8_t)auxv;
      x->value = value;
      x->data = data;
      x->len = (uint8_t)(len > 255 ? 255 : len);
    }
    t->last = last;
    t->entries++;
  }
  free(lines);
  cJSON_Delete(j);
}

/* Raw traces: [{"at": T, "id": I, "aux": A, "value": V | [bytes]}] (test/helpers/vmtest.ts TimedInput). */
static void raw_trace_parse(trace_t *t, const char *text) {
  cJSON *j = cJSON_Parse(text), *e;
  memset(t, 0, sizeof *t);
  if (!j || !cJSON_IsArray(j)) failf("raw trace: not a JSON array");
  t->inputs = calloc((size_t)cJSON_GetArraySize(j) + 1, sizeof *t->inputs);
  cJSON_ArrayForEach(e, j) {
    tc_input_t *x = &t->inputs[t->ninputs++];
    cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "value");
    x->at = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "at"));
    x->id = (uint8_t)jint(e, "id");
    x->aux = (uint8_t)jint(e, "aux");
    if (cJSON_IsArray(v)) {
      cJSON *b;
      int k = 0;
      uint8_t *d = calloc((size_t)cJSON_GetArraySize(v) + 1, 1);
      cJSON_ArrayForEach(b, v) d[k++] = (uint8_t)b->valuedouble;
      x->data = d;
      x->len = (uint8_t)(k > 255 ? 255 : k);
    } else {
      x->value = cJSON_IsNumber(v) ? (int32_t)(uint32_t)(int64_t)v->valuedouble : 0;
    }
    if (t->ninputs > 1 && x->at < t->inputs[t->ninputs - 2].at) failf("raw trace: input %d comes before the previous one", t->ninputs - 1);
  }
  cJSON_Delete(j);
}

/* ---- jobs ------------------------------------------------------------------------------------------------ */
typedef struct {
  const uint8_t *capsule;
  size_t capsule_len;
  const char *capsule_name;
  const char *config_text;   /* JSON, or NULL: the bundled configuration of the capsule's id */
  const char *config_name;   /* its file, for messages */
  const char *trace_text;    /* JSON, or NULL */
  const char *trace_name;
  int has_until;
  uint64_t until;
  uint16_t node_id;
  int has_seed;
  uint32_t seed;
  int raw;
  uint32_t instruction_limit;
  uint32_t max_slices;
  uint32_t max_reactions;
  const char *bound;         /* printed as stats.bound when set */
  uint32_t bench_reactions;  /* --bench: reactions per timed round (no trace, constant sensors) */
  uint32_t bench_rounds;
  int verify_only;           /* only load: {"accepted": bool, "offset": N, "reason": ...} */
} job_t;

static const char *REJECT_REASON[TVM_E__COUNT] = {
  "ok",
  "truncated capsule",
  "not a Terra-TS capsule (magic is not \"TC\")",
  "format version is not supported",
  "trailing bytes after the code",
  "code size is 0 or exceeds the 32767-byte limit",
  "unknown signature algorithm (this VM knows Ed25519)",
  "body hash mismatch: the capsule was corrupted or tampered with",
  "malformed tables",
  "the capsule uses float and this VM has no float support",
  "unassigned opcode",
  "truncated instruction",
  "execution falls through or resumes past the end of the code",
  "code target is not the start of an instruction",
  "var-area access outside the var area",
  "evget exceeds the 64-byte event data buffer",
  "slot out of range",
  "slot used in two roles or by two instructions",
  "emit names an internal event the capsule does not have",
  "entry point is not the start of an instruction",
  "killf finalizer range includes a slot that is not a finalizer",
  "input id listed twice, or the ERROR forms in different tables",
  "gate table lists a wrong, repeated or unordered slot",
  "stack not empty at a jump target or trail entry",
  "stack underflow",
  "stack not empty where control passes to other trails",
  "stack not empty at a jump or branch",
  "stack overflow: deeper than the capsule's stackCells",
  "trackDepth is smaller than the track-stack bound",
  "the capsule and its state do not fit this VM's memory",
};

static config_t builtin_cfg;

/* Virtual time cannot advance (tc_run_virtual's TC_STALL_*): vm/driver.ts stallMessage, word for word. */
static void stall(uint8_t why, const job_t *jb) {
  fail_stall = 1;
  if (why == TC_STALL_ASYNC) {
    failf("more than %u async slices at logical time %llu ms: an async block is not finishing "
          "(virtual time does not advance while an async block runs)", jb->max_slices, (unsigned long long)tc_now);
  }
  failf("more than %u reactions at logical time %llu ms without the mote becoming idle: inputs raised "
        "during reactions keep it busy (a loop awaiting an input that a component raises at once, as CUSTOM "
        "after emit REQ_CUSTOM), and virtual time only advances when the mote is idle", jb->max_reactions, (unsigned long long)tc_now);
}

/* Run one job; the result JSON (or a failure message) goes to out. Returns 0 or 1 (failure). */
static int run_job(const job_t *jb, sb_t *out) {
  static trace_t tr;
  static config_t own_cfg;
  uint8_t r;
  volatile int failed = 0;
  memset(&outs, 0, sizeof outs);
  memset(&errs, 0, sizeof errs);
  memset(&calls, 0, sizeof calls);
  nouts = nerrs = ncalls = 0;
  memset(&tr, 0, sizeof tr);
  raw_mode = jb->raw;
  fail_stall = 0;
  fail_armed = 1;
  if (setjmp(fail_jmp)) {
    failed = 1;
    goto cleanup;
  }
  if (jb->capsule_len > TVM_MEM_BYTES) failf("%s: rejected: the capsule does not fit this VM's memory", jb->capsule_name);
  memcpy(tvm_mem, jb->capsule, jb->capsule_len);
  r = tvm_load((uint32_t)jb->capsule_len);
  if (jb->verify_only) {
    sb_fmt(out, "{\"accepted\":%s", r ? "false" : "true");
    if (r) {
      sb_fmt(out, ",\"offset\":%u,\"reason\":", tvm_reject_offset);
      sb_json_str(out, REJECT_REASON[r]);
    }
    sb_str(out, "}");
    goto cleanup;
  }
  if (r) {
    if (tvm_reject_pc != 0xffff) {
      failf("%s: rejected: code offset 0x%04x (capsule byte %u): %s", jb->capsule_name, tvm_reject_pc, tvm_reject_offset, REJECT_REASON[r]);
    }
    failf("%s: rejected: capsule byte %u: %s", jb->capsule_name, tvm_reject_offset, REJECT_REASON[r]);
  }
#if TVM_WATCHDOG
  tvm.limit = jb->instruction_limit;
#endif
  if (jb->raw) {
    cfg = NULL;
    tc_init(0, 1, 0, 0, 0, 0);
    if (jb->trace_text) raw_trace_parse(&tr, jb->trace_text);
    r = tc_run_virtual(tr.inputs, (uint16_t)tr.ninputs, jb->has_until ? jb->until : 1000000, jb->max_slices, jb->max_reactions);
    if (r) stall(r, jb);
    sb_fmt(out, "{\"outputs\":[%s],\"errors\":[%s],\"calls\":[%s],\"stats\":{", outs.s ? outs.s : "", errs.s ? errs.s : "", calls.s ? calls.s : "");
  } else {
    uint64_t until;
    uint32_t id = TVM_CAPSULE_CONFIG_ID(tvm_mem);
    if (jb->config_text) {
      config_parse(&own_cfg, jb->config_text, jb->config_name);
      if (own_cfg.id != id) {
        failf("%s: configuration id 0x%08x, but %s was compiled for 0x%08x: give the configuration of the .defs the script was compiled with",
              jb->config_name, own_cfg.id, jb->capsule_name, id);
      }
      cfg = &own_cfg;
    } else {
      if (builtin_cfg.json) config_free(&builtin_cfg);
      if (id == TC_TERRANET_ID) config_parse(&builtin_cfg, TC_TERRANET_JSON, "TerraNet");
      else if (id == TC_TERRAGRP_ID) config_parse(&builtin_cfg, TC_TERRAGRP_JSON, "TerraGrp");
      else failf("%s: configuration id 0x%08x is not TerraNet's or TerraGrp's: give its configuration with --config", jb->capsule_name, id);
      cfg = &builtin_cfg;
    }
    if (jb->trace_text) trace_parse(&tr, jb->trace_name, jb->trace_text);
    tc_init(&cfg->map, jb->node_id, (uint8_t)jb->has_seed, jb->seed, tr.readings, (uint16_t)tr.nreadings);
    if (jb->bench_reactions) {
      /* --bench: instructions per second on the capsule's reactions at time 0 (bench/c.ts) */
      uint32_t k;
      double best = 0;
      sb_str(out, "{\"rates\":[");
      report_off = 1;
      tvm_boot();
      for (k = 0; k < jb->bench_rounds; k++) {
        struct timespec t0, t1;
        uint32_t i0 = tvm.stats.instructions, ran;
        double dt, rate;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ran = tvm_run_pending(jb->bench_reactions);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        rate = (double)(tvm.stats.instructions - i0) / dt;
        if (rate > best) best = rate;
        sb_fmt(out, "%s%.0f", k ? "," : "", rate);
        if (!ran) break;
      }
      sb_fmt(out, "],\"best\":%.0f,\"reactions\":%u,\"instructions\":%u}", best, tvm.stats.reactions, tvm.stats.instructions);
      report_off = 0;
      goto cleanup;
    }
    until = jb->has_until ? jb->until : tr.last;
    r = tc_run_virtual(tr.inputs, (uint16_t)tr.ninputs, until + 1, jb->max_slices, jb->max_reactions);
    if (r) stall(r, jb);
    sb_fmt(out, "{\"outputs\":[%s],\"errors\":[%s],\"stats\":{", outs.s ? outs.s : "", errs.s ? errs.s : "");
    {
      uint64_t end = tc_now < until ? tc_now : until;
      sb_fmt(out, "\"reactions\":%u,\"instructions\":%u,\"maxReactionInstructions\":%u,\"queueOverflows\":%u,\"errors\":%u,\"droppedErrors\":%u,\"asyncSlices\":%u,\"halted\":%s,\"end_ms\":%llu",
             tvm.stats.reactions, tvm.stats.instructions, tvm.stats.max_reaction_instructions, tvm.stats.queue_overflows,
             tvm.stats.errors, tvm.stats.dropped_errors, tvm.stats.async_slices, tvm_halted() ? "true" : "false", (unsigned long long)end);
      if (jb->bound) sb_fmt(out, ",\"bound\":%s", jb->bound);
      sb_str(out, "}}");
    }
    goto cleanup;
  }
  /* raw stats */
  sb_fmt(out, "\"reactions\":%u,\"instructions\":%u,\"maxReactionInstructions\":%u,\"queueOverflows\":%u,\"errors\":%u,\"droppedErrors\":%u,\"asyncSlices\":%u},\"halted\":%s,\"now\":%llu}",
         tvm.stats.reactions, tvm.stats.instructions, tvm.stats.max_reaction_instructions, tvm.stats.queue_overflows,
         tvm.stats.errors, tvm.stats.dropped_errors, tvm.stats.async_slices, tvm_halted() ? "true" : "false", (unsigned long long)tc_now);
cleanup:
  fail_armed = 0;
  trace_free(&tr);
  if (own_cfg.json) config_free(&own_cfg);
  free(outs.s);
  free(errs.s);
  free(calls.s);
  memset(&outs, 0, sizeof outs);
  memset(&errs, 0, sizeof errs);
  memset(&calls, 0, sizeof calls);
  if (failed) {
    out->n = 0;
    if (out->s) out->s[0] = 0;
    sb_str(out, fail_msg);
  }
  return failed;
}

/* ---- command line ------------------------------------------------------------------------------------- */
static char *read_file(const char *path, size_t *len, const char *what) {
  FILE *f;
  struct stat st;
  char *buf;
  long n;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) failf("%s %s: is a directory, not a file", what, path);
  f = fopen(path, "rb");
  if (!f) failf("%s %s: %s", what, path, errno == ENOENT ? "no such file" : strerror(errno));
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
    fclose(f);
    failf("%s %s: cannot read it", what, path);
  }
  rewind(f);
  buf = malloc((size_t)n + 1);
  if (n && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    failf("%s %s: read error", what, path);
  }
  fclose(f);
  buf[n] = 0;
  if (len) *len = (size_t)n;
  return buf;
}

static void usage(const char *why) {
  fprintf(stderr, "terra-mote: %s\n"
          "usage: terra-mote CAPSULE [--inputs TRACE.json] [--until MS] [--node-id N] [--seed N] [--config CONFIG.json] [--bound N] [--max-reactions N]\n"
          "       terra-mote --raw CAPSULE [--inputs RAWTRACE.json] [--until MS] [--instruction-limit N] [--max-async-slices N] [--max-reactions N]\n"
          "       terra-mote --batch JOBS.jsonl\n", why);
  exit(2);
}

static uint64_t num_arg(const char *s, const char *name, uint64_t max) {
  char *end;
  unsigned long long v;
  if (!*s) usage("empty number");
  for (end = (char *)s; *end; end++) {
    if (*end < '0' || *end > '9') {
      char m[256];
      snprintf(m, sizeof m, "%s must be an integer 0..%llu, got \"%s\"", name, (unsigned long long)max, s);
      usage(m);
    }
  }
  v = strtoull(s, &end, 10);
  if (v > max) {
    char m[256];
    snprintf(m, sizeof m, "%s must be an integer 0..%llu, got \"%s\"", name, (unsigned long long)max, s);
    usage(m);
  }
  return v;
}

static uint8_t *hex_decode(const char *h, size_t *len) {
  size_t n = strlen(h) / 2, i;
  uint8_t *b = malloc(n + 1);
  for (i = 0; i < n; i++) {
    unsigned x;
    if (sscanf(h + 2 * i, "%2x", &x) != 1) x = 0;
    b[i] = (uint8_t)x;
  }
  *len = n;
  return b;
}

/* --batch: each line {"capsule": HEX, "config": {...}?, "trace": [...]?, "until": N?, "nodeId": N?, "seed": N?,
 * "raw": bool?, "verify": bool?, "instructionLimit": N?, "maxAsyncSlices": N?, "maxReactions": N?}; each result line
 * {"ok": RESULT}, {"error": MESSAGE} or, when virtual time cannot advance, {"error": MESSAGE, "stall": true}. */
/* A batch result line {"error": msg} ({"error": msg, "stall": true} when virtual time cannot advance). */
static void put_error(const char *msg, int stall) {
  sb_t m = { 0 };
  sb_str(&m, "{\"error\":");
  sb_json_str(&m, msg);
  sb_str(&m, stall ? ",\"stall\":true}" : "}");
  puts(m.s);
  free(m.s);
}

static int batch(const char *path) {
  char *text = read_file(path, NULL, "jobs");
  char *line = text, *nl;
  sb_t out = { 0 };
  int lineno = 0;
  for (; line && *line; line = nl ? nl + 1 : NULL) {
    cJSON *j, *x;
    job_t jb;
    char *cfg_text = NULL, *trace_text = NULL;
    uint8_t *cap;
    int failed;
    nl = strchr(line, '\n');
    if (nl) *nl = 0;
    lineno++;
    if (!*line) continue;
    j = cJSON_Parse(line);
    if (!cJSON_IsObject(j)) {
      out.n = 0;
      sb_fmt(&out, "%s:%d: a job is a JSON object on one line", path, lineno);
      put_error(out.s, 0);
      cJSON_Delete(j);
      continue;
    }
    memset(&jb, 0, sizeof jb);
    cap = hex_decode(jstr(j, "capsule"), &jb.capsule_len);
    jb.capsule = cap;
    jb.capsule_name = "capsule";
    x = cJSON_GetObjectItemCaseSensitive(j, "config");
    if (x) jb.config_text = cfg_text = cJSON_PrintUnformatted(x);
    x = cJSON_GetObjectItemCaseSensitive(j, "trace");
    if (x) jb.trace_text = trace_text = cJSON_PrintUnformatted(x);
    jb.trace_name = "trace";
    jb.config_name = "config";
    x = cJSON_GetObjectItemCaseSensitive(j, "until");
    if (cJSON_IsNumber(x)) {
      jb.has_until = 1;
      jb.until = (uint64_t)x->valuedouble;
    }
    x = cJSON_GetObjectItemCaseSensitive(j, "nodeId");
    jb.node_id = (uint16_t)(cJSON_IsNumber(x) ? x->valuedouble : 1);
    x = cJSON_GetObjectItemCaseSensitive(j, "seed");
    if (cJSON_IsNumber(x)) {
      jb.has_seed = 1;
      jb.seed = (uint32_t)x->valuedouble;
    }
    jb.raw = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "raw"));
    jb.verify_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "verify"));
    x = cJSON_GetObjectItemCaseSensitive(j, "instructionLimit");
    jb.instruction_limit = cJSON_IsNumber(x) ? (uint32_t)x->valuedouble : 0;
    x = cJSON_GetObjectItemCaseSensitive(j, "maxAsyncSlices");
    jb.max_slices = cJSON_IsNumber(x) ? (uint32_t)x->valuedouble : TC_STALL_LIMIT;
    x = cJSON_GetObjectItemCaseSensitive(j, "maxReactions");
    jb.max_reactions = cJSON_IsNumber(x) ? (uint32_t)x->valuedouble : TC_STALL_LIMIT;
    out.n = 0;
    failed = run_job(&jb, &out);
    if (failed) {
      put_error(out.s, fail_stall);
    } else {
      printf("{\"ok\":%s}\n", out.s);
    }
    fflush(stdout);
    free(cap);
    free(cfg_text);
    free(trace_text);
    cJSON_Delete(j);
  }
  free(out.s);
  free(text);
  return 0;
}

int main(int argc, char **argv) {
  job_t jb;
  const char *capsule = NULL, *inputs = NULL, *config = NULL;
  sb_t out = { 0 };
  int i, failed;
  memset(&jb, 0, sizeof jb);
  jb.node_id = 1;
  jb.max_slices = TC_STALL_LIMIT;
  jb.max_reactions = TC_STALL_LIMIT;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV() do { if (!v) usage("missing option value"); i++; } while (0)
    if (!strcmp(a, "--batch")) {
      NEEDV();
      return batch(v);
    } else if (!strcmp(a, "--inputs")) {
      NEEDV();
      inputs = v;
    } else if (!strcmp(a, "--until")) {
      NEEDV();
      jb.has_until = 1;
      jb.until = num_arg(v, "--until", 9007199254740991ull);
    } else if (!strcmp(a, "--node-id")) {
      NEEDV();
      jb.node_id = (uint16_t)num_arg(v, "--node-id", 0xffff);
    } else if (!strcmp(a, "--seed")) {
      NEEDV();
      jb.has_seed = 1;
      jb.seed = (uint32_t)num_arg(v, "--seed", 0xffffffffu);
    } else if (!strcmp(a, "--config")) {
      NEEDV();
      config = v;
    } else if (!strcmp(a, "--bound")) {
      NEEDV();
      jb.bound = v;
    } else if (!strcmp(a, "--bench")) {
      NEEDV();
      jb.bench_reactions = (uint32_t)num_arg(v, "--bench", 0xffffffffu);
      if (!jb.bench_rounds) jb.bench_rounds = 5;
    } else if (!strcmp(a, "--rounds")) {
      NEEDV();
      jb.bench_rounds = (uint32_t)num_arg(v, "--rounds", 1000);
    } else if (!strcmp(a, "--raw")) {
      jb.raw = 1;
    } else if (!strcmp(a, "--json")) {
      /* the output is always JSON */
    } else if (!strcmp(a, "--instruction-limit")) {
      NEEDV();
      jb.instruction_limit = (uint32_t)num_arg(v, "--instruction-limit", 0xffffffffu);
    } else if (!strcmp(a, "--max-async-slices")) {
      NEEDV();
      jb.max_slices = (uint32_t)num_arg(v, "--max-async-slices", 0xffffffffu);
    } else if (!strcmp(a, "--max-reactions")) {
      NEEDV();
      jb.max_reactions = (uint32_t)num_arg(v, "--max-reactions", 0xffffffffu);
    } else if (a[0] == '-' && a[1]) {
      char m[256];
      snprintf(m, sizeof m, "unknown option %s", a);
      usage(m);
    } else if (!capsule) {
      capsule = a;
    } else {
      usage("more than one capsule");
    }
  }
  if (!capsule) usage("no capsule");
  jb.capsule = (const uint8_t *)read_file(capsule, &jb.capsule_len, "capsule");
  jb.capsule_name = capsule;
  if (config) {
    jb.config_text = read_file(config, NULL, "configuration");
    jb.config_name = config;
  }
  if (inputs) {
    jb.trace_text = read_file(inputs, NULL, "trace");
    jb.trace_name = inputs;
  }
  failed = run_job(&jb, &out);
  if (failed) {
    fprintf(stderr, "terra-mote: %s\n", out.s);
    return fail_stall ? 3 : 1;
  }
  printf("%s\n", out.s);
  return 0;
}
