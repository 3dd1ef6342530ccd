#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Garbage collection and disk usage on the filesystem driver: registryd
# garbage-collect (dry run, gc_grace, --delete-untagged, a second run
# finds nothing, fsck clean), registryd du, read-only mode, the server's
# online collection (SIGUSR1, gc_interval) and pushes running while it
# collects over and over: every acknowledged push stays pullable.
. "$(dirname "$0")/../lib/test-lib.sh"

# link_file REPO DIGEST: a layer link's file in the registry:2 layout.
link_file() {
	echo "$ROOT/docker/registry/v2/repositories/$1/_layers/sha256/${2#sha256:}/link"
}

# has_blob DIGEST: the store holds the blob's data (on disk or on S3).
has_blob() {
	local h=${1#sha256:}
	store_has "blobs/sha256/${h:0:2}/$h/data"
}

# has_link REPO DIGEST: the store holds the layer link.
has_link() {
	store_has "repositories/$1/_layers/sha256/${2#sha256:}/link"
}

# gc [ARGS...]: registryd garbage-collect on the test's tree, output in gc.out.
gc() {
	"$REGISTRYD" garbage-collect -c "$CONF" "$@" >"$TRASH/gc.out" 2>&1
	local rc=$?
	cat "$TRASH/gc.out"
	return $rc
}

# pullable NAME REF DIR: the manifest and every blob of make_image's DIR
# come back byte for byte.
pullable() {
	reg_curl GET "/v2/$1/manifests/$2" -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 && expect_body_file "$3/manifest.json" &&
	reg_curl GET "/v2/$1/blobs/$(sha256_of "$3/layer.bin")" &&
	expect_status 200 && expect_body_file "$3/layer.bin" &&
	reg_curl GET "/v2/$1/blobs/$(sha256_of "$3/config.json")" &&
	expect_status 200 && expect_body_file "$3/config.json"
}

# run_fsck: registryd fsck finds no problem (and says so).
run_fsck() {
	"$REGISTRYD" fsck -c "$CONF" >"$TRASH/fsck.out" 2>&1
	local rc=$?
	grep -v "^info: " "$TRASH/fsck.out" | tail -n 20
	[ "$rc" = 0 ] && grep -q " 0 problems" "$TRASH/fsck.out"
}

test_expect_success CURL,REGISTRYD 'setup: gc/a:v1 and v2, v2 deleted, an orphan in gc/b, v1 layer mounted into gc/b' '
	start_registryd &&
	make_image gc/a v1 "$TRASH/i1" && M1=$IMG_DIGEST &&
	make_image gc/a v2 "$TRASH/i2" && M2=$IMG_DIGEST &&
	L1=$(sha256_of "$TRASH/i1/layer.bin") && C1=$(sha256_of "$TRASH/i1/config.json") &&
	L2=$(sha256_of "$TRASH/i2/layer.bin") && C2=$(sha256_of "$TRASH/i2/config.json") &&
	reg_curl DELETE "/v2/gc/a/manifests/$M2" && expect_status 202 &&
	random_file orphan.bin 3000 && O=$(sha256_of orphan.bin) &&
	push_blob gc/b orphan.bin &&
	reg_curl POST "/v2/gc/b/blobs/uploads/?mount=$L1&from=gc/a" &&
	expect_status 201 &&
	has_blob "$M2" && has_blob "$L2"
'

test_expect_success CURL,REGISTRYD 'du: bytes per repository, shared blobs once in the total' '
	"$REGISTRYD" du -c "$CONF" >du.out &&
	cat du.out &&
	s() { size_of "$1"; } &&
	a=$(( $(s i1/layer.bin) + $(s i1/config.json) + $(s i1/manifest.json) + $(s i2/layer.bin) + $(s i2/config.json) )) &&
	b=$(( $(s orphan.bin) + $(s i1/layer.bin) )) &&
	grep -qx "$a	5	gc/a" du.out &&
	grep -qx "$b	2	gc/b" du.out &&
	grep -qx "$(( a + $(s orphan.bin) ))	6	(total)" du.out &&
	grep -qx "$(s i1/layer.bin)	1	(shared)" du.out &&
	grep -qx "$(s i2/manifest.json)	1	(unlinked)" du.out &&
	grep -qx "$(( a + $(s orphan.bin) + $(s i2/manifest.json) ))	7	(store)" du.out
'

test_expect_success CURL,REGISTRYD 'within gc_grace (default 1 h) nothing just pushed is removed' '
	gc &&
	grep -q "^garbage-collect: 7 blobs, 2 repositories, 1 manifests read; removed 0 manifests, 0 links, 0 blobs, 0 bytes; kept 4 recently used blobs" gc.out &&
	has_blob "$L2" && has_blob "$O"
'

test_expect_success CURL,REGISTRYD 'a dry run with gc_grace 0 lists what would go and removes nothing' '
	sleep 1.1 &&
	REGISTRY_STORAGE_GC_GRACE=0 gc --dry-run &&
	for d in "$M2" "$L2" "$C2" "$O"; do
		grep -q "^would remove blob $d " gc.out || return 1
	done &&
	grep -q "^would remove layer link gc/a@$L2$" gc.out &&
	grep -q "^would remove layer link gc/b@$O$" gc.out &&
	grep -q "would remove 0 manifests, 3 links, 4 blobs, $(( $(size_of i2/manifest.json) + $(size_of i2/layer.bin) + $(size_of i2/config.json) + 3000 )) bytes; kept 0" gc.out &&
	has_blob "$L2" && has_link gc/a "$L2"
'

test_expect_success CURL,REGISTRYD 'garbage-collect removes them, the links first; v1 is whole; fsck is clean' '
	REGISTRY_STORAGE_GC_GRACE=0 gc &&
	grep -q "removed 0 manifests, 3 links, 4 blobs" gc.out &&
	a=$(grep -n "^remove layer link gc/a@$L2$" gc.out | cut -d: -f1) &&
	b=$(grep -n "^remove blob $L2 " gc.out | cut -d: -f1) &&
	test "$a" -lt "$b" &&
	for d in "$M2" "$L2" "$C2" "$O"; do
		! has_blob "$d" || return 1
	done &&
	! has_link gc/a "$L2" &&
	pullable gc/a v1 "$TRASH/i1" &&
	reg_curl HEAD "/v2/gc/b/blobs/$L1" && expect_status 200 &&
	reg_curl HEAD "/v2/gc/a/blobs/$L2" && expect_status 404 &&
	run_fsck
'

test_expect_success CURL,REGISTRYD 'a second run finds nothing' '
	REGISTRY_STORAGE_GC_GRACE=0 gc &&
	grep -q "removed 0 manifests, 0 links, 0 blobs, 0 bytes; kept 0" gc.out
'

test_expect_success CURL,REGISTRYD '--delete-untagged removes a manifest no tag reaches, keeps the tagged one' '
	make_image gc/c v1 "$TRASH/i3" && M3=$IMG_DIGEST &&
	make_image gc/c v2 "$TRASH/i4" && M4=$IMG_DIGEST &&
	reg_curl DELETE /v2/gc/c/manifests/v2 && expect_status 202 &&
	sleep 1.1 &&
	REGISTRY_STORAGE_GC_GRACE=0 gc --dry-run &&
	grep -q "would remove 0 manifests, 0 links, 0 blobs" gc.out &&
	REGISTRY_STORAGE_GC_GRACE=0 gc -m --dry-run &&
	grep -q "^would remove manifest gc/c@$M4 (untagged)$" gc.out &&
	REGISTRY_STORAGE_GC_GRACE=0 gc --delete-untagged &&
	grep -q "removed 1 manifests, 2 links, 3 blobs" gc.out &&
	reg_curl GET "/v2/gc/c/manifests/$M4" -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 404 &&
	! has_blob "$M4" &&
	pullable gc/c v1 "$TRASH/i3" &&
	run_fsck
'

test_expect_success REGISTRYD 'usage: the flags are garbage-collect'"'"'s only' '
	test_expect_code 2 "$REGISTRYD" garbage-collect --bogus -c "$CONF" &&
	test_expect_code 2 "$REGISTRYD" du --dry-run -c "$CONF" &&
	test_expect_code 2 "$REGISTRYD" serve -m -c "$CONF"
'

# ---------------------------------------------------------------- read-only

test_expect_success CURL,REGISTRYD 'read-only (registry:2'"'"'s maintenance variable): writes get 405 UNSUPPORTED' '
	stop_registryd &&
	start_registryd REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED=true &&
	reg_curl POST /v2/gc/a/blobs/uploads/ && expect_status 405 &&
	expect_error_code UNSUPPORTED && expect_header Allow "" &&
	reg_curl POST "/v2/gc/a/blobs/uploads/?digest=$O" --data-binary @orphan.bin &&
	expect_status 405 && expect_error_code UNSUPPORTED &&
	reg_curl POST "/v2/gc/x/blobs/uploads/?mount=$L1&from=gc/a" &&
	expect_status 405 &&
	reg_curl PATCH /v2/gc/a/blobs/uploads/11111111-2222-3333-4444-555555555555 \
	    --data-binary x && expect_status 405 && expect_error_code UNSUPPORTED &&
	reg_curl PUT /v2/gc/a/blobs/uploads/11111111-2222-3333-4444-555555555555 &&
	expect_status 405 &&
	reg_curl PUT /v2/gc/a/manifests/v9 -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @i1/manifest.json &&
	expect_status 405 && expect_error_code UNSUPPORTED &&
	expect_header Allow "GET, HEAD" &&
	reg_curl DELETE /v2/gc/a/manifests/v1 && expect_status 405 &&
	expect_error_code UNSUPPORTED &&
	reg_curl DELETE "/v2/gc/a/manifests/not:a-digest" && expect_status 405 &&
	reg_curl DELETE "/v2/gc/a/blobs/$L1" && expect_status 405 &&
	expect_error_code UNSUPPORTED
'

test_expect_success CURL,REGISTRYD,FSROOT 'read-only: reads work and touch nothing' '
	before=$(stat -c %Y.%y "$(link_file gc/a "$L1")") &&
	sleep 1.1 &&
	pullable gc/a v1 "$TRASH/i1" &&
	reg_curl HEAD "/v2/gc/a/blobs/$L1" && expect_status 200 &&
	reg_curl GET /v2/_catalog && expect_status 200 &&
	jq_body ".repositories == [\"gc/a\", \"gc/c\"]" &&
	reg_curl GET /v2/gc/a/tags/list && expect_status 200 &&
	test "$(stat -c %Y.%y "$(link_file gc/a "$L1")")" = "$before" &&
	reg_curl HEAD /v2/gc/a/manifests/v1 && expect_status 200 &&
	m=$(header Docker-Content-Digest) &&
	rm -rf "$ROOT/docker/registry/v2/repositories/gc/a/_registryd" &&
	reg_curl GET "/v2/gc/a/referrers/$m" && expect_status 200 &&
	test ! -e "$ROOT/docker/registry/v2/repositories/gc/a/_registryd"
'

test_expect_success CURL,REGISTRYD 'read-only: SIGUSR1 collects nothing; [storage] read_only = true does the same' '
	kill -USR1 "$REG_PID" &&
	wait_for grep -q "SIGUSR1: read-only: no garbage collection" registryd.log &&
	stop_registryd &&
	cp "$CONF" conf.rw &&
	printf "[storage]\nread_only = true\n" >>"$CONF" &&
	start_registryd &&
	reg_curl POST /v2/gc/a/blobs/uploads/ && expect_status 405 &&
	pullable gc/a v1 "$TRASH/i1" &&
	stop_registryd &&
	mv conf.rw "$CONF"
'

# ------------------------------------------------------- online collection

test_expect_success CURL,REGISTRYD 'SIGUSR1: the server collects; gc_grace keeps what was just used' '
	start_registryd REGISTRY_STORAGE_GC_GRACE=0 &&
	make_image gc/on v1 "$TRASH/i5" &&
	make_image gc/on v2 "$TRASH/i6" && M6=$IMG_DIGEST &&
	reg_curl DELETE "/v2/gc/on/manifests/$M6" && expect_status 202 &&
	sleep 1.1 &&
	L6=$(sha256_of i6/layer.bin) &&
	kill -USR1 "$REG_PID" &&
	WAIT_SECONDS=20 wait_for grep -q "garbage collection (SIGUSR1) done" registryd.log &&
	grep "garbage collection (SIGUSR1) done" registryd.log &&
	grep -q "garbage collection: remove blob $L6 " registryd.log &&
	! has_blob "$L6" && ! has_blob "$M6" &&
	pullable gc/on v1 "$TRASH/i5" &&
	pullable gc/a v1 "$TRASH/i1"
'

test_expect_success CURL,REGISTRYD 'gc_interval: the server collects on its own' '
	stop_registryd &&
	start_registryd REGISTRY_STORAGE_GC_GRACE=0 REGISTRY_STORAGE_GC_INTERVAL=1 &&
	make_image gc/on v3 "$TRASH/i7" && M7=$IMG_DIGEST &&
	reg_curl DELETE "/v2/gc/on/manifests/$M7" && expect_status 202 &&
	WAIT_SECONDS=20 wait_for eval "! has_blob $(sha256_of i7/layer.bin)" &&
	grep -q "garbage collection (gc_interval) done" registryd.log &&
	pullable gc/on v1 "$TRASH/i5" &&
	run_fsck
'

test_expect_success CURL,REGISTRYD 'with the default gc_grace the server keeps blobs pushed in the last hour' '
	stop_registryd &&
	start_registryd &&
	make_image gc/on v4 "$TRASH/i8" && M8=$IMG_DIGEST &&
	reg_curl DELETE "/v2/gc/on/manifests/$M8" && expect_status 202 &&
	kill -USR1 "$REG_PID" &&
	WAIT_SECONDS=20 wait_for grep -q "kept 3 recently used blobs" registryd.log &&
	has_blob "$(sha256_of i8/layer.bin)"
'

# A HEAD marks the layer used (two utimensat: its link and its data), but
# not while both marks are younger than half a second
# (STORE_TOUCH_FRESH_MS, store.h): a layer HEADed by every client would
# cost two inode updates a request (bench row 5b). Filesystem only;
# skipped where ptrace is not allowed.
test_expect_success CURL,PYTHON3,REGISTRYD,FSROOT 'a HEAD touches the marks of a layer only once they are half a second old' '
	if ! strace -qq -o /dev/null true 2>/dev/null; then
		say "# no strace here"
		return 0
	fi
	random_file head.bin 2000 && H=$(sha256_of head.bin) &&
	push_blob gc/head head.bin &&
	h=${H#sha256:} &&
	touch -h -d "1 hour ago" "$(link_file gc/head "$H")" \
	    "$ROOT/docker/registry/v2/blobs/sha256/${h:0:2}/$h/data" || return 1
	strace -f -qq -e trace=utimensat -o touch.trace -p "$REG_PID" 2>/dev/null &
	st=$! &&
	sleep 0.5 &&
	python3 - "$PORT" "/v2/gc/head/blobs/$H" <<-EOF &&
	import http.client, sys, time
	c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
	def head():
	    c.request("HEAD", sys.argv[2])
	    r = c.getresponse(); r.read()
	    assert r.status == 200, r.status
	head()  # marks an hour old: both touched
	for _ in range(50):
	    head()  # fresh: left alone
	time.sleep(0.8)
	head()  # older than half a second: touched again
	EOF
	sleep 0.3 &&
	kill -INT $st && wait $st;
	cat touch.trace &&
	n=$(grep -c "utimensat(.*$h" touch.trace) &&
	say "# $n utimensat for 52 HEADs" &&
	test "$n" = 4
'

# A layer found present by a HEAD (or mounted), and named by a manifest
# up to 1.5 s later, while collections run back to back with no grace:
# every push the server acknowledged must be pullable afterwards.
test_expect_success CURL,PYTHON3,REGISTRYD 'pushes while the server collects over and over: every acknowledged push is pullable' '
	stop_registryd &&
	start_registryd REGISTRY_STORAGE_GC_GRACE=0 || return 1
	# The lines of this server only: on a slow store a collection of
	# the previous server may have been cut short by its stop.
	from=$(($(wc -l <registryd.log) + 1)) || return 1
	( while kill -USR1 "$REG_PID" 2>/dev/null; do sleep 0.2; done ) &
	SIGPID=$! &&
	test_atexit "kill $SIGPID" &&
	python3 "$TEST_DIRECTORY/integ/lib-py/gcpush.py" "$PORT" "${GC_PUSH_SECONDS:-20}" 3 push.json;
	rc=$?; kill "$SIGPID"; wait "$SIGPID" 2>/dev/null;
	cat push.json &&
	test "$rc" = 0 &&
	# A push over S3 is a score of requests: fewer under load.
	acked=20 && { [ "${TEST_STORE:-}" != s3 ] || acked=10; } &&
	jq -e --argjson n "$acked" ".unpullable == [] and .acked > \$n and .counts.reuse > 5 and .counts.delete > 5" push.json &&
	tail -n "+$from" registryd.log >this.log &&
	runs=$(grep -c "garbage collection (SIGUSR1) done" this.log) &&
	removed=$(grep "garbage collection (SIGUSR1) done" this.log |
	    sed -n "s/.*links, \([0-9]*\) blobs,.*/\1/p" | awk "{ s += \$1 } END { print s }") &&
	echo "$runs collections removed $removed blobs; $(jq .counts.refused push.json) pushes refused and retried" &&
	# A collection over S3 lists and reads over the network: fewer runs.
	min=10 && { [ "${TEST_STORE:-}" != s3 ] || min=3; } &&
	test "$runs" -ge "$min" && test "$removed" -gt 0 &&
	! grep -q "garbage collection.*stopped" this.log &&
	stop_registryd &&
	run_fsck
'

test_done
