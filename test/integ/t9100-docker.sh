#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# A real Docker daemon: build a FROM-scratch image with busybox and a 20 MiB
# layer, docker push, docker rmi, docker pull, docker run --network none.
. "$(dirname "$0")/../lib/test-lib.sh"

# dockerd gets its own data root (in the trash directory) and a short
# exec root (unix socket paths are limited to 108 bytes).
DOCKER_TMP=
DOCKERD_PID=

stop_dockerd() {
	local i kids
	if [ -n "$DOCKERD_PID" ]; then
		kids=$(pgrep -P "$DOCKERD_PID" 2>/dev/null)
		kill -TERM "$DOCKERD_PID" 2>/dev/null
		for ((i = 0; i < 200; i++)); do
			kill -0 "$DOCKERD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$DOCKERD_PID" 2>/dev/null
		wait "$DOCKERD_PID" 2>/dev/null
		# A managed containerd normally leaves with dockerd.
		for k in $kids; do
			kill -0 "$k" 2>/dev/null || continue
			kill -TERM "$k" 2>/dev/null
			sleep 1
			kill -KILL "$k" 2>/dev/null
		done
		DOCKERD_PID=
	fi
	# Container shm mounts and netns files must not outlive the test.
	awk '{ print $2 }' /proc/mounts |
	    grep -E "^($TRASH|${DOCKER_TMP:-/nonexistent})/" | sort -r |
	    while read -r m; do umount -l "$m" 2>/dev/null; done
	[ -n "$DOCKER_TMP" ] && rm -rf "$DOCKER_TMP"
	return 0
}
test_atexit stop_dockerd

start_dockerd() {
	DOCKER_TMP=$(mktemp -d /tmp/registryd-docker.XXXXXX) || return 1
	export DOCKER_HOST="unix://$DOCKER_TMP/docker.sock"
	export DOCKER_CONFIG="$TRASH/docker-config"
	export DOCKER_BUILDKIT=0
	mkdir -p "$DOCKER_CONFIG"
	dockerd --data-root "$TRASH/docker" --exec-root "$DOCKER_TMP/exec" \
	    --pidfile "$DOCKER_TMP/docker.pid" --host "$DOCKER_HOST" \
	    --storage-driver vfs --iptables=false --ip6tables=false \
	    --bridge=none --ip-masq=false --userland-proxy=false \
	    >"$TRASH/dockerd.log" 2>&1 </dev/null &
	DOCKERD_PID=$!
	local i
	for ((i = 0; i < 600; i++)); do
		kill -0 "$DOCKERD_PID" 2>/dev/null || {
			echo "dockerd exited"; tail -n 30 "$TRASH/dockerd.log"; return 1; }
		timeout 5 docker version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "dockerd did not answer within 60 s"
	tail -n 30 "$TRASH/dockerd.log"
	return 1
}

IMG=
test_expect_success DOCKER,BUSYBOX,CURL 'setup: registryd and dockerd' '
	start_registryd &&
	start_dockerd &&
	IMG=127.0.0.1:$PORT/test/img
'

test_expect_success DOCKER,BUSYBOX 'docker build a FROM scratch image with a 20 MiB layer' '
	mkdir ctx &&
	cp /bin/busybox ctx/busybox &&
	random_file ctx/data.bin 20971520 &&
	sha256sum <ctx/data.bin | cut -d" " -f1 >want.sum &&
	cat >ctx/Dockerfile <<-EOF &&
	FROM scratch
	COPY busybox /busybox
	COPY data.bin /data.bin
	CMD ["/busybox", "sha256sum", "/data.bin"]
	EOF
	timeout 180 docker build -q -t "$IMG:v1" ctx
'

test_expect_success DOCKER,BUSYBOX,CURL 'docker push' '
	timeout 180 docker push "$IMG:v1" &&
	reg_curl GET /v2/test/img/tags/list &&
	expect_status 200 &&
	jq_body ".tags == [\"v1\"]" &&
	reg_curl GET /v2/test/img/manifests/v1 -H "Accept: $MT_DOCKER_MANIFEST" &&
	expect_status 200 &&
	expect_header Content-Type "$MT_DOCKER_MANIFEST" &&
	cp "$TRASH/body" pushed.json &&
	jq -e ".layers | length == 2" pushed.json &&
	for d in $(jq -r ".layers[].digest, .config.digest" pushed.json); do
		reg_curl HEAD "/v2/test/img/blobs/$d" &&
		expect_status 200 || return 1
	done &&
	big=$(jq -r "[.layers[].size] | max" pushed.json) &&
	test "$big" -gt 20000000
'

test_expect_success DOCKER,BUSYBOX 'docker push of the same image again: layers exist' '
	timeout 120 docker push "$IMG:v1" >out &&
	cat out &&
	grep -q "already exists" out
'

test_expect_success DOCKER,BUSYBOX,CURL 'docker push to another repository mounts the layers' '
	docker tag "$IMG:v1" "127.0.0.1:$PORT/test/other:v1" &&
	timeout 120 docker push "127.0.0.1:$PORT/test/other:v1" >out &&
	cat out &&
	reg_curl GET /v2/test/other/manifests/v1 -H "Accept: $MT_DOCKER_MANIFEST" &&
	expect_status 200 &&
	expect_body_file pushed.json
'

test_expect_success DOCKER,BUSYBOX 'docker rmi, then docker pull' '
	docker rmi "$IMG:v1" "127.0.0.1:$PORT/test/other:v1" &&
	! docker image inspect "$IMG:v1" >/dev/null 2>&1 &&
	timeout 180 docker pull "$IMG:v1" &&
	docker image inspect "$IMG:v1" >inspect.json &&
	jq -e ".[0].RepoDigests | length == 1" inspect.json
'

test_expect_success DOCKER,BUSYBOX 'docker run --network none of the pulled image' '
	timeout 120 docker run --rm --network none "$IMG:v1" >run.out &&
	cat run.out &&
	cut -d" " -f1 run.out >got.sum &&
	cmp want.sum got.sum
'

test_expect_success DOCKER,BUSYBOX 'docker pull by digest' '
	d=$(docker image inspect -f "{{index .RepoDigests 0}}" "$IMG:v1") &&
	docker rmi "$IMG:v1" &&
	timeout 120 docker pull "$d" &&
	docker run --rm --network none "$d" /busybox cat /data.bin | cmp - ctx/data.bin
'

test_done
