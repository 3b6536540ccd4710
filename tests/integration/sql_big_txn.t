#!/usr/bin/env bash
# A transaction of one million rows through the primary's client port
# (issue 6, "Capture": a transaction of any size replicates, split into
# bounded log records): the client's INSERT returns once it committed, and
# the three servers then hold the same rows (compared by a hash of the
# ordered contents).  Then an UPDATE of all of them.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
wait_capture || diag "the primary's capture is not streaming"
px() { primary_px "$@"; }
hash="SELECT count(*), md5(string_agg(id::text || ':' || v, ',' ORDER BY id)) FROM big"

px -q -c "CREATE TABLE big (id int PRIMARY KEY, v text)" >/dev/null
t0=$SECONDS
out=$(px -c "INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 1000000) g")
t1=$SECONDS
is "$out" "INSERT 0 1000000" "a 1,000,000-row INSERT through the primary commits"
idx=$(field "$(node_status "$p")" commit)
chunks=$(field "$(pgqctl "$(ctl_sock "$p")" capture)" proposed)
diag "log commit index $idx after the insert; chunks proposed: ${chunks:-?}; the INSERT took $((t1 - t0)) s"
settle_all 300
diag "every node applied it $((SECONDS - t1)) s after the client's answer"
servers_agree "$hash" "the three servers hold the same million rows"
like "$(server_psql $((p % 3 + 1)) -c "SELECT count(*) FROM big")" "^1000000$" "a secondary has all of them"
out=$(px -c "UPDATE big SET v = upper(v) WHERE id % 2 = 0")
is "$out" "UPDATE 500000" "then an UPDATE of half a million rows"
settle_all 300
servers_agree "$hash" "the servers are still identical"
no_prepared_left
appliers_ok
ok $? "every applier is healthy"
done_testing
