#!/bin/sh
# build-image.sh BINARY VERSION [TAG...]: the registryd container image,
# FROM scratch, offline (no base image is pulled): the release binary,
# exactly the shared libraries ldd lists and the dynamic loader, CA
# certificates, /etc/passwd and /etc/group with the unprivileged user
# registryd (uid and gid 65532), an empty /var/lib/registry it owns, /tmp,
# and the default /etc/docker/registry/config.yml. Built by the Docker
# daemon DOCKER_HOST names (docker build, legacy builder). Tags: the ones
# given, default registryd:VERSION and registryd:latest.
#
# The root is a tarball made here with numeric owners, so the build needs
# no root and the image is the same from the same binary (mtime 0,
# sorted).
set -eu

bin=${1:?usage: build-image.sh BINARY VERSION [TAG...]}
version=${2:?usage: build-image.sh BINARY VERSION [TAG...]}
shift 2
[ $# -gt 0 ] || set -- "registryd:$version" "registryd:latest"

top=$(cd "$(dirname "$0")/.." && pwd)
uid=65532
ctx=$(dirname "$bin")/image
rm -rf "$ctx"
mkdir -p "$ctx/root"
root=$ctx/root

mkdir -p "$root/usr/sbin" "$root/etc/docker/registry" "$root/etc/ssl/certs" \
    "$root/var/lib/registry" "$root/tmp"
cp "$bin" "$root/usr/sbin/registryd"
chmod 755 "$root/usr/sbin/registryd"

# Exactly what ldd lists: "libx.so.N => /path (0x...)" and the loader
# "/lib64/ld-linux-x86-64.so.2 (0x...)", copied under the same paths (the
# file, not the symlink). linux-vdso is in the kernel. Besides, libcurl
# and what it needs: the s3 driver opens it at start (src/s3.c, dlopen of
# this soname, so that the filesystem driver never maps it), and ldd of
# the binary does not list it.
curl=$(pkg-config --variable=libdir libcurl 2>/dev/null)/libcurl.so.4
[ -e "$curl" ] || {
	echo "build-image: no libcurl.so.4 (pkg-config libcurl: install libcurl4-openssl-dev)" >&2
	exit 1
}
libs=$({ ldd "$bin" && echo "	libcurl.so.4 => $curl (0)" && ldd "$curl"; } |
    awk '
	$2 == "=>" && $3 ~ /^\// { print $3; next }
	$1 ~ /^\// { print $1 }' | sort -u)
[ -n "$libs" ] || { echo "build-image: ldd $bin listed nothing" >&2; exit 1; }
for l in $libs; do
	mkdir -p "$root$(dirname "$l")"
	cp -L "$l" "$root$l"
	echo "build-image: $l"
done

cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cat >"$root/etc/passwd" <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
registryd:x:$uid:$uid:registryd:/var/lib/registry:/usr/sbin/nologin
EOF
cat >"$root/etc/group" <<EOF
root:x:0:
registryd:x:$uid:
EOF
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
cp "$top/deploy/image/config.yml" "$root/etc/docker/registry/config.yml"
chmod 644 "$root"/etc/passwd "$root"/etc/group "$root"/etc/nsswitch.conf \
    "$root"/etc/docker/registry/config.yml
chmod 750 "$root/var/lib/registry"
chmod 1777 "$root/tmp"

# Everything root's but the storage root, which is the user's (a new
# named volume copies it, owner included).
tarflags="--sort=name --mtime=@0 --numeric-owner --format=gnu"
(cd "$root" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | sort) \
    >"$ctx/top"
# shellcheck disable=SC2086
tar -C "$root" -cf "$ctx/root.tar" $tarflags --owner=0 --group=0 \
    --exclude=./var/lib/registry --exclude=var/lib/registry -T "$ctx/top"
# shellcheck disable=SC2086
tar -C "$root" -rf "$ctx/root.tar" $tarflags --owner=$uid --group=$uid \
    var/lib/registry

rev=$(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)
sed -e "s/@VERSION@/$version/g" -e "s/@REVISION@/$rev/g" \
    "$top/deploy/image/Dockerfile" >"$ctx/Dockerfile"

tagargs=
for t in "$@"; do
	tagargs="$tagargs -t $t"
done
# shellcheck disable=SC2086
DOCKER_BUILDKIT=0 docker build --pull=false $tagargs "$ctx"
for t in "$@"; do
	echo "build-image: $t $(docker image inspect -f '{{.Size}}' "$t") bytes"
done
