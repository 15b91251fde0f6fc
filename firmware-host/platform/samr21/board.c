/*
 * SAMR21 board (Cortex-M0+, 48 MHz) for the mote builds: SysTick interrupts
 * every millisecond, WFI when idle, the byte output and the end go through
 * semihosting (a debug probe; qemu -semihosting), LED0 is PA19 (SAMR21
 * Xplained Pro). With BOARD_QEMU the LEDs are left alone (qemu's microbit
 * maps no SAMR21 PORT) and SysTick counts qemu's 1 MHz reference... no:
 * qemu runs the core clock at SYSTICK_HZ below. Bench markers are
 * semihosting writes of "\x01M<v>\n" (scripts timestamp them by instruction count).
 */
#include <stdint.h>
#include "../../comp/board.h"
#include "../../core/tvm.h"

#ifndef SYSTICK_HZ
#define SYSTICK_HZ 48000000u
#endif

#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define PORT_DIRSET (*(volatile uint32_t *)0x41004408)
#define PORT_OUTCLR (*(volatile uint32_t *)0x41004414)
#define PORT_OUTSET (*(volatile uint32_t *)0x41004418)

static volatile uint32_t ms;
static char line[96];
static uint8_t nline;
volatile uint8_t tvm_chain_stop; /* the VM returns between chained reactions when set */

void SysTick_Handler(void) {
  ms++;
  tvm_chain_stop |= TVM_CHAIN_TICK;
}

static int semihost(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static void flush(void) {
  if (!nline) return;
  line[nline] = 0;
  semihost(0x04, line); /* SYS_WRITE0 */
  nline = 0;
}

void board_init(void) {
#ifndef BOARD_QEMU
  PORT_DIRSET = 1u << 19;
#endif
#ifndef RT_FROZEN /* bench builds timed marker to marker run without the clock */
  SYST_RVR = SYSTICK_HZ / 1000 - 1;
  SYST_CVR = 0;
  SYST_CSR = 7; /* processor clock, interrupt, enable */
#endif
}

uint32_t board_ms(void) {
  return ms;
}

void board_irq_off(void) {
  __asm__ volatile("cpsid i" ::: "memory");
}

void board_irq_on(void) {
  __asm__ volatile("cpsie i" ::: "memory");
}

void board_sleep(void) {
  /* with PRIMASK set, WFI still wakes on a pending interrupt, which runs once enabled */
  __asm__ volatile("wfi\n cpsie i" ::: "memory");
}

void board_putc(uint8_t c) {
  line[nline++] = (char)c;
  if (c == '\n' || nline == sizeof line - 1) flush();
}

void board_mark(uint8_t v) {
  (void)v;
  __asm__ volatile("" ::: "memory");
}

void board_leds(uint8_t v) {
#ifndef BOARD_QEMU
  if (v & 1) PORT_OUTCLR = 1u << 19;
  else PORT_OUTSET = 1u << 19;
#else
  (void)v;
#endif
}

void board_exit(void) {
  flush();
  semihost(0x18, (const void *)0x20026); /* SYS_EXIT, ADP_Stopped_ApplicationExit */
  for (;;) {
  }
}
