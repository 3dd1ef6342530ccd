#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# docker search against registryd: /v1/_ping and /v1/search with curl (the
# v1 format, auth as for pulls), then the real Docker CLI and daemon:
# `docker search 127.0.0.1:PORT/term` over plain HTTP with anonymous
# pull, over plain HTTP and over HTTPS with users after docker login
# (the daemon sends docker login's credentials with the search, to a
# standalone registry). Against registry:2 the same command fails with
# "Unexpected status code 404".
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/tls-lib.sh"
. "$TEST_DIRECTORY/lib/docker-lib.sh"
. "$TEST_DIRECTORY/lib/reference-lib.sh"

PA='alice-Search.1'
HT="$TRASH/htpasswd"
OCIIMAGES="$TEST_DIRECTORY/integ/lib-py/ociimages.py"
DESC19="The team's app, single platform"
DESC110="The team's app, for amd64 and arm64"

search_config() {
	rm -f "$CONF"
	REG_EXTRA="$*"
	write_config
}

# alice copies TAG of the local layout to REPO:DEST.
push_as() {
	reg_skopeo copy --all --preserve-digests --dest-tls-verify=false \
	    --dest-creds "alice:$PA" "oci:$TRASH/layout:$1" \
	    "docker://127.0.0.1:$PORT/$2:$3"
}

test_expect_success REGISTRYD,CURL,SKOPEO,PYTHON3 'setup: users, anonymous pull, four repositories' '
	htpasswd_line alice "$PA" >"$HT" &&
	search_config "$(auth_section "$HT" "anonymous_pull = true")" &&
	start_registryd &&
	python3 "$OCIIMAGES" "$TRASH/layout" >images.json &&
	push_as 1.10 team/app latest &&
	push_as 1.9 team/app 1.9 &&
	push_as 1.9 team/api latest &&
	push_as 1.9 team/api-old 1.0 &&
	push_as 1.9 tools/lint latest
'

test_expect_success REGISTRYD,CURL '/v1/_ping: anyone, a standalone registry' '
	reg_curl GET /v1/_ping &&
	expect_status 200 &&
	expect_header X-Docker-Registry-Standalone true &&
	jq_body ". == {}"
'

test_expect_success REGISTRYD,CURL,SKOPEO,PYTHON3 '/v1/search: the v1 format, names from the catalog, descriptions of latest' '
	reg_curl GET "/v1/search?q=team&n=25" &&
	expect_status 200 &&
	cat body && echo &&
	jq_body "[.results[].name] == [\"team/api\", \"team/api-old\", \"team/app\"]" &&
	jq_body ".num_results == 3 and .num_pages == 1 and .page == 1 and .page_size == 25 and .query == \"team\"" &&
	jq_body --arg d "$DESC110" ".results[2].description == \$d" &&
	jq_body --arg d "$DESC19" ".results[0].description == \$d" &&
	jq_body ".results[1].description == \"\"" &&
	jq_body "all(.results[]; .star_count == 0 and .is_official == false and .is_automated == false)"
'

test_expect_success REGISTRYD,CURL '/v1/search pages: n and page' '
	reg_curl GET "/v1/search?q=a&n=2&page=2" &&
	expect_status 200 &&
	jq_body ".num_results == 3 and .num_pages == 2 and .page == 2 and .page_size == 2" &&
	jq_body "[.results[].name] == [\"team/app\"]" &&
	reg_curl GET "/v1/search?q=a&n=2&page=3" &&
	expect_status 200 &&
	jq_body ".results == [] and .num_results == 3" &&
	reg_curl GET "/v1/search?q=a&n=0" &&
	expect_status 400 &&
	expect_error_code PAGINATION_NUMBER_INVALID
'

test_expect_success REGISTRYD,CURL '/v1/search with credentials: a wrong password is refused' '
	as_user "alice:$PA" reg_curl GET "/v1/search?q=lint" &&
	expect_status 200 &&
	jq_body "[.results[].name] == [\"tools/lint\"]" &&
	as_user "alice:wrong" reg_curl GET "/v1/search?q=lint" &&
	expect_status 401
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX,SKOPEO,PYTHON3 'docker search over HTTP with anonymous pull' '
	start_dockerd &&
	timeout 60 docker search "127.0.0.1:$PORT/app" >out 2>&1 &&
	cat out &&
	grep -q "^NAME" out &&
	grep -q "^team/app " out &&
	! grep -q "tools/lint" out &&
	timeout 60 docker search --no-trunc --format "{{.Name}}|{{.Description}}" \
	    "127.0.0.1:$PORT/team" >out 2>&1 &&
	cat out &&
	printf "%s\n" "team/api|$DESC19" "team/api-old|" "team/app|$DESC110" >want &&
	diff want out &&
	grep -Eq "access: .* GET /v1/_ping 200 " registryd.log &&
	grep -Eq "access: .* GET /v1/search 200 [0-9]+ [0-9]+ms - " registryd.log
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX 'docker search with no match, and --limit' '
	timeout 60 docker search "127.0.0.1:$PORT/nothing-like-it" >out 2>&1 &&
	cat out &&
	test "$(wc -l <out)" = 1 &&
	timeout 60 docker search --limit 2 --format "{{.Name}}" "127.0.0.1:$PORT/a" >out 2>&1 &&
	cat out &&
	test "$(wc -l <out)" = 2
'

# The daemon sends docker login credentials with a v1 search whenever it
# has some (moby registry/search_session.go: X-Docker-Token: true), over
# plain HTTP too; only the ping goes without.
test_expect_success REGISTRYD,DOCKER,BUSYBOX 'plain HTTP without anonymous pull: refused, then searched after docker login' '
	stop_registryd &&
	search_config "$(auth_section "$HT")" &&
	start_registryd &&
	! timeout 60 docker search "127.0.0.1:$PORT/app" >out 2>&1 &&
	cat out &&
	grep -Eiq "401|unauthorized" out &&
	timeout 60 docker login "127.0.0.1:$PORT" -u alice -p "$PA" >out 2>&1 &&
	grep -q "Login Succeeded" out &&
	timeout 60 docker search --format "{{.Name}}" "127.0.0.1:$PORT/app" >out 2>&1 &&
	cat out &&
	test "$(cat out)" = team/app &&
	grep -Eq "access: .* GET /v1/search 200 [0-9]+ [0-9]+ms alice " registryd.log &&
	timeout 30 docker logout "127.0.0.1:$PORT"
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX,OPENSSL,SKOPEO 'setup: the same registry on HTTPS, users, no anonymous pull' '
	stop_registryd &&
	make_ca "$CERTS" &&
	make_cert "$CERTS" server 1001 &&
	search_config "$(tls_section "$CERTS/server.crt" "$CERTS/server.key")
$(auth_section "$HT")" &&
	use_tls &&
	start_registryd &&
	reg_curl GET "/v1/search?q=app" &&
	expect_status 401 &&
	reg_curl GET /v1/_ping &&
	expect_status 200
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX,OPENSSL 'docker search before docker login: refused' '
	! timeout 60 docker search "127.0.0.1:$PORT/app" >out 2>&1 &&
	cat out &&
	grep -Eiq "401|unauthorized" out
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX,OPENSSL 'docker login, then docker search over HTTPS' '
	timeout 60 docker login "127.0.0.1:$PORT" -u alice -p "$PA" >out 2>&1 &&
	grep -q "Login Succeeded" out &&
	timeout 60 docker search --no-trunc --format "{{.Name}}|{{.Description}}" \
	    "127.0.0.1:$PORT/app" >out 2>&1 &&
	cat out &&
	printf "%s\n" "team/app|$DESC110" >want &&
	diff want out &&
	grep -Eq "access: .* GET /v1/search 200 [0-9]+ [0-9]+ms alice " registryd.log
'

test_expect_success REGISTRYD,DOCKER,BUSYBOX,OPENSSL 'docker logout: docker search is refused again' '
	timeout 30 docker logout "127.0.0.1:$PORT" &&
	! timeout 60 docker search "127.0.0.1:$PORT/app" >out 2>&1 &&
	cat out &&
	grep -Eiq "401|unauthorized" out
'

# What the people this is for get today: registry:2 has no /v1/.
test_expect_success DOCKER,BUSYBOX,DOCKER_REGISTRY 'registry:2 (docker-registry) answers the same docker search with 404' '
	reference_config "$TRASH/r2" &&
	start_reference "$TRASH/reference.yml" &&
	! timeout 60 docker search "127.0.0.1:$REF_PORT/app" >out 2>&1 &&
	cat out &&
	grep -q "Unexpected status code 404" out &&
	stop_reference
'

test_done
