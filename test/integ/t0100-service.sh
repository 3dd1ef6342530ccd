#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Running as a service without systemd itself: sd_notify readiness, reload
# and stop messages ($NOTIFY_SOCKET, a path or an abstract @name), socket
# activation ($LISTEN_FDS), the journal's stderr (JOURNAL_STREAM), JSON log
# lines, and [server] user= dropping root after binding. The real thing,
# systemd as PID 1, is t9500-systemd.sh.
. "$(dirname "$0")/../lib/test-lib.sh"

SDSERVICE="$TEST_DIRECTORY/integ/lib-py/sdservice.py"
NOTIFY_PID=

eval "svc_orig_prereq_check() $(declare -f prereq_check | tail -n +2)"
prereq_check() {
	case "$1" in
	ROOT)	[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null ;;
	*)	svc_orig_prereq_check "$1" ;;
	esac
}

# notify_start ADDR: a listener at ADDR writing to $TRASH/notify.out.
notify_start() {
	notify_stop
	rm -f "$TRASH/notify.out"
	python3 "$SDSERVICE" notify "$1" "$TRASH/notify.out" "$PORT" 3>&- &
	NOTIFY_PID=$!
	case $1 in
	@*) wait_for grep -q " $1\$" /proc/net/unix ;;
	*) wait_for test -S "$1" ;;
	esac
}

notify_stop() {
	if [ -n "$NOTIFY_PID" ]; then
		kill "$NOTIFY_PID" 2>/dev/null
		wait "$NOTIFY_PID" 2>/dev/null
	fi
	NOTIFY_PID=
	return 0
}
test_atexit notify_stop

# ready_count_is N: notify.out holds N READY=1 messages (for wait_for,
# which must run the count each time).
ready_count_is() {
	test "$(grep -c READY=1 "$TRASH/notify.out")" = "$1"
}

# notify_has ERE: wait (bounded) for a line of notify.out.
notify_has() {
	wait_for grep -Eq -- "$1" "$TRASH/notify.out" || {
		echo "no notification matching /$1/ in:"
		cat "$TRASH/notify.out" 2>/dev/null
		return 1
	}
}

test_expect_success CURL,PYTHON3,REGISTRYD 'READY=1 comes once the server answers' '
	notify_start "$TRASH/notify.sock" &&
	start_registryd NOTIFY_SOCKET="$TRASH/notify.sock" &&
	notify_has "^READY=1 \| STATUS=serving .* over HTTP$" &&
	notify_has "^probe: 200$" &&
	ready_count_is 1
'

test_expect_success CURL,PYTHON3,REGISTRYD 'SIGHUP: RELOADING=1, then READY=1 again' '
	kill -HUP "$REG_PID" &&
	notify_has "^RELOADING=1 \| MONOTONIC_USEC=[0-9]+$" &&
	wait_for ready_count_is 2 &&
	grep -E "^(READY|RELOADING)" notify.out >order &&
	sed -n 2p order | grep -q "^RELOADING=1" &&
	sed -n 3p order | grep -q "^READY=1" &&
	reg_curl GET /v2/ && expect_status 200
'

test_expect_success CURL,PYTHON3,REGISTRYD 'SIGTERM: STOPPING=1, exit status 0' '
	stop_registryd &&
	notify_has "^STOPPING=1" &&
	notify_stop
'

test_expect_success CURL,PYTHON3,REGISTRYD 'an abstract socket name (@...) works too' '
	notify_start "@registryd-test-$$-$PORT" &&
	start_registryd NOTIFY_SOCKET="@registryd-test-$$-$PORT" &&
	notify_has "^READY=1" &&
	notify_has "^probe: 200$" &&
	stop_registryd &&
	notify_has "^STOPPING=1" &&
	notify_stop
'

test_expect_success CURL,REGISTRYD 'a NOTIFY_SOCKET that is not a socket: a warning, no failure' '
	start_registryd NOTIFY_SOCKET=relative/path &&
	grep -q "NOTIFY_SOCKET relative/path: not a socket path" registryd.log &&
	stop_registryd &&
	start_registryd NOTIFY_SOCKET="$TRASH/nothing-there" &&
	grep -q "NOTIFY_SOCKET: cannot tell the service manager" registryd.log &&
	stop_registryd
'

# ------------------------------------------------------ socket activation

# activate_registryd [--pid-mismatch]: start the server with a listening
# socket on $PORT handed over as fd 3; its own addr is another port,
# $OTHER. Waits until $PORT answers (with --pid-mismatch: $OTHER).
activate_registryd() {
	local up=$BASE
	OTHER=$(free_port) &&
	REG_ADDR=127.0.0.1:$OTHER write_config &&
	mkdir -p "$ROOT" || return 1
	[ "${1:-}" = --pid-mismatch ] && up=http://127.0.0.1:$OTHER
	python3 "$SDSERVICE" activate "$PORT" "$@" -- \
	    "$REGISTRYD" serve -c "$CONF" >>"$TRASH/registryd.log" 2>&1 </dev/null 3>&- &
	REG_PID=$!
	wait_for registryd_is_up "$up"
}

test_expect_success CURL,PYTHON3,REGISTRYD 'socket activation: serves on the socket it was given, not on addr' '
	: >registryd.log &&
	activate_registryd &&
	grep -q "listening on 1 socket from the service manager" registryd.log &&
	reg_curl GET /v2/ && expect_status 200 &&
	! registryd_is_up "http://127.0.0.1:$OTHER" &&
	stop_registryd
'

test_expect_success CURL,PYTHON3,REGISTRYD 'socket activation: LISTEN_PID of another process is ignored' '
	: >registryd.log &&
	activate_registryd --pid-mismatch &&
	! grep -q "from the service manager" registryd.log &&
	grep -q "listening on 127.0.0.1 port $OTHER" registryd.log &&
	stop_registryd
'
rm -f "$CONF"

# ---------------------------------------------------------------- logs

test_expect_success CURL,REGISTRYD 'stderr is the journal (JOURNAL_STREAM = its dev:ino): no timestamp, a priority' '
	: >registryd.log &&
	js=$(stat -c "%d:%i" registryd.log) &&
	start_registryd JOURNAL_STREAM="$js" &&
	reg_curl GET /v2/ && expect_status 200 &&
	stop_registryd &&
	grep -v "^---" registryd.log >lines &&
	test -s lines &&
	! grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T" lines &&
	grep -Eq "^<6>info: registryd .* serving " lines &&
	grep -Eq "^<6>access: 127\.0\.0\.1:[0-9]+ GET /v2/ 200 " lines &&
	! grep -Ev "^<[3-7]>" lines
'

test_expect_success CURL,REGISTRYD 'JOURNAL_STREAM of another stream: timestamps stay' '
	: >registryd.log &&
	start_registryd JOURNAL_STREAM=8:12345 &&
	stop_registryd &&
	grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z info: registryd " registryd.log &&
	! grep -q "^<" registryd.log
'

test_expect_success CURL,REGISTRYD '[log] format = json: one JSON object per line, http.* fields on requests' '
	REG_EXTRA="format = json" write_config &&
	: >registryd.log &&
	start_registryd &&
	reg_curl GET "/v2/no/such/manifests/x%22y" && expect_status 404 &&
	stop_registryd &&
	grep -v "^---" registryd.log >lines &&
	jq -e -s "length > 2" lines &&
	jq -e -s "all(.[]; (.time | test(\"^[0-9-]+T[0-9:.]+Z$\")) and (.level | type == \"string\") and (.msg | type == \"string\"))" lines &&
	jq -e -s "any(.[]; .level == \"info\" and (.msg | startswith(\"registryd \")))" lines &&
	jq -e -s "any(.[]; .msg == \"response completed\" and .[\"http.request.method\"] == \"GET\" and .[\"http.request.uri\"] == \"/v2/no/such/manifests/x%22y\" and .[\"http.response.status\"] == 404 and (.[\"http.request.remoteaddr\"] | startswith(\"127.0.0.1:\")))" lines
'
rm -f "$CONF"

test_expect_success CURL,REGISTRYD 'REGISTRY_LOG_FORMATTER=logstash (registry:2): JSON lines too; text in the file is overridden' '
	REG_EXTRA="format = text" write_config &&
	: >registryd.log &&
	start_registryd REGISTRY_LOG_FORMATTER=logstash &&
	stop_registryd &&
	grep -v "^---" registryd.log >lines &&
	jq -e -s "length > 0 and all(.[]; .level and .msg)" lines
'
rm -f "$CONF"

test_expect_success REGISTRYD 'REGISTRY_LOG_FORMATTER=gelf stops the start' '
	write_config &&
	test_expect_code 1 env REGISTRY_LOG_FORMATTER=gelf "$REGISTRYD" check-config -c "$CONF" >out 2>&1 &&
	grep -q "^REGISTRY_LOG_FORMATTER: expected text, json or logstash" out
'

# ------------------------------------------------------- [server] user=

test_expect_success ROOT,CURL,REGISTRYD '[server] user=nobody: root binds, then runs as nobody with nobody'"'"'s groups' '
	rm -rf "$ROOT" && mkdir -p "$ROOT" && chown nobody "$ROOT" &&
	REG_EXTRA="[server]
user = nobody" write_config &&
	: >registryd.log &&
	start_registryd &&
	grep -q "running as user nobody" registryd.log &&
	uid=$(id -u nobody) && gid=$(id -g nobody) &&
	grep -E "^Uid:" /proc/$REG_PID/status &&
	grep -Eq "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid$" /proc/$REG_PID/status &&
	grep -Eq "^Gid:[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid$" /proc/$REG_PID/status &&
	groups=$(sed -n "s/^Groups:[[:space:]]*//p" /proc/$REG_PID/status) &&
	want=$(id -G nobody | tr " " "\n" | sort -n | tr "\n" " ") &&
	test "$(echo $groups | tr " " "\n" | sort -n | tr "\n" " ")" = "$want" &&
	grep -Eq "^CapEff:[[:space:]]+0+$" /proc/$REG_PID/status &&
	echo hello >blob && push_blob svc/user blob &&
	find "$ROOT" -newer blob -type f | head -n 1 >made &&
	test -s made && test "$(stat -c %U "$(cat made)")" = nobody &&
	stop_registryd
'

test_expect_success ROOT,CURL,REGISTRYD '[server] user: the storage root is opened as that user, not as root' '
	rm -rf "$ROOT" && mkdir -p "$ROOT" && chmod 700 "$ROOT" &&
	REG_EXTRA="[server]
user = nobody" write_config &&
	test_expect_code_nonzero timeout 10 "$REGISTRYD" serve -c "$CONF" >out 2>&1 &&
	cat out &&
	grep -q "running as user nobody" out &&
	grep -q "storage $ROOT" out
'

test_expect_success ROOT,REGISTRYD '[server] user that does not exist stops the start' '
	REG_EXTRA="[server]
user = no-such-user-here" write_config &&
	test_expect_code_nonzero timeout 10 "$REGISTRYD" serve -c "$CONF" >out 2>&1 &&
	cat out &&
	grep -q "\[server\] user: user no-such-user-here: no such user" out
'

test_expect_success ROOT,REGISTRYD '[server] user=root when not root: refused, not ignored' '
	rm -rf "$ROOT" && mkdir -p "$ROOT" && chown nobody "$ROOT" &&
	REG_EXTRA="[server]
user = root" write_config &&
	chmod 644 "$CONF" &&
	test_expect_code_nonzero timeout 10 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$REGISTRYD" serve -c "$CONF" >out 2>&1 &&
	cat out &&
	grep -q "cannot become user root: not running as root" out
'

test_expect_success ROOT,CURL,REGISTRYD '[server] user naming the user it already runs as: fine' '
	rm -rf "$ROOT" && mkdir -p "$ROOT" && chown nobody "$ROOT" &&
	REG_EXTRA="[server]
user = nobody" write_config &&
	chmod 644 "$CONF" &&
	: >registryd.log &&
	{ setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$REGISTRYD" serve -c "$CONF" >>registryd.log 2>&1 </dev/null 3>&- & } &&
	REG_PID=$! &&
	wait_for registryd_is_up &&
	grep -q "running as user nobody" registryd.log &&
	stop_registryd
'

test_done
