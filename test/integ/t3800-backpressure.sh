#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Backpressure and body timeouts: a client that stops reading a 1 GiB
# download does not grow the server's memory; a slow but steady upload is
# not cut by body_timeout, one that stops sending is.
. "$(dirname "$0")/../lib/test-lib.sh"

BP="$TEST_DIRECTORY/integ/lib-py/backpressure.py"
BIG_MIB=${BIG_MIB:-1024}
BODY_TIMEOUT=2

test_expect_success PYTHON3,CURL 'setup: body_timeout=2' '
	REG_LOG_LEVEL=info &&
	REG_HTTP_EXTRA="body_timeout = $BODY_TIMEOUT
header_timeout = 5" &&
	write_config &&
	start_registryd
'

test_expect_success CURL "push a $BIG_MIB MiB blob with a chunked PATCH from a pipe" '
	if [ "$BIG_MIB" = 1024 ]; then
		# sha256 of 1 GiB of zeros (saves hashing it here).
		BIG=sha256:49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14
	else
		BIG=sha256:$(head -c $((BIG_MIB << 20)) /dev/zero | sha256sum | cut -d" " -f1)
	fi &&
	upload_start bp/big &&
	head -c $((BIG_MIB << 20)) /dev/zero |
	    CURL_TIMEOUT=120 reg_curl PATCH "$UPLOAD" -T - \
	    -H "Content-Type: application/octet-stream" &&
	expect_status 202 &&
	expect_header Range "0-$(((BIG_MIB << 20) - 1))" &&
	reg_curl PUT "$(with_query "$(url "$(header Location)")" "digest=$BIG")" &&
	expect_status 201 &&
	reg_curl HEAD "/v2/bp/big/blobs/$BIG" &&
	expect_status 200 &&
	expect_header Content-Length $((BIG_MIB << 20))
'

test_expect_success PYTHON3,REGISTRYD,NOT_ASAN 'a client that stops reading the download: server RSS grows < 16 MiB' '
	python3 "$BP" stall "$PORT" "/v2/bp/big/blobs/$BIG" "$REG_PID" 5 4 >stall.json &&
	cat stall.json &&
	jq -e ".status == \"200\" and .side_ok and .zeros and .read >= 4194304" stall.json &&
	jq -e "(.rss_max_kib - .rss_before_kib) < 16384" stall.json
'

test_expect_success CURL,REGISTRYD 'afterwards the whole blob downloads; the server still serves' '
	n=$(curl -sS -m 120 -o /dev/null -w "%{size_download}" "$BASE/v2/bp/big/blobs/$BIG") &&
	test "$n" = $((BIG_MIB << 20)) &&
	reg_curl GET /v2/ && expect_status 200
'

test_expect_success PYTHON3,REGISTRYD "a slow but steady upload (64 KiB/s for 5 s) is not cut by body_timeout=$BODY_TIMEOUT" '
	upload_start bp/slow &&
	python3 "$BP" slow-body "$PORT" "${UPLOAD#"$BASE"}" 5 1 >resp &&
	cat resp &&
	test "$(status_lines resp | head -n 1)" = 202 &&
	tr -d "\r" <resp | grep -qi "^range: 0-327679$"
'

test_expect_success PYTHON3,REGISTRYD "an upload that stops sending is closed after body_timeout=$BODY_TIMEOUT" '
	upload_start bp/stop &&
	python3 "$BP" stop-body "$PORT" "${UPLOAD#"$BASE"}" 15 >stop.json &&
	cat stop.json &&
	jq -e ".closed_after != null" stop.json &&
	jq -e --argjson lo $((BODY_TIMEOUT - 1)) --argjson hi $((BODY_TIMEOUT + 3)) \
	    ".closed_after >= \$lo and .closed_after <= \$hi" stop.json &&
	reg_curl GET /v2/ && expect_status 200
'

test_done
