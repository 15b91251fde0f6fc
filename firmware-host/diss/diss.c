/*
 * Capsule dissemination in C (diss.h): the state machine of
 * components/dissemination/node.ts, rule for rule, on the platform's hooks.
 * docs/dissemination.md ("The state machine of a mote") is the specification;
 * comments name the TypeScript function each part follows.
 */
#include <stdio.h>
#include "diss.h"

/* ---- little-endian fields ---------------------------------------------------------- */
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }

/* ---- frames (frames.ts) ---------------------------------------------------------------- */
uint8_t diss_decode(const uint8_t *b, uint32_t len, diss_frame_t *f) {
  memset(f, 0, sizeof *f);
  if (len < 1) return DISS_F_EMPTY;
  if (len > DISS_MAX_FRAME) return DISS_F_TOO_LONG;
  f->type = b[0];
  switch (b[0]) {
    case DISS_FRAME_ADV:
      if (len != DISS_ADV_BYTES) return DISS_F_LENGTH;
      f->version = rd32(b + 1);
      f->config_id = rd32(b + 5);
      f->blocks = rd16(b + 9);
      return DISS_F_OK;
    case DISS_FRAME_REQ:
      if (len < DISS_REQ_HEADER + 1 || b[9] < 1 || len != (uint32_t)DISS_REQ_HEADER + b[9]) return DISS_F_LENGTH;
      f->version = rd32(b + 1);
      f->target = rd16(b + 5);
      f->first = rd16(b + 7);
      f->n = b[9];
      f->bytes = b + DISS_REQ_HEADER;
      return DISS_F_OK;
    case DISS_FRAME_DATA:
      if (len < DISS_DATA_HEADER + 1) return DISS_F_LENGTH;
      f->version = rd32(b + 1);
      f->segment = rd16(b + 5);
      f->n = (uint8_t)(len - DISS_DATA_HEADER);
      f->bytes = b + DISS_DATA_HEADER;
      return DISS_F_OK;
    case DISS_FRAME_FLOOD:
      if (len < DISS_FLOOD_HEADER + 1) return DISS_F_LENGTH;
      f->round = rd16(b + 1);
      f->version = rd32(b + 3);
      f->config_id = rd32(b + 7);
      f->blocks = rd16(b + 11);
      f->segment = rd16(b + 13);
      f->n = (uint8_t)(len - DISS_FLOOD_HEADER);
      f->bytes = b + DISS_FLOOD_HEADER;
      return DISS_F_OK;
    default:
      return DISS_F_TYPE;
  }
}

uint8_t diss_encode(const diss_frame_t *f, uint8_t *out) {
  uint32_t n;
  out[0] = f->type;
  switch (f->type) {
    case DISS_FRAME_ADV:
      wr32(out + 1, f->version);
      wr32(out + 5, f->config_id);
      wr16(out + 9, f->blocks);
      return DISS_ADV_BYTES;
    case DISS_FRAME_REQ:
      if (f->n < 1 || f->n > DISS_MAX_BITMAP) return 0;
      wr32(out + 1, f->version);
      wr16(out + 5, f->target);
      wr16(out + 7, f->first);
      out[9] = f->n;
      memcpy(out + DISS_REQ_HEADER, f->bytes, f->n);
      return (uint8_t)(DISS_REQ_HEADER + f->n);
    case DISS_FRAME_DATA:
      n = (uint32_t)DISS_DATA_HEADER + f->n;
      if (f->n < 1 || n > DISS_MAX_FRAME) return 0;
      wr32(out + 1, f->version);
      wr16(out + 5, f->segment);
      memcpy(out + DISS_DATA_HEADER, f->bytes, f->n);
      return (uint8_t)n;
    case DISS_FRAME_FLOOD:
      n = (uint32_t)DISS_FLOOD_HEADER + f->n;
      if (f->n < 1 || n > DISS_MAX_FRAME) return 0;
      wr16(out + 1, f->round);
      wr32(out + 3, f->version);
      wr32(out + 7, f->config_id);
      wr16(out + 11, f->blocks);
      wr16(out + 13, f->segment);
      memcpy(out + DISS_FLOOD_HEADER, f->bytes, f->n);
      return (uint8_t)n;
    default:
      return 0;
  }
}

static const char *const REASONS[] = {
  "", "malformed", "unsigned", "tampered", "bad-signature", "wrong-config", "rollback", "too-large", "unverifiable",
};

const char *diss_reason_name(uint8_t reason) {
  return reason >= 1 && reason <= DISS_R_UNVERIFIABLE ? REASONS[reason] : "unknown";
}

void diss_default_params(diss_params_t *p) {
  p->imin_ms = 1000;
  p->imax_ms = 64000;
  p->k = 1;
  p->request_delay_ms = 40;
  p->request_timeout_ms = 150;
  p->data_gap_ms = 8;
  p->max_request_tries = 3;
}

/* ---- small helpers ------------------------------------------------------------------------ */
static uint32_t rand32(diss_t *d) {
  /* xorshift32 (Marsaglia 2003): timing jitter only, not security */
  uint32_t x = d->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  d->rng = x;
  return x;
}
/* Uniform integer in [0, n) (0 when n is 0). */
static uint32_t rand_below(diss_t *d, uint32_t n) { return n ? rand32(d) % n : 0; }

static void arm(diss_t *d, diss_timer_t *t, uint32_t delay) {
  t->armed = 1;
  t->at = d->now + delay;
}
static uint8_t due(const diss_timer_t *t, uint32_t now) { return t->armed && (int32_t)(now - t->at) >= 0; }

static uint8_t bit(const uint8_t *bits, uint32_t i) { return (uint8_t)((bits[i >> 3] >> (i & 7)) & 1); }
static void set_bit(uint8_t *bits, uint32_t i) { bits[i >> 3] |= (uint8_t)(1u << (i & 7)); }
static void clear_bit(uint8_t *bits, uint32_t i) { bits[i >> 3] &= (uint8_t)~(1u << (i & 7)); }

static uint8_t same(const uint8_t *a, const uint8_t *b, uint32_t n) {
  uint8_t x = 0;
  uint32_t i;
  for (i = 0; i < n; i++) x |= (uint8_t)(a[i] ^ b[i]);
  return x == 0;
}

/* ---- capsule headers (security/capsule.ts parseHeader, scriptNeeds, checkPolicy) ---------- */
typedef struct {
  uint8_t is_signed;
  uint32_t version, config_id;
  uint32_t needs;               /* script space, bytes */
  uint8_t block_bytes;          /* header byte 19, 0 meaning 64 */
  uint32_t unsigned_bytes;      /* header + tables + code */
  uint32_t blocks;
} hdr_t;

/* Parse a 56-byte header; 0, or 1 with the fault in why. */
static uint8_t parse_header(const uint8_t *b, uint32_t len, hdr_t *h, char *why, uint32_t cap) {
  uint16_t code, table;
  if (len < DISS_HEADER_BYTES) {
    snprintf(why, cap, "truncated: a capsule header has %u bytes, got %u", DISS_HEADER_BYTES, (unsigned)len);
    return 1;
  }
  if (b[0] != 0x54 || b[1] != 0x43) {
    snprintf(why, cap, "not a Terra-TS capsule (magic is not \"TC\")");
    return 1;
  }
  if (b[2] != 1) {
    snprintf(why, cap, "format version %u is not supported (version 1 is)", b[2]);
    return 1;
  }
  code = rd16(b + 12);
  table = rd16(b + 22);
  if (code > 0x7fff) {
    snprintf(why, cap, "code of %u bytes exceeds the 32767-byte limit", code);
    return 1;
  }
  h->is_signed = (b[3] & 2) != 0;
  h->version = rd32(b + 4);
  h->config_id = rd32(b + 8);
  h->block_bytes = b[19] ? b[19] : 64;
  h->unsigned_bytes = DISS_HEADER_BYTES + (uint32_t)table + code;
  h->blocks = (h->unsigned_bytes + h->block_bytes - 1) / h->block_bytes;
  h->needs = (uint32_t)table + code + rd16(b + 14) + 2u * b[16] + 4u * b[17] + 2u * b[18];
  return 0;
}

static uint32_t block_length(uint32_t unsigned_bytes, uint8_t bb, uint32_t j) {
  uint32_t off = j * bb;
  if (off >= unsigned_bytes) return 0;
  return unsigned_bytes - off < bb ? unsigned_bytes - off : bb;
}

static uint32_t manifest_bytes(uint8_t auth, uint32_t blocks) {
  return auth == DISS_AUTH_ED25519 ? DISS_HEADER_BYTES + DISS_DIGEST_BYTES * blocks + DISS_TRAILER_BYTES
                                   : DISS_HEADER_BYTES + DISS_TRAILER_BYTES + DISS_TAG_BYTES;
}
static uint32_t manifest_chunks(uint8_t auth, uint32_t blocks) {
  return (manifest_bytes(auth, blocks) + DISS_CHUNK_BYTES - 1) / DISS_CHUNK_BYTES;
}

/* checkPolicy, plus this build's buffers: 0 or a DISS_R_* reason with why. */
static uint8_t policy(const diss_t *d, const hdr_t *h, char *why, uint32_t cap) {
  if (h->config_id != d->config_id) {
    snprintf(why, cap, "compiled for configuration 0x%08x, the motes run 0x%08x", (unsigned)h->config_id, (unsigned)d->config_id);
    return DISS_R_WRONG_CONFIG;
  }
  if (h->version <= d->held_version) {
    snprintf(why, cap, "version %u is not newer than the installed version %u", (unsigned)h->version, (unsigned)d->held_version);
    return DISS_R_ROLLBACK;
  }
  if (h->needs > d->script_space) {
    snprintf(why, cap, "needs %u bytes of script space, the motes have %u", (unsigned)h->needs, (unsigned)d->script_space);
    return DISS_R_TOO_LARGE;
  }
  if (h->block_bytes > DISS_MAX_BLOCK_BYTES) {
    snprintf(why, cap, "blocks of %u bytes do not fit a radio frame (at most %u)", h->block_bytes, DISS_MAX_BLOCK_BYTES);
    return DISS_R_TOO_LARGE;
  }
  if (h->blocks > DISS_MAX_BLOCKS || h->unsigned_bytes + DISS_TRAILER_BYTES > d->work_cap) {
    snprintf(why, cap, "%u blocks (%u bytes) exceed this mote's capsule buffer (%u blocks, %u bytes)", (unsigned)h->blocks,
             (unsigned)(h->unsigned_bytes + DISS_TRAILER_BYTES), DISS_MAX_BLOCKS, (unsigned)d->work_cap);
    return DISS_R_TOO_LARGE;
  }
  return 0;
}

/* ---- manifests and blocks (security/manifest.ts) ---------------------------------------------- */
static const char PSK_MANIFEST_LABEL[] = "TERRA-PSK-MANIFEST";
static const char PSK_BLOCK_LABEL[] = "TERRA-PSK-BLOCK";

/* manifestTag: HMAC-SHA-256(psk, label | header + trailer (121 bytes))[0..8]. -1: no PSK. */
static int manifest_tag(diss_t *d, const uint8_t *m, uint8_t tag[DISS_TAG_BYTES]) {
  uint8_t buf[sizeof PSK_MANIFEST_LABEL - 1 + DISS_HEADER_BYTES + DISS_TRAILER_BYTES], mac[32];
  memcpy(buf, PSK_MANIFEST_LABEL, sizeof PSK_MANIFEST_LABEL - 1);
  memcpy(buf + sizeof PSK_MANIFEST_LABEL - 1, m, DISS_HEADER_BYTES + DISS_TRAILER_BYTES);
  if (d->plat->hmac_sha256(d->ctx, buf, sizeof buf, mac)) return -1;
  memcpy(tag, mac, DISS_TAG_BYTES);
  return 0;
}

/* blockTag: HMAC(psk, label | config | version | body hash | index | blocks | block)[0..8], the
 * fields read from the 56-byte header at h. -1: no PSK. */
static int block_tag(diss_t *d, const uint8_t *h, uint16_t blocks, uint16_t index, const uint8_t *block, uint32_t len,
                     uint8_t tag[DISS_TAG_BYTES]) {
  uint8_t buf[sizeof PSK_BLOCK_LABEL - 1 + 44 + 255], mac[32], *p = buf + sizeof PSK_BLOCK_LABEL - 1;
  if (len > 255) return -1;
  memcpy(buf, PSK_BLOCK_LABEL, sizeof PSK_BLOCK_LABEL - 1);
  memcpy(p, h + 8, 4);       /* config id */
  memcpy(p + 4, h + 4, 4);   /* program version */
  memcpy(p + 8, h + 24, 32); /* body SHA-256 */
  wr16(p + 40, index);
  wr16(p + 42, blocks);
  memcpy(p + 44, block, len);
  if (d->plat->hmac_sha256(d->ctx, buf, (uint32_t)(p + 44 - buf) + len, mac)) return -1;
  memcpy(tag, mac, DISS_TAG_BYTES);
  return 0;
}

/* openManifest: structure, then the Ed25519 signature or the PSK tag. expect_blocks: the
 * announced block count (0xffffffff: none). 0 or a DISS_R_* reason with why. */
static uint8_t open_manifest(diss_t *d, const uint8_t *m, uint32_t len, uint32_t expect_blocks, hdr_t *h, char *why, uint32_t cap) {
  uint32_t want, signed_len;
  uint8_t tag[DISS_TAG_BYTES];
  char hw[120];
  int v;
  if (parse_header(m, len, h, hw, sizeof hw)) {
    snprintf(why, cap, "manifest: %s", hw);
    return DISS_R_MALFORMED;
  }
  if (!h->is_signed) {
    snprintf(why, cap, "manifest of an unsigned capsule");
    return DISS_R_UNSIGNED;
  }
  if (expect_blocks != 0xffffffffu && expect_blocks != h->blocks) {
    snprintf(why, cap, "announced %u blocks, the header makes %u", (unsigned)expect_blocks, (unsigned)h->blocks);
    return DISS_R_MALFORMED;
  }
  want = manifest_bytes(d->auth, h->blocks);
  if (len != want) {
    snprintf(why, cap, "an %s manifest of %u blocks has %u bytes, got %u", d->auth == DISS_AUTH_ED25519 ? "ed25519" : "psk",
             (unsigned)h->blocks, (unsigned)want, (unsigned)len);
    return DISS_R_MALFORMED;
  }
  if (d->auth == DISS_AUTH_ED25519) {
    signed_len = DISS_HEADER_BYTES + DISS_DIGEST_BYTES * h->blocks;
    if (m[signed_len] != DISS_SIG_ED25519) {
      snprintf(why, cap, "unknown signature algorithm %u", m[signed_len]);
      return DISS_R_MALFORMED;
    }
    v = d->plat->ed25519_verify(d->ctx, m, signed_len, m + signed_len + 1);
    if (v != 1) {
      snprintf(why, cap, "the manifest's Ed25519 signature does not verify with the network key");
      return DISS_R_BAD_SIGNATURE;
    }
    return 0;
  }
  if (manifest_tag(d, m, tag) || !same(tag, m + DISS_HEADER_BYTES + DISS_TRAILER_BYTES, DISS_TAG_BYTES)) {
    snprintf(why, cap, "the manifest's HMAC tag does not verify with the network PSK");
    return DISS_R_BAD_SIGNATURE;
  }
  return 0;
}

/* checkBlock: block j's length, then its digest (ed25519) or tag (psk), against manifest m. */
static uint8_t block_ok(diss_t *d, const uint8_t *m, uint32_t unsigned_bytes, uint8_t bb, uint16_t blocks, uint16_t j,
                        const uint8_t *block, uint32_t len, const uint8_t *tag) {
  uint8_t h[32];
  if (len == 0 || len != block_length(unsigned_bytes, bb, j)) return 0;
  if (d->auth == DISS_AUTH_ED25519) {
    d->plat->sha256(d->ctx, block, len, h);
    return same(h, m + DISS_HEADER_BYTES + (uint32_t)DISS_DIGEST_BYTES * j, DISS_DIGEST_BYTES);
  }
  return block_tag(d, m, blocks, j, block, len, h) == 0 && same(h, tag, DISS_TAG_BYTES);
}

/* ---- sending --------------------------------------------------------------------------------- */
static void send_frame(diss_t *d, const diss_frame_t *f) {
  uint8_t buf[DISS_MAX_FRAME], n = diss_encode(f, buf);
  if (!n) return;
  if (f->type == DISS_FRAME_ADV) d->stats.sent_adv++;
  else if (f->type == DISS_FRAME_REQ) d->stats.sent_req++;
  else if (f->type == DISS_FRAME_DATA) d->stats.sent_data++;
  d->plat->send(d->ctx, buf, n);
}

static void advertise(diss_t *d) {
  diss_frame_t f;
  memset(&f, 0, sizeof f);
  f.type = DISS_FRAME_ADV;
  f.version = d->held_version;
  f.config_id = d->config_id;
  f.blocks = d->held_blocks;
  send_frame(d, &f);
}

static void reject(diss_t *d, uint8_t reason, uint32_t version, uint16_t from, const char *why) {
  d->plat->rejected(d->ctx, reason, version, from, why);
}

static uint8_t refused(const diss_t *d, uint32_t v) {
  uint8_t i;
  for (i = 0; i < d->nrefused; i++) if (d->refused[i] == v) return 1;
  return 0;
}
static void refuse(diss_t *d, uint32_t v) {
  if (refused(d, v)) return;
  d->refused[d->refused_next] = v;
  d->refused_next = (uint8_t)((d->refused_next + 1) % DISS_MAX_REFUSED);
  if (d->nrefused < DISS_MAX_REFUSED) d->nrefused++;
}

/* ---- Trickle (trickle.ts, RFC 6206 §4.2) ------------------------------------------------------ */
static void trickle_begin(diss_t *d) {
  uint32_t half = d->interval / 2;
  d->counter = 0;
  arm(d, &d->t_timer, half + rand_below(d, d->interval - half));
  arm(d, &d->end_timer, d->interval);
}
/* Start, and the protocol's external event (§6): I = Imin and a new interval. */
static void trickle_reset(diss_t *d) {
  d->interval = d->p.imin_ms;
  trickle_begin(d);
}
static void trickle_inconsistent(diss_t *d) {
  if (d->interval > d->p.imin_ms) trickle_reset(d);
}

/* ---- the installed capsule (object.ts Held) ------------------------------------------------------ */
/* Take cap (a capsule whose structure was checked) as the installed one; builds its manifest
 * when it is signed, so that it can be relayed. */
static void hold(diss_t *d, const uint8_t *cap, uint32_t len) {
  hdr_t h;
  char why[120];
  uint32_t j, mlen;
  parse_header(cap, len, &h, why, sizeof why);
  d->held_version = h.version;
  d->held_blocks = (uint16_t)h.blocks;
  d->held_unsigned = h.unsigned_bytes;
  d->held_block_bytes = h.block_bytes;
  d->held_chunks = 0;
  d->held_manifest_len = 0;
  if (!h.is_signed || len != h.unsigned_bytes + DISS_TRAILER_BYTES || h.blocks > DISS_MAX_BLOCKS) return;
  mlen = manifest_bytes(d->auth, h.blocks);
  memcpy(d->held_manifest, cap, DISS_HEADER_BYTES);
  if (d->auth == DISS_AUTH_ED25519) {
    for (j = 0; j < h.blocks; j++) {
      uint8_t dg[32];
      d->plat->sha256(d->ctx, cap + j * h.block_bytes, block_length(h.unsigned_bytes, h.block_bytes, j), dg);
      memcpy(d->held_manifest + DISS_HEADER_BYTES + DISS_DIGEST_BYTES * j, dg, DISS_DIGEST_BYTES);
    }
    memcpy(d->held_manifest + DISS_HEADER_BYTES + DISS_DIGEST_BYTES * h.blocks, cap + h.unsigned_bytes, DISS_TRAILER_BYTES);
  } else {
    memcpy(d->held_manifest + DISS_HEADER_BYTES, cap + h.unsigned_bytes, DISS_TRAILER_BYTES);
    if (manifest_tag(d, d->held_manifest, d->held_manifest + DISS_HEADER_BYTES + DISS_TRAILER_BYTES)) return;
  }
  d->held_manifest_len = (uint16_t)mlen;
  d->held_chunks = (uint16_t)manifest_chunks(d->auth, h.blocks);
}

/* ---- fetching (node.ts newFetch, abandonFetch, scheduleRequest, request) ------------------------- */
static void new_fetch(diss_t *d, uint32_t version, uint16_t blocks) {
  d->fetching = 1;
  d->f_version = version;
  d->f_blocks = blocks;
  d->f_chunks = (uint16_t)manifest_chunks(d->auth, blocks);
  d->f_auth = 0;
  d->f_chunk_count = d->f_have_blocks = 0;
  d->f_unsigned = 0;
  d->f_block_bytes = 0;
  d->f_manifest_len = 0;
  memset(d->f_chunk_bits, 0, sizeof d->f_chunk_bits);
  memset(d->f_block_bits, 0, sizeof d->f_block_bits);
  d->nholders = 0;
  d->f_initial = 0;
  d->tries_with_holder = 0;
  d->unproductive = 0;
  d->progress = 0;
  d->req_timer.armed = 0;
}

static void abandon_fetch(diss_t *d) {
  if (!d->fetching) return;
  d->req_timer.armed = 0;
  d->fetching = 0;
  d->plat->erase_fetch(d->ctx);
}

static void schedule_request(diss_t *d, uint32_t delay, uint8_t initial) {
  if (!d->fetching) return;
  d->f_initial = initial;
  arm(d, &d->req_timer, delay);
}

/* Put mote `m` first among the advertisers (the oldest falls off a full list). */
static void holder_first(diss_t *d, uint16_t m) {
  uint8_t i = 0;
  while (i < d->nholders && d->holders[i] != m) i++;
  if (i == d->nholders) {
    if (d->nholders < DISS_MAX_HOLDERS) d->nholders++;
    i = (uint8_t)(d->nholders - 1);
  }
  for (; i > 0; i--) d->holders[i] = d->holders[i - 1];
  d->holders[0] = m;
}

/* Move `m` to the front if it is already listed (node.ts onReq's preference). */
static void holder_prefer(diss_t *d, uint16_t m) {
  uint8_t i;
  for (i = 1; i < d->nholders; i++) if (d->holders[i] == m) {
    holder_first(d, m);
    return;
  }
}

/* Incoming.has for the fetch: a segment held and verified (a manifest chunk received before
 * authentication counts as held for requests). */
static uint8_t fetch_has(const diss_t *d, uint32_t s) {
  if (s < d->f_chunks) return d->f_auth || bit(d->f_chunk_bits, s);
  return s - d->f_chunks < d->f_blocks && bit(d->f_block_bits, s - d->f_chunks);
}

static void request(diss_t *d) {
  diss_frame_t f;
  uint8_t bitmap[DISS_MAX_BITMAP];
  uint32_t end, first, span, i, count = 0;
  if (d->progress) {
    d->tries_with_holder = 0;
    d->unproductive = 0;
  } else if (d->tries_with_holder >= d->p.max_request_tries && d->nholders > 1) {
    uint16_t h0 = d->holders[0]; /* try another advertiser */
    for (i = 0; i + 1 < d->nholders; i++) d->holders[i] = d->holders[i + 1];
    d->holders[d->nholders - 1] = h0;
    d->tries_with_holder = 0;
  }
  if (!d->progress && d->unproductive >= (uint32_t)d->p.max_request_tries * (d->nholders + 1u)) {
    d->unproductive = 0;
    if (!d->f_auth) abandon_fetch(d); /* nobody answers (stale or forged advertisement) */
    else d->nholders = 0;             /* genuine: keep the blocks, wait for fresh advertisements */
    return;
  }
  d->progress = 0;
  end = d->f_auth ? (uint32_t)d->f_chunks + d->f_blocks : d->f_chunks;
  for (first = 0; first < end && fetch_has(d, first); first++) {}
  if (!d->nholders || first >= end) return;
  span = end - first < DISS_MAX_BITMAP * 8u ? end - first : DISS_MAX_BITMAP * 8u;
  memset(bitmap, 0, sizeof bitmap);
  for (i = 0; i < span; i++) if (!fetch_has(d, first + i)) {
    set_bit(bitmap, i);
    count++;
  }
  memset(&f, 0, sizeof f);
  f.type = DISS_FRAME_REQ;
  f.version = d->f_version;
  f.target = d->holders[0];
  f.first = (uint16_t)first;
  f.n = (uint8_t)((span + 7) / 8);
  f.bytes = bitmap;
  send_frame(d, &f);
  d->tries_with_holder++;
  d->unproductive++;
  schedule_request(d, d->p.request_timeout_ms + count * d->p.data_gap_ms, 0);
}

/* Useful data arrived: push the re-request back to a quiet timeout (node.ts progress). */
static void progressed(diss_t *d) {
  d->progress = 1;
  if (!d->f_initial) schedule_request(d, d->p.request_timeout_ms, 0);
}

/* ---- install (node.ts finish, install) ---------------------------------------------------------------- */
static void announce(diss_t *d, uint32_t delay) { arm(d, &d->announce_timer, delay); }

static void install(diss_t *d, const uint8_t *cap, uint32_t len) {
  if (d->plat->write(d->ctx, DISS_KEY_INSTALLED, 0, cap, len)) d->stats.store_errors++; /* the switch: one atomic record */
  hold(d, cap, len);
  if (d->fetching && d->f_version <= d->held_version) abandon_fetch(d);
  d->stats.installs++;
  /* a fresh interval at Imin and announcements Trickle cannot suppress (node.ts install) */
  trickle_reset(d);
  d->announce_left = 3;
  announce(d, rand_below(d, d->p.request_delay_ms));
  d->plat->installed(d->ctx, cap, len, d->held_version, 0);
}

/* All blocks are verified: assemble in the work buffer, check the header and body SHA-256, run
 * the bytecode verifier, install. */
static void finish(diss_t *d) {
  uint32_t j, p = 0, v = d->f_version, total = d->f_unsigned + DISS_TRAILER_BYTES;
  uint8_t hash[32], r;
  char why[160];
  const uint8_t *trailer = d->f_manifest + (d->auth == DISS_AUTH_ED25519 ? DISS_HEADER_BYTES + DISS_DIGEST_BYTES * (uint32_t)d->f_blocks : DISS_HEADER_BYTES);
  for (j = 0; j < d->f_blocks; j++) {
    uint32_t bl = block_length(d->f_unsigned, d->f_block_bytes, j);
    int32_t n = d->plat->read(d->ctx, DISS_KEY_BLOCK, (uint16_t)j, 0, d->work + p, bl);
    if (n != (int32_t)(bl + (d->auth == DISS_AUTH_PSK ? DISS_TAG_BYTES : 0))) {
      snprintf(why, sizeof why, "block %u is missing or has the wrong length", (unsigned)j);
      r = DISS_R_MALFORMED;
      goto fail;
    }
    p += bl;
  }
  memcpy(d->work + p, trailer, DISS_TRAILER_BYTES);
  if (!same(d->work, d->f_manifest, DISS_HEADER_BYTES)) {
    snprintf(why, sizeof why, "block 0 does not carry the manifest's header");
    r = DISS_R_TAMPERED;
    goto fail;
  }
  d->plat->sha256(d->ctx, d->work + DISS_HEADER_BYTES, d->f_unsigned - DISS_HEADER_BYTES, hash);
  if (!same(hash, d->work + 24, 32)) {
    snprintf(why, sizeof why, "the assembled body's SHA-256 does not match the header");
    r = DISS_R_TAMPERED;
    goto fail;
  }
  r = d->plat->verify_program(d->ctx, d->work, total, why, sizeof why);
  if (r) goto fail;
  install(d, d->work, total);
  return;
fail:
  reject(d, r, v, DISS_BROADCAST, why);
  refuse(d, v);
  abandon_fetch(d);
}

/* ---- serving (node.ts source, onReq, sendNext) ---------------------------------------------------------- */
#define SRC_NONE 0
#define SRC_HELD 1
#define SRC_FETCH 2

static uint8_t source(const diss_t *d, uint32_t version) {
  if (d->held_version == version && d->held_chunks) return SRC_HELD;
  if (d->fetching && d->f_version == version && d->f_auth) return SRC_FETCH;
  return SRC_NONE;
}

static uint8_t src_has(const diss_t *d, uint8_t src, uint32_t seg) {
  if (src == SRC_HELD) return seg < (uint32_t)d->held_chunks + d->held_blocks;
  return fetch_has(d, seg);
}

/* DATA payload of a segment into out (>= 255 bytes); its length, 0 when unavailable. */
static uint32_t src_segment(diss_t *d, uint8_t src, uint32_t seg, uint8_t *out) {
  const uint8_t *m = src == SRC_HELD ? d->held_manifest : d->f_manifest;
  uint32_t mlen = src == SRC_HELD ? d->held_manifest_len : d->f_manifest_len;
  uint32_t chunks = src == SRC_HELD ? d->held_chunks : d->f_chunks, j, bl, n;
  if (seg < chunks) {
    n = mlen - seg * DISS_CHUNK_BYTES;
    if (n > DISS_CHUNK_BYTES) n = DISS_CHUNK_BYTES;
    memcpy(out, m + seg * DISS_CHUNK_BYTES, n);
    return n;
  }
  j = seg - chunks;
  if (src == SRC_FETCH) {
    int32_t r = d->plat->read(d->ctx, DISS_KEY_BLOCK, (uint16_t)j, 0, out, 255);
    return r > 0 && r <= 255 ? (uint32_t)r : 0;
  }
  bl = block_length(d->held_unsigned, d->held_block_bytes, j);
  if (!bl || d->plat->read(d->ctx, DISS_KEY_INSTALLED, 0, j * d->held_block_bytes, out, bl) < (int32_t)(j * d->held_block_bytes + bl)) return 0;
  if (d->auth == DISS_AUTH_ED25519) return bl;
  if (block_tag(d, d->held_manifest, d->held_blocks, (uint16_t)j, out, bl, out + bl)) return 0;
  return bl + DISS_TAG_BYTES;
}

static void on_req(diss_t *d, const diss_frame_t *f) {
  uint32_t i;
  uint8_t src;
  if (d->announce_left > 0 && d->held_version && f->version == d->held_version) {
    d->announce_left = 0;
    d->announce_timer.armed = 0;
  }
  if (f->target != d->id) {
    if (!d->fetching || d->f_version != f->version) return;
    /* a neighbour asks a mote I also heard advertising: ask the same one, one answer serves both */
    holder_prefer(d, f->target);
    if (d->f_initial && d->req_timer.armed) {
      d->stats.suppressed_req++;
      schedule_request(d, d->p.request_timeout_ms + rand_below(d, d->p.request_delay_ms), 0);
    }
    return;
  }
  src = source(d, f->version);
  if (!src) return;
  if (!d->serving || d->sv_version != f->version) {
    d->serving = 1;
    d->sv_version = f->version;
    d->sv_count = 0;
    memset(d->sv_bits, 0, sizeof d->sv_bits);
    d->send_timer.armed = 0;
  }
  for (i = 0; i < (uint32_t)f->n * 8; i++) {
    uint32_t seg = (uint32_t)f->first + i;
    if (!bit(f->bytes, i) || seg >= DISS_MAX_SEGMENTS || !src_has(d, src, seg) || bit(d->sv_bits, seg)) continue;
    set_bit(d->sv_bits, seg);
    d->sv_count++;
  }
  if (d->sv_count && !d->send_timer.armed) arm(d, &d->send_timer, rand_below(d, d->p.data_gap_ms));
}

static void send_next(diss_t *d) {
  uint32_t k, seg, n;
  uint8_t src, payload[255];
  diss_frame_t f;
  if (!d->serving) return;
  src = source(d, d->sv_version);
  if (!src || !d->sv_count) {
    d->serving = 0;
    return;
  }
  /* a random pending segment: two motes answering one area overhear each other and drop what the other sent */
  k = rand_below(d, d->sv_count);
  for (seg = 0; seg < DISS_MAX_SEGMENTS; seg++) if (bit(d->sv_bits, seg) && k-- == 0) break;
  if (seg == DISS_MAX_SEGMENTS) { /* the count disagrees with the bits: nothing to send */
    d->serving = 0;
    return;
  }
  clear_bit(d->sv_bits, seg);
  d->sv_count--;
  n = src_segment(d, src, seg, payload);
  if (n && n <= DISS_MAX_FRAME - DISS_DATA_HEADER) {
    memset(&f, 0, sizeof f);
    f.type = DISS_FRAME_DATA;
    f.version = d->sv_version;
    f.segment = (uint16_t)seg;
    f.n = (uint8_t)n;
    f.bytes = payload;
    send_frame(d, &f);
  }
  if (d->sv_count) arm(d, &d->send_timer, d->p.data_gap_ms);
  else d->serving = 0;
}

/* ---- receiving (node.ts onAdv, onData; object.ts Incoming.offer) ------------------------------------------ */
static void on_adv(diss_t *d, const diss_frame_t *f, uint16_t from) {
  if (f->config_id != d->config_id) {
    d->stats.other_config++;
    return;
  }
  if (f->version == d->held_version) {
    d->counter++; /* Trickle: consistent */
    return;
  }
  trickle_inconsistent(d);
  if (f->version < d->held_version || f->blocks == 0 || refused(d, f->version)) return;
  if (d->fetching && d->f_version > f->version) return;
  if (!d->fetching || d->f_version < f->version || (d->f_blocks != f->blocks && !d->f_auth)) {
    if (f->blocks > DISS_MAX_BLOCKS) {
      d->stats.too_many_blocks++;
      return;
    }
    abandon_fetch(d);
    new_fetch(d, f->version, f->blocks);
  }
  holder_first(d, from);
  if (!d->req_timer.armed) schedule_request(d, rand_below(d, d->p.request_delay_ms), 1);
}

static void on_data(diss_t *d, const diss_frame_t *f, uint16_t from) {
  uint32_t seg = f->segment, j, exp, mlen;
  uint8_t r;
  hdr_t h;
  char why[200];
  if (d->serving && d->sv_version == f->version && seg < DISS_MAX_SEGMENTS && bit(d->sv_bits, seg)) {
    clear_bit(d->sv_bits, seg); /* data suppression */
    d->sv_count--;
    d->stats.suppressed_data++;
  }
  if (!d->fetching || d->f_version != f->version) return;
  /* the sender answers someone's request for this version: prefer it, let it finish before asking */
  holder_first(d, from);
  if (d->f_initial && d->req_timer.armed) {
    d->stats.suppressed_req++;
    schedule_request(d, d->p.request_timeout_ms + rand_below(d, d->p.request_delay_ms), 0);
  }
  if (seg >= (uint32_t)d->f_chunks + d->f_blocks) {
    d->stats.malformed++; /* out of range */
    return;
  }
  if (seg < d->f_chunks) {
    /* a manifest chunk: kept in RAM until the whole manifest authenticates */
    if (d->f_auth || bit(d->f_chunk_bits, seg)) return; /* duplicate */
    mlen = manifest_bytes(d->auth, d->f_blocks);
    exp = mlen - seg * DISS_CHUNK_BYTES;
    if (exp > DISS_CHUNK_BYTES) exp = DISS_CHUNK_BYTES;
    if (f->n != exp) {
      d->stats.malformed++;
      return;
    }
    memcpy(d->f_manifest + seg * DISS_CHUNK_BYTES, f->bytes, exp);
    set_bit(d->f_chunk_bits, seg);
    if (++d->f_chunk_count < d->f_chunks) {
      progressed(d);
      return;
    }
    memset(&h, 0, sizeof h);
    r = open_manifest(d, d->f_manifest, mlen, d->f_blocks, &h, why, sizeof why);
    if (!r && h.version != d->f_version) {
      snprintf(why, sizeof why, "the manifest is for version %u, not %u", (unsigned)h.version, (unsigned)d->f_version);
      r = DISS_R_MALFORMED;
      h.version = d->f_version;
    }
    if (r) {
      /* the manifest did not authenticate: forget this attempt; a genuine advertisement restarts it */
      d->stats.bad_manifests++;
      reject(d, r, h.version, from, why);
      abandon_fetch(d);
      return;
    }
    r = policy(d, &h, why, sizeof why);
    if (r) {
      reject(d, r, h.version, from, why);
      refuse(d, h.version);
      abandon_fetch(d);
      return;
    }
    d->f_auth = 1;
    d->f_manifest_len = (uint16_t)mlen;
    d->f_unsigned = h.unsigned_bytes;
    d->f_block_bytes = h.block_bytes;
    if (d->plat->write(d->ctx, DISS_KEY_MANIFEST, 0, d->f_manifest, mlen)) d->stats.store_errors++;
    if (d->plat->manifest) d->plat->manifest(d->ctx, d->f_version, 0, 0);
    d->progress = 1;
    schedule_request(d, rand_below(d, d->p.request_delay_ms), 1); /* ask for the blocks now */
    return;
  }
  j = seg - d->f_chunks;
  if (!d->f_auth) {
    d->stats.early++;
    return;
  }
  if (bit(d->f_block_bits, j)) return; /* duplicate */
  exp = block_length(d->f_unsigned, d->f_block_bytes, j) + (d->auth == DISS_AUTH_PSK ? DISS_TAG_BYTES : 0);
  if (f->n != exp) {
    d->stats.malformed++;
    return;
  }
  if (!block_ok(d, d->f_manifest, d->f_unsigned, d->f_block_bytes, d->f_blocks, (uint16_t)j, f->bytes,
                d->auth == DISS_AUTH_PSK ? exp - DISS_TAG_BYTES : exp, f->bytes + exp - DISS_TAG_BYTES)) {
    d->stats.tampered_blocks++;
    snprintf(why, sizeof why, "block %u does not match its %s", (unsigned)j, d->auth == DISS_AUTH_PSK ? "HMAC tag" : "signed digest");
    reject(d, DISS_R_TAMPERED, d->f_version, from, why);
    return;
  }
  if (d->plat->write(d->ctx, DISS_KEY_BLOCK, (uint16_t)j, f->bytes, f->n)) {
    d->stats.store_errors++;
    return; /* not persisted: asked again later */
  }
  set_bit(d->f_block_bits, j);
  d->f_have_blocks++;
  progressed(d);
  if (d->f_have_blocks == d->f_blocks) finish(d);
}

void diss_receive(diss_t *d, const uint8_t *frame, uint32_t len, uint16_t from, uint32_t now) {
  diss_frame_t f;
  if (!d->running) return;
  d->now = now;
  if (diss_decode(frame, len, &f)) {
    d->stats.malformed++;
    return;
  }
  switch (f.type) {
    case DISS_FRAME_ADV:
      d->stats.heard_adv++;
      on_adv(d, &f, from);
      break;
    case DISS_FRAME_REQ:
      d->stats.heard_req++;
      on_req(d, &f);
      break;
    case DISS_FRAME_DATA:
      d->stats.heard_data++;
      on_data(d, &f, from);
      break;
    default:
      break; /* FLOOD frames belong to the flooding baseline */
  }
}

/* ---- timers ------------------------------------------------------------------------------------------------ */
void diss_poll(diss_t *d, uint32_t now) {
  for (;;) {
    diss_timer_t *ts[5], *t = 0;
    uint8_t i;
    ts[0] = &d->t_timer;
    ts[1] = &d->end_timer;
    ts[2] = &d->req_timer;
    ts[3] = &d->send_timer;
    ts[4] = &d->announce_timer;
    for (i = 0; i < 5; i++) if (due(ts[i], now) && (!t || (int32_t)(ts[i]->at - t->at) < 0)) t = ts[i];
    if (!t || !d->running) break;
    t->armed = 0;
    d->now = t->at; /* timers set by this one count from its deadline */
    if (t == &d->t_timer) {
      if (d->counter < d->p.k) {
        d->trickle_sent++;
        advertise(d);
      } else {
        d->trickle_suppressed++;
      }
    } else if (t == &d->end_timer) {
      d->interval = 2 * d->interval < d->p.imax_ms ? 2 * d->interval : d->p.imax_ms;
      trickle_begin(d);
    } else if (t == &d->req_timer) {
      if (d->fetching) request(d);
    } else if (t == &d->send_timer) {
      send_next(d);
    } else if (d->announce_left > 0) {
      /* install announcements: up to 3 ADVs, the first at once, then over [Imin/2, Imin) and [Imin, 2 Imin) */
      uint32_t k, span;
      d->announce_left--;
      advertise(d);
      k = 3u - d->announce_left;
      span = d->p.imin_ms << (k - 1);
      if (d->announce_left > 0) announce(d, span / 2 + rand_below(d, span - span / 2));
    }
  }
  d->now = now;
}

uint8_t diss_next_deadline(const diss_t *d, uint32_t now, uint32_t *delay) {
  const diss_timer_t *ts[5];
  uint8_t i, any = 0;
  uint32_t best = 0;
  ts[0] = &d->t_timer;
  ts[1] = &d->end_timer;
  ts[2] = &d->req_timer;
  ts[3] = &d->send_timer;
  ts[4] = &d->announce_timer;
  if (!d->running) return 0;
  for (i = 0; i < 5; i++) {
    uint32_t left;
    if (!ts[i]->armed) continue;
    left = (int32_t)(ts[i]->at - now) > 0 ? ts[i]->at - now : 0;
    if (!any || left < best) best = left;
    any = 1;
  }
  *delay = best;
  return any;
}

/* ---- boot (node.ts restore) ------------------------------------------------------------------------------------ */
/* Structure of a whole capsule (decodeCapsule's length and trailer checks) and its body hash. */
static uint8_t capsule_structure(diss_t *d, const uint8_t *cap, uint32_t len, hdr_t *h, char *why, uint32_t cap_why) {
  uint8_t hash[32];
  if (parse_header(cap, len, h, why, cap_why)) return DISS_R_MALFORMED;
  if (len != h->unsigned_bytes + (h->is_signed ? DISS_TRAILER_BYTES : 0)) {
    snprintf(why, cap_why, "%s: the header announces %u bytes%s, got %u", len < h->unsigned_bytes ? "truncated" : "trailing bytes",
             (unsigned)(h->unsigned_bytes + (h->is_signed ? DISS_TRAILER_BYTES : 0)), h->is_signed ? " with the signature" : "", (unsigned)len);
    return DISS_R_MALFORMED;
  }
  if (h->is_signed && cap[h->unsigned_bytes] != DISS_SIG_ED25519) {
    snprintf(why, cap_why, "unknown signature algorithm %u", cap[h->unsigned_bytes]);
    return DISS_R_MALFORMED;
  }
  d->plat->sha256(d->ctx, cap + DISS_HEADER_BYTES, h->unsigned_bytes - DISS_HEADER_BYTES, hash);
  if (!same(hash, cap + 24, 32)) {
    snprintf(why, cap_why, "the body's SHA-256 does not match the header: the capsule was changed");
    return DISS_R_TAMPERED;
  }
  return 0;
}

static void restore(diss_t *d) {
  int32_t n;
  uint32_t j;
  hdr_t h;
  char why[200];
  d->held_version = 0;
  d->held_blocks = d->held_chunks = 0;
  d->fetching = 0;
  n = d->plat->read(d->ctx, DISS_KEY_INSTALLED, 0, 0, d->work, d->work_cap);
  if (n >= 0) {
    /* flash integrity: structure, body hash, the verifier (authenticity was checked before it was written) */
    if ((uint32_t)n <= d->work_cap && !capsule_structure(d, d->work, (uint32_t)n, &h, why, sizeof why) &&
        !d->plat->verify_program(d->ctx, d->work, (uint32_t)n, why, sizeof why)) {
      hold(d, d->work, (uint32_t)n);
      d->plat->installed(d->ctx, d->work, (uint32_t)n, d->held_version, 1);
    } else {
      d->stats.corrupt_store++;
      d->plat->erase(d->ctx, DISS_KEY_INSTALLED, 0);
    }
  }
  n = d->plat->read(d->ctx, DISS_KEY_MANIFEST, 0, 0, d->f_manifest, DISS_MANIFEST_MAX);
  if (n < 0) {
    d->plat->erase_fetch(d->ctx);
    return;
  }
  if ((uint32_t)n > DISS_MANIFEST_MAX || open_manifest(d, d->f_manifest, (uint32_t)n, 0xffffffffu, &h, why, sizeof why)) {
    d->stats.corrupt_store++;
    d->plat->erase_fetch(d->ctx);
    return;
  }
  if (policy(d, &h, why, sizeof why)) {
    d->plat->erase_fetch(d->ctx); /* no longer newer than the installed version */
    return;
  }
  new_fetch(d, h.version, (uint16_t)h.blocks);
  d->f_auth = 1;
  d->f_manifest_len = (uint16_t)n;
  d->f_unsigned = h.unsigned_bytes;
  d->f_block_bytes = h.block_bytes;
  for (j = 0; j < h.blocks; j++) {
    uint8_t buf[255];
    uint32_t bl = block_length(h.unsigned_bytes, h.block_bytes, j);
    int32_t r = d->plat->read(d->ctx, DISS_KEY_BLOCK, (uint16_t)j, 0, buf, sizeof buf);
    if (r < 0) continue;
    if (r == (int32_t)(bl + (d->auth == DISS_AUTH_PSK ? DISS_TAG_BYTES : 0)) &&
        block_ok(d, d->f_manifest, h.unsigned_bytes, h.block_bytes, (uint16_t)h.blocks, (uint16_t)j, buf, bl, buf + bl)) {
      set_bit(d->f_block_bits, j);
      d->f_have_blocks++;
    } else {
      d->stats.corrupt_store++; /* re-checked like a received block: flash is not trusted blindly */
      d->plat->erase(d->ctx, DISS_KEY_BLOCK, (uint16_t)j);
    }
  }
  if (d->plat->manifest) d->plat->manifest(d->ctx, d->f_version, d->f_have_blocks, 1);
  if (d->f_have_blocks == d->f_blocks) finish(d);
}

void diss_init(diss_t *d, uint16_t id, uint32_t config_id, uint32_t script_space, uint8_t auth,
               const diss_params_t *p, const diss_platform_t *plat, void *ctx,
               uint8_t *work, uint32_t work_cap, uint32_t seed) {
  memset(d, 0, sizeof *d);
  d->id = id;
  d->config_id = config_id;
  d->script_space = script_space;
  d->auth = auth;
  d->p = *p;
  d->plat = plat;
  d->ctx = ctx;
  d->work = work;
  d->work_cap = work_cap;
  d->rng = seed ? seed : 1;
}

void diss_boot(diss_t *d, uint32_t now) {
  d->now = now;
  d->running = 1;
  d->serving = 0;
  d->send_timer.armed = d->announce_timer.armed = d->req_timer.armed = 0;
  restore(d);
  trickle_reset(d); /* Trickle start: I = Imin */
}

uint8_t diss_inject(diss_t *d, const uint8_t *capsule, uint32_t len, uint32_t now) {
  hdr_t h;
  char why[200];
  uint8_t r;
  uint32_t j, msg_len;
  uint8_t *msg;
  int v;
  d->now = now;
  memset(&h, 0, sizeof h);
  r = capsule_structure(d, capsule, len, &h, why, sizeof why);
  if (r == DISS_R_MALFORMED) goto fail;
  if (!h.is_signed) {
    snprintf(why, sizeof why, "the capsule has no signature (sign it: `terra deploy --key`)");
    r = DISS_R_UNSIGNED;
    goto fail;
  }
  if (r) goto fail; /* tampered: the body hash */
  msg_len = DISS_HEADER_BYTES + DISS_DIGEST_BYTES * h.blocks;
  if (len + msg_len > d->work_cap || h.blocks > DISS_MAX_BLOCKS) {
    snprintf(why, sizeof why, "%u bytes in %u blocks exceed this mote's capsule buffer", (unsigned)len, (unsigned)h.blocks);
    r = DISS_R_TOO_LARGE;
    goto fail;
  }
  /* signedMessage: the header, then the first 8 bytes of each block's SHA-256 (vm/capsule.ts) */
  memmove(d->work, capsule, len);
  msg = d->work + len;
  memcpy(msg, d->work, DISS_HEADER_BYTES);
  for (j = 0; j < h.blocks; j++) {
    uint8_t dg[32];
    d->plat->sha256(d->ctx, d->work + j * h.block_bytes, block_length(h.unsigned_bytes, h.block_bytes, j), dg);
    memcpy(msg + DISS_HEADER_BYTES + DISS_DIGEST_BYTES * j, dg, DISS_DIGEST_BYTES);
  }
  v = d->plat->ed25519_verify(d->ctx, msg, msg_len, d->work + h.unsigned_bytes + 1);
  if (v != 1) {
    snprintf(why, sizeof why, v < 0 ? "this mote has no Ed25519 public key to check injected capsules"
                                    : "the Ed25519 signature does not verify with the network key (signed by another key, or the header was changed)");
    r = DISS_R_BAD_SIGNATURE;
    goto fail;
  }
  r = policy(d, &h, why, sizeof why);
  if (r) goto fail;
  r = d->plat->verify_program(d->ctx, d->work, len, why, sizeof why);
  if (r) goto fail;
  install(d, d->work, len);
  return 0;
fail:
  reject(d, r, h.version, DISS_BROADCAST, why);
  return r;
}

uint32_t diss_receiving(const diss_t *d, uint16_t *have_blocks, uint16_t *blocks) {
  *have_blocks = d->fetching ? d->f_have_blocks : 0;
  *blocks = d->fetching ? d->f_blocks : 0;
  return d->fetching ? d->f_version : 0;
}
