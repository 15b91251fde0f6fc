/*
 * MicaZ board (ATmega128L at 7.3728 MHz) for the mote builds: Timer1 in CTC
 * mode interrupts every millisecond, UART0 (921.6 kbaud, U2X) is the byte
 * output, the LEDs are PA0..PA2 (active low, as on the MicaZ), bench
 * markers are written to PORTC (simrun timestamps them), idle is the
 * IDLE sleep mode (the timer keeps running), and the end is cli + sleep
 * (simavr stops). With RT_SERIAL the UART also receives: its interrupt
 * puts each byte into a 64-byte ring buffer (at 921.6 kbaud a byte comes
 * every 80 cycles; the serial loader decodes them in the main loop).
 */
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <util/crc16.h>
#include "../../comp/board.h"
#include "../../core/tvm.h"

static volatile uint32_t ms;
volatile uint8_t tvm_chain_stop; /* the VM returns between chained reactions when set */

/* ms++ and the tick bit, saving only r24 and SREG (avr-gcc's version saves six registers: 22
 * cycles more per millisecond) */
ISR(TIMER1_COMPA_vect, ISR_NAKED) {
  __asm__ volatile(
      "push r24\n\tin r24, __SREG__\n\tpush r24\n\t"
      "lds r24, %0\n\tsubi r24, 0xff\n\tsts %0, r24\n\t"
      "lds r24, %0+1\n\tsbci r24, 0xff\n\tsts %0+1, r24\n\t"
      "lds r24, %0+2\n\tsbci r24, 0xff\n\tsts %0+2, r24\n\t"
      "lds r24, %0+3\n\tsbci r24, 0xff\n\tsts %0+3, r24\n\t"
      "lds r24, %1\n\tori r24, %2\n\tsts %1, r24\n\t"
      "pop r24\n\tout __SREG__, r24\n\tpop r24\n\treti"
      :
      : "i"(&ms), "i"(&tvm_chain_stop), "M"(TVM_CHAIN_TICK));
}

#if RT_SERIAL
#define BOARD_RX_BYTES 64 /* a power of two */
static volatile uint8_t rx_buf[BOARD_RX_BYTES], rx_head, rx_tail;

ISR(USART0_RX_vect) {
  uint8_t c = UDR0, h = rx_head, n = (uint8_t)((h + 1) & (BOARD_RX_BYTES - 1));
  if (n == rx_tail) return; /* full: dropped (the frame's CRC fails, the host sends it again) */
  rx_buf[h] = c;
  rx_head = n;
}

int16_t board_getc(void) {
  uint8_t t = rx_tail, c;
  if (t == rx_head) return -1;
  c = rx_buf[t];
  rx_tail = (uint8_t)((t + 1) & (BOARD_RX_BYTES - 1));
  return c;
}

uint8_t board_rx_waiting(void) {
  return rx_tail != rx_head;
}

/* The kept capsule in the EEPROM (4 KB): length (2 B, little-endian), CRC-16/XMODEM of the bytes
 * (2 B, big-endian), the bytes. Writing order: the length's high byte to 0xff (no record: longer
 * than any block), the bytes, the CRC, the length last. */
typedef char keep_fits[TVM_MEM_BYTES + 4 <= E2END + 1 ? 1 : -1];
static const uint8_t *keep_src;
static uint16_t keep_len, keep_crc, keep_i, keep_end; /* write keep_i of keep_end */

/* the keep_i-th write: its EEPROM address and byte */
static uint16_t keep_step(uint8_t *b) {
  uint16_t i = keep_i;
  if (i == 0) {
    *b = 0xff;
    return 1;
  }
  if (i <= keep_len) {
    *b = keep_src[i - 1];
    return (uint16_t)(3 + i);
  }
  i = (uint16_t)(i - keep_len); /* 1..4: CRC high, CRC low, length low, length high */
  *b = i == 1 ? (uint8_t)(keep_crc >> 8) : i == 2 ? (uint8_t)keep_crc : i == 3 ? (uint8_t)keep_len : (uint8_t)(keep_len >> 8);
  return i <= 2 ? (uint16_t)(i + 1) : (uint16_t)(i - 3);
}

/* The EEPROM is ready for a write: the next byte that differs from the EEPROM's, or the 8th one
 * read (interrupts are off for at most 8 reads, about 300 cycles), and then the write-ready
 * interrupt; none when all are written. Called with interrupts off (the write-enable sequence's
 * 4-cycle window holds). */
static void keep_next(void) {
  uint8_t reads = 0;
  while (keep_i < keep_end) {
    uint8_t b;
    EEAR = keep_step(&b);
    keep_i++;
    EECR |= _BV(EERE);
    if (EEDR == b && ++reads < 8) continue;
    EEDR = b;
    EECR |= _BV(EEMWE);
    EECR |= _BV(EEWE);
    EECR |= _BV(EERIE);
    return;
  }
  EECR &= (uint8_t)~_BV(EERIE);
}

ISR(EE_READY_vect) {
  keep_next();
}

void board_keep(const uint8_t *p, uint16_t len) {
  uint16_t k, crc = 0;
  for (k = 0; k < len; k++) crc = _crc_xmodem_update(crc, p[k]);
  cli();
  keep_src = p;
  keep_len = len;
  keep_crc = crc;
  keep_i = 0;
  keep_end = (uint16_t)(len + 5);
  /* the first write from here: simavr raises the write-ready interrupt only after a write (the
   * ATmega128's, while the EEPROM is idle) */
  while (EECR & _BV(EEWE)) {
  }
  keep_next();
  sei();
}

void board_keep_stop(void) {
  cli();
  keep_end = keep_i; /* keep_next wrote the length's high byte (0xff: no record) first, if anything */
  sei();
  while (EECR & _BV(EERIE)) {
  }
}

uint8_t board_keeping(void) {
  return (EECR & _BV(EERIE)) != 0;
}

uint16_t board_kept(uint8_t *dst, uint16_t max) {
  uint16_t len = eeprom_read_word((const uint16_t *)0), crc = 0, k;
  if (len == 0 || len > max) return 0;
  eeprom_read_block(dst, (const void *)4, len);
  for (k = 0; k < len; k++) crc = _crc_xmodem_update(crc, dst[k]);
  if (crc != (uint16_t)(eeprom_read_byte((const uint8_t *)2) << 8 | eeprom_read_byte((const uint8_t *)3))) return 0;
  return len;
}
#endif

void board_init(void) {
  DDRA |= 7;
  PORTA |= 7;
  DDRC = 0xff;
  UCSR0A = _BV(U2X0);
  UBRR0H = 0;
  UBRR0L = 0; /* 7372800 / 8 = 921600 baud */
#if RT_SERIAL
  UCSR0B = _BV(TXEN0) | _BV(RXEN0) | _BV(RXCIE0);
#else
  UCSR0B = _BV(TXEN0);
#endif
  UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
#ifndef RT_FROZEN /* bench builds timed marker to marker run without the clock */
  OCR1A = (uint16_t)(F_CPU / 1000 - 1);
  TCCR1A = 0;
  TCCR1B = _BV(WGM12) | _BV(CS10);
  TIMSK |= _BV(OCIE1A);
#endif
  set_sleep_mode(SLEEP_MODE_IDLE);
  sei();
}

uint32_t board_ms(void) {
  uint32_t v;
  uint8_t s = SREG;
  cli();
  v = ms;
  SREG = s;
  return v;
}

void board_irq_off(void) {
  cli();
}

void board_irq_on(void) {
  sei();
}

void board_sleep(void) {
  sleep_enable();
  sei();
  sleep_cpu();
  sleep_disable();
}

void board_putc(uint8_t c) {
  while (!(UCSR0A & _BV(UDRE0))) {
  }
  UCSR0A = _BV(U2X0) | _BV(TXC0); /* clear "transmit complete" */
  UDR0 = c;
}

void board_mark(uint8_t v) {
  PORTC = v;
}

void board_leds(uint8_t v) {
  PORTA = (uint8_t)((PORTA & ~7) | (~v & 7));
}

void board_exit(void) {
  /* let the last byte leave the UART */
  while (!(UCSR0A & _BV(TXC0))) {
  }
  cli();
  sleep_enable();
  sleep_cpu();
  for (;;) {
  }
}
