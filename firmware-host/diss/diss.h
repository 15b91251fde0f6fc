/*
 * Capsule dissemination in C: the protocol of components/dissemination/node.ts
 * (docs/dissemination.md is the specification both implement), so that C
 * motes and TypeScript motes share one network and converge to the same
 * version.
 *
 *  - Trickle advertisements (RFC 6206 §4.2), install announcements;
 *  - per-segment requests with a bit vector of missing segments, request and
 *    data suppression, relaying of verified segments only;
 *  - the manifest first (Ed25519 signature, RFC 8032, or PSK HMAC-SHA-256
 *    tag, RFC 2104; docs/security.md), then every block checked against it
 *    before it is kept, persisted or relayed;
 *  - policy checks (configuration id, anti-rollback, script space, block size);
 *  - persistence through the platform's store (records `installed`,
 *    `fetch.manifest`, `fetch.<i>`, the names of store.ts), re-checked at boot;
 *  - the switch: body SHA-256, the platform's bytecode verifier, one atomic
 *    store write, then the platform's install hook.
 *
 * C99, no malloc, no libc beyond <stdint.h>/<string.h>/<stdio.h> (snprintf
 * for rejection details), platform-independent: time, randomness seeds, the
 * radio, the store and the cryptography are hooks (diss_platform_t). One
 * diss_t per mote; all of its memory is inside the struct except the
 * capsule work buffer the platform lends (diss_init).
 *
 * Units: time in ms (uint32, wrapping; compared by signed difference),
 * sizes in bytes, block and segment numbers as in docs/dissemination.md.
 */
#ifndef DISS_H
#define DISS_H

#include <stdint.h>
#include <string.h>

/* ---- frames (components/dissemination/frames.ts, byte for byte) ---- */
#define DISS_FRAME_ADV 0xD1
#define DISS_FRAME_REQ 0xD2
#define DISS_FRAME_DATA 0xD3
#define DISS_FRAME_FLOOD 0xD4
#define DISS_MAX_FRAME 116          /* 127-byte PHY payload - 11 bytes of MAC */
#define DISS_ADV_BYTES 11
#define DISS_REQ_HEADER 10
#define DISS_DATA_HEADER 7
#define DISS_FLOOD_HEADER 15
#define DISS_MAX_BITMAP (DISS_MAX_FRAME - DISS_REQ_HEADER) /* 106 bytes = 848 segments */
#define DISS_CHUNK_BYTES 96         /* manifest bytes per segment */
#define DISS_MAX_BLOCK_BYTES 92     /* larger blocks are refused (too-large) */
#define DISS_BROADCAST 0xFFFF

/* ---- capsule layout (vm/capsule.ts, docs/capsule.md) ---- */
#define DISS_HEADER_BYTES 56
#define DISS_TRAILER_BYTES 65       /* algorithm (1 = Ed25519) + 64-byte signature */
#define DISS_DIGEST_BYTES 8         /* truncated SHA-256 per block */
#define DISS_TAG_BYTES 8            /* truncated HMAC-SHA-256 */
#define DISS_SIG_ED25519 1

/* ---- build limits (override with -D) ---- */
#ifndef DISS_MAX_BLOCKS
#define DISS_MAX_BLOCKS 1600        /* blocks of a capsule this mote can receive (host: 1600 x 64 B = 100 KB) */
#endif
#ifndef DISS_MAX_HOLDERS
#define DISS_MAX_HOLDERS 8          /* advertisers remembered per fetch */
#endif
#ifndef DISS_MAX_REFUSED
#define DISS_MAX_REFUSED 16         /* versions refused on policy, not fetched again */
#endif
/* Largest ed25519 manifest: header + 8 bytes per block + trailer. */
#define DISS_MANIFEST_MAX (DISS_HEADER_BYTES + DISS_DIGEST_BYTES * DISS_MAX_BLOCKS + DISS_TRAILER_BYTES)
#define DISS_MAX_CHUNKS ((DISS_MANIFEST_MAX + DISS_CHUNK_BYTES - 1) / DISS_CHUNK_BYTES)
#define DISS_MAX_SEGMENTS (DISS_MAX_CHUNKS + DISS_MAX_BLOCKS)
/* Work buffer the platform lends (diss_init): a capsule of DISS_MAX_BLOCKS
 * blocks of DISS_MAX_BLOCK_BYTES plus its trailer, and room for the signed
 * message of an injected capsule after it. */
#define DISS_WORK_BYTES (DISS_MAX_BLOCK_BYTES * DISS_MAX_BLOCKS + DISS_TRAILER_BYTES + DISS_MANIFEST_MAX)

/* ---- decoded frames ---- */
typedef struct {
  uint8_t type;                 /* DISS_FRAME_* */
  uint32_t version;
  uint32_t config_id;           /* ADV, FLOOD */
  uint16_t blocks;              /* ADV, FLOOD */
  uint16_t target;              /* REQ */
  uint16_t first;               /* REQ */
  uint16_t segment;             /* DATA, FLOOD */
  uint16_t round;               /* FLOOD */
  uint8_t n;                    /* REQ bitmap bytes, or DATA/FLOOD payload bytes */
  const uint8_t *bytes;         /* REQ bitmap or DATA/FLOOD payload (points into the frame) */
} diss_frame_t;

/* Why a frame did not decode (diss_decode); 0 = well formed. */
enum {
  DISS_F_OK = 0,
  DISS_F_EMPTY,                 /* no byte */
  DISS_F_TOO_LONG,              /* more than DISS_MAX_FRAME bytes */
  DISS_F_LENGTH,                /* wrong length for its type (REQ: n disagrees) */
  DISS_F_TYPE                   /* unknown frame type */
};

/* Decode a frame of `len` bytes into *f (f->bytes points into b). Returns
 * DISS_F_OK or a DISS_F_* reason; never reads past b[len-1]. Same rules as
 * frames.ts decodeFrame. */
uint8_t diss_decode(const uint8_t *b, uint32_t len, diss_frame_t *f);
/* Encode *f into out (at least DISS_MAX_FRAME bytes). Returns the frame's
 * length, or 0 when it does not fit DISS_MAX_FRAME or a REQ bitmap / payload
 * is empty (frames.ts encodeFrame's RangeError). */
uint8_t diss_encode(const diss_frame_t *f, uint8_t *out);

/* ---- rejections (components/security/capsule.ts RejectReason) ---- */
enum {
  DISS_R_MALFORMED = 1,
  DISS_R_UNSIGNED,
  DISS_R_TAMPERED,
  DISS_R_BAD_SIGNATURE,
  DISS_R_WRONG_CONFIG,
  DISS_R_ROLLBACK,
  DISS_R_TOO_LARGE,
  DISS_R_UNVERIFIABLE
};
/* "malformed", "unsigned", ... as the TypeScript side names them. */
const char *diss_reason_name(uint8_t reason);

/* ---- the platform ---- */
#define DISS_AUTH_ED25519 1
#define DISS_AUTH_PSK 2

/* Store records (store.ts): DISS_KEY_BLOCK is `fetch.<index>`. */
#define DISS_KEY_INSTALLED 0
#define DISS_KEY_MANIFEST 1
#define DISS_KEY_BLOCK 2

typedef struct {
  /* Radio: hand one frame (len <= DISS_MAX_FRAME) to the MAC, broadcast. */
  void (*send)(void *ctx, const uint8_t *frame, uint8_t len);
  /* Store: record `kind` (DISS_KEY_*; `index` for blocks). read copies up to
   * cap bytes from byte `off` and returns the record's full length, or -1 when
   * the record is absent; write replaces the record atomically (0 ok, -1 on
   * failure); erase deletes it (absent: nothing); erase_fetch deletes every
   * `fetch.*` record. */
  int32_t (*read)(void *ctx, uint8_t kind, uint16_t index, uint32_t off, uint8_t *buf, uint32_t cap);
  int (*write)(void *ctx, uint8_t kind, uint16_t index, const uint8_t *data, uint32_t len);
  void (*erase)(void *ctx, uint8_t kind, uint16_t index);
  void (*erase_fetch)(void *ctx);
  /* Cryptography (the host: OpenSSL libcrypto; never hand-written here).
   * sha256: FIPS 180-4. ed25519_verify: RFC 8032 pure Ed25519 with the
   * network's public key, 1 = valid, 0 = invalid. hmac_sha256:
   * RFC 2104 with the network's PSK, 0 = done, -1 = no PSK. ed25519_verify
   * returns -1 when the mote has no public key. */
  void (*sha256)(void *ctx, const uint8_t *data, uint32_t len, uint8_t out[32]);
  int (*ed25519_verify)(void *ctx, const uint8_t *msg, uint32_t len, const uint8_t sig[64]);
  int (*hmac_sha256)(void *ctx, const uint8_t *data, uint32_t len, uint8_t out[32]);
  /* Last check before a capsule becomes the program: the bytecode verifier
   * (vm/verify.ts, core/verify.c) on `len` bytes, without disturbing the
   * program that runs. Returns 0 to accept, else DISS_R_MALFORMED or
   * DISS_R_UNVERIFIABLE with one sentence in why (cap bytes). */
  uint8_t (*verify_program)(void *ctx, const uint8_t *capsule, uint32_t len, char *why, uint32_t cap);
  /* The capsule (signed: unsigned bytes + trailer) is installed: switch the
   * VM to it now. at_boot: restored from the store at power-on. */
  void (*installed)(void *ctx, const uint8_t *capsule, uint32_t len, uint32_t version, uint8_t at_boot);
  /* Something was refused (also counted): reason DISS_R_*, the version it
   * claims (0: unknown), the sender (DISS_BROADCAST: not from the radio). */
  void (*rejected)(void *ctx, uint8_t reason, uint32_t version, uint16_t from, const char *detail);
  /* Progress for logs (may be 0): the manifest of `version` authenticated
   * (restored: from the store at boot, with `blocks` verified blocks restored). */
  void (*manifest)(void *ctx, uint32_t version, uint16_t blocks, uint8_t restored);
} diss_platform_t;

/* Protocol parameters (node.ts DissParams; ms unless stated). */
typedef struct {
  uint32_t imin_ms;             /* Trickle Imin (1000) */
  uint32_t imax_ms;             /* Trickle Imax = Imin x 2^doublings (64000) */
  uint8_t k;                    /* Trickle redundancy constant (1) */
  uint32_t request_delay_ms;    /* a first request waits uniform [0, this) (40) */
  uint32_t request_timeout_ms;  /* quiet time after useful DATA before asking again (150) */
  uint32_t data_gap_ms;         /* spacing of one mote's DATA frames (8) */
  uint8_t max_request_tries;    /* unanswered requests to one advertiser before asking another (3) */
} diss_params_t;

/* node.ts DEFAULT_PARAMS. */
void diss_default_params(diss_params_t *p);

/* Counters (node.ts DissStats, plus what the C mote adds). */
typedef struct {
  uint32_t sent_adv, sent_req, sent_data;
  uint32_t heard_adv, heard_req, heard_data;
  uint32_t malformed;           /* frames or segments that did not decode (dropped) */
  uint32_t other_config;        /* ADVs of another configuration */
  uint32_t suppressed_data, suppressed_req;
  uint32_t tampered_blocks, bad_manifests, early;
  uint32_t installs;
  uint32_t corrupt_store;       /* store records that failed re-verification at boot */
  uint32_t too_many_blocks;     /* ADVs announcing more than DISS_MAX_BLOCKS blocks (not fetched) */
  uint32_t store_errors;        /* failed store writes */
} diss_stats_t;

/* Timers: absolute deadlines in ms. */
typedef struct {
  uint8_t armed;
  uint32_t at;
} diss_timer_t;

typedef struct {
  /* configuration (diss_init) */
  uint16_t id;
  uint32_t config_id;
  uint32_t script_space;        /* bytes */
  uint8_t auth;                 /* DISS_AUTH_* */
  diss_params_t p;
  const diss_platform_t *plat;
  void *ctx;
  uint8_t *work;                /* lent by the platform: DISS_WORK_BYTES or work_cap */
  uint32_t work_cap;
  uint32_t now;
  uint32_t rng;                 /* xorshift32 state */
  uint8_t running;
  diss_stats_t stats;

  /* the installed capsule (held: version 0 = none) */
  uint32_t held_version;
  uint16_t held_blocks;
  uint16_t held_chunks;         /* 0: not relayable (an unsigned factory image) */
  uint32_t held_unsigned;       /* bytes without the trailer */
  uint8_t held_block_bytes;
  uint16_t held_manifest_len;
  uint8_t held_manifest[DISS_MANIFEST_MAX];

  /* the capsule being received (fetching = 0: none) */
  uint8_t fetching;
  uint32_t f_version;
  uint16_t f_blocks, f_chunks;
  uint8_t f_auth;               /* the manifest authenticated */
  uint16_t f_chunk_count, f_have_blocks;
  uint32_t f_unsigned;
  uint8_t f_block_bytes;
  uint16_t f_manifest_len;
  uint8_t f_manifest[DISS_MANIFEST_MAX];
  uint8_t f_chunk_bits[(DISS_MAX_CHUNKS + 7) / 8];
  uint8_t f_block_bits[(DISS_MAX_BLOCKS + 7) / 8];
  uint16_t holders[DISS_MAX_HOLDERS];
  uint8_t nholders;
  uint8_t f_initial;            /* the pending request is the initial, suppressible one */
  uint8_t tries_with_holder, progress;
  uint16_t unproductive;
  diss_timer_t req_timer;

  /* segments asked of this mote (serving = 0: none) */
  uint8_t serving;
  uint32_t sv_version;
  uint16_t sv_count;
  uint8_t sv_bits[(DISS_MAX_SEGMENTS + 7) / 8];
  diss_timer_t send_timer;

  /* Trickle (RFC 6206 §4.2) */
  uint32_t interval;
  uint16_t counter;
  diss_timer_t t_timer, end_timer;
  uint32_t trickle_sent, trickle_suppressed;

  /* install announcements */
  uint8_t announce_left;
  diss_timer_t announce_timer;

  uint32_t refused[DISS_MAX_REFUSED];
  uint8_t nrefused, refused_next;
} diss_t;

/* Set up a mote (nothing runs until diss_boot). work: a buffer of work_cap
 * bytes (DISS_WORK_BYTES holds any capsule this build can receive; a smaller
 * one refuses larger capsules as too-large). seed: this mote's random stream
 * (0 is replaced by 1). */
void diss_init(diss_t *d, uint16_t id, uint32_t config_id, uint32_t script_space, uint8_t auth,
               const diss_params_t *p, const diss_platform_t *plat, void *ctx,
               uint8_t *work, uint32_t work_cap, uint32_t seed);

/* Power-on at time now (ms): restore the store (installed capsule checked,
 * fetch records re-authenticated; a complete fetch is installed), call
 * `installed` with at_boot = 1 for the capsule restored, start Trickle. */
void diss_boot(diss_t *d, uint32_t now);
/* A frame heard from mote `from` at time now; malformed frames are counted. */
void diss_receive(diss_t *d, const uint8_t *frame, uint32_t len, uint16_t from, uint32_t now);
/* Run the timers due at now (call whenever diss_next_deadline says). */
void diss_poll(diss_t *d, uint32_t now);
/* ms from now until the next timer (1 and *delay), or 0 when none is armed. */
uint8_t diss_next_deadline(const diss_t *d, uint32_t now, uint32_t *delay);
/* Base station: a signed capsule from the gateway, checked in full
 * (structure, Signed flag, body SHA-256, Ed25519 signature, policy, bytecode
 * verifier; security.md's order) and installed. Returns 0 when installed,
 * else the DISS_R_* reason (also reported through `rejected`). */
uint8_t diss_inject(diss_t *d, const uint8_t *capsule, uint32_t len, uint32_t now);

/* Version of the capsule being received (0: none) and its progress. */
uint32_t diss_receiving(const diss_t *d, uint16_t *have_blocks, uint16_t *blocks);

#endif
