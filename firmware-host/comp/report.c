/* Number and byte printing over the board's byte output (no printf on the motes). */
#include "board.h"
#include "report.h"

void rp_c(char c) {
  board_putc((uint8_t)c);
}

void rp_str(const char *s) {
  while (*s) board_putc((uint8_t)*s++);
}

void rp_u32(uint32_t v) {
  char buf[11];
  uint8_t n = 0;
  do {
    uint32_t q = v / 10; /* one division per digit (the small MCUs divide in software) */
    buf[n++] = (char)('0' + (v - (q << 3) - (q << 1)));
    v = q;
  } while (v);
  while (n) board_putc((uint8_t)buf[--n]);
}

void rp_i32(int32_t v) {
  if (v < 0) {
    board_putc('-');
    rp_u32(0u - (uint32_t)v);
  } else {
    rp_u32((uint32_t)v);
  }
}

void rp_hex(const uint8_t *p, uint8_t n) {
  static const char H[] = "0123456789abcdef";
  while (n--) {
    board_putc((uint8_t)H[*p >> 4]);
    board_putc((uint8_t)H[*p++ & 15]);
  }
}
