# shellcheck shell=bash
# s3-lib.sh: a real S3 store for an integration test, sourced after
# test-lib.sh. The cluster itself is test/s3/ceph-lib.sh (read it for the
# variables it exports); this file ties it to the test's life:
#
#   s3_start [DIR]   a throw-away Ceph cluster with its S3 gateway in DIR
#                    (default $TRASH/ceph), stopped by test_atexit; exports
#                    S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET,
#                    S3_REGION. On failure the daemons' logs are printed
#                    (the test's output shows them) and kept in DIR.
#   s3c ARGS...      s3cmd on that cluster
#
# Prerequisite added: CEPH (ceph-mon, ceph-osd, radosgw, radosgw-admin,
# ceph-authtool, monmaptool, s3cmd); a tool, so under CI=true its absence
# is a failure.

# shellcheck source=../s3/ceph-lib.sh
. "$TEST_DIRECTORY/s3/ceph-lib.sh"

# A test script killed by SIGKILL runs no trap: the daemons it started
# (the cluster, haproxy) die with it (see ceph_daemon).
TEST_PDEATHSIG=1

eval "s3_orig_prereq_check() $(declare -f prereq_check | tail -n +2)"
prereq_check() {
	case "$1" in
	CEPH)	command -v ceph-mon >/dev/null &&
		    command -v ceph-osd >/dev/null &&
		    command -v ceph >/dev/null &&
		    command -v radosgw >/dev/null &&
		    command -v radosgw-admin >/dev/null &&
		    command -v ceph-authtool >/dev/null &&
		    command -v monmaptool >/dev/null &&
		    command -v s3cmd >/dev/null ;;
	HAPROXY) command -v haproxy >/dev/null && command -v curl >/dev/null &&
		    command -v python3 >/dev/null ;;
	*)	s3_orig_prereq_check "$1" ;;
	esac
}

s3_start() {
	local d=${1:-$TRASH/ceph}
	# Registered first: a start that fails halfway leaves daemons too.
	test_atexit "ceph_stop '$d'"
	ceph_start "$d"
}

# ---- a balancer in front of several instances (test/s3/haproxy-lib.sh)
#
#   lb_start BACKEND...   haproxy over the BACKENDs (ports) in $TRASH/lb,
#                         stopped by test_atexit; sets LB_PORT, LB_BASE.
#                         haproxy_wait_up N, haproxy_status,
#                         haproxy_served NAME (s1, s2, ... in BACKEND
#                         order), haproxy_stop: see haproxy-lib.sh.
#
# Prerequisite added: HAPROXY (haproxy, curl, python3).

# shellcheck source=../s3/haproxy-lib.sh
. "$TEST_DIRECTORY/s3/haproxy-lib.sh"

lb_start() {
	test_atexit haproxy_stop
	haproxy_start "$TRASH/lb" "$@"
}
