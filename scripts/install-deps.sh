#!/bin/sh
# install-deps.sh [build|test|all]: install the Debian packages registryd
# needs, but only those missing, so a second run costs a dpkg-query.
#   build  compiler, make, pkg-config and the -dev libraries
#   test   build + what `make test` drives: curl, jq, prove, python3,
#          skopeo, docker.io, docker-registry, busybox-static, openssl,
#          and for the systemd test systemd-container and debootstrap,
#          for the image test docker-compose, python3-yaml, binutils
#   all    (default) the same as test
set -eu

BUILD_PKGS="gcc make pkg-config libevent-dev libhttp-parser-dev libjansson-dev
libssl-dev libcrypt-dev libyaml-dev"
TEST_PKGS="curl jq perl python3 skopeo docker.io docker-registry busybox-static
openssl ca-certificates clang-format nginx systemd-container debootstrap
docker-compose python3-yaml binutils"

case "${1:-all}" in
build)		want=$BUILD_PKGS ;;
test | all)	want="$BUILD_PKGS $TEST_PKGS" ;;
-h | --help)	sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
*)		echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=
for p in $want; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

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
