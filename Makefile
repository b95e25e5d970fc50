# Quantum Trader: one non-recursive Makefile.
#
# Layout conventions (new files are picked up without editing this file):
#   libs/qt/*.c, libs/quant/*.c       -> $(BUILD)/libqt.a, $(BUILD)/libquant.a
#   proto/qt/v1/*.proto               -> $(BUILD)/gen/qt/v1/*.pb-c.[ch] (into libqt.a)
#   services/<name>/main.c            -> $(BIN)/qt-<name>
#   services/<name>/<other>.c         -> $(BUILD)/libservices.a (the service cores)
#   tools/<name>/*.c                  -> $(BIN)/<name>
#   tests/unit/test_*.c               -> $(BUILD)/tests/unit/test_*   (cmocka)
#   tests/integration/test_*.c        -> $(BUILD)/tests/integration/test_* (cmocka, real Redis/Kafka)
#   tests/fuzz/fuzz_*.c               -> $(BUILD)/tests/fuzz/fuzz_* (corpus replay; `make fuzz` = libFuzzer)
#
# SAN=1 builds everything with ASan+UBSan into build/san/.

SHELL := /bin/bash
# Build in parallel by default (2 cores here); tests themselves run one at a time.
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
CC ?= cc
ifeq ($(CC),cc)
CC := gcc
endif

ifeq ($(SAN),1)
BUILD ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT := -O1
else
BUILD ?= build
SANFLAGS :=
OPT := -O2
endif
BIN := $(BUILD)/bin

# On a fresh machine the first make installs what is missing (scripts/bootstrap), before
# anything below asks pkg-config for flags. `--check` is a fast no-op (no network) when
# everything is present. QT_NO_BOOTSTRAP=1 skips it (e.g. inside the Docker build).
ifeq ($(filter clean format deps,$(MAKECMDGOALS))$(QT_NO_BOOTSTRAP),)
BOOTSTRAP_RC := $(shell scripts/bootstrap --check >/dev/null 2>&1 || scripts/bootstrap 1>&2; echo $$?)
ifneq ($(BOOTSTRAP_RC),0)
$(error scripts/bootstrap failed (exit $(BOOTSTRAP_RC)): see its message above)
endif
endif

PKGS := libzmq libprotobuf-c rdkafka hiredis jansson libmicrohttpd yaml-0.1 libcrypto libcurl zlib \
        nlopt xgboost cairo
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# OpenMP (the QAOA simulator's loops). The libFuzzer build (clang, no libomp) passes
# OPENMP_FLAGS=-Wno-unknown-pragmas and runs those loops on one thread.
OPENMP_FLAGS ?= -fopenmp
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral
CFLAGS_BASE := -std=c17 -D_GNU_SOURCE -g $(OPT) $(WARN) -fPIC -pthread $(OPENMP_FLAGS) $(SANFLAGS)
INCLUDES := -I$(BUILD)/gen -Ilibs -Ilibs/qt -Ilibs/quant -Iservices
CFLAGS := $(CFLAGS_BASE) $(INCLUDES) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := -pthread $(OPENMP_FLAGS) $(SANFLAGS) $(EXTRA_LDFLAGS)
LDLIBS := $(PKG_LIBS) -lm

PROTOS := $(wildcard proto/qt/v1/*.proto)
PROTO_C := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
PROTO_O := $(PROTO_C:.c=.o)

LIBQT_SRC := $(wildcard libs/qt/*.c)
LIBQT_O := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIBQT_SRC)) $(PROTO_O)
LIBQUANT_SRC := $(wildcard libs/quant/*.c)
LIBQUANT_O := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIBQUANT_SRC))

SERVICE_DIRS := $(patsubst services/%/main.c,%,$(wildcard services/*/main.c))
SERVICE_CORE_SRC := $(filter-out %/main.c,$(wildcard services/*/*.c))
SERVICE_CORE_O := $(patsubst %.c,$(BUILD)/obj/%.o,$(SERVICE_CORE_SRC))
SERVICE_BINS := $(patsubst %,$(BIN)/qt-%,$(SERVICE_DIRS))

TOOL_DIRS := $(notdir $(patsubst %/,%,$(dir $(wildcard tools/*/*.c))))
TOOL_DIRS := $(sort $(TOOL_DIRS))
TOOL_BINS := $(patsubst %,$(BIN)/%,$(TOOL_DIRS))

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
INTEG_SRC := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(INTEG_SRC))
TESTLIB_SRC := $(wildcard tests/lib/*.c)
TESTLIB_O := $(patsubst %.c,$(BUILD)/obj/%.o,$(TESTLIB_SRC))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%,$(FUZZ_SRC))

LIBS_A := $(BUILD)/libservices.a $(BUILD)/libquant.a $(BUILD)/libqt.a

.PHONY: all test test-unit test-integration demo bench lint format clean fuzz deps \
        build-tests proto
.DEFAULT_GOAL := all
# Keep intermediate objects (services/*/main.o) so rebuilds stay incremental.
.SECONDARY:

all: $(SERVICE_BINS) $(TOOL_BINS)

deps:
	scripts/bootstrap

proto: $(PROTO_C)

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -Iproto $<

# Generated code: our warnings, minus the ones protoc-c's output trips.
$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c $(PROTO_H)
	$(CC) $(CFLAGS) -Wno-unused-parameter -Wno-shadow -Wno-strict-prototypes -c $< -o $@

$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libqt.a: $(LIBQT_O)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libquant.a: $(LIBQUANT_O)
	@mkdir -p $(dir $@); rm -f $@; printf '!<arch>\n' > $@; $(if $^,ar rcs $@ $^,true)
$(BUILD)/libservices.a: $(SERVICE_CORE_O)
	@mkdir -p $(dir $@); rm -f $@; printf '!<arch>\n' > $@; $(if $^,ar rcs $@ $^,true)

# Archives are listed twice so cores and libs can call each other in any order.
LINK_LIBS := -Wl,--start-group $(LIBS_A) -Wl,--end-group

$(BIN)/qt-%: $(BUILD)/obj/services/%/main.o $(LIBS_A)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS) $(LDLIBS)

define TOOL_RULE
$(BIN)/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/$(1)/*.c)) $(LIBS_A)
	@mkdir -p $(BIN)
	$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $$(LINK_LIBS) $$(LDLIBS)
endef
$(foreach t,$(TOOL_DIRS),$(eval $(call TOOL_RULE,$(t))))

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(TESTLIB_O) $(LIBS_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TESTLIB_O) $(LINK_LIBS) $(LDLIBS) $(CMOCKA_LIBS)
$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(TESTLIB_O) $(LIBS_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TESTLIB_O) $(LINK_LIBS) $(LDLIBS) $(CMOCKA_LIBS)
# Fuzz targets in the normal build: a small driver replays the corpus (regression).
$(BUILD)/tests/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/driver/replay_main.o $(LIBS_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/obj/tests/fuzz/driver/replay_main.o $(LINK_LIBS) $(LDLIBS)

build-tests: all $(UNIT_BINS) $(INTEG_BINS) $(FUZZ_BINS)

test: build-tests
	scripts/run-tests all $(BUILD)

test-unit: build-tests
	scripts/run-tests unit $(BUILD)

test-integration: build-tests
	scripts/run-tests integration $(BUILD)

demo: all
	scripts/demo

bench: all
	@scripts/bench $(BUILD)

# libFuzzer builds (clang): `make fuzz FUZZ_SECONDS=60`.
FUZZ_SECONDS ?= 30
fuzz:
	scripts/fuzz $(FUZZ_SECONDS)

# varFuncNullUB is suppressed: glibc defines NULL as ((void *)0) in C, so a NULL sentinel
# ending a qt_log_kv argument list is a pointer, not the int 0 cppcheck worries about.
LINT_SRC := $(LIBQT_SRC) $(LIBQUANT_SRC) $(SERVICE_CORE_SRC) $(wildcard services/*/main.c)
lint: $(PROTO_H)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem --suppress=varFuncNullUB --std=c11 $(INCLUDES) $(LINT_SRC)
	@for f in $(LINT_SRC); do \
	  $(CC) $(CFLAGS) -fanalyzer -fsyntax-only $$f || exit 1; done
	@echo "lint: ok"

format:
	clang-format -i $(LINT_SRC) $(wildcard libs/*/*.h services/*/*.h tools/*/*.c tests/*/*.c)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
