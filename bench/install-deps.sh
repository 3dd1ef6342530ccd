#!/bin/sh
# bench/install-deps.sh: install the Debian packages `make bench` needs on
# top of the build and test dependencies, but only those missing, so a
# second run costs one dpkg-query per package.
#   wrk              HTTP load generator (phase 5)
#   nginx-light      sendfile baseline for downloads (machine limits)
#   curl jq python3  clients and parsing
#   openssl          `openssl speed` (machine limits)
#   docker-registry  the reference registry:2
#   linux-perf       only for `bench/profile.sh` (optional)
set -eu

PKGS="wrk nginx-light curl jq python3 openssl docker-registry gcc make
pkg-config libssl-dev"
[ "${1:-}" = profile ] && PKGS="$PKGS linux-perf valgrind"

missing=
for p in $PKGS; do
	# nginx-light is only one way to have nginx.
	[ "$p" = nginx-light ] && command -v nginx >/dev/null 2>&1 && continue
	[ "$p" = nginx-light ] && [ -x /usr/sbin/nginx ] && continue
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

echo "bench/install-deps: installing:$missing"
if [ "$(id -u)" = 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	echo "bench/install-deps: not root and no sudo; please install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
