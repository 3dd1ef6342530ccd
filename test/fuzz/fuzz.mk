# test/fuzz/fuzz.mk: libFuzzer targets, included from the top Makefile.
#
#   make fuzz-build                 build every test/fuzz/fuzz_*.c into
#                                   build-fuzz/fuzz/ (clang, libFuzzer,
#                                   ASan, UBSan)
#   make fuzz [FUZZ_SECONDS=10]     build, then run each target for
#                                   FUZZ_SECONDS and print its executions
#   make fuzz-regress               replay corpus/ and regress/ once
#
# The objects are the top Makefile's own rule run again in a sub-make with
# BUILD=build-fuzz, so they get exactly ALL_CFLAGS plus the sanitizers.
# It also works before the top Makefile includes it:
#   make -f Makefile -f test/fuzz/fuzz.mk fuzz
ifndef FUZZ_MK_INCLUDED
FUZZ_MK_INCLUDED := 1

FUZZ_BUILD	?= build-fuzz
FUZZ_CC		?= clang
FUZZ_SECONDS	?= 10
FUZZ_WERROR	?= -Werror
# Extra libFuzzer flags for every run, e.g. FUZZ_FLAGS=-jobs=4.
FUZZ_FLAGS	?=
FUZZ_SANITIZE	 = -fsanitize=fuzzer-no-link,address,undefined \
		   -fno-sanitize-recover=all -fno-omit-frame-pointer
# Debian 12 packages for clang with libFuzzer (see test/fuzz/README.md).
FUZZ_PKGS	 = clang-14 libclang-rt-14-dev libfuzzer-14-dev
FUZZ_TARGETS	 = $(patsubst test/fuzz/%.c,%,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_BINS	 = $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
FUZZ_MAKEFILES	 = -f Makefile -f test/fuzz/fuzz.mk

# Each target links the modules it tests and what they call, so that
# work in progress elsewhere in src/ does not stop it from building; one
# without FUZZ_LINK_<target> links every module. fuzz_http, like the HTTP
# unit test, gives http.c a dispatcher of its own and needs no server.
FUZZ_O = $(patsubst %,$(BUILD)/obj/%.o,$(1))
FUZZ_LINK_fuzz_http	= $(call FUZZ_O,util log metrics)
FUZZ_LINK_fuzz_router	= $(call FUZZ_O,router digest util)
FUZZ_LINK_fuzz_digest	= $(call FUZZ_O,digest util)
FUZZ_LINK_fuzz_manifest	= $(call FUZZ_O,manifest digest util)
FUZZ_LINK_fuzz_config	= $(call FUZZ_O,config config_yaml log util)
FUZZ_LINK_fuzz_range	= $(call FUZZ_O,api_parse manifest digest util)
FUZZ_LINK_fuzz_htpasswd	= $(filter-out $(BUILD)/obj/auth.o,$(LIBOBJS))

.PHONY: fuzz fuzz-build fuzz-bins fuzz-deps fuzz-regress

# Install the compiler and libFuzzer only when missing, as
# scripts/install-deps.sh does for the rest.
fuzz-deps:
	@missing=; for p in $(FUZZ_PKGS); do \
	    s=$$(dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null); \
	    [ "$$s" = installed ] || missing="$$missing $$p"; done; \
	[ -z "$$missing" ] || { \
	    command -v apt-get >/dev/null || { echo "fuzz: please install:$$missing" >&2; exit 1; }; \
	    SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    echo "fuzz: installing:$$missing"; \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $$missing; }

fuzz-build: fuzz-deps
	@scripts/install-deps.sh build
	@$(MAKE) --no-print-directory $(FUZZ_MAKEFILES) BUILD=$(FUZZ_BUILD) \
	    CC=$(FUZZ_CC) CFLAGS="-O1 -g" WERROR="$(FUZZ_WERROR)" \
	    SANITIZE="$(FUZZ_SANITIZE)" fuzz-bins

fuzz-bins: $(FUZZ_BINS)

$(BUILD)/fuzz/%: test/fuzz/%.c test/fuzz/fuzz.h $(LIBOBJS) $(wildcard src/*.c include/*.h) \
    | $(BUILD)/fuzz
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes \
	    -Wno-missing-declarations -fsanitize=fuzzer -o $@ $< \
	    $(or $(FUZZ_LINK_$*),$(LIBOBJS)) $(LDLIBS)

$(BUILD)/fuzz:
	mkdir -p $@

# Each target runs FUZZ_SECONDS on its seeds (test/fuzz/corpus/<t>) and
# regression inputs (test/fuzz/regress/<t>), both read only, plus what
# earlier runs found (build-fuzz/corpus/<t>, where new inputs go), so a
# known crash that is not fixed fails at once. A crash stops the run and leaves build-fuzz/<t>-crash-*;
# the log of every run is build-fuzz/<t>.log.
fuzz: fuzz-build
	@set -e; total=0; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t test/fuzz/corpus/$$t; \
	    dict=; [ ! -f test/fuzz/$$t.dict ] || dict=-dict=test/fuzz/$$t.dict; \
	    reg=; [ ! -d test/fuzz/regress/$$t ] || reg=test/fuzz/regress/$$t; \
	    if ! $(FUZZ_BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) \
	        -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
	        -close_fd_mask=3 -artifact_prefix=$(FUZZ_BUILD)/$$t- $$dict \
	        $(FUZZ_FLAGS) $(FUZZ_BUILD)/corpus/$$t test/fuzz/corpus/$$t $$reg \
	        > $(FUZZ_BUILD)/$$t.log 2>&1; then \
	        tail -n 60 $(FUZZ_BUILD)/$$t.log; \
	        echo "fuzz: $$t FAILED (log: $(FUZZ_BUILD)/$$t.log)"; exit 1; \
	    fi; \
	    n=$$(sed -n 's/^stat::number_of_executed_units: *//p' \
	        $(FUZZ_BUILD)/$$t.log | tail -n 1); \
	    total=$$((total + $${n:-0})); \
	    echo "fuzz: $$t: $${n:-?} executions in $(FUZZ_SECONDS) s"; \
	done; echo "fuzz: $$total executions in all"

fuzz-regress: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) test/fuzz/run-regress.sh

endif # FUZZ_MK_INCLUDED
