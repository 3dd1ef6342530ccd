#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# A real Docker daemon against registryd on HTTPS with htpasswd users:
# docker login (-p and --password-stdin), push, rmi, pull, run, logout, the
# push refused after logout, a wrong password.
#
# Docker treats 127.0.0.0/8 as an insecure registry and skips certificate
# verification there, so this proves login/push/pull over TLS, not trust
# (t5000-tls.sh checks verification with curl, openssl and skopeo). The CA
# still goes where Docker reads it, /etc/docker/certs.d/HOST:PORT/ca.crt, as
# the seeds' recipe does; that directory is removed at exit.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/tls-lib.sh"

PA='alice-Docker.1'
HT="$TRASH/htpasswd"
CERTS_D=/etc/docker/certs.d/127.0.0.1:$PORT

. "$TEST_DIRECTORY/lib/docker-lib.sh"

# Remove the HOST:PORT directory, and its parents when this test made them.
CERTS_D_MADE=
CERTS_D_PARENTS=
remove_certs_d() {
	local d
	[ -n "$CERTS_D_MADE" ] && rm -rf "$CERTS_D"
	for d in $CERTS_D_PARENTS; do
		rmdir "$d" 2>/dev/null
	done
	return 0
}
test_atexit remove_certs_d


IMG=
test_expect_success REGISTRYD,DOCKER,BUSYBOX,CURL,OPENSSL 'setup: registryd on HTTPS with users, certs.d, dockerd' '
	make_ca "$CERTS" &&
	make_cert "$CERTS" server 1001 &&
	htpasswd_line alice "$PA" >"$HT" &&
	rm -f "$CONF" &&
	REG_EXTRA="$(tls_section "$CERTS/server.crt" "$CERTS/server.key")
$(auth_section "$HT")" &&
	write_config &&
	use_tls &&
	start_registryd &&
	test ! -e "$CERTS_D" &&
	for d in /etc/docker/certs.d /etc/docker; do
		[ -d "$d" ] || CERTS_D_PARENTS="$CERTS_D_PARENTS $d"
	done &&
	mkdir -p "$CERTS_D" && CERTS_D_MADE=1 &&
	cp "$CERTS/ca.crt" "$CERTS_D/ca.crt" &&
	start_dockerd &&
	test ! -e "$DOCKER_CONFIG/config.json" &&
	IMG=127.0.0.1:$PORT/tls/img
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX 'docker build a small FROM scratch image' '
	build_test_image "$IMG:v1" 200000
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX 'docker push before login: no basic auth credentials' '
	! timeout 60 docker push "$IMG:v1" >out 2>&1 &&
	cat out &&
	grep -Eiq "no basic auth credentials|unauthorized|authentication required" out
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX 'docker login with a wrong password fails' '
	! timeout 60 docker login 127.0.0.1:$PORT -u alice -p "wrong-$PA" >out 2>&1 &&
	cat out &&
	grep -Eiq "unauthorized|incorrect username or password|401" out &&
	! grep -q "Login Succeeded" out &&
	! grep -qs "127.0.0.1:$PORT" "$DOCKER_CONFIG/config.json"
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX 'docker login -u -p: Login Succeeded' '
	timeout 60 docker login "127.0.0.1:$PORT" -u alice -p "$PA" >out 2>&1 &&
	cat out &&
	grep -q "Login Succeeded" out &&
	jq -e --arg h "127.0.0.1:$PORT" ".auths[\$h].auth | length > 0" "$DOCKER_CONFIG/config.json"
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX,CURL 'docker push over HTTPS with credentials' '
	timeout 120 docker push "$IMG:v1" &&
	as_user "alice:$PA" reg_curl GET /v2/tls/img/tags/list &&
	expect_status 200 &&
	jq_body ".tags == [\"v1\"]" &&
	grep -Eq "access: .* PUT /v2/tls/img/manifests/v1 201 .* alice " registryd.log
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX 'docker logout, then docker push is refused' '
	timeout 30 docker logout "127.0.0.1:$PORT" >out 2>&1 &&
	cat out &&
	! grep -qs "\"127.0.0.1:$PORT\"" "$DOCKER_CONFIG/config.json" &&
	docker tag "$IMG:v1" "$IMG:v2" &&
	! timeout 60 docker push "$IMG:v2" >out 2>&1 &&
	cat out &&
	grep -Eiq "no basic auth credentials|unauthorized|authentication required" out
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX 'echo $PASS | docker login --password-stdin (as CI does it)' '
	echo "$PA" >pass.txt &&
	timeout 60 docker login "127.0.0.1:$PORT" -u alice --password-stdin <pass.txt >out 2>&1 &&
	cat out &&
	grep -q "Login Succeeded" out &&
	timeout 120 docker push "$IMG:v2"
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX 'docker rmi, docker pull, docker run' '
	docker rmi "$IMG:v1" "$IMG:v2" &&
	! docker image inspect "$IMG:v1" >/dev/null 2>&1 &&
	timeout 120 docker pull "$IMG:v1" &&
	timeout 60 docker run --rm --network none "$IMG:v1" >run.out &&
	cat run.out &&
	cut -d" " -f1 run.out >got.sum &&
	cmp want.sum got.sum
'

# Docker's message here depends on its insecure-registry fallback: after
# "no basic auth credentials" on https:// it retries on http://, which the
# TLS port answers with 400, and that error is the one shown.
test_expect_success REGISTRYD,DOCKER,BUSYBOX 'after logout docker pull is refused too' '
	timeout 30 docker logout "127.0.0.1:$PORT" &&
	docker rmi "$IMG:v1" &&
	n=$(log_count " /v2/tls/img/manifests/[^ ]* 200 ") &&
	! timeout 60 docker pull "$IMG:v1" >out 2>&1 &&
	cat out &&
	grep -Eiq "no basic auth credentials|unauthorized|authentication required|malformed request|HTTPS" out &&
	test "$(log_count " /v2/tls/img/manifests/[^ ]* 200 ")" = "$n" &&
	! docker image inspect "$IMG:v1" >/dev/null 2>&1
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX 'the password is in no server log line' '
	grep -v "^--- " registryd.log >server.log &&
	! grep -F -- "$PA" server.log
'

test_done
