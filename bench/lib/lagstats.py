#!/usr/bin/env python3
"""lagstats.py: summarize bench/lag_probe output.

    lagstats.py LABEL=FILE ...

Each FILE holds lag_probe lines (all rounds of one configuration appended).
Prints one line per LABEL:

    LABEL n=N timeouts=T commit_p50=MS lag_p50=MS lag_p90=MS lag_p99=MS lag_max=MS

lag_* pool every reader's samples (a timeout counts as the probe's timeout,
so it lands in p99/max instead of vanishing); percentiles are nearest-rank.
Milliseconds with three decimals; "nan" when a file has no sample.
"""
import math
import sys


def pct(sorted_vals, p):
    if not sorted_vals:
        return math.nan
    rank = max(1, math.ceil(p / 100.0 * len(sorted_vals)))
    return sorted_vals[rank - 1]


def summarize(path, timeout_us):
    commits, lags, timeouts = [], [], 0
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) == 3 and w[0] == "commit":
                commits.append(int(w[2]))
            elif len(w) == 4 and w[0] == "lag":
                lags.append(int(w[3]))
            elif len(w) == 3 and w[0] == "timeout":
                timeouts += 1
                lags.append(timeout_us)
    commits.sort()
    lags.sort()
    ms = lambda v: "nan" if math.isnan(v) else "%.3f" % (v / 1000.0)
    return "n=%d timeouts=%d commit_p50=%s lag_p50=%s lag_p90=%s lag_p99=%s lag_max=%s" % (
        len(lags), timeouts, ms(pct(commits, 50)), ms(pct(lags, 50)),
        ms(pct(lags, 90)), ms(pct(lags, 99)), ms(lags[-1] if lags else math.nan))


def main(argv):
    timeout_us = 5000 * 1000
    args = argv[1:]
    if args and args[0].startswith("--timeout-ms="):
        timeout_us = int(args[0].split("=", 1)[1]) * 1000
        args = args[1:]
    if not args:
        sys.stderr.write(__doc__)
        return 2
    for a in args:
        label, sep, path = a.partition("=")
        if not sep:
            sys.stderr.write("lagstats.py: %r is not LABEL=FILE\n" % a)
            return 2
        print(label, summarize(path, timeout_us))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
