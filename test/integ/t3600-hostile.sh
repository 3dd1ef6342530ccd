#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Hostile clients, table-driven: oversized heads, URLs and manifests, broken
# chunked framing, request smuggling shapes, bad names and digests, digest
# mismatches, manifests with missing references, deeply nested JSON, bad
# Content-Range, unknown uploads, non-HTTP openings. The table is
# t3600-hostile.tsv (one row per case); each row is sent raw on its own
# connection and must get its status and OCI error code, leave nothing new
# in the storage tree outside _uploads, and leave the server answering.
. "$(dirname "$0")/../lib/test-lib.sh"

TABLE="$TEST_DIRECTORY/integ/t3600-hostile.tsv"
RAWREQ="$TEST_DIRECTORY/integ/lib-py/rawreq.py"
MANIFEST_MAX=$((4 * 1024 * 1024))	# MANIFEST_MAX_BYTES in bounds.h
HELLO=sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824	# "hello"
HELLO_O=sha256:04a6f55face2f46be8c23f627d539827615851e10751b63ec59db6d2c706b770	# "hellO"

# ------------------------------------------------ request builders (table)

# crlf LINE: LINE and CRLF.
crlf() { printf '%s\r\n' "$1"; }

# rq METHOD TARGET [HEADER...]: a request head with Host and Connection:
# close, then the empty line. A body, if any, follows on stdout.
rq() {
	local h
	crlf "$1 $2 HTTP/1.1"
	crlf "Host: 127.0.0.1"
	crlf "Connection: close"
	shift 2
	for h in "$@"; do crlf "$h"; done
	crlf ""
}

# rep CHAR N: N copies of CHAR.
rep() { head -c "$2" /dev/zero | tr '\0' "$1"; }

# many_headers N: N words "X-Hi:v" (no spaces, for word splitting).
many_headers() { seq -f 'X-H%g:v' "$1"; }

# big_json N: a JSON object of exactly N bytes.
big_json() {
	printf '{"schemaVersion":2,"x":"'
	rep a $(($1 - 26))
	printf '"}'
}

# nested_objects N: N times {"a": (never closed).
nested_objects() { yes '{"a":' | head -n "$1" | tr -d '\n'; }

# one_chunk: stdin as a single chunk plus the last chunk.
one_chunk() {
	cat >"$TRASH/.chunk" &&
	printf '%x\r\n' "$(size_of "$TRASH/.chunk")" &&
	cat "$TRASH/.chunk" &&
	printf '\r\n0\r\n\r\n'
}

# one_chunk_trailers TRAILER...: stdin as a single chunk, the last chunk,
# then TRAILER lines.
one_chunk_trailers() {
	local t
	cat >"$TRASH/.chunk" &&
	printf '%x\r\n' "$(size_of "$TRASH/.chunk")" &&
	cat "$TRASH/.chunk" &&
	printf '\r\n0\r\n' &&
	for t in "$@"; do crlf "$t"; done &&
	crlf ""
}

# no_media_type FILE: the manifest FILE without its top-level mediaType
# (make_image writes it first).
no_media_type() { sed 's/"mediaType":"[^"]*",//' "$1"; }

# upper_hex DIGEST: the digest with its hex in upper case.
upper_hex() { printf '%s:%s' "${1%%:*}" "$(printf '%s' "${1#*:}" | tr a-f A-F)"; }

# newup NAME: start an upload, print its path.
newup() {
	upload_start "$1" >/dev/null || return 1
	printf '%s' "${UPLOAD#"$BASE"}"
}

# newup_with NAME N: an upload that already holds N bytes; print its path.
newup_with() {
	upload_start "$1" >/dev/null &&
	rep y "$2" >"$TRASH/.part" &&
	reg_curl PATCH "$UPLOAD" -H "Content-Range: 0-$(($2 - 1))" \
	    -H 'Content-Type: application/octet-stream' \
	    --data-binary @"$TRASH/.part" >/dev/null &&
	[ "$STATUS" = 202 ] || return 1
	printf '%s' "${UPLOAD#"$BASE"}"
}

# ------------------------------------------------ checks after a row

# no_blob DIGEST: HEAD of the blob is 404.
no_blob() {
	reg_curl HEAD "/v2/hostile/d/blobs/$1" >/dev/null || return 1
	[ "$STATUS" = 404 ] || { echo "HEAD $1: $STATUS"; return 1; }
}

# no_tag NAME TAG / no_manifest NAME DIGEST: GET of the manifest is 404.
no_tag() {
	reg_curl GET "/v2/$1/manifests/$2" >/dev/null || return 1
	[ "$STATUS" = 404 ] || { echo "GET $1:$2: $STATUS"; return 1; }
}
no_manifest() { no_tag "$@"; }

# no_repo NAME: no directory of that name anywhere under the root, nor
# outside it.
no_repo() {
	! find "$ROOT" "$TRASH" -name "$1" | grep -q . || {
		echo "found $1:"; find "$ROOT" "$TRASH" -name "$1"; return 1; }
}

# run_row NAME REQUEST STATUS CODE CHECK
run_row() {
	local name=$1 gen=$2 want=$3 code=$4 check=$5 got
	eval "{ $gen ; }" >"$TRASH/req.bin" || { echo "building the request failed"; return 1; }
	echo "request: $(size_of "$TRASH/req.bin") bytes, head:"
	head -c 300 "$TRASH/req.bin" | tr -c '[:print:]\n' '.' | head -n 12
	echo
	# One Python process sends every row, compares the storage tree
	# (outside _uploads) before and after, reads the error code and checks
	# that GET /v2/ still answers: Python and curl start slowly on a
	# loaded machine.
	printf '%s %s 15 %s\n' "$TRASH/req.bin" "$TRASH/body" "$ROOT" >&"${RAW[1]}" || return 1
	IFS= read -r -t 40 got <&"${RAW[0]}" || { echo "no answer from rawreq.py"; return 1; }
	echo "rawreq: $got (status, error code, GET /v2/, tree changes)"
	head -c 500 "$TRASH/body"; echo
	# shellcheck disable=SC2086  # four words
	set -- $got
	case "|$want|" in
	*"|$1|"*) ;;
	*) echo "expected status $want, got $1"; return 1 ;;
	esac
	[ "$code" = - ] || [ "$code" = "$2" ] || {
		echo "expected OCI error code $code, got $2"; return 1; }
	# The server is still up and answering; nothing was written.
	[ "$3" = 200 ] || { echo "GET /v2/ afterwards: $3"; return 1; }
	[ "$4" = 0 ] || { echo "the storage tree changed:"; cat "$TRASH/body.diff"; return 1; }
	if [ "$check" != - ]; then
		eval "$check" || { echo "check failed: $check"; return 1; }
	fi
}

# no_parser_words: the error body of the last row does not show
# http-parser's own descriptions of what it refused (details are
# registryd's words, never the parser's internals).
no_parser_words() {
	! grep -Eqi 'callback failed|invalid character|invalid (URL|HTTP|constant|host|port|path|query|fragment)|LF character|content-length header|chunk size header|strict mode|internal state|unknown error' "$TRASH/body" || {
		echo "parser words in the body:"; cat "$TRASH/body"; echo; return 1; }
}

# ------------------------------------------------ the tests

test_expect_success CURL,PYTHON3 'setup: server, one image, manifests with missing references' '
	start_registryd &&
	random_file blob 3000 &&
	push_blob hostile/x blob &&
	DB=$(sha256_of blob) &&
	make_image hostile/m good img &&
	GOOD_MF=$TRASH/img/manifest.json &&
	random_file absent 100 &&
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":%s,\"layers\":[%s]}" \
	    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_CONFIG" img/config.json)" \
	    "$(json_descriptor "$MT_OCI_LAYER" absent)" >missing.json &&
	MISSING_MF=$TRASH/missing.json &&
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[%s,%s]}" \
	    "$MT_OCI_INDEX" "$(json_descriptor "$MT_OCI_MANIFEST" "$GOOD_MF")" \
	    "$(json_descriptor "$MT_OCI_MANIFEST" missing.json)" >index.json &&
	MISSING_IDX=$TRASH/index.json &&
	reg_curl GET /v2/hostile/m/manifests/good && expect_status 200 &&
	coproc RAW { exec python3 "$RAWREQ" "$PORT" --serve; } &&
	test_atexit "kill $RAW_PID"
'

while IFS=$'\t' read -r r_name r_req r_status r_code r_check; do
	case "$r_name" in '#'* | '') continue ;; esac
	test_expect_success CURL,PYTHON3,REGISTRYD "$r_name: $r_status ${r_code#-}" \
	    'run_row "$r_name" "$r_req" "$r_status" "$r_code" "$r_check"'
done <"$TABLE"

test_expect_success CURL 'afterwards: the good image and blob are intact' '
	reg_curl GET /v2/hostile/m/manifests/good &&
	expect_status 200 && expect_body_file img/manifest.json &&
	reg_curl GET "/v2/hostile/x/blobs/$DB" &&
	expect_status 200 && expect_body_file blob &&
	find "$ROOT" -path "*/blobs/*" -name data | while read -r f; do
		d=$(basename "$(dirname "$f")") &&
		test "$(sha256sum <"$f" | cut -d" " -f1)" = "$d" || {
			echo "blob $f does not hash to its name"; exit 1; }
	done
'

test_done
