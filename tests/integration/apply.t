#!/usr/bin/env bash
# Proves the applier on three real nodes and servers: entries in the
# capture's format, committed through the primary, land on every server
# identically (DDL, inserts, updates, deletes, a statement outside a
# transaction block, a second database); a secondary killed with -9 while
# it applies a stream of entries restarts and converges with no entry
# applied twice or skipped; an entry that does not apply as on the primary
# stops that node's applier with a clear reason instead of diverging.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

cli=$PGQ_BUILD/tests/node/txn_entry_cli
three_nodes_with_primary
seq=0

# propose DB SCRIPT: build an entry from SCRIPT, commit it through the primary.
propose() {
	local hex out
	seq=$((seq + 1))
	hex=$(printf '%b' "$2" | "$cli" "$1" "pgq_9_$seq") || return 1
	out=$(pgqctl "$(ctl_sock "$p")" propose-hex "$hex")
	[[ $out == committed* ]] || { diag "propose: $out"; return 1; }
	field "$out" index
}
psql_on() { server_psql "$1" -d "$2" -c "$3"; }	# psql_on NODE DB SQL
same_everywhere() {	# same_everywhere DB SQL: identical output on all servers
	local a b c
	a=$(psql_on 1 "$1" "$2"); b=$(psql_on 2 "$1" "$2"); c=$(psql_on 3 "$1" "$2")
	[[ -n $a && $a == "$b" && $b == "$c" ]] || { diag "node1: ${a:0:200}"; diag "node2: ${b:0:200}"; diag "node3: ${c:0:200}"; return 1; }
}
wait_all_applied() {
	local i
	for i in 1 2 3; do wait_applied "$i" "$1" 20 || return 1; done
}

R='rel public t id:23:key v:25\n'
i1=$(propose postgres 'X CREATE TABLE t (id int PRIMARY KEY, v text)\n'); ok $? "DDL entry committed"
rows=$(for k in $(seq 1 100); do printf 'I 0 %d v%d\\n' "$k" "$k"; done)
i2=$(propose postgres "$R$rows"); ok $? "100-row insert entry committed"
i3=$(propose postgres "${R}U 0 7 seven\nD 0 8\nI 0 101 \\\\N\n"); ok $? "update, delete, NULL insert committed"
i4=$(propose postgres 'statement CREATE DATABASE other\n'); ok $? "CREATE DATABASE as a statement entry"
i5=$(propose other 'X CREATE TABLE u (k int PRIMARY KEY)\n'); ok $? "DDL in the second database"
i6=$(propose other 'rel public u k:23:key\nI 0 42\n'); ok $? "insert in the second database"
wait_all_applied "$i6"; ok $? "every node applied through index $i6"
same_everywhere postgres "SELECT id, coalesce(v, 'NULL') FROM t ORDER BY id"
ok $? "table t is identical on the three servers"
is "$(psql_on 2 postgres "SELECT v FROM t WHERE id = 7")|$(psql_on 3 postgres "SELECT count(*) FROM t WHERE id = 8")" "seven|0" "the update and the delete were applied"
is "$(psql_on 3 other "SELECT k FROM u")" 42 "the second database was replicated"

# A stream of single-row entries while a secondary is killed and restarted.
s=$((p % 3 + 1))
( for k in $(seq 1001 1200); do propose postgres "${R}I 0 $k x\n" >/dev/null || echo fail; done ) > "$dir/stream.out" &
stream=$!
sleep 0.5
"$PGQ_TOP/scripts/cluster" kill-node --dir "$dir" "$s"
ok $? "kill -9 of secondary node $s while entries stream"
sleep 1
"$PGQ_TOP/scripts/cluster" start-node --dir "$dir" "$s"
ok $? "node $s restarts"
wait $stream
is "$(grep -c fail "$dir/stream.out")" 0 "all 200 streamed entries committed"
last=$(field "$(node_status "$p")" last)
wait_all_applied "$last"; ok $? "every node applied through index $last"
same_everywhere postgres "SELECT count(*), sum(id), string_agg(v, ',' ORDER BY id) FROM t"
ok $? "the servers converged after the kill"
is "$(psql_on "$s" postgres "SELECT count(*) FROM t WHERE id > 1000")" 200 "the restarted node has each streamed row exactly once"
like "$(node_status "$s")" "applier=ok" "its applier is healthy"

# An update of a row that does not exist: every applier must stop, not
# skip it, and the proposal is never acknowledged (no false success).
PGQCTL_TIMEOUT=5 propose postgres "${R}U 0 99999 ghost\n" >/dev/null 2>&1
ok $((! $?)) "an entry that cannot apply as on the primary is not acknowledged"
for i in 1 2 3; do
	like "$(node_status "$i")" "applier=stopped: .*diverged" "node $i's applier stops and says the servers diverged"
done
done_testing
