# shellcheck shell=bash disable=SC2015,SC2119,SC2120  # a && b || fail; optional args
# ceph-lib.sh: a throw-away single-node Ceph cluster with a RADOS Gateway
# on loopback, the real S3 store of the S3 tests. Needs bash; depends on
# nothing else here, so test scripts (through test/lib/s3-lib.sh), the
# benchmark and test/s3/ceph.sh (for a shell) all source it.
#
#   ceph_start DIR     create the cluster in DIR (must not exist, or be
#                      empty): one mon, one osd (memstore), radosgw on a
#                      free loopback port, an S3 user and a bucket; export
#                      the S3_* variables below. Every wait is bounded;
#                      on failure the daemons' logs go to stderr, the
#                      daemons started are stopped and it returns 1.
#   ceph_stop [DIR]    kill the daemons this cluster started (by the PIDs
#                      recorded in DIR/pids, each checked to be ours), wait
#                      until they are gone. Idempotent. Data is lost.
#   ceph_env [DIR]     print the S3_* variables as shell export lines
#   ceph_rgw_stop / ceph_rgw_start   stop and start radosgw alone, on the
#                      same port (the store going away and coming back)
#   ceph_logs [N]      the last N lines of each daemon's log, to stderr
#   s3c ARGS...        s3cmd with this cluster's private configuration
#
# Exported after ceph_start:
#   S3_ENDPOINT    http://127.0.0.1:PORT (path-style, plain HTTP)
#   S3_ACCESS_KEY, S3_SECRET_KEY   the test user's keys
#   S3_BUCKET      a bucket that exists (empty)
#   S3_REGION      us-east-1 (RGW accepts any region in SigV4; clients
#                  such as registry:2's driver want a real AWS name)
#   CEPH_DIR, CEPH_CONF, S3CMD_CONF
# Knobs (environment, read by ceph_start): S3_ACCESS_KEY, S3_SECRET_KEY,
# S3_BUCKET; CEPH_MEMSTORE_BYTES (the OSD's capacity, default 4 GiB: the
# data lives in the OSD's memory and is not given back after deletes);
# CEPH_START_TIMEOUT (seconds for each wait, default 60: under load the
# first start of a daemon reads ~100 MB of libraries); TEST_PDEATHSIG=1
# ties the daemons' life to the calling shell's (not for ceph.sh start,
# whose daemons outlive it; the caller must not be a subshell).
#
# Layout of DIR: ceph.conf, keyring, mon.a/, osd.0/, rgw/, *.log (the
# daemons' logs), *.out (their stdout/stderr), pids ("name pid" lines),
# env (the export lines), s3cfg. Nothing outside DIR is written; nothing
# but 127.0.0.1 is bound. No mgr: RGW does not need one and it costs
# ~300 MB.

CEPH_DIR=${CEPH_DIR:-}

# ceph_free_port: a TCP port on 127.0.0.1 nothing listens on now (the
# caller still checks the daemon really got it: another test may take it
# in between).
ceph_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# ceph_port_free PORT: nothing accepts connections on 127.0.0.1:PORT.
ceph_port_free() {
	! (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ceph_alive PID: the process exists and one of its threads is not a
# zombie. Daemons whose parent is gone are re-parented to PID 1, which
# here reaps them late: a dead daemon stays a zombie for up to ~2 s, and
# kill -0 says it lives. And a killed multi-threaded daemon's main thread
# is a zombie while its other threads still exit, holding its sockets.
ceph_alive() {
	local f st
	for f in /proc/"$1"/task/*/stat; do
		st=$(cat "$f" 2>/dev/null) || continue
		st=${st##*) }
		[ "${st%% *}" = Z ] || return 0
	done
	return 1
}

# ceph_ours PID: the process runs with this cluster's configuration (a PID
# recorded in a file may have been reused by anything else since).
ceph_ours() {
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "-c $CEPH_DIR/ceph.conf"
}

# ceph_cli ARGS...: the ceph tool on this cluster, bounded (it waits for
# the monitor otherwise, forever).
ceph_cli() {
	timeout -k 2 "${CEPH_START_TIMEOUT:-60}" \
	    ceph -c "$CEPH_DIR/ceph.conf" --connect-timeout "${CEPH_START_TIMEOUT:-60}" "$@"
}

# ceph_daemon NAME CMD...: start a daemon in the background, its output in
# DIR/NAME.out, its PID recorded in DIR/pids. fd 3 is closed: test-lib.sh
# keeps the TAP stream there, and prove waits for every holder of it.
ceph_daemon() {
	local name=$1 pid
	shift
	# TEST_PDEATHSIG=1 (test/lib/s3-lib.sh sets it): the daemon is
	# killed when the shell that started it dies, even by SIGKILL, when
	# no trap runs.
	# setpriv execs, so $! stays the daemon's PID.
	${TEST_PDEATHSIG:+setpriv --pdeathsig KILL} \
	    "$@" -c "$CEPH_DIR/ceph.conf" </dev/null >>"$CEPH_DIR/$name.out" 2>&1 3>&- &
	pid=$!
	# Out of the job table: bash still reaps it, but prints no "Killed"
	# notice into the test's output when ceph_kill ends it.
	disown "$pid"
	echo "$name $pid" >>"$CEPH_DIR/pids"
}

ceph_pid() {
	awk -v n="$1" '$1 == n { p = $2 } END { print p }' "$CEPH_DIR/pids" 2>/dev/null
}

# ceph_rgw_answers: the answer on the RGW port is RGW's (an anonymous
# ListBuckets), not some other server that took the port.
ceph_rgw_answers() {
	curl -s -m 2 "http://127.0.0.1:$CEPH_RGW_PORT/" 2>/dev/null |
	    grep -q ListAllMyBucketsResult
}

# ceph_logs [N]: the last N (default 8) lines of each daemon's log and
# output, the gateway's last: a test's failure output shows only its last
# 60 lines. The monitor's audit log (cluster.log) and the tools' logs are
# left in DIR.
ceph_logs() {
	local f
	for f in "$CEPH_DIR"/mkfs.out "$CEPH_DIR"/mon.a.log "$CEPH_DIR"/osd.0.log \
	    "$CEPH_DIR"/mon.out "$CEPH_DIR"/osd.out "$CEPH_DIR"/rgw.out \
	    "$CEPH_DIR"/client.rgw.x.log; do
		[ -s "$f" ] || continue
		echo "--- ${f##*/} (last ${1:-8} lines)"
		tail -n "${1:-8}" "$f" | grep -v '^$' | cut -c1-300
	done >&2
	echo "ceph: the logs are in $CEPH_DIR" >&2
}

ceph_write_conf() {
	local d=$CEPH_DIR
	cat >"$d/ceph.conf" <<-EOF
	# throw-away cluster written by test/s3/ceph-lib.sh
	[global]
	fsid = $CEPH_FSID
	mon host = v2:127.0.0.1:$CEPH_MON_PORT
	mon initial members = a
	public addr = 127.0.0.1
	cluster addr = 127.0.0.1
	# msgr2 only, IPv4 only: one port for the mon, nothing on ::
	ms bind msgr1 = false
	ms bind ipv6 = false
	# A port taken meanwhile is an error after one try (ceph_start
	# picks another), not after three tries 5 s apart. (0 tries is
	# EPERM in 16.2.)
	ms bind retry count = 1
	ms bind retry delay = 1
	auth cluster required = cephx
	auth service required = cephx
	auth client required = cephx
	keyring = $d/keyring
	run dir = $d
	# For "ceph daemon" when debugging; a path over 107 bytes only
	# disables them (logged), nothing fails.
	admin socket = $d/\$name.asok
	pid file = $d/\$name.pid
	log file = $d/\$name.log
	mon cluster log file = $d/cluster.log
	crash dir = $d/crash
	# One OSD: pools of one replica, few PGs, no autoscaler (no mgr).
	osd pool default size = 1
	osd pool default min size = 1
	osd pool default pg num = 8
	osd pool default pgp num = 8
	osd pool default pg autoscale mode = off
	osd crush chooseleaf type = 0
	mon allow pool size one = true
	mon allow pool delete = true
	mon warn on pool no redundancy = false
	# The mon must not stop for a nearly full test disk.
	mon data avail crit = 1
	mon data avail warn = 1

	[mon]
	mon data = $d/mon.\$id
	# RGW creates its pools one after another, each a paxos round: the
	# default 1 s interval makes its start-up take 9 s instead of 1 s.
	paxos propose interval = 0.1

	[osd]
	osd data = $d/osd.\$id
	osd objectstore = memstore
	memstore device bytes = ${CEPH_MEMSTORE_BYTES:-4294967296}
	# No scrubbing in a cluster that lives for a minute.
	osd scrub auto repair = false
	osd scrub begin hour = 0
	osd scrub end hour = 0

	[client.rgw.x]
	rgw data = $d/rgw
	# Background work the tests do not want under load.
	rgw dynamic resharding = false
	rgw enable usage log = false
	EOF
}

# ceph_start_mon: monmap, mkfs and start of mon.a on CEPH_MON_PORT, wait
# until it accepts connections. Returns 2 when it could not bind the port
# (the caller may try another one).
ceph_start_mon() {
	local i n pid
	rm -rf "$CEPH_DIR/mon.a" && mkdir "$CEPH_DIR/mon.a" &&
	ceph_write_conf &&
	monmaptool --create --clobber --fsid "$CEPH_FSID" \
	    --addv a "[v2:127.0.0.1:$CEPH_MON_PORT]" "$CEPH_DIR/monmap" \
	    >>"$CEPH_DIR/mkfs.out" 2>&1 &&
	ceph-mon -c "$CEPH_CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap" \
	    --keyring "$CEPH_DIR/keyring" >>"$CEPH_DIR/mkfs.out" 2>&1 || {
		echo "ceph: creating the mon failed" >&2
		return 1; }
	if ! ceph_port_free "$CEPH_MON_PORT"; then
		echo "ceph: port $CEPH_MON_PORT is taken" >&2
		return 2
	fi
	: >"$CEPH_DIR/mon.a.log"
	ceph_daemon mon ceph-mon -f -i a
	pid=$(ceph_pid mon)
	n=$(( ${CEPH_START_TIMEOUT:-60} * 10 ))
	for ((i = 0; i < n; i++)); do
		ceph_port_free "$CEPH_MON_PORT" || return 0
		# (It exits after a failed bind; the log line comes first.)
		if ! ceph_alive "$pid" ||
		    grep -q 'unable to bind' "$CEPH_DIR/mon.a.log" 2>/dev/null; then
			if grep -q 'unable to bind' "$CEPH_DIR/mon.a.log" 2>/dev/null; then
				echo "ceph: ceph-mon could not bind port $CEPH_MON_PORT" >&2
				ceph_kill mon
				return 2
			fi
			echo "ceph: ceph-mon (pid $pid) exited at start" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "ceph: ceph-mon did not listen on port $CEPH_MON_PORT within ${CEPH_START_TIMEOUT:-60} s" >&2
	return 1
}

# ceph_start_rgw: radosgw on CEPH_RGW_PORT, wait for its answer. A
# radosgw that cannot bind its port does not exit, it lingers for tens of
# seconds: its log says so, then it is killed and this returns 2 (the
# caller may try another port).
ceph_start_rgw() {
	local log=$CEPH_DIR/client.rgw.x.log seen i n pid
	if ! ceph_port_free "$CEPH_RGW_PORT"; then
		echo "ceph: port $CEPH_RGW_PORT is taken" >&2
		return 2
	fi
	seen=$(stat -c %s "$log" 2>/dev/null || echo 0)
	ceph_daemon rgw radosgw -f -n client.rgw.x \
	    --rgw-frontends "beast endpoint=127.0.0.1:$CEPH_RGW_PORT"
	pid=$(ceph_pid rgw)
	n=$(( ${CEPH_START_TIMEOUT:-60} * 10 ))
	for ((i = 0; i < n; i++)); do
		ceph_rgw_answers && return 0
		if tail -c +$((seen + 1)) "$log" 2>/dev/null | grep -q 'failed to bind'; then
			echo "ceph: radosgw could not bind port $CEPH_RGW_PORT" >&2
			ceph_kill -TERM rgw
			return 2
		fi
		if ! ceph_alive "$pid"; then
			echo "ceph: radosgw (pid $pid) exited at start" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "ceph: no answer from radosgw on port $CEPH_RGW_PORT within ${CEPH_START_TIMEOUT:-60} s" >&2
	return 1
}

ceph_start() {
	local d=$1 t0 uuid i ok
	t0=${EPOCHREALTIME:-0}
	if [ -e "$d" ] && [ -n "$(ls -A "$d")" ]; then
		echo "ceph: $d exists and is not empty" >&2
		return 1
	fi
	mkdir -p "$d/mon.a" "$d/osd.0" "$d/rgw" "$d/crash" || return 1
	CEPH_DIR=$(cd "$d" && pwd)
	export CEPH_DIR CEPH_CONF="$CEPH_DIR/ceph.conf"
	: >"$CEPH_DIR/pids"
	CEPH_FSID=$(cat /proc/sys/kernel/random/uuid)
	CEPH_MON_PORT=$(ceph_free_port) && CEPH_RGW_PORT=$(ceph_free_port) || return 1
	[ "$CEPH_MON_PORT" != "$CEPH_RGW_PORT" ] || CEPH_RGW_PORT=$(ceph_free_port)
	ceph_write_conf || return 1

	# One keyring holds every key: the mon imports it at mkfs, so osd.0
	# and the gateway are known without "auth add" round trips.
	local k=$CEPH_DIR/keyring
	{ ceph-authtool "$k" --create-keyring --gen-key -n mon. --cap mon 'allow *' &&
	ceph-authtool "$k" --gen-key -n client.admin \
	    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' &&
	ceph-authtool "$k" --gen-key -n osd.0 \
	    --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *' &&
	ceph-authtool "$k" --gen-key -n client.rgw.x \
	    --cap mon 'allow rw' --cap osd 'allow rwx'; } >>"$CEPH_DIR/mkfs.out" 2>&1 || {
		echo "ceph: creating the keyring failed" >&2
		ceph_logs; return 1; }

	# The mon's port is in the monmap and the conf: a port lost to
	# another test between pick and bind means a new mon.
	ok=
	for i in 1 2 3; do
		ceph_start_mon
		case $? in
		0) ok=1; break ;;
		2) CEPH_MON_PORT=$(ceph_free_port) ;;
		*) break ;;
		esac
	done
	[ -n "$ok" ] &&
	uuid=$(cat /proc/sys/kernel/random/uuid) &&
	ceph_cli osd new "$uuid" 0 >>"$CEPH_DIR/mkfs.out" 2>&1 &&
	timeout -k 2 "${CEPH_START_TIMEOUT:-60}" ceph-osd -c "$CEPH_CONF" -i 0 \
	    --mkfs --osd-uuid "$uuid" >>"$CEPH_DIR/mkfs.out" 2>&1 &&
	ceph_daemon osd ceph-osd -f -i 0 || ok=
	# radosgw needs no "osd up" wait of ours: it waits for its pools to
	# be writable, and its answer is the one wait. Another test may take
	# the port between our pick and radosgw's bind: then another port.
	if [ -n "$ok" ]; then
		ok=
		for i in 1 2 3; do
			ceph_start_rgw
			case $? in
			0) ok=1; break ;;
			2) CEPH_RGW_PORT=$(ceph_free_port) ;;
			*) break ;;
			esac
		done
	fi
	if [ -z "$ok" ]; then
		echo "ceph: the cluster did not start" >&2
		ceph_logs
		ceph_stop
		return 1
	fi

	export S3_ENDPOINT="http://127.0.0.1:$CEPH_RGW_PORT"
	export S3_ACCESS_KEY=${S3_ACCESS_KEY:-registryd-test-access}
	export S3_SECRET_KEY=${S3_SECRET_KEY:-registryd-test-secret-0123456789abcdef}
	export S3_BUCKET=${S3_BUCKET:-registryd-test}
	export S3_REGION=${S3_REGION:-us-east-1}
	export S3CMD_CONF="$CEPH_DIR/s3cfg"
	cat >"$S3CMD_CONF" <<-EOF
	[default]
	access_key = $S3_ACCESS_KEY
	secret_key = $S3_SECRET_KEY
	host_base = 127.0.0.1:$CEPH_RGW_PORT
	host_bucket = 127.0.0.1:$CEPH_RGW_PORT
	bucket_location = $S3_REGION
	use_https = False
	signature_v2 = False
	check_ssl_certificate = False
	EOF
	if ! timeout -k 2 "${CEPH_START_TIMEOUT:-60}" radosgw-admin -c "$CEPH_CONF" \
	    user create --uid=test --display-name=test \
	    --access-key="$S3_ACCESS_KEY" --secret="$S3_SECRET_KEY" \
	    >>"$CEPH_DIR/mkfs.out" 2>&1 ||
	    ! s3c mb "s3://$S3_BUCKET" >>"$CEPH_DIR/mkfs.out" 2>&1; then
		echo "ceph: creating the S3 user or bucket failed" >&2
		ceph_logs
		ceph_stop
		return 1
	fi
	ceph_env >"$CEPH_DIR/env"
	CEPH_START_SECONDS=$(awk -v a="$t0" -v b="${EPOCHREALTIME:-0}" \
	    'BEGIN { printf "%.1f", b - a }')
	echo "ceph: S3 at $S3_ENDPOINT, bucket $S3_BUCKET, up in $CEPH_START_SECONDS s" >&2
}

ceph_env() {
	local v
	[ -z "${1:-}" ] || { cat "$1/env"; return; }
	for v in S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET S3_REGION \
	    CEPH_DIR CEPH_CONF S3CMD_CONF; do
		printf 'export %s=%q\n' "$v" "${!v}"
	done
}

# ceph_kill [-TERM] NAME...: signal the named daemons of DIR/pids
# (SIGKILL unless -TERM), wait until they are gone (bounded: 10 s, then
# SIGKILL after SIGTERM). SIGKILL at teardown: memstore writes all its
# data to disk at a clean shutdown, wasted on a throw-away cluster and
# slow after a benchmark. SIGTERM for a radosgw that is to come back:
# it drops its watches on the cluster's control objects, which a killed
# one keeps for 30 s, and until they expire bucket and user changes
# (notifications to every gateway) wait.
ceph_kill() {
	local sig=KILL name pid pids='' i left
	[ "$1" != -TERM ] || { sig=TERM; shift; }
	for name in "$@"; do
		pid=$(ceph_pid "$name")
		if [ -z "$pid" ] || ! ceph_alive "$pid" || ! ceph_ours "$pid"; then
			continue
		fi
		kill -"$sig" "$pid" 2>/dev/null
		pids="$pids $pid"
	done
	for ((i = 0; i < 200; i++)); do
		left=
		for pid in $pids; do
			ceph_alive "$pid" && left="$left $pid"
		done
		[ -n "$left" ] || return 0
		if [ "$i" = 100 ] && [ "$sig" = TERM ]; then
			echo "ceph: still alive 10 s after SIGTERM, killing:$left" >&2
			# shellcheck disable=SC2086  # a list of PIDs
			kill -KILL $left 2>/dev/null
		fi
		sleep 0.1
	done
	echo "ceph: daemons still alive:$left" >&2
	return 1
}

ceph_stop() {
	[ -z "${1:-}" ] || CEPH_DIR=$(cd "$1" && pwd) || return 1
	[ -n "$CEPH_DIR" ] && [ -f "$CEPH_DIR/pids" ] || return 0
	ceph_kill rgw osd mon
}

# ceph_rgw_stop [-KILL]: stop radosgw (SIGTERM, a clean stop; -KILL for a
# crash, after which bucket and user changes wait up to 30 s, object
# reads and writes do not).
ceph_rgw_stop() {
	if [ "${1:-}" = -KILL ]; then
		ceph_kill rgw
	else
		ceph_kill -TERM rgw
	fi
}

# ceph_rgw_start: radosgw again on the port it had (the endpoint clients
# were given); fails when something else took the port meanwhile.
ceph_rgw_start() {
	CEPH_RGW_PORT=${S3_ENDPOINT##*:}
	ceph_start_rgw || { ceph_logs; return 1; }
}

s3c() {
	timeout -k 2 120 s3cmd -c "$S3CMD_CONF" "$@"
}
