/*
 * Serial capsule loader (docs/serial.md). Frames from the host are
 * delimited and escaped as in HDLC (RFC 1662: flag 0x7E, escape 0x7D, the
 * next byte XOR 0x20) and end with a CRC-16/XMODEM, big-endian, over the
 * rest (the CRC of TinyOS's serial stack, TEP 113), so the CRC over a whole
 * good frame is 0. A frame is a command byte, a 16-bit little-endian
 * argument and, for DATA, 1..64 bytes:
 *   'L' len      begin a capsule of len bytes: the running script stops
 *   'D' offset   the capsule's bytes from offset (stop-and-wait: the next expected)
 *   'G' len      all bytes are in: load (verify) and boot
 * The mote answers with lines on its byte output:
 *   "S n"        ready for the capsule's bytes from n (after L, after each
 *                DATA, and for an unexpected frame during a load; a damaged
 *                frame gets no answer)
 *   "S -"        no load in progress (send L first)
 *   "X size m"   the capsule is larger than the VM's block (m bytes)
 *   "A len"      loaded, and booting; or "X reject OFFSET REASON" / "X config" (comp/rt.c)
 * DATA bytes go straight into the VM's block as they arrive (no frame
 * buffer: the loader's RAM is 12 bytes); a damaged frame's bytes are
 * overwritten when the host sends it again.
 */
#include <util/crc16.h> /* avr-libc's CRC-16/XMODEM step; only the MicaZ board receives so far */
#include "../core/tvm.h"
#include "board.h"
#include "report.h"
#include "serial.h"

#define SL_FLAG 0x7e
#define SL_ESC 0x7d
#define SL_DATA_MAX 64
#define SL_FRAME_MAX (3 + SL_DATA_MAX + 2)
#define SL_OVERLONG 0xff

static uint8_t n;        /* bytes of the frame so far (unescaped), or SL_OVERLONG */
static uint8_t esc;      /* the previous byte was SL_ESC */
static uint8_t into;     /* this frame is the DATA expected next: its bytes go into tvm_mem */
static uint8_t hdr[3];   /* command, argument */
static uint16_t crc;
static uint8_t loading;
static uint16_t expect, cap_len;

void sl_line(const char *tag, uint32_t v) {
  rp_str(tag);
  rp_u32(v);
  rp_c('\n');
}

static void ready(void) {
  sl_line("S ", expect);
}

/* A frame whose CRC holds, with len bytes after the header. */
static void frame(uint8_t len) {
  uint16_t arg = (uint16_t)(hdr[1] | hdr[2] << 8);
  if (hdr[0] == 'L' && len == 0) {
    if (arg > TVM_MEM_BYTES) {
      sl_line("X size ", TVM_MEM_BYTES);
      return;
    }
    rt_stop();
    loading = 1;
    expect = 0;
    cap_len = arg;
  } else if (!loading) {
    rp_str("S -\n");
    return;
  } else if (into && len && (uint16_t)(expect + len) <= cap_len) {
    expect = (uint16_t)(expect + len);
  } else if (hdr[0] == 'G' && len == 0 && expect == cap_len) {
    loading = 0;
    rt_start(cap_len);
    return;
  }
  ready();
}

static void byte(uint8_t c) {
  if (c == SL_FLAG) {
    /* a damaged frame gets no answer: the host sends it again when its wait ends (an answer to noise
     * could be taken for the answer to the next frame) */
    if (n >= 5 && n != SL_OVERLONG && crc == 0) frame((uint8_t)(n - 5));
    n = esc = into = 0;
    crc = 0;
    return;
  }
  if (c == SL_ESC) {
    esc = 1;
    return;
  }
  if (esc) {
    c ^= 0x20;
    esc = 0;
  }
  if (n >= SL_FRAME_MAX) {
    n = SL_OVERLONG;
    return;
  }
  crc = _crc_xmodem_update(crc, c);
  if (n < 3) {
    hdr[n] = c;
    if (n == 2) into = loading && hdr[0] == 'D' && (uint16_t)(hdr[1] | hdr[2] << 8) == expect;
  } else if (into) {
    /* the CRC's two bytes land after the data too: the next DATA frame overwrites them */
    uint16_t i = (uint16_t)(expect + n - 3);
    if (i < TVM_MEM_BYTES) tvm_mem[i] = c;
  }
  n++;
}

void sl_poll(void) {
  int16_t c;
  while ((c = board_getc()) >= 0) byte((uint8_t)c);
}
