# shellcheck shell=bash disable=SC2034
# nspawn-lib.sh: boot a Debian container with systemd as PID 1 for the
# service tests. Source it after test-lib.sh.
#
#   nspawn_rootfs PKG...   a minimal Debian tree (debootstrap minbase with
#                          systemd and PKG...), built once and cached
#                          outside the source tree; sets ROOTFS
#   nspawn_boot ARGS...    boot ROOTFS with systemd-nspawn --volatile=overlay
#                          (every change is thrown away; extra ARGS such as
#                          --bind-ro=...), wait for the boot to finish; sets
#                          NSPAWN_PID (the nspawn process, a process group
#                          leader) and CPID (the container's PID 1, as seen
#                          from here)
#   csys CMD...            run CMD inside the container (nsenter into all
#                          of PID 1's namespaces), bounded by a timeout
#   nspawn_stop            poweroff, bounded; then kill the process group.
#                          Registered with test_atexit by nspawn_boot.
#   runtime_packages BIN   the Debian packages holding BIN's shared libraries
#
# The container shares the host's network (no --private-network): what it
# serves must listen on 127.0.0.1, on a port the test picked.
#
# The cache: ${REGISTRYD_TEST_CACHE:-${XDG_CACHE_HOME:-~/.cache}/registryd-test}/
# rootfs-<hash of the suite and package list>; a run with another package
# list builds another tree and removes the old ones. debootstrap takes
# about a minute and 250 MB, once.
#
# Prerequisite added: NSPAWN (root, systemd-nspawn, debootstrap, nsenter,
# setsid, flock); a tool, so under CI=true its absence is a failure.

NSPAWN_PID=
CPID=
ROOTFS=

eval "nspawn_orig_prereq_check() $(declare -f prereq_check | tail -n +2)"
prereq_check() {
	case "$1" in
	NSPAWN)	[ "$(id -u)" = 0 ] &&
		    command -v systemd-nspawn >/dev/null &&
		    command -v debootstrap >/dev/null &&
		    command -v nsenter >/dev/null &&
		    command -v setsid >/dev/null &&
		    command -v flock >/dev/null ;;
	*)	nspawn_orig_prereq_check "$1" ;;
	esac
}

# The mirror apt already uses (deb822 first, then sources.list).
nspawn_mirror() {
	local m
	m=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' \
	    /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	[ -n "$m" ] || m=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' \
	    /etc/apt/sources.list 2>/dev/null)
	echo "${m:-http://deb.debian.org/debian}"
}

nspawn_suite() {
	local s
	s=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	echo "${s:-bookworm}"
}

# runtime_packages BIN: the packages of BIN's libraries (usrmerge: dpkg
# knows some of them under /usr/lib, ldd names /lib).
runtime_packages() {
	local lib p
	ldd "$1" | awk '/=> \// { print $3 }' | while read -r lib; do
		for p in "$lib" "$(realpath "$lib")" "/usr$lib" \
		    "$(realpath "$lib" | sed 's,^/usr,,')"; do
			dpkg -S "$p" 2>/dev/null && break
		done
	done | cut -d: -f1 | sort -u | tr '\n' ' '
}

# nspawn_rootfs PKG...: set ROOTFS to a cached tree with those packages.
nspawn_rootfs() {
	local cache=${REGISTRYD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/registryd-test}
	local suite pkgs key tmp t0 rc
	suite=$(nspawn_suite)
	pkgs=$(printf '%s\n' systemd systemd-sysv dbus procps "$@" |
	    sort -u | tr '\n' ',' | sed 's/,$//')
	key=$(printf '%s %s\n' "$suite" "$pkgs" | sha256sum | cut -c1-12)
	ROOTFS="$cache/rootfs-$key"
	mkdir -p "$cache" || return 1
	(
		flock 9 || exit 1
		[ -d "$ROOTFS" ] && exit 0
		tmp="$ROOTFS.tmp.$$"
		rm -rf "$tmp"
		t0=$(date +%s)
		echo "debootstrap $suite ($pkgs) from $(nspawn_mirror)"
		debootstrap --variant=minbase --include="$pkgs" "$suite" \
		    "$tmp" "$(nspawn_mirror)" >"$cache/debootstrap.log" 2>&1
		rc=$?
		if [ "$rc" != 0 ]; then
			tail -n 20 "$cache/debootstrap.log"
			rm -rf "$tmp"
			exit 1
		fi
		mv "$tmp" "$ROOTFS" || exit 1
		echo "debootstrap took $(($(date +%s) - t0)) s, $(du -sh "$ROOTFS" | cut -f1)"
		# Trees of other package lists are stale now.
		find "$cache" -maxdepth 1 -name 'rootfs-*' ! -path "$ROOTFS" \
		    -exec rm -rf {} + 2>/dev/null
		exit 0
	) 9>"$cache/lock"
}

# csys CMD...: run CMD in the container, at most $CSYS_TIMEOUT (60) s.
csys() {
	[ -n "$CPID" ] || { echo "csys: no container" >&2; return 1; }
	timeout "${CSYS_TIMEOUT:-60}" nsenter -t "$CPID" -a "$@"
}

# nspawn_boot ARGS...: boot $ROOTFS, wait until systemd is done booting.
nspawn_boot() {
	local i st
	[ -n "$ROOTFS" ] && [ -d "$ROOTFS" ] || { echo "no ROOTFS" >&2; return 1; }
	test_atexit nspawn_stop
	# setsid: nspawn leads its own process group, which nspawn_stop can
	# kill whole; fd 3 (TAP) is not handed down.
	setsid systemd-nspawn --boot --register=no --keep-unit \
	    --volatile=overlay --console=pipe -D "$ROOTFS" \
	    --machine="registryd-test-$$" "$@" \
	    </dev/null >"$TRASH/nspawn.log" 2>&1 3>&- &
	NSPAWN_PID=$!
	for ((i = 0; i < 300; i++)); do
		CPID=$(pgrep -P "$NSPAWN_PID" -x systemd | head -n 1)
		[ -n "$CPID" ] && break
		kill -0 "$NSPAWN_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$CPID" ]; then
		echo "no container PID 1 (nspawn $NSPAWN_PID):"
		cat "$TRASH/nspawn.log"
		return 1
	fi
	# Until PID 1 has made /run/systemd/system, systemctl answers
	# "offline" (sd_booted() is false); until it has its bus socket,
	# systemctl cannot even ask. Both are early boot: ask again.
	for ((i = 0; i < 600; i++)); do
		st=$(CSYS_TIMEOUT=120 csys systemctl is-system-running --wait 2>&1)
		case $st in
		running | degraded)
			echo "boot: $st"
			return 0 ;;
		offline | *"Failed to connect to bus"* | "")
			kill -0 "$NSPAWN_PID" 2>/dev/null || break
			sleep 0.1 ;;
		*)	break ;;
		esac
	done
	echo "boot: $st"
	csys systemctl --failed --no-pager
	tail -n 40 "$TRASH/nspawn.log"
	return 1
}

# nspawn_stop: power the container off (bounded), then make sure nothing
# of it is left.
nspawn_stop() {
	local i
	[ -n "$NSPAWN_PID" ] || return 0
	if kill -0 "$NSPAWN_PID" 2>/dev/null; then
		[ -z "$CPID" ] || CSYS_TIMEOUT=10 csys systemctl poweroff \
		    >/dev/null 2>&1
		for ((i = 0; i < 200; i++)); do
			kill -0 "$NSPAWN_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$NSPAWN_PID" 2>/dev/null; then
			# PID 1 takes its whole PID namespace with it.
			[ -z "$CPID" ] || kill -KILL "$CPID" 2>/dev/null
			kill -KILL -- "-$NSPAWN_PID" 2>/dev/null
		fi
	fi
	wait "$NSPAWN_PID" 2>/dev/null
	NSPAWN_PID=
	CPID=
	return 0
}
