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
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
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
