#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Listings whose size has no bound (tags/list of a repository with very
# many tags, a big _catalog page) run off the event loop: while four of
# them are in flight, GET /v2/ is answered first. Small ones (at most 256
# entries) are answered on the loop, without a worker pool round trip.
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
for i in range(300):
    os.makedirs(sys.argv[1] + \"/docker/registry/v2/repositories/cat/r%03d/_manifests\" % i)
" "$ROOT" "$NTAGS" &&
	start_registryd
'

# Workers start with their first jobs (pool.c): before any request, the
# loop, one store worker and the walk workers of the start (catalog
# count, upload purge), no password-check worker; 8 threads before.
test_expect_success CURL 'at idle: no more threads than the start needs' '
	curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null &&
	threads=$(sed -n "s/^Threads:[[:space:]]*//p" /proc/$REG_PID/status) &&
	say "# threads at idle: $threads" &&
	test "$threads" -le 4
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

# Most repositories have a few tags: their tags/list is answered on the
# loop, without a job on the worker pool (the round trip cost a third of
# the request); only one of more than 256 tags goes there.
store_jobs() {
	reg_curl GET /metrics >/dev/null &&
	sed -n "s/^registryd_pool_jobs_total{class=\"store\"} //p" body
}

test_expect_success CURL,PYTHON3,REGISTRYD 'a small tags/list makes no pool job, a big one does' '
	mkdir -p "$ROOT/docker/registry/v2/repositories/small/_manifests/tags/t1" \
	    "$ROOT/docker/registry/v2/repositories/small/_manifests/tags/t2" &&
	j0=$(store_jobs) && test -n "$j0" &&
	reg_curl GET /v2/small/tags/list && expect_status 200 &&
	test "$(jq -c .tags body)" = "[\"t1\",\"t2\"]" &&
	reg_curl GET "/v2/small/tags/list?n=1" && expect_status 200 &&
	test "$(jq -c .tags body)" = "[\"t1\"]" &&
	j1=$(store_jobs) &&
	say "# store jobs: $j0 before, $j1 after two small tags/list" &&
	test "$j1" = "$j0" &&
	reg_curl GET "/v2/big/tags/tags/list?n=3" && expect_status 200 &&
	test "$(jq -c .tags body)" = "[\"t000000\",\"t000001\",\"t000002\"]" &&
	j2=$(store_jobs) &&
	test "$j2" -gt "$j1"
'

test_expect_success CURL,PYTHON3,REGISTRYD 'a _catalog page of up to 256 names makes no pool job, a bigger one does' '
	j0=$(store_jobs) &&
	reg_curl GET "/v2/_catalog?n=100" && expect_status 200 &&
	test "$(jq ".repositories | length" body)" = 100 &&
	expect_header_match Link "last=cat/r098>" &&
	j1=$(store_jobs) &&
	test "$j1" = "$j0" &&
	reg_curl GET "/v2/_catalog?n=1000" && expect_status 200 &&
	test "$(jq ".repositories | length" body)" -ge 301 &&
	j2=$(store_jobs) &&
	test "$j2" -gt "$j1"
'

test_done
