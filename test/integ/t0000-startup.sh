#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Startup, configuration file and REGISTRY_* environment, /v2/, shutdown.
. "$(dirname "$0")/../lib/test-lib.sh"

test_expect_success CURL 'server starts and answers GET /v2/' '
	start_registryd &&
	reg_curl GET /v2/ &&
	expect_status 200 &&
	jq_body ". == {}" &&
	expect_header_match Content-Type "^application/json" &&
	expect_header Docker-Distribution-Api-Version registry/2.0 &&
	expect_header X-Content-Type-Options nosniff
'

test_expect_success CURL 'HEAD /v2/ answers 200 with the API version header' '
	reg_curl HEAD /v2/ &&
	expect_status 200 &&
	expect_header Docker-Distribution-Api-Version registry/2.0
'

test_expect_success CURL 'unknown endpoints answer 404 with the API version header' '
	reg_curl GET /v2/x/y/nothing-here &&
	expect_status 404 &&
	expect_header Docker-Distribution-Api-Version registry/2.0 &&
	reg_curl GET /not-v2 &&
	expect_status 404
'

test_expect_success CURL 'errors carry an OCI error body' '
	reg_curl GET /v2/no/such/manifests/latest &&
	expect_status 404 &&
	expect_header_match Content-Type "^application/json" &&
	jq_body ".errors[0].code and .errors[0].message" &&
	jq_body ".errors[0].code == \"MANIFEST_UNKNOWN\" or .errors[0].code == \"NAME_UNKNOWN\""
'

# libcurl and its ~28 libraries cost about 4 MiB of resident memory:
# only the s3 driver opens it (t9910 checks that one does).
test_expect_success CURL,REGISTRYD 'the filesystem driver does not map libcurl' '
	grep -q "/registryd" "/proc/$REG_PID/maps" &&
	! grep -E "/libcurl|/libgnutls|/libkrb5" "/proc/$REG_PID/maps"
'

test_expect_success CURL 'SIGTERM stops the server with exit status 0' '
	stop_registryd &&
	! registryd_is_up
'

test_expect_success REGISTRYD 'version prints a version and exits 0' '
	"$REGISTRYD" version >out &&
	grep -Eq "[0-9]+\.[0-9]+" out
'

test_expect_success REGISTRYD 'check-config accepts the generated file' '
	"$REGISTRYD" check-config -c "$CONF"
'

test_expect_success REGISTRYD 'check-config reports errors as file:line and exits 1' '
	cat >bad.conf <<-EOF &&
	[http]
	addr = 127.0.0.1:$PORT
	no_such_key = 1

	[storage]
	delete_enabled = maybe
	[nosuchsection]
	EOF
	test_expect_code 1 "$REGISTRYD" check-config -c "$TRASH/bad.conf" >out 2>&1 &&
	cat out &&
	grep -q "^$TRASH/bad.conf:3: " out &&
	grep -q "^$TRASH/bad.conf:6: " out
'

test_expect_success REGISTRYD 'check-config rejects a line that is not key = value' '
	printf "[http]\nthis is not ini\n" >bad2.conf &&
	test_expect_code 1 "$REGISTRYD" check-config -c "$TRASH/bad2.conf" >out 2>&1 &&
	grep -q "^$TRASH/bad2.conf:2: " out
'

test_expect_success REGISTRYD 'serve -c with a missing file fails' '
	test_expect_code_nonzero timeout 10 "$REGISTRYD" serve -c "$TRASH/absent.conf" >out 2>&1 &&
	cat out &&
	grep -q "absent.conf" out
'

test_expect_success REGISTRYD 'serve with a bad file: an error line after the file:line ones' '
	test_expect_code 1 timeout 10 "$REGISTRYD" serve -c "$TRASH/bad.conf" >out 2>&1 &&
	cat out &&
	grep -q "^$TRASH/bad.conf:3: " out &&
	grep -q "error: refusing to start: the configuration has the errors above; fix them (registryd check-config -c $TRASH/bad.conf lists them)" out
'

test_expect_success REGISTRYD 'a port in use: an error line with the fix, even at level error' '
	start_registryd &&
	test_expect_code 1 env REGISTRY_LOG_LEVEL=error \
	    timeout 10 "$REGISTRYD" serve -c "$CONF" >out 2>&1
	rc=$?
	stop_registryd &&
	test $rc = 0 &&
	cat out &&
	grep -q "error: refusing to start: cannot listen on 127.0.0.1:$PORT .*REGISTRY_HTTP_ADDR" out &&
	! grep -q "warn: " out
'

test_expect_success REGISTRYD 'a storage root that cannot be made: an error line with the fix' '
	: >notadir &&
	test_expect_code 1 env REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$TRASH/notadir/root" \
	    timeout 10 "$REGISTRYD" serve -c "$CONF" >out 2>&1 &&
	cat out &&
	grep -q "error: refusing to start: storage $TRASH/notadir/root: .*REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY" out
'

test_expect_success REGISTRYD 'a bad TLS key: an error line with the fix' '
	: >empty.pem &&
	test_expect_code 1 env REGISTRY_HTTP_TLS_CERTIFICATE="$TRASH/empty.pem" \
	    REGISTRY_HTTP_TLS_KEY="$TRASH/empty.pem" \
	    timeout 10 "$REGISTRYD" serve -c "$CONF" >out 2>&1 &&
	cat out &&
	grep -q "error: refusing to start: TLS: .*REGISTRY_HTTP_TLS_CERTIFICATE" out
'

test_expect_success REGISTRYD 'check-config rejects a bad environment value' '
	test_expect_code 1 env REGISTRY_STORAGE_DELETE_ENABLED=perhaps \
	    "$REGISTRYD" check-config -c "$CONF" >out 2>&1 &&
	cat out &&
	grep -q REGISTRY_STORAGE_DELETE_ENABLED out
'

test_expect_success REGISTRYD 'an unknown REGISTRY_ variable warns but starts' '
	: >"$TRASH/registryd.log" &&
	start_registryd REGISTRY_FOO=bar &&
	grep -q REGISTRY_FOO "$TRASH/registryd.log" &&
	stop_registryd
'

test_expect_success REGISTRYD 'REGISTRY_PROXY_REMOTEURL refuses to start with a clear message' '
	test_expect_code_nonzero env REGISTRY_PROXY_REMOTEURL=http://127.0.0.1:9 \
	    timeout 10 "$REGISTRYD" serve -c "$CONF" >out 2>&1 &&
	cat out &&
	grep -q REGISTRY_PROXY_REMOTEURL out &&
	! registryd_is_up
'

test_expect_success REGISTRYD 'another storage driver refuses to start' '
	test_expect_code_nonzero env REGISTRY_STORAGE=gcs \
	    timeout 10 "$REGISTRYD" serve -c "$CONF" >out 2>&1 &&
	cat out &&
	grep -q "REGISTRY_STORAGE: only the filesystem and s3" out
'

test_expect_success REGISTRYD 'the s3 driver without a bucket refuses to start' '
	test_expect_code_nonzero env REGISTRY_STORAGE=s3 \
	    REGISTRY_STORAGE_S3_ACCESSKEY=a REGISTRY_STORAGE_S3_SECRETKEY=s \
	    timeout 10 "$REGISTRYD" serve -c "$CONF" >out 2>&1 &&
	cat out &&
	grep -q REGISTRY_STORAGE_S3_BUCKET out &&
	! grep -q "REGISTRY_STORAGE_S3_SECRETKEY=s\|: s\$" out
'

test_expect_success CURL,REGISTRYD 'REGISTRY_HTTP_HEADERS_<Name> adds a response header' '
	start_registryd "REGISTRY_HTTP_HEADERS_X-Test=[v]" &&
	reg_curl GET /v2/ &&
	expect_status 200 &&
	expect_header X-Test v &&
	reg_curl GET /v2/x/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000 &&
	expect_status 404 &&
	expect_header X-Test v &&
	stop_registryd
'

test_expect_success CURL,REGISTRYD 'REGISTRY_HTTP_HEADERS as a map (registry:2) sets response headers' '
	start_registryd "REGISTRY_HTTP_HEADERS={\"X-Map\": [\"m1\", \"m2\"], \"Access-Control-Allow-Methods\": [\"GET, HEAD\"]}" &&
	reg_curl GET /v2/ &&
	expect_status 200 &&
	expect_header X-Map "m1, m2" &&
	expect_header Access-Control-Allow-Methods "GET, HEAD" &&
	expect_header X-Content-Type-Options nosniff &&
	reg_curl GET /v2/no/such/manifests/latest &&
	expect_status 404 &&
	expect_header X-Map "m1, m2" &&
	! grep -q "REGISTRY_HTTP_HEADERS: warning" "$TRASH/registryd.log"
	rc=$?
	stop_registryd && test $rc = 0
'

test_expect_success CURL,REGISTRYD 'REGISTRY_HTTP_HEADERS as Name=value lines sets response headers' '
	start_registryd "REGISTRY_HTTP_HEADERS=X-Line=l1, l2
Strict-Transport-Security=max-age=31536000; includeSubDomains" &&
	reg_curl GET /v2/ &&
	expect_status 200 &&
	expect_header X-Line "l1, l2" &&
	expect_header Strict-Transport-Security "max-age=31536000; includeSubDomains"
	rc=$?
	stop_registryd && test $rc = 0
'

test_expect_success REGISTRYD 'a malformed REGISTRY_HTTP_HEADERS refuses to start, naming it' '
	test_expect_code 1 env "REGISTRY_HTTP_HEADERS={\"X-A\": [\"a\"]" \
	    timeout 10 "$REGISTRYD" serve -c "$CONF" >out 2>&1 &&
	cat out &&
	grep -q "^REGISTRY_HTTP_HEADERS: expected" out &&
	test_expect_code 1 env "REGISTRY_HTTP_HEADERS=just words" \
	    timeout 10 "$REGISTRYD" serve -c "$CONF" >out 2>&1 &&
	cat out &&
	grep -q "^REGISTRY_HTTP_HEADERS: line 1: expected Name=value" out &&
	! registryd_is_up
'

test_expect_success CURL,REGISTRYD '[headers] in the file adds response headers; empty value removes' '
	REG_EXTRA=$(printf "\n[headers]\nX-From-File = yes\nX-Content-Type-Options =\n") &&
	write_config &&
	start_registryd &&
	reg_curl GET /v2/ &&
	expect_status 200 &&
	expect_header X-From-File yes &&
	expect_no_header X-Content-Type-Options &&
	stop_registryd &&
	REG_EXTRA= && write_config
'

test_expect_success CURL 'environment overrides the file (addr, delete)' '
	OTHER=$(free_port) &&
	REG_ADDR=127.0.0.1:$OTHER REG_DELETE=true write_config &&
	start_registryd REGISTRY_HTTP_ADDR=127.0.0.1:$PORT \
	    REGISTRY_STORAGE_DELETE_ENABLED=false &&
	! registryd_is_up http://127.0.0.1:$OTHER &&
	printf hello >blob &&
	push_blob env/test blob &&
	reg_curl DELETE /v2/env/test/blobs/$(sha256_of blob) &&
	expect_status 405 &&
	expect_error_code UNSUPPORTED &&
	stop_registryd
'

test_expect_success CURL 'the storage root from the environment is used' '
	rm -f "$CONF" && write_config &&
	start_registryd REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$TRASH/root2 &&
	printf root2 >blob2 &&
	push_blob env/root blob2 &&
	h=$(sha256_of blob2) && h=${h#sha256:} &&
	test -f "$TRASH/root2/docker/registry/v2/blobs/sha256/${h:0:2}/$h/data" &&
	! test -e "$ROOT/docker/registry/v2/blobs/sha256/${h:0:2}/$h" &&
	stop_registryd
'

test_expect_success REGISTRYD,PYTHON3 'REGISTRY_HTTP_ADDR=:PORT listens on 127.0.0.1 and ::1' '
	start_registryd REGISTRY_HTTP_ADDR=:$PORT &&
	registryd_is_up http://127.0.0.1:$PORT &&
	if python3 -c "import socket; s=socket.socket(socket.AF_INET6); s.bind((\"::1\", 0))" 2>/dev/null
	then
		registryd_is_up "http://[::1]:$PORT"
	fi &&
	stop_registryd
'

# modes_not ROOT FILEMODE DIRMODE: what under ROOT/docker has another mode.
modes_not() {
	(cd "$1" && find docker -type f ! -perm "$2" -printf "%m %p\n" &&
	    find docker -type d ! -perm "$3" -printf "%m %p\n")
}

# umask_push ROOT: start with ROOT, push a blob and an image, leave an
# upload open, stop.
umask_push() {
	start_registryd REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$1" || return 1
	printf "umask %s" "$1" >ublob &&
	push_blob umask/blob ublob &&
	make_image umask/img v1 "$1.img" &&
	upload_start umask/open
	local rc=$?
	stop_registryd && return $rc
}

test_expect_success CURL,REGISTRYD 'umask 027: new files are 0640 and directories 0750, as registry:2 makes them' '
	old_umask=$(umask) &&
	umask 027 &&
	umask_push "$TRASH/root027"
	rc=$?
	umask "$old_umask" &&
	test $rc = 0 &&
	modes_not "$TRASH/root027" 640 750 >wrong &&
	cat wrong &&
	test ! -s wrong &&
	find "$TRASH/root027/docker" -path "*/_uploads/*" -type f | grep -q startedat &&
	test "$(find "$TRASH/root027/docker" -name data -path "*/blobs/*" | wc -l)" = 4 &&
	test "$(find "$TRASH/root027/docker" -name link | wc -l)" -ge 6
'

# 0664/0775 only come from 0666/0777 under the umask: a mode forced to
# 0644 or 0600 in the code would show here (not under 027 or 022).
test_expect_success CURL,REGISTRYD 'umask 002: new files are 0664 and directories 0775 (0666/0777 under the umask)' '
	old_umask=$(umask) &&
	umask 002 &&
	umask_push "$TRASH/root002"
	rc=$?
	umask "$old_umask" &&
	test $rc = 0 &&
	modes_not "$TRASH/root002" 664 775 >wrong &&
	cat wrong &&
	test ! -s wrong
'

test_expect_success REGISTRYD 'SIGINT stops the server too' '
	start_registryd &&
	pid=$REG_PID &&
	kill -INT $pid &&
	WAIT_SECONDS=10 wait_for eval "! kill -0 $pid" &&
	{ wait $pid; rc=$?; REG_PID=; } &&
	{ test $rc = 0 || test $rc = 130; }
'

test_done
