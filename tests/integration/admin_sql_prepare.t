#!/usr/bin/env bash
# Proves that SQL-level PREPARE/EXECUTE of a query over the admin views
# gives figures of now at each EXECUTE, as a real view would
# (docs/admin-views.md, "Prepared statements"): on every node, a statement
# prepared over pgquorum.nodes returns a higher applied index after a
# write; the client sees exactly what a plain EXECUTE answers (no extra
# command tags); parameters, transaction blocks, DEALLOCATE (alone, ALL,
# or inside a string of several statements) and errors behave as in
# PostgreSQL; and on a secondary, a statement deallocated after an
# EXECUTE that ran on the primary node is gone there too.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
read -r -a nodes <<< "$PGQ_NODES"
px() { timeout 20 psql -X -At -v ON_ERROR_STOP=0 -h 127.0.0.1 -p "${nodes[$1-1]##*:}" -U postgres -d postgres "${@:2}" 2>&1; }
own="SELECT applied_index FROM pgquorum.nodes WHERE id = (SELECT setting::bigint FROM pgquorum.settings WHERE name = 'node_id')"

is "$(px "$p" -c "CREATE TABLE pw (id int PRIMARY KEY)")" "CREATE TABLE" "a table"
for n in 1 2 3; do
	idx=$(field "$(node_status "$p")" commit)
	out=$(px "$n" -c "SELECT pgquorum.wait_applied($idx, 10000)" -c "PREPARE v AS $own" -c "EXECUTE v" \
		-c "INSERT INTO pw VALUES ($n)" -c "SELECT pgquorum.wait_applied($((idx + 1)), 10000)" -c "EXECUTE v")
	mapfile -t f <<< "$out"
	is "${f[0]}|${f[1]}|${f[3]}|${f[4]}|${#f[@]}" "t|PREPARE|INSERT 0 1|t|6" "node $n: prepared, written, applied"
	ok "$([[ ${f[2]} =~ ^[0-9]+$ && ${f[5]} =~ ^[0-9]+$ && ${f[5]} -gt ${f[2]} ]]; echo $?)" \
		"node $n: EXECUTE gives the applied index of now (${f[2]}, then ${f[5]}), nothing more"
done

s=$((p % 3 + 1))
is "$(px "$s" -c "PREPARE w(bigint) AS SELECT name FROM pgquorum.nodes WHERE id = \$1" -c "EXECUTE w(2)" \
	-c "EXECUTE w(3)" -c "BEGIN" -c "EXECUTE w(1)" -c "COMMIT")" $'PREPARE\nnode2\nnode3\nBEGIN\nnode1\nCOMMIT' \
	"a parameter, and EXECUTE in a transaction block"
is "$(px "$s" -c "PREPARE v AS $own" -c "DEALLOCATE v" -c "EXECUTE v")" \
	$'PREPARE\nDEALLOCATE\nERROR:  prepared statement "v" does not exist' "DEALLOCATE: gone"
is "$(px "$s" -c "PREPARE v AS $own" -c "SELECT 1; DEALLOCATE v" -c "EXECUTE v")" \
	$'PREPARE\n1\nDEALLOCATE\nERROR:  prepared statement "v" does not exist' \
	"DEALLOCATE among other statements: gone, not re-prepared"
is "$(px "$s" -c "PREPARE v AS $own" -c "DEALLOCATE ALL" -c "EXECUTE v")" \
	$'PREPARE\nDEALLOCATE ALL\nERROR:  prepared statement "v" does not exist' "DEALLOCATE ALL: gone"
out=$(px "$s" -c "PREPARE v AS $own" -c "BEGIN" -c "SELECT 1/0" -c "EXECUTE v" -c "ROLLBACK" \
	-c "SELECT count(*) > 0 FROM (SELECT 1) x" -c "EXECUTE v" -c "SELECT 'after'")
like "$out" $'^PREPARE\nBEGIN\nERROR:  division by zero\nERROR:  current transaction is aborted, commands ignored until end of transaction block\nROLLBACK\nt\n[0-9]+\nafter$' \
	"EXECUTE in a failed transaction gets PostgreSQL's error; the session goes on with its own answers"
is "$(px "$s" -c "PREPARE q AS SELECT 1" -c "EXECUTE q" -c "DEALLOCATE q" -c "EXECUTE q")" \
	$'PREPARE\n1\nDEALLOCATE\nERROR:  prepared statement "q" does not exist' \
	"secondary: a statement deallocated after it ran on the primary node is gone (the replay sends only what is new)"
is "$(px "$s" -c "PREPARE q AS SELECT 1" -c "EXECUTE q" -c "DEALLOCATE q" -c "PREPARE q AS SELECT 2" -c "EXECUTE q")" \
	$'PREPARE\n1\nDEALLOCATE\nPREPARE\n2' "secondary: prepared again after DEALLOCATE, the new one runs"
appliers_ok
done_testing
