#!/usr/bin/env bash
# The write path through the primary's client port (issue 6, docs/proxy.md
# "The write path on the primary"): the proxy turns COMMIT, and the end of
# an autocommit write, into the pgquorum message + PREPARE TRANSACTION,
# waits for the log to commit it, and answers as PostgreSQL would; DDL is
# carried as a transactional message.  Then the three servers hold the same
# data, pgbench's included, and no prepared transaction is left.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

dir=$(scratch_dir)/c
cluster_up 3 "$dir"
ok $? "3 nodes up"
source "$dir/cluster.env"
read -r -a nodes <<< "$PGQ_NODES"
read -r -a pgports <<< "$PG_PORTS"
read -r -a pgsocks <<< "$PG_SOCKETS"
p=$(find_primary 15)
ok $? "a primary (node $p)"
port=${nodes[p-1]##*:}
for ((t = 0; t < 100; t++)); do
	[[ $(pgqctl "$(ctl_sock "$p")" capture) == state=streaming* ]] && break; sleep 0.1
done
# px ARGS: psql through the primary's client port; pg_on I ARGS: node I's server.
px() { psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@" 2>&1; }
pg_on() { psql -X -At -h "${pgsocks[$1-1]}" -p "${pgports[$1-1]}" -U postgres -d postgres "${@:2}" 2>&1; }
settle() {
	local idx i
	idx=$(field "$(node_status "$p")" commit)
	for i in 1 2 3; do wait_applied "$i" "$idx" 30 || diag "node $i did not apply $idx"; done
}
same() {	# same QUERY NAME: all three servers answer QUERY alike
	local a b c
	a=$(pg_on 1 -c "$1"); b=$(pg_on 2 -c "$1"); c=$(pg_on 3 -c "$1")
	if [[ $a == "$b" && $b == "$c" ]]; then ok 0 "$2"; else
		ok 1 "$2"; diag "node1: ${a:0:200}"; diag "node2: ${b:0:200}"; diag "node3: ${c:0:200}"; fi
}

out=$(px -c "CREATE TABLE t (id int PRIMARY KEY, v text)")
is "$out" "CREATE TABLE" "autocommit DDL through the primary"
out=$(px -c "INSERT INTO t VALUES (1, 'one')")
is "$out" "INSERT 0 1" "autocommit INSERT answers like PostgreSQL"
out=$(px -c "BEGIN" -c "INSERT INTO t VALUES (2, 'two')" -c "UPDATE t SET v = 'uno' WHERE id = 1" \
	-c "INSERT INTO t VALUES (3, 'three')" -c "COMMIT")
is "$out" $'BEGIN\nINSERT 0 1\nUPDATE 1\nINSERT 0 1\nCOMMIT' "an explicit transaction of several statements"
out=$(px -c "BEGIN" -c "CREATE TABLE u (id int PRIMARY KEY, t_id int REFERENCES t)" \
	-c "INSERT INTO u SELECT g, 1 + g % 3 FROM generate_series(1, 100) g" -c "END")
is "$out" $'BEGIN\nCREATE TABLE\nINSERT 0 100\nCOMMIT' "DDL then DML in one transaction"
out=$(px -c "BEGIN" -c "INSERT INTO t VALUES (10, 'rolled back')" -c "ROLLBACK")
is "$out" $'BEGIN\nINSERT 0 1\nROLLBACK' "ROLLBACK"
out=$(psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d postgres 2>&1 <<'SQL'
BEGIN;
INSERT INTO t VALUES (11, 'never');
INSERT INTO t VALUES (1, 'duplicate');
INSERT INTO t VALUES (12, 'never');
ROLLBACK;
SELECT count(*) FROM t WHERE id > 10;
SQL
)
like "$out" "duplicate key.*current transaction is aborted.*ROLLBACK" "an error mid-transaction, then ROLLBACK"
out=$(px -c "INSERT INTO t VALUES (1, 'dup')")
like "$out" "duplicate key value" "an autocommit write that fails gets the server's error"
out=$(px -c "BEGIN" -c "SELECT count(*) FROM t" -c "COMMIT")
is "$out" $'BEGIN\n3\nCOMMIT' "a transaction that wrote nothing commits plainly"
out=$(px -c "INSERT INTO t VALUES (20, 'a'); INSERT INTO t VALUES (21, 'b'); UPDATE t SET v = 'c' WHERE id = 21")
is "$out" $'INSERT 0 1\nINSERT 0 1\nUPDATE 1' "a multi-statement write in one Query"
out=$(px -c "CREATE TABLE w (id int PRIMARY KEY); INSERT INTO w VALUES (1), (2)")
is "$out" $'CREATE TABLE\nINSERT 0 2' "DDL and DML in one Query"
out=$(px -c "INSERT INTO t VALUES (30, 'x'); BEGIN")
like "$out" "cannot contain transaction control" "a writing Query with BEGIN inside is refused clearly"
out=$(px -c "BEGIN" -c "CREATE TEMP TABLE tmp (x int)" -c "INSERT INTO t VALUES (40, 'tmp')" -c "COMMIT")
like "$out" "temporary object.*rolled back" "a transaction PostgreSQL cannot prepare is refused before PREPARE"
out=$(px -c "SELECT count(*) FROM t WHERE id IN (30, 40)")
is "$out" "0" "and nothing of it remains"
out=$(px -c "SELECT 1")
is "$out" "1" "reads still work"
is "$(pg_on "$p" -c "SELECT count(*) FROM t WHERE id >= 10 AND id < 20")" 0 "nothing of the rolled back transactions is on the primary"
settle
same "SELECT * FROM t ORDER BY id" "table t is identical on the three servers"
same "SELECT * FROM u ORDER BY id" "table u is identical on the three servers"
same "SELECT * FROM w ORDER BY id" "table w is identical on the three servers"
like "$(pg_on 2 -c "SELECT count(*) FROM t")" "^[1-9]" "a secondary holds rows of t"

# pgbench: -I dtgp skips vacuum, which cannot run in a transaction block
# and is not replicated yet.
out=$(pgbench -i -s 1 -I dtgp -h 127.0.0.1 -p "$port" -U postgres postgres 2>&1)
ok $? "pgbench -i -s 1 -I dtgp through the primary" || diag "$out"
out=$(pgbench -n -c 4 -t 50 -M simple -h 127.0.0.1 -p "$port" -U postgres postgres 2>&1)
ok $? "pgbench -c 4 -t 50 -M simple" || diag "$out"
like "$out" "number of transactions actually processed: 200/200" "all 200 simple-protocol transactions"
out=$(pgbench -n -c 4 -t 50 -M extended -h 127.0.0.1 -p "$port" -U postgres postgres 2>&1)
ok $? "pgbench -c 4 -t 50 -M extended" || diag "$out"
like "$out" "number of transactions actually processed: 200/200" "all 200 extended-protocol transactions"
out=$(pgbench -n -c 4 -t 50 -M prepared -h 127.0.0.1 -p "$port" -U postgres postgres 2>&1)
ok $? "pgbench -c 4 -t 50 -M prepared" || diag "$out"
like "$out" "number of transactions actually processed: 200/200" "all 200 prepared-statement transactions"
settle
is "$(pg_on "$p" -c "SELECT count(*) FROM pgbench_history")" 600 "600 history rows on the primary"
for tb in "pgbench_accounts ORDER BY aid" "pgbench_branches ORDER BY bid" "pgbench_tellers ORDER BY tid" \
	"pgbench_history ORDER BY tid, aid, mtime, delta"; do
	same "SELECT md5(string_agg(x::text, ',')), count(*) FROM (SELECT * FROM $tb) x" \
		"${tb%% *} is identical on the three servers"
done
same "SELECT string_agg(mtime::text, ',' ORDER BY mtime, tid, aid) FROM pgbench_history" \
	"pgbench_history.mtime is identical"
for i in 1 2 3; do
	is "$(pg_on "$i" -c "SELECT count(*) FROM pg_prepared_xacts")" 0 "no prepared transaction is left on node $i"
done

# Reads through a secondary run there (its writes are forwarded: forward.t).
s=$((p % 3 + 1))
sx() { psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${nodes[s-1]##*:}" -U postgres -d postgres "$@" 2>&1; }
like "$(sx -c "SELECT count(*) FROM t")" "^[0-9]+$" "reads through a secondary work"
done_testing
