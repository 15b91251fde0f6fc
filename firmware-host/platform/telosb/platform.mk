# TelosB: MSP430F1611, clang --target=msp430 + ld.lld with own startup, linker
# script and EABI helpers (Debian has no msp430 libc/compiler-rt); mspdebug's
# simulator runs the test and bench builds (platform/telosb/mspsim.sh).
BOARD_SRC := platform/telosb/board.c platform/telosb/startup.c platform/telosb/libc.c
BOARD_LIBS :=
LINK := ld.lld -T platform/telosb/telosb.ld --gc-sections
include platform/mote.mk
