#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Referrers (OCI distribution-spec 1.1, end-12a/12b) from registryd's
# referrers index: pushed and deleted referrers, pages linked with Link,
# the artifactType filter across pages, referrers another writer put in
# the tree without the index (found by the reconcile) or removed behind
# its back (pruned), and a query over 3000 referrers that runs off the
# event loop while GET /v2/ answers at once.
. "$(dirname "$0")/../lib/test-lib.sh"

PY="$TEST_DIRECTORY/integ/lib-py/referrers.py"
V2=$ROOT/docker/registry/v2

# artifact SEQ TYPE SUBJECT FILE: an OCI artifact manifest of TYPE whose
# subject is SUBJECT, told apart by SEQ.
artifact() {
	printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"%s","config":%s,"layers":[%s],"subject":{"mediaType":"%s","digest":"%s","size":%s},"annotations":{"seq":"%s"}}' \
	    "$MT_OCI_MANIFEST" "$2" "$(json_descriptor "$MT_OCI_EMPTY" empty.json)" \
	    "$(json_descriptor "$MT_OCI_EMPTY" empty.json)" "$MT_OCI_MANIFEST" \
	    "$3" "$(size_of img/manifest.json)" "$1" >"$4"
}

# digests_of: the digests of the last referrers answer, one a line.
digests_of() {
	jq -r '.manifests[].digest' "$TRASH/body"
}

# entries SUBJECT [NAME]: the referrers index entries of SUBJECT in NAME
# (default ref/a), one digest hex a line, sorted.
entries() {
	ls "$V2/repositories/${2:-ref/a}/_registryd/referrers/subjects/sha256/${1#sha256:}" 2>/dev/null |
	    grep -E '^[0-9a-f]{64}$' | sort
}

# follow URL: GET URL and every page its Link rel="next" names; every
# digest listed goes to pages.out, the number of pages to $PAGES.
follow() {
	local url=$1 link
	: >pages.out
	PAGES=0
	while [ -n "$url" ] && [ "$PAGES" -lt 20 ]; do
		reg_curl GET "$url" >/dev/null && expect_status 200 || return 1
		[ -z "$FILTER" ] || expect_header OCI-Filters-Applied artifactType || return 1
		digests_of >>pages.out
		PAGES=$((PAGES + 1))
		link=$(header Link) || link=
		url=$(printf '%s\n' "$link" | sed -n 's/^<\([^>]*\)>; rel="next"$/\1/p')
		[ -z "$link" ] || [ -n "$url" ] || { echo "bad Link: $link"; return 1; }
	done
}

test_expect_success CURL 'setup: a subject image and the empty blob' '
	start_registryd &&
	make_image ref/a v1 img &&
	SUBJ=$IMG_DIGEST &&
	printf "{}" >empty.json &&
	push_blob ref/a empty.json
'

test_expect_success CURL 'five referrers pushed: listed, each with an index entry' '
	: >pushed &&
	for i in 1 2 3 4 5; do
		t=application/vnd.example.sbom &&
		if [ $((i % 2)) = 1 ]; then t=application/vnd.example.sig; fi &&
		artifact "$i" "$t" "$SUBJ" "art$i.json" &&
		push_manifest ref/a "$(sha256_of "art$i.json")" "art$i.json" "$MT_OCI_MANIFEST" &&
		sha256_of "art$i.json" >>pushed || return 1
	done &&
	sort pushed >want &&
	reg_curl GET "/v2/ref/a/referrers/$SUBJ" &&
	expect_status 200 &&
	expect_header_prefix Content-Type "$MT_OCI_INDEX" &&
	digests_of >got &&
	diff -u want got &&
	entries "$SUBJ" | sed "s/^/sha256:/" >index &&
	diff -u want index
'

test_expect_success CURL 'a deleted referrer: gone from the answer and the index' '
	GONE=$(sha256_of art2.json) &&
	reg_curl DELETE "/v2/ref/a/manifests/$GONE" &&
	expect_status 202 &&
	grep -v "$GONE" want >want4 &&
	reg_curl GET "/v2/ref/a/referrers/$SUBJ" &&
	digests_of >got &&
	diff -u want4 got &&
	! entries "$SUBJ" | grep -q "${GONE#sha256:}" &&
	test "$(entries "$SUBJ" | wc -l)" = 4
'

test_expect_success CURL 'n=1: four pages linked with Link rel="next", in digest order' '
	FILTER= &&
	follow "/v2/ref/a/referrers/$SUBJ?n=1" &&
	test "$PAGES" = 4 &&
	diff -u want4 pages.out
'

test_expect_success CURL 'the artifactType filter across pages: OCI-Filters-Applied, the filter in the Link' '
	FILTER=application/vnd.example.sig &&
	for f in art1.json art3.json art5.json; do sha256_of $f; done | sort >wantsig &&
	follow "/v2/ref/a/referrers/$SUBJ?n=2&artifactType=application/vnd.example.sig" &&
	test "$PAGES" = 2 &&
	diff -u wantsig pages.out &&
	FILTER=
'

test_expect_success CURL 'the index removed: the next query rebuilds it from the revisions' '
	rm -rf "$V2/repositories/ref/a/_registryd" &&
	reg_curl GET "/v2/ref/a/referrers/$SUBJ" &&
	expect_status 200 &&
	digests_of >got &&
	diff -u want4 got &&
	entries "$SUBJ" | sed "s/^/sha256:/" >index &&
	diff -u want4 index
'

test_expect_success CURL,PYTHON3 'a referrer written into the tree without the index (as registry:2 does) appears' '
	python3 "$PY" gen "$ROOT" ref/a "$SUBJ" 1 100 >direct &&
	test "$(wc -l <direct)" = 1 &&
	reg_curl GET "/v2/ref/a/referrers/$SUBJ" &&
	digests_of >got &&
	sort want4 direct >want5 &&
	diff -u want5 got
'

test_expect_success CURL 'a referrer whose revision link is removed behind the index is no longer listed' '
	GONE=$(sha256_of art3.json) &&
	rm "$V2/repositories/ref/a/_manifests/revisions/sha256/${GONE#sha256:}/link" &&
	reg_curl GET "/v2/ref/a/referrers/$SUBJ" &&
	digests_of >got &&
	grep -v "$GONE" want5 >want6 &&
	diff -u want6 got &&
	! entries "$SUBJ" | grep -q "${GONE#sha256:}"
'

test_expect_success CURL,REGISTRYD 'fsck: the index is part of the layout' '
	"$REGISTRYD" fsck -c "$CONF" >fsck.out 2>&1;
	cat fsck.out &&
	! grep -v "^info: " fsck.out | grep -q "_registryd" &&
	grep -q " 0 problems (0 warnings" fsck.out
'

test_expect_success CURL,PYTHON3 'setup: 3000 referrers written into the tree' '
	python3 "$PY" gen "$ROOT" ref/big "$SUBJ" 3000 >big &&
	test "$(wc -l <big)" = 3000 &&
	sort big >bigwant
'

test_expect_success CURL,PYTHON3 'the first query indexes them; pages of the default 1000' '
	CURL_TIMEOUT=120 reg_curl GET "/v2/ref/big/referrers/$SUBJ" &&
	expect_status 200 &&
	test "$(digests_of | wc -l)" = 1000 &&
	header Link | grep -q "rel=\"next\"" &&
	test "$(entries "$SUBJ" ref/big | wc -l)" = 3000 &&
	CURL_TIMEOUT=120 reg_curl GET "/v2/ref/big/referrers/$SUBJ?n=10000" &&
	digests_of >got &&
	diff -u bigwant got &&
	expect_no_header Link
'

# Timing-free where it can be: the loop answers GET /v2/ before any of
# the queries sent 20 ms earlier is done, and in less than half the time
# the quickest of them took. Before the index, the queries ran on the
# loop and GET /v2/ waited for them all: 1.04 s, the queries 1.09 s.
test_expect_success CURL,PYTHON3 'while four queries over 3000 referrers run, GET /v2/ answers first' '
	python3 "$PY" race "$PORT" "/v2/ref/big/referrers/$SUBJ?n=10000" 4 /v2/ >race.json &&
	cat race.json &&
	say "# race: $(cat race.json)" &&
	jq -e ".fast_status == 200 and .statuses == [200,200,200,200]" race.json &&
	jq -e ".sizes == [3000,3000,3000,3000]" race.json &&
	jq -e ".fast_first and .fast < .slow[0] / 2" race.json
'

test_done
