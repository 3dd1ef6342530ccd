#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Garbage collection against the anchor, registry:2 (Debian's
# docker-registry 2.8): real images pushed by skopeo (two images, one
# deleted; a multi-platform index; a referrer of the kept image; an
# untagged manifest; an orphan blob), then copies of the same tree
# collected by each:
#
#   - after registryd's collection, docker-registry serves every image
#     left and its own garbage-collect --dry-run finds nothing to remove;
#   - after docker-registry's, registryd serves them and finds no blob
#     and no manifest to remove (only the layer links registry:2 leaves
#     pointing at the blobs it removed);
#   - both remove the same blobs;
#   - with --delete-untagged the only differences are the index's
#     children and the referrer (and the blobs only they use), which
#     registryd keeps and registry:2 2.8 removes, breaking the index.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/reference-lib.sh"

MT_OCI_EMPTY=application/vnd.oci.empty.v1+json
MT_SIG=application/vnd.example.signature.v1

# ref_gc ROOT [FLAGS...]: docker-registry garbage-collect on ROOT; its
# counts in REF_BLOBS and REF_MANIFESTS (what it removes or would).
ref_gc() {
	local root=$1 line
	shift
	reference_config "$root"
	docker-registry garbage-collect "$@" "$TRASH/reference.yml" \
	    >"$TRASH/refgc.out" 2>"$TRASH/refgc.err" || {
		tail -n 20 "$TRASH/refgc.err" "$TRASH/refgc.out"; return 1; }
	line=$(grep -E "blobs marked, [0-9]+ blobs and [0-9]+ manifests eligible" "$TRASH/refgc.out") || {
		tail -n 20 "$TRASH/refgc.out"; return 1; }
	echo "docker-registry: $line"
	REF_BLOBS=$(echo "$line" | sed -E "s/.*marked, ([0-9]+) blobs and.*/\1/")
	REF_MANIFESTS=$(echo "$line" | sed -E "s/.* and ([0-9]+) manifests.*/\1/")
}

# rd_gc ROOT [FLAGS...]: registryd garbage-collect on ROOT (gc_grace 0);
# what it removes (or would) in RD_MANIFESTS, RD_LINKS, RD_BLOBS.
rd_gc() {
	local root=$1 line
	shift
	printf "[storage]\nrootdirectory = %s\ngc_grace = 0\n" "$root" >"$TRASH/gc.conf"
	"$REGISTRYD" garbage-collect -c "$TRASH/gc.conf" "$@" >"$TRASH/rdgc.out" 2>&1 || {
		tail -n 20 "$TRASH/rdgc.out"; return 1; }
	line=$(tail -n 1 "$TRASH/rdgc.out")
	echo "registryd: $line"
	RD_MANIFESTS=$(echo "$line" | sed -E "s/.*remove[d]? ([0-9]+) manifests.*/\1/")
	RD_LINKS=$(echo "$line" | sed -E "s/.* ([0-9]+) links.*/\1/")
	RD_BLOBS=$(echo "$line" | sed -E "s/.* ([0-9]+) blobs, .*/\1/")
}

# rd_fsck ROOT: registryd fsck finds no problem in ROOT.
rd_fsck() {
	printf "[storage]\nrootdirectory = %s\n" "$1" >"$TRASH/fsck.conf"
	"$REGISTRYD" fsck -c "$TRASH/fsck.conf" >"$TRASH/fsck.out" 2>&1
	local rc=$?
	grep -v "^info: " "$TRASH/fsck.out" | tail -n 20
	[ "$rc" = 0 ]
}

# blobs_of ROOT, revisions_of ROOT: the blobs and the manifest revisions
# (repo@digest) of a tree, sorted.
blobs_of() {
	(cd "$1/docker/registry/v2/blobs" && find . -name data | sed -E "s|.*/([0-9a-f]{64})/data|sha256:\1|" | LC_ALL=C sort)
}
revisions_of() {
	(cd "$1/docker/registry/v2/repositories" &&
	    find . -path "*/_manifests/revisions/sha256/*/link" |
	    sed -E "s|^\./(.*)/_manifests/revisions/sha256/([0-9a-f]{64})/link|\1@sha256:\2|" |
	    LC_ALL=C sort)
}

# blob_in DIR DIGEST: the layout DIR has that blob.
layout_blob() {
	echo "$1/blobs/sha256/${2#sha256:}"
}

# make_oci_index DIR TAG: an OCI layout whose TAG is an index of two
# small images (amd64, arm64). Sets INDEX, CHILD_amd64, CHILD_arm64 and
# CHILD_BLOBS (their configs and layers).
make_oci_index() {
	local dir=$1 tag=$2 w="$TRASH/.index" arch d f m entries=
	rm -rf "$w" && mkdir -p "$w" "$dir/blobs/sha256" || return 1
	CHILD_BLOBS=
	for arch in amd64 arm64; do
		mkdir -p "$w/$arch" && random_file "$w/$arch/data.bin" 20000 &&
		tar --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$w/$arch" \
		    -cf "$w/$arch.tar" data.bin &&
		gzip -n -c "$w/$arch.tar" >"$w/$arch.tar.gz" &&
		printf '{"architecture":"%s","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]},"config":{}}' \
		    "$arch" "$(sha256_of "$w/$arch.tar")" >"$w/$arch.config" &&
		printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}' \
		    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_CONFIG" "$w/$arch.config")" \
		    "$(json_descriptor "$MT_OCI_LAYER_GZ" "$w/$arch.tar.gz")" >"$w/$arch.manifest" || return 1
		for f in "$arch.tar.gz" "$arch.config" "$arch.manifest"; do
			d=$(sha256_of "$w/$f") && cp "$w/$f" "$(layout_blob "$dir" "$d")" || return 1
		done
		m=$(sha256_of "$w/$arch.manifest")
		eval "CHILD_$arch=\$m"
		CHILD_BLOBS="$CHILD_BLOBS $(sha256_of "$w/$arch.config") $(sha256_of "$w/$arch.tar.gz")"
		entries="$entries${entries:+,}{\"mediaType\":\"$MT_OCI_MANIFEST\",\"digest\":\"$m\",\"size\":$(size_of "$w/$arch.manifest"),\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"}}"
	done
	printf '{"schemaVersion":2,"mediaType":"%s","manifests":[%s]}' "$MT_OCI_INDEX" "$entries" >"$w/index" &&
	INDEX=$(sha256_of "$w/index") &&
	cp "$w/index" "$(layout_blob "$dir" "$INDEX")" &&
	printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout" &&
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
	    "$MT_OCI_INDEX" "$INDEX" "$(size_of "$w/index")" "$tag" >"$dir/index.json" &&
	rm -rf "$w"
}

# make_oci_referrer DIR TAG SUBJECT SUBJECT_SIZE: an OCI layout whose TAG
# is an artifact (a "signature") whose subject is SUBJECT. Sets REFERRER
# and REFERRER_BLOBS (its empty config and its layer).
make_oci_referrer() {
	local dir=$1 tag=$2 w="$TRASH/.referrer" f d
	rm -rf "$w" && mkdir -p "$w" "$dir/blobs/sha256" || return 1
	printf '{}' >"$w/empty" &&
	echo "signature of $3 $RANDOM$RANDOM" >"$w/sig" &&
	printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"%s","config":%s,"layers":[%s],"subject":{"mediaType":"%s","digest":"%s","size":%s}}' \
	    "$MT_OCI_MANIFEST" "$MT_SIG" "$(json_descriptor "$MT_OCI_EMPTY" "$w/empty")" \
	    "$(json_descriptor "$MT_SIG" "$w/sig")" "$MT_OCI_MANIFEST" "$3" "$4" >"$w/manifest" || return 1
	for f in empty sig manifest; do
		d=$(sha256_of "$w/$f") && cp "$w/$f" "$(layout_blob "$dir" "$d")" || return 1
	done
	REFERRER=$(sha256_of "$w/manifest")
	REFERRER_BLOBS="$(sha256_of "$w/empty") $(sha256_of "$w/sig")"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout" &&
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
	    "$MT_OCI_MANIFEST" "$REFERRER" "$(size_of "$w/manifest")" "$tag" >"$dir/index.json" &&
	rm -rf "$w"
}

# pull_all BASEPORT: every image the collections must leave, pulled with
# skopeo from 127.0.0.1:BASEPORT: gc/img:v1 byte for byte, the index with
# both platforms, the referrer by digest.
pull_all() {
	local r="docker://127.0.0.1:$1" out="$TRASH/pull.$1.$RANDOM"
	reg_skopeo copy --src-tls-verify=false "$r/gc/img:v1" "oci:$out-a:v1" &&
	same_blobs "$TRASH/src-a" "$out-a" &&
	reg_skopeo copy --all --src-tls-verify=false "$r/gc/multi:v1" "oci:$out-m:v1" &&
	test -f "$(layout_blob "$out-m" "$CHILD_amd64")" &&
	test -f "$(layout_blob "$out-m" "$CHILD_arm64")" &&
	reg_skopeo inspect --raw --tls-verify=false "$r/gc/img@$REFERRER" >"$out.ref" &&
	jq -e --arg s "$A" ".subject.digest == \$s" "$out.ref" >/dev/null
}

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX,CURL,REGISTRYD 'setup: images pushed by skopeo, one deleted; an index; a referrer; an untagged manifest; an orphan' '
	start_registryd &&
	make_oci_layout "$TRASH/src-a" v1 65536 && A=$LAYOUT_MANIFEST &&
	make_oci_layout "$TRASH/src-b" v2 65536 && B=$LAYOUT_MANIFEST &&
	make_oci_index "$TRASH/src-m" v1 &&
	make_oci_referrer "$TRASH/src-r" sig "$A" "$(size_of "$(layout_blob "$TRASH/src-a" "$A")")" &&
	R=docker://127.0.0.1:$PORT &&
	reg_skopeo copy --dest-tls-verify=false --preserve-digests "oci:$TRASH/src-a:v1" "$R/gc/img:v1" &&
	reg_skopeo copy --dest-tls-verify=false --preserve-digests "oci:$TRASH/src-b:v2" "$R/gc/img:v2" &&
	reg_skopeo copy --all --dest-tls-verify=false --preserve-digests "oci:$TRASH/src-m:v1" "$R/gc/multi:v1" &&
	reg_skopeo copy --dest-tls-verify=false --preserve-digests "oci:$TRASH/src-r:sig" "$R/gc/img:sig" &&
	reg_curl DELETE /v2/gc/img/manifests/sig && expect_status 202 &&
	reg_curl DELETE "/v2/gc/img/manifests/$B" && expect_status 202 &&
	make_image gc/img tmp "$TRASH/src-u" && U=$IMG_DIGEST &&
	reg_curl DELETE /v2/gc/img/manifests/tmp && expect_status 202 &&
	random_file orphan.bin 5000 && push_blob gc/img orphan.bin &&
	reg_curl GET "/v2/gc/img/referrers/$A" && expect_status 200 &&
	jq_body --arg r "$REFERRER" "[.manifests[].digest] == [\$r]" &&
	stop_registryd &&
	sleep 1.1 &&
	for t in rd ref rdm refm; do cp -a "$ROOT" "$TRASH/tree-$t" || return 1; done &&
	blobs_of "$ROOT" >blobs.before && revisions_of "$ROOT" >revs.before &&
	cat revs.before
'

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX,REGISTRYD 'after registryd'"'"'s collection docker-registry finds nothing more and serves every image' '
	rd_gc "$TRASH/tree-rd" &&
	test "$RD_BLOBS" -gt 0 && test "$RD_MANIFESTS" = 0 &&
	RD_REMOVED=$RD_BLOBS &&
	ref_gc "$TRASH/tree-rd" --dry-run &&
	test "$REF_BLOBS" = 0 && test "$REF_MANIFESTS" = 0 &&
	rd_fsck "$TRASH/tree-rd" &&
	reference_config "$TRASH/tree-rd" &&
	start_reference "$TRASH/reference.yml" &&
	pull_all "$REF_PORT" &&
	stop_reference
'

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX,REGISTRYD 'after docker-registry'"'"'s collection registryd finds no blob or manifest more and serves every image' '
	ref_gc "$TRASH/tree-ref" &&
	test "$REF_BLOBS" = "$RD_REMOVED" && test "$REF_MANIFESTS" = 0 &&
	rd_gc "$TRASH/tree-ref" --dry-run &&
	test "$RD_BLOBS" = 0 && test "$RD_MANIFESTS" = 0 &&
	echo "registry:2 left $RD_LINKS layer links to the blobs it removed" &&
	ROOT=$TRASH/tree-ref && rm -f "$CONF" && write_config && start_registryd &&
	pull_all "$PORT" &&
	stop_registryd
'

test_expect_success DOCKER_REGISTRY,REGISTRYD 'both removed the same blobs: the deleted image'"'"'s and the orphan' '
	blobs_of "$TRASH/tree-rd" >blobs.rd &&
	blobs_of "$TRASH/tree-ref" >blobs.ref &&
	diff -u blobs.rd blobs.ref &&
	revisions_of "$TRASH/tree-rd" >revs.rd && diff -u revs.before revs.rd &&
	comm -23 blobs.before blobs.rd >removed &&
	cat removed &&
	for d in "$B" "$(sha256_of orphan.bin)"; do grep -qx "$d" removed || return 1; done &&
	test "$(wc -l <removed)" = "$RD_REMOVED"
'

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX,REGISTRYD '--delete-untagged: registryd keeps the index children and the referrer; registry:2 2.8 removes them' '
	rd_gc "$TRASH/tree-rdm" --delete-untagged &&
	ref_gc "$TRASH/tree-refm" --delete-untagged &&
	echo "registryd removed $RD_MANIFESTS manifests, $RD_BLOBS blobs; registry:2 $REF_MANIFESTS manifests, $REF_BLOBS blobs" &&
	revisions_of "$TRASH/tree-rdm" >revs.rdm && revisions_of "$TRASH/tree-refm" >revs.refm &&
	comm -23 revs.rdm revs.refm >only.rd && comm -13 revs.rdm revs.refm >only.ref &&
	printf "%s\n" "gc/img@$REFERRER" "gc/multi@$CHILD_amd64" "gc/multi@$CHILD_arm64" |
	    LC_ALL=C sort >want.rd &&
	diff -u want.rd only.rd && test ! -s only.ref &&
	! grep -q "@$U$" revs.rdm && ! grep -q "@$U$" revs.refm &&
	blobs_of "$TRASH/tree-rdm" >blobs.rdm && blobs_of "$TRASH/tree-refm" >blobs.refm &&
	comm -23 blobs.rdm blobs.refm >bonly.rd && comm -13 blobs.rdm blobs.refm >bonly.ref &&
	printf "%s\n" "$REFERRER" $REFERRER_BLOBS $CHILD_BLOBS | LC_ALL=C sort >bwant.rd &&
	diff -u bwant.rd bonly.rd && test ! -s bonly.ref &&
	test "$REF_MANIFESTS" = $((RD_MANIFESTS + 3)) &&
	rd_fsck "$TRASH/tree-rdm" &&
	ROOT=$TRASH/tree-rdm && rm -f "$CONF" && write_config && start_registryd &&
	pull_all "$PORT" &&
	stop_registryd &&
	reference_config "$TRASH/tree-refm" &&
	start_reference "$TRASH/reference.yml" &&
	! reg_skopeo copy --all --src-tls-verify=false \
	    "docker://127.0.0.1:$REF_PORT/gc/multi:v1" "oci:$TRASH/broken:v1" &&
	stop_reference
'

test_done
