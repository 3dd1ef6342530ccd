#!/usr/bin/env bash
# gc-stall.sh: online garbage collection on S3 while the gateway stalls
# (issue 14). Not part of make test: it takes a minute and is a matter of
# chance, if a good one. One registryd (gc_grace 0) on a running cluster,
# test/integ/lib-py/gcpush.py pushing from WORKERS clients for SECONDS,
# and radosgw stopped (SIGSTOP) for 2.5 s every 6.5 s with a collection
# started (SIGUSR1) in the middle of each stop. A manifest push under way
# then takes longer than gc_grace + 1 s between touching its layers and
# writing its revision link, across the start of a collection: the case
# registryd lost acknowledged pushes in before the cutoff waited for
# pushes (gc.c, gc_set_cutoff).
#
#   eval "$(test/s3/ceph.sh start /tmp/c2)"
#   test/s3/gc-stall.sh /tmp/c2 build/registryd /tmp/out [SECONDS [WORKERS]]
#   test/s3/ceph.sh stop /tmp/c2
#
# Prints gcpush's counts; exits 1 when an acknowledged push is not
# pullable afterwards. OUT keeps registryd.log and push.json.
set -u

[ $# -ge 3 ] || { sed -n '2,18s/^# \{0,1\}//p' "$0" >&2; exit 2; }
top=$(cd "$(dirname "$0")/../.." && pwd)
cluster=$1 bin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2") out=$3
secs=${4:-45} workers=${5:-6}
eval "$("$top/test/s3/ceph.sh" env "$cluster")"
# shellcheck source=ceph-lib.sh
. "$top/test/s3/ceph-lib.sh"
rgw=$(CEPH_DIR=$cluster ceph_pid rgw)
[ -n "$rgw" ] || { echo "no radosgw in $cluster" >&2; exit 1; }

rm -rf "$out" && mkdir -p "$out" && cd "$out" || exit 1
port=$(python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >registryd.conf <<EOF
[http]
addr = 127.0.0.1:$port
[storage]
delete_enabled = true
driver = s3
redirect_disable = true
gc_grace = 0
[s3]
regionendpoint = $S3_ENDPOINT
bucket = $S3_BUCKET
region = ${S3_REGION:-us-east-1}
accesskey = $S3_ACCESS_KEY
secretkey = $S3_SECRET_KEY
rootdirectory = /gc-stall-$$
[log]
level = debug
EOF
"$bin" serve -c registryd.conf 2>registryd.log &
reg=$!
for _ in $(seq 100); do
	curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break
	sleep 0.1
done
(
	while kill -0 "$reg" 2>/dev/null; do
		sleep 4
		kill -STOP "$rgw"
		sleep 1.5
		kill -USR1 "$reg"
		sleep 1
		kill -CONT "$rgw"
	done
) &
stall=$!
python3 "$top/test/integ/lib-py/gcpush.py" "$port" "$secs" "$workers" \
    push.json >/dev/null
rc=$?
kill "$stall"
wait "$stall" 2>/dev/null
kill -CONT "$rgw"
kill "$reg"
wait "$reg"
echo "$(jq -c '{acked, unpullable, counts}' push.json)" \
    "collections=$(grep -c 'garbage collection (SIGUSR1) done' registryd.log)" \
    "blobs_removed=$(grep -c 'garbage collection: remove blob' registryd.log)"
exit "$rc"
