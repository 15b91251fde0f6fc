# Shared rules of the mote platforms (included by platform/<board>/platform.mk,
# which sets CC, MCU_CFLAGS, MCU_LDFLAGS, BOARD_SRC, BOARD_LIBS, SIZE; the
# Makefile may set VERIFY_CFLAGS, added for core/verify.c).
#
# Builds:
#   $(B)/terra-$(PLATFORM).elf   firmware image: the VM in real time with TerraNet's
#                                local operations on the board; capsule APP_CAP
#                                (default: apps/blink.terra compiled)
#   $(B)/core-engine.o, $(B)/core-verify.o   the VM core alone (sizes)
#   suite   SUITE=<generated C file> OUT=<dir>: $(OUT)/suite.elf, the test build
#   app     APP_CAP=<capsule> OUT=<dir> [NAME=x] [APP_DEFS=-DRT_STOP_MS=n]: $(OUT)/$(NAME).elf, a firmware image
#           (appcheck.ts first refuses a capsule the image would not run: one that fails verification,
#           is not TerraNet's, uses float without FLOAT=1 or does not fit MEM; APP_CHECK=0 skips it, to
#           see the mote's own refusal at boot)
#   SERIAL=1 (image, app): the image also loads capsules sent over its UART (MicaZ; the default there)
#   NODE_ID=n (image, app): the mote's address, 0..65535 (default 1)
#   native  SCENARIO=1|2|3 OUT=<dir>: $(OUT)/native-$(SCENARIO).elf (apps/native.c)

DISPATCH_FLAG := -DTVM_DISPATCH_GOTO=$(if $(filter goto,$(DISPATCH)),1,0)
# production core: no statistics, queue entries point to component buffers, chains go on at a clock tick
CORE_DEFS := -DTVM_MEM_BYTES=$(MEM) -DTVM_FLOAT=$(FLOAT) $(DISPATCH_FLAG) -DTVM_STATS=0 -DTVM_WATCHDOG=0 -DTVM_QUEUE_COPY=0 -DTVM_TICK=1 -DTC_TIME_64=0 -DTC_MSG_MAX=25
# test builds: statistics and exact queue copies, as terra-mote
SUITE_MEM ?= $(MEM)
SUITE_DEFS := -DTVM_MEM_BYTES=$(SUITE_MEM) -DTVM_FLOAT=$(FLOAT) $(DISPATCH_FLAG) -DTVM_STATS=1 -DTVM_WATCHDOG=0 -DTVM_QUEUE_COPY=1 -DTC_TIME_64=0 -DTC_MSG_MAX=25
CORE_SRCS := core/engine.c core/verify.c
# SERIAL=1: the images load capsules sent over the UART (comp/serial.c, `terra load`; MicaZ only so far)
SERIAL ?= 0
ifeq ($(filter $(SERIAL),0 1),)
$(error SERIAL=$(SERIAL): use 0 or 1)
endif
ifeq ($(SERIAL)$(filter micaz,$(PLATFORM)),1)
$(error SERIAL=1: only the MicaZ board receives on its UART so far)
endif
RT_SRCS := $(CORE_SRCS) comp/components.c comp/rt.c comp/report.c $(if $(filter 1,$(SERIAL)),comp/serial.c) $(BOARD_SRC)
# NODE_ID: the mote's address (TerraNet's getNodeId(); TinyOS's TOS_NODE_ID, `make micaz install,N`)
NODE_ID ?= 1
ifeq ($(shell echo '$(NODE_ID)' | grep -Ex '[0-9]{1,5}' | awk '$$1 <= 65535'),)
$(error NODE_ID=$(NODE_ID): use a number 0..65535)
endif
RT_DEFS := $(CORE_DEFS) -DTC_REALTIME=1 -DRT_SERIAL=$(SERIAL) -DRT_NODE_ID=$(NODE_ID)
SUITE_SRCS := $(CORE_SRCS) comp/components.c comp/suite.c comp/report.c $(BOARD_SRC)
HDRS := $(CORE_HDR) $(COMP_HDR) comp/board.h comp/report.h comp/suite.h comp/serial.h
APP_CAP ?= $(B)/blink.cap
OUT ?= $(B)
NAME ?= app

# compile sources one by one into $(1)/obj, then link (LINK: the compiler driver, or ld.lld for MSP430)
LINK ?= $(CC) $(MCU_LDFLAGS)
define build
	rm -rf $(2).obj && mkdir -p $(2).obj
	for f in $(1); do $(CC) $(MCU_CFLAGS) $(3) $$(test $$f != core/verify.c || echo '$(VERIFY_CFLAGS)') -I. -c $$f -o $(2).obj/$$(basename $$f .c).o || exit 1; done
	$(LINK) $(2).obj/*.o $(BOARD_LIBS) -o $(2)
endef

all: $(B)/terra-$(PLATFORM).elf $(B)/core-engine.o $(B)/core-verify.o

CORE_CFLAGS ?= $(MCU_CFLAGS)
# the build files too: a change of flags rebuilds what bench c measures
MKFILES := Makefile platform/mote.mk platform/$(PLATFORM)/platform.mk
# -fstack-usage: each function's frame in $(B)/core-%.su (bench c adds them up along the calls on MicaZ)
$(B)/core-%.o: core/%.c $(CORE_HDR) $(MKFILES) | $(B)
	$(CC) $(CORE_CFLAGS) $(if $(filter verify,$*),$(VERIFY_CFLAGS)) $(CORE_DEFS) -fstack-usage -c $< -o $@

# the engine's assembler listing with its source lines (bench c: the interpreter's bytes per handler)
$(B)/core-engine.lst: core/engine.c $(CORE_HDR) $(MKFILES) | $(B)
	$(CC) $(CORE_CFLAGS) $(CORE_DEFS) -gdwarf-4 -c $< -o $(B)/core-engine-lst.o -Wa,-aln=$@

$(B)/blink.cap: apps/blink.terra | $(B)
	cd .. && npx tsx cli/main.ts compile firmware-host/apps/blink.terra -o firmware-host/$@ > /dev/null

# a capsule as a C array in flash
$(B)/%.cap.c: $(B)/%.cap
	{ echo '#include "../../core/tvm.h"'; echo 'TVM_ROM uint8_t tc_capsule[] = {'; od -An -v -tu1 $< | sed 's/  */,/g; s/^,//; s/$$/,/'; echo '};'; echo 'const uint16_t tc_capsule_len = sizeof tc_capsule;'; } > $@

# the image's options as last built: a change of SERIAL or NODE_ID rebuilds it
.PHONY: FORCE
$(B)/rt-defs: FORCE | $(B)
	@echo '$(RT_DEFS)' | cmp -s - $@ || echo '$(RT_DEFS)' > $@

$(B)/terra-$(PLATFORM).elf: $(RT_SRCS) $(HDRS) $(B)/blink.cap.c $(MKFILES) $(B)/rt-defs
	$(call build,$(RT_SRCS) $(B)/blink.cap.c,$@,$(RT_DEFS))
	$(SIZE) $@

.PHONY: suite app native
suite: $(SUITE_SRCS) $(HDRS)
	@test -n "$(SUITE)" || { echo "SUITE=<file.c> is required"; exit 2; }
	mkdir -p $(OUT)
	$(call build,$(SUITE_SRCS) $(SUITE),$(OUT)/suite.elf,$(SUITE_DEFS))

app: $(RT_SRCS) $(HDRS)
	test "$(APP_CHECK)" = 0 || { cd .. && npx tsx firmware-host/appcheck.ts $(abspath $(APP_CAP)) $(MEM) $(FLOAT); }
	mkdir -p $(OUT)
	{ echo '#include "$(CURDIR)/core/tvm.h"'; echo 'TVM_ROM uint8_t tc_capsule[] = {'; od -An -v -tu1 $(APP_CAP) | sed 's/  */,/g; s/^,//; s/$$/,/'; echo '};'; echo 'const uint16_t tc_capsule_len = sizeof tc_capsule;'; } > $(OUT)/$(NAME).cap.c
	$(call build,$(RT_SRCS) $(OUT)/$(NAME).cap.c,$(OUT)/$(NAME).elf,$(RT_DEFS) $(APP_DEFS))

native: apps/native.c comp/report.c $(BOARD_SRC)
	mkdir -p $(OUT)
	$(call build,apps/native.c comp/report.c $(BOARD_SRC),$(OUT)/native-$(SCENARIO).elf,-DSCENARIO=$(SCENARIO) $(APP_DEFS))
