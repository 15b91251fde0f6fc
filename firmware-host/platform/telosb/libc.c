/*
 * What clang's MSP430 code calls and Debian has no library for (no
 * msp430 libc or compiler-rt): memcpy/memmove/memset and the MSP430 EABI
 * helpers for 32-bit multiply, divide and shifts. Multiplication uses the
 * MSP430F1611's 16x16 hardware multiplier (no interrupt handler of these
 * images multiplies, so it is not shared), division a shift-and-subtract
 * loop; a helper must not call itself through the operators it implements.
 */
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *d, const void *s, size_t n) {
  uint8_t *a = d;
  const uint8_t *b = s;
  while (n--) *a++ = *b++;
  return d;
}

void *memmove(void *d, const void *s, size_t n) {
  uint8_t *a = d;
  const uint8_t *b = s;
  if (a <= b) {
    while (n--) *a++ = *b++;
  } else {
    a += n;
    b += n;
    while (n--) *--a = *--b;
  }
  return d;
}

void *memset(void *d, int c, size_t n) {
  uint8_t *a = d;
  while (n--) *a++ = (uint8_t)c;
  return d;
}

int memcmp(const void *x, const void *y, size_t n) {
  const uint8_t *a = x, *b = y;
  for (; n; n--, a++, b++) if (*a != *b) return *a - *b;
  return 0;
}

#define MPY (*(volatile uint16_t *)0x0130)  /* operand 1, unsigned multiply */
#define MAC (*(volatile uint16_t *)0x0134)  /* operand 1, multiply and accumulate */
#define OP2 (*(volatile uint16_t *)0x0138)  /* operand 2: writing it starts the multiplication */
#define RESLO (*(volatile uint16_t *)0x013a)
#define RESHI (*(volatile uint16_t *)0x013c)

/* a * b mod 2^32 = al*bl + ((al*bh + ah*bl) << 16) */
uint32_t __mspabi_mpyl(uint32_t a, uint32_t b);
uint32_t __mspabi_mpyl(uint32_t a, uint32_t b) {
  uint16_t lo, hi;
  MPY = (uint16_t)a;
  OP2 = (uint16_t)b;
  lo = RESLO;
  hi = RESHI;
  MPY = (uint16_t)a;
  OP2 = (uint16_t)(b >> 16);
  MAC = (uint16_t)(a >> 16);
  OP2 = (uint16_t)b;
  hi = (uint16_t)(hi + RESLO);
  return ((uint32_t)hi << 16) | lo;
}
uint32_t __mspabi_mpyl_hw(uint32_t a, uint32_t b);
uint32_t __mspabi_mpyl_hw(uint32_t a, uint32_t b) {
  return __mspabi_mpyl(a, b);
}
uint16_t __mspabi_mpyi(uint16_t a, uint16_t b);
uint16_t __mspabi_mpyi(uint16_t a, uint16_t b) {
  MPY = a;
  OP2 = b;
  return RESLO;
}
uint16_t __mspabi_mpyi_hw(uint16_t a, uint16_t b);
uint16_t __mspabi_mpyi_hw(uint16_t a, uint16_t b) {
  return __mspabi_mpyi(a, b);
}

/* n / d and n % d, shift and subtract on 16-bit halves: the remainder:dividend pair shifts left
 * one bit per step (rla/rlc: clang makes a dozen instructions of a 32-bit shift by one) and the
 * quotient's bits enter the dividend from the right as its own bits leave on the left; the
 * dividend's leading zero bits are skipped first. */
#define SHIFT_LEFT(lo, hi) __asm__("rla %0\n rlc %1" : "+r"(lo), "+r"(hi))
#define SHIFT_LEFT4(a, b, c, d) __asm__("rla %0\n rlc %1\n rlc %2\n rlc %3" : "+r"(a), "+r"(b), "+r"(c), "+r"(d))
static uint32_t udivmod(uint32_t n, uint32_t d, uint32_t *rem) {
  uint16_t nl = (uint16_t)n, nh = (uint16_t)(n >> 16), dl = (uint16_t)d, dh = (uint16_t)(d >> 16), rl = 0, rh = 0;
  uint8_t i = 32;
  while (i && (int16_t)nh >= 0) {
    SHIFT_LEFT(nl, nh);
    i--;
  }
  for (; i; i--) {
    SHIFT_LEFT4(nl, nh, rl, rh);
    if (rh > dh || (rh == dh && rl >= dl)) {
      rh = (uint16_t)(rh - dh - (rl < dl));
      rl = (uint16_t)(rl - dl);
      nl |= 1;
    }
  }
  *rem = ((uint32_t)rh << 16) | rl;
  return ((uint32_t)nh << 16) | nl;
}

uint32_t __mspabi_divul(uint32_t n, uint32_t d);
uint32_t __mspabi_divul(uint32_t n, uint32_t d) {
  uint32_t r;
  return udivmod(n, d, &r);
}
uint32_t __mspabi_remul(uint32_t n, uint32_t d);
uint32_t __mspabi_remul(uint32_t n, uint32_t d) {
  uint32_t r;
  udivmod(n, d, &r);
  return r;
}
int32_t __mspabi_divli(int32_t n, int32_t d);
int32_t __mspabi_divli(int32_t n, int32_t d) {
  uint32_t r, q = udivmod(n < 0 ? 0u - (uint32_t)n : (uint32_t)n, d < 0 ? 0u - (uint32_t)d : (uint32_t)d, &r);
  return (int32_t)((n < 0) != (d < 0) ? 0u - q : q);
}
int32_t __mspabi_remli(int32_t n, int32_t d);
int32_t __mspabi_remli(int32_t n, int32_t d) {
  uint32_t r;
  udivmod(n < 0 ? 0u - (uint32_t)n : (uint32_t)n, d < 0 ? 0u - (uint32_t)d : (uint32_t)d, &r);
  return (int32_t)(n < 0 ? 0u - r : r);
}
uint16_t __mspabi_divu(uint16_t n, uint16_t d);
uint16_t __mspabi_divu(uint16_t n, uint16_t d) {
  uint32_t r;
  return (uint16_t)udivmod(n, d, &r);
}
uint16_t __mspabi_remu(uint16_t n, uint16_t d);
uint16_t __mspabi_remu(uint16_t n, uint16_t d) {
  uint32_t r;
  udivmod(n, d, &r);
  return (uint16_t)r;
}
int16_t __mspabi_divi(int16_t n, int16_t d);
int16_t __mspabi_divi(int16_t n, int16_t d) {
  return (int16_t)__mspabi_divli(n, d);
}
int16_t __mspabi_remi(int16_t n, int16_t d);
int16_t __mspabi_remi(int16_t n, int16_t d) {
  return (int16_t)__mspabi_remli(n, d);
}

uint32_t __mspabi_slll(uint32_t v, int16_t n);
uint32_t __mspabi_slll(uint32_t v, int16_t n) {
  while (n-- > 0) v <<= 1;
  return v;
}
uint32_t __mspabi_srll(uint32_t v, int16_t n);
uint32_t __mspabi_srll(uint32_t v, int16_t n) {
  while (n-- > 0) v >>= 1;
  return v;
}
int32_t __mspabi_sral(int32_t v, int16_t n);
int32_t __mspabi_sral(int32_t v, int16_t n) {
  while (n-- > 0) v >>= 1;
  return v;
}
uint16_t __mspabi_slli(uint16_t v, int16_t n);
uint16_t __mspabi_slli(uint16_t v, int16_t n) {
  while (n-- > 0) v <<= 1;
  return v;
}
uint16_t __mspabi_srli(uint16_t v, int16_t n);
uint16_t __mspabi_srli(uint16_t v, int16_t n) {
  while (n-- > 0) v >>= 1;
  return v;
}
int16_t __mspabi_srai(int16_t v, int16_t n);
int16_t __mspabi_srai(int16_t v, int16_t n) {
  while (n-- > 0) v >>= 1;
  return v;
}
