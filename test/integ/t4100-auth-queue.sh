#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# The password checks have a queue of their own (hardening item 5): with
# it full of slow bcrypt checks, one more login that needs a check gets
# 429 TOOMANYREQUESTS with Retry-After, while a client whose credentials
# are cached pushes without waiting for the queue. No wall-clock
# threshold: the push must be answered before the queued checks are, as
# the server log shows.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/tls-lib.sh"

PA='alice-Pw.1x'
PB='bob-Pw.2y'
HT="$TRASH/htpasswd"
SLOTS=4      # pending_max
FLOOD=8      # wrong-password logins started together
FLOOD_PIDS=()

stop_flood() {
	local p
	for p in "${FLOOD_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	FLOOD_PIDS=()
}
test_atexit stop_flood

# bob_checks_done: how many checks of bob's password have finished.
bob_checks_done() {
	grep -c "failed login for user 'bob'" "$TRASH/registryd.log" || :
}

# refused_at_least N: N of the flood's logins were answered 429.
refused_at_least() {
	test "$(cat "$TRASH"/flood.* 2>/dev/null | fold -w3 | grep -c 429)" -ge "$1"
}

test_expect_success REGISTRYD,CURL 'setup: alice (cost 4), bob (bcrypt cost 13: ~1 s a check), pending_max 4' '
	htpasswd_line alice "$PA" >"$HT" &&
	PASSWD_COST=13 htpasswd_line bob "$PB" >>"$HT" &&
	grep -q "^bob:\\\$2[aby]\\\$13\\\$" "$HT" &&
	REG_EXTRA=$(auth_section "$HT" "pending_max = $SLOTS" "fail_limit = 0") &&
	write_config &&
	"$REGISTRYD" check-config -c "$CONF" &&
	start_registryd
'

test_expect_success REGISTRYD,CURL 'alice logs in once: her credentials are cached' '
	as_user "alice:$PA" reg_curl GET /v2/ &&
	expect_status 200
'

test_expect_success REGISTRYD,CURL "$FLOOD wrong passwords for bob at once: $SLOTS are checked, the rest get 429 at once" '
	for ((i = 0; i < FLOOD; i++)); do
		curl -s -o /dev/null -m 120 -w "%{http_code}" \
		    -u "bob:wrong-$i" "$BASE/v2/" >"$TRASH/flood.$i" &
		FLOOD_PIDS+=($!)
	done &&
	# The refused ones answer without a check.
	wait_for refused_at_least $((FLOOD - SLOTS)) &&
	refused_at_least $((FLOOD - SLOTS)) &&
	! refused_at_least $((FLOOD - SLOTS + 1))
'

test_expect_success REGISTRYD,CURL 'with the queue full, one more login that needs a check gets 429, Retry-After, OCI body' '
	as_user "carol:anything" reg_curl GET /v2/ &&
	expect_status 429 &&
	expect_error_code TOOMANYREQUESTS &&
	expect_header_match Retry-After "^[1-9][0-9]*\$" &&
	grep -q "password checks in flight (pending_max)" "$TRASH/registryd.log"
'

test_expect_success REGISTRYD,CURL 'alice (cached) pushes 1 MiB meanwhile: 201 before the queued checks are done' '
	random_file blob1 1048576 &&
	as_user "alice:$PA" push_blob queue/test blob1 &&
	done_checks=$(bob_checks_done) &&
	echo "bob checks finished when the push got its 201: $done_checks of $SLOTS" &&
	test "$done_checks" -lt "$SLOTS" &&
	as_user "alice:$PA" reg_curl GET "/v2/queue/test/blobs/$(sha256_of blob1)" &&
	expect_status 200 &&
	expect_body_file blob1
'

test_expect_success REGISTRYD,CURL 'the checked logins get their 401, nothing else was refused' '
	for p in "${FLOOD_PIDS[@]}"; do
		wait "$p" || return 1
	done &&
	FLOOD_PIDS=() &&
	cat "$TRASH"/flood.* | fold -w3 | sort | uniq -c &&
	test "$(cat "$TRASH"/flood.* | fold -w3 | grep -c 401)" = "$SLOTS" &&
	test "$(bob_checks_done)" = "$SLOTS"
'

test_expect_success REGISTRYD,CURL 'the queue has room again: a login is checked' '
	as_user "bob:$PB" reg_curl GET /v2/ &&
	expect_status 200
'

test_expect_success REGISTRYD,CURL 'REGISTRY_AUTH_PENDINGMAX sets it too; 0 is refused' '
	REGISTRY_AUTH_PENDINGMAX=7 "$REGISTRYD" check-config -c "$CONF" &&
	! REGISTRY_AUTH_PENDINGMAX=0 "$REGISTRYD" check-config -c "$CONF"
'

test_done
