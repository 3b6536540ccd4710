#!/usr/bin/env bash
# DDL and its session context (issue 6, "DDL travels in the same stream";
# docs/sql.md, "DDL and its session context"): a DDL statement's text does
# not say which schema its unqualified names mean, who owns what it
# creates, or how its literals parse.  Run through the primary under SET
# search_path, SET ROLE, DateStyle and standard_conforming_strings, it must
# land the same on every server, and the context must not leak into the
# rows applied after it.  DDL run inside a function or DO block, which the
# stream cannot carry, is refused before anything commits.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
wait_capture || diag "the primary's capture is not streaming"
px() { primary_px "$@"; }
s=$((p % 3 + 1))	# a secondary

out=$(px -c "CREATE ROLE alice" -c "CREATE SCHEMA s1 AUTHORIZATION alice" \
	-c "CREATE SCHEMA s2" -c "CREATE TABLE adminonly (id int PRIMARY KEY)" \
	-c "CREATE TABLE public.t1 (id int PRIMARY KEY, v text)")
is "$out" $'CREATE ROLE\nCREATE SCHEMA\nCREATE SCHEMA\nCREATE TABLE\nCREATE TABLE' "set-up"

# An unqualified name under SET search_path: s1.t1 and public.t1 both exist.
out=$(px -c "SET search_path = s1, public" -c "CREATE TABLE t1 (id int PRIMARY KEY, w int)" \
	-c "INSERT INTO t1 VALUES (1, 10), (2, 20)")
is "$out" $'SET\nCREATE TABLE\nINSERT 0 2' "CREATE TABLE under SET search_path = s1, public"
# ... and in a transaction with SET LOCAL, DDL and rows interleaved.
out=$(px -c "BEGIN" -c "SET LOCAL search_path = s2" -c "CREATE TABLE t2 (id int PRIMARY KEY)" \
	-c "INSERT INTO t2 VALUES (7)" -c "ALTER TABLE t2 ADD COLUMN note text DEFAULT 'n'" \
	-c "INSERT INTO t2 (id) VALUES (8)" -c "COMMIT")
is "$out" $'BEGIN\nSET\nCREATE TABLE\nINSERT 0 1\nALTER TABLE\nINSERT 0 1\nCOMMIT' \
	"SET LOCAL search_path, DDL and rows interleaved in one transaction"

# The owner under SET ROLE; then, in the same transaction, rows into a
# table the role may not write: the applier must be back in its own role.
out=$(px -c "BEGIN" -c "SET LOCAL ROLE alice" -c "CREATE TABLE s1.owned (id int PRIMARY KEY)" \
	-c "INSERT INTO s1.owned VALUES (1)" -c "RESET ROLE" -c "INSERT INTO adminonly VALUES (1)" \
	-c "COMMIT")
is "$out" $'BEGIN\nSET\nCREATE TABLE\nINSERT 0 1\nRESET\nINSERT 0 1\nCOMMIT' \
	"CREATE TABLE under SET ROLE, then a write the role may not make"
out=$(px -c "SET ROLE alice; CREATE SEQUENCE s1.seq; CREATE VIEW s1.v AS SELECT 1 AS one")
is "$out" $'SET\nCREATE SEQUENCE\nCREATE VIEW' "SET ROLE and DDL in one multi-statement Query"

# How literals in the statement parse.
out=$(px -c "SET DateStyle = 'SQL, DMY'" -c "CREATE TABLE dd (id int PRIMARY KEY, d date DEFAULT '01/02/2020')" \
	-c "INSERT INTO dd (id) VALUES (1)")
is "$out" $'SET\nCREATE TABLE\nINSERT 0 1' "a date default under DateStyle = 'SQL, DMY'"
out=$(px -c "SET standard_conforming_strings = off; SET escape_string_warning = off" \
	-c "CREATE TABLE esc (id int PRIMARY KEY, a text DEFAULT 'x\\ty')" -c "INSERT INTO esc (id) VALUES (1)")
is "$out" $'SET\nSET\nCREATE TABLE\nINSERT 0 1' "a string default under standard_conforming_strings = off"

# Context does not outlive its statement on the applier: plain rows after.
out=$(px -c "INSERT INTO public.t1 VALUES (5, 'plain')" -c "INSERT INTO adminonly VALUES (2)")
is "$out" $'INSERT 0 1\nINSERT 0 1' "plain writes after"

# DDL inside a DO block or a function is refused; DML inside one is fine.
out=$(px -c "DO \$\$BEGIN CREATE TABLE d1 (id int); END\$\$" 2>&1)
like "$out" "pgquorum cannot replicate CREATE TABLE run inside a function or DO block" \
	"CREATE TABLE inside a DO block is refused"
out=$(px -c "CREATE FUNCTION mk() RETURNS void LANGUAGE plpgsql AS \$\$BEGIN EXECUTE 'CREATE TABLE d2 (id int)'; END\$\$")
is "$out" "CREATE FUNCTION" "a function that runs DDL can be created"
out=$(px -v VERBOSITY=verbose -c "SELECT mk()" 2>&1)
like "$out" "ERROR:  0A000: pgquorum cannot replicate CREATE TABLE" "calling it is refused with SQLSTATE 0A000"
out=$(px -c "BEGIN" -c "INSERT INTO adminonly VALUES (10)" -c "DO \$\$BEGIN DROP TABLE s2.t2; END\$\$" 2>&1)
like "$out" "pgquorum cannot replicate DROP TABLE" "DROP TABLE inside a DO block in a transaction is refused"
out=$(px -c "DO \$\$BEGIN INSERT INTO adminonly VALUES (11); END\$\$")
is "$out" "DO" "a DO block that writes rows runs"
out=$(px -c "BEGIN" -c "DO \$\$BEGIN CREATE TEMP TABLE tt (x int); ALTER TABLE tt ADD y int; DROP TABLE tt; END\$\$" \
	-c "ROLLBACK")
is "$out" $'BEGIN\nDO\nROLLBACK' "temporary tables inside a DO block are left alone (pgTAP does that)"
is "$(px -c "SELECT count(*) FROM pg_class WHERE relname IN ('d1', 'd2')")" 0 "no refused table exists on the primary"
is "$(px -c "SELECT count(*) FROM adminonly WHERE id IN (10, 11)")" 1 \
	"the refused transaction's row is not there, the DO block's row is"
out=$(px -c "SET search_path = s2" -c "CREATE TABLE nopk (a int)")
is "$out" $'SET\nCREATE TABLE' "a table without a key under SET search_path (the replica identity fix-up)"

settle_all 60
appliers_ok
ok $? "every applier is healthy (none stopped on a table it could not find)"
servers_agree "SELECT n.nspname, c.relname, c.relkind, c.relowner::regrole FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 's1', 's2')
	AND c.relkind IN ('r', 'S', 'v') ORDER BY 1, 2" \
	"every relation is in the same schema with the same owner on every server"
is "$(server_psql "$s" -c "SELECT relowner::regrole FROM pg_class WHERE oid = 's1.owned'::regclass")" alice \
	"a secondary: s1.owned is owned by alice"
is "$(server_psql "$s" -c "SELECT count(*) FROM s1.t1")" 2 "a secondary: the rows are in s1.t1"
is "$(server_psql "$s" -c "SELECT count(*) FROM public.t1")" 1 "a secondary: public.t1 has only its own row"
for q in "SELECT * FROM s1.t1 ORDER BY 1" "SELECT * FROM s2.t2 ORDER BY 1" "SELECT * FROM adminonly ORDER BY 1" "SELECT count(*) FROM pg_class WHERE relname IN ('d1', 'd2')" \
	"SELECT id, d::text FROM dd ORDER BY 1" "SELECT id, a FROM esc ORDER BY 1" \
	"SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid IN ('dd'::regclass, 'esc'::regclass) ORDER BY 1"; do
	servers_agree "$q" "the servers agree: $q"
done
is "$(server_psql "$s" -c "SELECT d::text FROM dd")" 2020-02-01 "a secondary read the date default as the primary did"
is "$(server_psql "$s" -c "SELECT a = E'x\\ty' FROM esc")" t "a secondary read the string default as the primary did"
servers_agree "SELECT relreplident FROM pg_class WHERE oid = 's2.nopk'::regclass" \
	"s2.nopk has the same replica identity on every server"
servers_agree "SELECT evtname, evtevent FROM pg_event_trigger ORDER BY 1" \
	"the nested-DDL guard is installed alike on every server"
no_prepared_left
done_testing
