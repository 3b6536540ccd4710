#!/usr/bin/env bash
# Statements that cannot run in a transaction block (issue 6, "The rest of
# SQL"; docs/sql.md "Statements outside a transaction block"): sent to the
# primary, each becomes a STATEMENT log entry, committed by a majority, then
# run by every node's applier in log order; the client hears the outcome on
# the primary.  A statement that fails alike everywhere (a database that
# exists already) is reported and the appliers go on.  pgbench -i with its
# VACUUM works through the primary, and the three servers compare equal.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
read -r -a nodes <<< "$PGQ_NODES"
port=${nodes[p-1]##*:}
wait_capture || diag "the primary's capture is not streaming"
px() { psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@" 2>&1; }
pg_on() { server_psql "$@"; }
settle() { settle_all 60; }
same() { servers_agree "$@"; }

out=$(px -c "CREATE DATABASE db2")
is "$out" "CREATE DATABASE" "CREATE DATABASE through the primary answers like PostgreSQL"
# The client's answer comes once the primary's own server ran it.
is "$(pg_on "$p" -c "SELECT count(*) FROM pg_database WHERE datname = 'db2'")" 1 \
	"the database exists on the primary when the client hears back"
settle
same "SELECT datname, pg_get_userbyid(datdba), datistemplate FROM pg_database ORDER BY 1" \
	"the three servers have the same databases"

out=$(px -c "CREATE DATABASE db2")
like "$out" 'database "db2" already exists' "a statement that fails gets the server's error"
out=$(px -v VERBOSITY=verbose -c "CREATE DATABASE db2")
like "$out" "42P04" "with its SQLSTATE"
settle
appliers_ok
ok $? "a statement that failed alike everywhere stops no applier"

px -q -c "CREATE TABLE t (id int PRIMARY KEY, v text)" \
	-c "INSERT INTO t SELECT g, 'v' || (g % 97) FROM generate_series(1, 5000) g" >/dev/null
out=$(px -c "CREATE INDEX CONCURRENTLY t_v ON t (v)")
is "$out" "CREATE INDEX" "CREATE INDEX CONCURRENTLY through the primary"
out=$(px -c "VACUUM (ANALYZE) t")
is "$out" "VACUUM" "VACUUM through the primary"
out=$(px -c "REINDEX INDEX CONCURRENTLY t_v")
is "$out" "REINDEX" "REINDEX CONCURRENTLY through the primary"
out=$(px -c "ALTER SYSTEM SET work_mem = '5MB'")
is "$out" "ALTER SYSTEM" "ALTER SYSTEM through the primary"
out=$(px -c "BEGIN" -c "VACUUM t" -c "ROLLBACK")
like "$out" "cannot run inside a transaction block" "inside a transaction block PostgreSQL refuses it, as without pgquorum"
out=$(px -c "INSERT INTO t VALUES (-1, 'x'); VACUUM t")
like "$out" "cannot run inside a transaction block|cannot be executed from a function" \
	"with other statements in one Query too"
is "$(px -c "SELECT count(*) FROM t WHERE id = -1")" 0 "and the write of that Query did not happen"
out=$(px -c "INSERT INTO t VALUES (5001, 'after')")
is "$out" "INSERT 0 1" "writes go on after the statements"
settle
same "SELECT c.relname, i.indisvalid, i.indisready FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 't'::regclass ORDER BY 1" \
	"the concurrently built index is on every server, valid"
same "SELECT setting FROM pg_file_settings WHERE name = 'work_mem' AND error IS NULL" \
	"ALTER SYSTEM reached every server's postgresql.auto.conf"
like "$(pg_on "$p" -c "SELECT setting FROM pg_file_settings WHERE name = 'work_mem'")" "5MB" \
	"with the new value"
same "SELECT count(*) > 0 FROM pg_stats WHERE tablename = 't'" "VACUUM ANALYZE ran on every server"
same "SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM t" "table t is identical"

out=$(px -v VERBOSITY=verbose -c "DROP DATABASE db2")
like "$out" "0A000.*DROP DATABASE is not supported" "DROP DATABASE is refused clearly (each node's capture has a slot there)"
settle
same "SELECT count(*) FROM pg_database WHERE datname = 'db2'" "db2 is still on every server"

# Through a secondary: forwarded to the primary like any write, logged there.
s=$((p % 3 + 1))
out=$(psql -X -At -h 127.0.0.1 -p "${nodes[s-1]##*:}" -U postgres -d postgres -c "CREATE DATABASE db3" 2>&1)
is "$out" "CREATE DATABASE" "CREATE DATABASE through a secondary (forwarded to the primary)"
settle
same "SELECT count(*) FROM pg_database WHERE datname = 'db3'" "db3 is on every server"
is "$(pg_on "$s" -c "SELECT count(*) FROM pg_database WHERE datname = 'db3'")" 1 "(one each)"

# pgbench -i in full: drop, create, generate, VACUUM, primary keys.
out=$(pgbench -i -s 1 -h 127.0.0.1 -p "$port" -U postgres postgres 2>&1)
ok $? "pgbench -i -s 1 (with its VACUUM) through the primary" || diag "$out"
like "$out" "vacuuming" "pgbench vacuumed"
out=$(pgbench -n -c 2 -t 50 -h 127.0.0.1 -p "$port" -U postgres postgres 2>&1)
like "$out" "number of transactions actually processed: 100/100" "then 100 pgbench transactions" || diag "$out"
settle
for tb in "pgbench_accounts ORDER BY aid" "pgbench_branches ORDER BY bid" "pgbench_tellers ORDER BY tid" \
	"pgbench_history ORDER BY tid, aid, mtime, delta"; do
	same "SELECT md5(string_agg(x::text, ',')), count(*) FROM (SELECT * FROM $tb) x" \
		"${tb%% *} is identical on the three servers"
done
appliers_ok
ok $? "every applier is healthy at the end"
no_prepared_left
done_testing
