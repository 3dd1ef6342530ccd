#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Manifests, tags, catalog, delete, referrers, repository names.
. "$(dirname "$0")/../lib/test-lib.sh"

ZERO=sha256:0000000000000000000000000000000000000000000000000000000000000000

test_expect_success CURL 'setup: an image'"'"'s blobs' '
	start_registryd &&
	mkdir img &&
	random_file img/layer.bin 5000 &&
	printf "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]},\"config\":{}}" \
	    "$(sha256_of img/layer.bin)" >img/config.json &&
	push_blob man/a img/layer.bin &&
	push_blob man/a img/config.json &&
	CONFIG_DESC=$(json_descriptor "$MT_OCI_CONFIG" img/config.json) &&
	LAYER_DESC=$(json_descriptor "$MT_OCI_LAYER" img/layer.bin) &&
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":%s,\"layers\":[%s]}" \
	    "$MT_OCI_MANIFEST" "$CONFIG_DESC" "$LAYER_DESC" >m1.json &&
	M1=$(sha256_of m1.json)
'

test_expect_success CURL 'PUT an OCI manifest by tag: 201, Location, Docker-Content-Digest' '
	reg_curl PUT /v2/man/a/manifests/v1 -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @m1.json &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$M1" &&
	expect_header_match Location "/v2/man/a/manifests/$M1\$"
'

test_expect_success CURL 'GET by tag: the same bytes, OCI Content-Type' '
	reg_curl GET /v2/man/a/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_header Content-Type "$MT_OCI_MANIFEST" &&
	expect_header Docker-Content-Digest "$M1" &&
	expect_body_file m1.json
'

test_expect_success CURL 'GET by digest: the same bytes' '
	reg_curl GET "/v2/man/a/manifests/$M1" -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_header Content-Type "$MT_OCI_MANIFEST" &&
	expect_header Docker-Content-Digest "$M1" &&
	expect_body_file m1.json
'

test_expect_success CURL 'HEAD by tag and by digest: length, type, digest' '
	reg_curl HEAD /v2/man/a/manifests/v1 -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_header Content-Length "$(size_of m1.json)" &&
	expect_header Content-Type "$MT_OCI_MANIFEST" &&
	expect_header Docker-Content-Digest "$M1" &&
	reg_curl HEAD "/v2/man/a/manifests/$M1" -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_header Content-Length "$(size_of m1.json)"
'

test_expect_success CURL,REGISTRYD 'GET with Accept: */* and without Accept' '
	reg_curl GET /v2/man/a/manifests/v1 -H "Accept: */*" &&
	expect_status 200 &&
	expect_body_file m1.json &&
	reg_curl GET /v2/man/a/manifests/v1 &&
	expect_status 200 &&
	expect_body_file m1.json
'

test_expect_success CURL 'an Accept that excludes the manifest type: 404' '
	reg_curl GET /v2/man/a/manifests/v1 -H "Accept: $MT_DOCKER_MANIFEST" &&
	expect_status 404
'

test_expect_success CURL 'unknown tag and unknown digest: 404 MANIFEST_UNKNOWN' '
	reg_curl GET /v2/man/a/manifests/nope -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 404 &&
	expect_error_code MANIFEST_UNKNOWN &&
	reg_curl GET "/v2/man/a/manifests/$ZERO" -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 404 &&
	expect_error_code MANIFEST_UNKNOWN &&
	reg_curl GET "/v2/man/other/manifests/$M1" -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 404
'

test_expect_success CURL 'PUT by digest' '
	reg_curl PUT "/v2/man/bydigest/manifests/$M1" -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @m1.json &&
	expect_status 400 &&
	expect_error_code MANIFEST_BLOB_UNKNOWN &&
	reg_curl POST "/v2/man/bydigest/blobs/uploads/?mount=$(sha256_of img/layer.bin)&from=man/a" &&
	expect_status 201 &&
	reg_curl POST "/v2/man/bydigest/blobs/uploads/?mount=$(sha256_of img/config.json)&from=man/a" &&
	expect_status 201 &&
	reg_curl PUT "/v2/man/bydigest/manifests/$M1" -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @m1.json &&
	expect_status 201 &&
	expect_header Docker-Content-Digest "$M1" &&
	reg_curl GET "/v2/man/bydigest/manifests/$M1" -H "Accept: $MT_OCI_MANIFEST" &&
	expect_body_file m1.json
'

test_expect_success CURL 'a manifest referencing a missing layer: 400 MANIFEST_BLOB_UNKNOWN' '
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":%s,\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":5}]}" \
	    "$MT_OCI_MANIFEST" "$CONFIG_DESC" "$MT_OCI_LAYER" "$ZERO" >missing.json &&
	reg_curl PUT /v2/man/a/manifests/missing -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @missing.json &&
	expect_status 400 &&
	expect_error_code MANIFEST_BLOB_UNKNOWN &&
	reg_curl GET /v2/man/a/manifests/missing -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 404
'

test_expect_success CURL 'a manifest whose config is missing: 400 MANIFEST_BLOB_UNKNOWN' '
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":2},\"layers\":[%s]}" \
	    "$MT_OCI_MANIFEST" "$MT_OCI_CONFIG" "$ZERO" "$LAYER_DESC" >noconfig.json &&
	reg_curl PUT /v2/man/a/manifests/noconfig -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @noconfig.json &&
	expect_status 400 &&
	expect_error_code MANIFEST_BLOB_UNKNOWN
'

test_expect_success CURL 'invalid JSON: 400 MANIFEST_INVALID' '
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":" "$MT_OCI_MANIFEST" >bad.json &&
	reg_curl PUT /v2/man/a/manifests/bad -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @bad.json &&
	expect_status 400 &&
	expect_error_code MANIFEST_INVALID
'

test_expect_success CURL,REGISTRYD 'a manifest over 4 MiB: 413' '
	python3 -c "
import json, sys
m = json.loads(open(\"m1.json\").read())
m[\"annotations\"] = {\"pad\": \"x\" * (4 * 1024 * 1024 + 10)}
sys.stdout.write(json.dumps(m))" >huge.json &&
	reg_curl PUT /v2/man/a/manifests/huge -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @huge.json &&
	expect_status 413 &&
	reg_curl GET /v2/man/a/manifests/huge -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 404
'

test_expect_success CURL,REGISTRYD 'an invalid tag: 400' '
	reg_curl PUT /v2/man/a/manifests/-bad -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @m1.json &&
	expect_status 400 &&
	jq_body ".errors[0].code == \"TAG_INVALID\" or .errors[0].code == \"MANIFEST_INVALID\"" &&
	long=$(printf "t%.0s" $(seq 129)) &&
	reg_curl PUT "/v2/man/a/manifests/$long" -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @m1.json &&
	expect_status 400 &&
	long=$(printf "t%.0s" $(seq 128)) &&
	reg_curl PUT "/v2/man/a/manifests/$long" -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @m1.json &&
	expect_status 201
'

test_expect_success CURL 'GET, HEAD, DELETE by a reference that is neither tag nor digest: 404' '
	(
		for ref in .INVALID_MANIFEST_NAME -bad; do
			reg_curl GET "/v2/man/a/manifests/$ref" &&
			expect_status 404 &&
			reg_curl HEAD "/v2/man/a/manifests/$ref" &&
			expect_status 404 &&
			reg_curl DELETE "/v2/man/a/manifests/$ref" &&
			expect_status 404 || exit 1
		done
	)
'

# registry:2 answers those with its router's plain "404 page not found",
# and a malformed digest with 500.
test_expect_success CURL,REGISTRYD 'and with the OCI error body, MANIFEST_UNKNOWN, malformed digests too' '
	(
		for ref in .INVALID_MANIFEST_NAME -bad sha256:abc; do
			reg_curl GET "/v2/man/a/manifests/$ref" &&
			expect_status 404 &&
			expect_error_code MANIFEST_UNKNOWN &&
			reg_curl HEAD "/v2/man/a/manifests/$ref" &&
			expect_status 404 &&
			reg_curl DELETE "/v2/man/a/manifests/$ref" &&
			expect_status 404 &&
			expect_error_code MANIFEST_UNKNOWN || exit 1
		done
	)
'

test_expect_success CURL 'PUT by a digest that does not match the body: 400 DIGEST_INVALID' '
	reg_curl PUT "/v2/man/a/manifests/$ZERO" -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @m1.json &&
	expect_status 400 &&
	expect_error_code DIGEST_INVALID
'

test_expect_success CURL 'a Docker schema2 manifest' '
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":%s,\"layers\":[%s]}" \
	    "$MT_DOCKER_MANIFEST" "$(json_descriptor "$MT_DOCKER_CONFIG" img/config.json)" \
	    "$(json_descriptor "$MT_DOCKER_LAYER" img/layer.bin)" >d1.json &&
	D1=$(sha256_of d1.json) &&
	push_manifest man/a docker d1.json "$MT_DOCKER_MANIFEST" &&
	reg_curl GET /v2/man/a/manifests/docker -H "Accept: $MT_DOCKER_MANIFEST" &&
	expect_status 200 &&
	expect_header Content-Type "$MT_DOCKER_MANIFEST" &&
	expect_header Docker-Content-Digest "$D1" &&
	expect_body_file d1.json
'

test_expect_success CURL 'a Docker manifest list referencing the schema2 manifest' '
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}" \
	    "$MT_DOCKER_LIST" "$MT_DOCKER_MANIFEST" "$D1" "$(size_of d1.json)" >list.json &&
	push_manifest man/a list list.json "$MT_DOCKER_LIST" &&
	reg_curl GET /v2/man/a/manifests/list -H "Accept: $MT_DOCKER_LIST" &&
	expect_status 200 &&
	expect_header Content-Type "$MT_DOCKER_LIST" &&
	expect_body_file list.json
'

test_expect_success CURL 'setup: a list of linux/arm64 and linux/amd64 images' '
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":%s,\"layers\":[%s],\"annotations\":{\"arch\":\"arm64\"}}" \
	    "$MT_DOCKER_MANIFEST" "$(json_descriptor "$MT_DOCKER_CONFIG" img/config.json)" \
	    "$(json_descriptor "$MT_DOCKER_LAYER" img/layer.bin)" >d2.json &&
	D2=$(sha256_of d2.json) &&
	push_manifest man/a arm d2.json "$MT_DOCKER_MANIFEST" &&
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}" \
	    "$MT_DOCKER_LIST" "$MT_DOCKER_MANIFEST" "$D2" "$(size_of d2.json)" \
	    "$MT_DOCKER_MANIFEST" "$D1" "$(size_of d1.json)" >multi.json &&
	MULTI=$(sha256_of multi.json) &&
	push_manifest man/a multi multi.json "$MT_DOCKER_LIST"
'

test_expect_success CURL 'an old client (Accept without the list type) gets the linux/amd64 image by tag' '
	reg_curl GET /v2/man/a/manifests/multi -H "Accept: $MT_DOCKER_MANIFEST" &&
	expect_status 200 &&
	expect_header Content-Type "$MT_DOCKER_MANIFEST" &&
	expect_header Docker-Content-Digest "$D1" &&
	expect_header ETag "\"$D1\"" &&
	expect_body_file d1.json &&
	reg_curl HEAD /v2/man/a/manifests/multi -H "Accept: $MT_DOCKER_MANIFEST" &&
	expect_status 200 &&
	expect_header Docker-Content-Digest "$D1" &&
	expect_header ETag "\"$D1\"" &&
	expect_header Content-Length "$(size_of d1.json)" &&
	reg_curl GET /v2/man/a/manifests/multi \
	    -H "Accept: $MT_DOCKER_MANIFEST, $MT_DOCKER_LIST" &&
	expect_status 200 &&
	expect_header Docker-Content-Digest "$MULTI" &&
	expect_body_file multi.json
'

test_expect_success CURL,REGISTRYD 'old clients: 404 when the image type is not accepted either, or by digest; no Accept: the list' '
	reg_curl GET /v2/man/a/manifests/multi -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 404 &&
	expect_error_code MANIFEST_UNKNOWN &&
	reg_curl HEAD /v2/man/a/manifests/multi -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 404 &&
	reg_curl GET "/v2/man/a/manifests/$MULTI" -H "Accept: $MT_DOCKER_MANIFEST" &&
	expect_status 404 &&
	expect_error_code MANIFEST_UNKNOWN &&
	reg_curl GET /v2/man/a/manifests/multi &&
	expect_status 200 &&
	expect_header Docker-Content-Digest "$MULTI" &&
	expect_body_file multi.json &&
	reg_curl GET /v2/man/a/manifests/multi -H "If-None-Match: \"$D1\"" \
	    -H "Accept: $MT_DOCKER_MANIFEST" &&
	expect_status 304 &&
	expect_header ETag "\"$D1\""
'

test_expect_success CURL 'an OCI index referencing the OCI manifest' '
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}" \
	    "$MT_OCI_INDEX" "$MT_OCI_MANIFEST" "$M1" "$(size_of m1.json)" >index.json &&
	IDX=$(sha256_of index.json) &&
	push_manifest man/a index index.json "$MT_OCI_INDEX" &&
	reg_curl GET /v2/man/a/manifests/index -H "Accept: $MT_OCI_INDEX" &&
	expect_status 200 &&
	expect_header Content-Type "$MT_OCI_INDEX" &&
	expect_body_file index.json
'

test_expect_success CURL 'an index referencing a missing manifest: 400 MANIFEST_BLOB_UNKNOWN' '
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":10}]}" \
	    "$MT_OCI_INDEX" "$MT_OCI_MANIFEST" "$ZERO" >badindex.json &&
	reg_curl PUT /v2/man/a/manifests/badindex -H "Content-Type: $MT_OCI_INDEX" \
	    --data-binary @badindex.json &&
	expect_status 400 &&
	expect_error_code MANIFEST_BLOB_UNKNOWN
'

test_expect_success CURL,REGISTRYD 'an OCI manifest without mediaType: Content-Type from its structure' '
	printf "{\"schemaVersion\":2,\"config\":%s,\"layers\":[%s]}" \
	    "$CONFIG_DESC" "$LAYER_DESC" >nomt.json &&
	push_manifest man/a nomt nomt.json "$MT_OCI_MANIFEST" &&
	reg_curl GET /v2/man/a/manifests/nomt &&
	expect_status 200 &&
	expect_header Content-Type "$MT_OCI_MANIFEST" &&
	expect_body_file nomt.json
'

test_expect_success CURL 'no mediaType and a Content-Type that is no manifest type: 400 MANIFEST_INVALID, nothing stored' '
	printf "{\"schemaVersion\":2,\"config\":%s,\"layers\":[%s],\"annotations\":{\"t\":\"ct\"}}" \
	    "$CONFIG_DESC" "$LAYER_DESC" >nomt.json &&
	NOMT=$(sha256_of nomt.json) &&
	reg_curl PUT /v2/man/a/manifests/nomtjson -H "Content-Type: application/json" \
	    --data-binary @nomt.json &&
	expect_status 400 &&
	expect_error_code MANIFEST_INVALID &&
	reg_curl PUT /v2/man/a/manifests/nomtnone -H "Content-Type:" \
	    --data-binary @nomt.json &&
	expect_status 400 &&
	expect_error_code MANIFEST_INVALID &&
	reg_curl GET "/v2/man/a/manifests/$NOMT" &&
	expect_status 404 &&
	reg_curl GET /v2/man/a/manifests/nomtjson &&
	expect_status 404
'

test_expect_success CURL 'no mediaType with a Docker Content-Type: 400 MANIFEST_INVALID' '
	reg_curl PUT /v2/man/a/manifests/nomtdocker -H "Content-Type: $MT_DOCKER_MANIFEST" \
	    --data-binary @nomt.json &&
	expect_status 400 &&
	expect_error_code MANIFEST_INVALID &&
	reg_curl GET /v2/man/a/manifests/nomtdocker &&
	expect_status 404
'

test_expect_success CURL,REGISTRYD 'tags/list is sorted' '
	for t in zeta alpha 1.0 beta_2 gamma; do
		push_manifest man/a "$t" m1.json "$MT_OCI_MANIFEST" || return 1
	done &&
	reg_curl GET /v2/man/a/tags/list &&
	expect_status 200 &&
	jq_body ".name == \"man/a\"" &&
	jq -r ".tags[]" body >tags &&
	LC_ALL=C sort tags >sorted &&
	cmp sorted tags &&
	grep -qx alpha tags && grep -qx zeta tags && grep -qx v1 tags &&
	grep -qx index tags && ! grep -qx missing tags
'

test_expect_success CURL,REGISTRYD 'tags/list pagination with n and last, Link header' '
	reg_curl GET "/v2/man/a/tags/list?n=2" &&
	expect_status 200 &&
	head -n 2 tags | jq -R . | jq -sc . >want &&
	jq -c .tags body >got &&
	cmp want got &&
	second=$(sed -n 2p tags) &&
	expect_header_match Link "^<[^>]*/v2/man/a/tags/list\?(n=2&last=$second|last=$second&n=2)>; rel=\"next\"$" &&
	reg_curl GET "/v2/man/a/tags/list?n=2&last=$second" &&
	expect_status 200 &&
	sed -n 3,4p tags | jq -R . | jq -sc . >want &&
	jq -c .tags body >got &&
	cmp want got &&
	last=$(tail -n 1 tags) &&
	reg_curl GET "/v2/man/a/tags/list?last=$(sed -n 2p tags)" &&
	jq -r ".tags[]" body >rest &&
	tail -n +3 tags >want &&
	cmp want rest &&
	n=$(wc -l <tags) &&
	reg_curl GET "/v2/man/a/tags/list?n=$n" &&
	jq -r ".tags[]" body >all &&
	cmp tags all &&
	expect_no_header Link &&
	reg_curl GET "/v2/man/a/tags/list?n=0" &&
	expect_status 200 &&
	jq_body "(.tags // []) == []" &&
	expect_no_header Link
'

test_expect_success CURL 'tags/list of an unknown repository: 404 NAME_UNKNOWN' '
	reg_curl GET /v2/man/none/tags/list &&
	expect_status 404 &&
	expect_error_code NAME_UNKNOWN
'

test_expect_success CURL '_catalog lists repositories sorted, with n/last and Link' '
	push_manifest man/b v1 m1.json "$MT_OCI_MANIFEST" ||
	{ reg_curl POST "/v2/man/b/blobs/uploads/?mount=$(sha256_of img/layer.bin)&from=man/a" &&
	  reg_curl POST "/v2/man/b/blobs/uploads/?mount=$(sha256_of img/config.json)&from=man/a" &&
	  push_manifest man/b v1 m1.json "$MT_OCI_MANIFEST"; } &&
	reg_curl GET /v2/_catalog &&
	expect_status 200 &&
	jq -r ".repositories[]" body >repos &&
	LC_ALL=C sort repos >sorted &&
	cmp sorted repos &&
	grep -qx man/a repos && grep -qx man/b repos && grep -qx man/bydigest repos &&
	reg_curl GET "/v2/_catalog?n=1" &&
	expect_status 200 &&
	jq -e ".repositories | length == 1" body &&
	first=$(jq -r ".repositories[0]" body) &&
	test "$first" = "$(head -n 1 repos)" &&
	expect_header_match Link "^<[^>]*/v2/_catalog\?(n=1&last=${first/\//(/|%2F)}|last=${first/\//(/|%2F)}&n=1)>; rel=\"next\"$" &&
	reg_curl GET "/v2/_catalog?n=1&last=$first" &&
	jq -e --arg r "$(sed -n 2p repos)" ".repositories == [\$r]" body
'

test_expect_success CURL 'a name with "manifests" and "blobs" components' '
	push_blob a/manifests/b/blobs/c img/layer.bin &&
	push_blob a/manifests/b/blobs/c img/config.json &&
	push_manifest a/manifests/b/blobs/c tags m1.json "$MT_OCI_MANIFEST" &&
	reg_curl GET /v2/a/manifests/b/blobs/c/manifests/tags -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	expect_body_file m1.json &&
	reg_curl GET "/v2/a/manifests/b/blobs/c/blobs/$(sha256_of img/layer.bin)" &&
	expect_status 200 &&
	expect_body_file img/layer.bin &&
	reg_curl GET /v2/a/manifests/b/blobs/c/tags/list &&
	jq_body ".name == \"a/manifests/b/blobs/c\" and .tags == [\"tags\"]"
'

test_expect_success CURL,REGISTRYD 'invalid names: 400 NAME_INVALID' '
	for n in "a/../b" "A/b" "_x/y" "a//b" "a/.b" "a-/b" "/abs"; do
		reg_curl GET "/v2/$n/manifests/latest" --path-as-is || return 1
		expect_status 400 || return 1
		expect_error_code NAME_INVALID || return 1
	done &&
	long=$(printf "a%.0s" $(seq 256)) &&
	reg_curl GET "/v2/$long/tags/list" &&
	expect_status 400 &&
	expect_error_code NAME_INVALID &&
	reg_curl POST "/v2/a/../b/blobs/uploads/" --path-as-is &&
	expect_status 400 &&
	! test -e "$ROOT/docker/registry/v2/repositories/b"
'

# ---- referrers (OCI 1.1)

test_expect_success CURL 'setup: an artifact with a subject' '
	printf "{}" >empty.json &&
	push_blob man/a empty.json &&
	random_file sbom.bin 300 &&
	push_blob man/a sbom.bin &&
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":\"application/vnd.example.sbom.v1\",\"config\":%s,\"layers\":[%s],\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s},\"annotations\":{\"org.example\":\"x\"}}" \
	    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_EMPTY" empty.json)" \
	    "$(json_descriptor application/vnd.example.sbom.v1 sbom.bin)" \
	    "$MT_OCI_MANIFEST" "$M1" "$(size_of m1.json)" >art.json &&
	ART=$(sha256_of art.json)
'

test_expect_success CURL,REGISTRYD 'PUT an artifact with a subject: 201 and OCI-Subject' '
	reg_curl PUT "/v2/man/a/manifests/$ART" -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @art.json &&
	expect_status 201 &&
	expect_header OCI-Subject "$M1"
'

test_expect_success CURL,REGISTRYD 'GET referrers lists the artifact with its artifactType' '
	reg_curl GET "/v2/man/a/referrers/$M1" &&
	expect_status 200 &&
	expect_header_prefix Content-Type "$MT_OCI_INDEX" &&
	jq_body ".schemaVersion == 2 and .mediaType == \"$MT_OCI_INDEX\"" &&
	jq_body ".manifests | length == 1" &&
	jq_body ".manifests[0].digest == \"$ART\" and .manifests[0].size == $(size_of art.json)" &&
	jq_body ".manifests[0].mediaType == \"$MT_OCI_MANIFEST\"" &&
	jq_body ".manifests[0].artifactType == \"application/vnd.example.sbom.v1\"" &&
	jq_body ".manifests[0].annotations[\"org.example\"] == \"x\""
'

test_expect_success CURL,REGISTRYD 'referrers with an artifactType filter: OCI-Filters-Applied' '
	reg_curl GET "/v2/man/a/referrers/$M1?artifactType=application/vnd.example.sbom.v1" &&
	expect_status 200 &&
	expect_header OCI-Filters-Applied artifactType &&
	jq_body ".manifests | length == 1" &&
	reg_curl GET "/v2/man/a/referrers/$M1?artifactType=application%2Fvnd.example.other" &&
	expect_status 200 &&
	expect_header OCI-Filters-Applied artifactType &&
	jq_body ".manifests == []"
'

test_expect_success CURL,REGISTRYD 'referrers of a digest nothing refers to: 200, empty' '
	reg_curl GET "/v2/man/a/referrers/$ZERO" &&
	expect_status 200 &&
	jq_body ".manifests == []" &&
	reg_curl GET "/v2/man/never/referrers/$ZERO" &&
	expect_status 200 &&
	jq_body ".manifests == []"
'

test_expect_success CURL,REGISTRYD 'referrers with an invalid digest: 400' '
	reg_curl GET /v2/man/a/referrers/sha256:xyz &&
	expect_status 400 &&
	expect_error_code DIGEST_INVALID
'

test_expect_success CURL,REGISTRYD 'a subject that does not exist yet is accepted' '
	sed "s/$M1/$ZERO/" art.json >art0.json &&
	reg_curl PUT /v2/man/a/manifests/art0 -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @art0.json &&
	expect_status 201 &&
	expect_header OCI-Subject "$ZERO" &&
	reg_curl GET "/v2/man/a/referrers/$ZERO" &&
	jq_body ".manifests[0].digest == \"$(sha256_of art0.json)\""
'

test_expect_success CURL,REGISTRYD 'referrers include the referrers tag schema (sha256-<hex>)' '
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":%s,\"layers\":[]}" \
	    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_EMPTY" empty.json)" >sig.json &&
	push_manifest man/a sig sig.json "$MT_OCI_MANIFEST" &&
	printf "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s,\"artifactType\":\"application/vnd.example.sig\"}]}" \
	    "$MT_OCI_INDEX" "$MT_OCI_MANIFEST" "$(sha256_of sig.json)" "$(size_of sig.json)" >fallback.json &&
	push_manifest man/a "sha256-${D1#sha256:}" fallback.json "$MT_OCI_INDEX" &&
	reg_curl GET "/v2/man/a/referrers/$D1" &&
	expect_status 200 &&
	jq_body "[.manifests[] | select(.digest == \"$(sha256_of sig.json)\")] | length == 1"
'

# ---- delete

test_expect_success CURL,REGISTRYD 'DELETE by tag: 202, the tag is gone, the manifest stays' '
	reg_curl DELETE /v2/man/a/manifests/zeta &&
	expect_status 202 &&
	reg_curl GET /v2/man/a/manifests/zeta -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 404 &&
	expect_error_code MANIFEST_UNKNOWN &&
	reg_curl GET "/v2/man/a/manifests/$M1" -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200 &&
	reg_curl GET /v2/man/a/tags/list &&
	jq_body "(.tags | index(\"zeta\")) == null and (.tags | index(\"alpha\")) != null"
'

test_expect_success CURL 'DELETE by digest: 202, the manifest and its tags are gone' '
	reg_curl DELETE "/v2/man/a/manifests/$D1" &&
	expect_status 202 &&
	reg_curl GET "/v2/man/a/manifests/$D1" -H "Accept: $MT_DOCKER_MANIFEST" &&
	expect_status 404 &&
	reg_curl GET /v2/man/a/manifests/docker -H "Accept: $MT_DOCKER_MANIFEST" &&
	expect_status 404 &&
	reg_curl GET /v2/man/a/tags/list &&
	jq_body "(.tags | index(\"docker\")) == null" &&
	reg_curl DELETE "/v2/man/a/manifests/$D1" &&
	expect_status 404 &&
	expect_error_code MANIFEST_UNKNOWN
'

test_expect_success CURL 'manifest DELETE when deletes are disabled: 405 UNSUPPORTED' '
	stop_registryd &&
	start_registryd REGISTRY_STORAGE_DELETE_ENABLED=false &&
	reg_curl DELETE "/v2/man/a/manifests/$M1" &&
	expect_status 405 &&
	expect_error_code UNSUPPORTED &&
	reg_curl GET "/v2/man/a/manifests/$M1" -H "Accept: $MT_OCI_MANIFEST" &&
	expect_status 200
'

test_expect_success CURL,REGISTRYD 'DELETE by tag when deletes are disabled: 405' '
	reg_curl DELETE /v2/man/a/manifests/alpha &&
	expect_status 405 &&
	expect_error_code UNSUPPORTED
'

test_expect_success CURL,FSROOT 'the tree is registry:2'"'"'s layout' '
	v2=$ROOT/docker/registry/v2/repositories/man/a/_manifests &&
	printf "%s" "$M1" >want &&
	cmp want "$v2/tags/v1/current/link" &&
	cmp want "$v2/tags/v1/index/sha256/${M1#sha256:}/link" &&
	cmp want "$v2/revisions/sha256/${M1#sha256:}/link" &&
	h=${M1#sha256:} &&
	cmp m1.json "$ROOT/docker/registry/v2/blobs/sha256/${h:0:2}/$h/data"
'

test_done
