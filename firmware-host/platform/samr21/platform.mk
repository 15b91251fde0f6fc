# SAMR21 (Cortex-M0+): arm-none-eabi-gcc, own startup and linker script; qemu's
# microbit (nRF51, ARMv6-M, 16 KB RAM) runs the test builds (BOARD_QEMU).
BOARD_SRC := platform/samr21/board.c platform/samr21/startup.c
BOARD_LIBS := -Tplatform/samr21/samr21.ld -lc -lgcc
# QEMU=1: an app image for qemu's microbit (16 KB of RAM, no SAMR21 peripherals): an 8 KB block, set
# before mote.mk fixes the core's defines (a target-specific MEM would come too late: the image did
# not link, "RAM overflow")
ifeq ($(QEMU),1)
MEM := 8192
endif
include platform/mote.mk
# the test builds run on qemu's microbit: 16 KB of RAM, no SAMR21 peripherals
suite: MCU_CFLAGS += -DBOARD_QEMU
suite: LINK += -Wl,--defsym=__ram_size=16K
ifeq ($(QEMU),1)
app: MCU_CFLAGS += -DBOARD_QEMU
app: LINK += -Wl,--defsym=__ram_size=16K
endif
