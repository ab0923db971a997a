# tpd - a BitTorrent daemon shared by many local programs.
#
#   make            build/tpd, build/tpctl, build/tpweb, build/libtpclient.a
#   make deps       install the Debian packages that are missing
#   make run        tpd in the foreground: ./run/tpd.sock, ./var/
#   make test       unit + integration tests (what .ci/run calls)
#   make test-asan  the same suites built with ASan/UBSan
#   make demo       a two-daemon swarm on two namespace hosts (loopback without root)
#   make bench      side-by-side timings
#   make test-fresh make test from a clean clone in a new Debian 12 root
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
TP_VERSION := $(shell sed -n 's/^\#define TP_VERSION "\(.*\)"/\1/p' common/proto.h)
DESTDIR ?=
BUILD ?= build

CC ?= cc
CXX ?= g++
OPT ?= -O2 -g
SAN ?=
WARN := -Wall -Wextra -Werror
PKGS := json-c libcurl libsystemd libcrypto sqlite3
# What tpctl and libtpclient's users link: the protocol needs nothing more.
CLIENT_PKGS := json-c libcrypto

# pkg-config is asked when a recipe first needs a flag, not when this file is
# read: `make test` on a fresh machine reads it before `make deps` has
# installed pkg-config and the -dev packages.  A library pkg-config cannot
# find stops the build with its name instead of a link that lacks it.
pkg_flags = $(if $(shell command -v pkg-config),,$(error pkg-config is not \
	installed: run `make deps`))$(foreach p,$(2),$(if $(shell pkg-config \
	--exists $(p) && echo y),,$(error pkg-config cannot find $(p): run \
	`make deps`, or install its -dev package)))$(shell pkg-config $(1) $(2))
# Each is looked up once per make, on first use.
lazy = $(eval $(1) := $$(call pkg_flags,$(2),$(3)))$($(1))
PKG_CFLAGS = $(call lazy,PKG_CFLAGS,--cflags,$(PKGS))
PKG_LIBS = $(call lazy,PKG_LIBS,--libs,$(PKGS))
CLIENT_LIBS = $(call lazy,CLIENT_LIBS,--libs,$(CLIENT_PKGS))
LT_CFLAGS = $(call lazy,LT_CFLAGS,--cflags,libtorrent-rasterbar)
LT_LIBS = $(call lazy,LT_LIBS,--libs,libtorrent-rasterbar)
# tpweb: libmicrohttpd besides what a patron links.
WEB_CFLAGS = $(call lazy,WEB_CFLAGS,--cflags,libmicrohttpd)
WEB_LIBS = $(call lazy,WEB_LIBS,--libs,libmicrohttpd $(CLIENT_PKGS))

CPPFLAGS_ALL := -D_GNU_SOURCE -Icommon -Iclient -Idaemon
CFLAGS_ALL = -std=c11 $(WARN) $(OPT) $(SAN) -pthread $(PKG_CFLAGS) $(CPPFLAGS_ALL)
CXXFLAGS_ALL = -std=c++17 $(WARN) $(OPT) $(SAN) -pthread $(LT_CFLAGS) $(CPPFLAGS_ALL)

COMMON_SRC := $(wildcard common/*.c)
CLIENTLIB_SRC := client/tpclient.c
TPCTL_SRC := $(filter-out $(CLIENTLIB_SRC),$(wildcard client/*.c))
DAEMON_SRC := $(wildcard daemon/*.c)
SHIM_SRC := $(wildcard daemon/*.cpp)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
WEB_SRC := $(wildcard web/*.c)
WEB_PAGE := $(wildcard web/page/*)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(patsubst %.cpp,$(BUILD)/obj/%.o,$(1)))

COMMON_OBJ := $(call obj,$(COMMON_SRC))
CLIENTLIB_OBJ := $(call obj,$(CLIENTLIB_SRC))
TPCTL_OBJ := $(call obj,$(TPCTL_SRC))
DAEMON_OBJ := $(call obj,$(DAEMON_SRC))
DAEMON_LIB_OBJ := $(filter-out $(BUILD)/obj/daemon/main.o,$(DAEMON_OBJ))
SHIM_OBJ := $(call obj,$(SHIM_SRC))
WEB_OBJ := $(call obj,$(WEB_SRC))
WEB_LIB_OBJ := $(filter-out $(BUILD)/obj/web/tpweb.o,$(WEB_OBJ))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

# Unit tests that reach the engine link libtorrent; the rest link only the
# daemon's and the client's objects they use (pulled from archives).
UNIT_LT := test_service test_shim

.PHONY: all deps run test test-unit test-integration test-asan demo bench \
	install uninstall clean fuzz test-valgrind test-fresh \
	run-built test-built demo-built bench-built test-asan-built \
	test-valgrind-built fuzz-built test-fresh-built

all: $(BUILD)/tpd $(BUILD)/tpctl $(BUILD)/tpweb $(BUILD)/libtpclient.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libtpclient.a: $(CLIENTLIB_OBJ) $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The daemon's modules but main and the shim, for the unit tests.
$(BUILD)/libtpd.a: $(DAEMON_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tpd: $(DAEMON_OBJ) $(SHIM_OBJ) $(COMMON_OBJ)
	$(CXX) $(SAN) -pthread -o $@ $^ $(LT_LIBS) $(PKG_LIBS)

$(BUILD)/tpctl: $(TPCTL_OBJ) $(BUILD)/libtpclient.a
	$(CC) $(SAN) -pthread -o $@ $^ $(CLIENT_LIBS) -lm

$(WEB_OBJ): CFLAGS_ALL += $(WEB_CFLAGS)
# Where an installed tpweb finds its page unless --web-root says otherwise.
# tpweb.o bakes it in, so it is rebuilt whenever PREFIX changes (`make`
# then `make install PREFIX=/usr`): the stamp holds the last one used.
WEB_ROOT_DIR = $(PREFIX)/share/tpd/web
$(BUILD)/obj/web/tpweb.o: CFLAGS_ALL += -DTPWEB_WEB_ROOT='"$(WEB_ROOT_DIR)"'
$(BUILD)/obj/web/tpweb.o: $(BUILD)/web-root.stamp
$(BUILD)/web-root.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(WEB_ROOT_DIR)' | cmp -s - $@ || echo '$(WEB_ROOT_DIR)' >$@
FORCE:
$(BUILD)/tpweb: $(WEB_OBJ) $(BUILD)/libtpclient.a
	$(CC) $(SAN) -pthread -o $@ $^ $(WEB_LIBS)

# tpweb's modules but main, for its unit test.
$(BUILD)/libtpweb.a: $(WEB_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

.PRECIOUS: $(BUILD)/obj/tests/unit/%.o
$(BUILD)/obj/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Wno-unused-parameter -MMD -MP -c $< -o $@

# What a test links before the archives (the shim, tpweb's modules) uses
# modules from them too.
$(addprefix $(BUILD)/tests/,$(UNIT_LT)): $(SHIM_OBJ)
$(addprefix $(BUILD)/tests/,$(UNIT_LT)): UNIT_FIRST = $(SHIM_OBJ)
$(addprefix $(BUILD)/tests/,$(UNIT_LT)): UNIT_LIBS = $(LT_LIBS)
# test_web reaches tpweb's modules, which call back into libtpclient.
$(BUILD)/obj/tests/unit/test_web.o: CFLAGS_ALL += -Iweb $(WEB_CFLAGS)
$(BUILD)/tests/test_web: $(BUILD)/libtpweb.a
$(BUILD)/tests/test_web: UNIT_FIRST = $(BUILD)/libtpweb.a
$(BUILD)/tests/test_web: UNIT_LIBS = $(WEB_LIBS)
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libtpd.a $(BUILD)/libtpclient.a
	@mkdir -p $(dir $@)
	$(CXX) $(SAN) -pthread -o $@ $< $(UNIT_FIRST) $(BUILD)/libtpd.a \
		$(BUILD)/libtpclient.a $(UNIT_LIBS) $(PKG_LIBS) -lcmocka -lm

deps:
	@sh tests/deps.sh

# These install the packages first, then run make again for the rest: this
# file's pkg-config look-ups must see what deps installed, and a recipe keeps
# the order under -j.  NAME-built is NAME without the installation.
run test demo bench test-asan test-valgrind fuzz test-fresh:
	@sh tests/deps.sh
	@$(MAKE) --no-print-directory $@-built

run-built: all
	@mkdir -p run var/downloads
	$(BUILD)/tpd -s run/tpd.sock -d var --download-dir var/downloads --log-level info

test-built: all $(UNIT_BIN)
	@sh tests/run-tests.sh $(BUILD)

test-unit: all $(UNIT_BIN)
	@sh tests/run-tests.sh $(BUILD) unit

test-integration: all
	@sh tests/run-tests.sh $(BUILD) integration

ASAN_OPT := -O1 -g -fno-omit-frame-pointer
ASAN_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined

# The whole suite against binaries built with ASan/UBSan.  OPT and SAN are
# exported so that a make run by a test (make install) builds alike.
test-asan-built:
	$(MAKE) BUILD=build-asan OPT="$(ASAN_OPT)" SAN="$(ASAN_SAN)" \
		all build-asan/tests/.unit
	OPT="$(ASAN_OPT)" SAN="$(ASAN_SAN)" \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		sh tests/run-tests.sh build-asan

# libFuzzer targets (clang); FUZZ_SECONDS per target, default 60.
fuzz-built:
	$(MAKE) -f tests/fuzz/fuzz.mk fuzz

# tpd under valgrind: no error and no definite leak at shutdown.
test-valgrind-built: all
	sh tests/valgrind.sh $(BUILD)

# A clean clone's `make test` in a new minimal Debian 12 root, so that a
# missing install step cannot hide behind this machine's packages.
test-fresh-built:
	@sh tests/fresh.sh

build-asan/tests/.unit: $(UNIT_BIN)
	@touch $@

demo-built: all
	@sh tests/demo.sh $(BUILD)

bench-built: all
	@sh bench/run.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(BUILD)/tpd $(DESTDIR)$(PREFIX)/sbin/tpd
	install -m 755 $(BUILD)/tpctl $(DESTDIR)$(PREFIX)/bin/tpctl
	install -m 755 $(BUILD)/tpweb $(DESTDIR)$(PREFIX)/bin/tpweb
	install -d $(DESTDIR)$(PREFIX)/share/tpd/web
	install -m 644 $(WEB_PAGE) $(DESTDIR)$(PREFIX)/share/tpd/web/
	install -m 644 man/tpweb.1 $(DESTDIR)$(PREFIX)/share/man/man1/tpweb.1
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/user
	sed 's|/usr/bin/tpweb|$(PREFIX)/bin/tpweb|g' systemd/tpweb.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/user/tpweb.service
	chmod 644 $(DESTDIR)$(PREFIX)/lib/systemd/user/tpweb.service
	install -m 644 client/tpclient.h $(DESTDIR)$(PREFIX)/include/tpclient.h
	install -m 644 $(BUILD)/libtpclient.a $(DESTDIR)$(PREFIX)/lib/libtpclient.a
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig
	printf '%s\n' 'prefix=$(PREFIX)' 'Name: tpclient' \
		'Description: client library for the tpd BitTorrent daemon' \
		'Version: $(TP_VERSION)' 'Requires: $(CLIENT_PKGS)' \
		'Cflags: -I$${prefix}/include' 'Libs: -L$${prefix}/lib -ltpclient' \
		>$(DESTDIR)$(PREFIX)/lib/pkgconfig/tpclient.pc
	install -m 644 man/tpd.8 $(DESTDIR)$(PREFIX)/share/man/man8/tpd.8
	install -m 644 man/tpctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/tpctl.1
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/lib/tmpfiles.d
	sed 's|/usr/sbin/tpd|$(PREFIX)/sbin/tpd|g' systemd/tpd.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/system/tpd.service
	chmod 644 $(DESTDIR)$(PREFIX)/lib/systemd/system/tpd.service
	install -m 644 systemd/tpd.socket $(DESTDIR)$(PREFIX)/lib/systemd/system/tpd.socket
	install -m 644 systemd/tpd.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/tpd.conf
	install -m 644 systemd/tpd.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/tpd.conf
	install -d $(DESTDIR)$(PREFIX)/share/doc/tpd
	install -m 644 systemd/tpd.conf.example proto/PROTOCOL.md README.md \
		$(DESTDIR)$(PREFIX)/share/doc/tpd/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/tpd $(DESTDIR)$(PREFIX)/bin/tpctl \
		$(DESTDIR)$(PREFIX)/bin/tpweb \
		$(DESTDIR)$(PREFIX)/share/man/man1/tpweb.1 \
		$(DESTDIR)$(PREFIX)/lib/systemd/user/tpweb.service \
		$(DESTDIR)$(PREFIX)/include/tpclient.h \
		$(DESTDIR)$(PREFIX)/lib/libtpclient.a \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig/tpclient.pc \
		$(DESTDIR)$(PREFIX)/share/man/man8/tpd.8 \
		$(DESTDIR)$(PREFIX)/share/man/man1/tpctl.1 \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/tpd.service \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/tpd.socket \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d/tpd.conf \
		$(DESTDIR)$(PREFIX)/lib/tmpfiles.d/tpd.conf
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/tpd $(DESTDIR)$(PREFIX)/share/tpd/web
	rmdir $(DESTDIR)$(PREFIX)/share/tpd 2>/dev/null || true

clean:
	rm -rf $(BUILD) build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
