#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# The web interface: its files and headers (curl), [ui] enabled = false,
# the status endpoint, the page's script logic (node:test), and the whole
# flow in a real headless Chromium driven by playwright-core
# (test/ui/e2e.mjs): log in, filter, a repository's tags with sizes and
# platforms, a manifest, delete a tag and see it gone from tags/list,
# once with the mouse and once with the keyboard only. The images (one a
# multi-platform index) are built locally and pushed with skopeo.
# Screenshots go to test/ui/output/ (UI_OUT), kept after the run.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/tls-lib.sh"

UI_DIR="$TEST_DIRECTORY/ui"
UI_OUT=${UI_OUT:-$UI_DIR/output}
OCIIMAGES="$TEST_DIRECTORY/integ/lib-py/ociimages.py"
PA='alice-UI.1'
HT="$TRASH/htpasswd"

# Node and Chromium: tools, so under CI=true missing is a failure.
# PLAYWRIGHT: playwright-core installed by npm ci in test/ui
# (scripts/install-deps.sh test).
eval "ui_orig_prereq_check() $(declare -f prereq_check | tail -n +2)"
prereq_check() {
	case "$1" in
	NODE)	command -v node >/dev/null ;;
	CHROMIUM) [ -x "${CHROMIUM:-/usr/bin/chromium}" ] ;;
	PLAYWRIGHT) [ -f "$UI_DIR/node_modules/playwright-core/package.json" ] ;;
	*)	ui_orig_prereq_check "$1" ;;
	esac
}

ui_config() {
	rm -f "$CONF"
	REG_EXTRA=$(auth_section "$HT" "$@")
	write_config
}

# alice's skopeo copy from the local layout to team/app:TAG.
push_tag() {
	reg_skopeo copy --all --preserve-digests --dest-tls-verify=false \
	    --dest-creds "alice:$PA" "oci:$TRASH/layout:$1" \
	    "docker://127.0.0.1:$PORT/${2:-team/app}:${3:-$1}"
}

e2e() {
	UI_FLOW=$1 UI_BASE=$BASE UI_USER=alice UI_PASS=$PA \
	    UI_REPORT="$TRASH/images.json" UI_OUT=$UI_OUT \
	    UI_REPOS=${UI_REPOS:-} UI_BLOBS=${UI_BLOBS:-} \
	    UI_BLOB_BYTES=${UI_BLOB_BYTES:-} \
	    timeout 180 node "$UI_DIR/e2e.mjs"
}

test_expect_success NODE 'the page script: natural order, grouping, sizes (node:test)' '
	node --test "$UI_DIR/lib.test.mjs" >out 2>&1
	rc=$?
	cat out &&
	test "$rc" = 0 &&
	grep -q "^# fail 0" out
'

test_expect_success 'the page loads nothing from elsewhere (no CDN, no inline script or style)' '
	! grep -nE "(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/" "$TOP"/ui/*.html "$TOP"/ui/*.mjs "$TOP"/ui/*.css |
	    grep -v "www.w3.org/2000/svg" &&
	! grep -niE "<script>|<script [^>]*>[^<]|<style|[[:space:]](style|on[a-z]+)=" "$TOP"/ui/index.html
'

test_expect_success REGISTRYD,CURL 'setup: registryd with a user, deletes on' '
	htpasswd_line alice "$PA" >"$HT" &&
	ui_config &&
	start_registryd
'

test_expect_success REGISTRYD,CURL 'GET / and /ui redirect to /ui/' '
	reg_curl GET / &&
	expect_status 302 &&
	expect_header Location /ui/ &&
	reg_curl GET /ui &&
	expect_status 302 &&
	expect_header Location /ui/
'

test_expect_success REGISTRYD,CURL 'GET /ui/: the page, served to anyone, with a strict CSP' '
	reg_curl GET /ui/ &&
	expect_status 200 &&
	expect_header_prefix Content-Type "text/html" &&
	grep -q "<script type=\"module\" src=\"app.mjs\"></script>" body &&
	csp=$(header Content-Security-Policy) &&
	echo "CSP: $csp" &&
	case "$csp" in *unsafe-inline* | *unsafe-eval* | "") false ;; esac &&
	case "$csp" in *"default-src '"'"'none'"'"'"*"script-src '"'"'self'"'"'"*) ;; *) false ;; esac &&
	expect_header X-Frame-Options DENY &&
	expect_header Referrer-Policy no-referrer &&
	expect_header X-Content-Type-Options nosniff &&
	expect_header Cache-Control no-cache &&
	reg_curl GET /ui/index.html &&
	expect_status 200 &&
	expect_body_file "$TOP/ui/index.html"
'

test_expect_success REGISTRYD,CURL 'every file of ui/ is served byte for byte with its type' '
	for f in "$TOP"/ui/*.*; do
		n=${f##*/} &&
		reg_curl GET "/ui/$n" &&
		expect_status 200 &&
		expect_body_file "$f" || return 1
		case $n in
		*.mjs) expect_header Content-Type "text/javascript; charset=utf-8" ;;
		*.css) expect_header Content-Type "text/css; charset=utf-8" ;;
		*.svg) expect_header Content-Type "image/svg+xml" ;;
		*.html) expect_header Content-Type "text/html; charset=utf-8" ;;
		esac || return 1
	done
'

test_expect_success REGISTRYD,CURL 'If-None-Match: 304 with the same ETag; HEAD' '
	reg_curl GET /ui/app.mjs &&
	etag=$(header ETag) &&
	test -n "$etag" &&
	reg_curl GET /ui/app.mjs -H "If-None-Match: $etag" &&
	expect_status 304 &&
	expect_header ETag "$etag" &&
	test ! -s body &&
	reg_curl GET /ui/app.mjs -H "If-None-Match: \"other\"" &&
	expect_status 200 &&
	reg_curl HEAD /ui/ &&
	expect_status 200 &&
	test "$(header Content-Length)" = "$(size_of "$TOP/ui/index.html")"
'

test_expect_success REGISTRYD,CURL 'unknown or malformed file names: 404, never a file elsewhere' '
	for p in /ui/nope.js /ui/INDEX.HTML /ui/../v2/ /ui/..%2fv2 /ui/a/b.js \
	    /ui/.hidden /ui/app..mjs /ui/api /ui/api/ /ui/api/other; do
		reg_curl GET "$p" --path-as-is &&
		expect_status 404 || return 1
	done &&
	reg_curl POST /ui/ &&
	expect_status 405 &&
	expect_header Allow "GET, HEAD"
'

test_expect_success REGISTRYD,CURL '/ui/api/status needs a user like a pull' '
	reg_curl GET /ui/api/status &&
	expect_status 401 &&
	expect_header_prefix WWW-Authenticate "Basic " &&
	as_user "alice:wrong" reg_curl GET /ui/api/status &&
	expect_status 401
'

test_expect_success REGISTRYD,CURL,SKOPEO,PYTHON3 'push two images (one an index of two platforms) with skopeo' '
	python3 "$OCIIMAGES" "$TRASH/layout" >images.json &&
	cat images.json &&
	push_tag 1.9 &&
	push_tag 1.10 &&
	push_tag 1.9 tools/lint latest &&
	push_tag 1.9 solo v1 &&
	as_user "alice:$PA" reg_curl GET /v2/team/app/tags/list &&
	jq_body ".tags == [\"1.10\", \"1.9\"]"
'

test_expect_success REGISTRYD,CURL,SKOPEO,PYTHON3 'a referrer of 1.9 (an SBOM artifact)' '
	M19=$(jq -r ".[\"1.9\"].digest" images.json) &&
	S19=$(jq -r ".[\"1.9\"].images[0].size" images.json) &&
	printf "{}" >empty.json &&
	printf "{\"spdxVersion\":\"SPDX-2.3\"}" >sbom.json &&
	as_user "alice:$PA" push_blob team/app empty.json &&
	as_user "alice:$PA" push_blob team/app sbom.json &&
	m=$(jq -r ".[\"1.9\"].mediaType" images.json) &&
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":\"application/spdx+json\",\"config\":%s,\"layers\":[%s],\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s}}" \
	    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_EMPTY" empty.json)" \
	    "$(json_descriptor application/spdx+json sbom.json)" "$m" "$M19" \
	    "$(size_of "$TRASH/layout/blobs/sha256/${M19#sha256:}")" >sbom-manifest.json &&
	as_user "alice:$PA" push_manifest team/app "$(sha256_of sbom-manifest.json)" \
	    sbom-manifest.json "$MT_OCI_MANIFEST"
'

# What the status panel must show: every blob file under the root.
count_blobs() {
	UI_BLOBS=$(find "$ROOT/docker/registry/v2/blobs" -name data -type f | wc -l) &&
	UI_BLOB_BYTES=$(find "$ROOT/docker/registry/v2/blobs" -name data -type f \
	    -printf "%s\n" | awk "{ s += \$1 } END { print s + 0 }") &&
	UI_REPOS=3
}

# status_counted: the status has the catalog's count of what count_blobs
# found (the catalog counts when it refreshes, every catalog_refresh =
# 10 s here).
status_counted() {
	as_user "alice:$PA" reg_curl GET /ui/api/status &&
	jq_body --argjson n "$UI_BLOBS" --argjson b "$UI_BLOB_BYTES" \
	    ".blobs == \$n and .blob_bytes == \$b"
}

test_expect_success REGISTRYD,CURL,SKOPEO,PYTHON3 'the status: version, uptime, counts from the store, what alice may do' '
	count_blobs &&
	WAIT_SECONDS=15 wait_for status_counted &&
	as_user "alice:$PA" reg_curl GET /ui/api/status &&
	expect_status 200 &&
	expect_header Cache-Control no-store &&
	cat body && echo &&
	jq_body ".counted | test(\"^[0-9-]+T[0-9:]+Z$\")" &&
	jq_body ".version | test(\"^[0-9]+\\\\.[0-9]+\")" &&
	jq_body ".uptime_seconds >= 0 and (.started | test(\"Z$\"))" &&
	jq_body ".repositories == 3" &&
	jq_body --argjson n "$UI_BLOBS" ".blobs == \$n" &&
	jq_body --argjson n "$UI_BLOB_BYTES" ".blob_bytes == \$n" &&
	jq_body ".auth == true and .anonymous_pull == false" &&
	jq_body ".user == \"alice\" and .delete_enabled == true and .can_delete == true"
'

test_expect_success REGISTRYD,CURL,NODE,CHROMIUM,PLAYWRIGHT,SKOPEO,PYTHON3 'Chromium, with the mouse: log in, filter, tags, manifest, delete a tag' '
	e2e mouse &&
	as_user "alice:$PA" reg_curl GET /v2/team/app/tags/list &&
	jq_body ".tags == [\"1.10\"]" &&
	test -s "$UI_OUT/mouse-repository.png"
'

test_expect_success REGISTRYD,CURL,NODE,CHROMIUM,PLAYWRIGHT,SKOPEO,PYTHON3 'Chromium, keyboard only: the same flow' '
	push_tag 1.9 &&
	UI_BLOBS= UI_BLOB_BYTES= UI_REPOS= e2e keyboard &&
	as_user "alice:$PA" reg_curl GET /v2/team/app/tags/list &&
	jq_body ".tags == [\"1.10\"]" &&
	test -s "$UI_OUT/keyboard-after-delete.png"
'

test_expect_success REGISTRYD,CURL 'anonymous_pull: the status without a user, nothing to delete' '
	stop_registryd &&
	ui_config "anonymous_pull = true" &&
	start_registryd &&
	reg_curl GET /ui/api/status &&
	expect_status 200 &&
	jq_body ".user == \"\" and .anonymous_pull == true and .can_delete == false" &&
	as_user "alice:$PA" reg_curl GET /ui/api/status &&
	jq_body ".user == \"alice\" and .can_delete == true"
'

test_expect_success REGISTRYD,CURL 'deletes off: nobody may delete' '
	stop_registryd &&
	REG_DELETE=false ui_config &&
	start_registryd &&
	as_user "alice:$PA" reg_curl GET /ui/api/status &&
	jq_body ".delete_enabled == false and .can_delete == false"
'

test_expect_success REGISTRYD,CURL '[ui] enabled = false: /, /ui/ and the status are 404, /v2/ works' '
	stop_registryd &&
	start_registryd REGISTRY_UI_ENABLED=false &&
	for p in / /ui /ui/ /ui/app.mjs; do
		reg_curl GET "$p" &&
		expect_status 404 || return 1
	done &&
	as_user "alice:$PA" reg_curl GET /ui/api/status &&
	expect_status 404 &&
	as_user "alice:$PA" reg_curl GET /v2/ &&
	expect_status 200 &&
	stop_registryd &&
	rm -f "$CONF" &&
	REG_EXTRA="$(auth_section "$HT")
[ui]
enabled = false" &&
	write_config &&
	start_registryd &&
	reg_curl GET /ui/ &&
	expect_status 404
'

test_done
