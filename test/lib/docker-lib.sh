# docker-lib.sh: a private Docker daemon for a test script, sourced after
# test-lib.sh. start_dockerd starts dockerd with its data in the trash
# directory (vfs, no network setup) and its client settings exported;
# stop_dockerd (registered with test_atexit) stops it and everything it
# mounted.

# dockerd gets its own data root (in the trash directory) and a short
# exec root (unix socket paths are limited to 108 bytes).
DOCKER_TMP=
DOCKERD_PID=

stop_dockerd() {
	local kids
	if [ -n "$DOCKERD_PID" ]; then
		kids=$(pgrep -P "$DOCKERD_PID" 2>/dev/null)
		stop_pid "$DOCKERD_PID" 20
		# A managed containerd normally leaves with dockerd.
		for k in $kids; do
			kill -0 "$k" 2>/dev/null || continue
			kill -TERM "$k" 2>/dev/null
			sleep 1
			kill -KILL "$k" 2>/dev/null
		done
		DOCKERD_PID=
	fi
	# Container shm mounts and netns files must not outlive the test.
	awk '{ print $2 }' /proc/mounts |
	    grep -E "^($TRASH|${DOCKER_TMP:-/nonexistent})/" | sort -r |
	    while read -r m; do umount -l "$m" 2>/dev/null; done
	[ -n "$DOCKER_TMP" ] && rm -rf "$DOCKER_TMP"
	return 0
}
test_atexit stop_dockerd

start_dockerd() {
	DOCKER_TMP=$(mktemp -d /tmp/registryd-docker.XXXXXX) || return 1
	export DOCKER_HOST="unix://$DOCKER_TMP/docker.sock"
	export DOCKER_CONFIG="$TRASH/docker-config"
	export DOCKER_BUILDKIT=0
	mkdir -p "$DOCKER_CONFIG"
	dockerd --data-root "$TRASH/docker" --exec-root "$DOCKER_TMP/exec" \
	    --pidfile "$DOCKER_TMP/docker.pid" --host "$DOCKER_HOST" \
	    --storage-driver vfs --iptables=false --ip6tables=false \
	    --bridge=none --ip-masq=false --userland-proxy=false \
	    >"$TRASH/dockerd.log" 2>&1 </dev/null &
	DOCKERD_PID=$!
	local i
	for ((i = 0; i < 600; i++)); do
		kill -0 "$DOCKERD_PID" 2>/dev/null || {
			echo "dockerd exited"; tail -n 30 "$TRASH/dockerd.log"; return 1; }
		timeout 5 docker version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "dockerd did not answer within 60 s"
	tail -n 30 "$TRASH/dockerd.log"
	return 1
}


# build_test_image TAG BYTES: docker build a FROM scratch image holding
# busybox and BYTES of random data, whose command prints the data's
# sha256; the expected sum goes to want.sum.
build_test_image() {
	mkdir ctx &&
	cp /bin/busybox ctx/busybox &&
	random_file ctx/data.bin "$2" &&
	sha256sum <ctx/data.bin | cut -d" " -f1 >want.sum &&
	printf '%s\n' 'FROM scratch' 'COPY busybox /busybox' \
	    'COPY data.bin /data.bin' \
	    'CMD ["/busybox", "sha256sum", "/data.bin"]' >ctx/Dockerfile &&
	timeout 180 docker build -q -t "$1" ctx
}
