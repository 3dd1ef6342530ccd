#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# A real Docker daemon: build a FROM-scratch image with busybox and a 20 MiB
# layer, docker push, docker rmi, docker pull, docker run --network none.
. "$(dirname "$0")/../lib/test-lib.sh"

. "$TEST_DIRECTORY/lib/docker-lib.sh"

IMG=
test_expect_success DOCKER,BUSYBOX,CURL 'setup: registryd and dockerd' '
	start_registryd &&
	start_dockerd &&
	IMG=127.0.0.1:$PORT/test/img
'

test_expect_success DOCKER,BUSYBOX 'docker build a FROM scratch image with a 20 MiB layer' '
	build_test_image "$IMG:v1" 20971520
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
