#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# The access log (hardening item 21): one line per request, written when
# the response has left: the body bytes really sent, the time until then,
# the client address after trust_proxy, and a line marked "aborted" for a
# request the client walked away from (status 499 when no reply had
# started).
. "$(dirname "$0")/../lib/test-lib.sh"

ABANDON="$TEST_DIRECTORY/integ/lib-py/abandon.py"
MIB=1048576

# access_line PATTERN: wait up to 5 s for an access line matching the
# extended regex PATTERN (the line comes when the response has left,
# which may be just after the client has it), print it.
access_line() {
	WAIT_SECONDS=5 wait_for grep -Eq "access: $1" "$TRASH/registryd.log" &&
	grep -E "access: $1" "$TRASH/registryd.log" | tail -n 1
}

test_expect_success CURL 'setup: a 1 MiB blob' '
	start_registryd &&
	random_file blob $MIB &&
	DB=$(sha256_of blob) &&
	push_blob log/x blob &&
	BLOB=/v2/log/x/blobs/$DB
'

test_expect_success CURL 'a whole GET logs the bytes of the body, not aborted' '
	reg_curl GET "$BLOB" && expect_status 200 && expect_body_file blob &&
	access_line "127\.0\.0\.1:[0-9]+ GET $BLOB 200 $MIB [0-9]+ms - $DB\$" >line &&
	cat line
'

test_expect_success CURL 'HEAD logs 0 bytes; an error its body' '
	reg_curl HEAD "$BLOB" && expect_status 200 &&
	access_line "127\.0\.0\.1:[0-9]+ HEAD $BLOB 200 0 [0-9]+ms - " &&
	reg_curl GET /v2/log/x/blobs/sha256:$(printf "%064d" 0) &&
	expect_status 404 &&
	access_line "127\.0\.0\.1:[0-9]+ GET /v2/log/x/blobs/sha256:0+ 404 $(size_of body) [0-9]+ms "
'

test_expect_success PYTHON3,REGISTRYD 'a GET abandoned after 8 KiB logs the bytes sent so far, aborted' '
	printf "GET %s HTTP/1.1\r\nHost: t\r\n\r\n" "$BLOB" >get.req &&
	python3 "$ABANDON" "$PORT" get.req 8192 &&
	access_line "127\.0\.0\.1:[0-9]+ GET $BLOB 200 [0-9]+ [0-9]+ms - $DB aborted\$" >line &&
	cat line &&
	sent=$(awk "{ for (i = 1; i < NF; i++) if (\$i == \"200\") print \$(i + 1) }" line) &&
	echo "sent $sent of $MIB" &&
	test "$sent" -lt $MIB
'

test_expect_success PYTHON3,REGISTRYD 'an upload abandoned before any reply logs 499, aborted' '
	upload_start log/up &&
	path=${UPLOAD#"$BASE"} &&
	{ printf "PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" "$path" $MIB &&
	  head -c 1000 blob; } >patch.req &&
	python3 "$ABANDON" "$PORT" patch.req 0 &&
	access_line "127\.0\.0\.1:[0-9]+ PATCH ${path%%\?*} 499 0 [0-9]+ms - - aborted\$"
'

test_expect_success CURL 'with trust_proxy the X-Forwarded-For client is logged' '
	stop_registryd &&
	REG_HTTP_EXTRA="trust_proxy = 127.0.0.1" &&
	write_config &&
	start_registryd &&
	reg_curl GET "$BLOB" -H "X-Forwarded-For: 198.51.100.1, 203.0.113.9" &&
	expect_status 200 &&
	access_line "203\.0\.113\.9 GET $BLOB 200 $MIB [0-9]+ms - $DB\$" &&
	# A peer that is not a trusted proxy is logged as itself.
	stop_registryd &&
	REG_HTTP_EXTRA= &&
	write_config &&
	start_registryd &&
	reg_curl GET /v2/ -H "X-Forwarded-For: 203.0.113.10" &&
	expect_status 200 &&
	access_line "127\.0\.0\.1:[0-9]+ GET /v2/ 200 " &&
	! grep -q "access: 203\.0\.113\.10" "$TRASH/registryd.log"
'

test_done
