#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# An upload session whose data is removed under the server (a purge, a
# commit or cancel by another instance sharing the root) stays gone: the
# next PATCH answers 404 BLOB_UPLOAD_UNKNOWN, and the bytes sent before
# never become a blob under a digest they do not match.
. "$(dirname "$0")/../lib/test-lib.sh"

data_file() {
	echo "$ROOT/docker/registry/v2/repositories/vanish/r/_uploads/$1/data"
}

test_expect_success CURL,REGISTRYD 'setup' '
	start_registryd
'

test_expect_success CURL,REGISTRYD,FSROOT 'data removed under a session: 404, and no blob with the wrong bytes' '
	reg_curl POST /v2/vanish/r/blobs/uploads/ &&
	U=$(header Docker-Upload-UUID) &&
	LOC=$(url "$(header Location)") &&
	reg_curl PATCH "$LOC" --data-binary AAAA &&
	expect_status 202 &&
	rm "$(data_file "$U")" &&
	reg_curl PATCH "$LOC" --data-binary BBBB &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN &&
	D=$(printf AAAABBBB | sha256sum | cut -d" " -f1) &&
	reg_curl PUT "$(with_query "$LOC" "digest=sha256:$D")" &&
	test "$STATUS" != 201 &&
	reg_curl GET "/v2/vanish/r/blobs/sha256:$D" &&
	expect_status 404
'

test_done
