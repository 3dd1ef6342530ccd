#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# The probes: GET /healthz (alive) and GET /readyz (not draining, storage
# writable) answer without credentials while /v2/ asks for them; and
# `registryd healthcheck`, what the container image's HEALTHCHECK runs,
# finds the server from the same configuration, over HTTP or HTTPS, and
# fails when the server is down or draining. (A full disk's 503 from
# /readyz is in t8100-diskfull.sh.)
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/tls-lib.sh"

PW='health-Pass.1'

test_expect_success REGISTRYD,CURL 'setup: registryd with users' '
	htpasswd_line alice "$PW" >htpasswd &&
	REG_EXTRA=$(auth_section "$TRASH/htpasswd") &&
	write_config &&
	start_registryd
'

test_expect_success REGISTRYD,CURL '/healthz and /readyz answer 200 without credentials' '
	reg_curl GET /v2/ &&
	expect_status 401 &&
	reg_curl GET /healthz &&
	expect_status 200 &&
	expect_header_prefix Content-Type text/plain &&
	test "$(cat body)" = ok &&
	reg_curl GET /readyz &&
	expect_status 200 &&
	test "$(cat body)" = ready &&
	reg_curl HEAD /readyz &&
	expect_status 200 &&
	reg_curl GET /healthz -u alice:wrong &&
	expect_status 200
'

test_expect_success REGISTRYD,CURL 'other methods get 405, other paths 404' '
	reg_curl POST /readyz &&
	expect_status 405 &&
	expect_header Allow "GET, HEAD" &&
	reg_curl DELETE /healthz &&
	expect_status 405 &&
	reg_curl GET /healthz/x &&
	expect_status 404 &&
	reg_curl GET /v2/healthz &&
	expect_status 404
'

test_expect_success REGISTRYD 'registryd healthcheck: 0 with the configuration the server has' '
	"$REGISTRYD" healthcheck -c "$CONF" >out &&
	cat out &&
	grep -q "^healthy: 200 OK from 127.0.0.1 port $PORT /healthz$" out &&
	"$REGISTRYD" healthcheck -r "$CONF" >out &&
	grep -q "^healthy: 200 OK from 127.0.0.1 port $PORT /readyz$" out
'

test_expect_success REGISTRYD 'a wildcard address is asked on the loopback; the environment counts' '
	env REGISTRY_HTTP_ADDR=":$PORT" "$REGISTRYD" healthcheck -c "$CONF" &&
	env REGISTRY_HTTP_ADDR="0.0.0.0:$PORT" "$REGISTRYD" healthcheck -c "$CONF" &&
	other=$(free_port) &&
	test_expect_code 1 env REGISTRY_HTTP_ADDR="127.0.0.1:$other" \
	    "$REGISTRYD" healthcheck -c "$CONF" >out &&
	cat out &&
	grep -q "^unhealthy: connect 127.0.0.1 port $other: Connection refused$" out
'

test_expect_success REGISTRYD 'a configuration with errors: unhealthy, quietly' '
	test_expect_code 1 env REGISTRY_HTTP_ADDR=nonsense \
	    "$REGISTRYD" healthcheck -c "$CONF" >out 2>err &&
	cat out err &&
	grep -q "^unhealthy: the configuration has errors" out &&
	test ! -s err
'

test_expect_success REGISTRYD,CURL 'draining: new connections are refused, so the check fails; the server exits 0' '
	random_file big 8388608 &&
	as_user "alice:$PW" upload_start health/slow &&
	{ curl -sS -o /dev/null --limit-rate 1M -X PATCH -u "alice:$PW" \
	    -H "Content-Type: application/octet-stream" --data-binary @big \
	    "$UPLOAD" 3>&- & } &&
	slow=$! &&
	sleep 1 &&
	pid=$REG_PID &&
	kill -TERM "$pid" &&
	wait_for grep -q "graceful shutdown" registryd.log &&
	kill -0 "$pid" &&
	test_expect_code 1 "$REGISTRYD" healthcheck -c "$CONF" &&
	test_expect_code 1 "$REGISTRYD" healthcheck -r -c "$CONF" &&
	wait "$slow" &&
	stop_registryd
'

test_expect_success REGISTRYD,OPENSSL,CURL 'over HTTPS too (the certificate is not checked: it is our own server)' '
	make_ca "$CERTS" &&
	make_cert "$CERTS" server 1001 &&
	REG_EXTRA="$(tls_section "$CERTS/server.crt" "$CERTS/server.key")
$(auth_section "$TRASH/htpasswd")" &&
	rm -f "$CONF" && write_config &&
	use_tls &&
	start_registryd &&
	"$REGISTRYD" healthcheck -c "$CONF" >out &&
	cat out &&
	grep -q "^healthy: 200 OK" out &&
	"$REGISTRYD" healthcheck -r -c "$CONF" &&
	reg_curl GET /readyz &&
	expect_status 200
'

test_expect_success REGISTRYD,OPENSSL,CURL 'HTTPS with required client certificates: the answer is the TLS refusal' '
	stop_registryd &&
	REG_EXTRA="$(tls_section "$CERTS/server.crt" "$CERTS/server.key" \
	    "client_ca = $CERTS/ca.crt" "client_auth = require")" &&
	rm -f "$CONF" && write_config &&
	start_registryd &&
	"$REGISTRYD" healthcheck -c "$CONF" >out &&
	cat out &&
	grep -q "^healthy: 127.0.0.1 port $PORT answered TLS (client certificates required)$" out &&
	stop_registryd &&
	test_expect_code 1 "$REGISTRYD" healthcheck -c "$CONF"
'

test_done
