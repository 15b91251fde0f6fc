/*
 * terra-diss-mote: one C mote of a dissemination network on Linux. The
 * protocol is diss/diss.c (the C twin of components/dissemination/node.ts);
 * this file is its host platform:
 *
 *  - radio: UDP datagrams on an IPv4 multicast group (default
 *    239.255.42.99:47474 on the loopback interface), one datagram per frame:
 *    source address (u16 LE) | destination (u16 LE, 0xFFFF) | frame. Every
 *    mote hears every datagram of the group and keeps those of its
 *    --neighbours (radio neighbourhood, so multi-hop topologies work on one
 *    group), minus --loss (seeded); components/dissemination/udp.ts is the
 *    TypeScript side of the same transport;
 *  - cryptography: OpenSSL libcrypto (EVP_DigestVerify with an Ed25519 key,
 *    RFC 8032; EVP_Digest SHA-256; HMAC-SHA-256, RFC 2104);
 *  - store: one file per record in --store DIR, the names of store.ts
 *    (`installed`, `fetch.manifest`, `fetch.<i>`), replaced by writing a
 *    temporary file, fsync and rename (a mote killed at any point keeps
 *    either the old record or the new one);
 *  - the VM: core/ (tvm.h). A capsule is checked by the bytecode verifier in
 *    a child process (tvm_load in a fork, so the running program is not
 *    disturbed), and becomes the program only when the whole capsule has
 *    verified: then tvm_load + tvm_boot, in real time (ms since the switch).
 *    Functions return 0 and outputs are counted (printed with --outputs),
 *    as terra-mote --raw does.
 *
 *   terra-diss-mote --id N --store DIR (--key PUB.pem | --psk FILE [--key PUB.pem])
 *                   [--capsule FACTORY.cap] [--inject NEW.cap [--inject-at MS]]
 *                   [--udp GROUP:PORT] [--iface ADDR] [--neighbours 2,3,...]
 *                   [--loss P] [--seed N] [--duration MS] [--script-space BYTES]
 *                   [--config-id ID] [--imin MS] [--imax MS] [--data-gap MS] [--outputs]
 *   terra-diss-mote --decode     hex frames on stdin, one JSON line each on stdout
 *
 * Log: one JSON object per line on stdout, each with t (ms since start),
 * wall (Unix ms), id and ev: boot, install, manifest, reject, inject, output,
 * end (docs/dissemination.md "C motes"). Exit codes: 0; 1 bad input (a key,
 * capsule or store that cannot be used); 2 usage.
 */
#define _DEFAULT_SOURCE /* struct ip_mreq, IN_MULTICAST */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include "../../core/tvm.h"
#include "../../diss/diss.h"

#define UDP_HEADER 4 /* source u16 | destination u16 */

/* ---- options and state ------------------------------------------------------------------- */
static struct {
  uint16_t id;
  const char *store;
  const char *key_path, *psk_path, *capsule_path, *inject_path;
  uint32_t inject_at;
  struct in_addr group, iface;
  uint16_t port;
  uint16_t neighbours[256];
  int nneighbours;         /* -1: hear everybody */
  double loss;
  uint64_t seed;
  int64_t duration;        /* ms, -1: until a signal */
  uint32_t script_space;
  int has_config;
  uint32_t config_id;
  int outputs;
} opt;

static EVP_PKEY *pubkey;
static uint8_t psk[64];
static size_t psk_len;
static int sock = -1;
static struct timespec t0;
static diss_t mote;
static uint8_t work[DISS_WORK_BYTES];
static uint64_t loss_state;
static volatile sig_atomic_t stop_signal;
static uint32_t vm_epoch, vm_version, vm_outputs, vm_errors;
static int vm_on;
static uint32_t dropped_loss, dropped_other, bad_datagrams;

volatile uint8_t tvm_chain_stop;

static void die(int code, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "terra-diss-mote: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(code);
}

static uint32_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint32_t)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
}

/* ---- JSON-lines log ------------------------------------------------------------------------ */
static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

/* Start a log line: {"t":..,"wall":..,"id":..,"ev":"<ev>" — the caller adds fields and ends it with log_end. */
static void log_begin(const char *ev) {
  struct timespec w;
  clock_gettime(CLOCK_REALTIME, &w);
  printf("{\"t\":%u,\"wall\":%lld,\"id\":%u,\"ev\":\"%s\"", now_ms(), (long long)w.tv_sec * 1000 + w.tv_nsec / 1000000, opt.id, ev);
}
static void log_end(void) {
  fputs("}\n", stdout);
  fflush(stdout);
}

/* ---- cryptography (OpenSSL libcrypto) ---------------------------------------------------------- */
static void h_sha256(void *ctx, const uint8_t *data, uint32_t len, uint8_t out[32]) {
  unsigned int n = 32;
  (void)ctx;
  if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL)) memset(out, 0, 32); /* never matches a digest */
}

static int h_ed25519_verify(void *ctx, const uint8_t *msg, uint32_t len, const uint8_t sig[64]) {
  EVP_MD_CTX *md;
  int ok;
  (void)ctx;
  if (!pubkey) return -1;
  md = EVP_MD_CTX_new();
  if (!md) return 0;
  ok = EVP_DigestVerifyInit(md, NULL, NULL, NULL, pubkey) == 1 && EVP_DigestVerify(md, sig, 64, msg, len) == 1;
  EVP_MD_CTX_free(md);
  return ok;
}

static int h_hmac(void *ctx, const uint8_t *data, uint32_t len, uint8_t out[32]) {
  unsigned int n = 32;
  (void)ctx;
  if (!psk_len) return -1;
  return HMAC(EVP_sha256(), psk, (int)psk_len, data, len, out, &n) ? 0 : -1;
}

/* ---- store: one file per record ------------------------------------------------------------------- */
static void key_path(char *out, size_t cap, uint8_t kind, uint16_t index) {
  if (kind == DISS_KEY_INSTALLED) snprintf(out, cap, "%s/installed", opt.store);
  else if (kind == DISS_KEY_MANIFEST) snprintf(out, cap, "%s/fetch.manifest", opt.store);
  else snprintf(out, cap, "%s/fetch.%u", opt.store, index);
}

static int32_t h_read(void *ctx, uint8_t kind, uint16_t index, uint32_t off, uint8_t *buf, uint32_t cap) {
  char p[4200];
  struct stat st;
  int fd;
  ssize_t n;
  (void)ctx;
  key_path(p, sizeof p, kind, index);
  fd = open(p, O_RDONLY);
  if (fd < 0) return -1;
  if (fstat(fd, &st) || st.st_size > 0x7fffffff) {
    close(fd);
    return -1;
  }
  if (off < (uint64_t)st.st_size && cap) {
    n = pread(fd, buf, cap, off);
    if (n < 0) {
      close(fd);
      return -1;
    }
  }
  close(fd);
  return (int32_t)st.st_size;
}

static int h_write(void *ctx, uint8_t kind, uint16_t index, const uint8_t *data, uint32_t len) {
  char p[4200], tmp[4210];
  int fd, ok;
  (void)ctx;
  key_path(p, sizeof p, kind, index);
  snprintf(tmp, sizeof tmp, "%s.tmp", p);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, p)) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

static void h_erase(void *ctx, uint8_t kind, uint16_t index) {
  char p[4200];
  (void)ctx;
  key_path(p, sizeof p, kind, index);
  unlink(p);
}

static void h_erase_fetch(void *ctx) {
  DIR *dir = opendir(opt.store);
  struct dirent *e;
  char p[4200];
  (void)ctx;
  if (!dir) return;
  while ((e = readdir(dir))) {
    if (strncmp(e->d_name, "fetch.", 6)) continue;
    snprintf(p, sizeof p, "%s/%s", opt.store, e->d_name);
    unlink(p);
  }
  closedir(dir);
}

/* ---- the VM ---------------------------------------------------------------------------------------- */
static void log_output(uint8_t id, int32_t v, int record) {
  vm_outputs++;
  if (!opt.outputs) return;
  log_begin("output");
  printf(",\"version\":%u,\"output\":%u,\"value\":%d,\"record\":%s", vm_version, id, v, record ? "true" : "false");
  log_end();
}
void tvm_host_output(uint8_t id, int32_t v) {
  log_output(id, v, 0);
}
void tvm_host_output_rec(uint8_t id, const uint8_t *rec, uint8_t len) {
  (void)rec;
  (void)len;
  log_output(id, 0, 1);
}
int32_t tvm_host_call(uint8_t id, const int32_t *args, uint8_t n) {
  (void)id;
  (void)args;
  (void)n;
  return 0;
}
void tvm_host_error(uint8_t code, uint16_t pc) {
  vm_errors++;
  (void)code;
  (void)pc;
}

/* tvm_load in a child process: the verdict without touching the running program. */
static uint8_t h_verify(void *ctx, const uint8_t *capsule, uint32_t len, char *why, uint32_t cap) {
  pid_t pid;
  int st;
  (void)ctx;
  if (len > TVM_MEM_BYTES) {
    snprintf(why, cap, "the capsule (%u bytes) does not fit this VM's memory (%u bytes)", (unsigned)len, (unsigned)TVM_MEM_BYTES);
    return DISS_R_UNVERIFIABLE;
  }
  fflush(stdout);
  pid = fork();
  if (pid < 0) {
    snprintf(why, cap, "cannot run the verifier: fork: %s", strerror(errno));
    return DISS_R_UNVERIFIABLE;
  }
  if (pid == 0) {
    memcpy(tvm_mem, capsule, len);
    _exit(tvm_load((tvm_off_t)len));
  }
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (WIFEXITED(st) && WEXITSTATUS(st) == TVM_OK) return 0;
  if (!WIFEXITED(st)) {
    snprintf(why, cap, "the verifier did not finish (signal %d)", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return DISS_R_UNVERIFIABLE;
  }
  snprintf(why, cap, "the bytecode verifier refuses it (core/tvm.h TVM_E_* code %d)", WEXITSTATUS(st));
  return WEXITSTATUS(st) <= TVM_E_TABLES ? DISS_R_MALFORMED : DISS_R_UNVERIFIABLE;
}

static void h_installed(void *ctx, const uint8_t *capsule, uint32_t len, uint32_t version, uint8_t at_boot) {
  uint8_t r;
  (void)ctx;
  memcpy(tvm_mem, capsule, len);
  r = tvm_load((tvm_off_t)len);
  vm_on = r == TVM_OK;
  vm_version = version;
  vm_epoch = now_ms();
  if (vm_on) {
    tvm.now = 0;
    tvm_boot();
  }
  log_begin("install");
  printf(",\"version\":%u,\"bytes\":%u,\"boot\":%s,\"running\":%s", version, len, at_boot ? "true" : "false", vm_on ? "true" : "false");
  log_end();
}

static void h_rejected(void *ctx, uint8_t reason, uint32_t version, uint16_t from, const char *detail) {
  (void)ctx;
  log_begin("reject");
  printf(",\"reason\":\"%s\",\"version\":%u", diss_reason_name(reason), version);
  if (from != DISS_BROADCAST) printf(",\"from\":%u", from);
  printf(",\"detail\":");
  json_str(detail);
  log_end();
}

static void h_manifest(void *ctx, uint32_t version, uint16_t blocks, uint8_t restored) {
  (void)ctx;
  log_begin("manifest");
  printf(",\"version\":%u,\"restored\":%s,\"blocks\":%u", version, restored ? "true" : "false", blocks);
  log_end();
}

/* Run the program's reactions up to now (timers at their deadlines); the ms until its next timer. */
static uint32_t vm_run(uint32_t now) {
  uint32_t t = now - vm_epoch, dl;
  int guard = 100000;
  if (!vm_on || tvm_halted()) return UINT32_MAX;
  while (guard-- > 0 && tvm_next_deadline(&dl) && dl <= t - tvm.now) {
    tvm.now += dl;
    tvm_run_pending(1000);
    if (tvm_halted()) return UINT32_MAX;
  }
  tvm.now = t;
  if (tvm_run_pending(1000) >= 1000) return 0; /* more to do at this time */
  return tvm_next_deadline(&dl) ? dl : UINT32_MAX;
}

/* ---- radio: UDP multicast ------------------------------------------------------------------------------- */
static void h_send(void *ctx, const uint8_t *frame, uint8_t len) {
  uint8_t dg[UDP_HEADER + DISS_MAX_FRAME];
  struct sockaddr_in to;
  (void)ctx;
  dg[0] = (uint8_t)opt.id;
  dg[1] = (uint8_t)(opt.id >> 8);
  dg[2] = dg[3] = 0xff;
  memcpy(dg + UDP_HEADER, frame, len);
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_addr = opt.group;
  to.sin_port = htons(opt.port);
  if (sendto(sock, dg, (size_t)UDP_HEADER + len, 0, (struct sockaddr *)&to, sizeof to) < 0) {
    log_begin("send-error");
    printf(",\"error\":");
    json_str(strerror(errno));
    log_end();
  }
}

static void open_socket(void) {
  struct sockaddr_in a;
  struct ip_mreq mreq;
  int one = 1;
  unsigned char loop = 1, ttl = 1;
  sock = socket(AF_INET, SOCK_DGRAM, 0);
  if (sock < 0) die(1, "socket: %s", strerror(errno));
  if (setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)) die(1, "SO_REUSEADDR: %s", strerror(errno));
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(opt.port);
  a.sin_addr = opt.group; /* only the group's datagrams */
  if (bind(sock, (struct sockaddr *)&a, sizeof a)) die(1, "bind %s:%u: %s", inet_ntoa(opt.group), opt.port, strerror(errno));
  mreq.imr_multiaddr = opt.group;
  mreq.imr_interface = opt.iface;
  if (setsockopt(sock, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq)) die(1, "joining %s on %s: %s", inet_ntoa(opt.group), inet_ntoa(opt.iface), strerror(errno));
  if (setsockopt(sock, IPPROTO_IP, IP_MULTICAST_IF, &opt.iface, sizeof opt.iface)) die(1, "IP_MULTICAST_IF: %s", strerror(errno));
  if (setsockopt(sock, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop)) die(1, "IP_MULTICAST_LOOP: %s", strerror(errno));
  if (setsockopt(sock, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl)) die(1, "IP_MULTICAST_TTL: %s", strerror(errno));
}

/* xorshift64* (Vigna 2016): the emulated loss, seeded, reproducible per mote. */
static double loss_draw(void) {
  loss_state ^= loss_state >> 12;
  loss_state ^= loss_state << 25;
  loss_state ^= loss_state >> 27;
  return (double)((loss_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static int hears(uint16_t from) {
  int i;
  if (from == opt.id) return 0; /* our own datagram, looped back */
  if (opt.nneighbours < 0) return 1;
  for (i = 0; i < opt.nneighbours; i++) if (opt.neighbours[i] == from) return 1;
  return 0;
}

static void receive_datagram(void) {
  uint8_t dg[2048];
  ssize_t n = recv(sock, dg, sizeof dg, 0);
  uint16_t from;
  if (n < 0) return;
  if (n < UDP_HEADER + 1) {
    bad_datagrams++;
    return;
  }
  from = (uint16_t)(dg[0] | (dg[1] << 8));
  if (!hears(from)) {
    dropped_other++;
    return;
  }
  if (opt.loss > 0 && loss_draw() < opt.loss) {
    dropped_loss++;
    return;
  }
  diss_receive(&mote, dg + UDP_HEADER, (uint32_t)(n - UDP_HEADER), from, now_ms());
}

/* ---- command line --------------------------------------------------------------------------------------------- */
static void usage(const char *why) {
  fprintf(stderr,
          "terra-diss-mote: %s\n"
          "usage: terra-diss-mote --id N --store DIR (--key PUB.pem | --psk FILE [--key PUB.pem]) [--capsule FACTORY.cap]\n"
          "         [--inject NEW.cap [--inject-at MS]] [--udp GROUP:PORT] [--iface ADDR] [--neighbours 2,3,...]\n"
          "         [--loss P] [--seed N] [--duration MS] [--script-space BYTES] [--config-id ID]\n"
          "         [--imin MS] [--imax MS] [--data-gap MS] [--outputs]\n"
          "       terra-diss-mote --decode   (hex frames on stdin, one JSON line each)\n",
          why);
  exit(2);
}

static uint64_t num(const char *s, const char *name, uint64_t min, uint64_t max) {
  char *end;
  unsigned long long v;
  errno = 0;
  if (!s || !*s || *s == '-') usage("a flag needs a non-negative number");
  v = strtoull(s, &end, 0);
  if (errno || *end || v < min || v > max) {
    fprintf(stderr, "terra-diss-mote: %s %s: not a number in %llu..%llu\n", name, s, (unsigned long long)min, (unsigned long long)max);
    exit(2);
  }
  return v;
}

static uint8_t *read_all(const char *path, size_t *len, size_t max, const char *what) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  size_t n;
  if (!f) die(1, "%s %s: %s", what, path, strerror(errno));
  buf = malloc(max + 1);
  if (!buf) die(1, "out of memory");
  n = fread(buf, 1, max + 1, f);
  if (ferror(f)) die(1, "%s %s: %s", what, path, strerror(errno));
  fclose(f);
  if (n > max) die(1, "%s %s: larger than %zu bytes", what, path, max);
  *len = n;
  return buf;
}

static void load_key(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) die(1, "public key %s: %s", path, strerror(errno));
  pubkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
  fclose(f);
  if (!pubkey) die(1, "public key %s: not a PEM public key (SubjectPublicKeyInfo; create one with `terra keygen`)", path);
  if (EVP_PKEY_id(pubkey) != EVP_PKEY_ED25519) die(1, "public key %s: not an Ed25519 key (the network key must be Ed25519)", path);
}

/* A PSK file: hex digits, blanks ignored, 16..64 bytes (components/security/keys.ts parsePsk). */
static void load_psk(const char *path) {
  size_t len, i, nd = 0;
  uint8_t *t = read_all(path, &len, 4096, "PSK");
  for (i = 0; i < len; i++) {
    int c = t[i], v;
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (v < 0 || nd / 2 >= sizeof psk) die(1, "PSK %s: a PSK file holds 16..64 bytes as hex digits (create one with `terra keygen --psk`)", path);
    psk[nd / 2] = (uint8_t)(nd % 2 ? psk[nd / 2] | v : v << 4);
    nd++;
  }
  free(t);
  if (nd % 2 || nd / 2 < 16) die(1, "PSK %s: a PSK file holds 16..64 bytes as hex digits (create one with `terra keygen --psk`)", path);
  psk_len = nd / 2;
}

static void parse_udp(const char *s) {
  char host[64];
  const char *colon = s ? strrchr(s, ':') : NULL;
  if (!colon || (size_t)(colon - s) >= sizeof host) usage("--udp takes GROUP:PORT, e.g. 239.255.42.99:47474");
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = 0;
  if (inet_pton(AF_INET, host, &opt.group) != 1 || !IN_MULTICAST(ntohl(opt.group.s_addr))) {
    fprintf(stderr, "terra-diss-mote: --udp %s: %s is not an IPv4 multicast group (224.0.0.0/4)\n", s, host);
    exit(2);
  }
  opt.port = (uint16_t)num(colon + 1, "--udp port", 1, 65535);
}

static void parse_neighbours(const char *s) {
  char *end;
  opt.nneighbours = 0;
  if (!s) usage("--neighbours needs a list of mote ids");
  while (*s) {
    unsigned long v;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (end == s || errno || v < 1 || v > 65534 || (*end && *end != ',')) {
      fprintf(stderr, "terra-diss-mote: --neighbours %s: a comma-separated list of mote ids 1..65534\n", s);
      exit(2);
    }
    if (opt.nneighbours == 256) usage("--neighbours lists at most 256 motes");
    opt.neighbours[opt.nneighbours++] = (uint16_t)v;
    s = *end ? end + 1 : end;
  }
}

/* --decode: the frame decoder and encoder on hex lines (test/diss-c-interop.test.ts compares them with frames.ts). */
static const char *const FRAME_FAULT[] = { "", "empty frame", "frame too long", "wrong length for its type", "unknown frame type" };
static int decode_mode(void) {
  char line[1024];
  while (fgets(line, sizeof line, stdin)) {
    uint8_t b[600], out[DISS_MAX_FRAME];
    size_t n = 0, i;
    diss_frame_t f;
    uint8_t r, m;
    for (i = 0; line[i] && line[i] != '\n' && n < sizeof b; i += 2) {
      unsigned v;
      if (sscanf(line + i, "%2x", &v) != 1) break;
      b[n++] = (uint8_t)v;
    }
    r = diss_decode(b, (uint32_t)n, &f);
    if (r) {
      printf("{\"malformed\":\"%s\"}\n", FRAME_FAULT[r]);
      continue;
    }
    printf("{\"type\":%u,\"version\":%u", f.type, f.version);
    if (f.type == DISS_FRAME_ADV) printf(",\"configId\":%u,\"blocks\":%u", f.config_id, f.blocks);
    if (f.type == DISS_FRAME_REQ) printf(",\"target\":%u,\"first\":%u", f.target, f.first);
    if (f.type == DISS_FRAME_DATA) printf(",\"segment\":%u", f.segment);
    if (f.type == DISS_FRAME_FLOOD) printf(",\"round\":%u,\"configId\":%u,\"blocks\":%u,\"segment\":%u", f.round, f.config_id, f.blocks, f.segment);
    if (f.bytes) {
      printf(",\"%s\":\"", f.type == DISS_FRAME_REQ ? "bitmap" : "payload");
      for (i = 0; i < f.n; i++) printf("%02x", f.bytes[i]);
      putchar('"');
    }
    m = diss_encode(&f, out);
    printf(",\"encoded\":\"");
    for (i = 0; i < m; i++) printf("%02x", out[i]);
    printf("\"}\n");
  }
  return 0;
}

static void on_signal(int s) { stop_signal = s; }

static const diss_platform_t PLATFORM = {
  h_send, h_read, h_write, h_erase, h_erase_fetch, h_sha256, h_ed25519_verify, h_hmac, h_verify, h_installed, h_rejected, h_manifest,
};

int main(int argc, char **argv) {
  diss_params_t p;
  uint8_t *inject = NULL;
  size_t inject_len = 0;
  int i, has_id = 0;
  uint32_t end_at = 0;
  struct stat st;
  struct sigaction sa;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  diss_default_params(&p);
  memset(&opt, 0, sizeof opt);
  opt.nneighbours = -1;
  opt.duration = -1;
  opt.script_space = 65535;
  inet_pton(AF_INET, "239.255.42.99", &opt.group);
  inet_pton(AF_INET, "127.0.0.1", &opt.iface);
  opt.port = 47474;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--decode")) return decode_mode();
    if (!strcmp(a, "--outputs")) {
      opt.outputs = 1;
      continue;
    }
    if (strncmp(a, "--", 2)) usage("unexpected argument (every option is a --flag)");
    if (!v) usage("a flag is missing its value");
    i++;
    if (!strcmp(a, "--id")) {
      opt.id = (uint16_t)num(v, a, 1, 65534);
      has_id = 1;
    } else if (!strcmp(a, "--store")) opt.store = v;
    else if (!strcmp(a, "--key")) opt.key_path = v;
    else if (!strcmp(a, "--psk")) opt.psk_path = v;
    else if (!strcmp(a, "--capsule")) opt.capsule_path = v;
    else if (!strcmp(a, "--inject")) opt.inject_path = v;
    else if (!strcmp(a, "--inject-at")) opt.inject_at = (uint32_t)num(v, a, 0, 86400000);
    else if (!strcmp(a, "--udp")) parse_udp(v);
    else if (!strcmp(a, "--iface")) {
      if (inet_pton(AF_INET, v, &opt.iface) != 1) usage("--iface takes an IPv4 address, e.g. 127.0.0.1");
    } else if (!strcmp(a, "--neighbours")) parse_neighbours(v);
    else if (!strcmp(a, "--loss")) {
      char *end;
      opt.loss = strtod(v, &end);
      if (*end || end == v || !(opt.loss >= 0 && opt.loss < 1)) usage("--loss takes a probability in [0, 1)");
    } else if (!strcmp(a, "--seed")) opt.seed = num(v, a, 0, UINT64_MAX);
    else if (!strcmp(a, "--duration")) opt.duration = (int64_t)num(v, a, 1, 86400000);
    else if (!strcmp(a, "--script-space")) opt.script_space = (uint32_t)num(v, a, 1, UINT32_MAX);
    else if (!strcmp(a, "--config-id")) {
      opt.config_id = (uint32_t)num(v, a, 0, UINT32_MAX);
      opt.has_config = 1;
    } else if (!strcmp(a, "--imin")) p.imin_ms = (uint32_t)num(v, a, 1, 3600000);
    else if (!strcmp(a, "--imax")) p.imax_ms = (uint32_t)num(v, a, 1, 86400000);
    else if (!strcmp(a, "--data-gap")) p.data_gap_ms = (uint32_t)num(v, a, 1, 10000);
    else {
      fprintf(stderr, "terra-diss-mote: unknown flag %s\n", a);
      usage("see the flags below");
    }
  }
  if (!has_id) usage("--id N is required (the mote's 16-bit address, 1..65534)");
  if (!opt.store) usage("--store DIR is required (where the mote keeps its capsule and transfer)");
  if (strlen(opt.store) > 4000) usage("--store DIR: the path is longer than 4000 characters");
  if (!opt.key_path && !opt.psk_path) usage("give the network's --key PUB.pem (ed25519 mode) or --psk FILE (psk mode)");
  if (p.imax_ms < p.imin_ms) usage("--imax must be at least --imin");
  if (opt.key_path) load_key(opt.key_path);
  if (opt.psk_path) load_psk(opt.psk_path);
  if (mkdir(opt.store, 0755) && errno != EEXIST) die(1, "store %s: %s", opt.store, strerror(errno));
  if (stat(opt.store, &st) || !S_ISDIR(st.st_mode)) die(1, "store %s: not a directory", opt.store);
  if (opt.capsule_path) {
    /* the factory image: the store's installed record unless the store already has one */
    size_t n;
    uint8_t *c = read_all(opt.capsule_path, &n, DISS_WORK_BYTES, "capsule");
    if (n < DISS_HEADER_BYTES || c[0] != 0x54 || c[1] != 0x43) die(1, "capsule %s: not a Terra-TS capsule", opt.capsule_path);
    if (!opt.has_config) {
      opt.config_id = TVM_CAPSULE_CONFIG_ID(c);
      opt.has_config = 1;
    }
    if (h_read(NULL, DISS_KEY_INSTALLED, 0, 0, NULL, 0) < 0 && h_write(NULL, DISS_KEY_INSTALLED, 0, c, (uint32_t)n))
      die(1, "store %s: cannot write: %s", opt.store, strerror(errno));
    free(c);
  }
  if (!opt.has_config) {
    uint8_t h[12];
    if (h_read(NULL, DISS_KEY_INSTALLED, 0, 0, h, sizeof h) < (int32_t)sizeof h) usage("give --config-id or a --capsule (the configuration id is the capsule's)");
    opt.config_id = TVM_CAPSULE_CONFIG_ID(h);
  }
  if (opt.inject_path) inject = read_all(opt.inject_path, &inject_len, DISS_WORK_BYTES, "capsule to inject");
  loss_state = opt.seed * 0x9e3779b97f4a7c15ull + opt.id + 1;
  open_socket();

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  diss_init(&mote, opt.id, opt.config_id, opt.script_space, psk_len ? DISS_AUTH_PSK : DISS_AUTH_ED25519, &p, &PLATFORM, NULL,
            work, sizeof work, (uint32_t)(opt.seed * 2654435761u) ^ (uint32_t)(opt.id * 40503u) ^ 0x5bd1e995u);
  log_begin("start");
  printf(",\"mode\":\"%s\",\"config\":%u,\"udp\":\"%s:%u\"", psk_len ? "psk" : "ed25519", opt.config_id, inet_ntoa(opt.group), opt.port);
  log_end();
  diss_boot(&mote, now_ms());
  log_begin("boot");
  printf(",\"version\":%u", mote.held_version);
  log_end();
  if (opt.duration >= 0) end_at = (uint32_t)opt.duration;

  while (!stop_signal) {
    uint32_t now = now_ms(), delay = 1000, d;
    struct pollfd pfd;
    if (opt.duration >= 0 && (int32_t)(now - end_at) >= 0) break;
    if (inject && (int32_t)(now - opt.inject_at) >= 0) {
      uint8_t r = diss_inject(&mote, inject, (uint32_t)inject_len, now);
      log_begin("inject");
      printf(",\"version\":%u,\"ok\":%s", inject_len >= 8 ? (uint32_t)inject[4] | ((uint32_t)inject[5] << 8) | ((uint32_t)inject[6] << 16) | ((uint32_t)inject[7] << 24) : 0u,
             r ? "false" : "true");
      if (r) printf(",\"reason\":\"%s\"", diss_reason_name(r));
      log_end();
      free(inject);
      inject = NULL;
    }
    diss_poll(&mote, now);
    d = vm_run(now);
    if (d < delay) delay = d;
    if (diss_next_deadline(&mote, now, &d) && d < delay) delay = d;
    if (inject && opt.inject_at - now < delay) delay = opt.inject_at - now;
    if (opt.duration >= 0 && end_at - now < delay) delay = end_at - now;
    pfd.fd = sock;
    pfd.events = POLLIN;
    if (poll(&pfd, 1, (int)delay) > 0 && (pfd.revents & POLLIN)) receive_datagram();
  }
  {
    uint16_t have, blocks;
    uint32_t rv = diss_receiving(&mote, &have, &blocks);
    const diss_stats_t *s = &mote.stats;
    log_begin("end");
    printf(",\"version\":%u,\"receiving\":%u,\"haveBlocks\":%u,\"blocks\":%u", mote.held_version, rv, have, blocks);
    printf(",\"stats\":{\"sent\":{\"adv\":%u,\"req\":%u,\"data\":%u},\"heard\":{\"adv\":%u,\"req\":%u,\"data\":%u}", s->sent_adv, s->sent_req,
           s->sent_data, s->heard_adv, s->heard_req, s->heard_data);
    printf(",\"malformed\":%u,\"otherConfig\":%u,\"suppressedData\":%u,\"suppressedReq\":%u,\"tamperedBlocks\":%u,\"badManifests\":%u",
           s->malformed, s->other_config, s->suppressed_data, s->suppressed_req, s->tampered_blocks, s->bad_manifests);
    printf(",\"early\":%u,\"installs\":%u,\"corruptStore\":%u,\"tooManyBlocks\":%u,\"storeErrors\":%u}", s->early, s->installs, s->corrupt_store,
           s->too_many_blocks, s->store_errors);
    printf(",\"udp\":{\"lost\":%u,\"notNeighbour\":%u,\"bad\":%u},\"vm\":{\"version\":%u,\"running\":%s,\"reactions\":%u,\"outputs\":%u,\"errors\":%u}",
           dropped_loss, dropped_other, bad_datagrams, vm_version, vm_on && !tvm_halted() ? "true" : "false", vm_on ? tvm.stats.reactions : 0,
           vm_outputs, vm_errors);
    log_end();
  }
  close(sock);
  EVP_PKEY_free(pubkey);
  return 0;
}
