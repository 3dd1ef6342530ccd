#!/usr/bin/env python3
"""Compare registryd's figures of several `make bench` JSON results
before and after a change: the median of each row over the runs on each
side, and how much better or worse it got (a row counts as worse when it
moved against its direction: throughput down, time, CPU or memory up).
registry:2 runs in the same benchmark, so the ratio column (registryd /
registry:2, median per side) shows a change net of the machine's load.

    bench/compare.py --before b1.json b2.json b3.json \\
                     --after a1.json a2.json a3.json [--worse 10]
"""
import argparse
import json
import statistics
import sys

LOWER_IS_BETTER = ("cpu", "_ms", "p99", "anon", "rss", "_us")
# Rows whose best value is 1: an unknown user's login time over a known
# one's (item 8 of the hardening issue), where either way off 1 is worse.
BEST_AT_ONE = ("8i_login_frac",)


def lower_is_better(key):
    return any(s in key for s in LOWER_IS_BETTER)


def load(paths):
    rows = {}
    for p in paths:
        with open(p) as f:
            for r in json.load(f)["rows"]:
                if r.get("registryd") is None:
                    continue
                rows.setdefault(r["key"], []).append(
                    (r["registryd"], r.get("ratio")))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", nargs="+", required=True)
    ap.add_argument("--after", nargs="+", required=True)
    ap.add_argument("--worse", type=float, default=10.0,
                    help="percent beyond which a row is flagged")
    a = ap.parse_args()
    before, after = load(a.before), load(a.after)
    print("%-32s %12s %12s %8s %9s %9s %s" % (
        "row", "before", "after", "change", "ratio b", "ratio a", ""))
    flagged = 0
    for key in before:
        if key not in after:
            continue
        b = statistics.median(v for v, _ in before[key])
        x = statistics.median(v for v, _ in after[key])
        rb = [r for _, r in before[key] if r is not None]
        ra = [r for _, r in after[key] if r is not None]
        rb = statistics.median(rb) if rb else float("nan")
        ra = statistics.median(ra) if ra else float("nan")
        change = (x - b) / b * 100 if b else 0.0
        if key in BEST_AT_ONE:
            # How much further from 1 (as a factor either way) it moved.
            off_b = max(b, 1 / b) if b > 0 else float("inf")
            off_x = max(x, 1 / x) if x > 0 else float("inf")
            worse = (off_x - off_b) / off_b * 100
        else:
            worse = -change if not lower_is_better(key) else change
        mark = "WORSE" if worse > a.worse else ""
        flagged += mark != ""
        print("%-32s %12.4g %12.4g %+7.1f%% %9.3g %9.3g %s" % (
            key[:32], b, x, change, rb, ra, mark))
    print("%d row(s) more than %g%% worse" % (flagged, a.worse))
    return 0


if __name__ == "__main__":
    sys.exit(main())
