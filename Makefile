# registryd: one Makefile, see README.md.
PREFIX	?= /usr/local
# /etc whatever the PREFIX: that is where an administrator looks, and it
# is compiled in as the directory of the default configuration file.
SYSCONFDIR ?= /etc
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
# In systemd's unit search path for /usr and for /usr/local alike.
UNITDIR	?= $(PREFIX)/lib/systemd/system
DESTDIR	?=
BUILD	?= build

CC	?= cc
CFLAGS	?= -O2 -g
WERROR	?= -Werror
# CFLAGS is the user's (optimisation, debug); what the code needs is added
# in ALL_CFLAGS, so "make CFLAGS=-O0" keeps it. SANITIZE is for test-asan.
ALL_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(SANITIZE) -std=c11 -D_GNU_SOURCE -Iinclude
ALL_CFLAGS += -DSYSCONFDIR='"$(SYSCONFDIR)"'
ALL_CFLAGS += -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
	   -Wmissing-declarations -Wshadow -Wpointer-arith -Wsign-compare \
	   -Wformat=2 -Wvla -Wnull-dereference -fno-common \
	   -fstack-protector-strong -D_FORTIFY_SOURCE=2 $(WERROR)
PKGS	 = libevent_openssl libevent_pthreads libevent openssl libcrypt jansson \
	   yaml-0.1
# libcurl's headers only: src/s3.c opens the library when the S3 driver
# starts (dlopen), so that the filesystem driver never maps it and its
# ~28 libraries (see there). The unit test of s3.c is a curl client
# itself and links it.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CURL_LIBS  := $(shell pkg-config --libs libcurl 2>/dev/null)
ALL_CFLAGS += $(PKG_CFLAGS)
LDLIBS	+= $(PKG_LIBS) -lhttp_parser -lpthread

SRCS	 = $(wildcard src/*.c)
# The web interface (ui/) is built in: scripts/ui-embed.sh makes a C file
# of its files, compiled with the rest.
UI_FILES = $(sort $(wildcard ui/*.*))
OBJS	 = $(SRCS:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/ui_assets.o
LIBOBJS	 = $(filter-out $(BUILD)/obj/main.o,$(OBJS))
UNITS	 = $(patsubst test/unit/%.c,$(BUILD)/test/%.t,$(wildcard test/unit/*.c))

.PHONY: all deps deps-build test unit integ test-asan test-s3 test-systemd run install uninstall image \
	check-headers format-check clean

all: $(BUILD)/registryd

$(BUILD)/registryd: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(BUILD)/obj/%.o: src/%.c $(wildcard include/*.h) | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The default configuration file's directory is compiled in (config.h);
# the stamp changes, and the objects are rebuilt, only when SYSCONFDIR does.
$(OBJS): $(BUILD)/sysconfdir.stamp
$(BUILD)/sysconfdir.stamp: FORCE | $(BUILD)/obj
	@echo '$(SYSCONFDIR)' | cmp -s - $@ || echo '$(SYSCONFDIR)' >$@
FORCE:

# ui itself is a prerequisite: adding or removing a file changes its time.
$(BUILD)/gen/ui_assets.c: scripts/ui-embed.sh ui $(UI_FILES) | $(BUILD)/gen
	scripts/ui-embed.sh $@ $(UI_FILES)

$(BUILD)/obj/ui_assets.o: $(BUILD)/gen/ui_assets.c include/ui_assets.h \
    | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# A unit test may #include the module's .c to reach its statics; it links
# against every other module, unless TEST_LINK_<module> names a smaller set
# (the HTTP layer needs only util, log and metrics: the test gives it a
# dispatcher of its own and drives it through a bufferevent pair, no
# server).
TEST_LINK_http = $(BUILD)/obj/util.o $(BUILD)/obj/log.o \
	$(BUILD)/obj/metrics.o
$(BUILD)/test/%.t: test/unit/%.c $(wildcard test/unit/*.h) $(LIBOBJS) \
    | $(BUILD)/test
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -Wno-missing-declarations \
	    -o $@ $< $(or $(TEST_LINK_$*),$(filter-out \
	    $(BUILD)/obj/$*.o,$(LIBOBJS))) $(LDLIBS)

$(BUILD)/test/s3.t: LDLIBS += $(CURL_LIBS)

$(BUILD)/obj $(BUILD)/test $(BUILD)/gen:
	mkdir -p $@

# Installs what building (deps-build) or testing (deps) needs, when
# missing (Debian).
deps:
	@scripts/install-deps.sh test

deps-build:
	@scripts/install-deps.sh build

unit: $(UNITS)

# A short run of every fuzz target (a crash fails the test), then unit
# tests, the fuzz regression inputs and the integration tests against the
# real binary, in one TAP run.
# INTEG_EXCLUDE leaves scripts out (.ci/run runs the systemd test beside
# the rest).
TEST_FUZZ_SECONDS ?= 5
INTEG_EXCLUDE ?=
INTEG	 = $(filter-out $(INTEG_EXCLUDE),$(wildcard test/integ/t*.sh))
test: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)
	prove -e '' $(UNITS) test/fuzz/run-regress.sh $(INTEG)

# The store-facing scripts again with the data on S3: a throw-away Ceph
# cluster (test/s3/ceph.sh) and the s3 driver (TEST_STORE=s3 in
# test-lib.sh); checks that read the storage root on disk skip (FSROOT).
# t9910-s3-registryd.sh, part of make test, covers S3 on its own.
S3_INTEG = t1000-blobs t2000-uploads t2100-purge t2300-vanished-upload \
	   t2400-two-instances t3000-manifests t6000-gc t9000-skopeo
test-s3: deps
	@$(MAKE) --no-print-directory all
	test/s3/ceph.sh run -- sh -c 'cd test/integ && TEST_STORE=s3 \
	    prove -j2 $(S3_INTEG:%=%.sh)'

# registryd.service under systemd as PID 1 in a booted Debian container
# (root; the Debian tree is cached in ~/.cache/registryd-test). Also part
# of make test.
test-systemd: deps
	@$(MAKE) --no-print-directory all
	prove -v -e '' test/integ/t9500-systemd.sh

# The same suite on an ASan+UBSan build in its own build directory.
test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CC=$${ASAN_CC:-gcc} \
	    CFLAGS="-O1 -g" SANITIZE="-fsanitize=address,undefined \
	    -fno-omit-frame-pointer -fno-sanitize-recover=all" all unit
	REGISTRYD=build-asan/registryd ASAN_OPTIONS=detect_leaks=1 \
	    prove -e '' $(patsubst $(BUILD)/%,build-asan/%,$(UNITS)) test/integ/t*.sh

# Serve on :5000 with ./data as the storage root.
run: deps-build
	@$(MAKE) --no-print-directory all
	REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$${REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY:-./data} \
	    $(BUILD)/registryd serve -c $${CONFIG:-etc/registryd.conf}

# The unit as shipped names /usr/local/sbin and /etc; installed, it names
# SBINDIR and SYSCONFDIR.
$(BUILD)/registryd.service: etc/registryd.service FORCE | $(BUILD)/obj
	@sed -e 's|/usr/local/sbin/registryd|$(SBINDIR)/registryd|g' \
	    -e 's|/etc/registryd/registryd.conf|$(SYSCONFDIR)/registryd/registryd.conf|g' \
	    etc/registryd.service >$@.tmp && \
	    { cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@; }

# An existing configuration file is never overwritten. Like run, it
# installs the missing build dependencies first (a fresh Debian has no
# compiler), then builds.
install: deps-build
	@$(MAKE) --no-print-directory all $(BUILD)/registryd.service
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/registryd
	install -m 755 $(BUILD)/registryd $(DESTDIR)$(SBINDIR)/registryd
	install -m 644 man/registryd.8 $(DESTDIR)$(MANDIR)/man8/registryd.8
	install -m 644 man/registryd.conf.5 \
	    $(DESTDIR)$(MANDIR)/man5/registryd.conf.5
	install -m 644 $(BUILD)/registryd.service \
	    $(DESTDIR)$(UNITDIR)/registryd.service
	install -m 644 etc/registryd.socket $(DESTDIR)$(UNITDIR)/registryd.socket
	test -e $(DESTDIR)$(SYSCONFDIR)/registryd/registryd.conf || \
	    install -m 644 etc/registryd.conf \
	    $(DESTDIR)$(SYSCONFDIR)/registryd/registryd.conf

# Removes what install wrote; the configuration only when it is still the
# shipped one. The data under /var/lib stays.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/registryd \
	    $(DESTDIR)$(MANDIR)/man8/registryd.8 \
	    $(DESTDIR)$(MANDIR)/man5/registryd.conf.5 \
	    $(DESTDIR)$(UNITDIR)/registryd.service \
	    $(DESTDIR)$(UNITDIR)/registryd.socket
	@c=$(DESTDIR)$(SYSCONFDIR)/registryd/registryd.conf; \
	if cmp -s etc/registryd.conf $$c; then \
		echo "rm -f $$c"; rm -f $$c; \
		rmdir $(DESTDIR)$(SYSCONFDIR)/registryd 2>/dev/null || true; \
	elif [ -e $$c ]; then \
		echo "uninstall: keeping $$c (changed since install)"; \
	fi

# Each header must compile on its own.
check-headers:
	@for h in include/*.h; do \
	    echo "#include \"$${h#include/}\"" | \
	    $(CC) $(ALL_CFLAGS) -x c -fsyntax-only - || exit 1; done

format-check:
	clang-format --dry-run --Werror src/*.c include/*.h

include test/fuzz/fuzz.mk
include test/soak/soak.mk
include bench/bench.mk

# The container image: a release build in its own directory, stripped,
# then scripts/build-image.sh (FROM scratch, offline) on the Docker daemon
# DOCKER_HOST names. IMAGE_TAGS replaces the tags.
VERSION	:= $(shell sed -n 's/^\#define REGISTRYD_VERSION "\(.*\)"$$/\1/p' src/main.c)
IMAGE_TAGS ?= registryd:$(VERSION) registryd:latest
image:
	@$(MAKE) --no-print-directory BUILD=build-image CFLAGS="-O2" all
	strip -o build-image/registryd.stripped build-image/registryd
	scripts/build-image.sh build-image/registryd.stripped $(VERSION) \
	    $(IMAGE_TAGS)

clean:
	rm -rf build build-asan build-fuzz build-image
