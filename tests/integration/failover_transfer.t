#!/usr/bin/env bash
# Leadership moves away from a primary that keeps running, mid-load
# (issue 6, "Commit"; docs/design.md, "What leadership loss does"): its
# sessions' COMMITs in flight end as committed, outcome unknown (40003) or
# rolled back (40001), never a false success; the transactions it had
# prepared and not logged are rolled back by its own applier before it
# applies the new primary's entries.  Afterwards every acknowledged
# transaction is on every server, none is half-applied, no prepared
# transaction is left, and the servers hold the same rows.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
source "$(dirname "$0")/../lib/failover.sh"
wait_capture "$p"
ok $? "node $p captures from its server"

start_load "$p" 1 4 2000 90
wait_acked 60 60
ok $? "the load runs through primary node $p ($(acked_count) acknowledged)"
p2=$((p % 3 + 1))
like "$(pgqctl "$(ctl_sock "$p")" transfer "$p2")" "^ok" "leadership moves from node $p to node $p2 mid-load"
for ((t = 0; t < 100; t++)); do
	[[ $(field "$(node_status "$p2")" role) == primary ]] && break; sleep 0.1
done
is "$(field "$(node_status "$p2")" role)" primary "node $p2 is the primary"
sleep 1
stop_load
errs=$(cat "$load_dir"/err.* 2>/dev/null)
diag "refused or failed after the move: $(grep -c . <<< "$errs") ($(grep -o '25006\|40001\|40003\|not the primary\|outcome is unknown\|rolled back' <<< "$errs" | sort | uniq -c | tr '\n' ' '))"
out=$(write_through "$p2" 9000001)
like "$out" "COMMIT$" "the new primary takes writes"
converge "$p2"
ok $? "every node applied the new primary's commit index"
is "$(field "$(node_status "$p")" role)" secondary "node $p is a secondary"
check_after_failover
done_testing
