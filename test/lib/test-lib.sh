# shellcheck shell=bash disable=SC2034
# test-lib.sh: a tiny git-style test library for registryd's integration
# tests. Each test/integ/tNNNN-topic.sh sources this file, calls
# test_expect_success for every check and ends with test_done. Output is TAP
# for prove; without prove the last line is "# N passed, M failed".
#
# What it provides:
#   TRASH            throw-away directory test/trash.<script>, removed on
#                    success, kept on failure (with the server log)
#   PORT, BASE       a free loopback port and http://127.0.0.1:PORT
#   write_config     INI file $CONF from REG_* variables (see below)
#   start_registryd [VAR=value...]   start the server in the background,
#                    stderr to $TRASH/registryd.log, wait for GET /v2/
#   stop_registryd   SIGTERM, bounded wait; returns the server's exit status
#   reg_curl METHOD PATH [curl args...]   one request; status, headers and
#                    body land in $TRASH/{status,headers,body}
#   expect_status, expect_header, header, expect_error_code, sha256_of,
#   push_blob, push_manifest, free_port, test_atexit
#
# The server under test is $REGISTRYD (default build/registryd under the
# repository top). TEST_TARGET=reference runs the same tests against Debian's
# docker-registry (the reference registry:2) instead; checks that only make
# sense for registryd carry the REGISTRYD prerequisite and are skipped then.
#
# Only loopback addresses are ever used. Everything started here is stopped
# by the EXIT trap, every wait is bounded.

# ---------------------------------------------------------------- set-up

TEST_DIRECTORY=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOP=$(cd "$TEST_DIRECTORY/.." && pwd)
TEST_NAME=$(basename "$0" .sh)
TRASH="$TEST_DIRECTORY/trash.$TEST_NAME"

case "${REGISTRYD:-}" in
"")	REGISTRYD="$TOP/build/registryd" ;;
/*)	;;
*)	REGISTRYD="$TOP/$REGISTRYD" ;;
esac
TEST_TARGET=${TEST_TARGET:-registryd}

# Tests must not see a developer's registry settings (or proxies: every
# request goes to 127.0.0.1).
while read -r v; do unset "$v"; done < <(compgen -e | grep '^REGISTRY_' || true)
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY='*' no_proxy='*'
export LC_ALL=C

test_count=0
test_failure=0
test_success=0
test_skip=0
test_atexit_cmds=()
REG_PID=

rm -rf "$TRASH" || exit 1
mkdir -p "$TRASH" || exit 1
cd "$TRASH" || exit 1

# Keep the original stdout for TAP; everything a test prints goes to a file.
exec 3>&1

say() { printf '%s\n' "$*" >&3; }

# Print a file as TAP comment lines (at most the last $2 lines).
say_file() {
	[ -s "$1" ] || return 0
	tail -n "${2:-40}" "$1" | cut -c1-400 | sed 's/^/#   /' >&3
}

# ---------------------------------------------------------- prerequisites

# test_have_prereq P[,P...]: 0 when every prerequisite is met. Sets
# missing_prereq to the first one missing.
test_have_prereq() {
	local p ifs=$IFS
	IFS=,
	for p in $1; do
		IFS=$ifs
		if ! prereq_check "$p"; then
			missing_prereq=$p
			return 1
		fi
	done
	IFS=$ifs
	return 0
}

prereq_check() {
	case "$1" in
	CURL)	command -v curl >/dev/null && command -v jq >/dev/null ;;
	PYTHON3) command -v python3 >/dev/null ;;
	# A C compiler: $CC, which may be two words ("ccache cc"), or cc.
	CC)	(set -- ${CC:-cc} && command -v "$1" >/dev/null) ;;
	SKOPEO)	command -v skopeo >/dev/null ;;
	DOCKER)	command -v docker >/dev/null && command -v dockerd >/dev/null &&
		    [ "$(id -u)" = 0 ] ;;
	DOCKER_REGISTRY) command -v docker-registry >/dev/null ;;
	BUSYBOX) [ -x /bin/busybox ] && file_is_static /bin/busybox ;;
	# The server under test is registryd itself (not TEST_TARGET=reference).
	REGISTRYD) [ "$TEST_TARGET" = registryd ] ;;
	# Not a sanitizer build (make test-asan sets ASAN_OPTIONS): ASan's
	# quarantine makes memory figures meaningless.
	NOT_ASAN) [ -z "${ASAN_OPTIONS:-}" ] ;;
	# The data is in $ROOT (not TEST_STORE=s3): checks of the tree.
	FSROOT) [ "${TEST_STORE:-}" != s3 ] ;;
	*)	echo "unknown prerequisite $1" >&2; return 1 ;;
	esac
}

file_is_static() {
	# busybox-static's binary has no program interpreter.
	! LC_ALL=C od -An -c -N 4096 "$1" 2>/dev/null | tr -d ' \n' |
	    grep -q 'ld-linux'
}

# Prerequisites that name a tool the Debian packages provide: under CI
# (CI=true) their absence is a failure, never a skip.
prereq_is_tool() {
	case "$1" in
	REGISTRYD | NOT_ASAN | FSROOT) return 1 ;;
	*) return 0 ;;
	esac
}

# ------------------------------------------------------------- test runner

# test_expect_success [PREREQ] 'message' 'commands'
# Runs the commands with eval in the test's shell (so a setup test may set
# variables for later ones), cwd $TRASH, output captured. Chain with &&.
test_expect_success() {
	local prereq='' msg body out rc
	if [ $# = 3 ]; then
		prereq=$1
		shift
	fi
	[ $# = 2 ] || { echo "bug in test: test_expect_success needs 2 or 3 args" >&2; exit 1; }
	msg=$1
	body=$2
	test_count=$((test_count + 1))
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		if [ "${CI:-}" = true ] && prereq_is_tool "$missing_prereq"; then
			test_failure=$((test_failure + 1))
			say "not ok $test_count - $msg # prerequisite $missing_prereq missing under CI"
		else
			test_skip=$((test_skip + 1))
			say "ok $test_count # skip $msg (missing $missing_prereq)"
		fi
		return 0
	fi
	out="$TRASH/.out.$test_count"
	cd "$TRASH" || exit 1
	local t0=${EPOCHREALTIME:-0}
	eval "$body" >"$out" 2>&1 </dev/null
	rc=$?
	cd "$TRASH" || exit 1
	# TEST_TIMES=1 prints how long each test took.
	[ -n "${TEST_TIMES:-}" ] &&
	    say "# $(awk -v a="$t0" -v b="${EPOCHREALTIME:-0}" 'BEGIN { printf "%.2f", b - a }') s"
	if [ "$rc" = 0 ]; then
		test_success=$((test_success + 1))
		say "ok $test_count - $msg"
	else
		test_failure=$((test_failure + 1))
		say "not ok $test_count - $msg"
		printf '%s\n' "$body" | sed 's/^/#	/' >&3
		say "#   exit status $rc; output:"
		say_file "$out" 60
		if [ -s "$TRASH/registryd.log" ]; then
			say "#   server log (tail):"
			say_file "$TRASH/registryd.log" 20
		fi
	fi
	rm -f "$out"
	return 0
}

# test_expect_failure-style checks are not used: a test either passes or
# fails.

test_done() {
	say "1..$test_count"
	say "# $test_success passed, $test_failure failed, $test_skip skipped"
	if [ "$test_failure" = 0 ]; then
		exit 0
	fi
	exit 1
}

# test_atexit 'command': run at exit (before the trash directory goes).
test_atexit() {
	test_atexit_cmds+=("$1")
}

test_cleanup() {
	local rc=$? i
	trap - EXIT INT TERM HUP
	for ((i = ${#test_atexit_cmds[@]} - 1; i >= 0; i--)); do
		eval "${test_atexit_cmds[$i]}" >/dev/null 2>&1 </dev/null
	done
	if [ -n "$REG_PID" ]; then
		stop_registryd >/dev/null 2>&1
	fi
	cd "$TEST_DIRECTORY" || exit 1
	if [ "$rc" = 0 ] && [ "$test_failure" = 0 ] && [ -z "${KEEP_TRASH:-}" ]; then
		rm -rf "$TRASH"
	else
		echo "# trash directory kept: $TRASH" >&3
	fi
	exit "$rc"
}
trap test_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- helpers

# free_port: print a TCP port on 127.0.0.1 that nothing listens on now
# (and that is not $PORT, the server's).
free_port() {
	python3 -c 'import socket, sys
while True:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    if str(p) != sys.argv[1]:
        print(p)
        break' "${PORT:-0}"
}

# sha256_of FILE: "sha256:<hex>"
sha256_of() {
	local h
	h=$(sha256sum <"$1") || return 1
	echo "sha256:${h%% *}"
}

# size_of FILE
size_of() {
	wc -c <"$1" | tr -d ' '
}

# random_file FILE BYTES
random_file() {
	head -c "$2" /dev/urandom >"$1"
}

# Wait until "$@" succeeds, at most $WAIT_SECONDS (default 10), 0.1 s steps.
wait_for() {
	local i n=$(( ${WAIT_SECONDS:-10} * 10 ))
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# test_expect_code CODE command...: the command exits with CODE.
test_expect_code() {
	local want=$1 rc
	shift
	"$@"
	rc=$?
	if [ "$rc" != "$want" ]; then
		echo "expected exit status $want, got $rc: $*"
		return 1
	fi
}

# test_expect_code_nonzero command...: the command fails, but not by a
# signal or timeout(1)'s 124 (a crash or a hang is no clean refusal).
test_expect_code_nonzero() {
	local rc
	"$@"
	rc=$?
	if [ "$rc" = 0 ] || [ "$rc" = 124 ] || [ "$rc" -gt 128 ]; then
		echo "expected a clean failure, got exit status $rc: $*"
		return 1
	fi
}

# ------------------------------------------------------------ the server

PORT=$(free_port) || exit 1
BASE="http://127.0.0.1:$PORT"
HOSTPORT="127.0.0.1:$PORT"
CONF="$TRASH/registryd.conf"
ROOT="$TRASH/root"

# Knobs for write_config; tests set them before calling it.
REG_ADDR=${REG_ADDR:-127.0.0.1:$PORT}
REG_DELETE=${REG_DELETE:-true}
REG_LOG_LEVEL=${REG_LOG_LEVEL:-debug}
REG_HTTP_EXTRA=		# extra lines for [http], e.g. "header_timeout = 2"
REG_EXTRA=		# extra sections at the end of the file

# write_config: the server's config file from the REG_* knobs (INI for
# registryd, YAML for the reference registry).
write_config() {
	if [ "$TEST_TARGET" = reference ]; then
		cat >"$CONF" <<-EOF
		version: 0.1
		log:
		  level: info
		  accesslog:
		    disabled: false
		storage:
		  filesystem:
		    rootdirectory: $ROOT
		  delete:
		    enabled: $REG_DELETE
		http:
		  addr: $REG_ADDR
		  headers:
		    X-Content-Type-Options: [nosniff]
		EOF
		return
	fi
	cat >"$CONF" <<-EOF
	# generated by test-lib.sh for $TEST_NAME
	[http]
	addr = $REG_ADDR
	$REG_HTTP_EXTRA

	[storage]
	rootdirectory = $ROOT
	delete_enabled = $REG_DELETE
	$(test_store_s3_config)

	[log]
	level = $REG_LOG_LEVEL
	$REG_EXTRA
	EOF
}

# With TEST_STORE=s3 and the S3_* variables of a running cluster
# (test/s3/ceph.sh start), the server keeps its data there instead, under
# a root of its own: the filesystem suite's store-facing scripts then run
# against the s3 driver (make test-s3). Checks that look into $ROOT say
# so with the FSROOT prerequisite.
S3_TEST_ROOT="$TEST_NAME-$$"

# store_has PATH: with TEST_STORE=s3, some object's key starts with
# PATH under the registry's root; else PATH exists under $ROOT.
store_has() {
	if [ "${TEST_STORE:-}" != s3 ]; then
		test -e "$ROOT/docker/registry/v2/$1"
		return
	fi
	s3cmd -c "$S3CMD_CONF" ls -r \
	    "s3://$S3_BUCKET/$S3_TEST_ROOT/docker/registry/v2/$1" | grep -q .
}

test_store_s3_config() {
	[ "${TEST_STORE:-}" = s3 ] || return 0
	printf 'driver = s3\nredirect_disable = true\n\n[s3]\n'
	printf 'regionendpoint = %s\nbucket = %s\nregion = %s\n' \
	    "$S3_ENDPOINT" "$S3_BUCKET" "${S3_REGION:-us-east-1}"
	printf 'accesskey = %s\nsecretkey = %s\nrootdirectory = /%s\n' \
	    "$S3_ACCESS_KEY" "$S3_SECRET_KEY" "$S3_TEST_ROOT"
	# The smallest parts: an upload's memory stays under the suite's
	# bounds (two parts at most).
	printf 'chunksize = 5242880\n'
}

# registryd_is_up [BASE]: GET /v2/ answers with any HTTP status.
registryd_is_up() {
	local code
	code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "${1:-$BASE}/v2/")
	[ -n "$code" ] && [ "$code" != 000 ]
}

# await_server PID BASE LOG WHAT: wait up to 10 s for BASE/v2/ to answer
# while PID runs. When PID exits first or the time is up, say so (as
# WHAT), print the tail of LOG and return 1; the caller stops PID.
await_server() {
	local i
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$1" 2>/dev/null; then
			echo "$4 exited at start"
			tail -n 20 "$3"
			return 1
		fi
		registryd_is_up "$2" && return 0
		sleep 0.1
	done
	echo "$4 did not answer within 10 s"
	tail -n 20 "$3"
	return 1
}

# stop_pid PID [SECONDS]: SIGTERM, SIGKILL when PID still runs SECONDS
# (10) later, reap.
stop_pid() {
	local i
	kill -TERM "$1" 2>/dev/null
	for ((i = 0; i < ${2:-10} * 10; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# start_registryd [VAR=value...]: start the server with the generated
# config (written now unless $CONF exists) and the given extra environment;
# wait up to 10 s until /v2/ answers. Fails if it exits or never answers.
start_registryd() {
	[ -z "$REG_PID" ] || { echo "server already running" >&2; return 1; }
	[ -e "$CONF" ] || write_config
	mkdir -p "$ROOT"
	echo "--- start $(date +%T) $(printf "%s\n" "$*" | sed -E "s/(PASSWORD=)[^ ]*/\1(hidden)/g")" >>"$TRASH/registryd.log"
	# 3>&-: the server must not hold the TAP output (fd 3), or prove
	# waits for it when a script dies without stopping the server.
	if [ "$TEST_TARGET" = reference ]; then
		env "$@" docker-registry serve "$CONF" \
		    >>"$TRASH/registryd.log" 2>&1 </dev/null 3>&- &
	else
		[ -x "$REGISTRYD" ] || { echo "no binary $REGISTRYD (make first)" >&2; return 1; }
		# TEST_PDEATHSIG (test/lib/s3-lib.sh): killed with this shell.
		${TEST_PDEATHSIG:+setpriv --pdeathsig KILL} \
		    env "$@" "$REGISTRYD" serve -c "$CONF" \
		    >>"$TRASH/registryd.log" 2>&1 </dev/null 3>&- &
	fi
	REG_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$REG_PID" 2>/dev/null; then
			wait "$REG_PID"
			echo "server exited with status $? at start" >&2
			tail -n 20 "$TRASH/registryd.log" >&2
			REG_PID=
			return 1
		fi
		registryd_is_up "${START_BASE:-$BASE}" && return 0
		sleep 0.1
	done
	echo "server did not answer within 10 s" >&2
	tail -n 20 "$TRASH/registryd.log" >&2
	stop_registryd
	return 1
}

# stop_registryd: SIGTERM, wait up to 10 s, then SIGKILL. Returns the
# server's exit status (137 when it had to be killed).
stop_registryd() {
	local pid=$REG_PID i rc
	[ -n "$pid" ] || return 0
	REG_PID=
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "server did not stop within 10 s of SIGTERM; killing" >&2
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 137
	fi
	wait "$pid"
	rc=$?
	# registry:2.8 has no graceful stop: it dies of the signal.
	[ "$TEST_TARGET" = reference ] && [ "$rc" = 143 ] && rc=0
	echo "--- stopped $(date +%T) status $rc" >>"$TRASH/registryd.log"
	return "$rc"
}

restart_registryd() {
	stop_registryd && start_registryd "$@"
}

# ------------------------------------------------------------- HTTP helpers

# url PATH_OR_URL: absolute URL (Location headers may be relative).
url() {
	case "$1" in
	http://* | https://*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$BASE$1" ;;
	esac
}

# with_query URL 'k=v': add a query parameter.
with_query() {
	case "$1" in
	*\?*) printf '%s&%s\n' "$1" "$2" ;;
	*) printf '%s?%s\n' "$1" "$2" ;;
	esac
}

# reg_curl METHOD PATH_OR_URL [curl args...]: one request with curl -sS.
# The status goes to $TRASH/status (and $STATUS), the response headers to
# $TRASH/headers, the body to $TRASH/body. Returns curl's exit status, not
# the HTTP status: check that with expect_status.
reg_curl() {
	local method=$1 target rc
	target=$(url "$2")
	shift 2
	local m=(-X "$method")
	[ "$method" = HEAD ] && m=(--head)
	rm -f "$TRASH/status" "$TRASH/headers" "$TRASH/body"
	curl -sS -m "${CURL_TIMEOUT:-30}" "${m[@]}" -o "$TRASH/body" \
	    -D "$TRASH/headers" -w '%{http_code}' "$@" "$target" \
	    >"$TRASH/status"
	rc=$?
	STATUS=$(cat "$TRASH/status" 2>/dev/null)
	touch "$TRASH/body" "$TRASH/headers"
	echo "$method $target -> ${STATUS:-none} (curl $rc)"
	return "$rc"
}

# show_response: print the last response (for diagnostics).
show_response() {
	echo "status: $STATUS"
	tr -d '\r' <"$TRASH/headers"
	head -c 2000 "$TRASH/body"
	echo
}

# expect_status CODE: the last reg_curl answered CODE.
expect_status() {
	if [ "$STATUS" != "$1" ]; then
		echo "expected status $1, got $STATUS"
		show_response
		return 1
	fi
}

# header NAME [FILE]: the value of a header in the last response (the final
# block when 100 Continue came first); empty when absent.
header() {
	tr -d '\r' <"${2:-$TRASH/headers}" | awk -v name="$1" '
		BEGIN { name = tolower(name) }
		/^HTTP\// { v = ""; found = 0; next }
		{
			i = index($0, ":")
			if (i == 0) next
			if (tolower(substr($0, 1, i - 1)) == name) {
				v = substr($0, i + 1)
				sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
				found = 1
			}
		}
		END { if (found) print v; exit !found }'
}

# expect_header NAME VALUE
expect_header() {
	local v
	v=$(header "$1")
	if [ "$v" != "$2" ]; then
		echo "expected header $1: '$2', got '$v'"
		show_response
		return 1
	fi
}

# expect_header_match NAME ERE
expect_header_match() {
	local v
	v=$(header "$1")
	if ! printf '%s\n' "$v" | grep -Eq -- "$2"; then
		echo "expected header $1 matching /$2/, got '$v'"
		show_response
		return 1
	fi
}

# expect_header_prefix NAME PREFIX: the value starts with PREFIX (media
# types with parameters).
expect_header_prefix() {
	local v
	v=$(header "$1")
	case "$v" in
	"$2"*) return 0 ;;
	esac
	echo "expected header $1 starting with '$2', got '$v'"
	show_response
	return 1
}

# expect_no_header NAME
expect_no_header() {
	if header "$1" >/dev/null; then
		echo "unexpected header $1"
		show_response
		return 1
	fi
}

# expect_error_code CODE: the body is an OCI error whose first code is CODE.
expect_error_code() {
	if ! jq -e --arg c "$1" '.errors[0].code == $c' "$TRASH/body" >/dev/null; then
		echo "expected error code $1"
		show_response
		return 1
	fi
}

# expect_body_file FILE: the last body is byte-identical to FILE.
expect_body_file() {
	if ! cmp "$1" "$TRASH/body"; then
		echo "body differs from $1"
		return 1
	fi
}

# jq_body FILTER: jq -e on the last body.
jq_body() {
	jq -e "$@" "$TRASH/body" >/dev/null || {
		echo "jq $* failed on body:"
		head -c 2000 "$TRASH/body"
		echo
		return 1
	}
}

# upload_start NAME: POST a new upload; sets UPLOAD (absolute URL).
upload_start() {
	reg_curl POST "/v2/$1/blobs/uploads/" &&
	expect_status 202 &&
	UPLOAD=$(url "$(header Location)") &&
	[ -n "$(header Location)" ]
}

# push_blob NAME FILE: POST an upload, then PUT the whole file with
# ?digest=. Prints nothing on success.
push_blob() {
	local d
	d=$(sha256_of "$2") &&
	upload_start "$1" >/dev/null &&
	reg_curl PUT "$(with_query "$UPLOAD" "digest=$d")" \
	    -H 'Content-Type: application/octet-stream' \
	    --data-binary @"$2" >/dev/null &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$d"
}

# push_manifest NAME REF FILE MEDIATYPE: PUT a manifest, expect 201.
push_manifest() {
	reg_curl PUT "/v2/$1/manifests/$2" -H "Content-Type: $4" \
	    --data-binary @"$3" >/dev/null &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$(sha256_of "$3")"
}

# json_descriptor MEDIATYPE FILE: an OCI descriptor for FILE.
json_descriptor() {
	printf '{"mediaType":"%s","digest":"%s","size":%s}' \
	    "$1" "$(sha256_of "$2")" "$(size_of "$2")"
}

MT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_OCI_INDEX=application/vnd.oci.image.index.v1+json
MT_OCI_CONFIG=application/vnd.oci.image.config.v1+json
MT_OCI_LAYER=application/vnd.oci.image.layer.v1.tar
MT_OCI_LAYER_GZ=application/vnd.oci.image.layer.v1.tar+gzip
MT_OCI_EMPTY=application/vnd.oci.empty.v1+json
MT_DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
MT_DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json
MT_DOCKER_CONFIG=application/vnd.docker.container.image.v1+json
MT_DOCKER_LAYER=application/vnd.docker.image.rootfs.diff.tar.gzip

# make_image NAME TAG DIR: write a small OCI image (config + one layer)
# into DIR (config.json, layer.bin, manifest.json), push blobs and the
# manifest. Sets IMG_DIGEST.
make_image() {
	local name=$1 tag=$2 dir=$3
	mkdir -p "$dir" &&
	random_file "$dir/layer.bin" "${IMG_LAYER_SIZE:-4096}" &&
	printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]},"config":{}}' \
	    "$(sha256_of "$dir/layer.bin")" >"$dir/config.json" &&
	printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}' \
	    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_CONFIG" "$dir/config.json")" \
	    "$(json_descriptor "$MT_OCI_LAYER" "$dir/layer.bin")" >"$dir/manifest.json" &&
	push_blob "$name" "$dir/layer.bin" &&
	push_blob "$name" "$dir/config.json" &&
	push_manifest "$name" "$tag" "$dir/manifest.json" "$MT_OCI_MANIFEST" &&
	IMG_DIGEST=$(sha256_of "$dir/manifest.json")
}

# raw_http FILE [IDLE] [DELAY]: send FILE's bytes to 127.0.0.1:$PORT on one
# connection (one byte every DELAY seconds when DELAY is set), print what
# comes back until the server closes or is silent for IDLE seconds (default
# 3). Prints "# closed after S s" or "# idle" to stderr; with DELAY it also
# stops sending once the server has closed ("# cut after S s at byte N").
raw_http() {
	python3 - "$PORT" "$1" "${2:-3}" "${3:-0}" <<-'EOF'
	import select, socket, sys, time
	port, path, idle, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
	data = open(path, "rb").read()
	s = socket.create_connection(("127.0.0.1", port), timeout=10)
	t0 = time.time()
	out = b""
	closed = False
	if delay > 0:
	    for i in range(len(data)):
	        try:
	            s.send(data[i:i + 1])
	        except OSError:
	            sys.stderr.write("# cut after %.1f s at byte %d\n" % (time.time() - t0, i))
	            closed = True
	            break
	        r, _, _ = select.select([s], [], [], delay)
	        if r:
	            try:
	                b = s.recv(65536)
	            except OSError:
	                b = b""
	            out += b
	            if not b:
	                sys.stderr.write("# cut after %.1f s at byte %d\n" % (time.time() - t0, i))
	                closed = True
	                break
	else:
	    try:
	        s.sendall(data)
	    except OSError as e:
	        sys.stderr.write("# send failed: %s\n" % e)
	if not closed:
	    s.settimeout(idle)
	    while True:
	        try:
	            b = s.recv(65536)
	        except socket.timeout:
	            sys.stderr.write("# idle\n")
	            break
	        except OSError as e:
	            sys.stderr.write("# closed after %.1f s (%s)\n" % (time.time() - t0, e))
	            break
	        if not b:
	            sys.stderr.write("# closed after %.1f s\n" % (time.time() - t0))
	            break
	        out += b
	sys.stdout.buffer.write(out)
	EOF
}

# status_lines FILE: the status codes of every response in a raw capture.
status_lines() {
	# A response may follow the previous body on the same line.
	tr -d '\r' <"$1" | grep -aoE 'HTTP/1\.[01] [0-9]{3} ' | cut -d' ' -f2
}

# make_oci_layout DIR TAG [DATA_BYTES]: build an OCI image layout in DIR
# without any network: one gzip layer with /busybox (busybox-static)
# and /data.bin (random, DATA_BYTES, default 1 MiB), one gzip layer with a
# small file, a config and a manifest, tagged TAG in index.json. Sets
# LAYOUT_MANIFEST (digest of the manifest).
make_oci_layout() {
	local dir=$1 tag=$2 n=${3:-1048576} w="$TRASH/.layout.$$"
	rm -rf "$w" && mkdir -p "$w/l1" "$w/l2" "$dir/blobs/sha256" || return 1
	cp /bin/busybox "$w/l1/busybox" &&
	random_file "$w/l1/data.bin" "$n" &&
	mkdir "$w/l2/etc" && echo "registryd test $tag" >"$w/l2/etc/motd" &&
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
	    -C "$w/l1" -cf "$w/layer1.tar" busybox data.bin &&
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
	    -C "$w/l2" -cf "$w/layer2.tar" etc &&
	gzip -n -1 -c "$w/layer1.tar" >"$w/layer1.tar.gz" &&
	gzip -n -c "$w/layer2.tar" >"$w/layer2.tar.gz" &&
	printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/busybox","sha256sum","/data.bin"]},"rootfs":{"type":"layers","diff_ids":["%s","%s"]},"history":[{"created_by":"registryd test"},{"created_by":"registryd test"}]}' \
	    "$(sha256_of "$w/layer1.tar")" "$(sha256_of "$w/layer2.tar")" >"$w/config.json" &&
	printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s,%s]}' \
	    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_CONFIG" "$w/config.json")" \
	    "$(json_descriptor "$MT_OCI_LAYER_GZ" "$w/layer1.tar.gz")" \
	    "$(json_descriptor "$MT_OCI_LAYER_GZ" "$w/layer2.tar.gz")" >"$w/manifest.json" || return 1
	local f d
	for f in layer1.tar.gz layer2.tar.gz config.json manifest.json; do
		d=$(sha256_of "$w/$f") || return 1
		cp "$w/$f" "$dir/blobs/sha256/${d#sha256:}" || return 1
	done
	LAYOUT_MANIFEST=$(sha256_of "$w/manifest.json")
	printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout" &&
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
	    "$MT_OCI_MANIFEST" "$LAYOUT_MANIFEST" "$(size_of "$w/manifest.json")" "$tag" \
	    >"$dir/index.json" &&
	cp "$w/l1/data.bin" "$dir.data.bin" &&
	rm -rf "$w"
}

# same_blobs DIR1 DIR2: every blob of OCI layout DIR1 is in DIR2,
# byte-identical.
same_blobs() {
	local f n=0
	for f in "$1"/blobs/sha256/*; do
		cmp "$f" "$2/blobs/sha256/${f##*/}" || return 1
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
}

# skopeo with plain HTTP to the loopback registry, no signature policy
# lookups outside the trash directory.
reg_skopeo() {
	local policy="$TRASH/.policy.json"
	[ -e "$policy" ] ||
	    printf '{"default":[{"type":"insecureAcceptAnything"}]}' >"$policy"
	timeout 120 skopeo --policy "$policy" --registries.d "$TRASH" "$@"
}
