/*
 * What a mote board provides to the mote builds (platform/<board>/board.c):
 * a millisecond clock driven by a timer interrupt, sleep until the next
 * interrupt, a byte output (UART or semihosting), bench markers, LEDs;
 * with RT_SERIAL (MicaZ only, so far), a byte input: the UART's receiver
 * behind a ring buffer filled by its interrupt (comp/serial.c reads it).
 */
#ifndef TC_BOARD_H
#define TC_BOARD_H
#include <stdint.h>

void board_init(void);
/* ms since boot (the timer interrupt counts them) */
uint32_t board_ms(void);
/* Disable interrupts (for check-then-sleep). */
void board_irq_off(void);
void board_irq_on(void);
/* Sleep until the next interrupt: called with interrupts off, returns with them on. */
void board_sleep(void);
void board_putc(uint8_t c);
/* A bench marker (a port write the simulator harness timestamps). */
void board_mark(uint8_t v);
void board_leds(uint8_t v);
/* Stop: the simulator ends the run. */
void board_exit(void);
#if RT_SERIAL
/* The next received byte (0..255), or -1 when none is waiting. Bytes that
 * arrive while the ring buffer (BOARD_RX_BYTES) is full are dropped. */
int16_t board_getc(void);
/* 1 when a received byte is waiting. */
uint8_t board_rx_waiting(void);
/* Keep the len bytes at p (a capsule loaded over the serial line) across resets, writing them in the
 * background (MicaZ: to the EEPROM, a byte per write-ready interrupt, about 8.5 ms each, unchanged
 * bytes skipped); p must not change until the writing ends or board_keep_stop is called. The record
 * is valid only once every byte is written (a reset before leaves none). */
void board_keep(const uint8_t *p, uint16_t len);
/* Stop keeping (p is about to change): no valid record is left. */
void board_keep_stop(void);
/* 1 while a record is being written (board_keep until its last byte). */
uint8_t board_keeping(void);
/* The kept record's length, its bytes copied to dst, or 0 when there is none (erased, cut short by a
 * reset, longer than max or damaged: its CRC fails). */
uint16_t board_kept(uint8_t *dst, uint16_t max);
#endif

#endif
