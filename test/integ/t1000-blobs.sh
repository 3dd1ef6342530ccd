#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Blobs: monolithic uploads, HEAD/GET, ranges, errors, delete, mount.
. "$(dirname "$0")/../lib/test-lib.sh"

ZERO=sha256:0000000000000000000000000000000000000000000000000000000000000000

test_expect_success CURL 'setup: start the server, make blobs' '
	start_registryd &&
	random_file b1 100000 &&
	random_file b2 3000 &&
	random_file b3 5000 &&
	D1=$(sha256_of b1) && D2=$(sha256_of b2) && D3=$(sha256_of b3)
'

test_expect_success CURL,REGISTRYD 'monolithic POST ?digest= stores the blob in one request (201)' '
	reg_curl POST "/v2/blob/one/blobs/uploads/?digest=$D2" \
	    -H "Content-Type: application/octet-stream" --data-binary @b2 &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$D2" &&
	expect_header_match Location "/v2/blob/one/blobs/$D2\$" &&
	reg_curl GET "$(header Location)" &&
	expect_status 200 &&
	expect_body_file b2
'

test_expect_success CURL,REGISTRYD 'monolithic POST with a percent-encoded digest' '
	reg_curl POST "/v2/blob/one/blobs/uploads/?digest=${D3/:/%3A}" \
	    -H "Content-Type: application/octet-stream" --data-binary @b3 &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$D3"
'

test_expect_success CURL 'POST then PUT ?digest= stores the blob (201)' '
	upload_start blob/one &&
	reg_curl PUT "$(with_query "$UPLOAD" "digest=$D1")" \
	    -H "Content-Type: application/octet-stream" --data-binary @b1 &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$D1" &&
	expect_header_match Location "/v2/blob/one/blobs/$D1\$"
'

test_expect_success CURL 'HEAD blob: Content-Length and Docker-Content-Digest' '
	reg_curl HEAD "/v2/blob/one/blobs/$D1" &&
	expect_status 200 &&
	expect_header Content-Length 100000 &&
	expect_header Docker-Content-Digest "$D1"
'

test_expect_success CURL,REGISTRYD 'HEAD and GET blob carry an ETag' '
	reg_curl HEAD "/v2/blob/one/blobs/$D1" &&
	expect_header_match ETag "$D1" &&
	reg_curl GET "/v2/blob/one/blobs/$D1" &&
	expect_header_match ETag "$D1"
'

test_expect_success CURL 'GET blob returns the exact bytes' '
	reg_curl GET "/v2/blob/one/blobs/$D1" &&
	expect_status 200 &&
	expect_header Content-Length 100000 &&
	expect_header Docker-Content-Digest "$D1" &&
	expect_body_file b1
'

test_expect_success CURL 'GET blob with Range: 206 and Content-Range' '
	reg_curl GET "/v2/blob/one/blobs/$D1" -H "Range: bytes=1000-1999" &&
	expect_status 206 &&
	expect_header Content-Range "bytes 1000-1999/100000" &&
	expect_header Content-Length 1000 &&
	tail -c +1001 b1 | head -c 1000 >want &&
	expect_body_file want
'

test_expect_success CURL 'GET blob with an open Range: the tail' '
	reg_curl GET "/v2/blob/one/blobs/$D1" -H "Range: bytes=99990-" &&
	expect_status 206 &&
	expect_header Content-Range "bytes 99990-99999/100000" &&
	tail -c 10 b1 >want &&
	expect_body_file want
'

test_expect_success CURL 'GET blob with an unsatisfiable Range: 416' '
	# (registry:2 sends a body shorter than its Content-Length here)
	{ reg_curl GET "/v2/blob/one/blobs/$D1" -H "Range: bytes=100000-100010" ||
	    test "$TEST_TARGET" = reference; } &&
	expect_status 416 &&
	expect_header_match Content-Range "^bytes \*/100000$"
'

test_expect_success CURL 'GET of a missing blob: 404 BLOB_UNKNOWN' '
	reg_curl GET "/v2/blob/one/blobs/$ZERO" &&
	expect_status 404 &&
	expect_header_match Content-Type "^application/json" &&
	expect_error_code BLOB_UNKNOWN
'

test_expect_success CURL 'HEAD of a missing blob: 404' '
	reg_curl HEAD "/v2/blob/one/blobs/$ZERO" &&
	expect_status 404
'

test_expect_success CURL 'a blob is not visible through a repository that does not link it' '
	reg_curl GET "/v2/blob/other/blobs/$D1" &&
	expect_status 404 &&
	expect_error_code BLOB_UNKNOWN
'

test_expect_success CURL,REGISTRYD 'an invalid digest in the path: 400 DIGEST_INVALID' '
	reg_curl GET /v2/blob/one/blobs/sha256:abc &&
	expect_status 400 &&
	expect_error_code DIGEST_INVALID &&
	reg_curl GET "/v2/blob/one/blobs/sha256:${D1#sha256:}" &&
	expect_status 200 &&
	reg_curl GET "/v2/blob/one/blobs/sha256:$(echo ${D1#sha256:} | tr a-f A-F)" &&
	expect_status 400
'

test_expect_success CURL,REGISTRYD 'monolithic POST with a wrong digest: 400 DIGEST_INVALID, nothing stored' '
	reg_curl POST "/v2/blob/one/blobs/uploads/?digest=$ZERO" \
	    -H "Content-Type: application/octet-stream" --data-binary @b3 &&
	expect_status 400 &&
	expect_error_code DIGEST_INVALID &&
	reg_curl HEAD "/v2/blob/one/blobs/$ZERO" &&
	expect_status 404
'

test_expect_success CURL 'blob DELETE when deletes are enabled: 202, then 404' '
	push_blob blob/del b3 &&
	reg_curl DELETE "/v2/blob/del/blobs/$D3" &&
	expect_status 202 &&
	reg_curl HEAD "/v2/blob/del/blobs/$D3" &&
	expect_status 404 &&
	reg_curl DELETE "/v2/blob/del/blobs/$D3" &&
	expect_status 404 &&
	expect_error_code BLOB_UNKNOWN
'

test_expect_success CURL 'mount from another repository: 201' '
	reg_curl POST "/v2/blob/mounted/blobs/uploads/?mount=$D1&from=blob/one" &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$D1" &&
	expect_header_match Location "/v2/blob/mounted/blobs/$D1\$" &&
	reg_curl GET "/v2/blob/mounted/blobs/$D1" &&
	expect_status 200 &&
	expect_body_file b1
'

test_expect_success CURL 'mount with percent-encoded digest and from' '
	reg_curl POST "/v2/blob/mounted2/blobs/uploads/?mount=${D1/:/%3A}&from=blob%2Fone" &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$D1"
'

test_expect_success CURL,REGISTRYD 'mount without from of a blob the registry has: 201' '
	reg_curl POST "/v2/blob/nofrom/blobs/uploads/?mount=$D1" &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$D1" &&
	reg_curl HEAD "/v2/blob/nofrom/blobs/$D1" &&
	expect_status 200
'

test_expect_success CURL,REGISTRYD 'mount from a repository that lacks the blob, blob elsewhere: 201' '
	reg_curl POST "/v2/blob/nofrom2/blobs/uploads/?mount=$D1&from=blob/other" &&
	expect_status 201 &&
	reg_curl HEAD "/v2/blob/nofrom2/blobs/$D1" &&
	expect_status 200
'

test_expect_success CURL 'mount of a missing blob starts an upload: 202' '
	reg_curl POST "/v2/blob/mounted/blobs/uploads/?mount=$ZERO&from=blob/one" &&
	expect_status 202 &&
	expect_header_match Location "/v2/blob/mounted/blobs/uploads/" &&
	test -n "$(header Docker-Upload-UUID)" &&
	reg_curl HEAD "/v2/blob/mounted/blobs/$ZERO" &&
	expect_status 404
'

test_expect_success CURL,FSROOT 'the blob is stored in the registry:2 layout' '
	h=${D1#sha256:} &&
	cmp b1 "$ROOT/docker/registry/v2/blobs/sha256/${h:0:2}/$h/data" &&
	echo -n "$D1" >want &&
	cmp want "$ROOT/docker/registry/v2/repositories/blob/one/_layers/sha256/$h/link" &&
	cmp want "$ROOT/docker/registry/v2/repositories/blob/mounted/_layers/sha256/$h/link"
'

test_expect_success CURL 'blob DELETE when deletes are disabled: 405 UNSUPPORTED' '
	stop_registryd &&
	start_registryd REGISTRY_STORAGE_DELETE_ENABLED=false &&
	reg_curl DELETE "/v2/blob/one/blobs/$D1" &&
	expect_status 405 &&
	expect_error_code UNSUPPORTED &&
	reg_curl HEAD "/v2/blob/one/blobs/$D1" &&
	expect_status 200
'

test_done
