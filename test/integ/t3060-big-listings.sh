#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Listings whose size has no bound (tags/list of a repository with very
# many tags) run off the event loop: while four of them are in flight,
# GET /v2/ is answered first.
. "$(dirname "$0")/../lib/test-lib.sh"

RACE="$TEST_DIRECTORY/integ/lib-py/referrers.py"
NTAGS=30000

# Tags are written into the tree directly (as many PUTs would take
# minutes): tags/list lists the directories under _manifests/tags, as
# registry:2 does, without reading their links, so bare directories do.
test_expect_success CURL,PYTHON3 "setup: a repository with $NTAGS tags" '
	python3 -c "
import os, sys
b = sys.argv[1] + \"/docker/registry/v2/repositories/big/tags/_manifests/tags\"
os.makedirs(b)
for i in range(int(sys.argv[2])):
    os.mkdir(b + \"/t%06d\" % i)
" "$ROOT" "$NTAGS" &&
	start_registryd
'

# Timing-free: a server that lists on the loop reads GET /v2/, sent
# 10 ms after the listings, only when it has made their answers, and
# starts sending those first. (fast_first alone would not tell: the big
# answers take many writes, the small one a single write.)
test_expect_success CURL,PYTHON3 'while four big tags/list run, GET /v2/ answers first' '
	python3 "$RACE" race "$PORT" "/v2/big/tags/tags/list?n=100000" 4 /v2/ 10 >race.json &&
	say "# race: $(cat race.json)" &&
	jq -e ".fast_status == 200 and .statuses == [200,200,200,200]" race.json &&
	jq -e ".sizes == [$NTAGS,$NTAGS,$NTAGS,$NTAGS]" race.json &&
	jq -e ".fast_before_any" race.json
'

test_expect_success CURL 'pages of a big tags/list' '
	reg_curl GET "/v2/big/tags/tags/list?n=2&last=t000100" &&
	expect_status 200 &&
	expect_header Link "</v2/big/tags/tags/list?n=2&last=t000102>; rel=\"next\"" &&
	jq -c .tags body >got &&
	echo "[\"t000101\",\"t000102\"]" >want &&
	diff -u want got
'

test_done
