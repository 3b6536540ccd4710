#!/usr/bin/env bash
# What pgquorum cannot replicate safely gets a clear error naming the
# construct, and nothing of it runs (issue 6, "The rest of SQL"; docs/sql.md
# "What is refused"): large objects (SQL functions and libpq's fastpath
# calls), writes to pg_largeobject, UNLOGGED tables, SELECT INTO,
# pg_logical_emit_message(), the client's own two-phase commit.  A refused statement in a transaction
# block aborts it, as an error would.  The servers stay equal.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
read -r -a nodes <<< "$PGQ_NODES"
port=${nodes[p-1]##*:}
wait_capture || diag "the primary's capture is not streaming"
px() { psql -X -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -h 127.0.0.1 -p "$port" -U postgres -d "${DB:-postgres}" "$@" 2>&1; }

px -q -c "CREATE TABLE t (id int PRIMARY KEY, v text)" -c "INSERT INTO t VALUES (1, 'one')" >/dev/null
out=$(px -c "SELECT lo_create(0)")
like "$out" "0A000.*large objects.*lo_create" "lo_create is refused, naming large objects"
out=$(px -c "SELECT lo_from_bytea(0, 'x'::bytea)")
like "$out" "large objects" "lo_from_bytea too"
out=$(px -c "BEGIN" -c "INSERT INTO t VALUES (2, 'two')" -c "SELECT lowrite(lo_open(lo_creat(-1), 131072), 'x')" -c "COMMIT")
like "$out" "large objects" "inside a transaction"
is "$(px -c "SELECT count(*) FROM t WHERE id = 2")" 0 "which the refusal aborted: its insert is not committed"
echo hello > "$dir/lo.txt"
out=$(px -c "\\lo_import '$dir/lo.txt'")
like "$out" "fastpath function call.*large-object" "psql's \\lo_import (libpq fastpath) is refused"
out=$(px -c "INSERT INTO pg_largeobject_metadata (oid, lomowner) VALUES (4242, 10)")
like "$out" "system catalog|permission denied" "a direct write to a large-object catalog is refused"
out=$(px -c "CREATE UNLOGGED TABLE u (id int)")
like "$out" "0A000.*UNLOGGED" "CREATE UNLOGGED TABLE is refused"
out=$(px -c "ALTER TABLE t SET UNLOGGED")
like "$out" "UNLOGGED" "ALTER TABLE ... SET UNLOGGED is refused"
out=$(px -c "CREATE UNLOGGED TABLE u2 AS SELECT 1 AS x")
like "$out" "UNLOGGED" "CREATE UNLOGGED TABLE AS is refused"
out=$(px -c "SELECT * INTO t_copy FROM t")
like "$out" "SELECT ... INTO.*CREATE TABLE ... AS" "SELECT INTO a new table is refused with the way out"
out=$(px -c "SELECT pg_logical_emit_message(true, 'pgquorum.ddl', 'DROP TABLE t')")
like "$out" "pg_logical_emit_message" "pg_logical_emit_message() is refused"
out=$(px -c "BEGIN" -c "INSERT INTO t VALUES (3, 'three')" -c "PREPARE TRANSACTION 'mine'")
like "$out" "PREPARE TRANSACTION.*refused" "a client's PREPARE TRANSACTION is refused"
out=$(px -c "ROLLBACK PREPARED 'pgq_1_1'")
like "$out" "refused" "ROLLBACK PREPARED too"
is "$(px -c "SELECT count(*) FROM t WHERE id = 3")" 0 "nothing of that transaction remains"
# Through a secondary: the same refusals, before the write refusal.
s=$((p % 3 + 1))
out=$(psql -X -At -h 127.0.0.1 -p "${nodes[s-1]##*:}" -U postgres -d postgres -c "SELECT lo_create(0)" 2>&1)
like "$out" "large objects" "a secondary refuses large objects the same way"

out=$(px -c "INSERT INTO t VALUES (4, 'four')")
is "$out" "INSERT 0 1" "writes go on"
settle_all 60
servers_agree "SELECT count(*) FROM pg_largeobject_metadata" "no large object on any server"
servers_agree "SELECT * FROM t ORDER BY id" "table t is identical on the three servers"
servers_agree "SELECT relname, relpersistence FROM pg_class WHERE relname IN ('t', 'u', 'u2', 't_copy') ORDER BY 1" \
	"no refused table exists anywhere, t is still logged"
no_prepared_left
appliers_ok
ok $? "every applier is healthy"
done_testing
