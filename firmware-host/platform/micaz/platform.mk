# MicaZ: ATmega128L, avr-gcc, avr-libc's startup; simavr through simrun (libsimavr).
BOARD_SRC := platform/micaz/board.c
BOARD_LIBS :=
# the images load capsules sent over the UART (terra load); bench c builds with SERIAL=0
SERIAL ?= 1
include platform/mote.mk

all: $(B)/simrun

$(B)/simrun: platform/micaz/simrun.c | $(B)
	gcc -O2 -Wall -o $@ $< $$(pkg-config --cflags --libs simavr) -lelf
