#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Disk full and a read-only root, on a 64 MiB tmpfs (needs root: skipped
# on a developer's machine without it, a failure under CI=true). A full
# disk gives 507 with the OCI error body (and /readyz 503: a load balancer
# stops sending pushes) and leaves no partial blob, the
# stored content stays readable, the server keeps serving and recovers
# once space is freed; a read-only root stops the start with a message
# naming the root.
. "$(dirname "$0")/../lib/test-lib.sh"

MNT="$TRASH/mnt"
TMPFS_STATE=
MONO_UPLOAD=
CHUNK_UPLOAD=

# TMPFS: a size-limited tmpfs mounted on $MNT (tried once).
eval "test_lib_$(declare -f prereq_check)"
prereq_check() {
	case "$1" in
	TMPFS)
		if [ -z "$TMPFS_STATE" ]; then
			TMPFS_STATE=no
			mkdir -p "$MNT" &&
			[ "$(id -u)" = 0 ] &&
			mount -t tmpfs -o size=64m,mode=0755 tmpfs "$MNT" 2>/dev/null &&
			TMPFS_STATE=yes
		fi
		[ "$TMPFS_STATE" = yes ]
		;;
	*) test_lib_prereq_check "$1" ;;
	esac
}
umount_tmpfs() {
	[ "$TMPFS_STATE" = yes ] || return 0
	stop_registryd
	umount "$MNT" 2>/dev/null || umount -l "$MNT"
	TMPFS_STATE=
}
test_atexit umount_tmpfs

ROOT="$MNT/root"
V2="$ROOT/docker/registry/v2"

avail() {
	df -B1 --output=avail "$MNT" | tail -n 1 | tr -d ' '
}

# fill_to BYTES: grow $MNT/filler until at most BYTES are free (0: until
# a write fails).
fill_to() {
	local a
	a=$(avail)
	[ "$a" -le "$1" ] ||
	    head -c $((a - $1)) /dev/zero >>"$MNT/filler" 2>/dev/null
	if [ "$1" = 0 ]; then
		# Whatever tmpfs still finds room for.
		head -c 1048576 /dev/zero >>"$MNT/filler" 2>/dev/null
	fi
	echo "free: $(avail) bytes"
}

# No blob data and no temporary file for digest $1 under blobs/.
no_partial_blob() {
	local h=${1#sha256:}
	! test -e "$V2/blobs/sha256/${h:0:2}/$h/data" &&
	test -z "$(find "$V2/blobs" -name '*.tmp' | head -n 1)"
}

# The 507 body: an OCI error with a code.
expect_507() {
	expect_status 507 &&
	jq -e '.errors[0].code | type == "string"' "$TRASH/body" >/dev/null || {
		echo "no OCI error body"
		show_response
		return 1
	}
}

test_expect_success TMPFS,CURL,REGISTRYD 'setup: a registry on a 64 MiB tmpfs, an image and a blob' '
	start_registryd &&
	make_image disk/app v1 img &&
	random_file keep 2097152 &&
	push_blob disk/app keep &&
	random_file big 16777216 &&
	DBIG=$(sha256_of big)
'

test_expect_success TMPFS,CURL,REGISTRYD 'a monolithic upload larger than the free space: 507, OCI body, nothing left' '
	fill_to 8388608 &&
	upload_start disk/app &&
	reg_curl PUT "$(with_query "$UPLOAD" "digest=$DBIG")" \
	    -H "Content-Type: application/octet-stream" --data-binary @big &&
	expect_507 &&
	no_partial_blob "$DBIG" &&
	MONO_UPLOAD=$UPLOAD &&
	reg_curl GET "$UPLOAD" &&
	# Gone, or back to where it was before the request: the bytes of a
	# failed request must not keep the disk full.
	case "$STATUS" in
	404) expect_error_code BLOB_UPLOAD_UNKNOWN ;;
	204) { expect_header Range 0-0 || expect_no_header Range; } ;;
	*) echo "upload status after 507: $STATUS"; false ;;
	esac
'

test_expect_success TMPFS,CURL,REGISTRYD 'a chunked PATCH larger than the free space: 507, the upload keeps its offset' '
	# Independent of the previous test: cancel its upload, refill.
	{ [ -z "$MONO_UPLOAD" ] || reg_curl DELETE "$MONO_UPLOAD"; } &&
	rm -f "$MNT/filler" && fill_to 8388608 &&
	random_file c1 1048576 &&
	upload_start disk/app &&
	reg_curl PATCH "$UPLOAD" -H "Content-Type: application/octet-stream" \
	    --data-binary @c1 &&
	expect_status 202 &&
	UPLOAD=$(url "$(header Location)") &&
	reg_curl PATCH "$UPLOAD" -H "Transfer-Encoding: chunked" \
	    -H "Content-Type: application/octet-stream" --data-binary @big &&
	expect_507 &&
	no_partial_blob "$DBIG" &&
	reg_curl GET "$UPLOAD" &&
	case "$STATUS" in
	404) expect_error_code BLOB_UPLOAD_UNKNOWN ;;
	204) expect_header Range 0-1048575 &&
	     CHUNK_UPLOAD=$(url "$(header Location)") &&
	     uuid=$(header Docker-Upload-UUID) &&
	     test "$(size_of "$V2/repositories/disk/app/_uploads/$uuid/data")" = 1048576 ;;
	*) echo "upload status after 507: $STATUS"; false ;;
	esac
'

test_expect_success TMPFS,CURL,REGISTRYD 'a manifest PUT on a completely full disk: 507, not 500' '
	fill_to 0 &&
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":%s,\"layers\":[%s],\"annotations\":{\"x\":\"full\"}}" \
	    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_CONFIG" img/config.json)" \
	    "$(json_descriptor "$MT_OCI_LAYER" img/layer.bin)" >full.json &&
	reg_curl PUT /v2/disk/app/manifests/full -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @full.json &&
	expect_507 &&
	reg_curl GET /v2/disk/app/manifests/full &&
	expect_status 404 &&
	no_partial_blob "$(sha256_of full.json)"
'

test_expect_success TMPFS,CURL,REGISTRYD 'a small blob on a completely full disk: 507' '
	echo small >small &&
	reg_curl POST "/v2/disk/app/blobs/uploads/?digest=$(sha256_of small)" \
	    -H "Content-Type: application/octet-stream" --data-binary @small &&
	expect_507 &&
	no_partial_blob "$(sha256_of small)"
'

test_expect_success TMPFS,CURL,REGISTRYD 'while full: existing content stays readable, the server serves' '
	kill -0 "$REG_PID" &&
	reg_curl GET /v2/ &&
	expect_status 200 &&
	reg_curl GET /healthz &&
	expect_status 200 &&
	reg_curl GET "/v2/disk/app/blobs/$(sha256_of keep)" &&
	expect_status 200 &&
	expect_body_file keep &&
	reg_curl GET /v2/disk/app/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_body_file img/manifest.json &&
	reg_curl GET "/v2/disk/app/blobs/$(sha256_of img/layer.bin)" &&
	expect_status 200 &&
	expect_body_file img/layer.bin
'

test_expect_success TMPFS,CURL,REGISTRYD 'while full: /readyz says 503, the storage takes no writes' '
	reg_curl GET /readyz &&
	expect_status 503 &&
	grep -q "^not ready: storage does not take writes: No space left on device$" body &&
	test_expect_code 1 "$REGISTRYD" healthcheck -r -c "$CONF" &&
	"$REGISTRYD" healthcheck -c "$CONF"
'

test_expect_success TMPFS,CURL,REGISTRYD 'after freeing space: the big upload and the manifest succeed' '
	rm -f "$MNT/filler" &&
	reg_curl GET /readyz &&
	expect_status 200 &&
	push_blob disk/app big &&
	reg_curl GET "/v2/disk/app/blobs/$DBIG" &&
	expect_status 200 &&
	expect_body_file big &&
	push_manifest disk/app full full.json "$MT_OCI_MANIFEST" &&
	if [ -n "$CHUNK_UPLOAD" ]; then
		# The upload cut by the 507 resumes and commits the right bytes.
		reg_curl PUT "$(with_query "$CHUNK_UPLOAD" "digest=$(sha256_of c1)")" &&
		expect_status 201 &&
		reg_curl GET "/v2/disk/app/blobs/$(sha256_of c1)" &&
		expect_body_file c1
	fi &&
	kill -0 "$REG_PID"
'

test_expect_success TMPFS,CURL,REGISTRYD 'registryd fsck: the tree is clean after the disk-full episode' '
	"$REGISTRYD" fsck -c "$CONF" >fsck.out 2>&1 ||
	{ cat fsck.out; false; } &&
	grep -v "^info: " fsck.out &&
	grep -q " 0 problems" fsck.out
'

test_expect_success TMPFS,REGISTRYD 'a read-only root: registryd refuses to start, naming the root' '
	stop_registryd &&
	mount -o remount,ro "$MNT" &&
	test_expect_code_nonzero timeout 10 "$REGISTRYD" serve -c "$CONF" \
	    >ro.out 2>&1 &&
	cat ro.out &&
	grep -F "$ROOT" ro.out | grep -qi "read-only"
'

test_expect_success TMPFS,REGISTRYD 'a read-only root that does not exist yet: a clear error too' '
	sed "s|^rootdirectory = .*|rootdirectory = $MNT/newroot|" "$CONF" >ro2.conf &&
	test_expect_code_nonzero timeout 10 "$REGISTRYD" serve -c ro2.conf \
	    >ro2.out 2>&1 &&
	cat ro2.out &&
	grep -F "$MNT/newroot" ro2.out | grep -qi "read-only"
'

test_expect_success TMPFS,CURL,REGISTRYD '[storage] read_only on the read-only root: serves pulls, /readyz 200 (a read probe)' '
	start_registryd REGISTRY_STORAGE_READ_ONLY=true &&
	reg_curl GET "/v2/disk/app/blobs/$(sha256_of keep)" &&
	expect_status 200 &&
	expect_body_file keep &&
	reg_curl GET /readyz &&
	expect_status 200 &&
	test "$(cat body)" = ready &&
	stop_registryd
'

test_expect_success TMPFS,REGISTRYD 'registryd fsck works on the read-only root' '
	"$REGISTRYD" fsck -c "$CONF" >fsck-ro.out 2>&1 &&
	tail -n 1 fsck-ro.out &&
	grep -q " 0 problems" fsck-ro.out &&
	mount -o remount,rw "$MNT"
'

test_done
