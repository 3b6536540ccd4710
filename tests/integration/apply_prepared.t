#!/usr/bin/env bash
# The applier runs row changes as prepared statements, one per shape
# (sync/apply_cache.h), and prepares them anew after DDL (docs/design.md,
# "Applier"): a column whose type changes under the same statement text
# (a user-defined type, whose parameter type the server inferred when the
# statement was prepared) or whose built-in type changes must still apply,
# or the secondaries' appliers stop.  Many transactions of the same shapes
# before and after each change; the three servers compare equal.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
wait_capture || diag "the primary's capture is not streaming"
px() { primary_px "$@"; }

# rows FROM TO MOOD: one autocommit INSERT per row, then an UPDATE and a
# DELETE of the same shapes, each its own transaction (one psql session)
rows() {
	local args=() i
	for ((i = $1; i <= $2; i++)); do
		args+=(-c "INSERT INTO pt (id, m, v) VALUES ($i, '$3', $i)"
			-c "UPDATE pt SET v = v + 1 WHERE id = $i")
	done
	args+=(-c "DELETE FROM pt WHERE id = $1")
	px -q "${args[@]}"
}

out=$(px -c "CREATE TYPE mood AS ENUM ('calm', 'busy')" -c "CREATE TABLE pt (id int PRIMARY KEY, m mood, v int)")
is "$out" $'CREATE TYPE\nCREATE TABLE' "a table with a user-defined type"
is "$(rows 1 30 busy)" "" "30 inserts and updates of one shape each"
out=$(px -c "CREATE TYPE mood2 AS ENUM ('x', 'y')" \
	-c "ALTER TABLE pt ALTER COLUMN m TYPE mood2 USING 'x'::mood2")
is "$out" $'CREATE TYPE\nALTER TABLE' "the column's type changes to another enum"
is "$(rows 31 60 y)" "" "the same statement texts, with a value only the new type has"
out=$(px -c "ALTER TABLE pt ALTER COLUMN v TYPE bigint")
is "$out" "ALTER TABLE" "a built-in column type changes (int to bigint)"
is "$(rows 61 90 y)" "" "and again the same shapes"
out=$(px -c "UPDATE pt SET v = 5000000000 WHERE id = 62")
is "$out" "UPDATE 1" "a value only bigint holds"
settle_all 60
appliers_ok
ok $? "every applier is healthy (none stopped on a stale prepared statement)"
servers_agree "SELECT count(*), md5(string_agg(id || ':' || m || ':' || v, ',' ORDER BY id)) FROM pt" \
	"table pt is identical on the three servers"
servers_agree "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'pt'::regclass AND attnum > 0 ORDER BY attnum" \
	"its column types are the same on the three servers"
done_testing
