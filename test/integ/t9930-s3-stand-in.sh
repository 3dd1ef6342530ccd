#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# The s3 driver against the stand-in S3 (test/s3/fake-s3.py, keeping
# objects; no Ceph), for what an operator must be told (reviews rev3,
# fixs3): gc_grace under a minute on s3 is warned about at start, at
# every collection SIGUSR1 or registryd garbage-collect starts, and at
# the first timed one (R3-1, L4); a blob count that fails (credentials
# that cannot list blobs/) says so in the web interface's status and in
# /metrics instead of "not counted yet" (R3-8, L7); the test-only knobs
# are logged when set (stop 18); doomed marks are aged by the listing's
# Date when it is the store's clock, and never expire early otherwise
# (L1, L2); and the build refuses a doomed-mark TTL shorter than the
# requests it must outlive, or no deadline (R3-4, L3).
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

test_expect_success PYTHON3,CURL,REGISTRYD 'setup: registryd on the stand-in S3, gc_grace 0, no gc_interval: it warns at start, SIGUSR1 can collect (fixs3 L4)' '
	start_s3 &&
	start_registryd "${S3ENV[@]}" REGISTRY_STORAGE_GC_GRACE=0 \
	    REGISTRY_STORAGE_CATALOG_REFRESH=1 &&
	test "$(gc_warnings "$TRASH/registryd.log")" = 1
'

test_expect_success PYTHON3,CURL,REGISTRYD 'every collection started by SIGUSR1 warns that gc_grace 0 is safe with one instance only (R3-1)' '
	kill -USR1 "$REG_PID" &&
	wait_for gc_runs 1 &&
	test "$(gc_warnings "$TRASH/registryd.log")" = 2 &&
	kill -USR1 "$REG_PID" &&
	wait_for gc_runs 2 &&
	test "$(gc_warnings "$TRASH/registryd.log")" = 3
'

test_expect_success PYTHON3,CURL,REGISTRYD 'registryd garbage-collect on s3 with gc_grace 0 warns too, not with --dry-run (it removes nothing); with 60 s, or on a filesystem, it does not (R3-1, fixs3 L4)' '
	env "${S3ENV[@]}" REGISTRY_STORAGE_GC_GRACE=0 \
	    "$REGISTRYD" garbage-collect -c "$CONF" >gc.out 2>&1 &&
	test "$(gc_warnings gc.out)" = 1 &&
	env "${S3ENV[@]}" REGISTRY_STORAGE_GC_GRACE=0 \
	    "$REGISTRYD" garbage-collect --dry-run -c "$CONF" >gcdry.out 2>&1 &&
	! grep -q "gc_grace" gcdry.out &&
	env "${S3ENV[@]}" REGISTRY_STORAGE_GC_GRACE=60 \
	    "$REGISTRYD" garbage-collect -c "$CONF" >gc60.out 2>&1 &&
	! grep -q "gc_grace" gc60.out &&
	mkdir -p "$ROOT/docker/registry/v2/blobs" \
	    "$ROOT/docker/registry/v2/repositories" &&
	REGISTRY_STORAGE_GC_GRACE=0 \
	    "$REGISTRYD" garbage-collect -c "$CONF" >gcfs.out 2>&1 &&
	! grep -q "gc_grace" gcfs.out
'

# timed_runs N: at least N collections started by gc_interval finished.
timed_runs() {
	test "$(grep -c "garbage collection (gc_interval) done" \
	    "$TRASH/registryd.log")" -ge "$1"
}

test_expect_success PYTHON3,CURL,REGISTRYD 'gc_interval 1 s with gc_grace 0: a warning at start and at the first timed collection, not at each; again after SIGHUP (fixs3 L4)' '
	stop_registryd &&
	w=$(gc_warnings "$TRASH/registryd.log") &&
	start_registryd "${S3ENV[@]}" REGISTRY_STORAGE_GC_GRACE=0 \
	    REGISTRY_STORAGE_GC_INTERVAL=1 &&
	WAIT_SECONDS=30 wait_for timed_runs 3 &&
	test "$(gc_warnings "$TRASH/registryd.log")" = $((w + 2)) &&
	kill -HUP "$REG_PID" &&
	wait_for grep -q "SIGHUP: reloading" "$TRASH/registryd.log" &&
	n=$(grep -c "garbage collection (gc_interval) done" "$TRASH/registryd.log") &&
	WAIT_SECONDS=30 wait_for timed_runs $((n + 3)) &&
	test "$(gc_warnings "$TRASH/registryd.log")" = $((w + 3))
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
	! grep -q "^registryd_storage_blobs " "$TRASH/body" &&
	grep -q "^# TYPE registryd_storage_scan_failures_total counter$" "$TRASH/body" &&
	FAILS=$(awk "\$1 == \"registryd_storage_scan_failures_total\" { print \$2 }" \
	    "$TRASH/body") &&
	test -n "$FAILS" && test "$FAILS" -ge 1
'

test_expect_success PYTHON3,CURL,REGISTRYD 'once blobs/ can be listed again, the count clears the failure' '
	: >"$TRASH/s3-rules" &&
	WAIT_SECONDS=15 wait_for eval "reg_curl GET /ui/api/status >/dev/null &&
	    jq -e \".counted != null\" \"\$TRASH/body\" >/dev/null" &&
	jq_body ".count_failed == null and .count_error == null and .blobs == 0" &&
	reg_curl GET /metrics &&
	grep -q "^registryd_storage_scan_failed_timestamp_seconds 0$" "$TRASH/body" &&
	fails=$(awk "\$1 == \"registryd_storage_scan_failures_total\" { print \$2 }" \
	    "$TRASH/body") &&
	test "$fails" -ge "$FAILS"
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

# doom_url HEX: the stand-in's URL of a doomed mark on blob HEX, left by
# another instance's collection (store.h, store_s3.c).
doom_url() {
	printf "http://127.0.0.1:%s/mem/docker/registry/v2/blobs/sha256/%s/%s/_registryd-doomed-0b7fcb4c-1111-4222-8333-444455556666\n" \
	    "$S3_PORT" "${1:0:2}" "$1"
}

# doom_setup: blobs DL and DC pushed to s3/doom, and the manifest
# naming them in dm.json; no rule.
doom_setup() {
	: >"$TRASH/s3-rules" &&
	echo "doomed layer $1" >dl && echo "{\"os\":\"linux\",\"n\":\"$1\"}" >dc &&
	push_blob s3/doom dl && push_blob s3/doom dc &&
	DL=$(sha256_of dl) && DC=$(sha256_of dc) &&
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":%s,\"layers\":[%s]}" \
	    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_CONFIG" dc)" \
	    "$(json_descriptor "$MT_OCI_LAYER" dl)" >dm.json
}

# doom_refused: the manifest PUT of dm.json is refused, its layer unknown.
doom_refused() {
	reg_curl PUT /v2/s3/doom/manifests/v1 \
	    -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @dm.json &&
	expect_status 400 && expect_error_code MANIFEST_BLOB_UNKNOWN
}

# The doomed marks are aged by the listing's Date, the store's clock when
# within 15 minutes of this host's (a request's signature), logged once
# when more than the TTL's 15 s margin off; further off, or none, by this
# host's clock, 15 minutes longer (fixs3 L1, L2).
test_expect_success PYTHON3,CURL,REGISTRYD 'a listing whose Date is 30 s ahead is the store clock: a fresh doomed mark counts, logged once (fixs3 L2)' '
	stop_registryd &&
	start_registryd "${S3ENV[@]}" &&
	doom_setup 30 &&
	curl -sf -X PUT --data-binary "" "$(doom_url "${DL#sha256:}")" &&
	echo "LIST _registryd-doomed- date 30" >"$TRASH/s3-rules" &&
	doom_refused && doom_refused &&
	test "$(grep -c "s3: the store.s Date is [23][0-9] s ahead of this host.s clock: doomed marks are aged by it" \
	    "$TRASH/registryd.log")" = 1 &&
	! grep -q "more than 900 s" "$TRASH/registryd.log" &&
	curl -sf -X DELETE "$(doom_url "${DL#sha256:}")" &&
	push_manifest s3/doom v1 dm.json "$MT_OCI_MANIFEST"
'

# A proxy in front of the store writing its own Date, 2 h ahead, and this
# host 200 s ahead of the store: the mark, just written, is 200 s old by
# this host's clock. Aged by this host's clock with the 120 s TTL, it had
# expired, and a push on this instance could name a layer about to go.
test_expect_success PYTHON3,CURL,REGISTRYD 'a Date 2 h off is not the store clock: a doomed mark 200 s old by the local clock still counts, logged once (fixs3 L1, L2)' '
	stop_registryd &&
	start_registryd "${S3ENV[@]}" &&
	doom_setup 2h &&
	printf "PUT _registryd-doomed-* age 200\nLIST _registryd-doomed- date 7200\n" \
	    >"$TRASH/s3-rules" &&
	curl -sf -X PUT --data-binary "" "$(doom_url "${DL#sha256:}")" &&
	doom_refused && doom_refused &&
	test "$(grep -c "s3: the store.s Date is 7[0-9]* s ahead of this host.s clock, more than 900 s .*: ignored, doomed marks are aged by this host.s clock and count for 1020 s instead of 120 s" \
	    "$TRASH/registryd.log")" = 1 &&
	curl -sf -X DELETE "$(doom_url "${DL#sha256:}")" &&
	push_manifest s3/doom v1 dm.json "$MT_OCI_MANIFEST"
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
