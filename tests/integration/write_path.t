#!/usr/bin/env bash
# Proves the primary's write path below the client protocol: a transaction
# run on the primary's server, ended as the proxy ends it (the pgquorum
# message with its txn id, then PREPARE TRANSACTION 'pgq_<node>_<term>_<n>'), is
# captured from the slot, committed in the log, committed on the primary
# (COMMIT PREPARED, by the applier, in log order) and applied on both
# secondaries: DDL and rows alike, large transactions in several chunks
# included.  A session waiting for its txn id hears "committed" only then.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
psql_on() { server_psql "$@"; }
for ((t = 0; t < 100; t++)); do
	[[ $(pgqctl "$(ctl_sock "$p")" capture) == state=streaming* ]] && break; sleep 0.1
done
like "$(pgqctl "$(ctl_sock "$p")" capture)" "^state=streaming" "the primary's capture is streaming from its slot"
term=$(field "$(node_status "$p")" term)

# run_txn TXNID SQL: SQL in a transaction on the primary's server, ended by
# the pgquorum message and PREPARE (gids are unique: the coordinator drops
# a chunk whose gid and sequence it has logged already; a gid names the
# term in which the node is primary, or its chunks are not logged); then wait.
run_txn() {
	local n=${1#t}
	psql_on "$p" -q -c "BEGIN" -c "$2" \
		-c "SELECT pg_logical_emit_message(true, 'pgquorum', '$1')" \
		-c "PREPARE TRANSACTION 'pgq_${p}_${term}_$n'" >/dev/null || return 1
	PGQCTL_TIMEOUT=120 pgqctl "$(ctl_sock "$p")" commit-wait "$1"
}
ddl='CREATE TABLE acct (id int PRIMARY KEY, owner text, balance numeric(12,2), at timestamptz DEFAULT now())'
out=$(run_txn t1 "$ddl; SELECT pg_logical_emit_message(true, 'pgquorum.ddl', '$ddl'); INSERT INTO acct (id, owner, balance) SELECT g, 'o' || g, g * 1.5 FROM generate_series(1, 1000) g")
like "$out" "^committed index=" "DDL and 1000 rows in one transaction commit"
out=$(run_txn t2 "UPDATE acct SET balance = balance + 1 WHERE id % 10 = 0; DELETE FROM acct WHERE id > 990")
like "$out" "^committed index=" "an update and a delete commit"
out=$(run_txn t3 "INSERT INTO acct (id, owner, balance) SELECT g, repeat('x', 200), g FROM generate_series(10001, 60000) g")
like "$out" "^committed index=" "a 50000-row transaction (several chunks) commits"
is "$(psql_on "$p" -c "SELECT count(*) FROM pg_prepared_xacts")" 0 "no prepared transaction is left on the primary"

idx=$(field "$(node_status "$p")" commit)
for i in 1 2 3; do wait_applied "$i" "$idx" 30 || diag "node $i did not apply $idx"; done
q="SELECT count(*), sum(id), sum(balance), md5(string_agg(id || owner || balance || at, ',' ORDER BY id)) FROM acct"
a=$(psql_on 1 -c "$q"); b=$(psql_on 2 -c "$q"); c=$(psql_on 3 -c "$q")
is "$a" "$b" "node 1 and node 2 hold the same rows (timestamps included)"
is "$b" "$c" "node 2 and node 3 hold the same rows"
like "$a" "^50990\|" "with the expected row count"

# A waiter that comes after the commit still hears it.
psql_on "$p" -q -c "BEGIN" -c "INSERT INTO acct (id) VALUES (-1)" \
	-c "SELECT pg_logical_emit_message(true, 'pgquorum', 'late')" -c "PREPARE TRANSACTION 'pgq_${p}_${term}_99'" >/dev/null
sleep 1
like "$(pgqctl "$(ctl_sock "$p")" commit-wait late)" "^committed index=" "a late waiter is told the result"
done_testing
