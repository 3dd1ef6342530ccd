#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# skopeo: copy an OCI image in and out, byte-identical; inspect, tags,
# registry-to-registry copy (cross-repository mount), schema2, delete.
. "$(dirname "$0")/../lib/test-lib.sh"

test_expect_success SKOPEO,BUSYBOX,CURL 'setup: an OCI layout built locally' '
	start_registryd &&
	make_oci_layout "$TRASH/src" v1 &&
	M=$LAYOUT_MANIFEST &&
	REF=docker://127.0.0.1:$PORT/sko/img
'

test_expect_success SKOPEO,BUSYBOX 'skopeo copy oci: -> registry' '
	reg_skopeo copy --dest-tls-verify=false --preserve-digests "oci:$TRASH/src:v1" "$REF:v1"
'

test_expect_success SKOPEO,BUSYBOX,CURL 'the manifest is stored byte for byte' '
	reg_curl GET /v2/sko/img/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_header Docker-Content-Digest "$M" &&
	expect_body_file "$TRASH/src/blobs/sha256/${M#sha256:}"
'

test_expect_success SKOPEO,BUSYBOX 'skopeo inspect sees the image' '
	reg_skopeo inspect --tls-verify=false "$REF:v1" >inspect.json &&
	jq -e --arg d "$M" ".Digest == \$d and .Architecture == \"amd64\" and (.Layers | length) == 2" inspect.json &&
	reg_skopeo inspect --tls-verify=false --raw "$REF:v1" >raw.json &&
	cmp raw.json "$TRASH/src/blobs/sha256/${M#sha256:}" &&
	reg_skopeo inspect --tls-verify=false --config "$REF:v1" >config.json &&
	jq -e ".config.Cmd[0] == \"/busybox\"" config.json
'

test_expect_success SKOPEO,BUSYBOX 'skopeo copy registry -> oci: gives identical blobs' '
	reg_skopeo copy --src-tls-verify=false "$REF:v1" "oci:$TRASH/out:v1" &&
	same_blobs "$TRASH/src" "$TRASH/out" &&
	same_blobs "$TRASH/out" "$TRASH/src"
'

test_expect_success SKOPEO,BUSYBOX 'skopeo copy by digest' '
	reg_skopeo copy --src-tls-verify=false "$REF@$M" "oci:$TRASH/bydigest:x" &&
	same_blobs "$TRASH/src" "$TRASH/bydigest"
'

test_expect_success SKOPEO,BUSYBOX 'skopeo list-tags' '
	reg_skopeo copy --src-tls-verify=false --dest-tls-verify=false "$REF:v1" "$REF:v2" &&
	reg_skopeo list-tags --tls-verify=false "$REF" >tags.json &&
	jq -e ".Tags == [\"v1\", \"v2\"]" tags.json
'

test_expect_success SKOPEO,BUSYBOX,CURL 'registry to registry copy into another repository' '
	reg_skopeo copy --src-tls-verify=false --dest-tls-verify=false \
	    "$REF:v1" "docker://127.0.0.1:$PORT/sko/other:v1" &&
	reg_curl GET /v2/sko/other/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_header Docker-Content-Digest "$M"
'

test_expect_success SKOPEO,BUSYBOX,CURL 'skopeo copy --format v2s2 stores a Docker schema2 image' '
	reg_skopeo copy --dest-tls-verify=false --format v2s2 \
	    "oci:$TRASH/src:v1" "docker://127.0.0.1:$PORT/sko/docker:v1" &&
	reg_curl GET /v2/sko/docker/manifests/v1 -H "Accept: $MT_DOCKER_MANIFEST" &&
	expect_status 200 &&
	expect_header Content-Type "$MT_DOCKER_MANIFEST" &&
	reg_skopeo copy --src-tls-verify=false \
	    "docker://127.0.0.1:$PORT/sko/docker:v1" "oci:$TRASH/out2:v1" &&
	for f in "$TRASH"/src/blobs/sha256/*; do
		d=${f##*/}
		[ "sha256:$d" = "$M" ] && continue
		jq -e --arg d "sha256:$d" "[.config.digest, .layers[].digest] | index(\$d) != null" "$TRASH/body" >/dev/null || continue
		cmp "$f" "$TRASH/out2/blobs/sha256/$d" || return 1
	done
'

test_expect_success SKOPEO,BUSYBOX,CURL 'skopeo delete removes the manifest' '
	reg_skopeo delete --tls-verify=false "docker://127.0.0.1:$PORT/sko/other:v1" &&
	reg_curl GET "/v2/sko/other/manifests/$M" -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 404 &&
	reg_curl GET /v2/sko/img/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200
'

test_done
