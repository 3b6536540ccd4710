#!/usr/bin/env bash
# Proves that the admin view rewrite (sql/sql_admin.h) produces SQL that a
# real PostgreSQL 15 runs with the views' contract: each view's column names
# and types (also with zero rows), WHERE, ORDER BY, count(*) and other
# aggregates, a join between two views and with pg_stat_activity, CTEs,
# UNION, IN (SELECT ...), EXPLAIN, pgquorum.<view>.col references, a $1
# parameter through PREPARE/EXECUTE (declared and inferred types), values
# with quotes, backslashes, newlines, non-ASCII text and NULLs arriving
# intact, an unknown pgquorum.x left to PostgreSQL, and CREATE VIEW refused.
# tests/sql/admin_rewrite_cli rewrites each query with fixed test rows.
source "$(dirname "$0")/../lib/tap.sh"

cli=$PGQ_BUILD/tests/sql/admin_rewrite_cli
[[ -x $cli ]] || skip_all "no $cli (run make check first)"

d=$(scratch_dir)
read -r port < <(pg_free_ports 1)
at_exit "pg_stop '$d/pg'"
pg_init "$d/pg" "$port" "$d/sock" && pg_start "$d/pg"
ok $? "a PostgreSQL 15 server (port $port)"

psql_on() {	# quiet, unaligned, tuples only, stop on error; script on stdin
	"$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" \
		-U postgres -d postgres "$@"
}

# q SQL [cli args]: rewrite SQL, run it, print the rows.
q() {
	local sql=$1; shift
	printf '%s' "$sql" | "$cli" "$@" | psql_on 2>&1
}

# desc VIEW [cli args]: "col type" per line, as psql's \gdesc reports them.
desc() {
	local view=$1; shift
	{ printf 'SELECT * FROM pgquorum.%s' "$view" | "$cli" "$@"; echo '\gdesc'; } |
		psql_on -F ' ' 2>&1 | paste -sd, -
}

is "$(desc nodes)" "id bigint,name text,client_addr text,peer_addr text,role text,voter boolean,reachable boolean,last_contact_ms bigint,term bigint,last_log_index bigint,persisted_index bigint,commit_index bigint,applied_index bigint,lag_entries bigint,lag_bytes bigint,lag_ms bigint" \
	"pgquorum.nodes: columns and types"
is "$(desc log)" "first_index bigint,last_index bigint,segments bigint,bytes_on_disk bigint,entries_per_s double precision,fsyncs_per_s double precision,avg_batch double precision" \
	"pgquorum.log: columns and types"
sessions_desc="id bigint,role text,database text,client_addr text,state text,statement_class text,runs_on text,since timestamp with time zone"
is "$(desc sessions)" "$sessions_desc" "pgquorum.sessions: columns and types"
is "$(desc stats)" "commits bigint,aborts bigint,forwarded_writes bigint,idle_commit_notifications bigint,heartbeats bigint,apply_batches bigint,avg_apply_batch double precision,commit_p50_ms double precision,commit_p99_ms double precision" \
	"pgquorum.stats: columns and types"
is "$(desc settings)" "name text,setting text,default_value text,reload boolean,description text" \
	"pgquorum.settings: columns and types"

# Zero rows keep the types.
is "$(desc sessions --empty sessions)" "$sessions_desc" "zero-row pgquorum.sessions: same columns and types"
is "$(q 'SELECT count(*), max(since) IS NULL FROM pgquorum.sessions' --empty sessions)" "0|t" \
	"zero-row pgquorum.sessions: count(*) is 0"
is "$(q 'SELECT pg_typeof(id), pg_typeof(since) FROM pgquorum.sessions UNION ALL SELECT NULL, NULL LIMIT 1' --empty sessions)" "|" \
	"zero-row view in a UNION with untyped NULLs"

is "$(q 'SELECT name FROM pgquorum.nodes WHERE voter ORDER BY id DESC')" $'n2\nn1' "WHERE and ORDER BY"
is "$(q 'SELECT count(*), sum(lag_bytes), max(term), bool_and(reachable) FROM pgquorum.nodes')" "3|4608|7|f" \
	"count(*) and other aggregates"
is "$(q 'SELECT role, count(*) FROM pgquorum.nodes GROUP BY role HAVING count(*) = 1 ORDER BY role')" \
	$'learner|1\nprimary|1\nsecondary|1' "GROUP BY and HAVING"
is "$(q 'SELECT n.name, l.last_index FROM pgquorum.nodes n JOIN pgquorum.log l ON n.applied_index = l.last_index')" \
	"n1|120" "join between two views"
is "$(q 'SELECT s.role FROM pgquorum.sessions AS s JOIN pg_stat_activity a ON a.pid = pg_backend_pid() WHERE s.runs_on = '\''local'\'' AND a.datname = current_database()')" \
	"alice" "join with pg_stat_activity"
is "$(q 'SELECT a.name, b.name FROM pgquorum.nodes a, pgquorum.nodes b WHERE a.id = 1 AND b.id = a.id + 1')" "n1|n2" \
	"self-join of one view"
is "$(q 'WITH lagging AS (SELECT * FROM pgquorum.nodes WHERE lag_entries > 0) SELECT count(*) FROM lagging')" "2" "CTE"
is "$(q 'SELECT name FROM pgquorum.nodes WHERE id IN (SELECT id FROM pgquorum.sessions) ORDER BY 1')" $'n1\nn2' \
	"IN (SELECT ...) between two views"
is "$(q 'SELECT name FROM pgquorum.settings UNION SELECT name FROM pgquorum.nodes WHERE id = 1 ORDER BY 1')" \
	$'heartbeat_ms\nn1\nnode_id\npeer_password' "UNION"
is "$(q 'SELECT pgquorum.nodes.name FROM pgquorum.nodes WHERE pgquorum.nodes.id = 2')" "n2" \
	"pgquorum.nodes.col references"
is "$(q 'SELECT x.a, x.b, x.role FROM pgquorum.nodes AS x(a, b) WHERE x.a = 1')" "1|n1|primary" \
	"alias with column aliases"
is "$(q 'SELECT default_value IS NULL, reload FROM "pgquorum"."settings" WHERE name = '\''node_id'\''')" "t|f" \
	"quoted identifiers, the column default_value"
like "$(q 'EXPLAIN SELECT * FROM pgquorum.nodes WHERE id = 1')" "Values Scan" "EXPLAIN"
is "$(q 'SELECT 1; SELECT count(*) FROM pgquorum.stats; SELECT 2')" $'1\n1\n2' "several statements in one string"

is "$(q 'PREPARE q(bigint) AS SELECT name FROM pgquorum.nodes WHERE id = $1; EXECUTE q(2)')" "n2" \
	'PREPARE q(bigint) ... $1; EXECUTE q(2)'
is "$(q 'PREPARE q AS SELECT name FROM pgquorum.nodes WHERE id = $1; EXECUTE q(1); SELECT parameter_types FROM pg_prepared_statements')" $'n1\n{bigint}' \
	'$1 type inferred from the view column'

is "$(q 'SELECT name = E'\''it'\'''\''s "n3" \\x\nnœud-3 ☃'\'', length(name) FROM pgquorum.nodes WHERE id = 3')" "t|21" \
	"quotes, backslash, newline, non-ASCII arrive intact"
is "$(q 'SELECT last_contact_ms IS NULL, lag_ms IS NULL, lag_bytes FROM pgquorum.nodes WHERE id = 3')" "t|t|4096" \
	"NULL values"
is "$(q 'SELECT avg_batch * 10, pg_typeof(avg_batch) FROM pgquorum.log')" "29|double precision" \
	"double precision values"

like "$(q 'SELECT * FROM pgquorum.nosuch')" 'relation "pgquorum.nosuch" does not exist' \
	"an unknown pgquorum.x is left to PostgreSQL"
out=$(printf 'CREATE VIEW v AS SELECT * FROM pgquorum.nodes' | "$cli" 2>&1)
rc=$?
is "$rc" "1" "CREATE VIEW on an admin view is refused"
like "$out" '^refused 0A000: pgquorum.nodes cannot be used in CREATE VIEW' "... with 0A000 and a clear message"

done_testing
