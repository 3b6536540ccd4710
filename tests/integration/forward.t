#!/usr/bin/env bash
# Writes through a secondary (issue 6, "Routing"; docs/proxy.md,
# "Forwarding"): a transaction that may write moves, within the client's
# session, to the primary node, and comes back to the local server when it
# ends.  Nothing is written on the secondary's server alone; afterwards the
# three servers hold the same data.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
read -r -a nodes <<< "$PGQ_NODES"
s=$((p % 3 + 1))
sport=${nodes[s-1]##*:}
pport=${nodes[p-1]##*:}
wait_capture || diag "capture is not streaming"
# sx ARGS: psql through the secondary's client port.
sx() { psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$sport" -U postgres -d postgres "$@" 2>&1; }

out=$(sx -c "CREATE TABLE t (id int PRIMARY KEY, v text)")
is "$out" "CREATE TABLE" "DDL through a secondary"
out=$(sx -c "INSERT INTO t VALUES (1, 'one')")
is "$out" "INSERT 0 1" "an autocommit INSERT through a secondary"
is "$(server_psql "$p" -c "SELECT v FROM t WHERE id = 1")" "one" "it is on the primary's server at once"
out=$(sx -c "BEGIN" -c "SELECT count(*) FROM t" -c "INSERT INTO t VALUES (2, 'two')" \
	-c "UPDATE t SET v = 'uno' WHERE id = 1" -c "SELECT count(*) FROM t" -c "COMMIT" -c "SELECT 'home'")
is "$out" $'BEGIN\n1\nINSERT 0 1\nUPDATE 1\n2\nCOMMIT\nhome' \
	"a transaction that reads, then writes, moves to the primary and reads its own writes"
out=$(sx -c "BEGIN" -c "INSERT INTO t VALUES (3, 'rolled back')" -c "ROLLBACK")
is "$out" $'BEGIN\nINSERT 0 1\nROLLBACK' "ROLLBACK of a forwarded transaction"
out=$(psql -X -At -h 127.0.0.1 -p "$sport" -U postgres -d postgres 2>&1 <<'SQL'
BEGIN;
INSERT INTO t VALUES (4, 'never');
INSERT INTO t VALUES (1, 'duplicate');
SELECT 1;
ROLLBACK;
SELECT count(*) FROM t WHERE id IN (3, 4);
SQL
)
like "$out" "duplicate key.*current transaction is aborted.*ROLLBACK.*0" "an error in a forwarded transaction, then ROLLBACK"
out=$(sx -c "INSERT INTO t VALUES (1, 'dup')")
like "$out" "duplicate key value" "an autocommit write that fails gets the primary's error"
out=$(sx -c "SET application_name = 'fwd_test'" -c "INSERT INTO t VALUES (5, current_setting('application_name'))" \
	-c "SELECT v FROM t WHERE id = 5")
like "$out" "INSERT 0 1" "a write after SET"
is "$(server_psql "$p" -c "SELECT v FROM t WHERE id = 5")" "fwd_test" "the session's SET was replayed on the primary"
out=$(sx -v VERBOSITY=verbose -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT count(*) FROM t" \
	-c "INSERT INTO t VALUES (6, 'rr')")
like "$out" "25006.*REPEATABLE READ" "a REPEATABLE READ transaction that read first is refused clearly"
out=$(sx -c "BEGIN ISOLATION LEVEL SERIALIZABLE" -c "INSERT INTO t VALUES (7, 'ser')" -c "COMMIT")
is "$out" $'BEGIN\nINSERT 0 1\nCOMMIT' "a SERIALIZABLE transaction whose first statement writes moves"
printf '100\tcopied\n101\tcopied too\n' > "$dir/copy.tsv"
out=$(sx -c "\\copy t FROM '$dir/copy.tsv'")
is "$out" "COPY 2" "\\copy into a table through a secondary"
out=$(sx -c "PREPARE ins (int, text) AS INSERT INTO t VALUES (\$1, \$2)" -c "EXECUTE ins(200, 'prepared')")
is "$out" $'PREPARE\nINSERT 0 1' "an SQL prepared statement made on the secondary runs on the primary"
settle_all
is "$(server_psql "$s" -c "SELECT count(*) FROM t")" "$(server_psql "$p" -c "SELECT count(*) FROM t")" \
	"the secondary's server got the rows through the log"
servers_agree "SELECT * FROM t ORDER BY id" "table t is identical on the three servers"

# psycopg 3 with server-side prepared statements: a statement prepared on
# one connection is made on the other before it is used there.
out=$(PORT=$sport timeout 120 /usr/bin/python3 - 2>&1 <<'PY'
import os, psycopg
conn = psycopg.connect(f"host=127.0.0.1 port={os.environ['PORT']} user=postgres dbname=postgres")
conn.prepare_threshold = 0
cur = conn.cursor()
cur.execute("CREATE TABLE IF NOT EXISTS t2 (id int PRIMARY KEY, v text)")
conn.commit()
for i in range(10):
    cur.execute("SELECT count(*) FROM t WHERE id > %s", (i,))
    cur.execute("INSERT INTO t2 VALUES (%s, %s)", (i, "x"))
    cur.execute("SELECT count(*) FROM t2 WHERE id <= %s", (i,))
    assert cur.fetchone()[0] == i + 1, "reads its own write"
    conn.commit()
conn.autocommit = True
# made on the primary's connection, now run on the local server (which
# may not have applied the last commit yet: read consistency is local)
cur.execute("SELECT count(*) FROM t2 WHERE id <= %s", (100,))
print("after", cur.fetchone()[0] in (9, 10))
with conn.pipeline():
    for i in range(10, 20):
        cur.execute("INSERT INTO t2 VALUES (%s, %s)", (i, "pipelined"))
import time
for _ in range(500):	# applied here within moments (local consistency)
    cur.execute("SELECT count(*) FROM t2")
    n = cur.fetchone()[0]
    if n == 20:
        break
    time.sleep(0.01)
print("count", n)
PY
)
is "$out" $'after True\ncount 20' "psycopg: prepared statements on both connections, a pipeline of writes"

# pgbench through the secondary, all three protocols.
out=$(pgbench -i -s 1 -I dtgp -h 127.0.0.1 -p "$sport" -U postgres postgres 2>&1)
ok $? "pgbench -i -I dtgp through a secondary" || diag "$out"
for mode in simple extended prepared; do
	out=$(timeout 120 pgbench -n -c 4 -t 50 -M "$mode" -h 127.0.0.1 -p "$sport" -U postgres postgres 2>&1)
	ok $? "pgbench -c 4 -t 50 -M $mode through a secondary" || diag "$out"
	like "$out" "number of transactions actually processed: 200/200" "all 200 $mode transactions"
done
settle_all
servers_agree "SELECT * FROM t2 ORDER BY id" "table t2 is identical on the three servers"
is "$(server_psql "$p" -c "SELECT count(*) FROM pgbench_history")" 600 "600 history rows on the primary"
for tb in "pgbench_accounts ORDER BY aid" "pgbench_branches ORDER BY bid" "pgbench_tellers ORDER BY tid" \
	"pgbench_history ORDER BY tid, aid, mtime, delta"; do
	servers_agree "SELECT md5(string_agg(x::text, ',')), count(*) FROM (SELECT * FROM $tb) x" \
		"${tb%% *} is identical on the three servers"
done
for i in 1 2 3; do
	is "$(server_psql "$i" -c "SELECT count(*) FROM pg_prepared_xacts")" 0 "no prepared transaction is left on node $i"
done
# read_consistency = session: a read through the secondary waits for the
# session's own forwarded write (its commit index comes back from the primary).
out=$(sx -c "SET pgquorum.read_consistency = session" -c "CREATE TABLE rc (id int PRIMARY KEY)" \
	-c "INSERT INTO rc SELECT generate_series(1, 1000)" -c "SELECT count(*) FROM rc" \
	-c "UPDATE rc SET id = id + 1000" -c "SELECT min(id) FROM rc")
is "$out" $'SET\nCREATE TABLE\nINSERT 0 1000\n1000\nUPDATE 1000\n1001' \
	"read_consistency = session reads the session's own writes through a secondary"
is "$(sx -c "SELECT forwarded_writes > 0 FROM pgquorum.stats")" "t" "pgquorum.stats counts the forwarded writes"
out=$(sx -c "BEGIN" -c "INSERT INTO t VALUES (300, 'in flight')" \
	-c "SELECT runs_on FROM pgquorum.sessions WHERE id = (SELECT max(id) FROM pgquorum.sessions WHERE runs_on = 'primary')" -c "COMMIT")
like "$out" "INSERT 0 1.primary.COMMIT" "pgquorum.sessions shows a moved transaction running on the primary"
# A read-only pgbench through the secondary still runs on its own server.
out=$(timeout 60 pgbench -n -S -c 2 -t 100 -M prepared -h 127.0.0.1 -p "$sport" -U postgres postgres 2>&1)
like "$out" "actually processed: 200/200" "read-only pgbench through the secondary"
done_testing
