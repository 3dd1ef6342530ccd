#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# The real S3 store of the S3 tests: a throw-away Ceph cluster with its
# RADOS Gateway (test/s3/ceph-lib.sh) starts, stores and serves objects,
# refuses a wrong secret, and registry:2 (Debian's docker-registry) with
# its s3 driver keeps an image there in the distribution layout. The
# registryd-on-S3 tests build on the same harness.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/s3-lib.sh"

REF_ROOT=/ref
declare -A REF_PIDS=()	# docker-registry instances by port
REF_PORT=$(free_port)
REF_PORT2=$(free_port)
[ "$REF_PORT2" != "$REF_PORT" ] || REF_PORT2=$(free_port)
# registry:2 instances behind a balancer share the secret that signs
# their upload state.
REF_SECRET=t9900-shared-secret

# s3_get KEY [SECRET]: a SigV4-signed GET of KEY in the bucket with curl
# (curl 7.88 signs, but does not send x-amz-content-sha256 itself: the
# hash of the empty body is given). Status in $TRASH/status, body in
# $TRASH/body.
s3_get() {
	curl -s -o "$TRASH/body" -w '%{http_code}' -m 30 \
	    --aws-sigv4 "aws:amz:$S3_REGION:s3" \
	    --user "$S3_ACCESS_KEY:${2:-$S3_SECRET_KEY}" \
	    -H "x-amz-content-sha256: $(sha256sum </dev/null | cut -d' ' -f1)" \
	    "$S3_ENDPOINT/$S3_BUCKET/$1" >"$TRASH/status"
}

# start_reference [PORT [ROOT]]: docker-registry on 127.0.0.1:PORT
# (default $REF_PORT) with the s3 driver on the cluster's bucket, under
# ROOT (default $REF_ROOT). Without AWS_CA_BUNDLE: Go's AWS SDK panics
# on it with a plain-HTTP endpoint.
start_reference() {
	local port=${1:-$REF_PORT} root=${2:-$REF_ROOT} pid i
	cat >"$TRASH/reference-$port.yml" <<-EOF
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
	    rootdirectory: $root
	  redirect:
	    disable: true
	  delete:
	    enabled: true
	http:
	  addr: 127.0.0.1:$port
	  secret: $REF_SECRET
	EOF
	env -u AWS_CA_BUNDLE docker-registry serve "$TRASH/reference-$port.yml" \
	    >>"$TRASH/reference-$port.log" 2>&1 </dev/null 3>&- &
	pid=$!
	REF_PIDS[$port]=$pid
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || {
			echo "docker-registry exited"; tail -n 20 "$TRASH/reference-$port.log"
			unset "REF_PIDS[$port]"; return 1; }
		registryd_is_up "http://127.0.0.1:$port" && return 0
		sleep 0.1
	done
	echo "docker-registry did not answer within 30 s"
	stop_reference "$port"
	return 1
}

# stop_reference [PORT|all]: stop the instance on PORT (default $REF_PORT).
stop_reference() {
	local port pid
	if [ "${1:-}" = all ]; then
		for port in "${!REF_PIDS[@]}"; do
			stop_reference "$port"
		done
		return 0
	fi
	port=${1:-$REF_PORT}
	pid=${REF_PIDS[$port]:-}
	[ -n "$pid" ] || return 0
	unset "REF_PIDS[$port]"
	stop_pid "$pid"
}
test_atexit "stop_reference all"

test_expect_success CEPH 'setup: a Ceph cluster with an S3 gateway on loopback' '
	s3_start &&
	case $S3_ENDPOINT in http://127.0.0.1:[0-9]*) ;; *) false ;; esac &&
	test -n "$S3_ACCESS_KEY" && test -n "$S3_SECRET_KEY" &&
	test -n "$S3_BUCKET" && test -n "$S3_REGION" &&
	echo "started in $CEPH_START_SECONDS s" &&
	s3c ls >buckets &&
	grep -q "s3://$S3_BUCKET\$" buckets
'

test_expect_success CEPH 'the gateway listens on loopback only' '
	port=${S3_ENDPOINT##*:} &&
	ss -Htln "sport = :$port" >listen &&
	test -s listen &&
	! grep -v "127\.0\.0\.1:$port" listen
'

test_expect_success CEPH 's3cmd puts, lists and gets objects' '
	random_file obj.bin 3000000 &&
	echo small >small.txt &&
	s3c put obj.bin "s3://$S3_BUCKET/t/obj.bin" &&
	s3c put small.txt "s3://$S3_BUCKET/t/sub/small.txt" &&
	s3c ls "s3://$S3_BUCKET/t/" >ls.out &&
	grep -q "s3://$S3_BUCKET/t/obj.bin\$" ls.out &&
	grep -q "DIR *s3://$S3_BUCKET/t/sub/\$" ls.out &&
	s3c ls -r "s3://$S3_BUCKET/" >lsr.out &&
	test "$(wc -l <lsr.out)" = 2 &&
	s3c get "s3://$S3_BUCKET/t/obj.bin" got.bin &&
	cmp obj.bin got.bin
'

test_expect_success CEPH,CURL 'signed GET: the right secret 200, a wrong one 403, none 403, no key 404' '
	s3_get t/sub/small.txt &&
	test "$(cat status)" = 200 &&
	test "$(cat body)" = small &&
	s3_get t/sub/small.txt not-the-secret &&
	test "$(cat status)" = 403 &&
	grep -q "<Code>SignatureDoesNotMatch</Code>" body &&
	test "$(curl -s -o /dev/null -w "%{http_code}" \
	    "$S3_ENDPOINT/$S3_BUCKET/t/sub/small.txt")" = 403 &&
	s3_get t/missing &&
	test "$(cat status)" = 404 &&
	grep -q "<Code>NoSuchKey</Code>" body
'

test_expect_success CEPH 's3cmd with a wrong secret is refused' '
	sed "s/^secret_key = .*/secret_key = wrong/" "$S3CMD_CONF" >bad.cfg &&
	test_expect_code_nonzero timeout 60 s3cmd -c bad.cfg ls "s3://$S3_BUCKET/" 2>err &&
	grep -q "403" err
'

test_expect_success CEPH 'the gateway stops and comes back on the same endpoint' '
	ceph_rgw_stop &&
	test_expect_code_nonzero curl -s -m 2 "$S3_ENDPOINT/" &&
	ceph_rgw_start &&
	s3c get --force "s3://$S3_BUCKET/t/obj.bin" got2.bin &&
	cmp obj.bin got2.bin &&
	s3c del "s3://$S3_BUCKET/t/obj.bin" "s3://$S3_BUCKET/t/sub/small.txt" &&
	s3c ls -r "s3://$S3_BUCKET/" >lsr.out &&
	test ! -s lsr.out
'

test_expect_success CEPH,DOCKER_REGISTRY,SKOPEO,BUSYBOX 'registry:2 on the S3 driver takes a skopeo push' '
	make_oci_layout "$TRASH/src" v1 &&
	M=$LAYOUT_MANIFEST &&
	start_reference &&
	reg_skopeo copy --dest-tls-verify=false --preserve-digests \
	    "oci:$TRASH/src:v1" "docker://127.0.0.1:$REF_PORT/s3/img:v1"
'

test_expect_success CEPH,DOCKER_REGISTRY,SKOPEO,BUSYBOX 'the image is in the bucket in the distribution layout' '
	s3c ls -r "s3://$S3_BUCKET/" | awk "{ print \$4 }" >keys &&
	v2="s3://$S3_BUCKET${REF_ROOT}/docker/registry/v2" &&
	! grep -v "^$v2/" keys &&
	h=${M#sha256:} &&
	grep -qx "$v2/blobs/sha256/${h:0:2}/$h/data" keys &&
	grep -qx "$v2/repositories/s3/img/_manifests/tags/v1/current/link" keys &&
	grep -qx "$v2/repositories/s3/img/_manifests/revisions/sha256/$h/link" keys &&
	test "$(grep -c "/repositories/s3/img/_layers/sha256/[0-9a-f]*/link\$" keys)" = 3 &&
	test "$(grep -c "/blobs/sha256/../[0-9a-f]*/data\$" keys)" = 4 &&
	s3c get "$v2/repositories/s3/img/_manifests/tags/v1/current/link" link &&
	test "$(cat link)" = "$M" &&
	s3c get "$v2/blobs/sha256/${h:0:2}/$h/data" manifest.json &&
	test "$(sha256_of manifest.json)" = "$M"
'

test_expect_success CEPH,DOCKER_REGISTRY,SKOPEO,BUSYBOX 'registry:2 serves it back, also after a restart' '
	stop_reference &&
	start_reference &&
	reg_skopeo list-tags --tls-verify=false "docker://127.0.0.1:$REF_PORT/s3/img" >tags.json &&
	jq -e ".Tags == [\"v1\"]" tags.json &&
	reg_skopeo copy --src-tls-verify=false \
	    "docker://127.0.0.1:$REF_PORT/s3/img:v1" "oci:$TRASH/out:v1" &&
	same_blobs "$TRASH/src" "$TRASH/out" &&
	same_blobs "$TRASH/out" "$TRASH/src" &&
	stop_reference
'

# The shape of the multi-instance tests: two instances on one bucket
# behind haproxy, a push whose requests land on both, a pull from either.
test_expect_success CEPH,HAPROXY,DOCKER_REGISTRY,SKOPEO,BUSYBOX 'two registry:2 on the bucket behind haproxy take a push and serve it' '
	start_reference "$REF_PORT" /lb &&
	start_reference "$REF_PORT2" /lb &&
	# registry:2 has no /healthz (registryd has): check /v2/ instead.
	HAPROXY_CHECK=/v2/ lb_start "$REF_PORT" "$REF_PORT2" &&
	haproxy_wait_up 2 &&
	reg_skopeo copy --dest-tls-verify=false --preserve-digests \
	    "oci:$TRASH/src:v1" "docker://127.0.0.1:$LB_PORT/lb/img:v1" &&
	test "$(haproxy_served s1)" -gt 2 &&
	test "$(haproxy_served s2)" -gt 2 &&
	reg_skopeo copy --src-tls-verify=false \
	    "docker://127.0.0.1:$REF_PORT2/lb/img:v1" "oci:$TRASH/out2:v1" &&
	same_blobs "$TRASH/src" "$TRASH/out2"
'

test_expect_success CEPH,HAPROXY,DOCKER_REGISTRY,SKOPEO,BUSYBOX 'with one instance gone, the balancer serves from the other' '
	stop_reference "$REF_PORT" &&
	# At once: a refused connection is redispatched to the other one,
	# before the health check has seen anything.
	reg_skopeo copy --src-tls-verify=false \
	    "docker://127.0.0.1:$LB_PORT/lb/img:v1" "oci:$TRASH/out3:v1" &&
	same_blobs "$TRASH/src" "$TRASH/out3" &&
	haproxy_wait_state s1 DOWN 10 &&
	stop_reference all &&
	haproxy_stop
'

test_expect_success CEPH 'teardown stops every daemon the cluster started' '
	pids=$(awk "{ print \$2 }" "$CEPH_DIR/pids") &&
	test -n "$pids" &&
	ceph_stop &&
	alive=$(for p in $pids; do if ceph_alive "$p"; then echo "$p"; fi; done) &&
	test -z "$alive"
'

test_done
