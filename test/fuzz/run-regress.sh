#!/bin/sh
# run-regress.sh: replay every input under test/fuzz/regress/<target>/ and
# test/fuzz/corpus/<target>/ once through its libFuzzer target (no
# fuzzing), one TAP line per target. Builds the targets first when one is
# missing. Exit status 0 when every input ran clean.
#   FUZZ_BUILD   where the targets are (build-fuzz)
set -u
cd "$(dirname "$0")/../.." || exit 1
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
MAKE=${MAKE:-make}

targets=$(for f in test/fuzz/fuzz_*.c; do basename "$f" .c; done)
for t in $targets; do
	if [ ! -x "$FUZZ_BUILD/fuzz/$t" ]; then
		# Until the top Makefile includes fuzz.mk, name it here.
		if grep -q 'test/fuzz/fuzz.mk' Makefile; then
			$MAKE --no-print-directory fuzz-build >&2 || exit 1
		else
			$MAKE --no-print-directory -f Makefile \
			    -f test/fuzz/fuzz.mk fuzz-build >&2 || exit 1
		fi
		break
	fi
done

n=0
fail=0
echo "1..$(echo "$targets" | wc -w)"
for t in $targets; do
	n=$((n + 1))
	dirs=
	for d in test/fuzz/regress/$t test/fuzz/corpus/$t; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	log=$FUZZ_BUILD/$t.regress.log
	# -runs=0 with directories: run every file once, add nothing.
	# shellcheck disable=SC2086
	if "$FUZZ_BUILD/fuzz/$t" -runs=0 -timeout=25 -close_fd_mask=3 \
	    $dirs >"$log" 2>&1; then
		# shellcheck disable=SC2086
		echo "ok $n - $t: $(find $dirs -type f | wc -l) inputs"
	else
		fail=$((fail + 1))
		echo "not ok $n - $t (log: $log)"
		sed -n '/ERROR\|invariant\|SUMMARY\|#[0-9] /p' "$log" | \
		    head -n 20 | sed 's/^/# /'
	fi
done
[ "$fail" -eq 0 ]
