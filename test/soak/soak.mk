# test/soak/soak.mk: included by the top Makefile. "make soak" runs the
# soak test (minutes; not part of make test). SOAK_SECONDS (default 180)
# and SOAK_WORKERS (default 16) tune it; see test/soak/README.md.
SOAK_SECONDS ?= 180
SOAK_WORKERS ?= 16

.PHONY: soak
soak: all
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_WORKERS=$(SOAK_WORKERS) \
	    prove -v -e '' test/soak/soak.sh
