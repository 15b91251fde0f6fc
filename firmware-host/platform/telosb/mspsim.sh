#!/bin/sh
# Run a TelosB image on mspdebug's simulator: the console device at 0x00FF
# prints the firmware's bytes, the MSP430F1611's hardware multiplier at
# 0x0130 (platform/telosb/libc.c uses it), a Timer_A interrupts every millisecond, a
# breakpoint on board_exit's loop ends the run, and the tracer reports the
# instructions and MCLK cycles executed ("simio info t").
#   mspsim.sh image.elf
ELF=$1
END=$(llvm-nm "$ELF" | awk '$3 == "board_end" { print $1 }')
if [ -z "$END" ]; then echo "mspsim.sh: no board_end symbol in $ELF" >&2; exit 2; fi
exec mspdebug -q sim \
  "simio add console con" \
  "simio add hwmult mpy" \
  "simio add timer ta 3" \
  "simio config ta base 0x0160" \
  "simio config ta iv 0x012e" \
  "simio config ta irq0 6" \
  "simio config ta irq1 5" \
  "simio add tracer t 64" \
  "prog $ELF" \
  "setbreak 0x$END" \
  "run" \
  "simio info t"
