#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Caps on open upload sessions, per client address and in total
# (upload_sessions_per_client, upload_sessions_max): beyond them POST gets
# 429 TOOMANYREQUESTS with the OCI body; other clients keep pushing and
# pulling; a finished or cancelled session frees its slot; a flood of
# POSTs beyond the caps leaves the server's descriptors and memory flat;
# and with caps raised, 2000 real sessions, each written to once and then
# idle, hold no descriptor.
. "$(dirname "$0")/../lib/test-lib.sh"

# fds and rss_kib of the server process.
fds() { ls "/proc/$REG_PID/fd" | wc -l; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$REG_PID/status"; }

test_expect_success CURL,REGISTRYD 'setup: 5 sessions per client, 8 in all' '
	start_registryd REGISTRY_STORAGE_UPLOAD_SESSIONS_PERCLIENT=5 \
	    REGISTRY_STORAGE_UPLOAD_SESSIONS_MAX=8
'

test_expect_success CURL,REGISTRYD 'one client gets 5 sessions, then 429 TOOMANYREQUESTS' '
	for i in 1 2 3 4 5; do
		reg_curl POST /v2/lim/a/blobs/uploads/ &&
		expect_status 202 || return 1
		echo "$(url "$(header Location)")" >>sessions
	done &&
	reg_curl POST /v2/lim/a/blobs/uploads/ &&
	expect_status 429 &&
	expect_error_code TOOMANYREQUESTS &&
	test -n "$(header Retry-After)"
'

test_expect_success CURL,REGISTRYD 'another client address still pushes and pulls' '
	printf "layer from b" >b.bin &&
	DB=$(sha256_of b.bin) &&
	reg_curl POST "/v2/lim/b/blobs/uploads/?digest=$DB" \
	    --interface 127.0.0.2 --data-binary @b.bin &&
	expect_status 201 &&
	reg_curl GET "/v2/lim/b/blobs/$DB" --interface 127.0.0.2 &&
	expect_status 200 &&
	cmp "$TRASH/body" b.bin &&
	reg_curl POST /v2/lim/b/blobs/uploads/ --interface 127.0.0.2 &&
	expect_status 202
'

test_expect_success CURL,REGISTRYD 'a cancelled session frees its slot' '
	reg_curl DELETE "$(head -n 1 sessions)" &&
	expect_status 204 &&
	reg_curl POST /v2/lim/a/blobs/uploads/ &&
	expect_status 202
'

test_expect_success CURL,REGISTRYD 'the total cap holds for every client' '
	reg_curl POST /v2/lim/b/blobs/uploads/ --interface 127.0.0.2 &&
	expect_status 202 &&
	reg_curl POST /v2/lim/b/blobs/uploads/ --interface 127.0.0.2 &&
	expect_status 202 &&
	reg_curl POST /v2/lim/c/blobs/uploads/ --interface 127.0.0.3 &&
	expect_status 429 &&
	expect_error_code TOOMANYREQUESTS
'

test_expect_success CURL,REGISTRYD '2000 POSTs from one client: all 429, descriptors flat, no new sessions' '
	F0=$(fds) && R0=$(rss_kib) &&
	for i in $(seq 2000); do
		printf "url = \"%s\"\noutput = \"/dev/null\"\n" \
		    "$BASE/v2/lim/a/blobs/uploads/"
	done >flood.cfg &&
	curl -sS -X POST -K flood.cfg -w "%{http_code}\n" >codes &&
	test "$(grep -c "^429$" codes)" = 2000 &&
	F1=$(fds) && R1=$(rss_kib) &&
	echo "fds $F0 -> $F1, rss $R0 -> $R1 KiB" &&
	test "$F1" -le "$((F0 + 2))" &&
	test "$(ls "$ROOT/docker/registry/v2/repositories/lim/a/_uploads" | wc -l)" = 5
'

# ASan keeps freed memory in quarantine: RSS says nothing there.
test_expect_success CURL,REGISTRYD,NOT_ASAN 'and the server memory stays flat (RSS under +4 MiB)' '
	test "$R1" -le "$((R0 + 4096))"
'

# curl_config METHOD URL-FILE [DATA]: a curl -K config with one request
# of METHOD for every URL in URL-FILE, headers to stdout, body dropped.
curl_config() {
	while read -r u; do
		printf "next\nrequest = \"%s\"\nurl = \"%s\"\noutput = \"/dev/null\"\ndump-header = \"-\"\n" "$1" "$u"
		[ -z "$3" ] || printf "data-binary = \"%s\"\n" "$3"
	done <"$2" | sed 1d
}

test_expect_success CURL,REGISTRYD 'caps raised: 2000 sessions from one client, each written to once, then idle' '
	stop_registryd &&
	start_registryd REGISTRY_STORAGE_UPLOAD_SESSIONS_PERCLIENT=3000 \
	    REGISTRY_STORAGE_UPLOAD_SESSIONS_MAX=3000 &&
	F0=$(fds) &&
	seq 2000 | sed "s|.*|$BASE/v2/idle/a/blobs/uploads/|" >posts &&
	curl_config POST posts >posts.cfg &&
	curl -sS -K posts.cfg >posts.out &&
	test "$(grep -c "^HTTP/1.1 202 " posts.out)" = 2000 &&
	tr -d "\r" <posts.out | sed -n "s|^Location: |$BASE|p" >locations &&
	test "$(sort -u locations | wc -l)" = 2000 &&
	curl_config PATCH locations "some bytes" >patches.cfg &&
	curl -sS -K patches.cfg -H "Content-Type: application/octet-stream" >patches.out &&
	test "$(grep -c "^HTTP/1.1 202 " patches.out)" = 2000 &&
	test "$(grep -c "^Range: 0-9" patches.out)" = 2000 &&
	test "$(ls "$ROOT/docker/registry/v2/repositories/idle/a/_uploads" | wc -l)" = 2000
'

test_expect_success REGISTRYD 'the 2000 idle sessions hold no descriptor' '
	F1=$(fds) &&
	say "# idle sessions: fds $F0 -> $F1" &&
	test "$F1" -le "$((F0 + 2))"
'

test_done
