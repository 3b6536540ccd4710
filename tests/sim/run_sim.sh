#!/bin/sh
# Runs the deterministic simulator of sync/core over many seeds with all
# faults (network, crashes, disks, membership changes, transfers): 2000
# seeds at 3 nodes and 1000 at 5 nodes.  A violation prints the seed and
# the command line that replays it alone.
set -e
sim=${SIM:-./tests/sim/simulate}
"$sim" --seed 1 --count 2000 --nodes 3 --faults all
"$sim" --seed 1 --count 1000 --nodes 5 --faults all
