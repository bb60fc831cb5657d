# dwops: a core library (core/) wrapped by thin operators (operators/).
#
#   make            build bin/dw-* (release flags)
#   make test       install what is missing, build with ASan+UBSan, run all tests
#   make demo       install what is missing, build, run the operators' main jobs
#   make bench      benchmarks (figures for the README)
#   make lint       the layering check, cppcheck, clang-tidy and valgrind
#   make install    bin/dw-* into $(DESTDIR)$(PREFIX)/bin (PREFIX /usr/local:
#                   /usr/local/bin is where the Airflow DAGs look by default,
#                   airflow/dags/dwops_common.py DEFAULT_BIN)

CC       ?= cc
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
DESTDIR  ?=
PKGS     := libcurl libcjson libxml-2.0 libcrypto libmariadb libssh2 libzip zlib snappy
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
CFLAGS   ?= -O2 -g
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ifeq ($(SANITIZE),1)
  CFLAGS := -O1 -g $(SAN_FLAGS)
  LDFLAGS += $(SAN_FLAGS)
endif
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Icore $(PKG_CFLAGS)
LDLIBS   := -Wl,--as-needed $(PKG_LIBS) -lm

# Objects of the release and sanitizer builds live apart, so switching
# between them only relinks.
OBJ      := build/obj-$(if $(filter 1,$(SANITIZE)),san,rel)
CORE_SRC := $(wildcard core/*/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(OBJ)/%.o)
OPS      := $(patsubst operators/%.c,bin/%,$(wildcard operators/dw-*.c))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:%.c=build/%)
TOOLS    := build/tests/tools/dw-probe build/tests/tools/dw-avro build/tests/tools/dw-sigv4-sign
LIB      := $(OBJ)/libdwcore.a

.PHONY: all unit test demo bench lint setup clean install fuzz fuzz-build FORCE
# Objects are intermediate files of chained rules: keep them.  (Not a bare
# .SECONDARY:, which would make every target secondary, FORCE included, and
# so stop build/flags from being checked.)
.PRECIOUS: $(OBJ)/%.o $(FUZZ_OBJ)/%.o $(FUZZ_OBJ)/req/%.o
all: $(OPS)

# Relink when the flags change (release <-> sanitizers).
build/flags: FORCE
	@mkdir -p build
	@echo '$(ALL_CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(ALL_CFLAGS) $(LDFLAGS)' > $@
FORCE:

$(OBJ)/%.o: %.c $(wildcard core/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

bin/%: $(OBJ)/operators/%.o $(LIB) build/flags
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

build/tests/unit/%: $(OBJ)/tests/unit/%.o $(LIB) build/flags
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

build/tests/tools/%: $(OBJ)/tests/tools/%.o $(LIB) build/flags
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

unit: $(UNIT_BIN) $(TOOLS)

setup:
	@bash scripts/setup.sh

test: setup
	$(MAKE) SANITIZE=1 all unit
	python3 scripts/check-layers.py --objects build/obj-san
	DW_EXPECT_SANITIZERS=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		bash tests/run

demo: setup all
	bash scripts/demo.sh

bench: setup all
	bash bench/run.sh

# Static analysis, and valgrind over each operator's --help and a rejected
# request (the paths that need no services).
lint: all
	python3 scripts/check-layers.py --objects $(OBJ)
	python3 scripts/check-errcodes.py
	python3 scripts/check-ownership.py
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr -Icore core operators tests/unit tests/tools
	clang-tidy --quiet $(CORE_SRC) $(wildcard operators/*.c) tests/tools/dw-probe.c tests/tools/dw-avro.c tests/tools/dw-sigv4-sign.c -- \
		-std=c11 -D_GNU_SOURCE -Icore $(PKG_CFLAGS)
	for op in $(OPS); do \
		valgrind -q --error-exitcode=1 --leak-check=full $$op --help >/dev/null || exit 1; \
		echo '{"no_such_field": 1}' | valgrind -q --error-exitcode=1 --leak-check=full \
			--errors-for-leak-kinds=definite $$op $$($$op --help | sed -n 's/^dw-[a-z]* \([a-z-]*\):.*/\1/p' | head -1) >/dev/null; \
		[ $$? -eq 2 ] || exit 1; \
	done

install: all
	install -d '$(DESTDIR)$(BINDIR)'
	install -m 755 $(OPS) '$(DESTDIR)$(BINDIR)/'

# libFuzzer harnesses (tests/fuzz/fuzz_*.c) over the parsers of untrusted
# input, the core built again by clang with coverage for them.  Each runs
# FUZZ_SECONDS from its seeds (tests/fuzz/<name>/corpus); what it learns
# goes to build/fuzz/<name>.corpus, crashes to build/fuzz/crash-*.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=undefined
FUZZ_OBJ     := build/obj-fuzz
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
# ... and the request protocol of every operator: tests/fuzz/req.c built
# with each operator's own source (build/fuzz/fuzz_req_<op>, seeds: the
# operator's examples/dw-<op>/ requests).
FUZZ_REQ_OPS := $(patsubst operators/dw-%.c,%,$(wildcard operators/dw-*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%) $(FUZZ_REQ_OPS:%=build/fuzz/fuzz_req_%)
FUZZ_LIB     := $(FUZZ_OBJ)/libdwcore.a

$(FUZZ_OBJ)/%.o: %.c $(wildcard core/*/*.h) tests/fuzz/fuzz.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link \
		-Icore $(PKG_CFLAGS) -c $< -o $@

$(FUZZ_LIB): $(CORE_SRC:%.c=$(FUZZ_OBJ)/%.o)
	rm -f $@
	ar rcs $@ $^

build/fuzz/%: $(FUZZ_OBJ)/tests/fuzz/%.o $(FUZZ_LIB)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(LDLIBS)

$(FUZZ_OBJ)/req/%.o: tests/fuzz/req.c operators/dw-%.c $(wildcard core/*/*.h) tests/fuzz/fuzz.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link \
		-Icore $(PKG_CFLAGS) -DFUZZ_OPERATOR='"../../operators/dw-$*.c"' -c $< -o $@

build/fuzz/fuzz_req_%: $(FUZZ_OBJ)/req/%.o $(FUZZ_LIB)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	@for f in $(FUZZ_BIN); do \
		n=$${f#build/fuzz/fuzz_}; mkdir -p build/fuzz/$$n.corpus; \
		seeds=tests/fuzz/$$n/corpus; \
		case $$n in req_*) seeds=examples/dw-$${n#req_};; esac; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		ASAN_OPTIONS=detect_leaks=1 $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
			-artifact_prefix=build/fuzz/crash-$$n- \
			build/fuzz/$$n.corpus $$seeds 2>build/fuzz/$$n.log || \
			{ tail -40 build/fuzz/$$n.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units' build/fuzz/$$n.log; \
	done

clean:
	rm -rf build bin
