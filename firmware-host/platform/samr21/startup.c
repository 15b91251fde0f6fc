/*
 * Cortex-M0+ startup for the SAMR21 images (also run on qemu's microbit, an
 * nRF51 Cortex-M0 with the same ARMv6-M instruction set): vector table,
 * .data copy, .bss clear, main. The linker script (samr21.ld) places the
 * stack at __stack_top (end of RAM).
 */
#include <stdint.h>

extern uint32_t __etext, __data_start__, __data_end__, __bss_start__, __bss_end__, __stack_top;
int main(void);
void SysTick_Handler(void);

void Reset_Handler(void) {
  uint32_t *src = &__etext, *dst = &__data_start__;
  while (dst < &__data_end__) *dst++ = *src++;
  for (dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
  main();
  for (;;) {
  }
}

static void Default_Handler(void) {
  for (;;) {
  }
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16 + 32])(void) = {
  (void (*)(void))(&__stack_top),
  Reset_Handler,
  Default_Handler, /* NMI */
  Default_Handler, /* HardFault */
  0, 0, 0, 0, 0, 0, 0,
  Default_Handler, /* SVC */
  0, 0,
  Default_Handler, /* PendSV */
  SysTick_Handler,
};
