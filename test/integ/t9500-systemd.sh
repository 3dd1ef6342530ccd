#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# registryd under systemd as PID 1, for real: `make install` into a staging
# directory, bind it into a booted Debian container (systemd-nspawn), and
# drive the installed registryd.service with systemctl: start returns once
# READY=1 came, the daemon runs as its own user, skopeo pushes and pulls
# from the host through the shared loopback, reload picks up a new
# htpasswd file, the journal keeps the access lines without a second
# timestamp and with their priorities, stop drains an upload in flight and
# ends with Result=success; registryd.socket hands over its socket; with a
# system user named registryd the unit uses it, reads a gen-cert key of
# its group and keeps the data; the exposure that `systemd-analyze
# security` gives the loaded unit is 2.0 or lower. Root only; `make
# test-systemd` runs this script alone.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/tls-lib.sh"
. "$TEST_DIRECTORY/lib/nspawn-lib.sh"

STAGE="$TRASH/stage"
SVC_CONF="$STAGE/etc/registryd/registryd.conf"
HTPASSWD="$STAGE/etc/registryd/htpasswd"
REF="docker://127.0.0.1:$PORT/sys/app"
PREREQ=NSPAWN,CURL,SKOPEO,BUSYBOX,OPENSSL,REGISTRYD,NOT_ASAN

# On a failure: what systemd says about it.
sysdiag() {
	echo "--- systemctl --failed"
	csys systemctl --failed --no-pager
	echo "--- systemctl status registryd"
	csys systemctl status registryd --no-pager -l
	echo "--- journalctl -u registryd"
	csys journalctl -u registryd -u registryd.socket --no-pager -n 60
	return 1
}

# svc_show PROP: one property of registryd.service.
svc_show() {
	csys systemctl show -p "$1" --value "${2:-registryd}"
}

# code CURL-ARGS...: the HTTP status of one request.
code() {
	curl -s -o /dev/null -m 10 -w '%{http_code}' "$@"
}

# code_is STATUS CURL-ARGS... / state_is STATE: for wait_for, which must
# ask again each time.
code_is() {
	test "$(code "${@:2}")" = "$1"
}

state_is() {
	test "$(svc_show ActiveState)" = "$1"
}

test_expect_success "$PREREQ" 'a Debian tree with systemd and registryd'"'"'s libraries (cached)' '
	pkgs=$(runtime_packages "$REGISTRYD") &&
	echo "runtime packages: $pkgs" &&
	t0=$(date +%s) &&
	nspawn_rootfs libnss-systemd $pkgs >rootfs.out 2>&1;
	rc=$?; cat rootfs.out; say "# rootfs $ROOTFS: $(($(date +%s) - t0)) s$(grep -h "^debootstrap took" rootfs.out | sed "s/^/, /")";
	test $rc = 0 && test -x "$ROOTFS/lib/systemd/systemd"
'

test_expect_success "$PREREQ" 'make install DESTDIR=stage, configured for this test' '
	make -C "$TOP" --no-print-directory install DESTDIR="$STAGE" \
	    PREFIX=/usr/local >make.out 2>&1 &&
	test "$(stat -c %a "$STAGE/usr/local/sbin/registryd")" = 755 &&
	cmp "$REGISTRYD" "$STAGE/usr/local/sbin/registryd" &&
	grep -qx "rootdirectory = /var/lib/registryd" "$SVC_CONF" &&
	sed -i "s|^#addr = :5000\$|addr = 127.0.0.1:$PORT|" "$SVC_CONF" &&
	grep -qx "addr = 127.0.0.1:$PORT" "$SVC_CONF" &&
	sed -i "s|^#htpasswd =\$|htpasswd = /etc/registryd/htpasswd|" "$SVC_CONF" &&
	grep -qx "htpasswd = /etc/registryd/htpasswd" "$SVC_CONF" &&
	make_htpasswd "$HTPASSWD" alice:alicepw &&
	chmod 644 "$HTPASSWD"
'

test_expect_success "$PREREQ" 'boot: systemd is PID 1 and finishes booting' '
	t0=$(date +%s) &&
	nspawn_boot --bind-ro="$STAGE/usr/local:/usr/local" \
	    --bind-ro="$STAGE/etc/registryd:/etc/registryd" &&
	say "# booted in $(($(date +%s) - t0)) s" &&
	test "$(cat /proc/$CPID/comm)" = systemd &&
	csys systemctl cat registryd >unit &&
	grep -qx "ExecStart=/usr/local/sbin/registryd serve -c /etc/registryd/registryd.conf" unit
'

test_expect_success "$PREREQ" 'systemctl start returns once registryd answers (Type=notify, READY=1)' '
	{ csys systemctl start registryd &&
	code "http://127.0.0.1:$PORT/v2/" >first &&
	test "$(cat first)" = 401 &&
	test "$(svc_show ActiveState)" = active &&
	test "$(svc_show Type)" = notify &&
	svc_show StatusText >status &&
	grep -qx "serving filesystem /var/lib/registryd over HTTP" status; } ||
	sysdiag
'

test_expect_success "$PREREQ" 'it runs as its own user, not root, with no capabilities' '
	{ pid=$(svc_show MainPID) &&
	test "$pid" -gt 0 &&
	csys cat /proc/$pid/status >status &&
	grep -E "^(Uid|Gid|CapEff|CapBnd|NoNewPrivs):" status &&
	uid=$(awk "/^Uid:/ { print \$2 }" status) &&
	test "$uid" != 0 &&
	grep -Eq "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid$" status &&
	grep -Eq "^CapEff:[[:space:]]+0+$" status &&
	grep -Eq "^CapBnd:[[:space:]]+0+$" status &&
	grep -Eq "^NoNewPrivs:[[:space:]]+1$" status &&
	test "$(csys ps -o user= -p "$pid")" = registryd; } ||
	sysdiag
'

test_expect_success "$PREREQ" 'skopeo pushes and pulls through the container'"'"'s loopback' '
	{ make_oci_layout "$TRASH/src" v1 &&
	reg_skopeo copy --dest-tls-verify=false --dest-creds alice:alicepw \
	    "oci:$TRASH/src:v1" "$REF:v1" &&
	reg_skopeo copy --src-tls-verify=false --src-creds alice:alicepw \
	    "$REF:v1" "oci:$TRASH/out:v1" &&
	bad= &&
	for b in "$TRASH"/src/blobs/sha256/*; do
		cmp "$b" "$TRASH/out/blobs/sha256/${b##*/}" || bad=1
	done &&
	test -z "$bad"; } || sysdiag
'

test_expect_success "$PREREQ" 'the data is in the state directory, owned by the service, UMask 0027' '
	{ uid=$(awk "/^Uid:/ { print \$2 }" status) &&
	csys find /var/lib/registryd/ -path "*/blobs/sha256/*/data" -printf "%U %m %p\n" >blobs &&
	cat blobs &&
	test "$(wc -l <blobs)" -ge 4 &&
	! grep -v "^$uid 640 " blobs &&
	csys find /var/lib/registryd/ -type d -printf "%U %m\n" | sort -u >dirs &&
	cat dirs && test "$(cat dirs)" = "$uid 750"; } || sysdiag
'

test_expect_success "$PREREQ" 'systemctl reload: a user added to htpasswd can log in' '
	{ test "$(code -u bob:bobpw "http://127.0.0.1:$PORT/v2/")" = 401 &&
	htpasswd_line bob bobpw >>"$HTPASSWD" &&
	csys systemctl reload registryd &&
	wait_for code_is 200 -u bob:bobpw "http://127.0.0.1:$PORT/v2/" &&
	test "$(code -u alice:alicepw "http://127.0.0.1:$PORT/v2/")" = 200 &&
	wait_for state_is active &&
	test "$(svc_show MainPID)" = "$pid" &&
	csys journalctl -u registryd -o cat --no-pager >journal &&
	grep -q "SIGHUP: reloading" journal &&
	grep -q "htpasswd /etc/registryd/htpasswd: reloaded, 2 users" journal; } ||
	sysdiag
'

test_expect_success "$PREREQ" 'journalctl -u registryd: access lines, one timestamp, priorities parsed' '
	{ csys journalctl -u registryd -o cat --no-pager >journal &&
	grep -E "^access: 127\.0\.0\.1:[0-9]+ GET /v2/ 200 [0-9]+ [0-9]+ms alice " journal &&
	grep -E "^access: 127\.0\.0\.1:[0-9]+ PUT /v2/sys/app/manifests/v1 201 .* alice sha256:" journal &&
	! grep -E "^[0-9]{4}-[0-9]{2}-[0-9]{2}T" journal &&
	! grep "^<[0-9]>" journal &&
	csys journalctl -u registryd -p warning -o cat --no-pager >warnings &&
	grep -q "^warn: no http secret set" warnings &&
	! grep -q "^access:" warnings; } || sysdiag
'

test_expect_success "$PREREQ" 'systemctl stop drains an upload in flight; Result=success' '
	{ random_file big.bin 1572864 &&
	d=$(sha256_of big.bin) &&
	curl -sS -u alice:alicepw -X POST -D post.h -o /dev/null \
	    "http://127.0.0.1:$PORT/v2/sys/slow/blobs/uploads/" &&
	loc=$(tr -d "\r" <post.h | sed -n "s/^[Ll]ocation: //p") &&
	case $loc in /*) loc="http://127.0.0.1:$PORT$loc" ;; esac &&
	{ curl -sS -u alice:alicepw -X PUT --limit-rate 400k \
	    -H "Content-Type: application/octet-stream" --data-binary @big.bin \
	    -o /dev/null -w "%{http_code}" "$(with_query "$loc" "digest=$d")" \
	    >put.code 2>put.err 3>&- & } &&
	curl_pid=$! &&
	sleep 1 &&
	t0=${EPOCHREALTIME} &&
	csys systemctl stop registryd &&
	t1=${EPOCHREALTIME} &&
	wait "$curl_pid" &&
	echo "stop took $(awk -v a="$t0" -v b="$t1" "BEGIN { print b - a }") s; upload: $(cat put.code)" &&
	test "$(cat put.code)" = 201 &&
	awk -v a="$t0" -v b="$t1" "BEGIN { exit !(b - a > 1) }" &&
	test "$(svc_show Result)" = success &&
	test "$(svc_show ExecMainStatus)" = 0 &&
	test "$(svc_show ActiveState)" = inactive &&
	csys journalctl -u registryd -o cat --no-pager >journal &&
	grep -q "shutting down: 1 connections to finish" journal &&
	grep -Eq "^access: .* PUT /v2/sys/slow/blobs/uploads/.* 201 " journal &&
	grep -qx "info: stopped" journal; } || sysdiag
'

test_expect_success "$PREREQ" 'registryd.socket: systemd binds, registryd takes the socket' '
	{ SOCK_PORT=$(free_port) &&
	csys mkdir -p /etc/systemd/system/registryd.socket.d &&
	printf "[Socket]\nListenStream=\nListenStream=127.0.0.1:%s\n" "$SOCK_PORT" |
	    csys tee /etc/systemd/system/registryd.socket.d/port.conf &&
	csys systemctl daemon-reload &&
	csys systemctl start registryd.socket &&
	test "$(svc_show ActiveState)" = inactive &&
	test "$(code "http://127.0.0.1:$SOCK_PORT/v2/")" = 401 &&
	test "$(svc_show ActiveState)" = active &&
	test "$(code -u bob:bobpw "http://127.0.0.1:$SOCK_PORT/v2/")" = 200 &&
	csys journalctl -u registryd -o cat --no-pager >journal &&
	grep -q "listening on 1 socket from the service manager" journal &&
	! registryd_is_up &&
	csys systemctl stop registryd.socket registryd &&
	test "$(svc_show Result)" = success; } || sysdiag
'

test_expect_success "$PREREQ" 'a system user registryd and a gen-cert key of its group: HTTPS, data kept' '
	{ csys useradd --system --user-group --no-create-home \
	    --home-dir /nonexistent --shell /usr/sbin/nologin registryd &&
	suid=$(csys id -u registryd) && sgid=$(csys id -g registryd) &&
	tls="$STAGE/etc/registryd/tls" &&
	"$TOP/scripts/gen-cert" -d "$tls" -p "$PORT" localhost 127.0.0.1 >gen.out &&
	chgrp "$sgid" "$tls/registryd.key" && chmod 640 "$tls/registryd.key" &&
	sed -i -e "s|^#certificate =\$|certificate = /etc/registryd/tls/registryd.crt|" \
	    -e "s|^#key =\$|key = /etc/registryd/tls/registryd.key|" "$SVC_CONF" &&
	grep -qx "key = /etc/registryd/tls/registryd.key" "$SVC_CONF" &&
	csys systemctl start registryd &&
	test "$(code --cacert "$tls/registryd.crt" "https://localhost:$PORT/v2/")" = 401 &&
	pid=$(svc_show MainPID) &&
	csys cat /proc/$pid/status >status &&
	grep -Eq "^Uid:[[:space:]]+$suid[[:space:]]" status &&
	test "$(csys ps -o user= -p "$pid")" = registryd &&
	test "$(csys stat -L -c %u /var/lib/registryd)" = "$suid" &&
	mkdir -p "certs.d/localhost:$PORT" &&
	cp "$tls/registryd.crt" "certs.d/localhost:$PORT/ca.crt" &&
	reg_skopeo inspect --cert-dir "certs.d/localhost:$PORT" \
	    --creds alice:alicepw "docker://localhost:$PORT/sys/app:v1" >inspect.json &&
	jq -e ".Layers | length == 2" inspect.json &&
	csys systemctl stop registryd &&
	test "$(svc_show Result)" = success; } || sysdiag
'

test_expect_success "$PREREQ" 'systemd-analyze: the unit verifies; exposure 2.0 or lower' '
	{ csys systemd-analyze verify --man=no \
	    /usr/local/lib/systemd/system/registryd.service \
	    /usr/local/lib/systemd/system/registryd.socket &&
	csys systemd-analyze security --no-pager registryd.service >security 2>&1;
	tail -n 1 security &&
	level=$(sed -n "s/.*Overall exposure level for registryd.service: \([0-9.]*\).*/\1/p" security) &&
	say "# systemd-analyze security registryd.service (in the container): $level" &&
	test -n "$level" &&
	awk -v l="$level" "BEGIN { exit !(l <= 2.0) }"; } || sysdiag
'

test_expect_success "$PREREQ" 'poweroff: the container goes away' '
	t0=$(date +%s) &&
	nspawn_stop &&
	say "# poweroff in $(($(date +%s) - t0)) s" &&
	! registryd_is_up
'

test_done
