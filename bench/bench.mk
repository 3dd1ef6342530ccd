# bench/bench.mk: `make bench` (~6 min) and `make bench-quick` (~1.5 min)
# compare registryd with registry:2 (Debian's docker-registry) on loopback
# in one run; see bench/README.md. Included from the top Makefile. With the
# Ceph packages installed, phase 9 (both on S3, a throw-away Ceph RGW)
# adds ~5 min (quick: ~1 min).
#
#   make bench BENCH_FLAGS=--keep     keep roots and logs in build/bench/work
#   make bench BENCH_FLAGS=--s3=no    without phase 9
#   make bench BENCH_FLAGS='--only s3'  phase 9 alone
#   make bench BENCH_JSON=out.json    also write the JSON line to a file
#
# The registryd under test is a release build (CFLAGS -O2 -g, the default)
# in its own build directory, so a developer's debug or ASan objects in
# $(BUILD) are neither used nor touched.

BENCH_BUILD	?= build/bench
BENCH_FLAGS	?=
BENCH_JSON	?= $(BENCH_BUILD)/result.json
BENCH_CFLAGS	?= -O2 -g

.PHONY: bench bench-quick bench-profile bench-tools

bench-tools:
	@scripts/install-deps.sh build
	@bench/install-deps.sh
	@$(MAKE) --no-print-directory BUILD=$(BENCH_BUILD) CFLAGS="$(BENCH_CFLAGS)" all
	@mkdir -p $(BENCH_BUILD)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra \
	    $(shell pkg-config --cflags libcrypto) -o $(BENCH_BUILD)/rbc \
	    bench/rbc.c $(shell pkg-config --libs libcrypto)

bench: bench-tools
	python3 bench/bench.py --registryd $(BENCH_BUILD)/registryd \
	    --rbc $(BENCH_BUILD)/rbc --work $(BENCH_BUILD)/work \
	    --json-out $(BENCH_JSON) $(BENCH_FLAGS)

bench-quick: bench-tools
	python3 bench/bench.py --quick --registryd $(BENCH_BUILD)/registryd \
	    --rbc $(BENCH_BUILD)/rbc --work $(BENCH_BUILD)/work \
	    --json-out $(BENCH_JSON) $(BENCH_FLAGS)

# perf profiles of registryd on the upload and small-request paths.
bench-profile: bench-tools
	@bench/install-deps.sh profile
	python3 bench/profile.py --registryd $(BENCH_BUILD)/registryd --rbc $(BENCH_BUILD)/rbc --out $(BENCH_BUILD)/profile
