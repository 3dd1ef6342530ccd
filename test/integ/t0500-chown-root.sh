#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# [server] chown_root and [server] umask, what the container image sets:
# registryd started as root takes over a storage root that registry:2
# (Debian's docker-registry, run as root here) wrote, then drops to
# [server] user and pushes into the existing repository; started without
# root on a root-owned tree it refuses, naming the chown to run; the umask
# decides the modes of what it creates.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/reference-lib.sh"

eval "own_orig_prereq_check() $(declare -f prereq_check | tail -n +2)"
prereq_check() {
	case "$1" in
	ROOT)	[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null ;;
	*)	own_orig_prereq_check "$1" ;;
	esac
}

test_expect_success ROOT,DOCKER_REGISTRY,SKOPEO,BUSYBOX 'setup: docker-registry, as root, writes a tree' '
	make_oci_layout "$TRASH/src" v1 &&
	reference_config "$ROOT" &&
	REF_UMASK=022 start_reference "$TRASH/reference.yml" &&
	reg_skopeo copy --dest-tls-verify=false "oci:$TRASH/src:v1" \
	    "docker://127.0.0.1:$REF_PORT/old/app:v1" &&
	stop_reference &&
	test "$(stat -c %u "$ROOT/docker/registry/v2/repositories/old/app/_layers")" = 0
'

test_expect_success ROOT,DOCKER_REGISTRY,SKOPEO,BUSYBOX,REGISTRYD 'without root: refused, naming the chown' '
	chmod 755 "$ROOT" &&
	test_expect_code 1 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    env REGISTRY_SERVER_CHOWN_ROOT=true REGISTRY_HTTP_ADDR=127.0.0.1:$PORT \
	    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$ROOT" \
	    "$REGISTRYD" serve 2>err </dev/null 3>&- ;
	cat err &&
	uid=$(id -u nobody) && gid=$(id -g nobody) &&
	grep -q "refusing to start: storage $ROOT is owned by uid 0 and not writable by uid $uid that registryd runs as.*run chown -R $uid:$gid $ROOT" err &&
	chmod 777 "$ROOT" &&
	test_expect_code 1 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    env REGISTRY_SERVER_CHOWN_ROOT=true REGISTRY_HTTP_ADDR=127.0.0.1:$PORT \
	    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$ROOT" \
	    "$REGISTRYD" serve 2>err </dev/null 3>&- ;
	cat err &&
	grep -q "refusing to start: storage $ROOT/docker/registry/v2 is owned by uid 0 and not writable" err &&
	chmod 755 "$ROOT"
'

test_expect_success ROOT,DOCKER_REGISTRY,SKOPEO,BUSYBOX,REGISTRYD 'as root with user and chown_root: the tree is taken over, then root is dropped' '
	cat >"$CONF" <<-EOF &&
	[http]
	addr = 127.0.0.1:$PORT
	[storage]
	rootdirectory = $ROOT
	[server]
	user = nobody
	chown_root = true
	umask = 0027
	[log]
	level = debug
	EOF
	start_registryd &&
	grep -q "storage $ROOT: [0-9]* entries given to user nobody" registryd.log &&
	grep -q "running as user nobody" registryd.log &&
	test "$(stat -c %U "$ROOT/docker/registry/v2/repositories/old/app/_layers")" = nobody &&
	test -z "$(find "$ROOT" ! -user nobody | head -n 1)" &&
	test "$(ps -o user= -p "$REG_PID")" = nobody
'

test_expect_success ROOT,DOCKER_REGISTRY,SKOPEO,BUSYBOX,REGISTRYD 'a push into the repository registry:2 wrote, files made with umask 0027' '
	reg_skopeo copy --src-tls-verify=false --dest-tls-verify=false \
	    "docker://127.0.0.1:$PORT/old/app:v1" "docker://127.0.0.1:$PORT/old/app:v2" &&
	reg_curl GET /v2/old/app/tags/list &&
	jq_body ".tags == [\"v1\", \"v2\"]" &&
	link="$ROOT/docker/registry/v2/repositories/old/app/_manifests/tags/v2/current/link" &&
	test "$(stat -c %a "$link")" = 640 &&
	test "$(stat -c %a "$(dirname "$link")")" = 750 &&
	test "$(stat -c %U "$link")" = nobody
'

test_expect_success ROOT,DOCKER_REGISTRY,SKOPEO,BUSYBOX,REGISTRYD 'a second start changes nothing' '
	stop_registryd &&
	start_registryd &&
	test "$(grep -c "entries given to user nobody" registryd.log)" = 1
'

# A volume registryd took over, then written again by registry:2 as root:
# the root and the v2 directories are the user's, but a repository deep
# down is root's again. A symlink in the volume that points outside it is
# never followed, and a hard link to a file outside is left alone.
test_expect_success ROOT,DOCKER_REGISTRY,SKOPEO,BUSYBOX,REGISTRYD 'root-owned entries deep down are taken over; links out are not followed' '
	stop_registryd &&
	chown -R 0:0 "$ROOT/docker/registry/v2/repositories/old" &&
	test "$(stat -c %U "$ROOT/docker/registry/v2/repositories")" = nobody &&
	mkdir -p outside/dir &&
	echo secret >outside/file &&
	echo secret >outside/dir/file &&
	chown -R 0:0 outside &&
	ln -s "$TRASH/outside/file" "$ROOT/link-to-file" &&
	ln -s "$TRASH/outside/dir" "$ROOT/docker/registry/v2/link-to-dir" &&
	ln outside/dir/file "$ROOT/docker/registry/v2/hard-link" &&
	start_registryd &&
	reg_skopeo copy --src-tls-verify=false --dest-tls-verify=false \
	    "docker://127.0.0.1:$PORT/old/app:v1" "docker://127.0.0.1:$PORT/old/app:v3" &&
	reg_curl GET /v2/old/app/tags/list &&
	jq_body ".tags == [\"v1\", \"v2\", \"v3\"]" &&
	grep "entries given to user nobody" registryd.log | tail -n 1 >given &&
	cat given &&
	grep -q "storage $ROOT: [1-9][0-9]* entries given to user nobody in [0-9.]* s" given &&
	grep -q "storage $ROOT: 1 entries left as they are" registryd.log &&
	test -z "$(find "$ROOT" ! -user nobody ! -name hard-link | head -n 1)" &&
	test "$(stat -c %u:%g outside outside/file outside/dir outside/dir/file | sort -u)" = 0:0
'

test_done
