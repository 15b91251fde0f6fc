/* Compact text reports of the mote builds (decoded by firmware-host/harness.ts). */
#ifndef TC_REPORT_H
#define TC_REPORT_H
#include <stdint.h>
void rp_str(const char *s);
void rp_u32(uint32_t v);
void rp_i32(int32_t v);
void rp_hex(const uint8_t *p, uint8_t n);
void rp_c(char c);
#endif
