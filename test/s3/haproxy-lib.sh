# shellcheck shell=bash disable=SC2120  # optional args
# haproxy-lib.sh: a round-robin HTTP balancer on loopback in front of
# several registry instances (the multi-instance tests). Bash, no other
# dependency; test/lib/s3-lib.sh ties it to a test (lb_start).
#
#   haproxy_start DIR BACKEND...   haproxy on a free 127.0.0.1 port over
#                      BACKENDs (PORT or HOST:PORT), its config, log and
#                      PID in DIR; wait until it accepts connections (not
#                      until the backends are up: haproxy_wait_up). Sets
#                      and exports LB_PORT, LB_BASE (http://127.0.0.1:PORT),
#                      LB_DIR.
#   haproxy_stop       SIGTERM, bounded wait, SIGKILL. Idempotent.
#   haproxy_status     one "NAME STATUS" line per backend (s1, s2, ...;
#                      STATUS UP, DOWN, ...) from haproxy's stats page
#   haproxy_wait_up N [SECONDS]   until N backends are UP (default 20 s)
#   haproxy_wait_state NAME STATE [SECONDS]   until backend NAME is STATE
#   haproxy_served NAME   how many responses backend NAME sent so far
#
# Balancing: roundrobin per request (haproxy re-balances every request of
# a keep-alive connection unless told to prefer the last server), so one
# client's push spreads over every instance, the case the multi-instance
# test is about. A backend is checked with GET $HAPROXY_CHECK (default
# /healthz) every 0.5 s: down after 2 failures, up after 1 success. A
# request whose connection to a backend fails is sent to another one
# (redispatch, 3 retries); requests that reached a backend are never
# replayed (haproxy's default retry-on conn-failure only), so a PATCH is
# not sent twice: the client sees the failure and retries, as it would
# without a balancer.
#
# Knobs: HAPROXY_CHECK (health path), HAPROXY_TIMEOUT (client/server
# inactivity, default 300s: a large blob's commit may take a while on S3).

LB_DIR=${LB_DIR:-}
LB_PID=

haproxy_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

haproxy_start() {
	local d=$1 b i n=0 pid
	shift
	[ $# -gt 0 ] || { echo "haproxy_start: no backends" >&2; return 1; }
	[ -z "$LB_PID" ] || { echo "haproxy_start: already running" >&2; return 1; }
	mkdir -p "$d" && LB_DIR=$(cd "$d" && pwd) || return 1
	LB_PORT=$(haproxy_free_port) && LB_STATS_PORT=$(haproxy_free_port) || return 1
	{
		cat <<-EOF
		# written by test/s3/haproxy-lib.sh
		global
		    maxconn 2000
		    log stdout format raw local0 info

		defaults
		    mode http
		    log global
		    option httplog
		    option redispatch
		    retries 3
		    timeout connect 2s
		    timeout client ${HAPROXY_TIMEOUT:-300s}
		    timeout server ${HAPROXY_TIMEOUT:-300s}
		    timeout http-request 60s

		frontend registry
		    bind 127.0.0.1:$LB_PORT
		    default_backend registry

		frontend stats
		    bind 127.0.0.1:$LB_STATS_PORT
		    stats enable
		    stats uri /stats
		    stats refresh 0

		backend registry
		    balance roundrobin
		    option httpchk GET ${HAPROXY_CHECK:-/healthz}
		    http-check expect status 200
		    default-server check inter 500ms fall 2 rise 1
		EOF
		for b in "$@"; do
			n=$((n + 1))
			case $b in *:*) ;; *) b=127.0.0.1:$b ;; esac
			echo "    server s$n $b"
		done
	} >"$LB_DIR/haproxy.cfg"
	haproxy -c -q -f "$LB_DIR/haproxy.cfg" >"$LB_DIR/haproxy.log" 2>&1 || {
		cat "$LB_DIR/haproxy.log" >&2; return 1; }
	# -db: stay in the foreground (its PID is the one to stop). fd 3 is
	# closed: test-lib.sh keeps the TAP stream there.
	# TEST_PDEATHSIG=1: killed with the calling shell (see ceph-lib.sh).
	${TEST_PDEATHSIG:+setpriv --pdeathsig KILL} \
	    haproxy -db -f "$LB_DIR/haproxy.cfg" </dev/null >>"$LB_DIR/haproxy.log" 2>&1 3>&- &
	pid=$!
	disown "$pid"
	LB_PID=$pid
	echo "$pid" >"$LB_DIR/haproxy.pid"
	export LB_DIR LB_PORT LB_BASE="http://127.0.0.1:$LB_PORT"
	for ((i = 0; i < 100; i++)); do
		if (exec 9<>"/dev/tcp/127.0.0.1/$LB_PORT") 2>/dev/null; then
			return 0
		fi
		if ! haproxy_alive "$pid"; then
			echo "haproxy exited at start (port taken?):" >&2
			tail -n 20 "$LB_DIR/haproxy.log" >&2
			LB_PID=
			return 1
		fi
		sleep 0.1
	done
	echo "haproxy did not listen on $LB_PORT within 10 s" >&2
	haproxy_stop
	return 1
}

# haproxy_alive PID: not gone and not a zombie (see ceph_alive).
haproxy_alive() {
	local f st
	for f in /proc/"$1"/task/*/stat; do
		st=$(cat "$f" 2>/dev/null) || continue
		st=${st##*) }
		[ "${st%% *}" = Z ] || return 0
	done
	return 1
}

haproxy_stop() {
	local pid=$LB_PID i
	[ -n "$pid" ] || return 0
	LB_PID=
	haproxy_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		haproxy_alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# haproxy_field SERVER FIELD: a field of the backend's SERVER line in the
# stats page's CSV (header "# pxname,svname,...,status,...,hrsp_2xx,...");
# one "SERVER VALUE" line per server when SERVER is "*".
haproxy_field() {
	curl -s -m 5 "http://127.0.0.1:$LB_STATS_PORT/stats;csv" |
	    awk -F, -v s="$1" -v f="$2" '
		NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == "registry" && $2 != "BACKEND" && $2 != "FRONTEND" && (s == "*" || $2 == s) {
			v = 0
			if (f == "served") {
				for (k = 1; k <= 5; k++) v += $col["hrsp_" k "xx"]
				v += $col["hrsp_other"]
			} else
				v = $col[f]
			print (s == "*" ? $2 " " : "") v
		}'
}

haproxy_status() {
	haproxy_field '*' status
}

haproxy_wait_up() {
	local want=$1 i n=$(( ${2:-20} * 10 ))
	for ((i = 0; i < n; i++)); do
		[ "$(haproxy_status | grep -c ' UP$')" -ge "$want" ] && return 0
		sleep 0.1
	done
	echo "haproxy: fewer than $want backends up:" >&2
	haproxy_status >&2
	return 1
}

# haproxy_wait_state NAME STATE [SECONDS]: until backend NAME's status
# is STATE (UP, DOWN, MAINT), default at most 20 s.
haproxy_wait_state() {
	local i n=$(( ${3:-20} * 10 ))
	for ((i = 0; i < n; i++)); do
		[ "$(haproxy_field "$1" status)" = "$2" ] && return 0
		sleep 0.1
	done
	echo "haproxy: $1 is not $2:" >&2
	haproxy_status >&2
	return 1
}

# haproxy_served NAME: how many responses backend NAME sent.
haproxy_served() {
	haproxy_field "$1" served
}
