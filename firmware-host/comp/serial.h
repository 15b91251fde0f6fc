/*
 * Serial capsule loader: a capsule sent over the mote's UART replaces the
 * running script (protocol: docs/serial.md; host side:
 * components/serial/load.ts, `terra load`). Built into the MicaZ images
 * (RT_SERIAL=1, make SERIAL=1, the default there).
 */
#ifndef TC_SERIAL_H
#define TC_SERIAL_H
#include <stdint.h>

/* Decode the bytes the board has received (board_getc) and answer the frames among them. */
void sl_poll(void);
/* An answer line: tag (ending with a space), the number v, a newline ("S 64", "A 120", "K 120"). */
void sl_line(const char *tag, uint32_t v);

/* Provided by the driver (comp/rt.c): */
/* Stop the running script (its memory is about to be overwritten): no more steps, sensors and radio idle. */
void rt_stop(void);
/* Load the capsule of len bytes at tvm_mem[0] and boot it at the clock's time ("A len" on the byte
 * output first): 1, or 0 with the reason on the byte output ("X reject OFFSET REASON", "X config"). */
uint8_t rt_start(uint16_t len);

#endif
