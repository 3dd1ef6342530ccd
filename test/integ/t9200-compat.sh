#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Layout compatibility with registry:2 (Debian's docker-registry), both ways:
# a tree written by docker-registry is served by registryd, a tree written
# by registryd is served by docker-registry, and the same image pushed to
# each gives the same files with the same bytes.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/reference-lib.sh"

# tree_shape ROOT: every file under ROOT (relative) with the sha256 of its
# content; upload leftovers and temporary files are not part of the shape.
tree_shape() {
	(cd "$1" && find . -type f ! -path "*/_uploads/*" -print0 |
	    LC_ALL=C sort -z | xargs -0 -r sha256sum | awk '{ print $2, $1 }')
}

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX 'setup: an OCI layout' '
	make_oci_layout "$TRASH/src" v1 &&
	M=$LAYOUT_MANIFEST
'

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX 'push into docker-registry' '
	reference_config "$TRASH/ref-root" &&
	start_reference "$TRASH/reference.yml" &&
	reg_skopeo copy --dest-tls-verify=false --preserve-digests \
	    "oci:$TRASH/src:v1" "docker://127.0.0.1:$REF_PORT/compat/img:v1" &&
	stop_reference &&
	tree_shape "$TRASH/ref-root" >shape.ref &&
	test -s shape.ref
'

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX,CURL 'registryd serves the tree docker-registry wrote' '
	ROOT=$TRASH/ref-root &&
	rm -f "$CONF" && write_config &&
	start_registryd &&
	reg_curl GET /v2/_catalog &&
	expect_status 200 &&
	jq_body ".repositories == [\"compat/img\"]" &&
	reg_curl GET /v2/compat/img/tags/list &&
	jq_body ".tags == [\"v1\"]" &&
	reg_curl GET /v2/compat/img/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_header Content-Type "$MT_OCI_MANIFEST" &&
	expect_header Docker-Content-Digest "$M" &&
	reg_skopeo copy --src-tls-verify=false \
	    "docker://127.0.0.1:$PORT/compat/img:v1" "oci:$TRASH/out-from-ref:v1" &&
	same_blobs "$TRASH/src" "$TRASH/out-from-ref" &&
	same_blobs "$TRASH/out-from-ref" "$TRASH/src"
'

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX 'registryd adds a tag to that tree; docker-registry reads it' '
	reg_skopeo copy --src-tls-verify=false --dest-tls-verify=false \
	    "docker://127.0.0.1:$PORT/compat/img:v1" "docker://127.0.0.1:$PORT/compat/img:v2" &&
	stop_registryd &&
	reference_config "$TRASH/ref-root" &&
	start_reference "$TRASH/reference.yml" &&
	reg_skopeo list-tags --tls-verify=false "docker://127.0.0.1:$REF_PORT/compat/img" >tags.json &&
	jq -e ".Tags | sort == [\"v1\", \"v2\"]" tags.json &&
	stop_reference
'

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX 'push into registryd' '
	ROOT=$TRASH/rd-root &&
	rm -f "$CONF" && write_config &&
	start_registryd &&
	reg_skopeo copy --dest-tls-verify=false --preserve-digests \
	    "oci:$TRASH/src:v1" "docker://127.0.0.1:$PORT/compat/img:v1" &&
	stop_registryd &&
	tree_shape "$TRASH/rd-root" >shape.rd &&
	test -s shape.rd
'

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX,CURL 'docker-registry serves the tree registryd wrote' '
	reference_config "$TRASH/rd-root" &&
	start_reference "$TRASH/reference.yml" &&
	reg_curl GET "http://127.0.0.1:$REF_PORT/v2/_catalog" &&
	jq_body ".repositories == [\"compat/img\"]" &&
	reg_curl GET "http://127.0.0.1:$REF_PORT/v2/compat/img/manifests/v1" \
	    -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_header Docker-Content-Digest "$M" &&
	reg_skopeo copy --src-tls-verify=false \
	    "docker://127.0.0.1:$REF_PORT/compat/img:v1" "oci:$TRASH/out-from-rd:v1" &&
	same_blobs "$TRASH/src" "$TRASH/out-from-rd" &&
	same_blobs "$TRASH/out-from-rd" "$TRASH/src" &&
	stop_reference
'

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX 'the same image gives the same files with the same bytes' '
	diff -u shape.ref shape.rd
'

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX 'the shape is the distribution layout' '
	h=${M#sha256:} &&
	grep -q "^./docker/registry/v2/blobs/sha256/${h:0:2}/$h/data " shape.rd &&
	grep -q "^./docker/registry/v2/repositories/compat/img/_manifests/tags/v1/current/link " shape.rd &&
	grep -q "^./docker/registry/v2/repositories/compat/img/_manifests/tags/v1/index/sha256/$h/link " shape.rd &&
	grep -q "^./docker/registry/v2/repositories/compat/img/_manifests/revisions/sha256/$h/link " shape.rd &&
	test "$(grep -c "/_layers/sha256/[0-9a-f]*/link " shape.rd)" = 3 &&
	test "$(grep -c "/blobs/sha256/../[0-9a-f]*/data " shape.rd)" = 4
'

# ---- registryd's referrers index (repositories/<name>/_registryd) in a
# tree registry:2 serves and collects.

# artifact_json SUBJECT SEQ FILE: an OCI artifact whose subject is SUBJECT.
artifact_json() {
	printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.example.sig","config":%s,"layers":[%s],"subject":{"mediaType":"%s","digest":"%s","size":1},"annotations":{"seq":"%s"}}' \
	    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_EMPTY" empty.json)" \
	    "$(json_descriptor "$MT_OCI_EMPTY" empty.json)" "$MT_OCI_MANIFEST" \
	    "$1" "$2" >"$3"
}

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX,CURL,REGISTRYD 'registryd indexes a referrer; docker-registry serves that tree' '
	ROOT=$TRASH/rd-root &&
	IDX=$ROOT/docker/registry/v2/repositories/compat/img/_registryd &&
	rm -f "$CONF" && write_config &&
	start_registryd &&
	printf "{}" >empty.json &&
	push_blob compat/img empty.json &&
	artifact_json "$M" 1 sig.json &&
	SIG=$(sha256_of sig.json) &&
	push_manifest compat/img "$SIG" sig.json "$MT_OCI_MANIFEST" &&
	reg_curl GET "/v2/compat/img/referrers/$M" &&
	jq_body ".manifests | map(.digest) == [\"$SIG\"]" &&
	test -f "$IDX/referrers/subjects/sha256/${M#sha256:}/${SIG#sha256:}" &&
	stop_registryd &&
	reference_config "$ROOT" &&
	start_reference "$TRASH/reference.yml" &&
	reg_curl GET "http://127.0.0.1:$REF_PORT/v2/_catalog" &&
	expect_status 200 &&
	jq_body ".repositories == [\"compat/img\"]" &&
	reg_curl GET "http://127.0.0.1:$REF_PORT/v2/compat/img/tags/list" &&
	jq_body ".tags == [\"v1\"]" &&
	reg_curl GET "http://127.0.0.1:$REF_PORT/v2/compat/img/manifests/$SIG" \
	    -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_body_file sig.json &&
	reg_skopeo copy --src-tls-verify=false \
	    "docker://127.0.0.1:$REF_PORT/compat/img:v1" "oci:$TRASH/out-idx:v1" &&
	same_blobs "$TRASH/src" "$TRASH/out-idx" &&
	stop_reference
'

test_expect_success DOCKER_REGISTRY,BUSYBOX,CURL,REGISTRYD 'docker-registry garbage-collect walks that tree; the referrer stays listed' '
	docker-registry garbage-collect --dry-run "$TRASH/reference.yml" >gc.out 2>&1 &&
	docker-registry garbage-collect "$TRASH/reference.yml" >>gc.out 2>&1 &&
	cat gc.out &&
	grep -q "compat/img: marking manifest" gc.out &&
	! grep -i "error\|_registryd" gc.out &&
	test -d "$IDX" &&
	start_registryd &&
	reg_curl GET "/v2/compat/img/referrers/$M" &&
	jq_body ".manifests | map(.digest) == [\"$SIG\"]" &&
	stop_registryd
'

test_expect_success DOCKER_REGISTRY,BUSYBOX,CURL,REGISTRYD 'garbage-collect --delete-untagged removes the referrer behind the index: no longer listed' '
	docker-registry garbage-collect --delete-untagged "$TRASH/reference.yml" >gc2.out 2>&1 &&
	! test -e "$ROOT/docker/registry/v2/repositories/compat/img/_manifests/revisions/sha256/${SIG#sha256:}/link" &&
	start_registryd &&
	reg_curl GET "/v2/compat/img/referrers/$M" &&
	expect_status 200 &&
	jq_body ".manifests == []" &&
	! test -e "$IDX/referrers/subjects/sha256/${M#sha256:}/${SIG#sha256:}" &&
	reg_curl GET /v2/compat/img/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	stop_registryd
'

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX,CURL,REGISTRYD 'a shared root: what docker-registry writes appears in registryd'"'"'s catalog' '
	ROOT=$TRASH/shared-root &&
	rm -f "$CONF" && write_config &&
	start_registryd REGISTRY_STORAGE_CATALOG_REFRESH=1 &&
	reg_curl GET /v2/_catalog &&
	expect_status 200 &&
	jq_body "(.repositories // []) == []" &&
	reference_config "$TRASH/shared-root" &&
	start_reference "$TRASH/reference.yml" &&
	reg_skopeo copy --dest-tls-verify=false --preserve-digests \
	    "oci:$TRASH/src:v1" "docker://127.0.0.1:$REF_PORT/shared/img:v1" &&
	reg_curl GET /v2/shared/img/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_header Docker-Content-Digest "$M" &&
	catalog_has() {
		reg_curl GET /v2/_catalog >/dev/null &&
		jq -e ".repositories == [\"shared/img\"]" "$TRASH/body" >/dev/null
	} &&
	WAIT_SECONDS=5 wait_for catalog_has &&
	stop_reference &&
	stop_registryd
'

test_expect_success DOCKER_REGISTRY,SKOPEO,BUSYBOX,CURL,REGISTRYD 'a shared root: a referrer docker-registry stores appears in registryd'"'"'s referrers' '
	start_registryd &&
	reference_config "$TRASH/shared-root" &&
	start_reference "$TRASH/reference.yml" &&
	artifact_json "$M" 2 sig2.json &&
	SIG2=$(sha256_of sig2.json) &&
	(BASE=http://127.0.0.1:$REF_PORT &&
	    push_blob shared/img empty.json &&
	    push_manifest shared/img "$SIG2" sig2.json "$MT_OCI_MANIFEST") &&
	reg_curl GET "/v2/shared/img/referrers/$M" &&
	expect_status 200 &&
	jq_body ".manifests | map(.digest) == [\"$SIG2\"]" &&
	jq_body ".manifests[0].artifactType == \"application/vnd.example.sig\"" &&
	jq_body ".manifests[0].annotations.seq == \"2\"" &&
	stop_reference &&
	stop_registryd
'

test_expect_success DOCKER_REGISTRY,CURL 'umask 027: docker-registry makes files 0640 and directories 0750 too' '
	old_umask=$(umask) &&
	umask 027 &&
	mkdir "$TRASH/ref027" &&
	reference_config "$TRASH/ref027" &&
	start_reference "$TRASH/reference.yml"
	rc=$?
	umask "$old_umask" &&
	test $rc = 0 &&
	printf "umask reference" >refblob &&
	d=$(sha256_of refblob) &&
	reg_curl POST "http://127.0.0.1:$REF_PORT/v2/umask/blob/blobs/uploads/" &&
	expect_status 202 &&
	loc=$(header Location) &&
	case "$loc" in http*) ;; *) loc="http://127.0.0.1:$REF_PORT$loc" ;; esac &&
	reg_curl PUT "$(with_query "$loc" "digest=$d")" \
	    -H "Content-Type: application/octet-stream" --data-binary @refblob &&
	expect_status 201 &&
	stop_reference &&
	(cd "$TRASH/ref027" && find docker -type f ! -perm 640 -printf "%m %p\n" &&
	    find docker -type d ! -perm 750 -printf "%m %p\n") >wrong &&
	cat wrong &&
	test ! -s wrong &&
	test "$(find "$TRASH/ref027/docker" -name data | wc -l)" = 1
'

test_done
