#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Soak: many concurrent clients push, pull and delete for SOAK_SECONDS
# (default 180); afterwards every completed push that was not deleted pulls
# byte-identical, RSS is flat and the descriptor count is back to its
# baseline. Not part of make test: run it with make soak. See README.md.
. "$(dirname "$0")/../lib/test-lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-180}
SOAK_WORKERS=${SOAK_WORKERS:-16}
SOAK_PY="$TEST_DIRECTORY/soak/soak.py"

test_expect_success PYTHON3,CURL 'setup: delete_enabled, info log' '
	REG_DELETE=true &&
	REG_LOG_LEVEL=info &&
	write_config &&
	start_registryd &&
	reg_curl GET /v2/ && expect_status 200
'

test_expect_success PYTHON3,REGISTRYD "$SOAK_WORKERS workers for $SOAK_SECONDS s" '
	timeout $((SOAK_SECONDS + 900)) python3 "$SOAK_PY" "$PORT" "$REG_PID" \
	    "$SOAK_SECONDS" "$SOAK_WORKERS" "$TRASH/soak.json"
	rc=$?
	# Kept beside the trash directory (ignored by git) after a success.
	cp "$TRASH/soak.json" "$TEST_DIRECTORY/trash.soak.json" 2>/dev/null
	cp "$TRASH/soak.json.samples" "$TEST_DIRECTORY/trash.soak.samples" 2>/dev/null
	cat "$TRASH/soak.json"
	test "$rc" = 0
'

# The figures, whatever the outcome.
if [ -s "$TRASH/soak.json" ]; then
	say "# $(jq -c '{completed_pushes, deleted, verified, verify_failures,
	    pulls: .stats.pull, errors: .stats.errors, MiB_up: (.stats.bytes_up / 1048576 | floor),
	    MiB_down: (.stats.bytes_down / 1048576 | floor)}' "$TRASH/soak.json")"
	say "# RSS KiB: $(jq -c .rss_kib "$TRASH/soak.json")"
	say "# descriptors: $(jq -c .fds "$TRASH/soak.json")"
fi

test_expect_success REGISTRYD 'no error lines in the server log; it stops cleanly' '
	echo "warn lines: $(grep -c " warn: " registryd.log)" &&
	grep " warn: " registryd.log | sort | uniq -c | sort -rn | head &&
	! grep -E " fatal: |AddressSanitizer|runtime error" registryd.log &&
	stop_registryd
'

test_done
