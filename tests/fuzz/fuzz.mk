# fuzz.mk - libFuzzer targets for tpd's parsers (clang, ASan + UBSan).
#
#   make -f tests/fuzz/fuzz.mk            build build/fuzz/fuzz_*
#   make -f tests/fuzz/fuzz.mk fuzz       run each for FUZZ_SECONDS (60)
#
# Targets: fuzz_request (common/proto.c, with the steering fields of
# common/steer.c), fuzz_pipe (client/pipe_parse.c),
# fuzz_config (daemon/options.c + log.c), fuzz_codec (common/codec.c),
# fuzz_blocklist (daemon/blocklist.c, daemon/peernet.c).
# Each run starts from tests/fuzz/corpus/NAME (read only: new inputs go to
# build/fuzz/corpus/NAME) and fails on the first crash, leak or sanitizer
# report; the crashing input is left in build/fuzz/ (crash-*, leak-*, ...).
# Runs are sequential and single-process: the machine is shared.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_OUT ?= build/fuzz
FUZZ_SAN := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_PKGS := json-c libcrypto
FUZZ_CFLAGS := -std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror \
	-D_GNU_SOURCE -Icommon -Iclient -Idaemon \
	$(shell pkg-config --cflags $(FUZZ_PKGS))
FUZZ_LIBS := $(shell pkg-config --libs $(FUZZ_PKGS)) -lm

FUZZ_NAMES := fuzz_request fuzz_pipe fuzz_config fuzz_codec fuzz_blocklist
FUZZ_BINS := $(addprefix $(FUZZ_OUT)/,$(FUZZ_NAMES))

# proto.c and options.c check steering fields with steer.c, rate.c and
# schedule.c.
FUZZ_STEER_SRC := common/steer.c common/rate.c common/schedule.c
fuzz_request_SRC := common/proto.c common/jsonw.c common/codec.c common/utf8.c common/escape.c common/jsonscan.c $(FUZZ_STEER_SRC)
fuzz_pipe_SRC := client/pipe_parse.c
fuzz_config_SRC := daemon/options.c daemon/log.c daemon/peernet.c common/utf8.c common/escape.c $(FUZZ_STEER_SRC)
fuzz_codec_SRC := common/codec.c
fuzz_blocklist_SRC := daemon/blocklist.c daemon/peernet.c

.PHONY: fuzz-build fuzz
.SECONDEXPANSION:
fuzz-build: $(FUZZ_BINS)

# Sources are compiled with the target, one command each: four small
# programs, no object sharing needed.
$(FUZZ_OUT)/%: tests/fuzz/%.c $$($$*_SRC) common/*.h client/*.h daemon/*.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -o $@ $< $($*_SRC) $(FUZZ_LIBS)

fuzz: $(FUZZ_BINS)
	@sh tests/fuzz/run.sh $(FUZZ_OUT) $(FUZZ_SECONDS) $(FUZZ_NAMES)

