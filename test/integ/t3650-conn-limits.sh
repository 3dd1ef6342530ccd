#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Connection limits (hardening item 4): one client address holds at most
# max_connections_per_address connections (5 here); the next gets a 429
# TOOMANYREQUESTS and is closed while another address (127.0.0.2) is still
# served, and a trusted proxy is not capped. A connection that sends
# nothing is closed after header_timeout (5 s here), not idle_timeout
# (60 s); a keep-alive connection idle between requests keeps
# idle_timeout. When accept() fails for want of descriptors while no
# connection is open (none will close to re-enable the listeners), the
# server tries again on a timer.
. "$(dirname "$0")/../lib/test-lib.sh"

CONNLIMITS="$TEST_DIRECTORY/integ/lib-py/connlimits.py"
CAP=5
HEADER_TIMEOUT=5

# v2_ok: GET /v2/ from 127.0.0.1 answers 200.
v2_ok() { reg_curl GET /v2/ && [ "$STATUS" = 200 ]; }

test_expect_success PYTHON3,CURL "setup: max_connections_per_address=$CAP, header_timeout=$HEADER_TIMEOUT, idle_timeout=60" '
	REG_LOG_LEVEL=info &&
	REG_HTTP_EXTRA="max_connections_per_address = $CAP
header_timeout = $HEADER_TIMEOUT
idle_timeout = 60" &&
	write_config &&
	start_registryd &&
	reg_curl GET /v2/ && expect_status 200
'

test_expect_success PYTHON3,REGISTRYD "$CAP connections from 127.0.0.1 are held, one more is refused with 429; 127.0.0.2 is served" '
	python3 "$CONNLIMITS" hold "$PORT" 127.0.0.1 $CAP 127.0.0.2 >hold.json &&
	cat hold.json &&
	jq -e ".refused_held == 0" hold.json &&
	jq -e ".extra == \"429\" and .extra_code == \"TOOMANYREQUESTS\"" hold.json &&
	jq -e ".other == \"200\"" hold.json
'

test_expect_success REGISTRYD 'the refusal is logged, once a second at most' '
	grep "max_connections_per_address" "$TRASH/registryd.log" >refused.log &&
	cat refused.log &&
	grep -q "127.0.0.1 holds $CAP connections" refused.log
'

test_expect_success CURL 'once those connections are closed, 127.0.0.1 is served again' '
	WAIT_SECONDS=5 wait_for v2_ok
'

test_expect_success PYTHON3 "connections that send nothing are closed after header_timeout ($HEADER_TIMEOUT s), not idle_timeout (60 s)" '
	python3 "$CONNLIMITS" silent "$PORT" 3 20 >silent.json &&
	cat silent.json &&
	jq -e --argjson lo $((HEADER_TIMEOUT - 1)) --argjson hi $((HEADER_TIMEOUT + 4)) \
	    "[.closed_after[] | select(. != null and . >= \$lo and . <= \$hi)] | length == 3" silent.json
'

test_expect_success PYTHON3 'a keep-alive connection idle between requests stays open past header_timeout' '
	python3 "$CONNLIMITS" keepalive "$PORT" $((HEADER_TIMEOUT + 2)) >keepalive.json &&
	cat keepalive.json &&
	jq -e ".first == \"200\" and .second == \"200\"" keepalive.json
'

test_expect_success PYTHON3,REGISTRYD 'a trusted proxy (127.0.0.3) is not capped' '
	stop_registryd &&
	REG_HTTP_EXTRA="$REG_HTTP_EXTRA
trust_proxy = 127.0.0.3" &&
	write_config &&
	start_registryd &&
	python3 "$CONNLIMITS" hold "$PORT" 127.0.0.3 $((CAP * 2)) 127.0.0.1 >proxy.json &&
	cat proxy.json &&
	jq -e ".refused_held == 0 and .extra == \"200\" and .other == \"200\"" proxy.json
'

# lowest_free_fd PID: the descriptor accept() would get in process PID.
lowest_free_fd() {
	local fd=0
	while [ -e "/proc/$1/fd/$fd" ]; do fd=$((fd + 1)); done
	echo "$fd"
}

# No connection is open here, so none can close and re-enable the
# listeners: before the retry timer, the server never accepted again.
test_expect_success CURL,REGISTRYD 'out of descriptors with no connection open: accepts again once descriptors are free' '
	SOFT=$(prlimit --pid "$REG_PID" --nofile --noheadings --output SOFT) &&
	FREE=$(lowest_free_fd "$REG_PID") &&
	prlimit --pid "$REG_PID" --nofile="$FREE:" &&
	! curl -sS -m 1 -o /dev/null "$BASE/v2/" &&
	prlimit --pid "$REG_PID" --nofile="$SOFT:" &&
	grep -q "accept: Too many open files" "$TRASH/registryd.log" &&
	CURL_TIMEOUT=10 reg_curl GET /v2/ &&
	expect_status 200
'

test_done
