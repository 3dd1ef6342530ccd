#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# The s3 driver against the stand-in S3 (test/s3/fake-s3.py, keeping
# objects; no Ceph), for what an operator must be told (review rev3):
# every garbage collection on s3 with gc_grace under a minute warns,
# whether SIGUSR1 or registryd garbage-collect started it (R3-1); a blob
# count that fails (credentials that cannot list blobs/) says so in the
# web interface's status and in /metrics instead of "not counted yet"
# (R3-8); the test-only knobs are logged when set (stop 18); and the
# build refuses a doomed-mark TTL shorter than the requests it must
# outlive (R3-4).
. "$(dirname "$0")/../lib/test-lib.sh"

S3_PORT=$(free_port)
S3ENV=(REGISTRY_STORAGE=s3 REGISTRY_STORAGE_S3_REGION=us-east-1
    "REGISTRY_STORAGE_S3_REGIONENDPOINT=http://127.0.0.1:$S3_PORT"
    REGISTRY_STORAGE_S3_BUCKET=mem REGISTRY_STORAGE_S3_ACCESSKEY=ak
    REGISTRY_STORAGE_S3_SECRETKEY=sk REGISTRY_STORAGE_REDIRECT_DISABLE=true)
GC_WARN="gc_grace 0 s on a shared (s3) store is safe only while a single instance writes the bucket; .* set gc_grace to 60 s or more"

# start_s3: the stand-in, answering by the rules in $TRASH/s3-rules.
start_s3() {
	: >"$TRASH/s3-rules"
	python3 "$TEST_DIRECTORY/s3/fake-s3.py" "$S3_PORT" \
	    "$TRASH/s3-rules" mem 2>>"$TRASH/s3.log" </dev/null 3>&- &
	test_atexit "kill $! 2>/dev/null"
	wait_for curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/"
}

# gc_warnings FILE: the lines of FILE that warn about gc_grace.
gc_warnings() {
	grep -c "$GC_WARN" "$1"
}

# gc_runs N: N collections started by SIGUSR1 have finished.
gc_runs() {
	test "$(grep -c "garbage collection (SIGUSR1) done" \
	    "$TRASH/registryd.log")" = "$1"
}

test_expect_success PYTHON3,CURL,REGISTRYD 'setup: registryd on the stand-in S3, gc_grace 0, no gc_interval' '
	start_s3 &&
	start_registryd "${S3ENV[@]}" REGISTRY_STORAGE_GC_GRACE=0 \
	    REGISTRY_STORAGE_CATALOG_REFRESH=1 &&
	test "$(gc_warnings "$TRASH/registryd.log")" = 0
'

test_expect_success PYTHON3,CURL,REGISTRYD 'a collection started by SIGUSR1 warns that gc_grace 0 is safe with one instance only (R3-1)' '
	kill -USR1 "$REG_PID" &&
	wait_for gc_runs 1 &&
	test "$(gc_warnings "$TRASH/registryd.log")" = 1 &&
	kill -USR1 "$REG_PID" &&
	wait_for gc_runs 2 &&
	test "$(gc_warnings "$TRASH/registryd.log")" = 2
'

test_expect_success PYTHON3,CURL,REGISTRYD 'registryd garbage-collect on s3 with gc_grace 0 warns too; with 60 s, or on a filesystem, it does not (R3-1)' '
	env "${S3ENV[@]}" REGISTRY_STORAGE_GC_GRACE=0 \
	    "$REGISTRYD" garbage-collect --dry-run -c "$CONF" >gc.out 2>&1 &&
	test "$(gc_warnings gc.out)" = 1 &&
	env "${S3ENV[@]}" REGISTRY_STORAGE_GC_GRACE=60 \
	    "$REGISTRYD" garbage-collect --dry-run -c "$CONF" >gc60.out 2>&1 &&
	! grep -q "gc_grace" gc60.out &&
	mkdir -p "$ROOT/docker/registry/v2/blobs" \
	    "$ROOT/docker/registry/v2/repositories" &&
	REGISTRY_STORAGE_GC_GRACE=0 \
	    "$REGISTRYD" garbage-collect --dry-run -c "$CONF" >gcfs.out 2>&1 &&
	! grep -q "gc_grace" gcfs.out
'

# status_failed: the status says counting failed, with when and why.
status_failed() {
	reg_curl GET /ui/api/status >/dev/null &&
	jq -e ".count_failed != null" "$TRASH/body" >/dev/null
}

test_expect_success PYTHON3,CURL,REGISTRYD 'blobs/ that cannot be listed: the status says counting failed, not "not counted yet" (R3-8)' '
	stop_registryd &&
	printf "LIST blobs/* 403 AccessDenied\nLISTD blobs/* 403 AccessDenied\n" \
	    >"$TRASH/s3-rules" &&
	start_registryd "${S3ENV[@]}" REGISTRY_STORAGE_CATALOG_REFRESH=1 &&
	WAIT_SECONDS=15 wait_for status_failed &&
	jq_body ".blobs == null and .counted == null" &&
	jq_body ".count_failed | test(\"^[0-9-]+T[0-9:]+Z$\")" &&
	jq_body ".count_error | length > 0" &&
	grep -q "counting blobs failed: .*; the status and /metrics show no count" \
	    "$TRASH/registryd.log"
'

test_expect_success PYTHON3,CURL,REGISTRYD '... and /metrics has when it failed, and no blob count (R3-8)' '
	reg_curl GET /metrics && expect_status 200 &&
	failed=$(awk "\$1 == \"registryd_storage_scan_failed_timestamp_seconds\" { print \$2 }" \
	    "$TRASH/body") &&
	test -n "$failed" && test "${failed%%.*}" != 0 &&
	! grep -q "^registryd_storage_blobs " "$TRASH/body"
'

test_expect_success PYTHON3,CURL,REGISTRYD 'once blobs/ can be listed again, the count clears the failure' '
	: >"$TRASH/s3-rules" &&
	WAIT_SECONDS=15 wait_for eval "reg_curl GET /ui/api/status >/dev/null &&
	    jq -e \".counted != null\" \"\$TRASH/body\" >/dev/null" &&
	jq_body ".count_failed == null and .count_error == null and .blobs == 0" &&
	reg_curl GET /metrics &&
	grep -q "^registryd_storage_scan_failed_timestamp_seconds 0$" "$TRASH/body"
'

test_expect_success PYTHON3,CURL,REGISTRYD 'the test-only knobs are logged at warn when set, also when ignored (stop 18)' '
	stop_registryd &&
	start_registryd "${S3ENV[@]}" REGISTRYD_TEST_S3_TIMEOUT_MS=5 \
	    REGISTRYD_TEST_S3_MPU_AGE=1h &&
	grep -q "warn: s3: REGISTRYD_TEST_S3_TIMEOUT_MS (for tests only) is not 100..30000: ignored" \
	    "$TRASH/registryd.log" &&
	grep -q "warn: s3: REGISTRYD_TEST_S3_MPU_AGE (for tests only) is not 0..86400 seconds: ignored" \
	    "$TRASH/registryd.log" &&
	stop_registryd &&
	start_registryd "${S3ENV[@]}" REGISTRYD_TEST_S3_TIMEOUT_MS=2000 \
	    REGISTRYD_TEST_S3_MPU_AGE=60 &&
	grep -q "warn: s3: REGISTRYD_TEST_S3_TIMEOUT_MS=2000 (for tests only)" \
	    "$TRASH/registryd.log" &&
	grep -q "warn: s3: REGISTRYD_TEST_S3_MPU_AGE=60 (for tests only)" \
	    "$TRASH/registryd.log"
'

# The TTL of a doomed mark must outlive the doom PUT, the hold and the
# data HEAD and DELETE (store_s3.c): a build whose S3 deadline makes
# that false stops with the assertion's message, and so does one whose
# deadline is 0 or less (no deadline at all). -DSTORE_S3_DEADLINE_MS
# exists only for this test. $CC may be two words: left unquoted.
# cc_s3 [FLAG...]: compile store_s3.c for its syntax only.
cc_s3() {
	$CC -std=c11 -D_GNU_SOURCE -I"$TEST_DIRECTORY/../include" $INC "$@" \
	    -fsyntax-only "$TEST_DIRECTORY/../src/store_s3.c"
}

test_expect_success CC 'the build refuses a request deadline the doomed-mark TTL does not outlive, or none (R3-4, fixs3 L3)' '
	CC=${CC:-cc} &&
	INC=$(pkg-config --cflags libevent openssl 2>/dev/null || :) &&
	cc_s3 &&
	! cc_s3 -DSTORE_S3_DEADLINE_MS=20000 >cc.out 2>&1 &&
	grep -q "STORE_DOOM_TTL must exceed" cc.out &&
	! cc_s3 -DSTORE_S3_DEADLINE_MS=0 >cc0.out 2>&1 &&
	grep -q "STORE_S3_DEADLINE_MS must be positive" cc0.out &&
	! cc_s3 -DSTORE_S3_DEADLINE_MS=-1 >ccm.out 2>&1 &&
	grep -q "STORE_S3_DEADLINE_MS must be positive" ccm.out
'

test_done
