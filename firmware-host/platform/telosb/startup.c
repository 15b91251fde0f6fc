/* MSP430 startup for the TelosB images: stack, .data copy, .bss clear, main. */
#include <stdint.h>

extern uint16_t __data_load, __data_start, __data_end, __bss_start, __bss_end;
int main(void);
void crt_init(void);

__attribute__((naked, section(".text.startup"))) void _start(void) {
  __asm__ volatile("mov #__stack, r1\n br #crt_init");
}

void crt_init(void) {
  uint16_t *s = &__data_load, *d = &__data_start;
  while (d < &__data_end) *d++ = *s++;
  for (d = &__bss_start; d < &__bss_end;) *d++ = 0;
  main();
  for (;;) {
  }
}

/* the ISR's vector is placed by the compiler (section __interrupt_vector_6); the reset vector here */
__attribute__((section(".resetvec"), used)) static void (*const reset_vector)(void) = _start;
