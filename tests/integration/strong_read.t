#!/usr/bin/env bash
# Proves pgquorum.read_consistency = strong on a secondary (docs/admin-views.md,
# "Read consistency"): with the secondary's applier held back (a lock on its
# own server blocks the apply of a committed transaction), a strong read
# through it answers at once with the row just written on the primary and
# runs on the primary's server (its port, at level strong there), while a
# local read on the same secondary does not see the row; a strong
# transaction block runs on the primary from BEGIN to COMMIT and
# pgquorum.sessions on the secondary shows it there; the extended protocol
# (psycopg) does the same; admin views under strong give the secondary's
# own figures; a strong session's write still goes through; and once no
# primary can be reached a strong read fails with 40001 instead of reading
# locally, while local still answers.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
read -r -a nodes <<< "$PGQ_NODES"
s=$((p % 3 + 1))			# a secondary
o=$((s % 3 + 1))			# the other secondary
[[ $o == "$p" ]] && o=$((o % 3 + 1))
px() { timeout 20 psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${nodes[$1-1]##*:}" -U postgres -d postgres "${@:2}" 2>&1; }
strong() { px "$s" -c "SET pgquorum.read_consistency = strong" "$@"; }

is "$(px "$p" -c "CREATE TABLE sr (id int PRIMARY KEY)" -c "CREATE TABLE hold (id int PRIMARY KEY)")" \
	$'CREATE TABLE\nCREATE TABLE' "two tables through the primary"
wait_applied "$s" "$(field "$(node_status "$p")" commit)" 30
ok $? "node $s applied them"

# Hold node s's applier: the next transaction writes sr, then hold, which a
# lock on node s's server keeps it from writing; sr is not locked, so a
# local read of it answers (without the uncommitted row).
lockdir=$(scratch_dir)
hold_table "$s" hold
is "$(px "$p" -c "BEGIN" -c "INSERT INTO sr VALUES (1)" -c "INSERT INTO hold VALUES (1)" -c "COMMIT")" \
	$'BEGIN\nINSERT 0 1\nINSERT 0 1\nCOMMIT' "a transaction committed through the primary"
sleep 0.5					# the commit index reaches node s; its apply blocks
ok "$([[ $(field "$(node_status "$s")" applied) -lt $(field "$(node_status "$p")" commit) ]]; echo $?)" \
	"node $s has not applied it"

is "$(px "$s" -c "SELECT count(*) FROM sr")" "0" "local: the held secondary does not see the row"
is "$(strong -c "SELECT count(*) FROM sr")" $'SET\n1' \
	"strong: the same secondary answers at once with the row (the read ran on the primary)"
is "$(strong -c "SELECT current_setting('port') || ' ' || current_setting('pgquorum.read_consistency')")" \
	$'SET\n'"${pgports[p-1]} strong" "strong: the read ran on the primary's server, at level strong there"
is "$(strong -c "SELECT 1" -c "SET pgquorum.read_consistency = local" -c "SELECT count(*) FROM sr")" \
	$'SET\n1\nSET\n0' "back to local, the session reads on the secondary again"
is "$(strong -c "SHOW pgquorum.read_consistency" -c "SELECT setting FROM pgquorum.settings WHERE name = 'node_id'")" \
	$'SET\nstrong\n'"$s" "strong: SHOW and the admin views answer with the secondary's own figures"

# A strong transaction block: from BEGIN on, every statement runs on the
# primary, and pgquorum.sessions on the secondary shows it there.
is "$(strong -c "BEGIN" -c "SELECT count(*) FROM sr" \
	-c "SELECT runs_on FROM pgquorum.sessions WHERE runs_on = 'primary'" -c "SELECT count(*) FROM sr" -c "COMMIT" \
	-c "SELECT runs_on FROM pgquorum.sessions WHERE runs_on = 'primary'")" \
	$'SET\nBEGIN\n1\nprimary\n1\nCOMMIT' \
	"strong: a read-only transaction runs on the primary from BEGIN to COMMIT, and comes home after"
strong -c "BEGIN READ ONLY" -c "SELECT count(*) FROM sr" -c "SELECT pg_sleep(4)" -c "COMMIT" \
	> "$lockdir/txn.out" 2>&1 &
txnpid=$!
seen=""
for ((t = 0; t < 30; t++)); do
	seen=$(px "$s" -c "SELECT count(*) FROM pgquorum.sessions WHERE runs_on = 'primary'")
	[[ $seen == 1 ]] && break
	sleep 0.1
done
is "$seen" "1" "pgquorum.sessions on the secondary shows the strong transaction running on the primary"
wait "$txnpid"
is "$(cat "$lockdir/txn.out")" $'SET\nBEGIN\n1\n\nCOMMIT' "that transaction read the row and committed"

# The extended protocol: psycopg with bound parameters, server-side
# prepared statements, autocommit and in a transaction.
out=$(PORT=${nodes[s-1]##*:} timeout 60 /usr/bin/python3 - 2>&1 <<'PY'
import os, psycopg
conn = psycopg.connect(f"host=127.0.0.1 port={os.environ['PORT']} user=postgres dbname=postgres",
                       autocommit=True)
conn.prepare_threshold = 0
conn.execute("SET pgquorum.read_consistency = strong")
for i in range(3):
    print(conn.execute("SELECT count(*) FROM sr WHERE id > %s", (0,)).fetchone()[0], end=" ")
with conn.transaction():
    print(conn.execute("SELECT count(*) FROM sr WHERE id > %s", (0,)).fetchone()[0], end=" ")
conn.execute("SET pgquorum.read_consistency = local")
print(conn.execute("SELECT count(*) FROM sr WHERE id > %s", (0,)).fetchone()[0])
PY
)
is "$out" "1 1 1 1 0" "psycopg: strong reads with prepared statements run on the primary, local ones here"

# What cannot move to the primary node reads here after a read index: a
# query joining a view with a table, and a run of extended messages ended
# by Flush.  Both wait for the held apply (the read index is the primary's
# commit index), shown as waiting in pgquorum.sessions, and then see the row.
strong -c "SELECT n.role, (SELECT count(*) FROM sr) FROM pgquorum.nodes n WHERE n.id = $s" \
	> "$lockdir/join.out" 2>&1 &
joinpid=$!
/usr/bin/python3 "$PGQ_TOP/tests/integration/strong_flush.py" "${nodes[s-1]##*:}" run \
	"SELECT count(*) FROM sr" > "$lockdir/flush.out" 2>&1 &
flushpid=$!
seen=""
for ((t = 0; t < 50; t++)); do
	seen=$(px "$s" -c "SELECT count(*) FROM pgquorum.sessions WHERE state = 'waiting for apply'")
	[[ $seen == 2 ]] && break
	sleep 0.1
done
is "$seen" "2" "the join and the Flush run wait for the held apply on the secondary"
sleep 0.5
ok "$(kill -0 "$joinpid" && kill -0 "$flushpid"; echo $?)" "neither answered while the apply is held"

# Let the apply go on.
release_table "$s" hold
wait "$joinpid"
is "$(cat "$lockdir/join.out")" $'SET\nsecondary|1' \
	"strong: a view joined with a table reads on the secondary once it applied the read index"
wait "$flushpid"
is "$(cat "$lockdir/flush.out")" "1 2 D:1 C | Z" \
	"strong: a Flush-ended run on the secondary reads there once it applied the read index"
is "$(strong -c "INSERT INTO sr VALUES (2)" -c "SELECT count(*) FROM sr")" $'SET\nINSERT 0 1\n2' \
	"strong: a write through the secondary is forwarded, and the next read sees it"
settle_all 30
is "$(px "$s" -c "SELECT count(*) FROM sr")" "2" "local: once applied, the secondary has both rows"

# No primary reachable (the primary and the other secondary killed): strong
# fails with 40001, it does not read on the secondary; local still answers.
"$PGQ_TOP/scripts/cluster" kill-node --dir "$dir" "$p"
"$PGQ_TOP/scripts/cluster" kill-node --dir "$dir" "$o"
out=$(strong -v VERBOSITY=verbose -c "SELECT count(*) FROM sr")
like "$out" "ERROR:  40001: read_consistency strong: this node is a secondary and could not reach the primary" \
	"strong: with no primary reachable the read fails with 40001"
ok "$([[ $out == $'SET\n'ERROR:* ]]; echo $?)" "strong: it gave no rows from the secondary"
is "$(strong -c "SELECT setting FROM pgquorum.settings WHERE name = 'node_id'")" $'SET\n'"$s" \
	"strong: the admin views still answer on the secondary"
is "$(px "$s" -c "SELECT count(*) FROM sr")" "2" "local: the secondary still answers"
done_testing
