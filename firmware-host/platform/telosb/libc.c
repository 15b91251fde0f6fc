/*
 * What clang's MSP430 code calls and Debian has no library for (no
 * msp430 libc or compiler-rt): memcpy/memmove/memset and the MSP430 EABI
 * helpers for 32-bit multiply, divide and shifts. Shift-and-add loops only:
 * a helper must not call itself through the operators it implements.
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

uint32_t __mspabi_mpyl(uint32_t a, uint32_t b);
uint32_t __mspabi_mpyl(uint32_t a, uint32_t b) {
  uint32_t r = 0;
  while (b) {
    if (b & 1) r += a;
    a <<= 1;
    b >>= 1;
  }
  return r;
}
uint32_t __mspabi_mpyl_hw(uint32_t a, uint32_t b);
uint32_t __mspabi_mpyl_hw(uint32_t a, uint32_t b) {
  return __mspabi_mpyl(a, b);
}
uint16_t __mspabi_mpyi(uint16_t a, uint16_t b);
uint16_t __mspabi_mpyi(uint16_t a, uint16_t b) {
  uint16_t r = 0;
  while (b) {
    if (b & 1) r += a;
    a <<= 1;
    b >>= 1;
  }
  return r;
}
uint16_t __mspabi_mpyi_hw(uint16_t a, uint16_t b);
uint16_t __mspabi_mpyi_hw(uint16_t a, uint16_t b) {
  return __mspabi_mpyi(a, b);
}

static uint32_t udivmod(uint32_t n, uint32_t d, uint32_t *rem) {
  uint32_t q = 0, r = 0;
  int8_t i;
  for (i = 31; i >= 0; i--) {
    r = (r << 1) | ((n >> 31) & 1);
    n <<= 1;
    q <<= 1;
    if (r >= d) {
      r -= d;
      q |= 1;
    }
  }
  *rem = r;
  return q;
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
