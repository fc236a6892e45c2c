# arus-proxy build.
#   make               build/arus-proxy and c_plugins/filter.so
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
else
BUILD    ?= build/san-$(subst $(comma),-,$(SAN))
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Wpedantic -Wshadow -Iinclude -MMD -MP $(SANFLAGS)
LDFLAGS  += $(SANFLAGS) -pthread
LDLIBS   += -linih -ldl
PLUGIN_CFLAGS := -std=c99 -Wall -Wextra -pedantic -O2 -g -fPIC -shared -Iinclude

BIN       := $(BUILD)/arus-proxy
LIB_SRC   := $(filter-out src/main.cpp,$(shell find src -name '*.cpp' | sort))
LIB_OBJ   := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
MAIN_OBJ  := $(BUILD)/obj/src/main.o
TEST_SRC  := $(shell find tests -name '*.cpp' | sort)
TEST_OBJ  := $(TEST_SRC:%.cpp=$(BUILD)/obj/%.o)
UNIT_BIN  := $(BUILD)/unit_tests
PLUGINS   := $(patsubst %.c,%.so,$(wildcard c_plugins/*.c))
DEPS_OK   := $(BUILD)/.deps-build
TEST_DEPS_OK := $(BUILD)/.deps-test

.PHONY: all run test test-unit test-e2e test-suite test-all check build-plugin clean deps

all: $(BIN) $(PLUGINS)

$(DEPS_OK): scripts/ensure-deps.sh
	@mkdir -p $(@D)
	@scripts/ensure-deps.sh build
	@touch $@

$(TEST_DEPS_OK): scripts/ensure-deps.sh
	@mkdir -p $(@D)
	@scripts/ensure-deps.sh test
	@touch $@

deps: $(DEPS_OK)

$(BUILD)/obj/%.o: %.cpp | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BIN): $(LIB_OBJ) $(MAIN_OBJ)
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

c_plugins/%.so: c_plugins/%.c include/arus/filter.h
	$(CC) $(PLUGIN_CFLAGS) $< -o $@

build-plugin: $(PLUGINS)

run: all
	$(BIN) -c $(CONFIG)

$(UNIT_BIN): $(LIB_OBJ) $(TEST_OBJ) | $(TEST_DEPS_OK)
	$(CXX) $(LDFLAGS) $^ -lgtest -lgtest_main $(LDLIBS) -o $@

test-unit: $(UNIT_BIN) $(PLUGINS)
	$(UNIT_BIN) --gtest_brief=1

test-e2e: $(BIN) $(PLUGINS) | $(TEST_DEPS_OK)
	ARUS_BIN=$(abspath $(BIN)) ARUS_PLUGIN_DIR=$(abspath c_plugins) $(PYTHON) e2e/run.py

test-suite: test-unit test-e2e

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

clean:
	rm -rf build $(PLUGINS)

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
