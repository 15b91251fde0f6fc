/*
 * TelosB board (MSP430F1611; MCLK = SMCLK = 4 MHz, as TinyOS runs it) for
 * the mote builds: Timer_A counts SMCLK in up mode and interrupts every
 * millisecond, idle is LPM0 (the timer keeps running), the byte output is
 * mspdebug's simulated console at 0x00FF (a real board would use USART1),
 * the LEDs are P5.4..P5.6 (active low, as on the TelosB), bench markers go
 * to P6OUT, the end is a breakpoint the runner sets on board_exit's loop.
 *
 * BOARD_SKIP_SLEEP (bench builds on mspdebug, whose `run` does not advance
 * a sleeping CPU's timers): sleeping skips the rest of the current
 * millisecond instead of entering LPM0 (the timer jumps to its compare
 * value, and the clock interrupt follows at once), so the simulator executes
 * only the active cycles and the millisecond clock is simulated time.
 */
#include <stdint.h>
#include "../../comp/board.h"
#include "../../core/tvm.h"

#ifndef F_CPU
#define F_CPU 4000000ul
#endif

#define REG8(a) (*(volatile uint8_t *)(a))
#define REG16(a) (*(volatile uint16_t *)(a))
#define WDTCTL REG16(0x0120)
#define TACTL REG16(0x0160)
#define TACCTL0 REG16(0x0162)
#define TAR REG16(0x0170)
#define TACCR0 REG16(0x0172)
#define P5OUT REG8(0x0031)
#define P5DIR REG8(0x0032)
#define P6OUT REG8(0x0035)
#define P6DIR REG8(0x0036)
#define CONSOLE REG8(0x00ff)

volatile uint32_t board_ms_count;
volatile uint8_t tvm_chain_stop; /* the VM returns between chained reactions when set */

/* Timer_A CCR0: one more millisecond, and wake the main loop from LPM0 (clear CPUOFF in the saved SR). */
__attribute__((interrupt(6), naked)) void timer_a0_isr(void) {
  __asm__ volatile(
      "add #1, &board_ms_count\n"
      "addc #0, &board_ms_count+2\n"
      "bis.b %0, &tvm_chain_stop\n"
      "bic #0x0010, 0(r1)\n"
      "reti" : : "i"(TVM_CHAIN_TICK));
}

void board_init(void) {
  WDTCTL = 0x5a80; /* password, hold */
  P5DIR |= 0x70;
  P5OUT |= 0x70;
  P6DIR = 0xff;
#ifndef RT_FROZEN /* bench builds timed marker to marker run without the clock */
  TACCR0 = (uint16_t)(F_CPU / 1000 - 1);
  TACCTL0 = 0x0010;        /* CCIE */
  TACTL = 0x0200 | 0x0010; /* TASSEL_2 (SMCLK), MC_1 (up) */
#endif
  __asm__ volatile("eint\n nop");
}

/* read with interrupts off, and leave GIE as it was (check-then-sleep calls this with interrupts off) */
uint32_t board_ms(void) {
  uint16_t sr;
  uint32_t v;
  __asm__ volatile("mov r2, %0\n dint\n nop" : "=r"(sr)::"memory");
  v = board_ms_count;
  __asm__ volatile("mov %0, r2\n nop" ::"r"(sr) : "memory");
  return v;
}

void board_irq_off(void) {
  __asm__ volatile("dint\n nop");
}

void board_irq_on(void) {
  __asm__ volatile("eint\n nop");
}

void board_sleep(void) {
#ifdef BOARD_SKIP_SLEEP
  /* the next interrupt is the clock's (no other is enabled): the counter reaches TACCR0 at its next count */
  TAR = TACCR0;
  __asm__ volatile("eint\n nop");
#else
  /* GIE | CPUOFF: LPM0 with interrupts on; the ISR returns to active mode */
  __asm__ volatile("bis #0x0018, r2\n nop");
#endif
}

void board_putc(uint8_t c) {
  CONSOLE = c;
}

void board_mark(uint8_t v) {
  P6OUT = v;
}

void board_leds(uint8_t v) {
  P5OUT = (uint8_t)((P5OUT & ~0x70) | ((~v & 7) << 4));
}

__attribute__((noinline)) void board_exit(void) {
  __asm__ volatile("dint\n nop");
  for (;;) {
    __asm__ volatile("board_end:");
  }
}
