#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# GET /metrics (operations: health, metrics): the Prometheus text format
# as promtool checks it, counters that move as pushes and pulls happen
# (under the route's name, never the repository's, even for repositories
# named like routes), the storage figures of the catalog's walk, uploads
# and requests in flight, authentication on the main listener (also with
# anonymous_pull) and the debug listener ([http] debug_addr) without it,
# plain HTTP beside a TLS listener.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/tls-lib.sh"

MIB=1048576
DPORT=$(free_port) || exit 1
DEBUG="http://127.0.0.1:$DPORT"
HT="$TRASH/htpasswd"
PA='alice-Pw.1x'
# Every handler label registryd can write.
HANDLERS='base|catalog|tags|manifest|blob|blob_upload|blob_upload_chunk|referrers|ui_root|ui|ui_status|v1_ping|v1_search|healthz|readyz|metrics|other'

# scrape FILE [URL [curl args...]]: GET URL (default /metrics) into
# FILE: 200, the text format's content type, and promtool finds nothing
# to complain about.
scrape() {
	local out=$1 target=${2:-/metrics}
	shift
	[ $# = 0 ] || shift
	reg_curl GET "$target" "$@" && expect_status 200 &&
	expect_header_prefix Content-Type "text/plain; version=0.0.4" &&
	cp "$TRASH/body" "$out" &&
	promtool_ok "$out"
}

# promtool_ok FILE: promtool check metrics is silent and content.
promtool_ok() {
	promtool check metrics <"$1" >"$TRASH/promtool.out" 2>&1
	local rc=$?
	cat "$TRASH/promtool.out"
	[ "$rc" = 0 ] && [ ! -s "$TRASH/promtool.out" ]
}

# settled FILE: scrape into FILE once no request but the scrape itself
# is in flight, so that every request answered before is counted (a
# request is counted when its response has left, which may be just
# after the client has it).
settled() {
	WAIT_SECONDS=5 wait_for settled_once "$1"
}
settled_once() {
	scrape "$1" >/dev/null &&
	awk '/^registry_http_in_flight_requests\{/ &&
	    $1 != "registry_http_in_flight_requests{handler=\"metrics\"}" &&
	    $2 != 0 { bad = 1 } END { exit bad }' "$1"
}

# scrape_until FILE SERIES VALUE: scrape into FILE until SERIES has
# VALUE ($WAIT_SECONDS, default 5).
scrape_until() {
	WAIT_SECONDS=${WAIT_SECONDS:-5} wait_for scrape_is "$@"
}
scrape_is() {
	scrape "$1" >/dev/null && [ "$(metric "$1" "$2")" = "$3" ]
}

# metric FILE SERIES: the value of that exact series (name{labels} as
# written), 0 when it is absent.
metric() {
	awk -v k="$2" '$1 == k { v = $2 } END { print (v == "" ? 0 : v) }' "$1"
}

# grew BEFORE AFTER SERIES OP N: after - before compares with N (awk
# OP: ==, >=), for float values too.
grew() {
	local b a
	b=$(metric "$1" "$3") && a=$(metric "$2" "$3") &&
	echo "$3: $b -> $a (want +$5 $4)" &&
	awk -v b="$b" -v a="$a" -v n="$5" -v op="$4" 'BEGIN {
		d = a - b
		exit !((op == "==" && d == n) || (op == ">=" && d >= n))
	}'
}

# histograms_ok FILE: every histogram series has non-decreasing buckets
# whose +Inf bucket equals its _count.
histograms_ok() {
	awk '
	/^#/ { next }
	/_bucket\{/ {
		key = $1; sub(/,?le="[^"]*"/, "", key); sub(/_bucket/, "", key)
		if (key in last && $2 < last[key]) { print "decreasing: " $0; bad = 1 }
		last[key] = $2
		if ($1 ~ /le="\+Inf"/) inf[key] = $2
		next
	}
	/_count[{ ]/ { key = $1; sub(/_count/, "", key); cnt[key] = $2 }
	END {
		for (k in cnt) {
			k2 = k; sub(/\{\}$/, "", k2)
			if (!(k in inf) && !(k2 in inf)) continue
			v = (k in inf) ? inf[k] : inf[k2]
			if (v != cnt[k]) { print "+Inf " v " != count " cnt[k] " for " k; bad = 1 }
		}
		exit bad
	}' "$1"
}

# labels_ok FILE: handler labels come from the route table only, and
# no label value holds a repository name, a slash or a digest.
labels_ok() {
	local bad
	bad=$(grep -o 'handler="[^"]*"' "$1" | sort -u |
	    grep -Ev "^handler=\"($HANDLERS)\"\$") &&
	    { echo "unexpected handlers: $bad"; return 1; }
	bad=$(grep -v '^#' "$1" | grep -o '="[^"]*"' | sort -u |
	    grep -E '/|sha256|[0-9a-f]{20}|secret') &&
	    { echo "unexpected label values: $bad"; return 1; }
	return 0
}

# hold_patch NAME SECONDS: start an upload of NAME and send a PATCH whose
# body never comes whole, holding the request open for SECONDS, in the
# background (HOLD_PID).
hold_patch() {
	upload_start "$1" >/dev/null || return 1
	local path=${UPLOAD#"$BASE"}
	python3 - "$PORT" "$path" "$2" <<-'EOF' &
	import socket, sys, time
	port, path, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
	s = socket.create_connection(("127.0.0.1", port), timeout=10)
	s.sendall(("PATCH %s HTTP/1.1\r\nHost: t\r\n"
	           "Content-Type: application/octet-stream\r\n"
	           "Content-Length: 100000\r\n\r\n" % path).encode() + b"x" * 10)
	time.sleep(secs)
	s.close()
	EOF
	HOLD_PID=$!
}

prereq_check_promtool() { command -v promtool >/dev/null; }
eval "t6300_orig_prereq_check() $(declare -f prereq_check | tail -n +2)"
prereq_check() {
	case "$1" in
	PROMTOOL) prereq_check_promtool ;;
	# A /proc as systemd's ProcSubset=pid mounts it: no /proc/stat.
	PROCSUBSET)
		[ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
		unshare -m sh -c "mount -t proc -o subset=pid proc /proc &&
		    test -e /proc/self/stat && ! test -e /proc/stat" ;;
	*) t6300_orig_prereq_check "$1" ;;
	esac
}

test_expect_success CURL,PROMTOOL,REGISTRYD 'setup: /metrics answers in the text format' '
	start_registryd REGISTRY_STORAGE_CATALOG_REFRESH=1 &&
	settled m0.txt &&
	grep -q "^registry_http_in_flight_requests{handler=\"metrics\"} 1$" m0.txt &&
	grep -q "^registryd_http_connections [1-9]" m0.txt &&
	grep -q "^process_start_time_seconds [1-9]" m0.txt &&
	grep -q "^process_open_fds [1-9]" m0.txt &&
	grep -q "^process_resident_memory_bytes [1-9]" m0.txt &&
	grep -q "^registryd_uploads_in_progress 0$" m0.txt &&
	grep -q "^registryd_pool_pending_jobs " m0.txt
'

test_expect_success CURL,PROMTOOL,REGISTRYD 'pushes count under their routes, bytes in at least the blobs' '
	IMG_LAYER_SIZE=$MIB make_image metrics v1 img1 &&
	IMG_LAYER_SIZE=$MIB make_image blob_upload/manifest metrics img2 &&
	random_file secret.bin 5000 &&
	push_blob zz-secret-repo secret.bin &&
	settled m1.txt &&
	grew m0.txt m1.txt "registry_http_requests_total{code=\"202\",handler=\"blob_upload\",method=\"post\"}" == 5 &&
	grew m0.txt m1.txt "registry_http_requests_total{code=\"201\",handler=\"blob_upload_chunk\",method=\"put\"}" == 5 &&
	grew m0.txt m1.txt "registry_http_requests_total{code=\"201\",handler=\"manifest\",method=\"put\"}" == 2 &&
	grew m0.txt m1.txt "registry_http_request_duration_seconds_count{handler=\"blob_upload_chunk\",method=\"put\"}" == 5 &&
	grew m0.txt m1.txt "registry_http_request_size_bytes_sum{handler=\"blob_upload_chunk\"}" ">=" $((2 * MIB + 5000)) &&
	grew m0.txt m1.txt "registry_http_request_size_bytes_sum{handler=\"manifest\"}" ">=" \
	    $(($(size_of img1/manifest.json) + $(size_of img2/manifest.json))) &&
	histograms_ok m1.txt
'

test_expect_success CURL,PROMTOOL,REGISTRYD 'the worker pool by class: commits went to store, nothing waits now' '
	# Each blob PUT commits (fsync) on a store worker.
	grew m0.txt m1.txt "registryd_pool_jobs_total{class=\"store\"}" ">=" 5 &&
	(
		# Threads started: a password-check one only with auth.
		grep -q "^registryd_pool_threads{class=\"store\"} [1-9]" m1.txt &&
		grep -q "^registryd_pool_threads{class=\"walk\"} [1-9]" m1.txt &&
		grep -q "^registryd_pool_threads{class=\"auth\"} 0$" m1.txt &&
		for c in store auth walk; do
			grep -q "^registryd_pool_threads_max{class=\"$c\"} [1-9]" m1.txt &&
			grep -q "^registryd_pool_thread_start_failures_total{class=\"$c\"} 0$" m1.txt &&
			grep -q "^registryd_pool_queued_jobs{class=\"$c\"} 0$" m1.txt &&
			grep -q "^registryd_pool_running_jobs{class=\"$c\"} [0-9]" m1.txt &&
			grep -q "^registryd_pool_refused_total{class=\"$c\"} 0$" m1.txt || exit 1
		done
	)
'

test_expect_success CURL,PROMTOOL,REGISTRYD 'labels never carry a repository name, also one named like a route' '
	labels_ok m1.txt &&
	! grep -q "zz-secret" m1.txt &&
	! grep -q "$(sha256_of secret.bin | cut -d: -f2)" m1.txt &&
	! grep -q "$(sha256_of img1/layer.bin | cut -d: -f2)" m1.txt &&
	! grep -q "blob_upload/manifest" m1.txt &&
	# The repository "metrics" is counted as manifests and blobs.
	reg_curl GET /v2/metrics/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	reg_curl GET /v2/metrics/tags/list && expect_status 200 &&
	# Nor a search term or a file of the web interface.
	reg_curl GET "/v1/search?q=zz-secret-repo" && expect_status 200 &&
	reg_curl GET /ui/zz-secret.js && expect_status 404 &&
	settled m2.txt &&
	! grep -q "zz-secret" m2.txt &&
	grew m1.txt m2.txt "registry_http_requests_total{code=\"200\",handler=\"v1_search\",method=\"get\"}" == 1 &&
	grew m1.txt m2.txt "registry_http_requests_total{code=\"404\",handler=\"ui\",method=\"get\"}" == 1 &&
	grew m1.txt m2.txt "registry_http_requests_total{code=\"200\",handler=\"manifest\",method=\"get\"}" == 1 &&
	grew m1.txt m2.txt "registry_http_requests_total{code=\"200\",handler=\"tags\",method=\"get\"}" == 1 &&
	labels_ok m2.txt
'

test_expect_success CURL,PROMTOOL,REGISTRYD 'pulls count bytes out; HEAD, 404 and unknown paths apart' '
	settled m2.txt &&
	reg_curl GET "/v2/metrics/blobs/$(sha256_of img1/layer.bin)" &&
	expect_status 200 && expect_body_file img1/layer.bin &&
	reg_curl HEAD "/v2/metrics/blobs/$(sha256_of img1/layer.bin)" &&
	expect_status 200 &&
	reg_curl GET /v2/metrics/manifests/nosuchtag && expect_status 404 &&
	reg_curl GET /nosuchpath && expect_status 404 &&
	reg_curl GET /v2/Bad/tags/list && expect_status 400 &&
	settled m3.txt &&
	grew m2.txt m3.txt "registry_http_requests_total{code=\"200\",handler=\"blob\",method=\"get\"}" == 1 &&
	grew m2.txt m3.txt "registry_http_requests_total{code=\"200\",handler=\"blob\",method=\"head\"}" == 1 &&
	grew m2.txt m3.txt "registry_http_response_size_bytes_sum{handler=\"blob\"}" ">=" $MIB &&
	grew m2.txt m3.txt "registry_http_requests_total{code=\"404\",handler=\"manifest\",method=\"get\"}" == 1 &&
	grew m2.txt m3.txt "registry_http_requests_total{code=\"404\",handler=\"other\",method=\"get\"}" == 1 &&
	grew m2.txt m3.txt "registry_http_requests_total{code=\"400\",handler=\"other\",method=\"get\"}" == 1 &&
	grew m2.txt m3.txt "registry_http_requests_total{code=\"200\",handler=\"metrics\",method=\"get\"}" ">=" 1 &&
	histograms_ok m3.txt && labels_ok m3.txt
'

test_expect_success CURL,PROMTOOL,REGISTRYD 'storage figures from the catalog refresh match the tree' '
	nblobs=$(find "$ROOT/docker/registry/v2/blobs" -name data -type f | wc -l) &&
	nbytes=$(find "$ROOT/docker/registry/v2/blobs" -name data -type f -printf "%s\n" |
	    awk "{ s += \$1 } END { print s }") &&
	reg_curl GET /v2/_catalog && expect_status 200 &&
	nrepos=$(jq ".repositories | length" "$TRASH/body") &&
	echo "tree: $nblobs blobs, $nbytes bytes, $nrepos repositories" &&
	test "$nblobs" -ge 5 &&
	WAIT_SECONDS=10 scrape_until m4.txt registryd_storage_blobs "$nblobs" &&
	test "$(metric m4.txt registryd_storage_blob_bytes)" = "$nbytes" &&
	test "$(metric m4.txt registryd_storage_repositories)" = "$nrepos" &&
	scan=$(metric m4.txt registryd_storage_scan_timestamp_seconds) &&
	test "${scan%.*}" -ge $(($(date +%s) - 30))
'

test_expect_success CURL,PROMTOOL,PYTHON3,REGISTRYD 'uploads and requests in flight; an abandoned PATCH is 499' '
	settled m5.txt &&
	upload_start mx/inflight &&
	scrape m6.txt &&
	grew m5.txt m6.txt registryd_uploads_in_progress == 1 &&
	reg_curl DELETE "$UPLOAD" && expect_status 204 &&
	scrape m7.txt &&
	grew m5.txt m7.txt registryd_uploads_in_progress == 0 &&
	hold_patch mx/held 3 &&
	scrape_until m8.txt "registry_http_in_flight_requests{handler=\"blob_upload_chunk\"}" 1 &&
	wait "$HOLD_PID" &&
	settled m9.txt &&
	test "$(metric m9.txt "registry_http_in_flight_requests{handler=\"blob_upload_chunk\"}")" = 0 &&
	grew m5.txt m9.txt "registry_http_requests_total{code=\"499\",handler=\"blob_upload_chunk\",method=\"patch\"}" == 1
'

test_expect_success CURL,PROMTOOL,REGISTRYD 'HEAD, a query, other methods and paths near /metrics' '
	reg_curl HEAD /metrics && expect_status 200 &&
	expect_header_prefix Content-Type "text/plain; version=0.0.4" &&
	test "$(header Content-Length)" -gt 1000 &&
	scrape m10.txt "$BASE/metrics?name%5B%5D=x&&=%zz" &&
	reg_curl POST /metrics -d x && expect_status 405 &&
	expect_error_code UNSUPPORTED && expect_header Allow "GET, HEAD" &&
	reg_curl GET /metrics/ && expect_status 404 &&
	reg_curl GET /Metrics && expect_status 404 &&
	reg_curl GET /v2/metrics && expect_status 404
'

test_expect_success CURL,PROMTOOL,REGISTRYD 'with auth, /metrics needs credentials, even with anonymous_pull' '
	stop_registryd &&
	make_htpasswd "$HT" "alice:$PA" &&
	rm -f "$CONF" &&
	REG_EXTRA=$(auth_section "$HT" "anonymous_pull = true") &&
	write_config &&
	start_registryd &&
	reg_curl GET /v2/metrics/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	reg_curl GET /metrics && expect_status 401 &&
	expect_error_code UNAUTHORIZED &&
	reg_curl GET /metrics -u alice:wrong && expect_status 401 &&
	as_user "alice:$PA" scrape a1.txt &&
	test "$(metric a1.txt "registryd_auth_failures_total{reason=\"missing\"}")" -ge 1 &&
	test "$(metric a1.txt "registryd_auth_failures_total{reason=\"invalid\"}")" = 1 &&
	grep -q "^registry_http_requests_total{code=\"401\",handler=\"metrics\",method=\"get\"} 2$" a1.txt
'

test_expect_success CURL,PROMTOOL,REGISTRYD 'the debug listener serves /metrics and the probes alone, without auth' '
	stop_registryd &&
	REG_HTTP_EXTRA="debug_addr = 127.0.0.1:$DPORT" &&
	write_config &&
	start_registryd &&
	grep -q "listening on 127.0.0.1 port $DPORT (debug listener)" "$TRASH/registryd.log" &&
	reg_curl GET "$DEBUG/healthz" && expect_status 200 &&
	reg_curl GET "$DEBUG/readyz" && expect_status 200 &&
	scrape d1.txt "$DEBUG/metrics" &&
	# With auth on, one password-check thread runs before any login.
	grep -q "^registryd_pool_threads{class=\"auth\"} 1$" d1.txt &&
	grep -q "^registryd_pool_jobs_total{class=\"auth\"} 0$" d1.txt &&
	scrape d2.txt "$DEBUG/metrics?x=1" &&
	reg_curl HEAD "$DEBUG/metrics" && expect_status 200 &&
	reg_curl POST "$DEBUG/metrics" -d x && expect_status 405 &&
	expect_header Allow "GET, HEAD" &&
	reg_curl GET "$DEBUG/v2/" && expect_status 404 &&
	expect_error_code NOT_FOUND &&
	reg_curl GET "$DEBUG/v2/metrics/manifests/v1" && expect_status 404 &&
	reg_curl GET "$DEBUG/v2/_catalog" && expect_status 404 &&
	reg_curl GET "$DEBUG/" && expect_status 404 &&
	# The main listener still wants credentials.
	reg_curl GET /metrics && expect_status 401 &&
	labels_ok d2.txt
'

test_expect_success CURL,PROMTOOL,OPENSSL,REGISTRYD 'beside a TLS listener the debug listener is plain HTTP; REGISTRY_HTTP_DEBUG_ADDR' '
	stop_registryd &&
	make_ca "$CERTS" && make_cert "$CERTS" server 1001 &&
	rm -f "$CONF" &&
	REG_HTTP_EXTRA= &&
	REG_EXTRA=$(tls_section "$CERTS/server.crt" "$CERTS/server.key") &&
	write_config &&
	start_registryd REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:$DPORT &&
	scrape t1.txt "$DEBUG/metrics" &&
	use_tls &&
	scrape t2.txt &&
	reg_curl GET /v2/ && expect_status 200
'

test_expect_success CURL,REGISTRYD 'a debug address that is taken stops the start' '
	REG_HTTP_EXTRA="debug_addr = 127.0.0.1:$PORT" &&
	CONF_SAVE=$CONF && CONF=$TRASH/taken.conf &&
	REG_ADDR=127.0.0.1:$(free_port) write_config && CONF=$CONF_SAVE &&
	test_expect_code 1 timeout 10 "$REGISTRYD" serve -c "$TRASH/taken.conf" \
	    >taken.out 2>&1 &&
	cat taken.out &&
	grep -q "refusing to start: cannot listen on the debug address 127.0.0.1:$PORT" taken.out
'

# Under the unit's ProcSubset=pid, /proc/stat (the boot time) is hidden.
test_expect_success CURL,PROMTOOL,REGISTRYD,PROCSUBSET 'process_start_time_seconds without /proc/stat (ProcSubset=pid)' '
	stop_registryd &&
	cat >procsubset <<-EOF &&
	#!/bin/sh
	exec unshare -m sh -c "mount -t proc -o subset=pid proc /proc && exec \"\\\$0\" \"\\\$@\"" "$REGISTRYD" "\$@"
	EOF
	chmod +x procsubset &&
	before=$(date +%s) &&
	REGISTRYD=$TRASH/procsubset start_registryd \
	    REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:$DPORT &&
	after=$(date +%s) &&
	test "$(readlink "/proc/$REG_PID/exe")" = "$(readlink -f "$REGISTRYD")" &&
	! nsenter -t "$REG_PID" -m test -e /proc/stat &&
	scrape ps.txt "$DEBUG/metrics" &&
	start=$(sed -n "s/^process_start_time_seconds //p" ps.txt) &&
	echo "started $start, between $before and $after" &&
	awk -v s="$start" -v b="$before" -v a="$after" \
	    "BEGIN { exit !(s != \"\" && s >= b - 1 && s <= a + 1) }"
'

test_done
