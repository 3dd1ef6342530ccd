#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Basic auth over plain HTTP: htpasswd users (bcrypt from `registryd passwd`,
# sha-crypt), the 401 challenge, unsupported hashes, the missing file and
# REGISTRY_USERNAME/REGISTRY_PASSWORD, upload state bound to the user,
# SIGHUP reload, anonymous pull, the failed login limit, CORS.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/tls-lib.sh"

REALM='registryd test realm'
PA='alice-Pw.1x'		# bcrypt through registryd passwd
PB='bob-Pw.2y'			# sha-crypt ($6$) from openssl passwd -6
PC='carol-Pw.3z'
HT="$TRASH/htpasswd"
ORIGIN=https://ui.example

# auth_config [auth lines...]: a fresh $CONF with auth on $HT and CORS
# for $CORS (default $ORIGIN).
auth_config() {
	rm -f "$CONF"
	REG_HTTP_EXTRA="cors_origins = ${CORS:-$ORIGIN}"
	REG_EXTRA=$(auth_section "$HT" "realm = $REALM" "$@")
	write_config
}

# login_status USER:PASS: the status of GET /v2/ with these credentials.
login_status() {
	as_user "$1" reg_curl GET /v2/ >/dev/null
	echo "$STATUS"
}

expect_challenge() {
	expect_status 401 &&
	expect_header WWW-Authenticate "Basic realm=\"$REALM\"" &&
	expect_error_code UNAUTHORIZED
}

# server_log_lines: the server's own lines (test-lib adds "--- start" lines
# with the environment given to start_registryd).
server_log_lines() {
	grep -v "^--- " "$TRASH/registryd.log"
}

# serve_fails OUTFILE [VAR=value...]: registryd serve with $CONF.bad must
# stop at start (bounded: a server that starts is killed after 5 s and that
# counts as a failure of the check).
serve_fails() {
	local out=$1
	shift
	env "$@" timeout 5 "$REGISTRYD" serve -c "$CONF.bad" >"$out" 2>&1 </dev/null
	local rc=$?
	cat "$out"
	if [ "$rc" = 0 ] || [ "$rc" = 124 ] || [ "$rc" -gt 128 ]; then
		echo "expected a clean failure at start, got exit status $rc"
		return 1
	fi
}

test_expect_success REGISTRYD,CURL 'setup: users from registryd passwd and openssl passwd -6' '
	htpasswd_line alice "$PA" >"$HT" &&
	cat "$HT" &&
	grep -Eq "^alice:\\\$2[aby]\\\$0?4\\\$.{53}\$" "$HT" &&
	printf "bob:%s\n" "$(openssl passwd -6 "$PB")" >>"$HT" &&
	grep -q "^bob:\\\$6\\\$" "$HT" &&
	auth_config &&
	start_registryd "REGISTRY_HTTP_HEADERS_X-Test=auth-test"
'

test_expect_success REGISTRYD,CURL 'no credentials: 401 with the Basic challenge' '
	reg_curl GET /v2/ &&
	expect_challenge &&
	cp "$TRASH/body" body.nocreds &&
	reg_curl GET /v2/_catalog &&
	expect_challenge &&
	reg_curl HEAD /v2/any/thing/manifests/latest &&
	expect_status 401 &&
	expect_header WWW-Authenticate "Basic realm=\"$REALM\""
'

test_expect_success REGISTRYD,CURL 'configured headers are on the 401 too' '
	reg_curl GET /v2/ &&
	expect_status 401 &&
	expect_header X-Test auth-test &&
	expect_header X-Content-Type-Options nosniff
'

test_expect_success REGISTRYD,CURL 'wrong password and unknown user: the same 401' '
	as_user "alice:not-$PA" reg_curl GET /v2/ &&
	expect_challenge &&
	cp "$TRASH/body" body.wrongpw &&
	as_user "mallory:$PA" reg_curl GET /v2/ &&
	expect_challenge &&
	cp "$TRASH/body" body.unknown &&
	cmp body.wrongpw body.unknown &&
	cmp body.nocreds body.wrongpw
'

test_expect_success REGISTRYD,CURL 'right credentials: 200 (bcrypt and sha-crypt users)' '
	as_user "alice:$PA" reg_curl GET /v2/ &&
	expect_status 200 &&
	expect_no_header WWW-Authenticate &&
	as_user "bob:$PB" reg_curl GET /v2/ &&
	expect_status 200 &&
	as_user "alice:$PA" reg_curl GET /v2/ &&
	expect_status 200
'

test_expect_success REGISTRYD,CURL 'push and pull a blob and an image with credentials' '
	random_file blob.bin 300000 &&
	D=$(sha256_of blob.bin) &&
	as_user "alice:$PA" push_blob auth/img blob.bin &&
	as_user "bob:$PB" reg_curl GET "/v2/auth/img/blobs/$D" &&
	expect_status 200 &&
	expect_body_file blob.bin &&
	as_user "alice:$PA" make_image auth/img v1 img &&
	as_user "bob:$PB" reg_curl GET /v2/auth/img/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_body_file img/manifest.json
'

test_expect_success REGISTRYD,CURL 'without credentials nothing is read or written' '
	reg_curl GET "/v2/auth/img/blobs/$D" &&
	expect_challenge &&
	reg_curl GET /v2/auth/img/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_challenge &&
	reg_curl POST /v2/auth/img/blobs/uploads/ &&
	expect_challenge &&
	reg_curl GET /v2/auth/img/tags/list &&
	expect_challenge
'

test_expect_success REGISTRYD,CURL 'an upload started by alice cannot be continued by bob' '
	as_user "alice:$PA" upload_start auth/state &&
	echo "Location: $UPLOAD" &&
	case "$UPLOAD" in *_state=*) ;; *) echo "no _state in $UPLOAD"; false ;; esac &&
	random_file part.bin 1000 &&
	as_user "bob:$PB" reg_curl PATCH "$UPLOAD" \
	    -H "Content-Type: application/octet-stream" --data-binary @part.bin &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN &&
	as_user "bob:$PB" reg_curl PUT "$(with_query "$UPLOAD" "digest=$(sha256_of part.bin)")" \
	    -H "Content-Type: application/octet-stream" --data-binary @part.bin &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN &&
	as_user "bob:$PB" reg_curl GET "$UPLOAD" &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN
'

test_expect_success REGISTRYD,CURL 'the upload location without or with a forged _state: 404' '
	bare=$(printf "%s\n" "$UPLOAD" | sed -E "s/([?&])_state=[^&]*&?/\\1/; s/[?&]\$//") &&
	echo "bare: $bare" &&
	case "$bare" in *_state=*) false ;; esac &&
	as_user "alice:$PA" reg_curl PATCH "$bare" \
	    -H "Content-Type: application/octet-stream" --data-binary @part.bin &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN &&
	st=$(printf "%s\n" "$UPLOAD" | sed -E "s/.*[?&]_state=([^&]*).*/\\1/") &&
	if [ "${st#A}" = "$st" ]; then forged=A${st#?}; else forged=B${st#?}; fi &&
	as_user "alice:$PA" reg_curl PATCH "$(with_query "$bare" "_state=$forged")" \
	    -H "Content-Type: application/octet-stream" --data-binary @part.bin &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN
'

test_expect_success REGISTRYD,CURL 'alice finishes her upload' '
	as_user "alice:$PA" reg_curl PUT "$(with_query "$UPLOAD" "digest=$(sha256_of part.bin)")" \
	    -H "Content-Type: application/octet-stream" --data-binary @part.bin &&
	expect_status 201 &&
	as_user "bob:$PB" reg_curl GET "/v2/auth/state/blobs/$(sha256_of part.bin)" &&
	expect_status 200 &&
	expect_body_file part.bin
'

test_expect_success REGISTRYD,CURL 'CORS: a preflight from an allowed origin needs no credentials' '
	reg_curl OPTIONS "/v2/auth/img/blobs/$D" -H "Origin: $ORIGIN" \
	    -H "Access-Control-Request-Method: GET" \
	    -H "Access-Control-Request-Headers: authorization" &&
	expect_status 204 &&
	expect_header Access-Control-Allow-Origin "$ORIGIN" &&
	expect_header_match Access-Control-Allow-Methods "GET" &&
	expect_header_match Access-Control-Allow-Headers "(^|[ ,])[Aa]uthorization" &&
	expect_no_header WWW-Authenticate
'

test_expect_success REGISTRYD,CURL 'CORS: a GET from the origin exposes Docker-Content-Digest' '
	as_user "bob:$PB" reg_curl GET /v2/auth/img/manifests/v1 -H "Origin: $ORIGIN" \
	    -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_header Access-Control-Allow-Origin "$ORIGIN" &&
	expect_header Access-Control-Allow-Credentials true &&
	expect_header_match Access-Control-Expose-Headers "(^|[ ,])Docker-Content-Digest([ ,]|\$)"
'

test_expect_success REGISTRYD,CURL 'CORS: another origin gets no CORS headers' '
	reg_curl OPTIONS "/v2/auth/img/blobs/$D" -H "Origin: https://evil.example" \
	    -H "Access-Control-Request-Method: GET" &&
	expect_no_header Access-Control-Allow-Origin &&
	case "$STATUS" in 2??) echo "preflight of a foreign origin answered $STATUS"; false ;; esac &&
	as_user "bob:$PB" reg_curl GET /v2/auth/img/manifests/v1 -H "Origin: https://evil.example" \
	    -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_no_header Access-Control-Allow-Origin &&
	expect_no_header Access-Control-Expose-Headers
'

test_expect_success REGISTRYD,CURL 'SIGHUP: a user added to the file can log in' '
	test "$(login_status "carol:$PC")" = 401 &&
	n=$(log_count "reloaded, 3 users") &&
	htpasswd_line carol "$PC" >>"$HT" &&
	kill -HUP "$REG_PID" &&
	wait_for test_log_more "reloaded, 3 users" "$n" &&
	test "$(login_status "carol:$PC")" = 200 &&
	test "$(login_status "alice:$PA")" = 200
'

test_expect_success REGISTRYD,CURL 'SIGHUP: a broken file keeps the old users and logs why' '
	cp "$HT" "$HT.good" &&
	printf "dave:{SHA}%s\n" "$(printf x | openssl dgst -sha1 -binary | base64)" >>"$HT" &&
	n=$(log_count "keeping the") &&
	kill -HUP "$REG_PID" &&
	wait_for test_log_more "keeping the" "$n" &&
	grep "keeping the" registryd.log | tail -n 1 >warn.line &&
	cat warn.line &&
	grep -Fq "htpasswd:4: unsupported hash, use htpasswd -B" warn.line &&
	grep -Eq "warn" warn.line &&
	test "$(login_status "alice:$PA")" = 200 &&
	test "$(login_status "bob:$PB")" = 200 &&
	test "$(login_status "carol:$PC")" = 200 &&
	kill -0 "$REG_PID"
'

test_expect_success REGISTRYD,CURL 'SIGHUP: a removed user is refused at once (cache emptied)' '
	grep -v "^carol:" "$HT.good" >"$HT" &&
	n=$(log_count "reloaded, 2 users") &&
	kill -HUP "$REG_PID" &&
	wait_for test_log_more "reloaded, 2 users" "$n" &&
	test "$(login_status "carol:$PC")" = 401 &&
	test "$(login_status "bob:$PB")" = 200
'

test_expect_success REGISTRYD,CURL 'passwords never reach the server log' '
	cat registryd.log | tail -n 5 &&
	server_log_lines >server.log &&
	test -s server.log &&
	for p in "$PA" "$PB" "$PC" "not-$PA"; do
		! grep -F -- "$p" server.log || return 1
		b=$(printf "%s" "alice:$p" | base64) &&
		! grep -F -- "$b" server.log || return 1
	done
'

for scheme in apr1 sha plain des; do
	test_expect_success REGISTRYD,CURL "an htpasswd line with a $scheme hash stops the start" '
		case "$scheme" in
		apr1)	h=$(openssl passwd -apr1 secret) ;;
		sha)	h="{SHA}$(printf secret | openssl dgst -sha1 -binary | base64)" ;;
		plain)	h=secret ;;
		des)	h=abJnggxhB/yWI ;;
		esac &&
		{ htpasswd_line alice "$PA" && printf "eve:%s\n" "$h"; } >"$TRASH/htpasswd.bad" &&
		sed "s|^htpasswd = .*|htpasswd = $TRASH/htpasswd.bad|; s|^addr = .*|addr = 127.0.0.1:$(free_port)|" \
		    "$CONF" >"$CONF.bad" &&
		serve_fails out.$scheme &&
		grep -Fq "htpasswd.bad:2: unsupported hash, use htpasswd -B" out.$scheme
	'
done

test_expect_success REGISTRYD,CURL 'a missing htpasswd file stops the start' '
	sed "s|^htpasswd = .*|htpasswd = $TRASH/new/htpasswd|; s|^addr = .*|addr = 127.0.0.1:$(free_port)|" \
	    "$CONF" >"$CONF.bad" &&
	mkdir -p new &&
	serve_fails out.missing &&
	grep -F "$TRASH/new/htpasswd" out.missing &&
	test ! -e new/htpasswd
'

test_expect_success REGISTRYD,CURL 'REGISTRY_USERNAME/REGISTRY_PASSWORD create a missing file (0600)' '
	stop_registryd &&
	rm -f "$CONF" && REG_EXTRA= REG_HTTP_EXTRA= && write_config &&
	start_registryd REGISTRY_AUTH=htpasswd \
	    REGISTRY_AUTH_HTPASSWD_PATH="$TRASH/new/htpasswd" \
	    REGISTRY_AUTH_HTPASSWD_REALM="$REALM" \
	    REGISTRY_USERNAME=ci "REGISTRY_PASSWORD=ci-Secret.9" &&
	test -f new/htpasswd &&
	test "$(stat -c %a new/htpasswd)" = 600 &&
	cat new/htpasswd &&
	grep -Eq "^ci:\\\$2[aby]\\\$" new/htpasswd &&
	test "$(wc -l <new/htpasswd)" = 1 &&
	reg_curl GET /v2/ &&
	expect_challenge &&
	test "$(login_status "ci:ci-Secret.9")" = 200 &&
	test "$(login_status "ci:wrong")" = 401 &&
	server_log_lines | grep -F "ci-Secret.9"; test $? = 1
'

test_expect_success REGISTRYD,CURL 'REGISTRY_USERNAME: missing directories above the file are made (0700)' '
	stop_registryd &&
	test ! -e "$TRASH/auth" &&
	start_registryd REGISTRY_AUTH=htpasswd \
	    REGISTRY_AUTH_HTPASSWD_PATH="$TRASH/auth/sub/htpasswd" \
	    REGISTRY_AUTH_HTPASSWD_REALM="$REALM" \
	    REGISTRY_USERNAME=ci "REGISTRY_PASSWORD=ci-Secret.9" &&
	test "$(stat -c %a "$TRASH/auth")" = 700 &&
	test "$(stat -c %a "$TRASH/auth/sub")" = 700 &&
	test "$(stat -c %a "$TRASH/auth/sub/htpasswd")" = 600 &&
	test "$(login_status "ci:ci-Secret.9")" = 200 &&
	server_log_lines | grep -F "created directory $TRASH/auth/sub (0700)"
'

test_expect_success REGISTRYD,CURL 'a missing htpasswd file: an error line that names the fix, at any level' '
	stop_registryd &&
	! grep -q "^\[auth\]" "$CONF" &&
	{ sed "s|^addr = .*|addr = 127.0.0.1:$(free_port)|" "$CONF" &&
	  printf "\n[auth]\nhtpasswd = %s\n" "$TRASH/none/htpasswd"; } >"$CONF.bad" &&
	serve_fails out.missing2 REGISTRY_LOG_LEVEL=error &&
	grep -E "error: refusing to start: htpasswd $TRASH/none/htpasswd: .*set REGISTRY_USERNAME and REGISTRY_PASSWORD" out.missing2 &&
	test ! -e "$TRASH/none"
'

test_expect_success REGISTRYD,CURL 'an existing file is not replaced by REGISTRY_USERNAME' '
	stop_registryd &&
	cp new/htpasswd new/htpasswd.before &&
	start_registryd REGISTRY_AUTH=htpasswd \
	    REGISTRY_AUTH_HTPASSWD_PATH="$TRASH/new/htpasswd" \
	    REGISTRY_USERNAME=other "REGISTRY_PASSWORD=other-pw" &&
	cmp new/htpasswd new/htpasswd.before &&
	test "$(login_status "other:other-pw")" = 401 &&
	test "$(login_status "ci:ci-Secret.9")" = 200
'

test_expect_success REGISTRYD,CURL 'anonymous_pull: reads without credentials, writes need a user' '
	stop_registryd &&
	auth_config "anonymous_pull = true" &&
	start_registryd &&
	reg_curl GET "/v2/auth/img/blobs/$D" &&
	expect_status 200 &&
	expect_body_file blob.bin &&
	reg_curl HEAD "/v2/auth/img/blobs/$D" &&
	expect_status 200 &&
	reg_curl GET /v2/auth/img/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_body_file img/manifest.json &&
	reg_curl GET /v2/auth/img/tags/list &&
	expect_status 200 &&
	jq_body ".tags == [\"v1\"]"
'

test_expect_success REGISTRYD,CURL 'anonymous_pull: POST, PUT, DELETE and GET /v2/ still need a user' '
	reg_curl POST /v2/auth/img/blobs/uploads/ &&
	expect_challenge &&
	reg_curl PUT /v2/auth/img/manifests/v2 -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @img/manifest.json &&
	expect_challenge &&
	reg_curl DELETE "/v2/auth/img/manifests/$IMG_DIGEST" &&
	expect_challenge &&
	reg_curl GET /v2/ &&
	expect_challenge &&
	reg_curl GET /v2/auth/img/tags/list &&
	expect_status 200 &&
	jq_body ".tags == [\"v1\"]" &&
	as_user "alice:$PA" reg_curl GET /v2/ &&
	expect_status 200 &&
	as_user "alice:$PA" push_manifest auth/img v2 img/manifest.json "$MT_OCI_MANIFEST"
'

test_expect_success REGISTRYD,CURL 'CORS: Origin null is never echoed' '
	as_user "bob:$PB" reg_curl GET /v2/auth/img/manifests/v1 -H "Origin: null" \
	    -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_no_header Access-Control-Allow-Origin &&
	expect_no_header Access-Control-Allow-Credentials
'

# cors_origins = * lets every page read and write what needs no
# credentials, never with the browser's cached ones: a literal * and no
# Access-Control-Allow-Credentials, for any origin and for null.
test_expect_success REGISTRYD,CURL 'CORS *: a literal * without credentials, for any origin and null' '
	stop_registryd &&
	CORS="*" auth_config &&
	start_registryd &&
	# A subshell: "return 1" would leave test_expect_success itself.
	(for o in https://evil.example null "$ORIGIN"; do
		echo "Origin: $o" &&
		as_user "bob:$PB" reg_curl GET /v2/auth/img/manifests/v1 \
		    -H "Origin: $o" -H "Accept: $MT_OCI_MANIFEST" &&
		expect_status 200 &&
		expect_header Access-Control-Allow-Origin "*" &&
		expect_no_header Access-Control-Allow-Credentials &&
		reg_curl OPTIONS "/v2/auth/img/manifests/v1" -H "Origin: $o" \
		    -H "Access-Control-Request-Method: DELETE" &&
		expect_status 204 &&
		expect_header Access-Control-Allow-Origin "*" &&
		expect_no_header Access-Control-Allow-Credentials || exit 1
	done)
'

# Two user names of 70 bytes that agree in their first 69: the upload
# _state and the access log must see the whole name (auth accepts up to
# 127 bytes), not a prefix shared by both.
LONG=$(printf "%069d" 0 | tr 0 u)
PL='long-Pw.4w'

test_expect_success REGISTRYD,CURL 'long user names: an upload of one cannot be continued by the other' '
	stop_registryd &&
	htpasswd_line "${LONG}1" "$PL" >>"$HT" &&
	htpasswd_line "${LONG}2" "$PL" >>"$HT" &&
	auth_config &&
	start_registryd &&
	as_user "${LONG}1:$PL" upload_start auth/long &&
	random_file long.bin 1000 &&
	as_user "${LONG}2:$PL" reg_curl PATCH "$UPLOAD" \
	    -H "Content-Type: application/octet-stream" --data-binary @long.bin &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN &&
	as_user "${LONG}1:$PL" reg_curl PATCH "$UPLOAD" \
	    -H "Content-Type: application/octet-stream" --data-binary @long.bin &&
	expect_status 202 &&
	grep -F " ${LONG}1 " registryd.log | grep -q "PATCH " &&
	grep -F " ${LONG}2 " registryd.log | grep -q "PATCH "
'

test_expect_success REGISTRYD,CURL 'fail_limit=3: the 4th wrong password gets 429 with Retry-After' '
	stop_registryd &&
	auth_config "fail_limit = 3" &&
	start_registryd &&
	as_user "bob:$PB" reg_curl GET /v2/ &&
	expect_status 200 &&
	for i in 1 2 3; do
		as_user "alice:wrong-$i" reg_curl GET /v2/ &&
		expect_challenge || return 1
	done &&
	as_user "alice:wrong-4" reg_curl GET /v2/ &&
	expect_status 429 &&
	expect_error_code TOOMANYREQUESTS &&
	ra=$(header Retry-After) &&
	echo "Retry-After: $ra" &&
	test "$ra" -ge 1 && test "$ra" -le 60
'

test_expect_success REGISTRYD,CURL 'fail_limit: the limited user is refused even with the right password (not cached)' '
	as_user "alice:$PA" reg_curl GET /v2/ &&
	expect_status 429 &&
	expect_header_match Retry-After "^[0-9]+\$" &&
	grep -q "failed logins in" registryd.log
'

# Failures count per (address, user): the other users behind the same
# address (a NAT) are not locked out, cached or not.
test_expect_success REGISTRYD,CURL 'fail_limit: other users at that address still log in' '
	as_user "bob:$PB" reg_curl GET /v2/ &&
	expect_status 200 &&
	as_user "${LONG}1:$PL" reg_curl GET /v2/ &&
	expect_status 200
'

test_expect_success REGISTRYD,CURL 'fail_limit: X-Forwarded-For from an untrusted peer changes nothing' '
	as_user "alice:$PA" reg_curl GET /v2/ -H "X-Forwarded-For: 10.9.8.7" &&
	expect_status 429
'

test_done
