#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Upload sessions: POST, PATCH (chunked and Content-Range), status, PUT,
# digest mismatch, cancel, Expect: 100-continue, a 20 MiB stream, keep-alive.
. "$(dirname "$0")/../lib/test-lib.sh"

# Remember the newest upload URL (registry:2 changes its query each step).
next_upload() {
	UPLOAD=$(url "$(header Location)") && [ -n "$(header Location)" ]
}

test_expect_success CURL 'setup' '
	start_registryd &&
	random_file c1 70000 &&
	random_file c2 50000 &&
	random_file c3 30000 &&
	cat c1 c2 c3 >all &&
	DALL=$(sha256_of all)
'

test_expect_success CURL 'POST starts an upload: 202, Location, Docker-Upload-UUID, Range' '
	reg_curl POST /v2/up/load/blobs/uploads/ &&
	expect_status 202 &&
	UUID=$(header Docker-Upload-UUID) &&
	test -n "$UUID" &&
	expect_header_match Location "/v2/up/load/blobs/uploads/$UUID" &&
	{ ! header Range >/dev/null || expect_header Range 0-0; } &&
	next_upload
'

test_expect_success CURL,REGISTRYD 'the upload URL is relative' '
	reg_curl POST /v2/up/load/blobs/uploads/ &&
	expect_header_match Location "^/v2/up/load/blobs/uploads/[0-9a-f-]{36}$"
'

test_expect_success CURL 'PATCH with chunked transfer encoding: 202, Range 0-(n-1)' '
	reg_curl PATCH "$UPLOAD" -H "Transfer-Encoding: chunked" \
	    -H "Content-Type: application/octet-stream" --data-binary @c1 &&
	expect_status 202 &&
	expect_header Range 0-69999 &&
	expect_header Docker-Upload-UUID "$UUID" &&
	expect_header_match Location "/v2/up/load/blobs/uploads/$UUID" &&
	next_upload
'

test_expect_success CURL 'PATCH with the next Content-Range: 202' '
	reg_curl PATCH "$UPLOAD" -H "Content-Range: 70000-119999" \
	    -H "Content-Type: application/octet-stream" --data-binary @c2 &&
	expect_status 202 &&
	expect_header Range 0-119999 &&
	next_upload
'

test_expect_success CURL,REGISTRYD 'PATCH with an overlapping Content-Range: 416' '
	reg_curl PATCH "$UPLOAD" -H "Content-Range: 100000-129999" \
	    -H "Content-Type: application/octet-stream" --data-binary @c3 &&
	expect_status 416
'

test_expect_success CURL,REGISTRYD 'PATCH with a Content-Range that leaves a gap: 416' '
	reg_curl PATCH "$UPLOAD" -H "Content-Range: 120001-150000" \
	    -H "Content-Type: application/octet-stream" --data-binary @c3 &&
	expect_status 416
'

test_expect_success CURL,REGISTRYD 'PATCH repeating the first range: 416' '
	reg_curl PATCH "$UPLOAD" -H "Content-Range: 0-29999" \
	    -H "Content-Type: application/octet-stream" --data-binary @c3 &&
	expect_status 416
'

test_expect_success CURL,REGISTRYD 'a chunked PATCH shorter than its Content-Range: 416, its bytes undone' '
	reg_curl PATCH "$UPLOAD" -H "Content-Range: 120000-159999" \
	    -H "Transfer-Encoding: chunked" \
	    -H "Content-Type: application/octet-stream" --data-binary @c3 &&
	expect_status 416 &&
	expect_error_code BLOB_UPLOAD_INVALID &&
	expect_header Range 0-119999
'

test_expect_success CURL 'GET upload status: 204 with Range after rejected PATCHes' '
	reg_curl GET "$UPLOAD" &&
	expect_status 204 &&
	expect_header Range 0-119999 &&
	expect_header Docker-Upload-UUID "$UUID" &&
	expect_header_match Location "/v2/up/load/blobs/uploads/$UUID" &&
	next_upload
'

test_expect_success CURL 'PUT ?digest= with the last chunk: 201, blob matches' '
	reg_curl PUT "$(with_query "$UPLOAD" "digest=$DALL")" \
	    -H "Content-Type: application/octet-stream" --data-binary @c3 &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$DALL" &&
	expect_header_match Location "/v2/up/load/blobs/$DALL\$" &&
	reg_curl GET "/v2/up/load/blobs/$DALL" &&
	expect_status 200 &&
	expect_body_file all
'

test_expect_success CURL 'a finished upload answers 404 BLOB_UPLOAD_UNKNOWN' '
	reg_curl GET "$UPLOAD" &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN &&
	reg_curl PATCH "$UPLOAD" --data-binary @c1 &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN
'

test_expect_success CURL 'PUT with a wrong digest: 400 DIGEST_INVALID, nothing stored' '
	random_file w1 40000 &&
	DW=$(sha256_of w1) &&
	upload_start up/wrong &&
	reg_curl PATCH "$UPLOAD" --data-binary @w1 \
	    -H "Content-Type: application/octet-stream" &&
	expect_status 202 &&
	next_upload &&
	reg_curl PUT "$(with_query "$UPLOAD" "digest=$DALL")" \
	    -H "Content-Type: application/octet-stream" &&
	expect_status 400 &&
	expect_error_code DIGEST_INVALID &&
	reg_curl HEAD "/v2/up/wrong/blobs/$DW" &&
	expect_status 404 &&
	reg_curl HEAD "/v2/up/wrong/blobs/$DALL" &&
	expect_status 404 &&
	h=${DW#sha256:} &&
	! test -e "$ROOT/docker/registry/v2/blobs/sha256/${h:0:2}/$h"
'

test_expect_success CURL,REGISTRYD 'after a digest mismatch the upload is gone: 404 BLOB_UPLOAD_UNKNOWN' '
	reg_curl GET "$UPLOAD" &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN
'

test_expect_success CURL 'PUT without ?digest=: 400 DIGEST_INVALID' '
	upload_start up/nodigest &&
	reg_curl PUT "$UPLOAD" --data-binary @c1 \
	    -H "Content-Type: application/octet-stream" &&
	expect_status 400 &&
	expect_error_code DIGEST_INVALID
'

test_expect_success CURL 'DELETE an upload: 204, then 404 BLOB_UPLOAD_UNKNOWN' '
	upload_start up/cancel &&
	reg_curl PATCH "$UPLOAD" --data-binary @c1 \
	    -H "Content-Type: application/octet-stream" &&
	expect_status 202 &&
	next_upload &&
	reg_curl DELETE "$UPLOAD" &&
	expect_status 204 &&
	reg_curl GET "$UPLOAD" &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN &&
	reg_curl DELETE "$UPLOAD" &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN
'

test_expect_success CURL,REGISTRYD 'an unknown upload id: 404 BLOB_UPLOAD_UNKNOWN' '
	reg_curl GET /v2/up/load/blobs/uploads/00000000-0000-4000-8000-000000000000 &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN &&
	reg_curl PATCH /v2/up/load/blobs/uploads/not-a-uuid --data-binary @c1 &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN
'

test_expect_success CURL,REGISTRYD 'an upload is bound to its repository' '
	upload_start up/mine &&
	other=${UPLOAD/\/up\/mine\//\/up\/other\/} &&
	reg_curl GET "$other" &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN
'

test_expect_success CURL 'an empty blob' '
	: >empty &&
	push_blob up/empty empty &&
	reg_curl GET "/v2/up/empty/blobs/$(sha256_of empty)" &&
	expect_status 200 &&
	expect_header Content-Length 0 &&
	test ! -s "$TRASH/body"
'

test_expect_success CURL 'Expect: 100-continue on PATCH: 100, then 202' '
	random_file big 2097152 &&
	upload_start up/expect &&
	reg_curl PATCH "$UPLOAD" -H "Expect: 100-continue" \
	    -H "Content-Type: application/octet-stream" --data-binary @big &&
	expect_status 202 &&
	expect_header Range 0-2097151 &&
	grep -q "^HTTP/1.1 100" "$TRASH/headers" &&
	next_upload &&
	reg_curl PUT "$(with_query "$UPLOAD" "digest=$(sha256_of big)")" &&
	expect_status 201
'

test_expect_success CURL,REGISTRYD 'Expect: 100-continue to an unknown upload: 404, no 100' '
	reg_curl PATCH /v2/up/expect/blobs/uploads/00000000-0000-4000-8000-000000000000 \
	    -H "Expect: 100-continue" --data-binary @big &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN &&
	! grep -q "^HTTP/1.1 100" "$TRASH/headers"
'

test_expect_success CURL 'a 20 MiB upload streamed with chunked PATCH' '
	random_file huge 20971520 &&
	DH=$(sha256_of huge) &&
	upload_start up/huge &&
	reg_curl PATCH "$UPLOAD" -H "Transfer-Encoding: chunked" \
	    -H "Content-Type: application/octet-stream" --data-binary @huge &&
	expect_status 202 &&
	expect_header Range 0-20971519 &&
	next_upload &&
	reg_curl PUT "$(with_query "$UPLOAD" "digest=$DH")" &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$DH" &&
	reg_curl GET "/v2/up/huge/blobs/$DH" &&
	expect_status 200 &&
	expect_body_file huge
'

test_expect_success CURL 'a 20 MiB monolithic PUT with Content-Length' '
	upload_start up/huge2 &&
	reg_curl PUT "$(with_query "$UPLOAD" "digest=$DH")" \
	    -H "Content-Type: application/octet-stream" --data-binary @huge &&
	expect_status 201 &&
	reg_curl HEAD "/v2/up/huge2/blobs/$DH" &&
	expect_header Content-Length 20971520
'

# /proc/PID/status field in KiB.
proc_kib() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

test_expect_success CURL,REGISTRYD,NOT_ASAN 'a 128 MiB chunked PATCH does not grow the server'"'"'s memory' '
	upload_start up/mem &&
	rss0=$(proc_kib "$REG_PID" VmRSS) &&
	head -c 134217728 /dev/zero |
	reg_curl PATCH "$UPLOAD" -H "Transfer-Encoding: chunked" \
	    -H "Content-Type: application/octet-stream" -T - &&
	expect_status 202 &&
	expect_header Range 0-134217727 &&
	hwm=$(proc_kib "$REG_PID" VmHWM) &&
	echo "VmRSS before $rss0 KiB, VmHWM after $hwm KiB" &&
	test $((hwm - rss0)) -lt 16384 &&
	reg_curl DELETE "$UPLOAD" &&
	expect_status 204
'

test_expect_success CURL 'keep-alive: several requests reuse one connection' '
	curl -sS -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
	    -w "%{http_code} %{num_connects}\n" \
	    "$BASE/v2/" "$BASE/v2/up/load/blobs/$DALL" \
	    "$BASE/v2/up/load/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000" \
	    "$BASE/v2/" >conns &&
	cat conns &&
	printf "200 1\n200 0\n404 0\n200 0\n" >want &&
	cmp want conns
'

test_expect_success CURL,REGISTRYD 'keep-alive: an upload in several requests over one connection' '
	upload_start up/ka &&
	u=$UPLOAD &&
	curl -sS -o /dev/null -w "%{http_code} %{num_connects}\n" \
	    -X PATCH -H "Content-Type: application/octet-stream" --data-binary @c1 "$u" --next \
	    -o /dev/null -w "%{http_code} %{num_connects}\n" \
	    "$BASE/v2/" --next \
	    -o /dev/null -w "%{http_code} %{num_connects}\n" \
	    -X PATCH -H "Transfer-Encoding: chunked" \
	    -H "Content-Type: application/octet-stream" --data-binary @c2 "$u" >conns &&
	cat conns &&
	printf "202 1\n200 0\n202 0\n" >want &&
	cmp want conns
'

# A PATCH that fails part-way keeps nothing: its good chunks went to the
# data before the bad one came, and the client, told 400, cannot know
# how much of it was kept.
for bad in "malformed chunk size:ZZ\r\nxx\r\n0\r\n\r\n" \
    "malformed trailer:0\r\nno colon here\r\n\r\n"; do
	test_expect_success CURL,PYTHON3,REGISTRYD "a PATCH with good chunks, then a ${bad%%:*}: 400, its bytes undone" '
		upload_start up/undo &&
		reg_curl PATCH "$UPLOAD" --data-binary abc \
		    -H "Content-Type: application/octet-stream" &&
		expect_status 202 &&
		expect_header Range 0-2 &&
		LOC=$(header Location | sed -E "s|^https?://[^/]*||") &&
		printf "PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n4\r\nmore\r\n${bad#*:}" \
		    "$LOC" >bad.req &&
		raw_http bad.req >bad.out &&
		status_lines bad.out >got &&
		echo 400 >want &&
		diff -u want got &&
		reg_curl GET "$UPLOAD" &&
		expect_status 204 &&
		expect_header Range 0-2 &&
		reg_curl PATCH "$UPLOAD" --data-binary def \
		    -H "Content-Type: application/octet-stream" &&
		expect_status 202 &&
		printf abcdef >undo.bin &&
		reg_curl PUT "$(with_query "$UPLOAD" "digest=$(sha256_of undo.bin)")" &&
		expect_status 201
	'
done

test_done
