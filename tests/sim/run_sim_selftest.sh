#!/bin/sh
# Proves the checker can fail: with a deliberate bug injected, the
# simulator must report a violation (--expect-violation turns that into
# success and a clean run into failure).
set -e
sim=${SIM:-./tests/sim/simulate}
"$sim" --seed 1 --count 200 --nodes 3 --faults all --inject-bug commit-without-majority --expect-violation
# A primary that confirms reads without hearing from a quorum serves stale
# reads under partitions: the read checker must see it.
"$sim" --seed 1 --count 200 --nodes 3 --faults all --inject-bug read-without-quorum --expect-violation
