#!/usr/bin/env bash
# The primary's PostgreSQL killed mid-load (pg_ctl stop -m immediate;
# issue 6, "Failover"; docs/design.md, "The write path"): the primary's
# node stops by itself (its server is gone), a new primary is elected and
# takes writes; once the server and then the node are started again, the
# node rejoins as a secondary, the prepared transactions that survived the
# crash are resolved against the log, every acknowledged transaction is on
# every server, none is half-applied, and the servers hold the same rows.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
source "$(dirname "$0")/../lib/failover.sh"
wait_capture "$p"
ok $? "node $p captures from its server"

start_load "$p" 1 3 2000 90
wait_acked 60 60
ok $? "the load runs through primary node $p ($(acked_count) acknowledged)"
pg_stop "$dir/pg$p"
ok $? "PostgreSQL of node $p stopped with -m immediate mid-load"
pid=$(cat "$dir/node$p.launch.pid")
for ((t = 0; t < 200; t++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null
ok $((! $?)) "node $p stops once its server is gone"
grep -q "server went away\|server is unreachable" "$dir/node$p.log"
ok $? "and says why in its log"
stop_load

p2=''
for ((t = 0; t < 150; t++)); do
	p2=$(find_primary 1) && [[ $p2 != "$p" ]] && break
	p2=''
done
ok $([[ -n $p2 ]]; echo $?) "a new primary is elected (node ${p2:-none})"
out=$(write_through "$p2" 9000001)
like "$out" "COMMIT$" "the new primary takes writes"

pg_start "$dir/pg$p"
ok $? "PostgreSQL of node $p starts again (crash recovery)"
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
check_after_failover
grep -h "rolling back prepared\|went away" "$dir"/node*.log | head -4 | while read -r l; do diag "$l"; done
done_testing
