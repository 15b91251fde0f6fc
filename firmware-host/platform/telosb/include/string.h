/* The string.h of the TelosB build (implemented in platform/telosb/libc.c). */
#ifndef TELOSB_STRING_H
#define TELOSB_STRING_H
#include <stddef.h>
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif
