#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# make install / make uninstall: PREFIX, SYSCONFDIR (compiled in as the
# default configuration's directory), DESTDIR, CPPFLAGS; the configuration
# file is never overwritten; the systemd units pass `systemd-analyze
# verify` and rate 2.0 or lower in `systemd-analyze security`. The build
# here is a separate one (-O0, its own directory), so the tree's build/ is
# left alone.
. "$(dirname "$0")/../lib/test-lib.sh"

B="$TRASH/build"
P="$TRASH/prefix"
E="$TRASH/etc"

eval "inst_orig_prereq_check() $(declare -f prereq_check | tail -n +2)"
prereq_check() {
	case "$1" in
	MAKE)	command -v make >/dev/null && command -v cc >/dev/null ;;
	SYSTEMD_ANALYZE) command -v systemd-analyze >/dev/null ;;
	*)	inst_orig_prereq_check "$1" ;;
	esac
}

# mk TARGET [VAR=value...]: make in the source tree with this test's build
# directory and paths.
mk() {
	make -C "$TOP" --no-print-directory -j2 BUILD="$B" CFLAGS=-O0 \
	    PREFIX="$P" SYSCONFDIR="$E" "$@"
}

test_expect_success MAKE 'make install: binary, man pages, units, configuration' '
	mk install CPPFLAGS="-DREGISTRYD_VERSION=\\\"9.8.7-cppflags\\\"" >make.out 2>&1 &&
	test "$(stat -c %a "$P/sbin/registryd")" = 755 &&
	test "$(stat -c %a "$P/share/man/man8/registryd.8")" = 644 &&
	test "$(stat -c %a "$P/share/man/man5/registryd.conf.5")" = 644 &&
	test "$(stat -c %a "$P/lib/systemd/system/registryd.service")" = 644 &&
	test "$(stat -c %a "$P/lib/systemd/system/registryd.socket")" = 644 &&
	test "$(stat -c %a "$E/registryd/registryd.conf")" = 644 &&
	cmp "$TOP/etc/registryd.conf" "$E/registryd/registryd.conf"
'

test_expect_success MAKE 'CPPFLAGS reach the compiler' '
	"$P/sbin/registryd" version >out &&
	grep -q "^registryd 9.8.7-cppflags " out
'

test_expect_success MAKE 'the default configuration file is SYSCONFDIR/registryd/registryd.conf' '
	printf "[http]\naddr = 127.0.0.1:1234\n" >"$E/registryd/registryd.conf" &&
	"$P/sbin/registryd" check-config >out &&
	grep -q "^addr = 127.0.0.1:1234$" out &&
	mv "$E/registryd/registryd.conf" moved.conf &&
	"$P/sbin/registryd" check-config >out &&
	grep -q "^addr = :5000$" out &&
	mv moved.conf "$E/registryd/registryd.conf"
'

test_expect_success MAKE 'the unit names the installed binary and configuration' '
	u="$P/lib/systemd/system/registryd.service" &&
	grep -qx "ExecStart=$P/sbin/registryd serve -c $E/registryd/registryd.conf" "$u" &&
	grep -qx "Type=notify" "$u" &&
	grep -qx "ExecReload=/bin/kill -HUP \$MAINPID" "$u"
'

test_expect_success MAKE 'the shipped configuration keeps its data where the unit may write' '
	grep -qx "StateDirectory=registryd" "$TOP/etc/registryd.service" &&
	grep -qx "ProtectSystem=strict" "$TOP/etc/registryd.service" &&
	grep -qx "rootdirectory = /var/lib/registryd" "$TOP/etc/registryd.conf" &&
	grep -qx "ExecStart=/usr/local/sbin/registryd serve -c /etc/registryd/registryd.conf" \
	    "$TOP/etc/registryd.service"
'

test_expect_success MAKE,SYSTEMD_ANALYZE 'systemd-analyze verify: the installed units are clean' '
	systemd-analyze verify --man=no "$P/lib/systemd/system/registryd.service" \
	    "$P/lib/systemd/system/registryd.socket" >out 2>&1;
	rc=$? && cat out && test $rc = 0 && ! test -s out
'

test_expect_success MAKE,SYSTEMD_ANALYZE 'systemd-analyze security: exposure 2.0 or lower' '
	systemd-analyze security --offline=true \
	    "$P/lib/systemd/system/registryd.service" >out 2>&1;
	cat out &&
	level=$(sed -n "s/.*Overall exposure level for registryd.service: \([0-9.]*\).*/\1/p" out) &&
	echo "exposure $level" &&
	test -n "$level" &&
	awk -v l="$level" "BEGIN { exit !(l <= 2.0) }" &&
	echo "$level" >exposure
'

test_expect_success MAKE,SYSTEMD_ANALYZE 'the unit and the README state the exposure systemd-analyze gives' '
	level=$(cat exposure) &&
	grep -q "security registryd.service. rates it $level " "$TOP/etc/registryd.service" &&
	tr "\n" " " <"$TOP/README.md" |
	    grep -q "security registryd.service. rates it $level "
'

test_expect_success MAKE 'make install first installs missing build dependencies, as make run does' '
	make -C "$TOP" -n BUILD="$B" PREFIX="$P" SYSCONFDIR="$E" install >dry.out 2>&1 &&
	grep -q "scripts/install-deps.sh build" dry.out &&
	make -C "$TOP" -n run >dry.out 2>&1 &&
	grep -q "scripts/install-deps.sh build" dry.out
'

test_expect_success 'install-deps off Debian (no dpkg-query): names the packages, installs nothing' '
	mkdir -p nodpkg &&
	ln -sf "$(command -v dirname)" nodpkg/dirname &&
	env PATH="$TRASH/nodpkg" /bin/sh "$TOP/scripts/install-deps.sh" build >out 2>&1 &&
	cat out &&
	grep -q "no dpkg-query.*libevent-dev" out
'

test_expect_success MAKE 'install again: a changed configuration is kept' '
	echo "# mine" >>"$E/registryd/registryd.conf" &&
	cp "$E/registryd/registryd.conf" mine.conf &&
	mk install >make.out 2>&1 &&
	cmp mine.conf "$E/registryd/registryd.conf"
'

test_expect_success MAKE 'uninstall removes what install wrote, keeps the changed configuration' '
	mk uninstall >make.out 2>&1 &&
	cat make.out &&
	grep -q "keeping $E/registryd/registryd.conf" make.out &&
	cmp mine.conf "$E/registryd/registryd.conf" &&
	test -z "$(find "$P" -type f)"
'

test_expect_success MAKE 'uninstall removes an unchanged configuration and its directory' '
	rm "$E/registryd/registryd.conf" &&
	mk install >make.out 2>&1 &&
	mk uninstall >make.out 2>&1 &&
	! test -e "$E/registryd"
'

test_expect_success MAKE 'DESTDIR stages under a root; paths inside name the real ones' '
	make -C "$TOP" --no-print-directory -j2 BUILD="$B" CFLAGS=-O0 \
	    PREFIX=/usr DESTDIR="$TRASH/dest" install >make.out 2>&1 &&
	test -x dest/usr/sbin/registryd &&
	test -f dest/usr/share/man/man8/registryd.8 &&
	test -f dest/etc/registryd/registryd.conf &&
	grep -qx "ExecStart=/usr/sbin/registryd serve -c /etc/registryd/registryd.conf" \
	    dest/usr/lib/systemd/system/registryd.service &&
	test -f dest/usr/lib/systemd/system/registryd.socket &&
	make -C "$TOP" --no-print-directory BUILD="$B" PREFIX=/usr \
	    DESTDIR="$TRASH/dest" uninstall >make.out 2>&1 &&
	test -z "$(find dest -type f)"
'

test_done
