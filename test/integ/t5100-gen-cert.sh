#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# scripts/gen-cert: a self-signed certificate with the names clients use,
# served by registryd and trusted the way its printed instructions say:
# curl (OpenSSL) with it as the CA, skopeo (Go, as Docker) from a
# certs.d/HOST:PORT/ca.crt directory, and a hosts.toml containerd parses.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/tls-lib.sh"

GEN="$TOP/scripts/gen-cert"
CRT="$TRASH/certs/registryd.crt"
KEY="$TRASH/certs/registryd.key"

test_expect_success OPENSSL 'gen-cert writes a certificate for every name and IP address given' '
	"$GEN" -d "$TRASH/certs" -p "$PORT" localhost 127.0.0.1 ::1 >gen.out &&
	cat gen.out &&
	test "$(stat -c %a "$KEY")" = 600 &&
	test "$(stat -c %a "$CRT")" = 644 &&
	openssl x509 -in "$CRT" -noout -ext subjectAltName >san &&
	grep -q "DNS:localhost" san &&
	grep -q "IP Address:127.0.0.1" san &&
	grep -q "IP Address:0:0:0:0:0:0:0:1" san &&
	openssl x509 -in "$CRT" -noout -checkend 86400 &&
	openssl pkey -in "$KEY" -pubout >k.pub &&
	openssl x509 -in "$CRT" -noout -pubkey >c.pub &&
	cmp k.pub c.pub
'

test_expect_success OPENSSL 'it prints the registryd.conf lines and the Docker and containerd trust steps' '
	grep -qx "  certificate = $CRT" gen.out &&
	grep -qx "  key = $KEY" gen.out &&
	grep -qx "  cp $CRT /etc/docker/certs.d/localhost:$PORT/ca.crt" gen.out &&
	grep -qx "  cp $CRT /etc/docker/certs.d/127.0.0.1:$PORT/ca.crt" gen.out &&
	grep -qx "  cp $CRT /etc/docker/certs.d/\[::1\]:$PORT/ca.crt" gen.out &&
	grep -qx "  cat >/etc/containerd/certs.d/localhost:$PORT/hosts.toml <<.TOML." gen.out
'

test_expect_success PYTHON3 'the printed hosts.toml is TOML that names the server and the CA' '
	awk "/certs.d\/localhost:$PORT\/hosts.toml <</ { on = 1; next } /^TOML$/ { on = 0 } on" \
	    gen.out >hosts.toml &&
	cat hosts.toml &&
	python3 -c "import sys, tomllib
t = tomllib.load(open(\"hosts.toml\", \"rb\"))
h = t[\"host\"][\"https://localhost:$PORT\"]
assert t[\"server\"] == \"https://localhost:$PORT\", t
assert h[\"ca\"] == \"/etc/containerd/certs.d/localhost:$PORT/ca.crt\", h
assert \"push\" in h[\"capabilities\"], h"
'

# Docker and containerd name a registry on 443 without the port (an image
# HOST/app, never HOST:443/app), and look for HOST in certs.d.
test_expect_success OPENSSL 'with -p 443 the client paths name the host alone' '
	"$GEN" -d "$TRASH/certs443" -p 443 registry.example 10.0.0.5 ::1 >gen443.out &&
	cat gen443.out &&
	c="$TRASH/certs443/registryd.crt" &&
	grep -qx "  cp $c /etc/docker/certs.d/registry.example/ca.crt" gen443.out &&
	grep -qx "  cp $c /etc/docker/certs.d/10.0.0.5/ca.crt" gen443.out &&
	grep -qx "  cp $c /etc/docker/certs.d/\[::1\]/ca.crt" gen443.out &&
	grep -qx "  cat >/etc/containerd/certs.d/registry.example/hosts.toml <<.TOML." gen443.out &&
	grep -qx "server = \"https://registry.example\"" gen443.out &&
	grep -qx "\[host.\"https://registry.example\"\]" gen443.out &&
	! grep -q ":443" gen443.out
'

test_expect_success OPENSSL 'an existing certificate is not overwritten without -f' '
	cp "$CRT" before.crt &&
	test_expect_code 1 "$GEN" -d "$TRASH/certs" localhost >out 2>&1 &&
	grep -q "exists; -f to overwrite" out &&
	cmp before.crt "$CRT" &&
	test_expect_code 2 "$GEN" -d "$TRASH/certs" -f "bad/name" >out 2>&1 &&
	test_expect_code 2 "$GEN" >out 2>&1 &&
	cmp before.crt "$CRT"
'

test_expect_success OPENSSL,CURL 'registryd serves it; curl trusts it by name and by address' '
	REG_EXTRA="$(tls_section "$CRT" "$KEY")" write_config &&
	START_BASE="http://127.0.0.1:$PORT" start_registryd &&
	curl -fsS --cacert "$CRT" "https://localhost:$PORT/v2/" >body &&
	curl -fsS --cacert "$CRT" "https://127.0.0.1:$PORT/v2/" >body &&
	test "$(cat body)" = "{}"
'

test_expect_success OPENSSL,CURL 'a name it was not made for is refused' '
	test_expect_code 60 curl -sS --cacert "$CRT" \
	    --resolve "other.example:$PORT:127.0.0.1" "https://other.example:$PORT/v2/"
'

test_expect_success OPENSSL,SKOPEO,BUSYBOX 'skopeo (Go, like Docker) trusts it from certs.d/HOST:PORT/ca.crt' '
	make_oci_layout "$TRASH/src" v1 &&
	mkdir -p "certs.d/localhost:$PORT" &&
	cp "$CRT" "certs.d/localhost:$PORT/ca.crt" &&
	reg_skopeo copy --dest-cert-dir "certs.d/localhost:$PORT" \
	    "oci:$TRASH/src:v1" "docker://localhost:$PORT/gen/cert:v1" &&
	reg_skopeo inspect --cert-dir "certs.d/localhost:$PORT" \
	    "docker://localhost:$PORT/gen/cert:v1" >inspect.json &&
	jq -e ".Layers | length == 2" inspect.json &&
	! reg_skopeo inspect "docker://localhost:$PORT/gen/cert:v1" >out 2>&1 &&
	grep -Eiq "certificate|x509" out
'

test_done
