#!/usr/bin/env bash
# ceph.sh: a throw-away Ceph cluster with an S3 gateway on loopback, from a
# shell (the tests source ceph-lib.sh through test/lib/s3-lib.sh instead).
#
#   ceph.sh start [DIR]       start a cluster in DIR (default: a new
#                             directory under ${TMPDIR:-/tmp}); print the
#                             S3_* variables as export lines on stdout (for
#                             eval); the daemons keep running
#   ceph.sh stop DIR          stop its daemons and remove DIR
#   ceph.sh env DIR           print the export lines again
#   ceph.sh rgw-stop DIR [-KILL] / rgw-start DIR
#                             stop / start the gateway alone (same port)
#   ceph.sh run [DIR] -- CMD  start, run CMD with the S3_* variables,
#                             stop; exits with CMD's status
#
#   eval "$(test/s3/ceph.sh start /tmp/c1)"
#   s3cmd -c "$S3CMD_CONF" ls "s3://$S3_BUCKET"
#   test/s3/ceph.sh stop /tmp/c1
set -u

# shellcheck source=ceph-lib.sh
. "$(dirname "$0")/ceph-lib.sh"

usage() {
	sed -n '2,19s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# newdir [DIR]: DIR, or a new directory under TMPDIR.
newdir() {
	if [ -n "${1:-}" ] && [ "$1" != -- ]; then
		echo "$1"
	else
		mktemp -d "${TMPDIR:-/tmp}/ceph.XXXXXX"
	fi
}

# Every daemon's PID and the exports are in DIR: stop and rgw-* need no
# state from the shell that started it.
load() {
	[ -f "$1/env" ] || { echo "ceph.sh: no cluster in $1" >&2; exit 1; }
	# shellcheck disable=SC1091
	. "$1/env"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
start)
	d=$(newdir "${1:-}") || exit 1
	ceph_start "$d" || exit 1
	ceph_env
	;;
stop)
	[ $# = 1 ] || usage
	[ -d "$1" ] || exit 0
	# Only a cluster directory is removed, never a mistyped path.
	if [ ! -f "$1/ceph.conf" ] || [ ! -f "$1/pids" ]; then
		echo "ceph.sh: $1 is not a cluster directory" >&2
		exit 1
	fi
	ceph_stop "$1" || exit 1
	rm -rf "$1"
	;;
env)
	[ $# = 1 ] || usage
	load "$1"
	ceph_env
	;;
rgw-stop)
	[ $# -ge 1 ] || usage
	load "$1"
	ceph_rgw_stop "${2:-}"
	;;
rgw-start)
	[ $# = 1 ] || usage
	load "$1"
	ceph_rgw_start
	;;
run)
	d=$(newdir "${1:-}") || exit 1
	while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done
	[ $# -gt 1 ] || usage
	shift
	# ceph_start refuses a directory with something in it: check before
	# the trap that removes it is set.
	if [ -e "$d" ] && [ -n "$(ls -A "$d")" ]; then
		echo "ceph.sh: $d exists and is not empty" >&2
		exit 1
	fi
	trap 'ceph_stop "$d"; rm -rf "$d"' EXIT
	# Killed by SIGKILL, this script takes its cluster with it.
	TEST_PDEATHSIG=1
	trap 'exit 130' INT
	trap 'exit 143' TERM
	ceph_start "$d" || exit 1
	"$@"
	;;
*)
	usage
	;;
esac
