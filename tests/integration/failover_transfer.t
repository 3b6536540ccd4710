#!/usr/bin/env bash
# Leadership moves away from a primary that keeps running, mid-load
# (issue 6, "Commit"; docs/design.md, "What leadership loss does"): its
# sessions' COMMITs in flight end as committed, outcome unknown (40003) or
# rolled back (40001), never a false success; the transactions it had
# prepared and not logged are rolled back by its own applier before it
# applies the new primary's entries, and one prepared after that (as in
# the instant the role was lost) by the idle applier.  Afterwards every
# acknowledged transaction is on every server, none is half-applied, no
# prepared transaction is left, and the servers hold the same rows.
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
term=$(field "$(node_status "$p")" term)
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

# A transaction prepared on node p under its old term after that term was
# resolved (as in the instant it lost the role), whose session is gone:
# the idle applier rolls it back within seconds.  (Had an entry needed
# its locks first, the applier would wait on them: docs/design.md.)
gl="pgq_${p}_${term}_888888"
server_psql "$p" -c "BEGIN" -c "INSERT INTO ft VALUES (777, 'late'), (-777, 'late')" \
	-c "SELECT pg_logical_emit_message(true, 'pgquorum', '$gl')" -c "PREPARE TRANSACTION '$gl'" >/dev/null
ok $? "a late prepared transaction $gl on node $p"
wait_no_prepared "$p"
ok $? "the idle applier of node $p rolls it back"
is "$(server_psql "$p" -c "SELECT count(*) FROM ft WHERE abs(id) = 777")" 0 "nothing of it remains"
check_after_failover
done_testing
