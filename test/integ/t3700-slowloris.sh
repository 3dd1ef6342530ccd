#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Slowloris: 2000 connections that send a request head one byte per second
# do not keep a normal client from pushing and pulling a 1 MiB blob, and
# the server closes them once header_timeout (3 s here) has passed. A
# client that keeps sending a byte a second after a "Connection: close"
# reply cannot hold the lingering close past its 10 s cap either.
. "$(dirname "$0")/../lib/test-lib.sh"

SLOW_CONNS=${SLOW_CONNS:-2000}
HEADER_TIMEOUT=3

# 2000 client sockets plus as many server descriptors: both ends run
# under this shell's limit (the server raises its soft limit to the hard
# one by itself, but the Python client does not).
NOFILE_OK=
if ulimit -n 8192 2>/dev/null || [ "$(ulimit -n)" -ge 4200 ]; then
	NOFILE_OK=1
fi

# The slow clients all come from 127.0.0.1: max_connections_per_address
# is raised with max_connections, as if they came from 2000 hosts
# (t3650-conn-limits.sh tests the cap).
test_expect_success PYTHON3,CURL 'setup: header_timeout=3, max_connections=2200, open files' '
	if [ -z "$NOFILE_OK" ]; then
		echo "cannot raise ulimit -n to 8192 (hard limit $(ulimit -Hn))"
		exit 1
	fi &&
	echo "ulimit -n: $(ulimit -n)" &&
	REG_LOG_LEVEL=info &&
	REG_HTTP_EXTRA="header_timeout = $HEADER_TIMEOUT
max_connections = 2200
max_connections_per_address = 2200" &&
	write_config &&
	start_registryd &&
	random_file blob 1048576 &&
	DB=$(sha256_of blob) &&
	reg_curl GET /v2/ && expect_status 200 &&
	FD_BASE=$(ls /proc/$REG_PID/fd | wc -l) &&
	echo "server descriptors at rest: $FD_BASE"
'

test_expect_success PYTHON3,CURL,REGISTRYD "$SLOW_CONNS slow header senders; a 1 MiB push and pull still work" '
	rm -f ready slow.json &&
	timeout 40 python3 "$TEST_DIRECTORY/integ/lib-py/slowloris.py" \
	    "$PORT" "$SLOW_CONNS" 15 ready >slow.json 2>slow.err &
	SLOW_PID=$! &&
	test_atexit "kill $SLOW_PID" &&
	WAIT_SECONDS=20 wait_for test -e ready &&
	n=$(ls /proc/$REG_PID/fd | wc -l) &&
	echo "server descriptors with the slow clients: $n" &&
	test "$n" -ge $((SLOW_CONNS / 2)) &&
	t0=$EPOCHREALTIME &&
	CURL_TIMEOUT=10 push_blob slow/normal blob &&
	CURL_TIMEOUT=10 reg_curl GET "/v2/slow/normal/blobs/$DB" &&
	expect_status 200 &&
	expect_body_file blob &&
	t1=$EPOCHREALTIME &&
	echo "push and pull took $(awk -v a="$t0" -v b="$t1" "BEGIN { print b - a }") s" &&
	awk -v a="$t0" -v b="$t1" "BEGIN { exit !(b - a <= 10) }" &&
	wait "$SLOW_PID"
'

test_expect_success PYTHON3,REGISTRYD 'the server closed the slow connections after header_timeout' '
	cat slow.err &&
	jq -c "del(.close_after)" slow.json &&
	jq -r ".close_after | \"close after: min \(.[0]) median \(.[length/2|floor]) max \(.[-1])\"" slow.json &&
	jq -e ".connected == .wanted" slow.json &&
	# most were closed within header_timeout + 3 s of their first byte.
	jq -e --argjson lim $((HEADER_TIMEOUT + 3)) \
	    "([.close_after[] | select(. <= \$lim)] | length) >= (.connected * 0.95)" slow.json &&
	# and none before header_timeout (1 s of slack for timer granularity).
	jq -e --argjson lim $((HEADER_TIMEOUT - 1)) \
	    "[.close_after[] | select(. < \$lim)] | length == 0" slow.json
'

test_expect_success REGISTRYD 'descriptors back to the baseline; the server still answers' '
	ok= &&
	for i in $(seq 50); do
		n=$(ls /proc/$REG_PID/fd | wc -l) &&
		if [ "$n" -le $((FD_BASE + 2)) ]; then ok=1; break; fi
		sleep 0.2
	done &&
	echo "server descriptors: $n (baseline $FD_BASE)" &&
	test -n "$ok" &&
	reg_curl GET "/v2/slow/normal/blobs/$DB" &&
	expect_status 200 && expect_body_file blob
'

# The lingering close discards input until EOF, 2 s of silence or 10 s in
# all; before the cap, a byte a second held it open for good.
test_expect_success PYTHON3,REGISTRYD 'a client sending a byte a second after Connection: close is cut after 10 s' '
	python3 "$TEST_DIRECTORY/integ/lib-py/linger.py" "$PORT" 1 25 >linger.json &&
	say "# linger: $(cat linger.json)" &&
	jq -e ".status == 200" linger.json &&
	jq -e ".closed_after != null and .closed_after >= 8 and .closed_after <= 16" linger.json
'

test_done
