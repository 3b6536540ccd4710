#!/usr/bin/env bash
# Tables without a primary key (issue 6, "Apply on every node"; docs/sql.md
# "Replica identity"): created through the primary, they get REPLICA
# IDENTITY FULL in the same transaction (carried as DDL), so their UPDATEs
# and DELETEs are published and applied on every node; adding a primary
# key puts them back to DEFAULT.  The three servers compare equal.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
read -r -a nodes <<< "$PGQ_NODES"
port=${nodes[p-1]##*:}
wait_capture || diag "the primary's capture is not streaming"
px() { psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@" 2>&1; }

out=$(px -c "CREATE TABLE np (a int, b text)")
is "$out" "CREATE TABLE" "a table without a primary key through the primary"
is "$(server_psql "$p" -c "SELECT relreplident FROM pg_class WHERE relname = 'np'")" f \
	"it has REPLICA IDENTITY FULL on the primary"
px -q -c "INSERT INTO np SELECT g % 50, 'r' || g FROM generate_series(1, 200) g" \
	-c "INSERT INTO np VALUES (7, 'twin'), (7, 'twin'), (NULL, NULL)" >/dev/null
out=$(px -c "UPDATE np SET b = b || '!' WHERE a = 7")
is "$out" "UPDATE 6" "UPDATE of a table without a key (identical rows included)"
out=$(px -c "DELETE FROM np WHERE a = 3 OR a IS NULL")
is "$out" "DELETE 5" "DELETE of a table without a key (a row of NULLs included)"
out=$(px -c "BEGIN" -c "CREATE TABLE np2 (x int, y int)" -c "INSERT INTO np2 VALUES (1, 1), (2, 2)" \
	-c "UPDATE np2 SET y = y * 10" -c "DELETE FROM np2 WHERE x = 1" -c "COMMIT")
is "$out" $'BEGIN\nCREATE TABLE\nINSERT 0 2\nUPDATE 2\nDELETE 1\nCOMMIT' \
	"CREATE, then UPDATE and DELETE in the same transaction"
out=$(px -c "CREATE TABLE np3 (k int, v int); INSERT INTO np3 VALUES (1, 1); UPDATE np3 SET v = 2")
is "$out" $'CREATE TABLE\nINSERT 0 1\nUPDATE 1' "the same in one multi-statement Query"
out=$(px -c "CREATE TABLE np4 AS SELECT g AS id FROM generate_series(1, 10) g")
is "$out" "SELECT 10" "CREATE TABLE AS"
out=$(px -c "DELETE FROM np4 WHERE id > 5")
is "$out" "DELETE 5" "then DELETE from it"
out=$(px -c "CREATE TABLE wk (id int PRIMARY KEY, v int)")
is "$(server_psql "$p" -c "SELECT relreplident FROM pg_class WHERE relname = 'wk'")" d \
	"a table with a primary key keeps REPLICA IDENTITY DEFAULT"
px -q -c "CREATE TABLE later (id int, v int)" -c "INSERT INTO later SELECT g, g FROM generate_series(1, 20) g" >/dev/null
out=$(px -c "ALTER TABLE later ADD PRIMARY KEY (id)")
is "$out" "ALTER TABLE" "a primary key added later"
is "$(server_psql "$p" -c "SELECT relreplident FROM pg_class WHERE relname = 'later'")" d \
	"puts the table back to REPLICA IDENTITY DEFAULT"
out=$(px -c "UPDATE later SET v = -v WHERE id <= 10")
is "$out" "UPDATE 10" "and its updates go on"
settle_all 60
servers_agree "SELECT relname, relreplident FROM pg_class WHERE relname IN ('np', 'np2', 'np3', 'np4', 'wk', 'later') ORDER BY 1" \
	"the replica identities are the same on every server"
for tb in np np2 np3 np4 later; do
	servers_agree "SELECT count(*), md5(string_agg(x::text, ',' ORDER BY x::text)) FROM $tb x" "table $tb is identical on the three servers"
done
like "$(server_psql $((p % 3 + 1)) -c "SELECT count(*) FROM np WHERE b LIKE '%!'")" "^6$" \
	"a secondary has the updated rows"
appliers_ok
ok $? "every applier is healthy"
done_testing
