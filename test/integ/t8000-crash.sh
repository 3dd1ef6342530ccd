#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Crash consistency: concurrent pushes (monolithic POST ?digest=, chunked
# POST/PATCH/PUT, manifest PUTs that tag them), kill -9 of registryd at a
# random moment, restart on the same root; CRASH_ROUNDS times (default 10).
# After every restart: each blob file hashes to its name, each push that got
# its 201 is pullable, each tag names the acknowledged manifest or a later
# attempt, an upload interrupted by the kill resumes at the offset the
# server reports (or is gone: 404 BLOB_UPLOAD_UNKNOWN), and registryd fsck
# finds no problems.
. "$(dirname "$0")/../lib/test-lib.sh"

ROUNDS=${CRASH_ROUNDS:-5}
WORKERS=4
LEDGER="$TRASH/ledger"     # acknowledged: blob DIGEST REPO FILE / tag REPO TAG DIGEST SEQ
ATTEMPTS="$TRASH/attempts" # manifest PUTs tried: REPO TAG DIGEST SEQ
STOP="$TRASH/stop"
GO="$TRASH/go"       # workers push only while it exists
POOL="$TRASH/pool"
V2="$ROOT/docker/registry/v2"
WORKER_PIDS=()
SLOW_PID=
ROUNDS_RUN=0
UPLOADS_RESUMED=0
UPLOADS_GONE=0

stop_workers() {
	local p i
	: >"$STOP"
	if [ -n "$SLOW_PID" ]; then
		kill "$SLOW_PID" 2>/dev/null
		wait "$SLOW_PID" 2>/dev/null
		SLOW_PID=
	fi
	for p in "${WORKER_PIDS[@]}"; do
		# Every curl has -m, so a worker ends within seconds.
		for ((i = 0; i < 300; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	WORKER_PIDS=()
}
test_atexit stop_workers

# A curl for the workers: bounded, quiet, prints the status code.
wcurl() {
	curl -s -o /dev/null --connect-timeout 2 -m 30 -w '%{http_code}' "$@"
}

# new_blob DIR: a file of 1-4 MiB made unique by a random tail; prints its
# path.
new_blob() {
	local f="$1/b.$RANDOM$RANDOM"
	{
		cat "$POOL/p$((RANDOM % 4))"
		head -c $((RANDOM % 65536 + 16)) /dev/urandom
	} >"$f" && echo "$f"
}

# wait_go: block while the server is being killed, restarted and checked
# ($GO absent). 1 when the test is stopping.
wait_go() {
	while [ ! -e "$GO" ]; do
		[ -e "$STOP" ] && return 1
		sleep 0.05
	done
	[ ! -e "$STOP" ]
}

# step CMD...: retry CMD (a request that must answer 201) until it does,
# across kills and restarts; 1 when the test is stopping.
step() {
	while wait_go; do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# A monolithic POST ?digest= of FILE to REPO.
push_mono() {
	[ "$(wcurl -X POST -H 'Content-Type: application/octet-stream' \
	    --data-binary @"$2" "$BASE/v2/$1/blobs/uploads/?digest=$3")" = 201 ]
}

# A chunked upload: POST, PATCH of the first MiB, PUT of the rest.
push_chunked() {
	local loc
	loc=$(curl -s -o /dev/null -D - --connect-timeout 2 -m 10 \
	    -X POST "$BASE/v2/$1/blobs/uploads/" | tr -d '\r' |
	    sed -n 's/^[Ll]ocation: *//p')
	[ -n "$loc" ] || return 1
	loc=$(url "$loc")
	[ "$(wcurl -X PATCH -H 'Content-Type: application/octet-stream' \
	    -H 'Content-Range: 0-1048575' --data-binary @"$2.1" "$loc")" = 202 ] &&
	[ "$(wcurl -X PUT -H 'Content-Type: application/octet-stream' \
	    --data-binary @"$2.2" "$(with_query "$loc" "digest=$3")")" = 201 ]
}

# PUT manifest FILE as REPO:TAG, recording the attempt first.
push_tag() {
	local seq
	seq=$(date +%s%N)
	echo "$1 $2 $4 $seq" >>"$ATTEMPTS"
	[ "$(wcurl -X PUT -H "Content-Type: $MT_OCI_MANIFEST" \
	    --data-binary @"$3" "$BASE/v2/$1/manifests/$2")" = 201 ] || return 1
	echo "tag $1 $2 $4 $seq" >>"$LEDGER"
}

# worker K: push until $STOP exists. Even pushes are monolithic POSTs,
# odd ones chunked; every image is then tagged twice (a unique tag and
# w<K>, which moves). A step cut by a kill is retried after the restart.
worker() {
	local k=$1 n=0 dir="$TRASH/w$1" repo f d cfg dc m dm t
	mkdir -p "$dir"
	while wait_go; do
		n=$((n + 1))
		repo="crash/r$(((k + n) % 3))"
		f=$(new_blob "$dir") || return 1
		d=$(sha256_of "$f")
		if [ $((n % 2)) = 0 ]; then
			step push_mono "$repo" "$f" "$d" || return 0
		else
			head -c 1048576 "$f" >"$f.1"
			tail -c +1048577 "$f" >"$f.2"
			step push_chunked "$repo" "$f" "$d" || return 0
			rm -f "$f.1" "$f.2"
		fi
		echo "blob $d $repo $f" >>"$LEDGER"
		cfg="$dir/c.$n.json"
		printf '{"architecture":"amd64","os":"linux","w":"%s-%s-%s"}' \
		    "$k" "$n" "$RANDOM" >"$cfg"
		dc=$(sha256_of "$cfg")
		step push_mono "$repo" "$cfg" "$dc" || return 0
		echo "blob $dc $repo $cfg" >>"$LEDGER"
		m="$dir/m.$n.json"
		printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}' \
		    "$MT_OCI_MANIFEST" "$(json_descriptor "$MT_OCI_CONFIG" "$cfg")" \
		    "$(json_descriptor "$MT_OCI_LAYER" "$f")" >"$m"
		dm=$(sha256_of "$m")
		for t in "t$k-$n" "w$k"; do
			step push_tag "$repo" "$t" "$m" "$dm" || return 0
		done
	done
}

# Every blob file under blobs/ hashes to its directory's name.
check_blob_files() {
	local f h n=0 bad=0
	while IFS= read -r f; do
		h=$(sha256sum <"$f") || return 1
		h=${h%% *}
		n=$((n + 1))
		if [ "$h" != "$(basename "$(dirname "$f")")" ]; then
			echo "blob file $f hashes to $h"
			bad=1
		fi
	done < <(find "$V2/blobs" -type f -name data)
	echo "$n blob files checked"
	[ "$bad" = 0 ]
}

# Every acknowledged blob is pullable byte for byte from its repository.
check_ledger_blobs() {
	local kind d repo f h bad=0
	while read -r kind d repo f; do
		[ "$kind" = blob ] || continue
		h=$(curl -fsS -m 30 "$BASE/v2/$repo/blobs/$d" | sha256sum) || {
			echo "GET $repo $d failed"
			bad=1
			continue
		}
		if [ "sha256:${h%% *}" != "$d" ]; then
			echo "GET $repo $d returned bytes hashing to sha256:${h%% *}"
			bad=1
		fi
	done <"$LEDGER"
	[ "$bad" = 0 ]
}

# Every acknowledged tag resolves to its newest acknowledged manifest, or
# to one attempted later for the same tag (a PUT that committed but whose
# 201 was lost to the kill).
check_ledger_tags() {
	local repo t d seq got gotseq bad=0 n=0
	while read -r repo t d seq; do
		n=$((n + 1))
		got=$(curl -fsS -m 10 -o /dev/null -w '%header{docker-content-digest}' \
		    -H "Accept: $MT_OCI_MANIFEST" -I "$BASE/v2/$repo/manifests/$t") || {
			echo "HEAD $repo:$t failed"
			bad=1
			continue
		}
		[ "$got" = "$d" ] && continue
		gotseq=$(awk -v r="$repo" -v t="$t" -v d="$got" \
		    '$1 == r && $2 == t && $3 == d { s = $4 } END { print s }' "$ATTEMPTS")
		if [ -z "$gotseq" ] || [ "$gotseq" -lt "$seq" ]; then
			echo "tag $repo:$t is $got, acknowledged $d"
			bad=1
		fi
	done < <(awk '$1 == "tag" { last[$2 " " $3] = $4 " " $5 }
	    END { for (k in last) print k, last[k] }' "$LEDGER")
	echo "$n tags checked"
	[ "$bad" = 0 ]
}

run_fsck() {
	"$REGISTRYD" fsck -c "$CONF" >"$TRASH/fsck.out" 2>&1
	local rc=$?
	grep -v '^info: ' "$TRASH/fsck.out" | tail -n 20
	tail -n 1 "$TRASH/fsck.out"
	return "$rc"
}

# The upload interrupted by the kill: resume it at the server's offset
# and finish it, or find it gone. Never a wrong blob.
check_interrupted_upload() {
	local r off
	[ -n "$IUP" ] || { echo "no interrupted upload this round"; return 0; }
	reg_curl GET "$IUP" || return 1
	if [ "$STATUS" = 404 ]; then
		expect_error_code BLOB_UPLOAD_UNKNOWN || return 1
		UPLOADS_GONE=$((UPLOADS_GONE + 1))
		return 0
	fi
	expect_status 204 || return 1
	r=$(header Range) || { echo "no Range"; return 1; }
	off=$(( ${r#0-} + 1 ))
	echo "interrupted upload resumes at $off of $(size_of "$IFILE")"
	[ "$off" -le "$(size_of "$IFILE")" ] || return 1
	# The bytes on disk must be a prefix of the file.
	tail -c +$((off + 1)) "$IFILE" >"$TRASH/irest"
	IUP=$(url "$(header Location)")
	if [ -s "$TRASH/irest" ]; then
		reg_curl PATCH "$IUP" -H 'Content-Type: application/octet-stream' \
		    -H "Content-Range: $off-$(( $(size_of "$IFILE") - 1 ))" \
		    --data-binary @"$TRASH/irest" &&
		expect_status 202 || return 1
		IUP=$(url "$(header Location)")
	fi
	reg_curl PUT "$(with_query "$IUP" "digest=$(sha256_of "$IFILE")")" &&
	expect_status 201 &&
	reg_curl GET "/v2/crash/resume/blobs/$(sha256_of "$IFILE")" &&
	expect_status 200 &&
	expect_body_file "$IFILE" &&
	UPLOADS_RESUMED=$((UPLOADS_RESUMED + 1))
}

test_expect_success CURL,REGISTRYD 'setup: pool of random data, server up' '
	mkdir -p "$POOL" &&
	for i in 0 1 2 3; do
		random_file "$POOL/p$i" $(( (i + 1) * 1048576 - 65536 )) || return 1
	done &&
	: >"$LEDGER" && : >"$ATTEMPTS" &&
	start_registryd &&
	rm -f "$STOP" &&
	for ((k = 0; k < WORKERS; k++)); do
		worker "$k" >/dev/null 2>&1 &
		WORKER_PIDS+=($!)
	done
'

# One round: workers push; an upload is started and a slow PATCH is in
# flight; kill -9 at a random moment; restart; check everything.
crash_round() {
	local ms
	: >"$GO"
	IUP= IFILE=
	if upload_start crash/resume >/dev/null; then
		IUP=$UPLOAD
		IFILE=$(new_blob "$TRASH")
		head -c 524288 "$IFILE" >"$TRASH/ifirst"
		reg_curl PATCH "$IUP" -H "Content-Type: application/octet-stream" \
		    --data-binary @"$TRASH/ifirst" >/dev/null &&
		[ "$STATUS" = 202 ] && IUP=$(url "$(header Location)") &&
		tail -c +524289 "$IFILE" >"$TRASH/isecond" &&
		# Slow enough to be cut by the kill.
		{ curl -s -o /dev/null -m 20 --limit-rate 1M -X PATCH \
		    -H "Content-Type: application/octet-stream" \
		    --data-binary @"$TRASH/isecond" "$IUP" & } &&
		SLOW_PID=$!
	fi
	ms=$((200 + RANDOM % 1301))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -KILL "$REG_PID" && wait "$REG_PID" 2>/dev/null
	REG_PID=
	rm -f "$GO"
	echo "--- killed after $ms ms" >>"$TRASH/registryd.log"
	if [ -n "$SLOW_PID" ]; then
		wait "$SLOW_PID" 2>/dev/null
		SLOW_PID=
	fi
	# Requests in flight at the kill failed; the workers retry them in
	# the next round. While the server is checked they wait.
	start_registryd &&
	check_blob_files &&
	check_ledger_blobs &&
	check_ledger_tags &&
	check_interrupted_upload &&
	run_fsck
}

for ((round = 1; round <= ROUNDS; round++)); do
	test_expect_success CURL,REGISTRYD "round $round: kill -9 during pushes, restart, all acknowledged pushes intact" '
		crash_round
	'
	ROUNDS_RUN=$round
done

test_expect_success CURL,REGISTRYD 'after the last round: workers stopped, everything intact' '
	# On a loaded machine short rounds may end before any tag is
	# acknowledged: let the workers run unharmed until one is (bounded).
	: >"$GO" &&
	for ((i = 0; i < 150; i++)); do
		grep -q "^tag" "$LEDGER" && break
		sleep 0.1
	done
	rm -f "$GO" &&
	stop_workers &&
	check_blob_files &&
	check_ledger_blobs &&
	check_ledger_tags &&
	run_fsck
'

test_expect_success CURL,REGISTRYD 'the rounds pushed something' '
	grep -c "^blob" "$LEDGER" &&
	grep -c "^tag" "$LEDGER" &&
	test "$(grep -c "^tag" "$LEDGER")" -gt 0
'

# Group commit (hardening item 23): concurrent small uploads share their
# sync rounds, and each 201 must still come only after its own commit is
# complete. Eight clients push 4 KiB blobs at once; registryd is killed
# the moment the last 201 arrives; every acknowledged blob must be there
# after the restart. (A kill -9 keeps the page cache: this checks that no
# 201 goes out before its blob and link are in place. That they are
# synced before the 201 is test/unit/store_fs.c's round log.)
SMALL_CLIENTS=8
SMALL_EACH=25

small_client() {
	local k=$1 n f d
	for ((n = 0; n < SMALL_EACH; n++)); do
		f="$TRASH/small/c$k.$n"
		{ echo "client $k upload $n $RANDOM"; head -c 4000 /dev/urandom; } >"$f" &&
		d=$(sha256_of "$f") &&
		push_mono "crash/small$k" "$f" "$d" &&
		echo "blob $d crash/small$k $f" >>"$TRASH/small/acked.$k" ||
		return 1
	done
}

test_expect_success CURL,REGISTRYD 'concurrent small uploads: every 201 survives a kill -9 right after the last' '
	mkdir -p "$TRASH/small" &&
	: >"$GO" &&
	pids=() &&
	for ((k = 0; k < SMALL_CLIENTS; k++)); do
		small_client "$k" &
		pids+=($!)
	done &&
	fails=0 &&
	for p in "${pids[@]}"; do
		wait "$p" || fails=$((fails + 1))
	done &&
	kill -KILL "$REG_PID" &&
	{ wait "$REG_PID" 2>/dev/null || :; } &&
	REG_PID= &&
	rm -f "$GO" &&
	echo "--- killed right after the last small upload" >>"$TRASH/registryd.log" &&
	test "$fails" = 0 &&
	cat "$TRASH"/small/acked.* >"$TRASH/small/acked" &&
	test "$(wc -l <"$TRASH/small/acked")" = $((SMALL_CLIENTS * SMALL_EACH)) &&
	start_registryd &&
	LEDGER_SAVED=$LEDGER &&
	LEDGER="$TRASH/small/acked" &&
	check_ledger_blobs &&
	LEDGER=$LEDGER_SAVED &&
	check_blob_files &&
	run_fsck
'

say "# kill -9 rounds run: $ROUNDS_RUN; acknowledged blobs: $(grep -c '^blob' "$LEDGER"), tags: $(grep -c '^tag' "$LEDGER"); interrupted uploads resumed: $UPLOADS_RESUMED, gone (404): $UPLOADS_GONE"

test_done
