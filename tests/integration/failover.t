#!/usr/bin/env bash
# kill -9 of the primary's pgquorum process mid-load (issue 6, "Failover";
# docs/design.md, "The write path"): three writers run two-row
# transactions through the primary and record which COMMITs were
# acknowledged; the primary's process is killed.  A new primary is
# elected and takes writes; every acknowledged transaction is on every
# server, none is half-applied, the prepared transactions the dead
# process left are resolved (none left anywhere), and once the old
# primary's node is started again it rejoins as a secondary and the three
# servers hold the same rows.  Then a secondary is killed with -9 mid-apply
# and restarted, and converges too.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
source "$(dirname "$0")/../lib/failover.sh"
wait_capture "$p"
ok $? "node $p captures from its server"

start_load "$p" 1 3 2000 90
wait_acked 60 60
ok $? "the load runs through primary node $p ($(acked_count) acknowledged)"
"$PGQ_TOP/scripts/cluster" kill-node --dir "$dir" "$p"
ok $? "kill -9 of node $p's pgquorum mid-load"
sleep 0.5
stop_load
like "$(cat "$load_dir"/err.* 2>/dev/null | head -1)" "." "some transactions failed after the kill (not acknowledged)"

p2=''
for ((t = 0; t < 150; t++)); do
	p2=$(find_primary 1) && [[ $p2 != "$p" ]] && break
	p2=''
done
ok $([[ -n $p2 ]]; echo $?) "a new primary is elected (node ${p2:-none})"
out=$(write_through "$p2" 9000001)
like "$out" "COMMIT$" "the new primary takes writes"

"$PGQ_TOP/scripts/cluster" start-node --dir "$dir" "$p"
ok $? "node $p starts again"
for ((t = 0; t < 100; t++)); do
	[[ $(field "$(node_status "$p")" role) == secondary ]] && break; sleep 0.1
done
is "$(field "$(node_status "$p")" role)" secondary "node $p rejoins as a secondary"
out=$(write_through "$p2" 9000002)
like "$out" "COMMIT$" "a write after the rejoin"
converge "$p2"
ok $? "every node applied the new primary's commit index"

# A secondary killed with -9 while it applies the load, then restarted.
s=$p
start_load "$p2" 4 6 2000 90
wait_acked $(($(acked_count) + 40)) 60
ok $? "a load through node $p2 ($(acked_count) acknowledged in all)"
"$PGQ_TOP/scripts/cluster" kill-node --dir "$dir" "$s"
ok $? "kill -9 of secondary node $s mid-apply"
wait_acked $(($(acked_count) + 20)) 60
ok $? "the primary goes on committing with one secondary"
"$PGQ_TOP/scripts/cluster" start-node --dir "$dir" "$s"
ok $? "node $s starts again"
stop_load
converge "$p2"
ok $? "every node applied the new primary's commit index"
check_after_failover
grep -h "rolling back prepared" "$dir"/node*.log | head -3 | while read -r l; do diag "$l"; done
done_testing
