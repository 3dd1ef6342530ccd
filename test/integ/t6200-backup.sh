#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Backup (operations: backup): scripts/backup takes a tar archive of the
# storage root while pushes go on (new repositories, new tags and tags
# moved to new images); restored elsewhere, registryd fsck finds it
# clean and every push acknowledged before the backup began is pulled
# back whole, by curl and by skopeo. Backups after the first run with
# tar slowed down (strace fault injection) so that pushes land between
# and inside its passes: taking repositories/ and then blobs/ in one tar
# each fails this test (a tag or a manifest whose revision or layer link
# the archive lacks), as does a tar without --hard-dereference (a link
# file restored as a copy of another).
. "$(dirname "$0")/../lib/test-lib.sh"

BACKUP="$TEST_DIRECTORY/../scripts/backup"
PULLCHECK="$TEST_DIRECTORY/integ/lib-py/pullcheck.py"
LOOPS=3			# concurrent pushers
PRELOAD=30		# images pushed before the first backup
ROUNDS=3		# backups taken while pushing

# bg_push DIR REPO TAG: push a new small image (a random layer, its
# config, the manifest) with curl alone (several pushers run at once, so
# nothing here may use reg_curl's shared files); print the manifest's
# digest once the registry acknowledged it with 201.
bg_push() {
	local d=$1 repo=$2 tag=$3 f loc dg st
	head -c $((4096 + RANDOM)) /dev/urandom >"$d/layer" &&
	printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]},"config":{}}' \
	    "$(sha256_of "$d/layer")" >"$d/config" || return 1
	for f in layer config; do
		loc=$(curl -sS -m 30 -X POST -o /dev/null -D - \
		    "$BASE/v2/$repo/blobs/uploads/" | tr -d '\r' |
		    sed -n 's/^[Ll]ocation: //p') &&
		[ -n "$loc" ] || return 1
		dg=$(sha256_of "$d/$f")
		st=$(curl -sS -m 30 -X PUT -o /dev/null -w '%{http_code}' \
		    -H 'Content-Type: application/octet-stream' \
		    --data-binary @"$d/$f" "$(with_query "$(url "$loc")" "digest=$dg")") &&
		[ "$st" = 201 ] || return 1
	done
	printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}' \
	    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_CONFIG" "$d/config")" \
	    "$(json_descriptor "$MT_OCI_LAYER" "$d/layer")" >"$d/manifest" &&
	st=$(curl -sS -m 30 -X PUT -o /dev/null -w '%{http_code}' \
	    -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$d/manifest" \
	    "$BASE/v2/$repo/manifests/$tag") &&
	[ "$st" = 201 ] &&
	sha256_of "$d/manifest"
}

# pusher N COUNT: push COUNT images (0: until killed), each into one of a
# few repositories (new ones now and then), as tag i and as latest (a tag
# that moves); every acknowledged push is one line "digest repo tag" in
# acks.N.
pusher() {
	local n=$1 count=$2 i=0 repo dg st d="$TRASH/push.$1"
	mkdir -p "$d"
	while [ "$count" = 0 ] || [ "$i" -lt "$count" ]; do
		repo=bk/p$n/r$((i % 3))
		[ $((i % 11)) = 10 ] && repo=bk/p$n/new$i
		if dg=$(bg_push "$d" "$repo" "t$i"); then
			echo "$dg $repo t$i" >>"$TRASH/acks.$n"
			st=$(curl -sS -m 30 -X PUT -o /dev/null -w '%{http_code}' \
			    -H "Content-Type: $MT_OCI_MANIFEST" \
			    --data-binary @"$d/manifest" \
			    "$BASE/v2/$repo/manifests/latest")
			[ "$st" = 201 ] && echo "$dg $repo latest" >>"$TRASH/acks.$n"
		fi
		i=$((i + 1))
	done
}

# slow_tar: a tar in $TRASH/slowbin whose every openat(2) takes 3 ms
# longer (strace's fault injection), so a backup lasts seconds instead of
# milliseconds while the pushes go on: what a large store does to the
# order of the passes. Without a working strace (no ptrace in a
# container), plain tar.
slow_tar() {
	mkdir -p "$TRASH/slowbin" &&
	if strace -f -qq -o /dev/null -e trace=openat \
	    -e inject=openat:delay_exit=3000 true 2>/dev/null; then
		printf '#!/bin/sh\nexec strace -f -qq -o /dev/null -e trace=openat -e inject=openat:delay_exit=3000 %s "$@"\n' \
		    "$(command -v tar)" >"$TRASH/slowbin/tar" &&
		chmod +x "$TRASH/slowbin/tar"
	else
		say "# no strace fault injection here: backups at full speed"
	fi
}

# acked_count: acknowledged pushes so far, per pusher, as "N:lines ...".
acked_counts() {
	local n
	for ((n = 1; n <= LOOPS; n++)); do
		touch "$TRASH/acks.$n"
		printf '%s:%s ' "$n" "$(wc -l <"$TRASH/acks.$n")"
	done
}

# before_backup COUNTS: the ack lines counted in COUNTS (what had been
# acknowledged when the backup began).
before_backup() {
	local nc
	for nc in $1; do
		head -n "${nc#*:}" "$TRASH/acks.${nc%%:*}"
	done
}

# restore_check K: restore backup.K.tar into restored.K, check it with
# registryd fsck, serve it on a port of its own and pull back every push
# listed in before.K.
restore_check() {
	local k=$1 r="$TRASH/restored.$1" p pid rc=0
	rm -rf "$r" && mkdir -p "$r" &&
	tar -xf "$TRASH/backup.$k.tar" -C "$r" || return 1
	REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$r \
	    "$REGISTRYD" fsck -c /dev/null >"$TRASH/fsck.$k" 2>&1 || {
		echo "fsck of backup $k:"; cat "$TRASH/fsck.$k"; return 1; }
	p=$(free_port) || return 1
	REGISTRY_HTTP_ADDR=127.0.0.1:$p REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$r \
	    "$REGISTRYD" serve -c /dev/null >>"$TRASH/restored.log" 2>&1 \
	    </dev/null 3>&- &
	pid=$!
	WAIT_SECONDS=10 wait_for registryd_is_up "http://127.0.0.1:$p" &&
	python3 "$PULLCHECK" "$p" "$TRASH/before.$k" || rc=1
	kill "$pid" && wait "$pid"
	return $rc
}

test_expect_success CURL,REGISTRYD 'setup: images pushed before any backup' '
	start_registryd &&
	{ pusher 1 $((PRELOAD / 3)) & p1=$!; } &&
	{ pusher 2 $((PRELOAD / 3)) & p2=$!; } &&
	pusher 3 $((PRELOAD / 3)) &&
	wait $p1 $p2 &&
	n=$(cat acks.* | wc -l) &&
	echo "$n acknowledged" &&
	test "$n" -ge $((PRELOAD * 2 * 9 / 10))
'

test_expect_success CURL,REGISTRYD 'backups while pushes go on' '
	pids= &&
	for ((n = 1; n <= LOOPS; n++)); do
		{ pusher $n 0 & pids="$pids $!"; }
	done &&
	test_atexit "kill $pids 2>/dev/null" &&
	slow_tar &&
	sleep 1 &&
	(
		for ((k = 1; k <= ROUNDS; k++)); do
			# The first at full speed, the others slowed down.
			path=$PATH &&
			{ [ "$k" = 1 ] || path=$TRASH/slowbin:$PATH; } &&
			counts=$(acked_counts) &&
			before_backup "$counts" >before.$k &&
			PATH=$path "$BACKUP" "$ROOT" "$TRASH/backup.$k.tar" &&
			say "# backup $k: $(wc -l <before.$k) pushes acknowledged before it, $(cat acks.* | wc -l) after" &&
			sleep 0.3 || exit 1
		done
	)
	rc=$?
	kill $pids 2>/dev/null
	wait $pids 2>/dev/null
	test "$rc" = 0 &&
	test "$(cat acks.* | wc -l)" -gt "$(wc -l <before.$ROUNDS)"
'

test_expect_success CURL,PYTHON3,REGISTRYD 'each backup restores to a clean tree that serves every earlier push' '
	(
		for ((k = 1; k <= ROUNDS; k++)); do
			restore_check $k || exit 1
		done
	)
'

test_expect_success CURL,REGISTRYD 'the backup leaves upload sessions and temporary files out' '
	! tar -tf backup.1.tar | grep -E "/_uploads/|\.tmp$"
'

test_expect_success SKOPEO,REGISTRYD 'skopeo pulls from a restored tree' '
	r=$TRASH/restored.$ROUNDS &&
	p=$(free_port) &&
	{ REGISTRY_HTTP_ADDR=127.0.0.1:$p REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$r \
	    "$REGISTRYD" serve -c /dev/null >>"$TRASH/restored.log" 2>&1 </dev/null 3>&- &
	  pid=$!; } &&
	test_atexit "kill $pid 2>/dev/null" &&
	WAIT_SECONDS=10 wait_for registryd_is_up "http://127.0.0.1:$p" &&
	read -r dg repo tag <before.$ROUNDS &&
	reg_skopeo copy --src-tls-verify=false \
	    "docker://127.0.0.1:$p/$repo@$dg" "oci:$TRASH/pulled:x" &&
	test -s "$TRASH/pulled/index.json"
'

# "lib.tmp/app" is a valid repository name and "v1.tmp" a valid tag:
# only files named *.tmp are temporary. A backup that pruned every name
# ending in .tmp lost such a repository, silently, and its restore was
# fsck clean.
test_expect_success REGISTRYD 'a repository or a tag named *.tmp is backed up' '
	h=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef &&
	t=tmproot/docker/registry/v2 &&
	r=$t/repositories/lib.tmp/app &&
	mkdir -p $t/blobs/sha256/01/$h $r/_layers/sha256/$h \
	    $r/_manifests/revisions/sha256/$h \
	    $r/_manifests/tags/v1.tmp/current \
	    $r/_manifests/tags/v1.tmp/index/sha256/$h &&
	echo data >$t/blobs/sha256/01/$h/data &&
	for l in _layers/sha256/$h _manifests/revisions/sha256/$h \
	    _manifests/tags/v1.tmp/current \
	    _manifests/tags/v1.tmp/index/sha256/$h; do
		printf sha256:%s $h >$r/$l/link || return 1
	done &&
	echo x >$r/_manifests/tags/v1.tmp/current/link.0011223344556677.tmp &&
	"$BACKUP" tmproot tmp.tar &&
	tar -tf tmp.tar >tmp.list &&
	for l in _layers/sha256/$h _manifests/revisions/sha256/$h \
	    _manifests/tags/v1.tmp/current \
	    _manifests/tags/v1.tmp/index/sha256/$h; do
		grep -qx "docker/registry/v2/repositories/lib.tmp/app/$l/link" \
		    tmp.list || { echo "missing: $l/link"; return 1; }
	done &&
	! grep "link\.0011223344556677\.tmp" tmp.list
'

test_expect_success REGISTRYD 'backup refuses what is not a storage root' '
	mkdir -p notaroot &&
	test_expect_code 1 "$BACKUP" notaroot x.tar &&
	test_expect_code 2 "$BACKUP" only-one-argument
'

test_done
