# make bench-micro: Google Benchmark micro-benchmarks of the structures whose cost could
# grow with the number of connections (bench/micro/), at 1k to 1M entries; results in
# build/bench/micro.json, which `make bench` puts in its report. Not part of `make test`.
# Included by the top-level Makefile (LIB_OBJ, BUILD, CXX, CXXFLAGS, LDFLAGS, LDLIBS).

MICRO_SRC  := $(sort $(wildcard bench/micro/*.cpp))
MICRO_OBJ  := $(MICRO_SRC:%.cpp=$(BUILD)/obj/%.o)
MICRO_BIN  := $(BUILD)/micro_bench
MICRO_JSON := build/bench/micro.json
# Seconds each benchmark runs at each size (raise on a quiet machine for steadier figures).
MICRO_MIN_TIME ?= 0.2

.PHONY: bench-micro-deps
bench-micro-deps:
	@echo '#include <benchmark/benchmark.h>' | $(CXX) -x c++ -fsyntax-only - 2>/dev/null || \
	  { echo "bench-micro: Google Benchmark is missing: apt-get install -y libbenchmark-dev" >&2; \
	    exit 1; }

$(MICRO_OBJ): | bench-micro-deps

$(MICRO_BIN): $(MICRO_OBJ) $(LIB_OBJ)
	$(CXX) $(LDFLAGS) $^ -lbenchmark_main -lbenchmark -lpthread $(LDLIBS) -o $@

bench-micro: $(MICRO_BIN)
	@mkdir -p $(dir $(MICRO_JSON))
	$(MICRO_BIN) --benchmark_min_time=$(MICRO_MIN_TIME) --benchmark_out=$(MICRO_JSON) \
	  --benchmark_out_format=json
	PYTHONPATH=bench $(PYTHON) -c 'import sys; from arusbench import micro; \
	  print("\n".join(micro.render(micro.load(sys.argv[1]))))' $(MICRO_JSON)

-include $(MICRO_OBJ:.o=.d)
