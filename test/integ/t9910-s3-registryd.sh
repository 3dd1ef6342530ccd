#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# registryd on S3 (the s3 storage driver) against a real Ceph RADOS
# Gateway: blobs, chunked uploads assembled from parts, manifests, tags,
# the catalog and referrers over HTTP; skopeo push and pull; an upload
# continued on a second instance sharing the bucket; the store stopped
# mid-upload (503 with the OCI body, nothing half-written, the next push
# works once it is back); registry:2's own s3 driver and registryd
# serving each other's pushes from one bucket.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/s3-lib.sh"

S3_ROOT=/t9910
SECRET=t9910-shared-secret
CHUNK=5242880
PORT2=$(free_port)
[ "$PORT2" != "$PORT" ] || PORT2=$(free_port)
REF_PORT=$(free_port)
PID2=
REF_PID=
# Every server this script starts dies with it, even when it is killed by
# SIGKILL and no trap runs (s3-lib.sh sets TEST_PDEATHSIG; see
# ceph_daemon). setpriv execs, so $! stays the server's PID. None is
# started from a subshell, which would kill it at once.
KEEP=(${TEST_PDEATHSIG:+setpriv --pdeathsig KILL})

# The s3 driver's settings, as registry:2 names them in the environment.
s3_env() {
	S3ENV=(REGISTRY_STORAGE=s3
	    "REGISTRY_STORAGE_S3_REGION=$S3_REGION"
	    "REGISTRY_STORAGE_S3_REGIONENDPOINT=$S3_ENDPOINT"
	    "REGISTRY_STORAGE_S3_BUCKET=$S3_BUCKET"
	    "REGISTRY_STORAGE_S3_ACCESSKEY=$S3_ACCESS_KEY"
	    "REGISTRY_STORAGE_S3_SECRETKEYFILE=$TRASH/s3-secret"
	    "REGISTRY_STORAGE_S3_ROOTDIRECTORY=$S3_ROOT"
	    "REGISTRY_STORAGE_S3_CHUNKSIZE=$CHUNK"
	    "REGISTRY_HTTP_SECRET=$SECRET")
	# The first instance serves blobs itself; the second redirects.
	S3ENV1=("${S3ENV[@]}" REGISTRY_STORAGE_REDIRECT_DISABLE=true)
}

# key REST: the object key of REST under the registry's root.
key() {
	printf '%s/docker/registry/v2/%s\n' "${S3_ROOT#/}" "$1"
}

# s3_has REST: the object exists in the bucket.
s3_has() {
	s3c ls "s3://$S3_BUCKET/$(key "$1")" | grep -q "$(key "$1")\$"
}

# s3_none PREFIX: no object under PREFIX.
s3_none() {
	[ -z "$(s3c ls -r "s3://$S3_BUCKET/$(key "$1")")" ]
}

# catalog_is JSON: /v2/_catalog lists these repositories (the index is
# refreshed in the background).
catalog_is() {
	reg_curl GET /v2/_catalog >/dev/null &&
	jq -e --argjson want "$1" '.repositories == $want' "$TRASH/body"
}

# start_second: a second registryd on the same bucket and secret.
start_second() {
	local i
	"${KEEP[@]}" env "${S3ENV[@]}" "REGISTRY_HTTP_ADDR=127.0.0.1:$PORT2" \
	    "$REGISTRYD" serve -c "$CONF" \
	    >>"$TRASH/registryd2.log" 2>&1 </dev/null 3>&- &
	PID2=$!
	test_atexit "kill $PID2 2>/dev/null"
	for ((i = 0; i < 100; i++)); do
		registryd_is_up "http://127.0.0.1:$PORT2" && return 0
		sleep 0.1
	done
	return 1
}

# start_reference: registry:2 (docker-registry) with its s3 driver on
# the same bucket and root; without AWS_CA_BUNDLE, on which Go's AWS
# SDK panics with a plain-HTTP endpoint.
start_reference() {
	local i
	cat >"$TRASH/reference.yml" <<-EOF
	version: 0.1
	log:
	  level: info
	storage:
	  s3:
	    accesskey: $S3_ACCESS_KEY
	    secretkey: $S3_SECRET_KEY
	    region: $S3_REGION
	    regionendpoint: $S3_ENDPOINT
	    forcepathstyle: true
	    secure: false
	    bucket: $S3_BUCKET
	    rootdirectory: $S3_ROOT
	  redirect:
	    disable: true
	  delete:
	    enabled: true
	http:
	  addr: 127.0.0.1:$REF_PORT
	  secret: $SECRET
	EOF
	"${KEEP[@]}" env -u AWS_CA_BUNDLE docker-registry serve "$TRASH/reference.yml" \
	    >>"$TRASH/reference.log" 2>&1 </dev/null 3>&- &
	REF_PID=$!
	test_atexit "kill $REF_PID 2>/dev/null"
	for ((i = 0; i < 300; i++)); do
		registryd_is_up "http://127.0.0.1:$REF_PORT" && return 0
		sleep 0.1
	done
	tail -n 20 "$TRASH/reference.log"
	return 1
}

# start_fake: registryd serving blobs itself from the stand-in S3
# (test/s3/fake-s3.py, no Ceph) on FAKE_PORT, answering by the rules in
# $TRASH/fake-rules; FBASE is its URL. For failures RGW will not produce
# on demand.
FAKE_PORT=$(free_port)
FAKE_REG_PORT=$(free_port)
FBASE=http://127.0.0.1:$FAKE_REG_PORT
FBLOB=/v2/fake/blobs/sha256:$(printf "a%.0s" $(seq 64))
start_fake() {
	local i
	: >"$TRASH/fake-rules"
	[ -e "$CONF" ] || write_config || return 1
	"${KEEP[@]}" python3 "$TEST_DIRECTORY/s3/fake-s3.py" "$FAKE_PORT" \
	    "$TRASH/fake-rules" 2>>"$TRASH/fake.log" </dev/null 3>&- &
	test_atexit "kill $! 2>/dev/null"
	wait_for curl -s -o /dev/null "http://127.0.0.1:$FAKE_PORT/" ||
	    return 1
	# Alone after the &, so that $! is registryd itself, not a
	# subshell running a list.
	"${KEEP[@]}" env REGISTRY_STORAGE=s3 REGISTRY_STORAGE_S3_REGION=us-east-1 \
	    "REGISTRY_STORAGE_S3_REGIONENDPOINT=http://127.0.0.1:$FAKE_PORT" \
	    REGISTRY_STORAGE_S3_BUCKET=fake REGISTRY_STORAGE_S3_ACCESSKEY=ak \
	    REGISTRY_STORAGE_S3_SECRETKEY=sk \
	    REGISTRY_STORAGE_REDIRECT_DISABLE=true \
	    "REGISTRY_HTTP_ADDR=127.0.0.1:$FAKE_REG_PORT" \
	    "$REGISTRYD" serve -c "$CONF" \
	    >>"$TRASH/registryd-fake.log" 2>&1 </dev/null 3>&- &
	FAKE_REG_PID=$!
	test_atexit "kill $! 2>/dev/null"
	for ((i = 0; i < 100; i++)); do
		registryd_is_up "$FBASE" && return 0
		sleep 0.1
	done
	return 1
}

# fake_get: GET the blob from the fake-backed registryd, at most 20 s;
# prints curl's exit status and the HTTP status.
fake_get() {
	curl -sS -m 20 -o "$TRASH/fbody" -w "%{http_code}\n" "$FBASE$FBLOB" \
	    >"$TRASH/fcode" 2>"$TRASH/ferr"
	echo "$? $(cat "$TRASH/fcode")"
}

# start_mem [VAR=VALUE...]: registryd on a stand-in S3 that keeps what
# it is sent (fake-s3.py mem) on MEM_PORT, answering by the rules in
# $TRASH/mem-rules, with 5 MiB parts and, for the timeout tests, the S3
# client's timeout at 2 s instead of 30 (REGISTRYD_TEST_S3_TIMEOUT_MS, a
# knob for tests only); MBASE is its URL. Called again, it restarts
# registryd on the same store with the settings given.
MEM_PORT=$(free_port)
MEM_REG_PORT=$(free_port)
MBASE=http://127.0.0.1:$MEM_REG_PORT
MEM_PID=
MREG_PID=
start_mem() {
	local i
	[ -e "$CONF" ] || write_config || return 1
	if [ -z "$MEM_PID" ]; then
		: >"$TRASH/mem-rules"
		"${KEEP[@]}" python3 "$TEST_DIRECTORY/s3/fake-s3.py" "$MEM_PORT" \
		    "$TRASH/mem-rules" mem 2>>"$TRASH/mem.log" </dev/null 3>&- &
		MEM_PID=$!
		test_atexit "kill $MEM_PID 2>/dev/null"
		wait_for curl -s -o /dev/null "http://127.0.0.1:$MEM_PORT/" ||
		    return 1
	fi
	if [ -n "$MREG_PID" ]; then
		kill "$MREG_PID" && wait "$MREG_PID" 2>/dev/null
	fi
	"${KEEP[@]}" env REGISTRY_STORAGE=s3 \
	    REGISTRY_STORAGE_S3_REGION=us-east-1 \
	    "REGISTRY_STORAGE_S3_REGIONENDPOINT=http://127.0.0.1:$MEM_PORT" \
	    REGISTRY_STORAGE_S3_BUCKET=mem REGISTRY_STORAGE_S3_ACCESSKEY=ak \
	    REGISTRY_STORAGE_S3_SECRETKEY=sk \
	    "REGISTRY_STORAGE_S3_CHUNKSIZE=$CHUNK" \
	    REGISTRY_STORAGE_REDIRECT_DISABLE=true \
	    REGISTRYD_TEST_S3_TIMEOUT_MS=2000 \
	    "REGISTRY_HTTP_ADDR=127.0.0.1:$MEM_REG_PORT" "$@" \
	    "$REGISTRYD" serve -c "$CONF" \
	    >>"$TRASH/registryd-mem.log" 2>&1 </dev/null 3>&- &
	MREG_PID=$!
	test_atexit "kill $MREG_PID 2>/dev/null"
	for ((i = 0; i < 100; i++)); do
		registryd_is_up "$MBASE" && return 0
		sleep 0.1
	done
	return 1
}

# mem_lists PREFIX: how many listings of PREFIX (the part of the key
# after the root) the stand-in has seen; "-d" first: with a delimiter.
mem_lists() {
	local d=
	[ "$1" = -d ] && d='delimiter=%2F&' && shift
	grep -c "^fake: GET /mem?${d}list-type=2&prefix=docker%2Fregistry%2Fv2%2F$(printf %s "$1" | sed "s|/|%2F|g")\$" \
	    "$TRASH/mem.log"
}

# mem_lists_over N [-d] PREFIX: more than N such listings so far.
mem_lists_over() {
	local n=$1
	shift
	test "$(mem_lists "$@")" -gt "$n"
}

test_expect_success CEPH,CURL 'setup: a Ceph cluster, registryd on its bucket' '
	s3_start &&
	printf "%s\n" "$S3_SECRET_KEY" >"$TRASH/s3-secret" &&
	s3_env &&
	start_registryd "${S3ENV1[@]}" &&
	grep -q "serving s3 $S3_BUCKET$S3_ROOT" "$TRASH/registryd.log" &&
	! grep -q -- "$S3_SECRET_KEY" "$TRASH/registryd.log"
'

test_expect_success CEPH,CURL '/v2/ answers; the catalog of an empty bucket is empty' '
	reg_curl GET /v2/ && expect_status 200 &&
	reg_curl GET /v2/_catalog && expect_status 200 &&
	jq_body ".repositories == []"
'

test_expect_success CEPH,CURL 'a monolithic blob upload lands at the registry:2 key' '
	random_file "$TRASH/small" 1000 &&
	D=$(sha256_of "$TRASH/small") && H=${D#sha256:} &&
	push_blob s3/one "$TRASH/small" &&
	s3_has "blobs/sha256/${H:0:2}/$H/data" &&
	s3_has "repositories/s3/one/_layers/sha256/$H/link" &&
	s3c get "s3://$S3_BUCKET/$(key "repositories/s3/one/_layers/sha256/$H/link")" "$TRASH/link" &&
	[ "$(cat "$TRASH/link")" = "$D" ]
'

test_expect_success CEPH,CURL 'blob HEAD, GET and a range GET' '
	reg_curl HEAD "/v2/s3/one/blobs/$D" && expect_status 200 &&
	expect_header Content-Length 1000 &&
	reg_curl GET "/v2/s3/one/blobs/$D" && expect_status 200 &&
	expect_body_file "$TRASH/small" &&
	reg_curl GET "/v2/s3/one/blobs/$D" -H "Range: bytes=10-19" &&
	expect_status 206 &&
	dd if="$TRASH/small" bs=1 skip=10 count=10 2>/dev/null >"$TRASH/part" &&
	expect_body_file "$TRASH/part" &&
	reg_curl GET "/v2/s3/other/blobs/$D" && expect_status 404 &&
	expect_error_code BLOB_UNKNOWN
'

test_expect_success CEPH,CURL 'a chunked upload of several parts is assembled whole' '
	random_file "$TRASH/big" 13000000 &&
	BIG=$(sha256_of "$TRASH/big") && BH=${BIG#sha256:} &&
	head -c 6000000 "$TRASH/big" >"$TRASH/c1" &&
	tail -c +6000001 "$TRASH/big" >"$TRASH/c2" &&
	upload_start s3/big &&
	reg_curl PATCH "$UPLOAD" -H "Content-Range: 0-5999999" \
	    --data-binary @"$TRASH/c1" && expect_status 202 &&
	expect_header Range 0-5999999 &&
	LOC=$(url "$(header Location)") &&
	reg_curl PATCH "$LOC" -H "Transfer-Encoding: chunked" \
	    --data-binary @"$TRASH/c2" && expect_status 202 &&
	expect_header Range 0-12999999 &&
	LOC=$(url "$(header Location)") &&
	reg_curl PUT "$(with_query "$LOC" "digest=$BIG")" && expect_status 201 &&
	reg_curl GET "/v2/s3/big/blobs/$BIG" && expect_status 200 &&
	expect_body_file "$TRASH/big" &&
	s3_has "blobs/sha256/${BH:0:2}/$BH/data" &&
	s3_none "repositories/s3/big/_uploads/"
'

test_expect_success CEPH,CURL 'a digest mismatch is 400 DIGEST_INVALID and leaves nothing' '
	upload_start s3/bad &&
	reg_curl PUT "$(with_query "$UPLOAD" "digest=$D")" \
	    --data-binary @"$TRASH/c1" && expect_status 400 &&
	expect_error_code DIGEST_INVALID &&
	s3_none "repositories/s3/bad/"
'

test_expect_success CEPH,CURL 'manifests, tags, the catalog' '
	make_image s3/img v1 "$TRASH/img" &&
	reg_curl GET /v2/s3/img/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 && expect_body_file "$TRASH/img/manifest.json" &&
	reg_curl GET "/v2/s3/img/manifests/$IMG_DIGEST" && expect_status 200 &&
	push_manifest s3/img v2 "$TRASH/img/manifest.json" "$MT_OCI_MANIFEST" &&
	reg_curl GET /v2/s3/img/tags/list && expect_status 200 &&
	jq_body ".tags == [\"v1\",\"v2\"]" &&
	s3_has "repositories/s3/img/_manifests/tags/v1/current/link" &&
	reg_curl DELETE "/v2/s3/img/manifests/v2" && expect_status 202 &&
	reg_curl GET /v2/s3/img/tags/list && jq_body ".tags == [\"v1\"]" &&
	wait_for catalog_is "[\"s3/img\"]"
'

test_expect_success CEPH,CURL 'referrers: an artifact naming the image is listed' '
	printf "{}" >"$TRASH/empty.json" &&
	push_blob s3/img "$TRASH/empty.json" &&
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":\"application/x-t9910\",\"config\":%s,\"layers\":[%s],\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s}}" \
	    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_EMPTY" "$TRASH/empty.json")" \
	    "$(json_descriptor "$MT_OCI_EMPTY" "$TRASH/empty.json")" \
	    "$MT_OCI_MANIFEST" "$IMG_DIGEST" "$(size_of "$TRASH/img/manifest.json")" \
	    >"$TRASH/sig.json" &&
	push_manifest s3/img "$(sha256_of "$TRASH/sig.json")" "$TRASH/sig.json" "$MT_OCI_MANIFEST" &&
	reg_curl GET "/v2/s3/img/referrers/$IMG_DIGEST" && expect_status 200 &&
	jq_body ".manifests | length == 1" &&
	jq_body ".manifests[0].artifactType == \"application/x-t9910\""
'

test_expect_success CEPH,SKOPEO,BUSYBOX 'skopeo copy pushes and pulls byte for byte' '
	make_oci_layout "$TRASH/src" v1 $((7 * 1024 * 1024)) &&
	REF=docker://127.0.0.1:$PORT/sko/img &&
	reg_skopeo copy --dest-tls-verify=false --preserve-digests \
	    "oci:$TRASH/src:v1" "$REF:v1" &&
	reg_skopeo copy --src-tls-verify=false "$REF:v1" "oci:$TRASH/out:v1" &&
	same_blobs "$TRASH/src" "$TRASH/out"
'

test_expect_success CEPH,CURL 'an upload begun on one instance is finished on another' '
	start_second &&
	B2=http://127.0.0.1:$PORT2 &&
	random_file "$TRASH/mv" 9000000 &&
	MV=$(sha256_of "$TRASH/mv") &&
	head -c 7000000 "$TRASH/mv" >"$TRASH/m1" &&
	tail -c +7000001 "$TRASH/mv" >"$TRASH/m2" &&
	upload_start s3/moved &&
	reg_curl PATCH "$UPLOAD" --data-binary @"$TRASH/m1" &&
	expect_status 202 &&
	LOC=$(header Location) &&
	reg_curl PATCH "$B2$LOC" --data-binary @"$TRASH/m2" &&
	expect_status 202 && expect_header Range 0-8999999 &&
	reg_curl PUT "$(with_query "$B2$LOC" "digest=$MV")" &&
	expect_status 201 &&
	reg_curl GET "/v2/s3/moved/blobs/$MV" && expect_status 200 &&
	expect_body_file "$TRASH/mv"
'

test_expect_success CEPH,CURL 'chunks with Content-Range alternating between instances: each takes the store'"'"'s offset' '
	random_file "$TRASH/rr" 15000000 &&
	RR=$(sha256_of "$TRASH/rr") &&
	head -c 6000000 "$TRASH/rr" >"$TRASH/r1" &&
	dd if="$TRASH/rr" bs=1000000 skip=6 count=6 2>/dev/null >"$TRASH/r2" &&
	tail -c +12000001 "$TRASH/rr" >"$TRASH/r3" &&
	upload_start s3/rr && LOC=$(header Location) &&
	reg_curl PATCH "$B2$LOC" -H "Content-Range: 0-5999999" \
	    --data-binary @"$TRASH/r1" && expect_status 202 &&
	reg_curl GET "$BASE$LOC" && expect_status 204 &&
	expect_header Range 0-5999999 &&
	reg_curl PATCH "$BASE$LOC" -H "Content-Range: 6000000-11999999" \
	    --data-binary @"$TRASH/r2" && expect_status 202 &&
	expect_header Range 0-11999999 &&
	reg_curl PATCH "$B2$LOC" -H "Content-Range: 12000000-14999999" \
	    --data-binary @"$TRASH/r3" && expect_status 202 &&
	reg_curl PUT "$(with_query "$BASE$LOC" "digest=$RR")" &&
	expect_status 201 &&
	reg_curl GET "$B2/v2/s3/rr/blobs/$RR" -L && expect_status 200 &&
	expect_body_file "$TRASH/rr"
'

test_expect_success CEPH,CURL 'with redirects on, a blob GET is a 307 to a presigned URL' '
	reg_curl GET "$B2/v2/s3/moved/blobs/$MV" && expect_status 307 &&
	expect_header_prefix Location "$S3_ENDPOINT/$S3_BUCKET/" &&
	curl -sf "$(header Location)" -H "Range: bytes=0-999" | cmp - "$TRASH/m1" -n 1000 &&
	curl -sf -L "$B2/v2/s3/moved/blobs/$MV" | cmp - "$TRASH/mv" &&
	reg_curl HEAD "$B2/v2/s3/moved/blobs/$MV" && expect_status 200 &&
	reg_curl GET "$B2/v2/s3/moved/blobs/$D" && expect_status 404
'

test_expect_success CEPH,CURL 'the store stopped mid-upload: 503 with the OCI body, nothing half-written' '
	random_file "$TRASH/down" 8000000 &&
	DN=$(sha256_of "$TRASH/down") && DH=${DN#sha256:} &&
	head -c 6000000 "$TRASH/down" >"$TRASH/d1" &&
	tail -c +6000001 "$TRASH/down" >"$TRASH/d2" &&
	upload_start s3/down &&
	reg_curl PATCH "$UPLOAD" --data-binary @"$TRASH/d1" &&
	expect_status 202 && LOC=$(url "$(header Location)") &&
	ceph_rgw_stop &&
	reg_curl PUT "$(with_query "$LOC" "digest=$DN")" \
	    --data-binary @"$TRASH/d2" &&
	expect_status 503 && expect_error_code UNAVAILABLE &&
	reg_curl GET /v2/s3/img/manifests/v1 && expect_status 503 &&
	expect_error_code UNAVAILABLE &&
	ceph_rgw_start &&
	reg_curl HEAD "/v2/s3/down/blobs/$DN" && expect_status 404 &&
	! s3_has "blobs/sha256/${DH:0:2}/$DH/data"
'

test_expect_success CEPH,CURL 'once it is back, the next push works' '
	push_blob s3/down "$TRASH/down" &&
	reg_curl GET "/v2/s3/down/blobs/$DN" && expect_status 200 &&
	expect_body_file "$TRASH/down"
'

test_expect_success CEPH,SKOPEO,BUSYBOX 'registry:2 serves what registryd pushed' '
	start_reference &&
	RREF=docker://127.0.0.1:$REF_PORT &&
	reg_skopeo copy --src-tls-verify=false "$RREF/sko/img:v1" \
	    "oci:$TRASH/fromref:v1" &&
	same_blobs "$TRASH/src" "$TRASH/fromref" &&
	curl -sf "http://127.0.0.1:$REF_PORT/v2/s3/big/blobs/$BIG" | cmp - "$TRASH/big"
'

test_expect_success CEPH,SKOPEO,BUSYBOX 'registryd serves what registry:2 pushed' '
	make_oci_layout "$TRASH/src2" v2 $((6 * 1024 * 1024)) &&
	reg_skopeo copy --dest-tls-verify=false --preserve-digests \
	    "oci:$TRASH/src2:v2" "$RREF/ref/img:v2" &&
	reg_skopeo copy --src-tls-verify=false \
	    "docker://127.0.0.1:$PORT/ref/img:v2" "oci:$TRASH/fromreg:v2" &&
	same_blobs "$TRASH/src2" "$TRASH/fromreg" &&
	reg_curl GET /v2/ref/img/tags/list && jq_body ".tags == [\"v2\"]"
'

test_expect_success CEPH 'fsck and du read the bucket' '
	env "${S3ENV[@]}" "$REGISTRYD" fsck -c "$CONF" >"$TRASH/fsck" 2>&1 &&
	cat "$TRASH/fsck" &&
	grep -q ", 0 problems" "$TRASH/fsck" &&
	env "${S3ENV[@]}" "$REGISTRYD" du -c "$CONF" >"$TRASH/du" 2>&1 &&
	cat "$TRASH/du" &&
	grep -q "sko/img\$" "$TRASH/du"
'

test_expect_success CEPH 'registry:2 garbage-collect takes the bucket as it is' '
	env -u AWS_CA_BUNDLE timeout 120 docker-registry garbage-collect \
	    --dry-run "$TRASH/reference.yml" >"$TRASH/refgc" 2>&1 &&
	tail -n 3 "$TRASH/refgc" &&
	grep -q "sko/img: marking manifest" "$TRASH/refgc"
'

test_expect_success CEPH,SKOPEO,BUSYBOX 'garbage-collect removes what no manifest names, images stay whole' '
	env "${S3ENV[@]}" REGISTRY_STORAGE_GC_GRACE=0 "$REGISTRYD" \
	    garbage-collect -c "$CONF" >"$TRASH/gc" 2>&1 &&
	cat "$TRASH/gc" &&
	grep -q "remove blob $BIG" "$TRASH/gc" &&
	! s3_has "blobs/sha256/${BH:0:2}/$BH/data" &&
	reg_curl HEAD "/v2/s3/big/blobs/$BIG" && expect_status 404 &&
	reg_skopeo copy --src-tls-verify=false "$RREF/sko/img:v1" \
	    "oci:$TRASH/aftergc:v1" &&
	same_blobs "$TRASH/src" "$TRASH/aftergc"
'

test_expect_success CEPH,CURL 'online garbage collection on S3: SIGUSR1 keeps an orphan pushed within gc_grace' '
	echo "an orphan for the online collection" >"$TRASH/gcorphan" &&
	push_blob s3/gcon "$TRASH/gcorphan" &&
	OH=$(sha256_of "$TRASH/gcorphan") && OH=${OH#sha256:} &&
	s3_has "blobs/sha256/${OH:0:2}/$OH/data" &&
	s3c ls -r "s3://$S3_BUCKET$S3_ROOT/" | wc -l >before.n &&
	kill -USR1 "$REG_PID" &&
	WAIT_SECONDS=30 wait_for grep -q "garbage collection (SIGUSR1) done" \
	    "$TRASH/registryd.log" &&
	grep "garbage collection (SIGUSR1) done" "$TRASH/registryd.log" |
	    grep -q "removed 0 manifests, 0 links, 0 blobs, 0 bytes; kept [1-9]" &&
	s3_has "blobs/sha256/${OH:0:2}/$OH/data" &&
	s3c ls -r "s3://$S3_BUCKET$S3_ROOT/" | wc -l >after.n &&
	cmp before.n after.n
'

test_expect_success CEPH,SKOPEO,BUSYBOX 'online garbage collection on S3: gc_interval removes an orphan, images stay whole' '
	s3_has "blobs/sha256/${OH:0:2}/$OH/data" &&
	sleep 1.1 &&
	GCPORT=$(free_port) &&
	{ "${KEEP[@]}" env "${S3ENV1[@]}" REGISTRY_STORAGE_GC_GRACE=0 \
	    REGISTRY_STORAGE_GC_INTERVAL=1 \
	    "REGISTRY_HTTP_ADDR=127.0.0.1:$GCPORT" \
	    "$REGISTRYD" serve -c "$CONF" >"$TRASH/gcint.log" 2>&1 \
	    </dev/null 3>&- &
	  GCPID=$!; } &&
	test_atexit "kill $GCPID 2>/dev/null" &&
	WAIT_SECONDS=60 wait_for grep -q "garbage collection (gc_interval) done" \
	    "$TRASH/gcint.log" &&
	grep "garbage collection (gc_interval) done" "$TRASH/gcint.log" &&
	grep "gc_grace 0 s on a shared (s3) store is safe only while a single instance" \
	    "$TRASH/gcint.log" &&
	test "$(grep -c "gc_grace 0 s on a shared (s3) store" "$TRASH/gcint.log")" = 2 &&
	! grep "safe only while a single instance" "$TRASH/registryd.log" &&
	! s3_has "blobs/sha256/${OH:0:2}/$OH/data" &&
	kill "$GCPID" && wait "$GCPID" &&
	reg_skopeo copy --src-tls-verify=false "$REF:v1" \
	    "oci:$TRASH/afteronline:v1" &&
	same_blobs "$TRASH/src" "$TRASH/afteronline"
'

# doom_key HEX: the key of another instance's collection's doomed mark
# on blob HEX (store.h, store_s3.c).
doom_key() {
	key "blobs/sha256/${1:0:2}/$1/_registryd-doomed-0b7fcb4c-1111-4222-8333-444455556666"
}

test_expect_success CEPH,CURL 'a blob doomed by a collection on another instance: a manifest naming it is refused until the mark goes' '
	echo "doomed layer" >"$TRASH/dl" &&
	echo "{\"architecture\":\"amd64\",\"os\":\"linux\"}" >"$TRASH/dc" &&
	push_blob s3/doom "$TRASH/dl" && push_blob s3/doom "$TRASH/dc" &&
	DL=$(sha256_of "$TRASH/dl") && DC=$(sha256_of "$TRASH/dc") &&
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%s},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%s}]}" \
	    "$MT_OCI_MANIFEST" "$DC" "$(size_of "$TRASH/dc")" \
	    "$DL" "$(size_of "$TRASH/dl")" >"$TRASH/dm.json" &&
	: >"$TRASH/empty-mark" &&
	s3c put "$TRASH/empty-mark" "s3://$S3_BUCKET/$(doom_key "${DL#sha256:}")" &&
	env "${S3ENV[@]}" "$REGISTRYD" fsck -c "$CONF" >"$TRASH/fsck2" 2>&1 &&
	grep -q ", 0 problems" "$TRASH/fsck2" &&
	reg_curl PUT /v2/s3/doom/manifests/v1 \
	    -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$TRASH/dm.json" &&
	expect_status 400 && expect_error_code MANIFEST_BLOB_UNKNOWN &&
	s3c del "s3://$S3_BUCKET/$(doom_key "${DL#sha256:}")" &&
	push_manifest s3/doom v1 "$TRASH/dm.json" "$MT_OCI_MANIFEST"
'

# s3cmd streaming stdin begins a multipart upload at once; cut off, it
# leaves it behind, as a lost CreateMultipartUpload answer would.
test_expect_success CEPH,CURL 'the purge aborts a multipart upload left behind under blobs/ (R12)' '
	OK=$(key "blobs/sha256/ab/$(printf "ab%.0s" $(seq 32))/data") &&
	{ (printf x; sleep 8) |
	    timeout 5 s3cmd -c "$S3CMD_CONF" put - "s3://$S3_BUCKET/$OK" \
	    >/dev/null 2>&1; true; } &&
	s3c multipart "s3://$S3_BUCKET" | grep "$OK" &&
	sleep 1 &&
	{ "${KEEP[@]}" env "${S3ENV[@]}" REGISTRY_STORAGE_UPLOAD_PURGE_AGE=1 \
	    REGISTRYD_TEST_S3_MPU_AGE=1 \
	    "REGISTRY_HTTP_ADDR=127.0.0.1:$(free_port)" \
	    "$REGISTRYD" serve -c "$CONF" >"$TRASH/purge.log" 2>&1 </dev/null 3>&- &
	  PPID3=$!; } &&
	test_atexit "kill $PPID3 2>/dev/null" &&
	wait_for grep -q "aborted multipart upload .* of $OK" "$TRASH/purge.log" &&
	kill "$PPID3" && { wait "$PPID3"; true; } &&
	! s3c multipart "s3://$S3_BUCKET" | grep "$OK"
'

test_expect_success CEPH,CURL 'no secret in the logs' '
	! grep -q -- "$S3_SECRET_KEY" "$TRASH/registryd.log" "$TRASH/registryd2.log" \
	    "$TRASH/gcint.log"
'

test_expect_success PYTHON3,CURL 'stand-in S3: registryd serves a blob from it' '
	start_fake &&
	test "$(fake_get)" = "0 200" && test "$(cat "$TRASH/fbody")" = hello
'

# The s3 driver opens libcurl at start (s3.c), the filesystem driver
# never does (t0000).
test_expect_success PYTHON3,CURL 'the s3 driver has loaded libcurl' '
	grep -q "/libcurl\.so\.4" "/proc/$FAKE_REG_PID/maps"
'

test_expect_success PYTHON3,CURL 'a range GET answered 503 after the retries closes the connection, no hang (R0)' '
	echo "GET /data 503 SlowDown" >"$TRASH/fake-rules" &&
	test "$(fake_get)" = "18 200" &&
	grep -q "GET .*/data: 503 SlowDown" "$TRASH/registryd-fake.log"
'

test_expect_success PYTHON3,CURL 'a range GET from byte 2 answered 200 (Range ignored) is not served as those bytes (R9)' '
	: >"$TRASH/fake-rules" &&
	curl -sS -m 20 -H "Range: bytes=2-" -o "$TRASH/fbody" \
	    -w "%{http_code}\n" "$FBASE$FBLOB" >"$TRASH/fcode" 2>"$TRASH/ferr"
	echo "curl $?: $(cat "$TRASH/fcode") $(cat "$TRASH/fbody")" &&
	test "$(cat "$TRASH/fbody")" != hel &&
	grep -q "GET .*/data from 2: 200, not that range" \
	    "$TRASH/registryd-fake.log"
'

test_expect_success PYTHON3,CURL 'the store dropping the connection without an answer is 503, not 500 (R7)' '
	echo "GET /link close" >"$TRASH/fake-rules" &&
	reg_curl HEAD "$FBASE$FBLOB" && expect_status 503 &&
	reg_curl GET "$FBASE/v2/fake/manifests/v1" && expect_status 503 &&
	expect_error_code UNAVAILABLE
'

test_expect_success PYTHON3,CURL 'a bucket that is not there (NoSuchBucket) is 503, not 404 (R7)' '
	printf "%s\n" "GET /link 404 NoSuchBucket" "HEAD /startedat 404" \
	    "PUT /startedat 404 NoSuchBucket" >"$TRASH/fake-rules" &&
	reg_curl HEAD "$FBASE$FBLOB" && expect_status 503 &&
	reg_curl POST "$FBASE/v2/fake/blobs/uploads/" && expect_status 503 &&
	reg_curl GET "$FBASE/v2/fake/manifests/v1" && expect_status 503 &&
	expect_error_code UNAVAILABLE &&
	grep -q "404 NoSuchBucket" "$TRASH/registryd-fake.log"
'

test_expect_success PYTHON3,CURL 'a hung store: a small request answers 503 within its 15 s deadline (NOTE 3)' '
	echo "GET /link hang" >"$TRASH/fake-rules" &&
	start=$(date +%s) &&
	reg_curl HEAD "$FBASE$FBLOB" -m 40 && expect_status 503 &&
	took=$(($(date +%s) - start)) &&
	echo "HEAD took $took s" &&
	test "$took" -ge 14 && test "$took" -le 25
'

test_expect_success PYTHON3,CURL 'a hung store: a tags/list answers 503 within the 15 s deadline too, its listing included (R6-1)' '
	echo "LISTD /_manifests/tags/ hang" >"$TRASH/fake-rules" &&
	start=$(date +%s) &&
	reg_curl GET "$FBASE/v2/fake/tags/list" -m 40 && expect_status 503 &&
	expect_error_code UNAVAILABLE &&
	took=$(($(date +%s) - start)) &&
	echo "tags/list took $took s" &&
	test "$took" -ge 14 && test "$took" -le 25 &&
	: >"$TRASH/fake-rules"
'

test_expect_success PYTHON3,CURL 'stand-in S3 keeping objects: a chunked upload in parts is assembled by multipart copy' '
	start_mem &&
	grep -q "REGISTRYD_TEST_S3_TIMEOUT_MS=2000 (for tests only)" \
	    "$TRASH/registryd-mem.log" &&
	random_file "$TRASH/mp" 12000000 &&
	MP=$(sha256_of "$TRASH/mp") &&
	(
		BASE=$MBASE &&
		upload_start r6/mp &&
		reg_curl PATCH "$UPLOAD" --data-binary @"$TRASH/mp" &&
		expect_status 202 && LOC=$(url "$(header Location)") &&
		reg_curl PUT "$(with_query "$LOC" "digest=$MP")" &&
		expect_status 201 &&
		reg_curl GET "/v2/r6/mp/blobs/$MP" && expect_status 200 &&
		expect_body_file "$TRASH/mp"
	) &&
	grep -q "^fake: POST .*/data?uploads" "$TRASH/mem.log"
'

test_expect_success PYTHON3,CURL 'a part PUT slower than the S3 timeout but progressing is stored (R6)' '
	random_file "$TRASH/slow" 6000000 &&
	SL=$(sha256_of "$TRASH/slow") &&
	echo "PUT /part-* slow 1000000" >"$TRASH/mem-rules" &&
	(
		BASE=$MBASE &&
		upload_start r6/slow &&
		start=$(date +%s) &&
		reg_curl PATCH "$UPLOAD" --data-binary @"$TRASH/slow" &&
		expect_status 202 &&
		took=$(($(date +%s) - start)) &&
		echo "PATCH took $took s (S3 timeout 2 s)" &&
		test "$took" -ge 4 &&
		LOC=$(url "$(header Location)") &&
		: >"$TRASH/mem-rules" &&
		reg_curl PUT "$(with_query "$LOC" "digest=$SL")" &&
		expect_status 201 &&
		reg_curl GET "/v2/r6/slow/blobs/$SL" && expect_status 200 &&
		expect_body_file "$TRASH/slow"
	)
'

# curl measures the speed over its last 5 s: a stall is seen 2 to 7 s
# after the last byte moved.
test_expect_success PYTHON3,CURL 'a part PUT that stalls is 503 after two S3 timeouts, not five (R6, NOTE 3)' '
	echo "PUT /part-* hang" >"$TRASH/mem-rules" &&
	(
		BASE=$MBASE &&
		upload_start r6/stall &&
		start=$(date +%s) &&
		reg_curl PATCH "$UPLOAD" --data-binary @"$TRASH/slow" -m 60 &&
		expect_status 503 && expect_error_code UNAVAILABLE &&
		took=$(($(date +%s) - start)) &&
		echo "PATCH took $took s (S3 timeout 2 s)" &&
		test "$took" -ge 4 && test "$took" -le 20
	) &&
	grep "_registryd/part-.*after 2 attempts" "$TRASH/registryd-mem.log" &&
	: >"$TRASH/mem-rules"
'

test_expect_success PYTHON3,CURL 'a repository list walked across a tag write is not kept: the catalog keeps the new repository (R12)' '
	start_mem REGISTRY_STORAGE_CATALOG_REFRESH=1 \
	    REGISTRYD_TEST_S3_TIMEOUT_MS=10000 &&
	echo "LISTD /repositories/ delay 3" >"$TRASH/mem-rules" &&
	n=$(mem_lists -d repositories/) &&
	wait_for mem_lists_over "$n" -d repositories/ &&
	(
		BASE=$MBASE &&
		start=$(date +%s) &&
		make_image r12/new v1 "$TRASH/r12" &&
		test $(($(date +%s) - start)) -le 2 &&
		for i in $(seq 30); do
			curl -sS "$MBASE/v2/_catalog" >"$TRASH/cat" &&
			jq -e ".repositories | index(\"r12/new\")" \
			    "$TRASH/cat" >/dev/null ||
			{ echo "poll $i: $(cat "$TRASH/cat")"; exit 1; }
			sleep 0.3
		done
	) &&
	: >"$TRASH/mem-rules"
'

# The stand-in refuses to list all of repositories/ at once (the catalog's
# blob count, which stops at the first link, fails with it).
test_expect_success PYTHON3,CURL 'the purge lists only the _uploads/ of each repository, not every link; it aborts multipart uploads left behind, not before they are a day old (R12, R6-2)' '
	echo "LIST /repositories/ 403 AccessDenied" >"$TRASH/mem-rules" &&
	(BASE=$MBASE && upload_start r12/old/deep) &&
	OLD=$(header Location) && OLD=${OLD##*/} &&
	O=docker/registry/v2/blobs/sha256/ab/$(printf "ab%.0s" $(seq 32))/data &&
	curl -sS -X POST "http://127.0.0.1:$MEM_PORT/mem/$O?uploads" >"$TRASH/mpu" &&
	grep -q "<UploadId>" "$TRASH/mpu" &&
	sleep 2 &&
	start_mem REGISTRY_STORAGE_UPLOAD_PURGE_AGE=1 &&
	wait_for grep -q "purged upload r12/old/deep/_uploads/$OLD" \
	    "$TRASH/registryd-mem.log" &&
	wait_for grep -q "purged [0-9]* stale upload" "$TRASH/registryd-mem.log" &&
	! grep "aborted multipart upload" "$TRASH/registryd-mem.log" &&
	curl -sS "http://127.0.0.1:$MEM_PORT/mem?uploads" | grep -q "$O" &&
	start_mem REGISTRY_STORAGE_UPLOAD_PURGE_AGE=1 \
	    REGISTRYD_TEST_S3_MPU_AGE=1 &&
	wait_for grep -q "aborted multipart upload up.* of $O" \
	    "$TRASH/registryd-mem.log" &&
	grep "purged upload" "$TRASH/registryd-mem.log" &&
	test "$(mem_lists repositories/r12/old/deep/_uploads/)" = 1 &&
	grep "^fake: DELETE /mem/$O?uploadId=up" "$TRASH/mem.log" &&
	(BASE=$MBASE && reg_curl GET "/v2/r12/old/deep/blobs/uploads/$OLD" &&
	expect_status 404) &&
	: >"$TRASH/mem-rules"
'

test_expect_success 'a secretkeyfile whose first line is over 511 bytes is refused, not cut (R11)' '
	head -c 600 /dev/zero | tr "\0" a >"$TRASH/long-secret" &&
	test_expect_code 1 timeout 10 env REGISTRY_STORAGE=s3 \
	    REGISTRY_STORAGE_S3_REGION=us-east-1 \
	    REGISTRY_STORAGE_S3_REGIONENDPOINT=127.0.0.1:1 \
	    REGISTRY_STORAGE_S3_SECURE=false REGISTRY_STORAGE_S3_BUCKET=fake \
	    REGISTRY_STORAGE_S3_ACCESSKEY=ak \
	    "REGISTRY_STORAGE_S3_SECRETKEYFILE=$TRASH/long-secret" \
	    "REGISTRY_HTTP_ADDR=127.0.0.1:$(free_port)" \
	    "$REGISTRYD" serve -c "$CONF" >"$TRASH/long.log" 2>&1 &&
	grep "first line over 511 bytes" "$TRASH/long.log"
'

test_done
