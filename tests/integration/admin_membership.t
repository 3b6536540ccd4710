#!/usr/bin/env bash
# Proves the membership functions through SQL (docs/admin-views.md,
# "Functions"): on the primary, a superuser's pgquorum.remove_node(n)
# takes a secondary out of pgquorum.nodes; pgquorum.add_node(n) brings it
# back as a learner, and a second call makes it a voter again; writes go on
# and reach every server; on a secondary the calls are refused with 55000.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

three_nodes_with_primary
read -r -a nodes <<< "$PGQ_NODES"
px() { timeout 20 psql -X -At -h 127.0.0.1 -p "${nodes[$1-1]##*:}" -U postgres -d postgres "${@:2}" 2>&1; }
s=$((p % 3 + 1))
o=$((s % 3 + 1))
[[ $o == "$p" ]] && o=$((o % 3 + 1))
member() { px "$p" -c "SELECT coalesce((SELECT role || ' ' || voter FROM pgquorum.nodes WHERE id = $1), 'none')"; }
wait_member() {	# wait_member N EXPECTED
	local t got
	for ((t = 0; t < 100; t++)); do
		got=$(member "$1")
		[[ $got == "$2" ]] && break
		sleep 0.1
	done
	echo "$got"
}

is "$(px "$p" -c "CREATE TABLE mb (id int PRIMARY KEY)")" "CREATE TABLE" "a table"
like "$(px "$s" -c "SELECT pgquorum.remove_node($o)")" "ERROR:  .*" \
	"remove_node on a secondary is refused"
like "$(px "$s" -v VERBOSITY=verbose -c "SELECT pgquorum.remove_node($o)")" "55000" "with 55000"
like "$(px "$p" -c "SELECT pgquorum.remove_node($o)")" '^[0-9]+$' "remove_node($o) on the primary returns an index"
is "$(wait_member "$o" none)" "none" "node $o is no longer in pgquorum.nodes"
is "$(px "$p" -c "SELECT count(*) FROM pgquorum.nodes")" "2" "two members"
is "$(px "$p" -c "INSERT INTO mb VALUES (1)")" "INSERT 0 1" "a write commits with two members"
like "$(px "$p" -c "SELECT pgquorum.add_node($o)")" '^[0-9]+$' "add_node($o) returns an index"
is "$(wait_member "$o" "learner false")" "learner false" "node $o is back as a learner"
for ((t = 0; t < 100; t++)); do
	out=$(px "$p" -c "SELECT pgquorum.add_node($o)")
	[[ $out =~ ^[0-9]+$ ]] && break
	sleep 0.2
done
like "$out" '^[0-9]+$' "add_node($o) again, once it caught up: an index"
is "$(wait_member "$o" "secondary true")" "secondary true" "node $o is a voter again"
is "$(px "$p" -c "INSERT INTO mb VALUES (2)")" "INSERT 0 1" "a write after"
settle_all 30
servers_agree "SELECT string_agg(id::text, ',' ORDER BY id) FROM mb" "the three servers hold the same rows"
done_testing
