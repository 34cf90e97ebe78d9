# Sotto build. `make` builds libsotto, sottod and sotto; `make test` runs the whole suite,
# plain and under ASan+UBSan; `make run` starts a server on loopback.
# Sources are found by wildcard: a new .c file in a layer's folder is built without editing
# this file. See docs/HACKING.md.

BUILD    ?= build
CC       ?= cc
OPT      ?= -O2 -g
SAN      ?=
PKGS     := libsodium libuv sqlite3 jansson libqrencode libseccomp
# sottod's PostgreSQL backend only: libsotto.so does not link it.
PKGS_SERVER := libpq
PKGS_TEST := libsignal-protocol-c libcrypto

WARN     := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Werror
# The version is written once, in the pkg-config template.
VERSION  := $(shell sed -n 's/^Version: //p' scripts/sotto.pc.in)
CPPFLAGS := -D_GNU_SOURCE -Iinclude -Isrc -DSOTTO_VERSION='"$(VERSION)"'
CFLAGS   := -std=c17 $(OPT) $(WARN) -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2
ifeq ($(SAN),1)
  OPT     := -O1 -g
  CFLAGS  := -std=c17 $(OPT) $(WARN) -fPIC -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDSAN   := -fsanitize=address,undefined
endif
ifeq ($(FUZZ),1)
  CC      := clang
  OPT     := -O1 -g
  CFLAGS  := -std=c17 $(OPT) $(WARN) -fPIC -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DSOTTO_FUZZING
  LDSAN   := -fsanitize=fuzzer,address,undefined
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) $(PKGS_SERVER) 2>/dev/null)
LIB_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) $(PKGS_SERVER) 2>/dev/null) -lpthread -lm
LDFLAGS  := $(LDSAN)

LIB_SRC    := $(wildcard src/base/*.c src/crypto/*.c src/wire/*.c src/client/*.c src/mls/*.c src/mail/*.c)
SERVER_SRC := $(filter-out src/server/main.c,$(wildcard src/server/*.c))
FRONT_SRC  := $(filter-out src/cli/main.c,$(wildcard src/cli/*.c src/bridge/*.c src/smtp/*.c src/imap/*.c))
TEST_SRC   := $(wildcard tests/unit/test_*.c)
TESTLIB_SRC := $(wildcard tests/support/*.c)
INTEROP_SRC := $(wildcard tests/interop/*.c)
MLS_INTEROP_SRC := $(wildcard tests/interop/mls/*.c)
BENCH_SRC  := $(wildcard bench/*.c)
FUZZ_SRC   := $(wildcard fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBSOTTO   := $(BUILD)/libsotto.a
LIBSOTTO_SO := $(BUILD)/libsotto.so
LIBSERVER  := $(BUILD)/libsottod.a
LIBFRONT   := $(BUILD)/libsottofront.a
LIBTEST    := $(BUILD)/libsottotest.a
SOTTOD     := $(BUILD)/sottod
SOTTO      := $(BUILD)/sotto
TESTS      := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))
INTEROP    := $(if $(INTEROP_SRC),$(BUILD)/tests/interop)
MLS_INTEROP := $(if $(MLS_INTEROP_SRC),$(BUILD)/tests/interop_mls)
FUZZERS    := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
BENCHES    := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: fuzzers all deps install deb test test-unit test-asan test-valgrind soak interop interop-mls run run-cluster demo bench bench-crypto bench-mls bench-peers bench-fanout bench-scale bench-files fuzz clean
.DEFAULT_GOAL := all
.SECONDARY:

all: $(LIBSOTTO) $(LIBSOTTO_SO) $(BUILD)/sotto.pc $(SOTTOD) $(SOTTO)

deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/tests/interop/%.o: tests/interop/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/support $(CFLAGS) $(PKG_CFLAGS) $(shell pkg-config --cflags $(PKGS_TEST)) -MMD -MP -c $< -o $@

$(BUILD)/obj/tests/interop/mls/%.o: tests/interop/mls/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/support $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/support $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(LIBSOTTO): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBSOTTO_SO): $(call obj,$(LIB_SRC))
	$(CC) -shared -Wl,-soname,libsotto.so.0 $(LDFLAGS) -o $@ $^ $(LIB_LIBS)
	ln -sf libsotto.so $(BUILD)/libsotto.so.0

$(BUILD)/sotto.pc: scripts/sotto.pc.in
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(abspath $(BUILD))|' -e 's|@INCLUDEDIR@|$(abspath include)|' $< > $@

$(LIBSERVER): $(call obj,$(SERVER_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBFRONT): $(call obj,$(FRONT_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBTEST): $(call obj,$(TESTLIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SOTTOD): $(call obj,src/server/main.c) $(LIBSERVER) $(LIBSOTTO)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(SOTTO): $(call obj,src/cli/main.c) $(LIBFRONT) $(LIBSOTTO)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBTEST) $(LIBSERVER) $(LIBFRONT) $(LIBSOTTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The interop oracle links libsignal-protocol-c and OpenSSL; it is never part of libsotto.
$(BUILD)/tests/interop: $(call obj,$(INTEROP_SRC)) $(LIBTEST) $(LIBSOTTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(PKGS_TEST)) $(PKG_LIBS)

# The MLS interop test: Sotto's src/mls against ts-mls, run by node over pipes
# (tests/interop/mls/README.md); the npm packages are installed by scripts/install-deps.
$(BUILD)/tests/interop_mls: $(call obj,$(MLS_INTEROP_SRC)) $(LIBTEST) $(LIBSOTTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBSERVER) $(LIBFRONT) $(LIBSOTTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/fuzz/%: $(BUILD)/obj/fuzz/%.o $(LIBTEST) $(LIBSERVER) $(LIBFRONT) $(LIBSOTTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

fuzzers: $(FUZZERS)

tests-built: all $(TESTS) $(INTEROP) $(MLS_INTEROP)

# `make test`: the suite in a plain build, then again under ASan+UBSan, then the short fuzz runs.
test: deps
	@scripts/test-all

test-unit: all $(TESTS) $(INTEROP) $(MLS_INTEROP)
	@scripts/run-tests $(BUILD)

test-asan:
	$(MAKE) test-unit BUILD=build-asan SAN=1

# memcheck over the unit tests and the integration runs (sottod and sotto wrapped).
test-valgrind: all $(TESTS) $(INTEROP) $(MLS_INTEROP)
	@scripts/test-valgrind $(BUILD)

# The heavy variants: hundreds of sottod SIGKILL cycles, repeated abuse and confidentiality.
soak: all $(TESTS)
	@scripts/soak $(BUILD)

interop: all $(INTEROP) $(MLS_INTEROP)
	@scripts/run-tests $(BUILD) interop

# Sotto's MLS layer against ts-mls alone (it is part of `make interop` and `make test` too).
interop-mls: all $(MLS_INTEROP)
	@scripts/run-tests $(BUILD) interop_mls

run: all
	@scripts/run-server $(BUILD)

# etcd, two PostgreSQL under Patroni, two sottod nodes and haproxy on loopback
# (docs/SERVER.md, "A cluster"); Ctrl-C stops all of it.
run-cluster: all
	@scripts/run-cluster $(BUILD)

demo: all
	@scripts/demo $(BUILD)

bench: all $(BENCHES)
	@scripts/run-bench $(BUILD)

fuzz: deps
	@scripts/run-fuzz

# Benchmarks (never part of `make test`). bench-crypto links the libsignal party of
# tests/interop/ (not copied); the load generator is bench/loadgen/*.c in one binary.
BENCH_CRYPTO  := $(BUILD)/bench/bench-crypto
LOADGEN_SRC   := $(wildcard bench/loadgen/*.c)
LOADGEN       := $(BUILD)/bench/loadgen
BENCH_MLS     := $(BUILD)/bench/bench-mls
BENCHES       += $(BENCH_CRYPTO) $(LOADGEN) $(BENCH_MLS)

$(BUILD)/obj/bench/crypto/%.o: bench/crypto/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/interop $(CFLAGS) $(PKG_CFLAGS) $(shell pkg-config --cflags $(PKGS_TEST)) -MMD -MP -c $< -o $@

$(BENCH_CRYPTO): $(call obj,bench/crypto/bench_crypto.c tests/interop/sig_party.c tests/interop/sig_provider.c) $(LIBSOTTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(PKGS_TEST)) $(PKG_LIBS)

# bench-mls: src/mls/ at group scale; its members are tests/support/mls_member.c.
$(BUILD)/obj/bench/mls/%.o: bench/mls/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/support $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BENCH_MLS): $(call obj,bench/mls/bench_mls.c) $(LIBTEST) $(LIBSOTTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(LOADGEN): $(call obj,$(LOADGEN_SRC)) $(LIBSOTTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The codec smoke test links the load generator's codecs (before the archives they use).
$(BUILD)/tests/test_bench_codecs: $(BUILD)/obj/tests/unit/test_bench_codecs.o $(call obj,bench/loadgen/mqtt.c bench/loadgen/xmpp.c) $(LIBTEST) $(LIBSOTTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/fuzz/fuzz_bench_codecs: $(BUILD)/obj/fuzz/fuzz_bench_codecs.o $(call obj,bench/loadgen/mqtt.c bench/loadgen/xmpp.c) $(LIBSOTTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench-crypto: $(BENCH_CRYPTO)
	$(BENCH_CRYPTO) $(BENCH_CRYPTO_ARGS)

bench-mls: $(BENCH_MLS)
	$(BENCH_MLS) $(BENCH_MLS_ARGS)

bench-peers: all $(LOADGEN)
	@scripts/bench-peers $(BUILD)

# One message to a group of 1,000 members (sottod's delivery service) against one QoS 1
# publish to a topic with 1,000 subscribers (Mosquitto); docs/BENCHMARKS.md section 5.
bench-fanout: all $(LOADGEN)
	@ONLY=fanout SYSTEMS="$${SYSTEMS:-sottod-full sottod-normal mosquitto mosquitto-persist}" \
	    RUNS=$${RUNS:-5} scripts/bench-peers $(BUILD)

# sottod on SQLite, on PostgreSQL with one node and with two, and the two PostgreSQL set-ups
# with each node capped by cpulimit; docs/BENCHMARKS.md section 8, docs/SCALE.md.
bench-scale: all $(LOADGEN)
	@scripts/install-deps bench
	@scripts/bench-scale $(BUILD)

# bench-files: a file (SIZE bytes, 1 GiB by default) sent and received through sottod on
# loopback, and scp of the same file to an sshd of its own; docs/BENCHMARKS.md section 9.
bench-files: all
	@scripts/install-deps bench
	@scripts/bench-files $(BUILD)

# `make install`: under DESTDIR/PREFIX (default /usr/local); as root and without DESTDIR
# it also makes the `sottod` system user (scripts/install-tree).
PREFIX ?= /usr/local
DESTDIR ?=
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
install: all
	@PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' SYSTEMDUNITDIR='$(SYSTEMDUNITDIR)' \
	    scripts/install-tree $(BUILD)

# `make deb`: the packages sottod, sotto and libsotto-dev in $(BUILD)/deb (dpkg-deb).
deb: all
	@scripts/build-deb $(BUILD)

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
