#!/usr/bin/env bash
# Proves that the admin views answer through the extended query protocol
# on every node of a 3-node cluster: psycopg 3 binds parameters ($1, $2 of
# the views' own types) in queries over pgquorum.nodes and .sessions, a
# named prepared statement over a view runs repeatedly, an admin function
# with a parameter is refused (0A000), and SET/SHOW pgquorum.read_consistency
# work from a driver, and a Parse ended by Flush is rewritten too
# (docs/admin-views.md).
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/cluster.sh"

PY=/usr/bin/python3		# the Debian python3-psycopg
$PY -c 'import psycopg' 2>/dev/null || skip_all "python3-psycopg not installed"

dir=$(scratch_dir)/c
cluster_up 3 "$dir"
ok $? "3 nodes up"
source "$dir/cluster.env"
read -r -a nodes <<< "$PGQ_NODES"
p=$(find_primary 15)
ok $? "a primary (node $p)"

for i in 1 2 3; do
	port=${nodes[i-1]##*:}
	out=$(timeout 60 $PY "$PGQ_TOP/tests/integration/admin_psycopg.py" "$port" 2>&1)
	rc=$?
	ok $rc "node $i: psycopg 3 over the admin views"
	[[ $rc -eq 0 ]] || diag "$out"
	like "$out" 'ok pgquorum.nodes WHERE id = \$1' "node $i: a bound parameter on pgquorum.nodes"
	like "$out" 'ok bad level refused' "node $i: every check ran"
done

# A raw v3 client: Parse of a view query ended by Flush (not Sync), then
# Bind/Execute/Sync of that named statement (re-parsed before the Bind,
# its extra answers dropped): the row comes back, no error.
out=$(timeout 30 $PY "$PGQ_TOP/tests/integration/admin_raw_flush.py" "${nodes[0]##*:}" 2>&1)
ok $? "Parse ended by Flush, then Bind/Execute/Sync: no error"
like "$out" "row: .*node2" "the row of pgquorum.nodes WHERE id = \$1 (bound 2)"
like "$out" "\['2', 'D', 'C', 'Z'\]" "exactly the answers the client asked for"

# The same query through psql (simple protocol) and psycopg agree on a node.
port=${nodes[p-1]##*:}
simple=$(psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d postgres \
	-c "SELECT id, role FROM pgquorum.nodes WHERE id = $p")
ext=$($PY -c "
import psycopg
with psycopg.connect('host=127.0.0.1 port=$port user=postgres dbname=postgres') as c:
    r = c.execute('SELECT id, role FROM pgquorum.nodes WHERE id = %s', ($p,)).fetchone()
    print(f'{r[0]}|{r[1]}')")
is "$ext" "$simple" "simple and extended protocol give the same row"
is "$simple" "$p|primary" "the primary sees itself as primary"

done_testing
