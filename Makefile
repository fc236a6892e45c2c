# arus-proxy build.
#   make, make build   build/arus-proxy and c_plugins/filter.so
#   make run           build, then run with proxy.conf
#   make test          unit + end-to-end tests (in CI also under ASan+UBSan and TSan)
#   make test-e2e      end-to-end tests alone
#   make check         compile every source without linking or running
#   make SAN=address,undefined | SAN=thread   sanitizer build in build/san-<name>/

CXX      ?= g++
CC       ?= cc
SAN      ?=
CONFIG   ?= proxy.conf
PYTHON   ?= python3

comma := ,
ifeq ($(SAN),)
BUILD    ?= build
SANFLAGS :=
OPTFLAGS ?= -O2 -g
else
BUILD    ?= build/san-$(subst $(comma),-,$(SAN))
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
# Sanitizer builds: quicker to compile (-O1, line tables only), still fast enough to run.
OPTFLAGS ?= -O1 -g1
endif

CXXFLAGS ?= $(OPTFLAGS)
CXXFLAGS += -std=c++20 -Wall -Wextra -Wpedantic -Wshadow -Iinclude -MMD -MP $(SANFLAGS)
LDFLAGS  += $(SANFLAGS) -pthread
LDLIBS   += -linih -ldl
PLUGIN_CFLAGS := -std=c99 -Wall -Wextra -pedantic -O2 -g -fPIC -shared -Iinclude

BIN       := $(BUILD)/arus-proxy
ECHO_BIN  := $(BUILD)/arus-echo
LIB_SRC   := $(filter-out src/main.cpp,$(shell find src -name '*.cpp' | sort))
LIB_OBJ   := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
MAIN_OBJ  := $(BUILD)/obj/src/main.o
TEST_SRC  := $(shell find tests -name '*.cpp' | sort)
TEST_OBJ  := $(TEST_SRC:%.cpp=$(BUILD)/obj/%.o)
UNIT_BIN  := $(BUILD)/unit_tests
PLUGINS   := $(patsubst %.c,%.so,$(wildcard c_plugins/*.c))
DEPS_OK   := $(BUILD)/.deps-build
TEST_DEPS_OK := $(BUILD)/.deps-test
RUN_DEPS_OK  := $(BUILD)/.deps-run

# `build` is also the build folder's name: phony, or make would take the folder as built.
.PHONY: all build run test test-unit test-e2e test-install test-suite test-all check build-plugin \
        clean deps fuzz bench bench-micro bench-selftest

all: $(BIN) $(PLUGINS)

build: all

$(DEPS_OK): scripts/ensure-deps.sh
	@mkdir -p $(@D)
	@scripts/ensure-deps.sh build
	@touch $@

# After the build check: two apt-get runs at once (make -j) would fight over apt's lock.
$(TEST_DEPS_OK): scripts/ensure-deps.sh | $(DEPS_OK)
	@mkdir -p $(@D)
	@scripts/ensure-deps.sh test
	@touch $@

# nc and curl only make the demo easier to try: missing ones are reported, not fatal.
$(RUN_DEPS_OK): scripts/ensure-deps.sh | $(DEPS_OK)
	@mkdir -p $(@D)
	@scripts/ensure-deps.sh run || true
	@touch $@

deps: $(DEPS_OK)

$(BUILD)/obj/%.o: %.cpp | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BIN): $(LIB_OBJ) $(MAIN_OBJ)
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

# go-w: the proxy refuses a filter others than its owner (or root's group) may rewrite,
# which a umask of 002 would give the file.
c_plugins/%.so: c_plugins/%.c include/arus/filter.h
	$(CC) $(PLUGIN_CFLAGS) $< -o $@
	chmod go-w $@

build-plugin: $(PLUGINS)

$(ECHO_BIN): tools/echo_backend.cpp | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) $< -o $@

# The demo echo backend runs beside the proxy and stops with it (Ctrl-C drains both).
run: all $(ECHO_BIN) | $(RUN_DEPS_OK)
	@$(ECHO_BIN) 127.0.0.1:9001 & echo_pid=$$!; \
	printf '%s\n' "arus-proxy: try  printf 'hello\\n' | nc 127.0.0.1 8080   (plain)" \
	  "            and printf 'hello\\n' | nc 127.0.0.1 8081   (filter: upper)" \
	  "            metrics: curl 127.0.0.1:9090/metrics          Ctrl-C drains and stops"; \
	$(BIN) -c $(CONFIG); status=$$?; kill $$echo_pid 2>/dev/null; exit $$status

$(UNIT_BIN): $(LIB_OBJ) $(TEST_OBJ) | $(TEST_DEPS_OK)
	$(CXX) $(LDFLAGS) $^ -lgtest -lgtest_main $(LDLIBS) -o $@

RUN_UNIT    := $(UNIT_BIN) --gtest_brief=1
RUN_E2E     := ARUS_BIN=$(abspath $(BIN)) ARUS_PLUGIN_DIR=$(abspath c_plugins) $(PYTHON) e2e/run.py
# make install / uninstall against a temporary DESTDIR, and the man page.
RUN_INSTALL := ARUS_BIN=$(abspath $(BIN)) $(PYTHON) -m unittest discover -s tests/install

test-unit: $(UNIT_BIN) $(PLUGINS)
	$(RUN_UNIT)

test-e2e: $(BIN) $(PLUGINS) | $(TEST_DEPS_OK)
	$(RUN_E2E)

test-install: $(BIN) $(PLUGINS) | $(TEST_DEPS_OK)
	$(RUN_INSTALL)

# Builds in parallel (make -j), then runs the suites one after the other so they do not
# compete for the CPU. Sanitizer builds skip the install checks: they test packaging,
# not code.
test-suite: $(BIN) $(PLUGINS) $(UNIT_BIN) | $(TEST_DEPS_OK)
	$(RUN_UNIT)
	$(RUN_E2E)
	$(if $(SAN),,$(RUN_INSTALL))

# CI runs the suite three times: plain, ASan+UBSan, TSan.
ifeq ($(CI),true)
test: test-all
else
test: test-suite
endif

test-all:
	$(MAKE) test-suite
	$(MAKE) test-suite SAN=address,undefined
	$(MAKE) test-suite SAN=thread

check: | $(DEPS_OK)
	@for f in $(LIB_SRC) src/main.cpp $(TEST_SRC); do \
	  echo "check $$f"; $(CXX) $(CXXFLAGS) -MMD -MF /dev/null -fsyntax-only $$f || exit 1; done

# Benchmark against HAProxy and nginx (docs/benchmarks.md); not part of `make test`.
# QUICK=1: smoke run under 2 minutes, written to build/bench/ only. The full run first
# runs the micro-benchmarks (mk/bench_micro.mk) and puts their table in the report.
bench: all $(if $(QUICK),,bench-micro)
	ARUS_BIN=$(abspath $(BIN)) bench/run.sh $(if $(QUICK),--quick,--micro $(abspath $(MICRO_JSON)))

bench-selftest: all
	ARUS_BIN=$(abspath $(BIN)) bench/selftest.sh

# libFuzzer targets (clang); not part of `make test`. FUZZ_TARGET picks one:
#   http_request   the HTTP request parser and the stats routing behind it (default)
#   proxy_header   the PROXY protocol v1/v2 header parser and builder
FUZZ_CXX    ?= clang++
FUZZ_TIME   ?= 60
FUZZ_TARGET ?= http_request
FUZZ_DIR    := build/fuzz
FUZZ_SRC_http_request := fuzz/http_request_fuzz.cpp src/http/http_request.cpp \
             src/http/http_response.cpp src/app/stats_endpoint.cpp src/stats/metrics_exporter.cpp \
             src/stats/json_exporter.cpp src/stats/text_escape.cpp src/core/utf8.cpp
FUZZ_HDR_http_request := $(wildcard include/arus/stats/*.hpp include/arus/http/*.hpp) \
             include/arus/app/stats_endpoint.hpp
FUZZ_ARGS_http_request := -max_len=20000 -dict=fuzz/http_request.dict
FUZZ_SRC_proxy_header := fuzz/proxy_header_fuzz.cpp src/net/proxy_header.cpp src/net/address.cpp \
             src/core/result.cpp
FUZZ_HDR_proxy_header := include/arus/net/proxy_header.hpp include/arus/net/address.hpp
FUZZ_ARGS_proxy_header := -max_len=2100
FUZZ_BIN    := $(FUZZ_DIR)/$(FUZZ_TARGET)_fuzz

.SECONDEXPANSION:
$(FUZZ_DIR)/%_fuzz: $$(FUZZ_SRC_%) $$(FUZZ_HDR_%)
	@mkdir -p $(@D)
	$(FUZZ_CXX) -std=c++20 -O1 -g -Iinclude -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all $(FUZZ_SRC_$*) -o $@

fuzz: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_DIR)/corpus-$(FUZZ_TARGET)
	$(FUZZ_BIN) -max_total_time=$(FUZZ_TIME) $(FUZZ_ARGS_$(FUZZ_TARGET)) \
	  $(FUZZ_DIR)/corpus-$(FUZZ_TARGET) fuzz/corpus/$(FUZZ_TARGET)

clean:
	rm -rf build $(PLUGINS)

include mk/install.mk
include mk/bench_micro.mk

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
