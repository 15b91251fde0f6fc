# MicaZ: ATmega128L, avr-gcc, avr-libc's startup; simavr through simrun (libsimavr).
BOARD_SRC := platform/micaz/board.c
BOARD_LIBS :=
include platform/mote.mk

all: $(B)/simrun

$(B)/simrun: platform/micaz/simrun.c | $(B)
	gcc -O2 -Wall -o $@ $< $$(pkg-config --cflags --libs simavr) -lelf
