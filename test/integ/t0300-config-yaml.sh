#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# registry:2's config.yml, read as it is: the file of the registry:2 image,
# Debian's /etc/docker/registry/config.yml, and what the guides write
# (HTTPS, htpasswd, CORS headers for a web UI). Each file serves on
# registryd and, to prove it is a valid registry:2 file, on Debian's
# docker-registry too, and both answer alike. What registryd cannot honour
# stops the start naming file, line and key; check-config prints the
# equivalent registryd.conf; the file may be named the way registry:2
# takes it (an operand, REGISTRY_CONFIGURATION_PATH); REGISTRY_USERNAME and
# REGISTRY_PASSWORD make a user without an htpasswd file.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/tls-lib.sh"
. "$TEST_DIRECTORY/lib/reference-lib.sh"

DEBUG_PORT=$(free_port)

# header_values NAME: every value of a header in the last response, the
# lines of a repeated header joined with ", " (what HTTP means by them).
header_values() {
	tr -d '\r' <"$TRASH/headers" | awk -v name="$1" '
		BEGIN { name = tolower(name) }
		{ i = index($0, ":"); if (i == 0) next
		  if (tolower(substr($0, 1, i - 1)) != name) next
		  v = substr($0, i + 1); sub(/^[ \t]+/, "", v)
		  out = out (out == "" ? "" : ", ") v }
		END { print out }'
}

# push_pull BASE NAME: push a small image with curl, read it back.
push_pull() {
	local saved=$BASE
	BASE=$1
	make_image "$2" v1 "$TRASH/img.$2" &&
	reg_curl GET "/v2/$2/manifests/v1" -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_body_file "$TRASH/img.$2/manifest.json"
	local rc=$?
	BASE=$saved
	return $rc
}

# ---- the registry:2 image's config.yml (2.8), as it ships

cat >"$TRASH/image-2.8.yml" <<'EOF'
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF

# The registry:3 image's file: a debug server with Prometheus, tag
# concurrency.
cat >"$TRASH/image-3.yml" <<'EOF'
version: 0.1
log:
  level: debug
  fields:
    service: registry
    environment: development
storage:
    delete:
      enabled: true
    cache:
        blobdescriptor: inmemory
    filesystem:
        rootdirectory: /var/lib/registry
    tag:
      concurrencylimit: 5
http:
    addr: :5000
    debug:
        addr: :5001
        prometheus:
            enabled: true
            path: /metrics
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF

# Only loopback: the files listen on every interface, the tests do not.
LOOP_ENV="REGISTRY_HTTP_ADDR=127.0.0.1:$PORT REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$TRASH/root-image"

test_expect_success REGISTRYD 'the registry:2 image config.yml starts as it is' '
	CONF=$TRASH/image-2.8.yml &&
	start_registryd $LOOP_ENV &&
	grep -q "image-2.8.yml:3: log.fields: warning: not supported by registryd; ignored" registryd.log &&
	grep -q "image-2.8.yml:14: health: warning: not supported by registryd; ignored" registryd.log &&
	reg_curl GET /v2/ &&
	expect_status 200 &&
	expect_header X-Content-Type-Options nosniff &&
	push_pull "$BASE" yaml/image &&
	stop_registryd
'

test_expect_success DOCKER_REGISTRY,CURL 'and serves on docker-registry too' '
	start_reference "$TRASH/image-2.8.yml" \
	    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$TRASH/root-image" &&
	reg_curl GET "http://127.0.0.1:$REF_PORT/v2/yaml/image/manifests/v1" \
	    -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_body_file "$TRASH/img.yaml/image/manifest.json" &&
	expect_header X-Content-Type-Options nosniff &&
	stop_reference
'

test_expect_success REGISTRYD,CURL 'the registry:3 image config.yml starts as it is, its debug listener with /metrics' '
	CONF=$TRASH/image-3.yml &&
	DEBUG_PORT=$(free_port) &&
	start_registryd $LOOP_ENV REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:$DEBUG_PORT &&
	grep -q "listening on 127.0.0.1 port $DEBUG_PORT (debug listener)" registryd.log &&
	reg_curl GET /v2/yaml/image/tags/list &&
	expect_status 200 &&
	jq_body ".tags == [\"v1\"]" &&
	reg_curl GET "http://127.0.0.1:$DEBUG_PORT/metrics" &&
	expect_status 200 &&
	stop_registryd
'

# (Not on docker-registry: storage.tag is registry:3's, and 2.8 takes
# it for a second storage driver.)

# ---- Debian's docker-registry package: its htpasswd path is a directory

DEB_YML=/etc/docker/registry/config.yml
test_expect_success REGISTRYD,DOCKER_REGISTRY,CURL "Debian's $DEB_YML starts as it is and refuses every login" '
	test -f "$DEB_YML" &&
	CONF=$DEB_YML &&
	start_registryd REGISTRY_HTTP_ADDR="127.0.0.1:$PORT" \
	    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$TRASH/root-deb" &&
	grep -q "htpasswd /etc/docker/registry is a directory" registryd.log &&
	reg_curl GET /v2/ -u "docker:docker" &&
	expect_status 401 &&
	expect_header WWW-Authenticate "Basic realm=\"basic-realm\"" &&
	stop_registryd &&
	start_reference "$DEB_YML" \
	    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$TRASH/root-deb" &&
	reg_curl GET "http://127.0.0.1:$REF_PORT/v2/" &&
	expect_status 401 &&
	expect_header WWW-Authenticate "Basic realm=\"basic-realm\"" &&
	reg_curl GET "http://127.0.0.1:$REF_PORT/v2/" -u "docker:docker" &&
	test "$STATUS" != 200 &&
	stop_reference
'

# ---- what the guides write: HTTPS, htpasswd, headers for a web UI

PW='guide-Pass.1'
test_expect_success REGISTRYD,OPENSSL 'setup: the guide config.yml (HTTPS, htpasswd, CORS headers)' '
	make_ca "$CERTS" &&
	make_cert "$CERTS" domain 2001 &&
	mkdir -p auth &&
	htpasswd_line testuser "$PW" >auth/htpasswd &&
	cat >guide.yml <<-EOF
	version: 0.1
	log:
	  level: info
	  formatter: text
	  fields:
	    service: registry
	  accesslog:
	    disabled: false
	storage:
	  delete:
	    enabled: true
	  cache:
	    blobdescriptor: inmemory
	  filesystem:
	    rootdirectory: $TRASH/root-guide
	  maintenance:
	    uploadpurging:
	      enabled: true
	      age: 168h
	      interval: 24h
	      dryrun: false
	    readonly:
	      enabled: false
	http:
	  addr: 127.0.0.1:$PORT
	  secret: a-shared-secret-for-the-guide
	  headers:
	    X-Content-Type-Options: [nosniff]
	    Access-Control-Allow-Origin: ['"'"'https://registry-ui.example.com'"'"']
	    Access-Control-Allow-Methods: ['"'"'HEAD'"'"', '"'"'GET'"'"', '"'"'OPTIONS'"'"', '"'"'DELETE'"'"']
	    Access-Control-Allow-Headers: ['"'"'Authorization'"'"', '"'"'Accept'"'"', '"'"'Cache-Control'"'"']
	    Access-Control-Max-Age: [1728000]
	    Access-Control-Allow-Credentials: [true]
	    Access-Control-Expose-Headers: ['"'"'Docker-Content-Digest'"'"']
	  tls:
	    certificate: $CERTS/domain.crt
	    key: $CERTS/domain.key
	    minimumtls: tls1.2
	auth:
	  htpasswd:
	    realm: basic-realm
	    path: $TRASH/auth/htpasswd
	health:
	  storagedriver:
	    enabled: true
	    interval: 10s
	    threshold: 3
	EOF
	cat guide.yml
'

# check_guide BASE: what the guide's registry answers, on either server.
check_guide() {
	reg_curl GET "$1/v2/" &&
	expect_status 401 &&
	expect_header WWW-Authenticate "Basic realm=\"basic-realm\"" &&
	reg_curl GET "$1/v2/" -u "testuser:$PW" &&
	expect_status 200 &&
	for h in X-Content-Type-Options Access-Control-Allow-Origin \
	    Access-Control-Allow-Methods Access-Control-Allow-Headers \
	    Access-Control-Max-Age Access-Control-Allow-Credentials \
	    Access-Control-Expose-Headers; do
		echo "$h: $(header_values "$h")" >>"headers.$2"
	done &&
	cat "headers.$2"
}

test_expect_success REGISTRYD,OPENSSL,CURL 'registryd serves the guide config.yml over HTTPS with its users and headers' '
	CONF=$TRASH/guide.yml &&
	use_tls &&
	start_registryd &&
	check_guide "https://127.0.0.1:$PORT" registryd &&
	grep -q "^Access-Control-Allow-Methods: HEAD, GET, OPTIONS, DELETE$" headers.registryd &&
	as_user "testuser:$PW" push_pull "https://127.0.0.1:$PORT" guide/img &&
	stop_registryd
'

test_expect_success REGISTRYD,DOCKER_REGISTRY,OPENSSL,CURL 'docker-registry serves the same file with the same headers' '
	start_reference "$TRASH/guide.yml" &&
	check_guide "https://127.0.0.1:$REF_PORT" reference &&
	diff -u headers.reference headers.registryd &&
	as_user "testuser:$PW" reg_curl GET "https://127.0.0.1:$REF_PORT/v2/guide/img/manifests/v1" \
	    -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_body_file "$TRASH/img.guide/img/manifest.json" &&
	stop_reference &&
	BASE=http://127.0.0.1:$PORT && START_BASE= && unset CURL_CA_BUNDLE
'

test_expect_success REGISTRYD,OPENSSL 'check-config prints the equivalent registryd.conf, which reads back the same' '
	"$REGISTRYD" check-config -c guide.yml >equiv.conf 2>check.err &&
	cat equiv.conf check.err &&
	test "$(grep -c warning: check.err)" = 2 &&
	grep -q "^addr = 127.0.0.1:$PORT$" equiv.conf &&
	grep -q "^certificate = $CERTS/domain.crt$" equiv.conf &&
	grep -q "^htpasswd = $TRASH/auth/htpasswd$" equiv.conf &&
	grep -q "^realm = basic-realm$" equiv.conf &&
	grep -q "^delete_enabled = true$" equiv.conf &&
	grep -q "^Access-Control-Allow-Headers = Authorization, Accept, Cache-Control$" equiv.conf &&
	grep -v "^secret =" equiv.conf >equiv.nosecret &&
	"$REGISTRYD" check-config -c equiv.nosecret >again.conf &&
	grep -v "^secret =" again.conf | diff -u equiv.nosecret -
'

# ---- what registryd cannot honour: refused with file, line and key

test_expect_success REGISTRYD 'a pull-through cache config is refused naming the key and line' '
	cat >mirror.yml <<-EOF &&
	version: 0.1
	storage:
	  filesystem:
	    rootdirectory: $TRASH/root-mirror
	http:
	  addr: 127.0.0.1:$PORT
	proxy:
	  remoteurl: http://127.0.0.1:1
	EOF
	test_expect_code 1 "$REGISTRYD" serve -c mirror.yml 2>err &&
	cat err &&
	grep -q "^mirror.yml:7: proxy: pull-through proxy is not supported by registryd; refusing to start$" err &&
	grep -q "refusing to start: the configuration has the errors above" err &&
	test_expect_code 1 "$REGISTRYD" check-config -c mirror.yml >/dev/null
'

# The upstream a pull-through cache asks at start: a stand-in on the
# loopback (never the real one: this test reaches no other host).
UP_PID=
UP_PORT=$(free_port)
stop_upstream() {
	[ -n "$UP_PID" ] && kill "$UP_PID" 2>/dev/null && wait "$UP_PID"
	UP_PID=
	return 0
}
test_atexit stop_upstream

test_expect_success REGISTRYD,DOCKER_REGISTRY,PYTHON3 'docker-registry takes that file (it is a valid registry:2 file)' '
	python3 -c "
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header(\"Content-Length\", \"2\")
        self.end_headers()
        self.wfile.write(b\"{}\")
    def log_message(self, *a):
        pass
http.server.HTTPServer((\"127.0.0.1\", int(sys.argv[1])), H).serve_forever()
" "$UP_PORT" >/dev/null 2>&1 3>&- &
	UP_PID=$! &&
	sed "s|http://127.0.0.1:1|http://127.0.0.1:$UP_PORT|" mirror.yml >mirror-up.yml &&
	wait_for curl -fs "http://127.0.0.1:$UP_PORT/v2/" &&
	start_reference "$TRASH/mirror-up.yml" &&
	stop_reference &&
	stop_upstream &&
	test_expect_code 1 "$REGISTRYD" check-config -c mirror-up.yml >/dev/null
'

test_expect_success REGISTRYD 'token auth and another storage driver are refused at their lines' '
	cat >token.yml <<-EOF &&
	version: 0.1
	storage:
	  inmemory:
	auth:
	  token:
	    realm: https://auth.example.com/token
	    service: registry
	    issuer: auth
	    rootcertbundle: /certs/bundle.pem
	EOF
	test_expect_code 1 "$REGISTRYD" check-config -c token.yml >/dev/null 2>err &&
	cat err &&
	grep -q "^token.yml:3: storage.inmemory: only the filesystem and s3 storage drivers" err &&
	grep -q "^token.yml:5: auth.token: only htpasswd authentication is supported" err &&
	test "$(wc -l <err)" = 2
'

# ---- how the file is named: as registry:2 takes it

test_expect_success REGISTRYD 'the file as an operand, alone or after serve, or REGISTRY_CONFIGURATION_PATH' '
	cat >named.yml <<-EOF &&
	storage:
	  filesystem:
	    rootdirectory: $TRASH/root-named
	http:
	  addr: 127.0.0.1:$PORT
	  headers:
	    X-Named: [yes]
	EOF
	"$REGISTRYD" check-config named.yml | grep -q "^X-Named = yes$" &&
	REGISTRY_CONFIGURATION_PATH=$TRASH/named.yml "$REGISTRYD" check-config |
	    grep -q "^X-Named = yes$" &&
	test_expect_code 1 env REGISTRY_CONFIGURATION_PATH=$TRASH/nonexistent.yml \
	    "$REGISTRYD" check-config 2>err &&
	grep -q "nonexistent.yml: No such file or directory" err &&
	("$REGISTRYD" named.yml 2>>registryd.log 3>&- & echo $! >pid) &&
	test_atexit "kill \$(cat $TRASH/pid)" &&
	wait_for registryd_is_up &&
	reg_curl GET /v2/ &&
	expect_header X-Named yes &&
	kill -TERM "$(cat pid)" &&
	wait_for test ! -e "/proc/$(cat pid)"
'

# ---- REGISTRY_USERNAME and REGISTRY_PASSWORD without an htpasswd file

test_expect_success REGISTRYD,CURL 'REGISTRY_USERNAME and REGISTRY_PASSWORD alone: one user, in memory' '
	CONF=$TRASH/named.yml &&
	start_registryd REGISTRY_USERNAME=ci REGISTRY_PASSWORD=ci-Secret.9 &&
	grep -q "authentication: user ci (REGISTRY_USERNAME), in memory" registryd.log &&
	! grep -q "ci-Secret" registryd.log &&
	reg_curl GET /v2/ &&
	expect_status 401 &&
	reg_curl GET /v2/ -u ci:wrong &&
	expect_status 401 &&
	reg_curl GET /v2/ -u ci:ci-Secret.9 &&
	expect_status 200 &&
	! find "$TRASH" -name htpasswd -newer named.yml | grep . &&
	stop_registryd
'

test_done
