#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# HTTPS with a certificate signed by a CA made here, so clients really
# verify: curl --cacert, plain HTTP to the TLS port, protocol versions, ALPN,
# skopeo with --cert-dir and credentials, SIGHUP rotation of the certificate
# during a download, a broken certificate on reload, client certificates,
# minimum_version=tls1.3.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/tls-lib.sh"

PA='alice-Tls.1'
HT="$TRASH/htpasswd"
LIVE="$TRASH/live"		# the certificate and key the server reads

# tls_config [tls lines...]: a fresh $CONF with HTTPS on $LIVE/server.* and
# auth on $HT.
tls_config() {
	rm -f "$CONF"
	REG_EXTRA="$(tls_section "$LIVE/server.crt" "$LIVE/server.key" "$@")
$(auth_section "$HT")"
	write_config
}

# install_cert NAME: make $CERTS/NAME.{crt,key} the live pair (rename, so
# the server never reads half a file).
install_cert() {
	cp "$CERTS/$1.crt" "$LIVE/server.crt.new" &&
	cp "$CERTS/$1.key" "$LIVE/server.key.new" &&
	mv "$LIVE/server.key.new" "$LIVE/server.key" &&
	mv "$LIVE/server.crt.new" "$LIVE/server.crt"
}

# hup_and_wait ERE: SIGHUP, then wait for one more log line matching ERE.
hup_and_wait() {
	local n
	n=$(log_count "$1")
	kill -HUP "$REG_PID" &&
	wait_for test_log_more "$1" "$n"
}

test_expect_success REGISTRYD,CURL,OPENSSL 'setup: a CA, server and client certificates, HTTPS server' '
	make_ca "$CERTS" &&
	make_cert "$CERTS" server1 1001 &&
	make_cert "$CERTS" server2 1002 &&
	make_cert "$CERTS" server3 1003 &&
	make_cert "$CERTS" client 2001 client &&
	make_ca "$CERTS/rogue" &&
	make_cert "$CERTS/rogue" client 3001 client &&
	openssl verify -CAfile "$CERTS/ca.crt" "$CERTS/server1.crt" "$CERTS/client.crt" &&
	! openssl verify -CAfile "$CERTS/ca.crt" "$CERTS/rogue/client.crt" &&
	mkdir -p "$LIVE" && install_cert server1 &&
	htpasswd_line alice "$PA" >"$HT" &&
	tls_config &&
	use_tls &&
	start_registryd &&
	grep -q "over HTTPS" registryd.log
'

test_expect_success REGISTRYD,CURL,OPENSSL 'curl --cacert verifies the server: 401, then 200 with credentials' '
	curl -sS -m 10 --cacert "$CERTS/ca.crt" -o body -w "%{http_code}" \
	    "https://127.0.0.1:$PORT/v2/" >code &&
	test "$(cat code)" = 401 &&
	curl -sS -m 10 --cacert "$CERTS/ca.crt" -u "alice:$PA" -o body -w "%{http_code}" \
	    "https://localhost:$PORT/v2/" >code &&
	test "$(cat code)" = 200 &&
	as_user "alice:$PA" reg_curl GET /v2/ &&
	expect_status 200 &&
	expect_header Docker-Distribution-Api-Version registry/2.0
'

test_expect_success REGISTRYD,CURL,OPENSSL 'curl without the CA refuses the certificate' '
	test_expect_code 60 env -u CURL_CA_BUNDLE curl -sS -m 10 -o /dev/null \
	    --capath /nonexistent --cacert "$CERTS/rogue/ca.crt" "https://127.0.0.1:$PORT/v2/"
'

test_expect_success REGISTRYD,CURL 'plain HTTP to the TLS port: 400 with a JSON body, no hang' '
	CURL_TIMEOUT=5 reg_curl GET "http://127.0.0.1:$PORT/v2/" &&
	expect_status 400 &&
	jq_body ".errors[0].code | type == \"string\"" &&
	CURL_TIMEOUT=5 reg_curl HEAD "http://127.0.0.1:$PORT/v2/" &&
	expect_status 400
'

test_expect_success REGISTRYD,OPENSSL 'TLS 1.0 and 1.1 are refused by the server' '
	for v in -tls1 -tls1_1; do
		# SECLEVEL=0: the client itself would allow them, so a
		# failure is the server refusing.
		! tls_probe $v -cipher "DEFAULT:@SECLEVEL=0" || return 1
		grep -Eq "alert protocol version|unsupported protocol|wrong version number" \
		    "$TRASH/s_client.out" || return 1
		! grep -q "no protocols available" "$TRASH/s_client.out" || return 1
	done
'

test_expect_success REGISTRYD,OPENSSL 'TLS 1.2 and 1.3 are accepted, the chain verifies' '
	tls_probe -tls1_2 &&
	grep -q "^New, TLSv1.2" "$TRASH/s_client.out" &&
	grep -q "Verify return code: 0 (ok)" "$TRASH/s_client.out" &&
	tls_probe -tls1_3 &&
	grep -q "^New, TLSv1.3" "$TRASH/s_client.out" &&
	grep -q "Verify return code: 0 (ok)" "$TRASH/s_client.out"
'

test_expect_success REGISTRYD,OPENSSL 'ALPN: http/1.1' '
	tls_probe -alpn http/1.1 &&
	grep -q "^ALPN protocol: http/1.1" "$TRASH/s_client.out" &&
	tls_probe -alpn h2,http/1.1 &&
	grep -q "^ALPN protocol: http/1.1" "$TRASH/s_client.out"
'

SREF=
test_expect_success REGISTRYD,SKOPEO,BUSYBOX,OPENSSL 'skopeo copy with --dest-cert-dir and --dest-creds' '
	mkdir -p skopeo-certs &&
	cp "$CERTS/ca.crt" skopeo-certs/ca.crt &&
	make_oci_layout "$TRASH/src" v1 &&
	SREF=docker://127.0.0.1:$PORT/tls/img &&
	reg_skopeo copy --dest-cert-dir "$TRASH/skopeo-certs" --dest-creds "alice:$PA" \
	    --preserve-digests "oci:$TRASH/src:v1" "$SREF:v1" &&
	as_user "alice:$PA" reg_curl GET /v2/tls/img/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_header Docker-Content-Digest "$LAYOUT_MANIFEST"
'

test_expect_success REGISTRYD,SKOPEO,BUSYBOX,OPENSSL 'skopeo copy back with --src-cert-dir: identical blobs' '
	reg_skopeo copy --src-cert-dir "$TRASH/skopeo-certs" --src-creds "alice:$PA" \
	    "$SREF:v1" "oci:$TRASH/out:v1" &&
	same_blobs "$TRASH/src" "$TRASH/out" &&
	same_blobs "$TRASH/out" "$TRASH/src"
'

test_expect_success REGISTRYD,SKOPEO,BUSYBOX,OPENSSL 'skopeo without the CA fails verification' '
	mkdir -p empty-certs &&
	! reg_skopeo copy --src-cert-dir "$TRASH/empty-certs" --src-creds "alice:$PA" \
	    "$SREF:v1" "oci:$TRASH/out-noca:v1" 2>err &&
	cat err &&
	grep -Eiq "x509|certificate" err &&
	! reg_skopeo inspect --creds "alice:$PA" "$SREF:v1" 2>err2 &&
	grep -Eiq "x509|certificate" err2
'

test_expect_success REGISTRYD,SKOPEO,BUSYBOX,OPENSSL 'skopeo with a wrong password is refused' '
	! reg_skopeo inspect --cert-dir "$TRASH/skopeo-certs" --creds "alice:wrong" "$SREF:v1" 2>err &&
	cat err &&
	grep -Eiq "unauthorized|authentication required|401" err
'

BIG_MIB=${BIG_MIB:-200}
test_expect_success REGISTRYD,CURL,OPENSSL 'a large blob for the rotation test' '
	random_file big.bin $((BIG_MIB * 1048576)) &&
	BIG=$(sha256_of big.bin) &&
	as_user "alice:$PA" push_blob tls/big big.bin
'

test_expect_success REGISTRYD,CURL,OPENSSL 'SIGHUP rotates the certificate during a download' '
	test "$(server_serial)" = 1001 &&
	rm -f big.out &&
	curl -sS -m 120 --cacert "$CERTS/ca.crt" -u "alice:$PA" --limit-rate 40M \
	    -o big.out "$BASE/v2/tls/big/blobs/$BIG" 2>curl.err &
	cpid=$! &&
	wait_for test_size_above big.out 8000000 &&
	install_cert server2 &&
	hup_and_wait "TLS certificate and key reloaded" &&
	kill -0 "$cpid" &&
	echo "download still running at the reload: $(size_of big.out) bytes" &&
	test "$(server_serial)" = 1002 &&
	as_user "alice:$PA" reg_curl GET /v2/ &&
	expect_status 200 &&
	{ wait "$cpid"; rc=$?; } &&
	cat curl.err &&
	test "$rc" = 0 &&
	test "$(sha256_of big.out)" = "$BIG" &&
	rm -f big.out
'

test_expect_success REGISTRYD,CURL,OPENSSL 'SIGHUP with a broken certificate keeps the old one' '
	printf "%s\n" "-----BEGIN CERTIFICATE-----" "broken" "-----END CERTIFICATE-----" \
	    >"$LIVE/server.crt" &&
	hup_and_wait "TLS reload failed" &&
	grep "TLS reload failed" registryd.log | tail -n 1 &&
	kill -0 "$REG_PID" &&
	test "$(server_serial)" = 1002 &&
	as_user "alice:$PA" reg_curl GET /v2/ &&
	expect_status 200
'

test_expect_success REGISTRYD,CURL,OPENSSL 'SIGHUP with a key that does not match keeps the old one' '
	cp "$CERTS/server3.crt" "$LIVE/server.crt" &&
	cp "$CERTS/server2.key" "$LIVE/server.key" &&
	hup_and_wait "TLS reload failed" &&
	test "$(server_serial)" = 1002 &&
	install_cert server3 &&
	hup_and_wait "TLS certificate and key reloaded" &&
	test "$(server_serial)" = 1003 &&
	as_user "alice:$PA" reg_curl GET /v2/ &&
	expect_status 200
'

test_expect_success REGISTRYD,CURL,OPENSSL 'client_ca: a client without a certificate is refused' '
	stop_registryd &&
	tls_config "client_ca = $CERTS/ca.crt" &&
	start_registryd &&
	test_expect_code_nonzero curl -sS -m 10 -u "alice:$PA" -o /dev/null "$BASE/v2/"
'

test_expect_success REGISTRYD,CURL,OPENSSL 'client_ca: a certificate of another CA is refused' '
	test_expect_code_nonzero curl -sS -m 10 -u "alice:$PA" -o /dev/null \
	    --cert "$CERTS/rogue/client.crt" --key "$CERTS/rogue/client.key" "$BASE/v2/"
'

test_expect_success REGISTRYD,CURL,OPENSSL 'client_ca: a certificate signed by the CA gets in' '
	as_user "alice:$PA" reg_curl GET /v2/ --cert "$CERTS/client.crt" --key "$CERTS/client.key" &&
	expect_status 200 &&
	reg_curl GET /v2/ --cert "$CERTS/client.crt" --key "$CERTS/client.key" &&
	expect_status 401
'

test_expect_success REGISTRYD,CURL,OPENSSL 'client_auth=verify: no certificate is fine, a bad one is not' '
	stop_registryd &&
	tls_config "client_ca = $CERTS/ca.crt" "client_auth = verify" &&
	start_registryd &&
	as_user "alice:$PA" reg_curl GET /v2/ &&
	expect_status 200 &&
	as_user "alice:$PA" reg_curl GET /v2/ --cert "$CERTS/client.crt" --key "$CERTS/client.key" &&
	expect_status 200 &&
	test_expect_code_nonzero curl -sS -m 10 -u "alice:$PA" -o /dev/null \
	    --cert "$CERTS/rogue/client.crt" --key "$CERTS/rogue/client.key" "$BASE/v2/"
'

test_expect_success REGISTRYD,CURL,OPENSSL 'REGISTRY_HTTP_TLS_MINIMUMTLS=tls1.3 refuses TLS 1.2' '
	stop_registryd &&
	tls_config &&
	start_registryd REGISTRY_HTTP_TLS_MINIMUMTLS=tls1.3 &&
	! tls_probe -tls1_2 &&
	grep -Eq "alert protocol version|unsupported protocol" "$TRASH/s_client.out" &&
	tls_probe -tls1_3 &&
	test_expect_code_nonzero curl -sS -m 10 --tls-max 1.2 -o /dev/null "$BASE/v2/" &&
	as_user "alice:$PA" reg_curl GET /v2/ &&
	expect_status 200
'

test_expect_success REGISTRYD,CURL,OPENSSL 'minimum_version=tls1.3 in the file does the same' '
	stop_registryd &&
	tls_config "minimum_version = tls1.3" &&
	start_registryd &&
	! tls_probe -tls1_2 &&
	tls_probe -tls1_3
'

test_done
