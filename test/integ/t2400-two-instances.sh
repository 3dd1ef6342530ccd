#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Two registryd processes on one root (hardening item 17): a Docker-style
# chunked upload whose requests alternate between them (POST on A, PATCH on
# B, PATCH on A, PUT on B) ends in 201 and a blob whose bytes match its
# digest, served by both. Each instance keeps its own session state; before
# each append it must adopt the data file's size when another process has
# written meanwhile, instead of writing at a stale offset.
. "$(dirname "$0")/../lib/test-lib.sh"

SECRET=t2400-shared-secret	# the signed upload state must verify on both
PORT_B=$(free_port)
BASE_B="http://127.0.0.1:$PORT_B"
CONF_B="$TRASH/registryd-b.conf"
LOG_B="$TRASH/registryd-b.log"
PID_B=

# start_b: instance B on $PORT_B with A's root. Every descriptor above 2
# is closed first (the harness's TAP pipe is fd 3: a server holding it
# keeps prove waiting after the script ends), and stdout and stderr go to
# $LOG_B. stop_b runs at exit whatever happens.
start_b() {
	sed "s|^addr = .*|addr = 127.0.0.1:$PORT_B|" "$CONF" >"$CONF_B" || return 1
	(
		for fd in $(ls /proc/$BASHPID/fd); do
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec env REGISTRY_HTTP_SECRET="$SECRET" \
		    "$REGISTRYD" serve -c "$CONF_B"
	) >>"$LOG_B" 2>&1 </dev/null &
	PID_B=$!
	await_server "$PID_B" "$BASE_B" "$LOG_B" "instance B" && return 0
	stop_b
	return 1
}

stop_b() {
	[ -n "$PID_B" ] || return 0
	stop_pid "$PID_B"
	PID_B=
}
test_atexit stop_b

test_expect_success CURL,REGISTRYD 'setup: instances A and B on one root, one secret' '
	start_registryd REGISTRY_HTTP_SECRET="$SECRET" &&
	start_b
'

test_expect_success CURL,REGISTRYD 'B holds none of the test harness descriptors' '
	tap=$(readlink /proc/$$/fd/3) &&
	echo "TAP output: $tap" &&
	ls -l /proc/$PID_B/fd &&
	test "$(readlink /proc/$PID_B/fd/1)" = "$LOG_B" &&
	! for fd in $(ls /proc/$PID_B/fd); do
		test "$(readlink "/proc/$PID_B/fd/$fd")" = "$tap" && echo "fd $fd"
	done | grep .
'

# on INSTANCE URL: URL (of either instance) on instance A or B.
on() {
	local path=${2#"$BASE"}
	path=${path#"$BASE_B"}
	case "$1" in
	A) printf '%s\n' "$BASE$path" ;;
	B) printf '%s\n' "$BASE_B$path" ;;
	esac
}

# alternate REPO P0 P1 ... PN: a Docker-style chunked upload of REPO: the
# POST on instance P0, one PATCH (no Content-Range, like docker push) of a
# new chunk on each of P1 .. PN-1, the closing PUT ?digest= with no body on
# PN. Every PATCH must answer 202 with the Range of all chunks so far; the
# PUT 201 with the digest of all of them; both instances then serve the
# blob, and its file holds exactly the chunks.
alternate() {
	local repo=$1 first=$2 n=0 total=0 size loc d h
	shift 2
	: >whole &&
	reg_curl POST "$(on "$first" "/v2/$repo/blobs/uploads/")" &&
	expect_status 202 &&
	loc=$(header Location) || return 1
	while [ $# -gt 1 ]; do
		n=$((n + 1))
		size=$((100000 + n * 37000))
		random_file "chunk$n" "$size" &&
		cat "chunk$n" >>whole &&
		total=$((total + size)) &&
		reg_curl PATCH "$(on "$1" "$loc")" \
		    -H "Content-Type: application/octet-stream" \
		    --data-binary @"chunk$n" &&
		expect_status 202 &&
		expect_header Range "0-$((total - 1))" &&
		loc=$(header Location) || return 1
		shift
	done
	d=$(sha256_of whole) &&
	reg_curl PUT "$(on "$1" "$(with_query "$loc" "digest=$d")")" \
	    -H "Content-Type: application/octet-stream" &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$d" &&
	reg_curl GET "$BASE/v2/$repo/blobs/$d" &&
	expect_status 200 &&
	cmp whole "$TRASH/body" &&
	reg_curl GET "$BASE_B/v2/$repo/blobs/$d" &&
	expect_status 200 &&
	cmp whole "$TRASH/body" &&
	h=${d#sha256:} &&
	{ ! test_have_prereq FSROOT ||
	    cmp whole "$ROOT/docker/registry/v2/blobs/sha256/${h:0:2}/$h/data"; }
}

test_expect_success CURL,REGISTRYD 'POST on A, PATCH on B, PATCH on A, PUT on B: 201 and the right bytes' '
	alternate two/abab A B A B
'

test_expect_success CURL,REGISTRYD 'POST on A, PATCH on A, PATCH on B, PUT on A (A hashed only its own chunk): 201' '
	alternate two/aaba A A B A
'

test_expect_success CURL,REGISTRYD 'six requests, back and forth: 201' '
	alternate two/many B A B B A A B A
'

test_expect_success CURL,REGISTRYD 'both instances stop cleanly' '
	stop_b &&
	stop_registryd
'

test_done
