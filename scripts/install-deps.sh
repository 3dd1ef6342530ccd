#!/bin/sh
# install-deps.sh [build|test|all]: install the Debian packages registryd
# needs, but only those missing, so a second run costs a dpkg-query.
#   build  compiler, make, pkg-config and the -dev libraries
#   test   build + what `make test` drives: curl, jq, prove, python3,
#          skopeo, docker.io, docker-registry, busybox-static, openssl,
#          systemd-container and debootstrap (the systemd test),
#          chromium, Node.js and npm (each only when missing), then
#          playwright-core with `npm ci` in test/ui (package-lock.json),
#          docker-compose, python3-yaml, binutils (the image test),
#          prometheus (promtool, the metrics test), strace (the backup
#          test), ceph-mon, ceph-osd, ceph-mgr, radosgw and s3cmd (a
#          throw-away Ceph cluster as the S3 store, test/s3/ceph.sh),
#          haproxy (the balancer of the multi-instance test)
#   all    (default) the same as test
set -eu

BUILD_PKGS="gcc make pkg-config libevent-dev libhttp-parser-dev libjansson-dev
libssl-dev libcrypt-dev libyaml-dev libcurl4-openssl-dev"
TEST_PKGS="curl jq perl python3 skopeo docker.io docker-registry busybox-static
openssl ca-certificates clang-format nginx systemd-container debootstrap
docker-compose python3-yaml binutils chromium prometheus strace
ceph-mon ceph-osd ceph-mgr radosgw s3cmd haproxy"
TOP=$(cd "$(dirname "$0")/.." && pwd)

ui=
case "${1:-all}" in
build)		want=$BUILD_PKGS ;;
test | all)	want="$BUILD_PKGS $TEST_PKGS"; ui=1 ;;
-h | --help)	sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
*)		echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

# playwright-core for the web interface's browser test (t9600-ui.sh),
# pinned by test/ui/package-lock.json: npm ci when it is missing or the
# lock file changed since.
ui_modules() {
	d="$TOP/test/ui"
	if [ -f "$d/node_modules/playwright-core/package.json" ] &&
	    [ ! "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; then
		return 0
	fi
	echo "install-deps: npm ci in test/ui"
	(cd "$d" && npm ci --no-audit --no-fund)
}

# Off Debian there is no package database to ask: name what is needed
# and leave it to the administrator, rather than fail a build that may
# well work.
if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "install-deps: no dpkg-query (not Debian); make sure these," \
	    "or your system's equivalents, are installed:" $want >&2
	exit 0
fi

missing=
for p in $want; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing="$missing $p"
done
# Node.js and npm from Debian only when there are none: a nodejs from
# elsewhere brings its own npm, which Debian's npm package conflicts with.
if [ -n "$ui" ]; then
	command -v node >/dev/null 2>&1 || missing="$missing nodejs"
	command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
if [ -z "$missing" ]; then
	[ -z "$ui" ] || ui_modules
	exit 0
fi

echo "install-deps: installing:$missing"
if [ "$(id -u)" = 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: not root and no sudo; please install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
# The tests use prometheus' promtool only, never the server the package
# enables and starts, and start their own haproxy on a port they pick:
# turn the packaged services off again when this run installed them.
for svc in prometheus haproxy; do
	case " $missing " in
	*" $svc "*)
		if [ -d /run/systemd/system ]; then
			$SUDO systemctl disable --now "$svc.service" || true
		fi
		;;
	esac
done
[ -z "$ui" ] || ui_modules
